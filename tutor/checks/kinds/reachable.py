"""reachable: from one netns, an address answers one ping (or accepts one TCP connection).

    - reachable: {from: RED, to: 10.11.11.3}
    - reachable: {from: c1, to: 10.22.0.3, port: 80}
    - reachable: {from: {netns_of: {comm: pause}}, to: 172.16.2.2}

This is the one kind that asks for a packet (it is `active`): its wants() asks observe for one
Probe (observe/probes.py sends exactly ONE ICMP echo, or makes ONE TCP connection attempt, from
inside the source netns, with a one-second timeout), and grade() reads the result from the
snapshot. When probes are not allowed (--no-probe, the app between its probe rounds) nothing is
asked, and the runner says "not probed".

A target that is also on an interface of the source netns itself fails without a probe (the
source would answer it), unless it is a loopback address.

Safety, decided from the snapshot before anything is asked: nstutor only probes addresses that are
assigned to an interface of some network namespace on this machine, and only when the source
netns's route to it leaves through a virtual device (veth, bridge, vxlan, dummy, lo...), never
straight out of a real network card. So a probe cannot be aimed at another machine.

After a failed probe the diagnosis may want more: the host's filter table (when the path crosses
the host) and the IP forwarding switch of each router on the way. wants() asks for them once the
failed result is in the snapshot (observe asks again: snapshot.answer_probes).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from ...i18n import _
from ...observe.model import LOCAL_TABLE, MAIN_TABLE, NOTHING, NetNS, Probe, ProbeResult, Route, Snapshot, Wants
from ...observe.render import route_args
from ..addresses import route_key
from ..base import Expectation, Field, NotObserved, Verdict, v_int, v_ip
from ..host_firewall import forward_blame, local_blame, unsure
from ..link_state import carries_traffic, why_not_up
from ..netfilter import Packet
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_problem, owners_of_ip, resolve_netns, where
from ..registry import register
from ...texts import words

#: Link kinds whose packets stay inside this machine (a vxlan is checked through its underlay too).
VIRTUAL_KINDS = {"veth", "bridge", "vxlan", "dummy", "vrf", "geneve", "netkit"}


# --------------------------------------------------------------- which way would the packet go
def _best_routes(ns: NetNS, ip: ipaddress._BaseAddress) -> dict[int, Route]:
    """For each routing table (but local), its longest-prefix match for *ip*, like the kernel's lookup."""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    best: dict[int, tuple[int, Route]] = {}
    for r in ns.routes:
        if r.table == LOCAL_TABLE or r.family != family:
            continue
        key = route_key(r.dst, r.family)
        if isinstance(key, tuple):            # default
            length, hit = 0, key[0] == "default"
        elif isinstance(key, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            length, hit = key.prefixlen, ip in key
        else:
            continue
        if hit and length > best.get(r.table, (-1, None))[0]:
            best[r.table] = (length, r)
    return {table: r for table, (_length, r) in best.items()}


def _route_to(ns: NetNS, ip: ipaddress._BaseAddress) -> Route | None:
    """The route the main table would use (or, without one there, the best of any other table)."""
    best = _best_routes(ns, ip)
    return best.get(MAIN_TABLE) or next(iter(best.values()), None)


def _leaves_machine(ns: NetNS, dev: str | None, depth: int = 0) -> str | None:
    """Why sending out of *dev* in *ns* could reach another machine (None: it stays inside)."""
    if dev is None:
        return _("its route names no device, so nstutor cannot tell where the packet would go")
    if dev == "lo":
        return None
    link = ns.link(dev)
    if link is None:
        return _("nstutor cannot see the device {dev}").format(dev=dev)
    if link.kind not in VIRTUAL_KINDS:
        return _("the route leaves through {dev}, a real network device ({kind})").format(
            dev=dev, kind=link.kind or _("hardware"))
    if link.kind == "vxlan" and link.vxlan is not None and link.vxlan.dev and depth < 3:
        return _leaves_machine(ns, link.vxlan.dev, depth + 1)
    return None


def _down_link_for_subnet(snap: Snapshot, ns: NetNS, ip: ipaddress._BaseAddress):
    """(link, cidr) of a link in *ns* with an address on *ip*'s subnet that does not carry traffic."""
    for addr in ns.addresses:
        try:
            net = ipaddress.ip_interface(addr.cidr).network
        except ValueError:
            continue
        link = ns.link(addr.dev)
        if ip in net and net.prefixlen < net.max_prefixlen and link is not None and not carries_traffic(link, snap):
            return link, addr.cidr
    return None


def _peer(snap: Snapshot, link) -> tuple[NetNS, object] | None:
    """A veth's other end as (its netns, its link), when nstutor could resolve it."""
    if link is None or link.kind != "veth" or link.peer_netns is None:
        return None
    ns = snap.netns.get(link.peer_netns)
    peer = next((l for l in ns.links if l.ifindex == link.peer_ifindex), None) if ns is not None else None
    return (ns, peer) if peer is not None else None


def _bridge_gap(snap: Snapshot, a_ns: NetNS, a_link, b_ns: NetNS, b_link) -> str | None:
    """Two containers cabled to one switch: is one cable's far end not plugged into the bridge?"""
    a, b = _peer(snap, a_link), _peer(snap, b_link)
    if a is None or b is None or a[0].inode != b[0].inode:
        return None
    (host, a_end), (_host, b_end) = a, b
    if a_end.master == b_end.master:
        return None
    for (ns, link, end), (_ns, _link, other) in (((a_ns, a_link, a_end), (b_ns, b_link, b_end)),
                                           ((b_ns, b_link, b_end), (a_ns, a_link, a_end))):
        if end.master is None and other.master is not None:
            return _("the other end of {netns}/{link}, {end} in {host}, is not a port of any bridge, while {other} is "
                     "a port of {bridge}: {command}").format(
                netns=where(ns, snap), link=link.name, end=end.name, host=where(host, snap), other=other.name,
                bridge=other.master, command=cmd_in(host, f'link set {end.name} master {other.master}'))
    return _("the far ends of the two cables are ports of different bridges ({end} of {bridge}, {other} of "
             "{other_bridge}): put both on one bridge").format(end=a_end.name, bridge=a_end.master, other=b_end.name,
                                                              other_bridge=b_end.master)


def _host_bridge(snap: Snapshot, a_link, b_link) -> str | None:
    """The bridge in the root netns that both cables' far ends are ports of (the bridge lesson's nsbr0)."""
    a, b = _peer(snap, a_link), _peer(snap, b_link)
    if a is None or b is None or a[0].inode != b[0].inode or not a[0].is_host:
        return None
    return a[1].master if a[1].master is not None and a[1].master == b[1].master else None


def _host_side(snap: Snapshot, link) -> str | None:
    """The root-netns interface a namespace's veth leads to: the bridge its far end is a port of, or the far end."""
    peer = _peer(snap, link)
    if peer is None or not peer[0].is_host:
        return None
    return peer[1].master or peer[1].name


def _v4_on(ns: NetNS, dev: str | None) -> str | None:
    return next((a.ip for a in ns.addresses if a.dev == dev and ":" not in a.ip), None)


# --------------------------------------------------------------- routers on the way
def _routers_between(snap: Snapshot, src: NetNS, dst: NetNS, ip: str) -> list[NetNS]:
    """The namespaces that route a packet from *src* to *ip* and the answer back, from the
    snapshot's routes: each hop is the netns owning the gateway the previous one uses."""
    routers: list[NetNS] = []
    for start, target in ((src, ip), (dst, _first_address(src))):
        if target is None:
            continue
        ns, seen = start, {start.inode}
        for _hop in range(8):
            route = _route_to(ns, ipaddress.ip_address(target))
            if route is None or not route.via:
                break
            nxt = next((o[0] for o in owners_of_ip(snap, route.via) if o[0].inode != ns.inode), None)
            if nxt is None or nxt.inode in seen or nxt.inode in (src.inode, dst.inode):
                break
            seen.add(nxt.inode)
            if all(r.inode != nxt.inode for r in routers):
                routers.append(nxt)
            ns = nxt
    return routers


def _first_address(ns: NetNS) -> str | None:
    for addr in ns.addresses:
        ip = addr.cidr.split("/")[0]
        if not ipaddress.ip_address(ip).is_loopback and not ipaddress.ip_address(ip).is_link_local:
            return ip
    return None


# --------------------------------------------------------------- the expectation
@register
class ReachableExpectation(Expectation):
    kind = "reachable"
    active = True
    fields = {
        "from": Field(netns_ref_problem, required=True, doc="the netns to probe from"),
        "to": Field(v_ip, required=True, doc="an address on this machine"),
        "port": Field(v_int, doc="TCP port (without it: one ping)"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        if "port" in spec and not 0 < spec["port"] < 65536:
            return [f"'reachable.port': {spec['port']} is not a port number (1-65535)"]
        return []

    @property
    def source(self):
        return self.spec["from"]

    def describe(self) -> str:
        if self.port:
            return _("TCP port {port} of {to} reachable from {netns}").format(
                port=self.port, to=self.to, netns=describe_netns_ref(self.source))
        return _("{to} reachable from {netns}").format(to=self.to, netns=describe_netns_ref(self.source))

    def wants(self, snap: Snapshot) -> Wants:
        """The probe, once it is known to be safe; after it failed, what the diagnosis reads."""
        plan = self._plan(snap)
        if isinstance(plan, Verdict):
            return NOTHING                   # fails without a probe: nothing to send
        probe = Wants(probes=frozenset({plan.probe}))
        result = snap.probes.get(plan.probe)
        if result is None or result.ok or result.needs_root:
            return probe
        dest = plan.owner_ns.link(plan.owner_dev)
        version = 6 if ":" in self.to else 4
        routers = _routers_between(snap, plan.src, plan.owner_ns, self.to)
        return probe | Wants(host_filter=self._filter_question(snap, plan.src, plan.route, plan.owner_ns, dest)
                             is not None,
                             forwarding=frozenset((r.inode, version) for r in routers if not r.is_host))

    def grade(self, snap: Snapshot) -> Verdict:
        plan = self._plan(snap)
        if isinstance(plan, Verdict):
            return plan
        src, evidence = plan.src, plan.evidence
        result = snap.probes.get(plan.probe)
        if result is None:
            raise NotObserved(_("the probe from {netns} to {to}").format(netns=where(src, snap), to=self.to))
        detail = _in_words(src, result)
        here = where(src, snap)
        if result.ok:
            evidence["rtt_ms"] = round(result.rtt_ms or 0.0, 3)
            if self.port:
                text = _("one TCP connection to {to}:{port} from {netns}: {detail} in {rtt:.1f} ms")
            else:
                text = _("one ping to {to} from {netns}: {detail} in {rtt:.1f} ms")
            return self.ok(text.format(to=self.to, port=self.port, netns=here, detail=detail, rtt=result.rtt_ms),
                           evidence)
        if self.port:
            observed = _("one TCP connection to {to}:{port} from {netns}: {detail}").format(
                to=self.to, port=self.port, netns=here, detail=detail)
        else:
            observed = _("one ping to {to} from {netns}: {detail}").format(to=self.to, netns=here, detail=detail)
        return self.fail(observed, self._diagnose(snap, src, plan.route, plan.owner_ns, plan.owner_dev, result, detail))

    def _plan(self, snap: Snapshot) -> "Verdict | _Plan":
        """The probe to send, or the failed verdict that makes sending one pointless or unsafe."""
        src = resolve_netns(snap, self.source)
        if isinstance(src, Missing):
            return self.fail(*src)
        target = ipaddress.ip_address(self.to)
        owners = owners_of_ip(snap, self.to)
        if not owners:
            return self.fail(_("no interface on this machine has {to}").format(to=self.to),
                             _("{to} is not assigned to any interface in any network namespace here, and nstutor "
                               "only probes addresses on this machine. Add the address first ({command}).").format(
                                 to=self.to, command=f"ip -n NS addr add {self.to}/PREFIX dev DEV"))
        owner_ns, owner_dev, owner_cidr = next((o for o in owners if o[0].inode != src.inode), owners[0])
        evidence = {"from": where(src, snap), "to": self.to, "port": self.port,
                    "owner": {"netns": where(owner_ns, snap), "dev": owner_dev, "cidr": owner_cidr}}

        local = any(o[0].inode == src.inode for o in owners)
        mine = next((o for o in owners if o[0].inode == src.inode), None)
        if mine is not None and owner_ns.inode != src.inode and not target.is_loopback:
            # The source answers a ping to its own address itself: green would claim a path to the
            # other side that nothing tested. The address meant is the other one (the lesson's).
            here, there = where(src, snap), where(owner_ns, snap)
            return self.fail(_("{to} is on {dev} in {netns} and on {owner_dev} in {owner}").format(
                                 to=self.to, dev=mine[1], netns=here, owner_dev=owner_dev, owner=there),
                             _("{netns} has {to} itself (on {dev}), so a probe to it is answered by {netns} and never "
                               "reaches {owner}, where the lesson puts it (on {owner_dev}). Remove the one in "
                               "{netns}: {command}").format(
                                 netns=here, to=self.to, dev=mine[1], owner=there, owner_dev=owner_dev,
                                 command=cmd_in(src, f'addr del {mine[2]} dev {mine[1]}')))
        route = None
        if not local:
            route = _route_to(src, target)
            if route is None:
                here = where(src, snap)
                no_route = _("{netns} has no route to {to}").format(netns=here, to=self.to)
                down = _down_link_for_subnet(snap, src, target)
                if down is not None:
                    return self.fail(no_route,
                                     _("{netns}'s {link} has {cidr}, but {why}; until it is up the kernel keeps no "
                                       "route to that subnet").format(netns=here, link=down[0].name, cidr=down[1],
                                                                      why=why_not_up(snap, src, down[0])))
                return self.fail(no_route,
                                 _("{netns} has no route to {to} ({cidr} is on {dev} in {owner}): give {netns} an "
                                   "address on that subnet, or a route to it").format(
                                     netns=here, to=self.to, cidr=owner_cidr, dev=owner_dev,
                                     owner=where(owner_ns, snap)))
            # Policy rules could pick another table: every table's choice must stay on this machine.
            unsafe = next(filter(None, (_leaves_machine(src, r.dev) for r in _best_routes(src, target).values())),
                          None)
            if unsafe:
                here = where(src, snap)
                sent_by = _("{netns} would send it by: {route}").format(netns=here, route=route_args(route))
                down = _down_link_for_subnet(snap, src, target)
                if down is not None:
                    return self.fail(sent_by,
                                     _("{netns}'s {link} has {cidr}, but {why}; while it is down the kernel drops its "
                                       "route to that subnet, so the packet would leave through {dev} instead "
                                       "(nstutor did not probe)").format(
                                         netns=here, link=down[0].name, cidr=down[1],
                                         why=why_not_up(snap, src, down[0]), dev=route.dev))
                return self.fail(sent_by,
                                 _("nstutor did not probe: {reason}, and nstutor only sends probes that stay inside "
                                   "this machine. Check the routes in {netns}.").format(reason=unsafe, netns=here))
            evidence["route"] = route_args(route)
        return _Plan(src, route, owner_ns, owner_dev, evidence, Probe(src.inode, self.to, self.port))

    def _diagnose(self, snap, src, route, owner_ns, owner_dev, result: ProbeResult, detail: str) -> str:
        """The most likely reason, from the snapshot: a link on the way that is down, or the way back.
        What the probe met is told by its code, not its words (*detail* is in the learner's language)."""
        if result.needs_root:
            return detail
        head = _("{to} did not answer from {netns} ({detail})").format(to=self.to, netns=where(src, snap),
                                                                      detail=detail)
        if route is not None and route.dev:
            out = src.link(route.dev)
            if out is not None and not carries_traffic(out, snap):
                return f"{head}: {why_not_up(snap, src, out)}"
        dest = owner_ns.link(owner_dev)
        if dest is not None and not carries_traffic(dest, snap):
            return f"{head}: {why_not_up(snap, owner_ns, dest)}"
        # Two cables that should meet on one switch: only when the packet is switched to its target, not
        # routed (a gateway on the way: a router's ports need not be on one bridge, the NAT lab's are not).
        switched = route is not None and route.dev and not route.via
        gap = _bridge_gap(snap, src, src.link(route.dev), owner_ns, dest) if switched else None
        if gap:
            return f"{head}: {gap}"
        if self.port and result.refused:
            return _("{detail}: start a server on port {port} in {netns}, or forward the port to a server "
                     "elsewhere (a DNAT rule in the nat table of {netns})").format(
                         detail=detail, port=self.port, netns=where(owner_ns, snap))
        blame, note = self._host_firewall(snap, src, route, owner_ns, dest)
        if blame:
            return f"{head}: {blame}"
        version = 6 if ":" in self.to else 4
        for router in _routers_between(snap, src, owner_ns, self.to):
            if not router.is_host and _forwarding(snap, router, version) is False:    # the host's is not ours to advise on
                knob = "net.ipv6.conf.all.forwarding" if ":" in self.to else "net.ipv4.ip_forward"
                return _("{head}: {router} routes this packet (it owns a gateway on the way) but does not forward "
                         "packets ({knob} is 0 there), so it drops them: {command}").format(
                    head=head, router=where(router, snap), knob=knob,
                    command=cmd_in(router, f'-w {knob}=1', tool='sysctl'))
        return (_("{head}. The links on the way are up; check that the answer can come back (a route in {owner} to "
                  "{netns}'s address, or a router on the way that masquerades it: NAT), and firewall rules "
                  "({firewall})").format(
                    head=head, owner=where(owner_ns, snap), netns=where(src, snap),
                    firewall=self._firewall_words(snap, src, route, owner_ns, dest))
                + (f"; {note}" if note else ""))

    def _firewall_words(self, snap, src: NetNS, route, owner_ns: NetNS, dest) -> str:
        """Where to look for a rule that drops or rewrites this exchange: both ends' own tables, and the
        host's when its bridge carries it (with bridge-nf-call-iptables = 1 bridged frames pass the
        host's FORWARD chain and its nat POSTROUTING, where a MASQUERADE rule without `! -o BRIDGE`
        rewrites them; issue 12's walk-through looked only inside the two namespaces)."""
        own = words(cmd_in(ns, "-S", tool="iptables") for ns in (src, owner_ns) if not ns.is_host)
        question = self._filter_question(snap, src, route, owner_ns, dest)
        if question is None or question[0] != "forward":
            return own or "iptables -S"
        bridge = question[1]
        host = _("the host's too, which sees what {bridge} switches when bridge-nf-call-iptables is 1: "
                 "{commands}").format(bridge=bridge, commands="iptables -S FORWARD; iptables -t nat -S POSTROUTING")
        return f"{own}; {host}" if own else host

    def _filter_question(self, snap, src: NetNS, route, owner_ns: NetNS, dest):
        """Which of the two paths through the host that nstutor sees this exchange takes, as what to
        ask the host's filter table: ("forward", bridge, source address) for a bridge in the root netns
        between two namespaces (FORWARD), ("local", device, host address, other address) for the host
        itself at one end (OUTPUT and INPUT). None: neither (or IPv6), so the filter is not read."""
        if ":" in self.to or route is None and not src.is_host:
            return None
        out = src.link(route.dev) if route is not None and route.dev else None
        bridge = _host_bridge(snap, out, dest) if not (src.is_host or owner_ns.is_host) else None
        if bridge is not None:
            a = _v4_on(src, out.name)
            return ("forward", bridge, a) if a is not None else None
        if src.is_host and not owner_ns.is_host and route is not None and route.dev:
            dev, host_ip, other = route.dev, route.src or _v4_on(src, route.dev), self.to
        elif owner_ns.is_host and not src.is_host:
            dev, host_ip, other = _host_side(snap, out), self.to, _v4_on(src, out.name if out else None)
        else:
            return None
        if not dev or not host_ip or not other:
            return None
        return ("local", dev, host_ip, other)

    def _host_firewall(self, snap, src: NetNS, route, owner_ns: NetNS, dest) -> tuple[str | None, str | None]:
        """(why the host's firewall drops this exchange, or None; a note when it might but nstutor cannot
        tell), from the host's filter table in the snapshot (wants asked for it after the failure)."""
        question = self._filter_question(snap, src, route, owner_ns, dest)
        if question is None:
            return None, None
        filt = snap.host_filter
        if filt is None:
            raise NotObserved(_("the host's filter table"))
        proto = 6 if self.port else 1
        if question[0] == "forward":
            _path, bridge, a = question
            blame = forward_blame(filt, bridge, a, self.to, proto, where(src, snap), where(owner_ns, snap))
            if blame or filt.bridge_nf_iptables != 1:
                return blame, None
            return None, unsure(filt, "FORWARD", [Packet(bridge, bridge, a, self.to, proto),
                                                  Packet(bridge, bridge, self.to, a, proto)],
                                _("the host's FORWARD chain sees {bridge}'s frames (bridge-nf-call-iptables = 1)").format(
                                    bridge=bridge))
        _path, dev, host_ip, other = question
        blame = local_blame(filt, dev, host_ip, other, proto)
        if blame:
            return blame, None
        return None, unsure(filt, "INPUT", [Packet(dev, None, other, host_ip, proto)],
                            _("the host's INPUT chain sees these packets"))


@dataclass(frozen=True)
class _Plan:
    """A probe found safe to send, with what grading and the diagnosis need of how it was found."""
    src: NetNS
    route: Route | None
    owner_ns: NetNS
    owner_dev: str
    evidence: dict
    probe: Probe


def _in_words(src: NetNS, result: ProbeResult) -> str:
    """The result's detail, with the source netns named where observe could not (it has no words for it)."""
    if result.trouble == "gone":
        return _("{netns} is gone (nothing names it any more)").format(netns=where(src))
    if result.trouble == "changed":
        return _("{netns} changed since nstutor looked; check again").format(netns=where(src))
    if result.trouble == "enter":
        return _("could not enter {netns}: {detail}").format(netns=where(src), detail=result.detail)
    return result.detail


def _forwarding(snap: Snapshot, router: NetNS, version: int) -> bool | None:
    """Is IP forwarding on in *router*, as observe read it (None: it could not tell)?"""
    key = (router.inode, version)
    if key not in snap.forwarding:
        raise NotObserved(_("the forwarding switch of {netns}").format(netns=where(router, snap)))
    return snap.forwarding[key]
