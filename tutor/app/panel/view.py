"""What a panel view is, and what every table view does the same way.

A view is a pure function from snapshots to a rich renderable:
`render(snapshot, previous, focus, width)`. The previous snapshot is there so changes can be
marked; focus says what the lesson is about (None: no lesson open). Nothing here does I/O or
keeps state beyond a small cache of the tables of the last few snapshots, so the previous
snapshot's rows are not rebuilt on every refresh.

The registry (which key shows which view) is the package's __init__.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rich.console import RenderableType

from ...i18n import _
from ...observe.model import Snapshot
from .focus import Focus, Resolved
from .layout import Table, render_table

RenderFn = Callable[[Snapshot, "Snapshot | None", "Focus | None", int], RenderableType]
ShownFn = Callable[["Snapshot | None", "Focus | None"], bool]
BuildFn = Callable[[Snapshot, Resolved, Focus], Table]

NO_FOCUS = Focus.empty()          # what a view uses when it is given no focus (None): no lesson open


@dataclass(frozen=True)
class View:
    key: str                 # the one key that selects it
    name: str                # short id ("topology")
    english_title: str       # what the panel's header says, in English (`title`: in the app's language)
    render: RenderFn = field(compare=False)
    # Whether the view bar offers it for this snapshot and lesson (None: always). A view that only
    # matters on some machines (containers) stays out of the bar elsewhere; its key works everywhere.
    shown: ShownFn | None = field(default=None, compare=False)
    # the word the view bar uses when the names do not fit ("ns" for namespaces): never a bare key
    short: str = ""

    @property
    def title(self) -> str:
        """What the panel's header says, in the app's language (panel/__init__.view_titles)."""
        return view_titles().get(self.name, self.english_title)

    @property
    def bar_name(self) -> str:
        """The view bar's word for it when every name fits: its name, in the app's language."""
        return view_bar_names().get(self.name, self.name)

    @property
    def label(self) -> str:
        return self.short or self.name

    def offered(self, snap: Snapshot | None, focus: Focus | None) -> bool:
        if self.shown is None:
            return True
        try:
            return bool(self.shown(snap, focus))
        except Exception:  # noqa: BLE001 - a bug here only hides a view's name from the bar
            return False


def view_titles() -> dict[str, str]:
    """The views' titles (what the panel's header says) in the app's language, by view name
    (the views themselves are listed in the package's __init__)."""
    return {"topology": _("Topology"), "namespaces": _("Namespaces"), "network": _("Links & addresses"),
            "bridges": _("Bridges"), "routes": _("Routes"), "neighbours": _("Neighbours & fdb"),
            "processes": _("Processes"), "isolation": _("Isolation"), "containers": _("Containers")}


def view_bar_names() -> dict[str, str]:
    """The views' names in the bar (lower case, one word) in the app's language."""
    return {"topology": _("topology"), "namespaces": _("namespaces"), "network": _("network"),
            "bridges": _("bridges"), "routes": _("routes"), "neighbours": _("neighbours"),
            "processes": _("processes"), "isolation": _("isolation"), "containers": _("containers")}


# --------------------------------------------------------------- per-snapshot cache
_CACHE: dict[tuple, tuple[Snapshot, object]] = {}
_CACHE_SIZE = 32


def cached(kind: str, snap: Snapshot, focus: Focus, build: Callable[[], object]) -> object:
    """*build()* once per (view, snapshot, focus): the previous snapshot's rows are reused."""
    key = (kind, id(snap), focus)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is snap:
        return hit[1]
    value = build()
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (snap, value)
    return value


def render_cached_table(kind: str, build: BuildFn, snap: Snapshot, previous: Snapshot | None, focus: Focus | None,
                        width: int) -> RenderableType:
    """The table *build* makes of *snap*, drawn with its changes since *previous*; both tables cached as *kind*."""
    focus = focus or NO_FOCUS
    table = cached(kind, snap, focus, lambda: build(snap, focus.resolve(snap), focus))
    before = None
    if previous is not None:
        before = cached(kind, previous, focus, lambda: build(previous, focus.resolve(previous), focus))
    return render_table(table, before, width=width)


def table_view(kind: str, build: BuildFn) -> RenderFn:
    """A View.render function for a table view built by *build*."""
    def render(snap: Snapshot, previous: Snapshot | None, focus: Focus | None, width: int) -> RenderableType:
        return render_cached_table(kind, build, snap, previous, focus, width)
    return render
