"""The lesson screen's notices ("Step passed", a hint, "Checked: 3 of 5 steps pass"): a line
of its own above the step list, instead of Textual's toasts. The catalog has one too, under
its table (the first start's "Saved: ..." would otherwise be a toast over the lessons).

Why not toasts: a toast is drawn over whatever is under it, and on the lesson screen that is
always something the learner reads (the lesson text on an 80-column terminal, the live panel
or the help screen on a wide one). A notice line takes its own rows while it has something
to say, so it covers nothing; and it sits right above the step list it talks about.

A notice's time runs only while its screen is in front, and one that arrives while a
dialog (the help, a solution) is open is not drawn until the dialog closes (not even on the
dimmed screen around it): it waits, and is then shown for its full time.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from .inline_markdown import inline_text

MAX_SHOWN = 3           # the newest ones; older ones wait under them while their time runs
MAX_SHOWN_NARROW = 1    # 80x24: the lesson text keeps its rows
TICK_SECONDS = 0.25


@dataclass
class Notice:
    title: str
    message: str
    severity: str            # information, warning, error (Textual's notify levels)
    timeout: float
    left: float = 0.0

    def text(self, dark: bool = True) -> Text:
        """Title and message in one or two lines, the message's markdown rendered."""
        out = Text()
        if self.title:
            out.append_text(inline_text(self.title, base_style="bold"))
            out.append(" " if self.title.endswith(":") else "  ")
        out.append_text(inline_text(self.message, code_style="bold cyan" if dark else "bold dark_cyan"))
        return out

    @property
    def plain(self) -> str:
        return self.text().plain


class NoticeBar(Vertical):
    """Shows the live notices, newest last; hidden when there are none. `history` keeps every
    notice posted (tests, and a learner's 'what did it just say' could use it later)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.active: list[Notice] = []
        self.history: list[Notice] = []
        self._stale = False          # active changed while a dialog was in front: redraw once back

    def on_mount(self) -> None:
        self._redraw()
        self.set_interval(TICK_SECONDS, self._tick)

    def post(self, message: str, title: str = "", severity: str = "information", timeout: float = 5.0) -> Notice:
        notice = Notice(title, str(message), severity if severity in ("warning", "error") else "information",
                        timeout, left=timeout)
        self.history.append(notice)
        self.active.append(notice)
        self._redraw()
        return notice

    def clear(self) -> None:
        self.active.clear()
        self._redraw()

    def _in_front(self) -> bool:
        """True when the learner can see this bar: its screen is the app's top screen."""
        try:
            return self.app.screen is self.screen
        except Exception:  # noqa: BLE001 - no screen stack (shutting down): nobody sees it
            return False

    def _tick(self) -> None:
        if not self._in_front():
            return
        if self._stale:
            self._redraw()
        if not self.active:
            return
        for notice in self.active:
            notice.left -= TICK_SECONDS
        if any(n.left <= 0 for n in self.active):
            self.active = [n for n in self.active if n.left > 0]
            self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        if not self._in_front():
            self._stale = True
            return
        self._stale = False
        shown = self.active[-(MAX_SHOWN_NARROW if self.screen.has_class("-narrow") else MAX_SHOWN):]
        dark = self.app.current_theme.dark if self.app.current_theme else True
        self.remove_children()
        if shown:
            self.mount_all(Static(n.text(dark), classes=f"notice -{n.severity}", markup=False) for n in shown)
        self.display = bool(shown)

    def on_click(self) -> None:
        """A click dismisses the notices (as a click on a toast does)."""
        self.clear()
