"""The live panel's views, and which key shows which.

Each view is a module of this package with a `render(snapshot, previous, focus, width)` function
(see view.py): topology, namespaces, network, bridges, routes, neighbours, processes, isolation,
containers.
They draw with the layout helpers and table engine of layout.py, and highlight what focus.py says
the lesson is about. `VIEWS` lists them in display order, each with the one key that selects it;
a new view is a module here and a line in `VIEWS`.
"""
from __future__ import annotations

from . import bridges, containers, isolation, namespaces, neighbours, network, processes, routes, topology
from .focus import Focus, lesson_focus
from .view import View, view_titles  # noqa: F401  (view_titles: the titles in the app's language)

VIEWS: tuple[View, ...] = (
    View("1", "topology", "Topology", topology.render, short="topo"),
    View("2", "namespaces", "Namespaces", namespaces.render, short="ns"),
    View("3", "network", "Links & addresses", network.render, short="links"),
    View("4", "bridges", "Bridges", bridges.render, short="br"),
    View("5", "routes", "Routes", routes.render),
    View("6", "neighbours", "Neighbours & fdb", neighbours.render, short="neigh"),
    View("7", "processes", "Processes", processes.render, short="procs"),
    View("8", "isolation", "Isolation", isolation.render, short="iso"),
    View("9", "containers", "Containers", containers.render, shown=containers.shown, short="ctrs"),
)


def view_for_key(key: str) -> View | None:
    return next((v for v in VIEWS if v.key == key), None)


def views_by_key() -> dict[str, View]:
    """The views by their key (one keystroke), in display order."""
    return {view.key: view for view in VIEWS}


def focus_for(lesson) -> Focus:
    """What *lesson* is about, for highlighting; a bug in focus loses the highlighting, not the lesson."""
    try:
        return lesson_focus(lesson)
    except Exception:  # noqa: BLE001 - a focus bug only loses highlighting
        return Focus.empty()
