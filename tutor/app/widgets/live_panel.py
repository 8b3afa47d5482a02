"""The live panel: what the kernel has now, in one of several views (one key each).

A bar of view names (click one, or press its key), then the view itself, drawn from the
latest snapshot by the view's pure `render(snap, previous, focus, width)`; rows that changed
since the previous snapshot and rows the lesson is about are highlighted by the view.
Nothing here touches the kernel: the live thread hands over snapshots.

A view is only redrawn when something it is drawn from changed: the snapshot, the
previous one (its highlights), the width, the focus or the view itself. The bar names a view
only where it is offered (View.shown: the containers view on a machine with an engine or in a
lesson about containers); every key works anyway.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ...i18n import _
from ...observe import Snapshot
from ...texts import cell_width


class LivePanel(Vertical):
    def __init__(self, views: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.views = views
        self.current = next(iter(views), "")
        self.snap: Snapshot | None = None
        self.previous: Snapshot | None = None
        self.focus_info = None
        self.note = ""
        self._drawn_key: tuple | None = None
        self._last_text: Text | None = None
        self._offered: tuple = self._offered_keys()

    def compose(self) -> ComposeResult:
        yield Static(self._bar(), id="view-bar", markup=True)
        with VerticalScroll(id="view-scroll"):
            yield Static(_("waiting for the first snapshot…"), id="view-body", markup=False)

    # ---------------------------------------------------------------- public
    def set_focus_info(self, focus) -> None:
        self.focus_info = focus
        self._refresh_bar()
        self.redraw()

    def select(self, key: str) -> bool:
        if key not in self.views:
            return False
        self.current = key
        self.query_one("#view-bar", Static).update(self._bar())
        self.query_one("#view-scroll").scroll_home(animate=False)
        self.redraw()
        return True

    def show(self, snap: Snapshot | None, previous: Snapshot | None, note: str = "") -> None:
        self.snap, self.previous = snap, previous
        if note != self.note:
            self.note = note
            self.query_one("#view-bar", Static).update(self._bar())
        else:
            self._refresh_bar()
        self.redraw()

    @property
    def view_title(self) -> str:
        view = self.views.get(self.current)
        return view.title if view else ""

    # ---------------------------------------------------------------- drawing
    def _offered_keys(self) -> tuple:
        """The views the bar names now: those offered for this snapshot and lesson, and the current one."""
        return tuple(key for key, view in self.views.items()
                     if key == self.current or view.offered(self.snap, self.focus_info))

    def _refresh_bar(self) -> None:
        """Redraw the bar when the views it offers changed (a container engine came or went)."""
        offered = self._offered_keys()
        if offered != self._offered and self.is_mounted:
            self._offered = offered
            self.query_one("#view-bar", Static).update(self._bar())

    def _bar(self) -> str:
        """The view names, each clickable. When they do not fit on one line: the short names (the
        current view by its title), on as many lines as they need; never bare keys, which say nothing."""
        self._offered = self._offered_keys()
        note = f"  [dim]{self.note}[/]" if self.note else ""
        width = self.size.width - 2 if self.is_mounted and self.size.width else 200
        labels = [(key, f"{key} {self.views[key].bar_name}") for key in self._offered]
        if sum(cell_width(label) + 2 for _key, label in labels) + len(self.note) + 2 > width:
            current = self.views.get(self.current)
            labels = [(key, f"{key} {current.title}" if key == self.current and current
                       else f"{key} {self.views[key].label}") for key in self._offered]
        lines, used = [[]], 0
        for key, label in labels:
            if used and used + cell_width(label) + 2 > width:     # a Korean title takes two cells a letter
                lines.append([])
                used = 0
            used += cell_width(label) + 2
            lines[-1].append(f"[reverse bold] {label} [/]" if key == self.current
                             else f"[@click=screen.view('{key}')] {label} [/]")
        if used + len(self.note) + 2 > width:
            note = ""           # the snapshot's time is a detail: it never takes a line of the panel
        return "\n".join("".join(parts) for parts in lines) + note

    def _width(self) -> int:
        scroll = self.query_one("#view-scroll")
        return max(scroll.scrollable_content_region.width or scroll.size.width or 60, 20)

    def redraw(self, force: bool = False) -> None:
        if not self.is_mounted:
            return
        width = self._width()
        key = (self.current, width, id(self.snap), id(self.previous), id(self.focus_info))
        if key == self._drawn_key and not force:
            return
        self._drawn_key = key
        body = self.query_one("#view-body", Static)
        view = self.views.get(self.current)
        if view is None or self.snap is None:
            self._last_text = None
            body.update(Text(_("waiting for the first snapshot…"), style="dim"))
            return
        try:
            renderable = view.render(self.snap, self.previous, self.focus_info, width)
        except Exception as exc:  # noqa: BLE001 - a view bug must not take the lesson down
            renderable = Text(_("this view could not be drawn: {error}").format(error=repr(exc)), style="red")
        # Most seconds nothing changes: an identical picture (Text compares text and styles) is not
        # handed to the compositor again, which saves the idle loop most of its drawing.
        if isinstance(renderable, Text) and renderable == self._last_text:
            return
        self._last_text = renderable if isinstance(renderable, Text) else None
        body.update(renderable)

    def on_resize(self) -> None:
        self.query_one("#view-bar", Static).update(self._bar())
        self.redraw()
