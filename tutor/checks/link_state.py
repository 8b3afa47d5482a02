"""How a link reads to a learner, and whether it carries traffic: shared by the link, veth, bridge,
vxlan and reachable kinds.

`ip -br link` shows a switched-on veth whose peer is off as DOWN (or LOWERLAYERDOWN), which a learner
who has just typed `ip link set X up` reads as "my command failed"; these helpers say what is
really the matter and the command that fixes it.
"""
from __future__ import annotations

from ..observe.model import Link, NetNS, Snapshot
from .refs import cmd_in, link_by_index, where


def kind_name(link: Link) -> str:
    return link.kind or "plain device"


def state_words(link: Link) -> str:
    """"UP", "DOWN", or "switched on but LOWERLAYERDOWN": what `ip -br link` would make you read."""
    if not link.admin_up:
        return "DOWN"
    if link.operstate in ("UP", "UNKNOWN"):
        return "UP"
    return f"switched on but {link.operstate}"


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
    if not link.admin_up:
        return f"{link.name} is in {where(ns, snap)} but DOWN: {cmd_in(ns, f'link set {link.name} up')}"
    if link.kind == "veth":
        peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
        if peer is not None and not peer[1].admin_up:
            pns, plink = peer
            return (f"{link.name} in {where(ns, snap)} is up, but its peer {plink.name} in {where(pns, snap)} is DOWN, so it "
                    f"shows NO-CARRIER and {no_carrier_state(link)} (a cable plugged in at one end only): "
                    f"{cmd_in(pns, f'link set {plink.name} up')}")
        return (f"{link.name} in {where(ns, snap)} is up, but shows {link.operstate}: a veth carries traffic only "
                f"when its peer{' ' + link.peer_name if link.peer_name else ''} is up too")
    if link.kind == "bridge":
        return (f"{link.name} in {where(ns, snap)} is switched on but has no carrier ({link.operstate}): a bridge "
                f"comes UP when at least one of its ports is up; add a port and bring it up")
    return (f"{link.name} in {where(ns, snap)} is switched on but {link.operstate}: the device under it "
            f"(its lower layer or peer) is not up")
