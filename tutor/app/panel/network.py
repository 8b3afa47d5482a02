"""View 3, "Links & addresses": the links and addresses of each network namespace, like
`ip -br link` / `ip -br addr`, the lesson's namespaces first. The MAC column shows from 100 cells.
"""
from __future__ import annotations

from rich.console import RenderableType

from ...i18n import _
from ...observe import render as textview
from ...observe.model import Snapshot
from .focus import Focus, Resolved
from .layout import NOTE, Row, Section, Table, state_style
from .netns_sections import is_mine, netns_note, netns_order, netns_title
from .view import BuildFn, render_cached_table

MAC_FROM = 100                   # the panel width from which the MAC column shows


def network_table_for(width: int) -> BuildFn:
    show_mac = width >= MAC_FROM

    def build(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
        sections = []
        for ns in netns_order(snap, res):
            rows = []
            by_name = {l.name: l for l in ns.links}
            for r in textview.link_rows(snap, ns):
                last = " ".join(r.addresses)
                if r.notes:
                    last = f"{last}  ({', '.join(r.notes)})" if last else f"({', '.join(r.notes)})"
                mine = is_mine(res, ns, by_name.get(r.name))
                if show_mac:
                    rows.append(Row((ns.inode, r.name), (r.display_name, r.state, r.mac, last),
                                    ("", state_style(r.state), NOTE, ""), focus=mine))
                else:
                    rows.append(Row((ns.inode, r.name), (r.display_name, r.state, last),
                                    ("", state_style(r.state), ""), focus=mine))
            sections.append(Section(ns.inode, netns_title(ns, snap), tuple(rows), focus=ns.inode in res.named_netns,
                                    empty=_("(no interfaces read)"), note=netns_note(ns)))
        headers = ("LINK", "STATE", "MAC", "ADDRESSES") if show_mac else ("LINK", "STATE", "ADDRESSES")
        return Table(headers, "llll" if show_mac else "lll", tuple(sections),
                     max_col=(34, 14, 17) if show_mac else (34, 14), min_col=(8, 7, 17), min_last=14,
                     drop=(2,) if show_mac else (),
                     caption=_("Links and addresses per network namespace, like ip -br link / ip -br addr"))
    return build


def render(snap: Snapshot, previous: Snapshot | None, focus: Focus | None, width: int) -> RenderableType:
    # The MAC column comes and goes with the width, so the rows are cached per kind of layout.
    kind = "network-mac" if width >= MAC_FROM else "network"
    return render_cached_table(kind, network_table_for(width), snap, previous, focus, width)
