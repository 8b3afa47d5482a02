"""veth: two interfaces that are the two ends of one veth pair, each in its namespace.

    - veth: {ends: [RED/veth0, BLUE/veth1]}
    - veth: {ends: [RED/veth0, BLUE/veth1], up: true}
    - veth: {ends: [vethc1, c1/eth0], up: true}      # plain name = the host's end

Peers are followed through the kernel's own pointers (the peer's netns and ifindex): two
links called veth0 and veth1 that belong to different pairs fail. The peer's name is trusted
only when the kernel does not say where the peer is.
"""
from __future__ import annotations

from ...observe.model import Link, NetNS, Snapshot
from ..base import Expectation, Field, Stray, Verdict, v_bool, v_ifref, v_list_of
from ..link_state import kind_name, state_words, why_not_up
from ..refs import (Missing, cmd_in, find_links, link_by_index, netns_arg, netns_unreadable, resolve_dev,
                    safe_to_move, where)
from ..registry import register
from ..strays import removal_words, show


def _peer_phrase(snap: Snapshot, link: Link) -> str:
    """Where a veth's peer is: "BLUE/veth9", or what little is known about it."""
    peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
    if peer is not None:
        return f"{peer[1].name} in {where(peer[0], snap)}"
    if link.peer_name:
        return link.peer_name + (f" in {snap.netns_label(link.peer_netns)}" if link.peer_netns else "")
    if link.peer_ifindex is not None:
        return f"interface #{link.peer_ifindex} in {snap.netns_label(link.peer_netns)}"
    return "an interface nstutor cannot see"


def _is_peer(link: Link, of_ns: NetNS, of: Link) -> bool | None:
    """Does *link* point at *of* as its peer? None when the snapshot does not say."""
    if link.peer_ifindex is not None and link.peer_netns is not None:
        return link.peer_netns == of_ns.inode and link.peer_ifindex == of.ifindex
    if link.peer_name is not None:
        return link.peer_name == of.name
    return None


def _create_command(a: tuple[NetNS, str], b: tuple[NetNS, str]) -> str:
    """One `ip link add` that makes the pair with each end directly in its namespace."""
    (ans, aname), (bns, bname) = a, b
    peer = f"peer name {bname}" + ("" if bns.inode == ans.inode else f" netns {netns_arg(bns)}")
    return cmd_in(ans, f"link add {aname} type veth {peer}")


@register
class VethExpectation(Expectation):
    kind = "veth"
    fields = {
        "ends": Field(v_list_of(v_ifref, length=2), required=True, doc="[RED/veth0, BLUE/veth1]"),
        "up": Field(v_bool, doc="both ends up (true) or both down (false)"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        a, b = spec["ends"]
        if a == b:
            return ["'veth': the two ends must be two different interfaces"]
        return []

    def describe(self) -> str:
        a, b = self.ends
        text = f"a veth pair {a} <-> {b}"
        if self.up is not None:
            text += ", both ends up" if self.up else ", both ends down"
        return text

    def grade(self, snap: Snapshot) -> Verdict:
        places = []
        for end in self.ends:
            place = resolve_dev(snap, end)
            if isinstance(place, Missing):
                return self.fail(*place)
            places.append(place)

        # Find each end where it should be; say where it is instead when it is elsewhere.
        found: list[tuple[NetNS, Link]] = []
        absent: list[tuple[NetNS, str]] = []
        for ns, name in places:
            blocked = netns_unreadable(ns)
            if blocked:
                return self.fail(*blocked)
            link = ns.link(name)
            if link is None:
                absent.append((ns, name))
            else:
                found.append((ns, link))
        if absent:
            return self._missing_end(snap, places, found, absent)

        (ans, a), (bns, b) = found
        observed = (f"{a.name} in {where(ans, snap)} ({kind_name(a)}, {state_words(a)}, peer {_peer_phrase(snap, a)}); "
                    f"{b.name} in {where(bns, snap)} ({kind_name(b)}, {state_words(b)}, peer {_peer_phrase(snap, b)})")
        for ns, link in found:
            if link.kind != "veth":
                return self.fail(observed, f"{link.name} in {where(ns, snap)} is a {kind_name(link)}, not a veth: "
                                 f"{cmd_in(ns, f'link del {link.name}')}, then "
                                 f"{_create_command(places[0], places[1])}")
        for (ns, link), (ons, other) in ((found[0], found[1]), (found[1], found[0])):
            verdict = _is_peer(link, ons, other)
            if verdict is False:
                return self.fail(observed, f"{link.name} in {where(ns, snap)} is a veth, but its peer is "
                                 f"{_peer_phrase(snap, link)}, not {other.name} in {where(ons, snap)}: these are ends of "
                                 f"two different pairs. Delete them and make one pair: "
                                 f"{cmd_in(ans, f'link del {a.name}')}; {cmd_in(bns, f'link del {b.name}')}; "
                                 f"{_create_command(places[0], places[1])}")
            if verdict is None:
                return self.fail(observed, f"nstutor cannot see the peer of {link.name} in {where(ns, snap)}, so it cannot "
                                 "tell whether the two are one pair; run nstutor as root (sudo).")

        if self.up is True:
            down = [(ns, link) for ns, link in found if not link.admin_up]
            if len(down) == 2:
                return self.fail(observed, f"both ends are DOWN: {cmd_in(ans, f'link set {a.name} up')}; "
                                 f"{cmd_in(bns, f'link set {b.name} up')}")
            if down:
                return self.fail(observed, why_not_up(snap, *down[0])
                                 + " (the other end shows NO-CARRIER until then)")
            # Both switched on is all a veth needs (its carrier is its peer being on); operstate may
            # still read DOWN for up to a second after `ip link set up`, which is not the learner's fault.
        if self.up is False:
            up = [(ns, link) for ns, link in found if link.admin_up]
            if up:
                ns, link = up[0]
                return self.fail(observed, f"{link.name} in {where(ns, snap)} is up, expected down: "
                                 f"{cmd_in(ns, f'link set {link.name} down')}")

        evidence = {"ends": [{"netns": where(ns, snap), "name": link.name, "ifindex": link.ifindex,
                              "operstate": link.operstate, "mac": link.mac} for ns, link in found],
                    "peers": True}
        return self.ok(observed, evidence)

    def _missing_end(self, snap, places, found, absent) -> Verdict:
        """At least one end is not where the check wants it: say where it is, or how to make the pair."""
        for ns, name in absent:
            # only a link it is sound to move (a veth end, not the machine's own eth0 that happens
            # to share the name a container's end is given): anything else is not this cable
            elsewhere = [(o, l) for o, l in find_links(snap, name) if o.inode != ns.inode and safe_to_move(o, l)]
            if elsewhere:
                other, link = elsewhere[0]
                move = cmd_in(other, f"link set {name} netns {netns_arg(ns)}")
                # left in the host (made, never moved): the learner's stray, which reset may remove
                stray = (Stray(f"the veth {show(name)} in the root netns (meant for {where(ns, snap)})",
                               ("ip", "link", "del", name))
                         if other.is_host and link.kind == "veth" and safe_to_move(other, link) else None)
                return self.fail(f"{name} is in {where(other, snap)} ({kind_name(link)}, {state_words(link)})",
                                 f"{name} is in {where(other, snap)}, expected {where(ns, snap)}: {move}"
                                 + (f" (or, to start over, {removal_words((stray,))})" if stray else ""),
                                 strays=(stray,) if stray else ())
        if len(absent) == 2:
            return self.fail(f"no {absent[0][1]} in {where(absent[0][0], snap)} and no {absent[1][1]} in "
                             f"{where(absent[1][0], snap)}",
                             f"the pair does not exist yet: {_create_command(places[0], places[1])}")
        (ns, name), = absent
        (fns, flink), = found
        observed = f"{flink.name} is in {where(fns, snap)} (peer {_peer_phrase(snap, flink)}); {where(ns, snap)} has no {name}"
        if flink.kind == "veth":
            peer = link_by_index(snap, flink.peer_netns, flink.peer_ifindex)
            if peer is not None:
                pns, plink = peer
                fixes = []
                if pns.inode != ns.inode and safe_to_move(pns, plink):
                    fixes.append(cmd_in(pns, f"link set {plink.name} netns {netns_arg(ns)}"))
                if plink.name != name:
                    fixes.append(cmd_in(ns, f"link set {plink.name} down"))
                    fixes.append(cmd_in(ns, f"link set {plink.name} name {name}"))
                return self.fail(observed, f"{flink.name}'s peer is {plink.name} in {where(pns, snap)}, expected {name} "
                                 f"in {where(ns, snap)}: " + "; ".join(fixes))
        return self.fail(observed, f"{where(ns, snap)} has no interface {name}; delete {flink.name} "
                         f"({cmd_in(fns, f'link del {flink.name}')}) and make the pair: "
                         f"{_create_command(places[0], places[1])}")
