"""View 2, "Namespaces": every namespace on the machine, like lsns (plus named netns that no
process is in), the lesson's marked; a container's namespaces say whose they are ("[web (docker)]").
"""
from __future__ import annotations

from ...i18n import _
from ...observe import render as textview
from ...observe.model import Snapshot
from .focus import Focus, Resolved
from .container_names import namespace_label
from .layout import NOTE, Row, Section, Table, clean, unique_keys
from .view import table_view


def namespaces_table(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
    rows = []
    for r in textview.lsns_rows(snap):
        command = clean(r.command)
        containers = namespace_label(snap, r.type, r.inode)
        if containers:                      # before a netns name: Podman's netns-<uuid> would push it out
            command = f"{command}  [{containers}]"
        if r.type == "net" and r.names and r.pid is not None:
            command = f"{command}  (netns {', '.join(r.names)})"
        host = snap.host_ns.get(r.type) == r.inode
        rows.append(Row((r.inode, r.type),
                        (str(r.inode), r.type, str(r.nprocs), "-" if r.pid is None else str(r.pid), r.user, command),
                        ("dim" if host else "", "", "", "", "", NOTE if r.pid is None else ""),
                        focus=(r.type, r.inode) in res.namespaces))
    caption = _("Namespaces, like lsns (+ named netns that no process is in)")
    return Table(textview.LsnsRow.HEADERS, textview.LsnsRow.ALIGN,
                 (Section("all", "", unique_keys(rows), empty=_("no namespaces could be read")),),
                 max_col=(10, 6, 6, 7, 10), min_col=(10, 6, 2, 3, 4), caption=caption,
                 wrap=False, drop=(4, 2), min_last=14)


render = table_view("namespaces", namespaces_table)
