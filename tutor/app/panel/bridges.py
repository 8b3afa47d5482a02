"""View 4, "Bridges": each bridge with its ports, like `brctl show`, a veth port with its peer
(a container's end named by its container: "<-> web (docker)/eth0")."""
from __future__ import annotations

from ...i18n import _
from ...observe import render as textview
from ...observe.model import Snapshot
from .container_names import in_namespace, netns_label
from .focus import Focus, Resolved
from .layout import NOTE, Row, Section, Table, state_style
from .netns_sections import is_mine, netns_order, netns_title
from .view import table_view


def _peer(snap: Snapshot, link) -> str:
    if link is None or link.kind != "veth":
        return ""
    if link.peer_netns is not None and link.peer_netns != link.netns and in_namespace(snap, "net", link.peer_netns):
        # a container's end: named by the container, as `docker ps` would ("web (docker)/eth0")
        peer = link.peer_name or (f"if{link.peer_ifindex}" if link.peer_ifindex is not None else "?")
        return f"<-> {netns_label(snap, link.peer_netns)}/{peer}"
    text = textview.peer_text(snap, link)
    return f"<-> {text}" if text else ""


def bridges_table(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
    sections = []
    for ns in netns_order(snap, res):
        rows = []
        for link in sorted(ns.links, key=lambda l: l.ifindex):
            if link.kind != "bridge":
                continue
            state = textview.panel_state(link)
            mine_bridge = is_mine(res, ns, link)
            ports = sorted((p for p in ns.links if p.master == link.name), key=lambda p: p.name)
            if not ports:
                rows.append(Row((ns.inode, link.name, ""), (link.name, state, _("(no ports)"), ""),
                                ("", state_style(state), NOTE, ""), focus=mine_bridge))
            for i, port in enumerate(ports):
                pstate = textview.panel_state(port)
                mine = mine_bridge or is_mine(res, ns, port)
                peer = _peer(snap, port)
                rows.append(Row((ns.inode, link.name, port.name), (link.name, state, port.name, f"{pstate} {peer}".strip()),
                                ("", state_style(state), "", state_style(pstate)), focus=mine, blank=2 if i else 0))
        if rows or ns.inode in res.netns:
            sections.append(Section(ns.inode, netns_title(ns, snap), tuple(rows), focus=ns.inode in res.named_netns,
                                    empty=_("(no bridges)")))
    return Table(("BRIDGE", "STATE", "PORT", "STATE / PEER"), "llll", tuple(sections),
                 max_col=(16, 8, 16), min_col=(6, 4, 7), min_last=10,
                 caption=_("Bridges and their ports, like brctl show (veth ports with their peers)"))


render = table_view("bridges", bridges_table)
