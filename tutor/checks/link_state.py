"""How a link reads to a learner, and whether it carries traffic: shared by the link, veth, bridge,
vxlan and reachable kinds.

`ip -br link` shows a switched-on veth whose peer is off as DOWN (or LOWERLAYERDOWN), which a learner
who has just typed `ip link set X up` reads as "my command failed"; these helpers say what is
really the matter and the command that fixes it.
"""
from __future__ import annotations

from ..i18n import _
from ..observe.model import Link, NetNS, Snapshot
from .refs import cmd_in, link_by_index, where


def kind_name(link: Link) -> str:
    return link.kind or _("plain device")


def state_words(link: Link) -> str:
    """"UP", "DOWN", or "switched on but LOWERLAYERDOWN": what `ip -br link` would make you read."""
    if not link.admin_up:
        return "DOWN"
    if link.operstate in ("UP", "UNKNOWN"):
        return "UP"
    return _("switched on but {state}").format(state=link.operstate)


def no_carrier_state(link: Link) -> str:
    """The state `ip link` shows for a switched-on end whose peer is off: DOWN on recent kernels
    (6.x, measured), LOWERLAYERDOWN on some older ones; say the one this kernel shows."""
    return link.operstate if link.operstate in ("DOWN", "LOWERLAYERDOWN") else "DOWN"


def carries_traffic(link: Link, snap: Snapshot | None = None) -> bool:
    """Switched on, and the kernel agrees it can pass packets.

    A veth's carrier is nothing but its peer being switched on, so with the peer in view that is
    what decides: operstate trails `ip link set up` by up to a second (the kernel's linkwatch),
    and a check must not flicker red right after the learner did the right thing."""
    if not link.admin_up:
        return False
    if link.kind == "veth" and snap is not None:
        peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
        if peer is not None:
            return peer[1].admin_up
    return link.operstate not in ("DOWN", "LOWERLAYERDOWN", "NOTPRESENT")


def why_not_up(snap: Snapshot, ns: NetNS, link: Link) -> str:
    """Why *link* is not carrying traffic, and the command that fixes it."""
    here = where(ns, snap)
    if not link.admin_up:
        return _("{link} is in {netns} but DOWN: {command}").format(
            link=link.name, netns=here, command=cmd_in(ns, f"link set {link.name} up"))
    if link.kind == "veth":
        peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
        if peer is not None and not peer[1].admin_up:
            pns, plink = peer
            return _("{link} in {netns} is up, but its peer {peer} in {peer_netns} is DOWN, so it shows NO-CARRIER "
                     "and {state} (a cable plugged in at one end only): {command}").format(
                link=link.name, netns=here, peer=plink.name, peer_netns=where(pns, snap),
                state=no_carrier_state(link), command=cmd_in(pns, f"link set {plink.name} up"))
        if link.peer_name:
            return _("{link} in {netns} is up, but shows {state}: a veth carries traffic only when its peer {peer} "
                     "is up too").format(link=link.name, netns=here, state=link.operstate, peer=link.peer_name)
        return _("{link} in {netns} is up, but shows {state}: a veth carries traffic only when its peer is up "
                 "too").format(link=link.name, netns=here, state=link.operstate)
    if link.kind == "bridge":
        return _("{link} in {netns} is switched on but has no carrier ({state}): a bridge comes UP when at least "
                 "one of its ports is up; add a port and bring it up").format(
            link=link.name, netns=here, state=link.operstate)
    return _("{link} in {netns} is switched on but {state}: the device under it (its lower layer or peer) is "
             "not up").format(link=link.name, netns=here, state=link.operstate)
