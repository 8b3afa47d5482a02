"""Building a lesson's lab (its `setup:` script), with the script's progress shown as it runs.

A setup script reports progress with lines such as `## step 2/5: node2 on the underlay`
(tutor.lessons.scripts.PROGRESS_MARK). `SetupScreen` runs the script in a thread worker and
shows each line as it arrives: a progress bar when the lines say "N/M", a list of what is
done and what is being built, and at the end what went wrong, if anything. It dismisses with
True when the setup succeeded.

`lab_absent(lesson)` is the app's cheap test for "offer to build it": none of the network
namespaces and host links the lesson declares exist (a fresh start, or just after a reset).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static

from ...i18n import N_, _
from ..keys import InLanguage
from ...lessons import Lesson
from ...lessons.setup import progress_fraction, run_setup
from ...lessons.trust import shell_refusal
from ...elevate import how_to_run_as_root


def lab_absent(lesson: Lesson) -> bool:
    """True when the lesson has a setup and its lab is not there: a netns of its `lab` is missing,
    or (without `lab`) nothing its cleanup declares (netns, host links) exists yet."""
    if not lesson.setup:
        return False
    if lesson.lab:
        return not all(Path("/run/netns", n).exists() for n in lesson.lab)
    spec = lesson.cleanup or {}
    netns = [Path("/run/netns", str(n)) for n in spec.get("netns", [])]
    links = [Path("/sys/class/net", str(n)) for n in spec.get("links", [])]
    return not any(p.exists() for p in netns + links)


def setup_blocker(lesson: Lesson) -> str | None:
    """Why this lesson's setup cannot run here, in plain words (None: it can)."""
    if not lesson.setup:
        return _("this lesson has nothing to build")
    refused = shell_refusal(lesson, _("its setup"))
    if refused is not None:
        return refused
    if os.geteuid() != 0:
        return _("building the lab needs root: quit (q) and rerun: {command}").format(command=how_to_run_as_root("nstutor"))
    return None


class SetupScreen(InLanguage, ModalScreen[bool]):
    """Runs the lesson's setup and shows its progress lines; closes with enter/escape when done."""

    BINDINGS = [Binding("escape,enter", "close", N_("Close"))]

    def __init__(self, lesson: Lesson) -> None:
        super().__init__(classes="dialog-screen")
        self.lesson = lesson
        self.lines: list[str] = []
        self.finished = False
        self.ok = False
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="setup-dialog"):
            yield Static(_("Building the lab: {title}").format(title=self.lesson.title), classes="dialog-title",
                         markup=False)
            yield ProgressBar(total=None, show_eta=False, id="setup-bar")
            yield Static(_("starting the setup script…"), id="setup-lines", classes="dialog-body", markup=False)
            yield Static("", id="setup-status", classes="dialog-note", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Close (enter)"), variant="primary", id="close", disabled=True)

    def on_mount(self) -> None:
        # What the setup builds is not the learner's attempt (see tutor/progress/store.py).
        self.app.progress.begin_lab_change(self.lesson.id, "setup")
        self.run_worker(self._build, thread=True, exclusive=True, group="setup", exit_on_error=False)

    def _build(self) -> None:
        try:
            log = run_setup(self.lesson, progress=lambda line: self.app.call_from_thread(self.add_line, line))
            errors = list(log.errors)
        except Exception as exc:  # noqa: BLE001  (shown in the dialog, never a traceback)
            errors = [_("setup failed: {error}").format(error=exc)]
        self.app.call_from_thread(self.done, errors)

    # ------------------------------------------------------------------ shown on the UI thread
    def add_line(self, line: str) -> None:
        self.lines.append(line)
        fraction = progress_fraction(line)
        if fraction is not None:
            done, total = fraction
            # "step 2/5" is being built now: steps before it are done
            self.query_one(ProgressBar).update(total=total, progress=done - 1)
        self._paint_lines()

    def done(self, errors: list[str]) -> None:
        self.app.progress.end_lab_change(self.lesson.id)
        self.finished, self.ok = True, not errors
        bar = self.query_one(ProgressBar)
        if self.ok:
            bar.update(total=bar.total or 1, progress=bar.total or 1)
        self._paint_lines()
        took = time.monotonic() - self._started
        status = self.query_one("#setup-status", Static)
        if self.ok:
            status.update(Text(_("✔ The lab is ready ({seconds:.1f} s). The steps are checked again now.").format(
                seconds=took), style="bold green"))
        else:
            status.update(Text(_("✘ The setup did not finish:") + "\n" + "\n".join(errors) + "\n"
                               + _("Press b to try again once the problem is fixed."), style="bold red"))
        close = self.query_one("#close", Button)
        close.disabled = False
        close.focus()

    def _paint_lines(self) -> None:
        text = Text()
        for index, line in enumerate(self.lines):
            current = index == len(self.lines) - 1 and not self.finished
            failed = index == len(self.lines) - 1 and self.finished and not self.ok
            mark, style = ("▸ ", "bold") if current else ("✘ ", "red") if failed else ("✔ ", "green")
            text.append(mark, style=style)
            text.append(line + ("\n" if index < len(self.lines) - 1 else ""))
        self.query_one("#setup-lines", Static).update(text if self.lines else _("running the setup script…"))

    # ------------------------------------------------------------------ closing
    def action_close(self) -> None:
        if not self.finished:
            self.notify(_("The lab is still being built; this closes when it is done."), timeout=3)
            return
        self.dismiss(self.ok)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_close()
