"""Lesson setup: a lesson's setup script builds what the lesson starts from (flannel its nodes).

With cleanup (cleanup.py), the only code (besides probes) that changes the machine; run by
`nstutor setup`, the app's setup screen and `nstutor verify`.
"""
from __future__ import annotations

import re
from typing import Callable

from ..i18n import _
from .model import Lesson
from .scripts import ActionLog, run_script
from .trust import shell_refusal

_STEP = re.compile(r"^\s*(?:step\s+)?(\d+)\s*/\s*(\d+)\b", re.IGNORECASE)


def progress_fraction(line: str) -> tuple[int, int] | None:
    """(done, total) from a progress line such as "step 2/5: node2 on the underlay", else None."""
    match = _STEP.match(line)
    if not match:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    return (min(done, total), total) if total > 0 else None


def run_setup(lesson: Lesson, progress: Callable[[str], None] | None = None) -> ActionLog:
    """Run the lesson's setup script (e.g. flannel builds its nodes): shipped lessons, and those of
    a pack the learner trusts (lessons/trust.py).

    *progress*, if given, receives the script's progress lines as they come (see scripts.PROGRESS_MARK).
    """
    log = ActionLog()
    if lesson.setup:
        refused = shell_refusal(lesson, _("its setup"))
        if refused is None:
            run_script(lesson.setup, log, "setup", timeout=300, progress=progress)
        else:
            log.errors.append(refused)
    return log
