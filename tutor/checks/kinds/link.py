"""link: one interface in a netns, with optional facts about it (or: it must not exist).

    - link: {dev: RED/veth0, kind: veth, up: true, mtu: 1500}
    - link: {dev: node1/flannel.1, kind: vxlan, mtu: 1450}
    - link: {dev: vethc1, master: nsbr0}          # plain name = the host's netns
    - link: {dev: c1/eth0, absent: true}
    - link: {dev: eth0, netns: {netns_of: {container: web}}, kind: veth, peer_master: docker0}

`peer_master` is for a veth whose other end has a name nobody chose (Docker's vethXXXXXXX): that
other end, wherever it is, must be a port of this bridge.

`up: true` means the interface can carry traffic: switched on (`ip link set X up`) and not
DOWN or LOWERLAYERDOWN (a veth: its peer switched on too). `state` compares the kernel's operstate exactly (UP, DOWN, UNKNOWN...).
"""
from __future__ import annotations

from ...i18n import _
from ...observe.model import Snapshot
from ..base import (Expectation, Field, Verdict, ifname_problem, v_bool, v_ifname, v_ifref, v_int_range, v_mac,
                    v_one_of, v_word)
from ..link_state import carries_traffic, kind_name, state_words, why_not_up
from ..refs import (Missing, cmd_in, describe_ifref, dev_netns_problem, is_real_device, link_by_index,
                    netns_ref_problem, resolve_dev, resolve_link, where)
from ..registry import register

#: 68 is the least MTU the kernel lets an interface with IPv4 have (RFC 791); 65535 the most an Ethernet-like
#: link takes (ETH_MAX_MTU), and lo has 65536.
V_MTU = v_int_range(68, 65536, example=1500, what=" (an IPv4 link's MTU in bytes; lo's is 65536)")

OPERSTATES = ("UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN", "DORMANT", "NOTPRESENT", "TESTING")


@register
class LinkExpectation(Expectation):
    kind = "link"
    fields = {
        "dev": Field(v_ifref, required=True, doc="RED/veth0, or veth0 for the host"),
        "netns": Field(netns_ref_problem, doc="the netns, if dev does not say it"),
        "kind": Field(v_word("veth", "a link kind as ip -d link shows it"), doc="veth, bridge, vxlan, dummy..."),
        "up": Field(v_bool, doc="carries traffic (true) / switched off (false)"),
        "state": Field(v_one_of(*OPERSTATES), doc="exact operstate"),
        "mtu": Field(V_MTU, doc="the link's MTU in bytes"),
        "master": Field(v_ifname, doc="the bridge it is a port of"),
        # in the other end's netns, which the expectation does not say: a name it does not point at
        "peer_master": Field(ifname_problem, doc="a veth: the bridge its other end is a port of (docker0)"),
        "mac": Field(v_mac),
        "absent": Field(v_bool, default=False, doc="the interface must NOT exist there"),
    }

    def __init__(self, spec, line=None):
        super().__init__(spec, line)
        # The field "kind" (veth, bridge...) must not hide the expectation's own kind ("link").
        self.link_kind = self.spec.get("kind")
        del self.kind

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = dev_netns_problem(spec)
        if spec.get("absent") and any(k in spec for k in ("kind", "up", "state", "mtu", "master", "peer_master",
                                                          "mac")):
            out.append("'link': absent: true cannot be combined with other facts about the link")
        return out

    def describe(self) -> str:
        who = describe_ifref(self.dev, self.netns)
        if self.absent:
            return _("no interface {link}").format(link=who)
        facts = []
        if self.up is not None:
            facts.append(_("up") if self.up else _("down"))
        if self.link_kind is not None:
            facts.append(_("kind {kind}").format(kind=self.link_kind))
        if self.state is not None:
            facts.append(_("state {state}").format(state=self.state))
        if self.mtu is not None:
            facts.append(_("mtu {mtu}").format(mtu=self.mtu))
        if self.master is not None:
            facts.append(_("master {bridge}").format(bridge=self.master))
        if self.peer_master is not None:
            facts.append(_("its other end a port of {bridge}").format(bridge=self.peer_master))
        if self.mac is not None:
            facts.append(_("mac {mac}").format(mac=self.mac))
        if facts:
            return _("interface {link} ({facts})").format(link=who, facts=", ".join(facts))
        return _("interface {link}").format(link=who)

    def grade(self, snap: Snapshot) -> Verdict:
        if self.absent:
            return self._grade_absent(snap)
        found = resolve_link(snap, self.dev, self.netns)
        if isinstance(found, Missing):
            return self.fail(*found)
        ns, link = found
        observed = (_("{link} in {netns}: {kind}, {state}, mtu {mtu}").format(
                        link=link.name, netns=where(ns, snap), kind=kind_name(link), state=state_words(link), mtu=link.mtu)
                    # (as `ip link` names them: not words to translate)
                    + (f", master {link.master}" if link.master else "") + (f", mac {link.mac}" if link.mac else ""))
        name = link.name

        if self.link_kind is not None and link.kind != self.link_kind:
            return self.fail(observed, _("{link} in {netns} is a {kind}, not a {wanted}: delete it ({command}) and "
                                         "create it with type {wanted}").format(
                link=name, netns=where(ns, snap), kind=kind_name(link), wanted=self.link_kind,
                command=cmd_in(ns, f'link del {name}')))
        if self.up is True and not carries_traffic(link, snap):
            return self.fail(observed, why_not_up(snap, ns, link))
        if self.up is False and link.admin_up:
            return self.fail(observed, _("{link} in {netns} is up, expected down: {command}").format(
                link=name, netns=where(ns, snap), command=cmd_in(ns, f'link set {name} down')))
        if self.state is not None and link.operstate != self.state:
            hint = (why_not_up(snap, ns, link) if self.state == "UP"
                    else _("expected state {expected}").format(expected=self.state))
            return self.fail(observed, _("{link} in {netns} has state {state}; {hint}").format(
                link=name, netns=where(ns, snap), state=link.operstate, hint=hint))
        if self.mtu is not None and link.mtu != self.mtu:
            return self.fail(observed, _("{link} in {netns} has MTU {mtu}, expected {expected}: {command}").format(
                link=name, netns=where(ns, snap), mtu=link.mtu, expected=self.mtu,
                command=cmd_in(ns, f'link set {name} mtu {self.mtu}')))
        if self.master is not None and link.master != self.master:
            command = cmd_in(ns, f'link set {name} master {self.master}')
            if link.master:
                message = _("{link} in {netns} is a port of {current}, expected {bridge}: {command}").format(
                    link=name, netns=where(ns, snap), current=link.master, bridge=self.master, command=command)
            else:
                message = _("{link} in {netns} is not a port of any bridge, expected {bridge}: {command}").format(
                    link=name, netns=where(ns, snap), bridge=self.master, command=command)
            return self.fail(observed, message)
        if self.peer_master is not None:
            problem = self._peer_problem(snap, ns, link)
            if problem is not None:
                return self.fail(observed, problem)
        if self.mac is not None and (link.mac or "").lower() != self.mac.lower():
            return self.fail(observed, _("{link} in {netns} has MAC {mac}, expected {expected}: {command}").format(
                link=name, netns=where(ns, snap), mac=link.mac, expected=self.mac.lower(),
                command=cmd_in(ns, f'link set {name} address {self.mac.lower()}')))
        evidence = {"netns": where(ns, snap), "name": name, "ifindex": link.ifindex, "kind": link.kind,
                    "operstate": link.operstate, "mtu": link.mtu, "master": link.master, "mac": link.mac}
        if self.peer_master is not None:
            peer_ns, peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
            evidence["peer"] = f"{peer.name} in {where(peer_ns, snap)}, a port of {peer.master}"
        return self.ok(observed, evidence)

    def _peer_problem(self, snap: Snapshot, ns, link) -> str | None:
        """Why *link*'s other end is not a port of peer_master (None: it is)."""
        if link.kind != "veth":
            return _("{link} in {netns} is a {kind}, not a veth, so it has no other end on {bridge}").format(
                link=link.name, netns=where(ns, snap), kind=kind_name(link), bridge=self.peer_master)
        found = link_by_index(snap, link.peer_netns, link.peer_ifindex)
        if found is None:
            return _("nstutor cannot see the other end of {link} in {netns} (its netns is not readable, or the pair "
                     "is half deleted), so it cannot tell whether that end is a port of {bridge}").format(
                link=link.name, netns=where(ns, snap), bridge=self.peer_master)
        peer_ns, peer = found
        if peer.master == self.peer_master:
            return None
        command = cmd_in(peer_ns, f'link set {peer.name} master {self.peer_master}')
        if peer.master:
            return _("the other end of {link} in {netns} is {peer} in {peer_netns}, a port of {current}, not of "
                     "{bridge}: {command}").format(link=link.name, netns=where(ns, snap), peer=peer.name,
                                                   peer_netns=where(peer_ns, snap), current=peer.master,
                                                   bridge=self.peer_master, command=command)
        return _("the other end of {link} in {netns} is {peer} in {peer_netns}, which is not a port of any bridge: "
                 "{command}").format(link=link.name, netns=where(ns, snap), peer=peer.name,
                                     peer_netns=where(peer_ns, snap), command=command)

    def _grade_absent(self, snap: Snapshot) -> Verdict:
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):   # no such namespace: certainly no such link in it
            return self.ok(place.observed, {"absent": self.dev})
        ns, name = place
        link = ns.link(name)
        if link is None:
            if ns.error and not ns.links:
                return self.fail(_("nstutor could not read {netns}: {error}").format(netns=where(ns, snap), error=ns.error),
                                 _("nstutor could not look inside {netns}; run nstutor as root.").format(
                                     netns=where(ns, snap)))
            return self.ok(_("{netns} has no {link}").format(netns=where(ns, snap), link=name),
                           {"netns": where(ns, snap), "absent": name})
        observed = _("{link} is in {netns} ({kind}, {state})").format(
            link=name, netns=where(ns, snap), kind=kind_name(link), state=state_words(link))
        if is_real_device(ns, name):
            return self.fail(observed, _("{link} is a real network device of this machine; nstutor will not suggest "
                                         "deleting it").format(link=name))
        return self.fail(observed, _("{link} should be gone from {netns}: {command}").format(
            link=name, netns=where(ns, snap), command=cmd_in(ns, f'link del {name}')))
