"""View 5, "Routes": the routes of each network namespace, like `ip route` (IPv4 first, IPv6
link-local routes left out: every link has one and they say nothing)."""
from __future__ import annotations

import socket

from ...i18n import _
from ...observe import render as textview
from ...observe.model import Snapshot
from .focus import Focus, Resolved
from .layout import Row, Section, Table, unique_keys
from .netns_sections import netns_order, netns_title
from .view import table_view


def routes_table(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
    sections = []
    for ns in netns_order(snap, res):
        mine = ns.inode in res.named_netns
        routes = [r for r in ns.routes if not (r.family == socket.AF_INET6 and r.dst.startswith("fe80::"))]
        routes.sort(key=lambda r: r.family != socket.AF_INET)
        rows = tuple(Row((ns.inode, textview.route_text(r)), (textview.route_text(r),), focus=mine) for r in routes)
        if rows or ns.inode in res.netns:
            sections.append(Section(ns.inode, netns_title(ns, snap), unique_keys(rows), focus=mine,
                                    empty=_("(no routes)")))
    return Table(("",), "l", tuple(sections), caption=_("Routes per network namespace, like ip route"))


render = table_view("routes", routes_table)
