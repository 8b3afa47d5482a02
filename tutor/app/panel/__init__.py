"""Where the live panel's views come from.

The views proper live in tutor/app/views.py (VIEWS: key -> View with `key`, `title`,
`render(snap, previous, focus, width)`) and what a lesson cares about in tutor/app/focus.py
(`lesson_focus(lesson)`). This module imports them, and falls back to plain views built on
tutor.observe.render when they are not there (a partial checkout), so the app always has
a live panel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.text import Text

from ...observe import render
from ...texts import fit


@dataclass(frozen=True)
class PlainView:
    key: str
    title: str
    lines: Callable

    def render(self, snap, previous, focus, width: int):
        width = max(width, 20)
        if snap is None:
            return Text("(no snapshot yet)")
        out = self.lines(snap, width)
        return Text("\n".join(out) if out else "(nothing here)", no_wrap=True, overflow="ellipsis")


def _network(snap, width):
    out = []
    for ns in render.ordered_netns(snap):
        out += render.render_netns(snap, ns, width) + [""]
    return out


def _bridges(snap, width):
    rows = render.bridge_rows(snap)
    if not rows:
        return ["(no bridges)"]
    return render.format_table(("NETNS",) + rows[0].HEADERS, ((r.netns_label,) + r.cells() for r in rows),
                               width=width)


def _per_netns(*makers):
    def lines(snap, width):
        out = []
        for ns in render.ordered_netns(snap):
            rows = [r.text for make in makers for r in make(snap, ns)]
            if rows:
                out.append(ns.label)
                out += [f"  {t}" for t in rows]
        return out or ["(none)"]
    return lines


def _processes(snap, width):
    procs = sorted(snap.processes.values(), key=lambda p: p.pid)
    return [fit(f"{p.pid:>7} {p.ppid:>7} {p.command}", width) for p in procs]    # cells, not characters


FALLBACK_VIEWS = {v.key: v for v in (
    PlainView("1", "namespaces", lambda snap, width: render.render_lsns(snap, width)),
    PlainView("2", "network", _network),
    PlainView("3", "bridges", _bridges),
    PlainView("4", "routes", _per_netns(render.route_rows)),
    PlainView("5", "neigh/fdb", _per_netns(render.neighbour_rows, render.fdb_rows)),
    PlainView("6", "processes", _processes),
)}


def load_views() -> dict:
    """The views by their key (one keystroke), in display order."""
    try:
        from .views import VIEWS
        views = VIEWS.values() if hasattr(VIEWS, "values") else VIEWS
        if views:
            return {view.key: view for view in views}
    except ImportError:
        pass
    return dict(FALLBACK_VIEWS)


def load_focus(lesson):
    """What the lesson is about (for highlighting), or None when focus.py is not there."""
    try:
        from .focus import Focus, lesson_focus
    except ImportError:
        return None
    try:
        return lesson_focus(lesson)
    except Exception:  # noqa: BLE001 - a focus bug only loses highlighting
        return Focus.empty()
