"""View 6, "Neighbours & fdb": each network namespace's neighbours (`ip neigh`, NOARP entries left
out) and bridge forwarding entries (`bridge fdb`, multicast entries with no destination left out)."""
from __future__ import annotations

from ...i18n import _
from ...observe import render as textview
from ...observe.model import Snapshot
from .focus import Focus, Resolved
from .layout import NOTE, Row, Section, Table, unique_keys
from .netns_sections import netns_order, netns_title
from .view import table_view


def neighbours_table(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
    sections = []
    for ns in netns_order(snap, res):
        mine = ns.inode in res.named_netns
        rows = []
        for n in ns.neighbours:
            if n.state == "NOARP":
                continue
            rows.append(Row((ns.inode, "neigh", n.ip, n.dev), ("neigh", textview.neighbour_text(n)), (NOTE, ""),
                            focus=mine))
        for e in ns.fdb:
            if not e.dst and textview.is_multicast(e.mac):
                continue
            rows.append(Row((ns.inode, "fdb", e.mac, e.dev, e.dst, e.vlan, e.master),
                            ("fdb", textview.fdb_text(e)), (NOTE, ""), focus=mine))
        if rows or ns.inode in res.netns:
            sections.append(Section(ns.inode, netns_title(ns, snap), unique_keys(rows), focus=mine,
                                    empty=_("(no neighbours, no fdb entries)")))
    return Table(("", "ENTRY"), "ll", tuple(sections), max_col=(5,), min_col=(5,),
                 caption=_("Neighbours (ip neigh) and forwarding entries (bridge fdb) per network namespace"))


render = table_view("neighbours", neighbours_table)
