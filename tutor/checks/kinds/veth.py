"""veth: two interfaces that are the two ends of one veth pair, each in its namespace.

    - veth: {ends: [RED/veth0, BLUE/veth1]}
    - veth: {ends: [RED/veth0, BLUE/veth1], up: true}
    - veth: {ends: [vethc1, c1/eth0], up: true}      # plain name = the host's end

Peers are followed through the kernel's own pointers (the peer's netns and ifindex): two
links called veth0 and veth1 that belong to different pairs fail. The peer's name is trusted
only when the kernel does not say where the peer is.
"""
from __future__ import annotations

from ...i18n import _
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
        return _("{peer} in {netns}").format(peer=peer[1].name, netns=where(peer[0], snap))
    if link.peer_name:
        if link.peer_netns:
            return _("{peer} in {netns}").format(peer=link.peer_name, netns=snap.netns_label(link.peer_netns))
        return link.peer_name
    if link.peer_ifindex is not None:
        return _("interface #{index} in {netns}").format(index=link.peer_ifindex,
                                                          netns=snap.netns_label(link.peer_netns))
    return _("an interface nstutor cannot see")


def _is_peer(link: Link, of_ns: NetNS, of: Link) -> bool | None:
    """Does *link* point at *of* as its peer? None when the snapshot does not say."""
    if link.peer_ifindex is not None and link.peer_netns is not None:
        return link.peer_netns == of_ns.inode and link.peer_ifindex == of.ifindex
    if link.peer_name is not None:
        return link.peer_name == of.name
    return None


def _is_this_pair(snap: Snapshot, link_ns: NetNS, link: Link, other_end: tuple[NetNS, str],
                  found: list[tuple[NetNS, Link]]) -> bool:
    """Could *link* (in *link_ns*), found elsewhere under the name of a missing end, be that end of this pair?

    Only a veth whose peer is the pair's other end: the very link found there when that end is in
    place, else one of the other end's name (wherever it is: the whole pair made in the wrong place),
    or a pair with both ends still in the root netns (made there and never moved, peer name and all
    wrong: the learner's attempt, which the caller names as a stray too). A veth whose peer is some
    other interface elsewhere is the end of another pair (the bridge lesson: c1/eth0, the peer of
    veth-c1, when c2/eth0 is missing): moving it would break that pair. When the kernel does not say
    where its peer is, nstutor cannot tell, and the link is given the benefit of it."""
    if link.kind != "veth":
        return False
    ons, oname = other_end
    placed = next((olink for fns, olink in found if fns.inode == ons.inode and olink.name == oname), None)
    peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
    if peer is not None:
        pns, plink = peer
        if placed is not None:
            return pns.inode == ons.inode and plink.ifindex == placed.ifindex
        return plink.name == oname or (link_ns.is_host and pns.is_host)
    if link.peer_name is not None:
        if placed is not None and link.peer_netns is not None and link.peer_netns != ons.inode:
            return False
        return link.peer_name == oname
    return True


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
        text = _("a veth pair {a} <-> {b}").format(a=a, b=b)
        if self.up is not None:
            text = (_("{veth_text}, both ends up") if self.up else _("{veth_text}, both ends down")).format(veth_text=text)
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
        observed = "; ".join(
            _("{link} in {netns} ({kind}, {state}, peer {peer})").format(
                link=link.name, netns=where(ns, snap), kind=kind_name(link), state=state_words(link),
                peer=_peer_phrase(snap, link)) for ns, link in found)
        for ns, link in found:
            if link.kind != "veth":
                return self.fail(observed, _("{link} in {netns} is a {kind}, not a veth: {delete}, then {create}").format(
                    link=link.name, netns=where(ns, snap), kind=kind_name(link), delete=cmd_in(ns, f'link del {link.name}'),
                    create=_create_command(places[0], places[1])))
        for (ns, link), (ons, other) in ((found[0], found[1]), (found[1], found[0])):
            verdict = _is_peer(link, ons, other)
            if verdict is False:
                return self.fail(observed, _(
                    "{link} in {netns} is a veth, but its peer is {peer}, not {other} in {other_netns}: these are ends "
                    "of two different pairs. Delete them and make one pair: {delete_a}; {delete_b}; {create}").format(
                    link=link.name, netns=where(ns, snap), peer=_peer_phrase(snap, link), other=other.name,
                    other_netns=where(ons, snap), delete_a=cmd_in(ans, f'link del {a.name}'),
                    delete_b=cmd_in(bns, f'link del {b.name}'), create=_create_command(places[0], places[1])))
            if verdict is None:
                return self.fail(observed, _("nstutor cannot see the peer of {link} in {netns}, so it cannot tell "
                                             "whether the two are one pair; run nstutor as root (sudo).").format(
                    link=link.name, netns=where(ns, snap)))

        if self.up is True:
            down = [(ns, link) for ns, link in found if not link.admin_up]
            if len(down) == 2:
                return self.fail(observed, _("both ends are DOWN: {up_a}; {up_b}").format(
                    up_a=cmd_in(ans, f'link set {a.name} up'), up_b=cmd_in(bns, f'link set {b.name} up')))
            if down:
                return self.fail(observed, _("{reason} (the other end shows NO-CARRIER until then)").format(
                    reason=why_not_up(snap, *down[0])))
            # Both switched on is all a veth needs (its carrier is its peer being on); operstate may
            # still read DOWN for up to a second after `ip link set up`, which is not the learner's fault.
        if self.up is False:
            up = [(ns, link) for ns, link in found if link.admin_up]
            if up:
                ns, link = up[0]
                return self.fail(observed, _("{link} in {netns} is up, expected down: {command}").format(
                    link=link.name, netns=where(ns, snap), command=cmd_in(ns, f'link set {link.name} down')))

        evidence = {"ends": [{"netns": where(ns, snap), "name": link.name, "ifindex": link.ifindex,
                              "operstate": link.operstate, "mac": link.mac} for ns, link in found],
                    "peers": True}
        return self.ok(observed, evidence)

    def _missing_end(self, snap, places, found, absent) -> Verdict:
        """At least one end is not where the check wants it: say where it is, or how to make the pair."""
        for ns, name in absent:
            # only a link it is sound to move (a veth end, not the machine's own eth0 that happens
            # to share the name a container's end is given), and only an end of THIS pair: another
            # pair's end of the same name (c1/eth0 when c2/eth0 is wanted) is not this cable
            first_ns, first_name = places[0]
            other_end = places[1] if (first_ns.inode, first_name) == (ns.inode, name) else places[0]
            elsewhere = [(o, l) for o, l in find_links(snap, name) if o.inode != ns.inode and safe_to_move(o, l)
                         and _is_this_pair(snap, o, l, other_end, found)]
            if elsewhere:
                other, link = elsewhere[0]
                move = cmd_in(other, f"link set {name} netns {netns_arg(ns)}")
                # left in the host (made, never moved): the learner's stray, which reset may remove
                stray = (Stray(_("the veth {link} in the root netns (meant for {netns})").format(
                                   link=show(name), netns=where(ns, snap)),
                               ("ip", "link", "del", name))
                         if other.is_host and link.kind == "veth" and safe_to_move(other, link) else None)
                observed = _("{link} is in {netns} ({kind}, {state})").format(
                    link=name, netns=where(other, snap), kind=kind_name(link), state=state_words(link))
                if stray:
                    message = _("{link} is in {other}, expected {netns}: {command} (or, to start over, {removal})").format(
                        link=name, other=where(other, snap), netns=where(ns, snap), command=move,
                        removal=removal_words((stray,)))
                else:
                    message = _("{link} is in {other}, expected {netns}: {command}").format(
                        link=name, other=where(other, snap), netns=where(ns, snap), command=move)
                return self.fail(observed, message, strays=(stray,) if stray else ())
        if len(absent) == 2:
            return self.fail(_("no {a} in {a_netns} and no {b} in {b_netns}").format(
                                 a=absent[0][1], a_netns=where(absent[0][0], snap), b=absent[1][1],
                                 b_netns=where(absent[1][0], snap)),
                             _("the pair does not exist yet: {command}").format(
                                 command=_create_command(places[0], places[1])))
        (ns, name), = absent
        (fns, flink), = found
        observed = _("{link} is in {link_netns} (peer {peer}); {netns} has no {name}").format(
            link=flink.name, link_netns=where(fns, snap), peer=_peer_phrase(snap, flink), netns=where(ns, snap), name=name)
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
                return self.fail(observed, _("{link}'s peer is {peer} in {peer_netns}, expected {name} in {netns}: "
                                             "{commands}").format(
                    link=flink.name, peer=plink.name, peer_netns=where(pns, snap), name=name, netns=where(ns, snap),
                    commands="; ".join(fixes)))
        return self.fail(observed, _("{netns} has no interface {name}; delete {link} ({delete}) and make the pair: "
                                     "{create}").format(
            netns=where(ns, snap), name=name, link=flink.name, delete=cmd_in(fns, f'link del {flink.name}'),
            create=_create_command(places[0], places[1])))
