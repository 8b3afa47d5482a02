"""What the views with a section per network namespace share: the order of the sections, their
titles and notes (a container's netns titled by its containers), and which links are the lesson's.

Used by the network, bridges, routes and neighbours views (the topology draws its own boxes).
"""
from __future__ import annotations

from ...i18n import _, ngettext
from ...observe import render as textview
from ...observe.model import NetNS, Snapshot
from .container_names import netns_label
from .focus import Resolved


def netns_order(snap: Snapshot, res: Resolved) -> list[NetNS]:
    """The lesson's netns first (oldest first: the order the learner made them), then the host,
    named ones by name and unnamed ones."""
    ordered = textview.ordered_netns(snap)
    mine = sorted((ns for ns in ordered if ns.inode in res.netns), key=lambda n: (not n.names, n.inode))
    return mine + [ns for ns in ordered if ns.inode not in res.netns]


def is_mine(res: Resolved, ns: NetNS, link) -> bool:
    """A link of the lesson: in a namespace it names, named itself, or the far end of a cable into one."""
    if link is None:
        return False
    return (ns.inode in res.named_netns or (ns.inode, link.name) in res.links
            or (link.peer_netns is not None and link.peer_netns != ns.inode and link.peer_netns in res.named_netns))


def netns_note(ns: NetNS) -> str:
    """What follows a namespace's title: why it could not be read, or who is in it."""
    if ns.error:
        return ns.error
    if not ns.pids:
        return _("no process")
    if len(ns.pids) == 1:
        return f"pid {ns.pids[0]}"
    return ngettext("{count} process", "{count} processes", len(ns.pids)).format(count=len(ns.pids))


def netns_title(ns: NetNS, snap: Snapshot | None = None) -> str:
    """"RED net:[4026532401]"; a container's netns by its containers: "web (docker) net:[4026532701]"."""
    label = netns_label(snap, ns.inode) if snap is not None else ns.label
    if label == f"net:[{ns.inode}]":
        return label
    return f"{label} net:[{ns.inode}]"
