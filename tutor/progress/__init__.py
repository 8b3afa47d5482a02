"""The learner's progress: a crash-safe SQLite store (store.py) in the learner's XDG data directory,
owned by the learner even under sudo (paths.py)."""
from __future__ import annotations

import sys

from .store import ProgressStore, ProgressStoreError, StepProgress

__all__ = ["ProgressStore", "ProgressStoreError", "StepProgress", "record_check"]


def record_check(lesson, results) -> None:
    """Record an `nstutor check` run (one attempt per step checked) in the default store.

    Progress is a side matter for the command line: whatever goes wrong with the store (an
    unwritable home, a database locked past the busy timeout, a damaged file) becomes one warning
    line on stderr, never an error of `nstutor check` itself.
    """
    try:
        store = ProgressStore.open()
        try:
            store.record_check(lesson, results, source="cli")
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - see the docstring: the check result matters more
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"nstutor: warning: this check was not saved to your progress: {reason}", file=sys.stderr)
