"""reachable: from one netns, an address answers one ping (or accepts one TCP connection).

    - reachable: {from: RED, to: 10.11.11.3}
    - reachable: {from: c1, to: 10.22.0.3, port: 80}
    - reachable: {from: {netns_of: {comm: pause}}, to: 172.16.2.2}

This is the one kind that does something (it is `active`): a throwaway thread enters the
source netns (setns on the existing namespace file, opened read-only: nothing is created),
makes its socket there and sends exactly ONE ICMP echo, or makes ONE TCP connection
attempt, with a one-second timeout. The calling thread never moves.

A target that is also on an interface of the source netns itself fails without a probe (the
source would answer it), unless it is a loopback address.

Safety: nstutor only probes addresses that are assigned to an interface of some network
namespace on this machine, and only when the source netns's route to it leaves through a
virtual device (veth, bridge, vxlan, dummy, lo...), never straight out of a real network
card. So a probe cannot be aimed at another machine.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import socket
import struct
import time
from dataclasses import dataclass

from ...observe.firewall import read_host_filter
from ...observe.model import LOCAL_TABLE, NetNS, Route, Snapshot
from ...observe.render import route_args
from ...observe.setns import each_in_namespace
from ..addresses import route_key
from ..base import Expectation, Field, Verdict, v_int, v_ip
from ..host_firewall import forward_blame, local_blame, unsure
from ..link_state import carries_traffic, why_not_up
from ..netfilter import Packet
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_problem, owners_of_ip, resolve_netns, where
from ..registry import register

TIMEOUT = 1.0
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
    return {table: r for table, (_, r) in best.items()}


def _route_to(ns: NetNS, ip: ipaddress._BaseAddress) -> Route | None:
    """The route the main table would use (or, without one there, the best of any other table)."""
    best = _best_routes(ns, ip)
    return best.get(254) or next(iter(best.values()), None)


def _leaves_machine(ns: NetNS, dev: str | None, depth: int = 0) -> str | None:
    """Why sending out of *dev* in *ns* could reach another machine (None: it stays inside)."""
    if dev is None:
        return "its route names no device, so nstutor cannot tell where the packet would go"
    if dev == "lo":
        return None
    link = ns.link(dev)
    if link is None:
        return f"nstutor cannot see the device {dev}"
    if link.kind not in VIRTUAL_KINDS:
        return f"the route leaves through {dev}, a real network device ({link.kind or 'hardware'})"
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
    (host, a_end), (_, b_end) = a, b
    if a_end.master == b_end.master:
        return None
    for (ns, link, end), (_, _, other) in (((a_ns, a_link, a_end), (b_ns, b_link, b_end)),
                                           ((b_ns, b_link, b_end), (a_ns, a_link, a_end))):
        if end.master is None and other.master is not None:
            return (f"the other end of {where(ns)}/{link.name}, {end.name} in {where(host)}, is not a port of "
                    f"any bridge, while {other.name} is a port of {other.master}: "
                    f"{cmd_in(host, f'link set {end.name} master {other.master}')}")
    return (f"the far ends of the two cables are ports of different bridges ({a_end.name} of {a_end.master}, "
            f"{b_end.name} of {b_end.master}): put both on one bridge")


def _host_bridge(snap: Snapshot, a_link, b_link) -> str | None:
    """The bridge in the root netns that both cables' far ends are ports of (lesson 11's nsbr0)."""
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


# --------------------------------------------------------------- the probe
@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str                 # what happened, in words
    rtt_ms: float | None = None


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _ping_once(ip: str) -> ProbeResult:
    """One ICMP echo to *ip* from the calling thread's netns; waits at most TIMEOUT seconds."""
    v6 = ipaddress.ip_address(ip).version == 6
    family, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    request, reply = (128, 129) if v6 else (8, 0)
    unreachable = {1: "destination unreachable", 3: "time exceeded"} if v6 else \
                  {3: "destination unreachable", 11: "time exceeded"}
    try:
        sock, raw = socket.socket(family, socket.SOCK_RAW, proto), True
    except PermissionError:
        try:    # unprivileged ping sockets, where net.ipv4.ping_group_range allows them
            sock, raw = socket.socket(family, socket.SOCK_DGRAM, proto), False
        except OSError:
            return ProbeResult(False, "sending a ping needs root (a raw ICMP socket): run nstutor as root")
    ident, seq = secrets.randbits(16), 1
    token = b"nstutor-" + secrets.token_bytes(8)
    header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
    packet = header[:2] + (b"\0\0" if v6 else struct.pack("!H", _checksum(header + token))) + header[4:] + token
    with sock:
        started = time.monotonic()
        deadline = started + TIMEOUT
        try:
            sock.sendto(packet, (ip, 0))
        except OSError as exc:
            return ProbeResult(False, f"the ping could not be sent: {exc.strerror or exc}")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return ProbeResult(False, f"no answer within {TIMEOUT:g} second")
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                return ProbeResult(False, f"no answer within {TIMEOUT:g} second")
            except OSError as exc:
                return ProbeResult(False, f"the ping failed: {exc.strerror or exc}")
            icmp = data[(data[0] & 0x0F) * 4:] if (raw and not v6) else data
            if len(icmp) < 8:
                continue
            kind, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if kind == reply and rseq == seq and (rid == ident or not raw) and icmp[8:] == token:
                return ProbeResult(True, "answered", (time.monotonic() - started) * 1000.0)
            if kind in unreachable and _quotes_our_echo(icmp[8:], v6, ident, raw):
                return ProbeResult(False, f"{unreachable[kind]} (ICMP code {code})")


def _quotes_our_echo(quoted: bytes, v6: bool, ident: int, raw: bool) -> bool:
    """Does an ICMP error carry our echo request (the original packet is quoted after the header)?"""
    offset = 40 if v6 else (quoted[0] & 0x0F) * 4 if quoted else 0
    inner = quoted[offset:offset + 8]
    if len(inner) < 8:
        return False
    return not raw or struct.unpack("!H", inner[4:6])[0] == ident


def _connect_once(ip: str, port: int) -> ProbeResult:
    """One TCP connection attempt to ip:port from the calling thread's netns, at most TIMEOUT seconds."""
    family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        started = time.monotonic()
        try:
            sock.connect((ip, port))
        except (TimeoutError, socket.timeout):
            return ProbeResult(False, f"no answer within {TIMEOUT:g} second")
        except ConnectionRefusedError:
            return ProbeResult(False, f"{ip} answered, but refused the connection: nothing listens on port {port}")
        except OSError as exc:
            return ProbeResult(False, f"the connection failed: {exc.strerror or exc}")
        return ProbeResult(True, "connected", (time.monotonic() - started) * 1000.0)


def _netns_path(ns: NetNS) -> str | None:
    """A file that names *ns* (opened read-only by the probe thread; nothing is ever created)."""
    for name in ns.names:
        if os.path.exists(f"/run/netns/{name}"):
            return f"/run/netns/{name}"
    try:
        if os.stat("/proc/self/ns/net").st_ino == ns.inode:
            return "/proc/self/ns/net"
    except OSError:
        pass
    for pid in ns.pids:
        path = f"/proc/{pid}/ns/net"
        try:
            if os.stat(path).st_ino == ns.inode:
                return path
        except OSError:
            continue
    return None


def probe(ns: NetNS, ip: str, port: int | None) -> ProbeResult:
    """Send the one probe from inside *ns*, in a throwaway thread."""
    path = _netns_path(ns)
    if path is None:
        return ProbeResult(False, f"{where(ns)} is gone (nothing names it any more)")

    def run(_key) -> ProbeResult:
        # The namespace file could have been replaced since the snapshot: make sure we are where we meant.
        if os.stat("/proc/thread-self/ns/net").st_ino != ns.inode:
            return ProbeResult(False, f"{where(ns)} changed since nstutor looked; check again")
        return _ping_once(ip) if port is None else _connect_once(ip, port)

    result = each_in_namespace("net", [(path, "probe")], run).get("probe")
    if isinstance(result, OSError):
        if result.errno in (errno.EPERM, errno.EACCES):
            return ProbeResult(False, "entering the namespace needs root: run nstutor as root")
        return ProbeResult(False, f"could not enter {where(ns)}: {result.strerror or result}")
    return result or ProbeResult(False, "the probe did not run")


# --------------------------------------------------------------- routers on the way
def _routers_between(snap: Snapshot, src: NetNS, dst: NetNS, ip: str) -> list[NetNS]:
    """The namespaces that route a packet from *src* to *ip* and the answer back, from the
    snapshot's routes: each hop is the netns owning the gateway the previous one uses."""
    routers: list[NetNS] = []
    for start, target in ((src, ip), (dst, _first_address(src))):
        if target is None:
            continue
        ns, seen = start, {start.inode}
        for _ in range(8):
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


def _forwarding(ns: NetNS, ip: str) -> bool | None:
    """Is IP forwarding on in *ns* (read in a throwaway thread inside it)? None: could not tell."""
    path = _netns_path(ns)
    if path is None:
        return None
    knob = "/proc/sys/net/ipv6/conf/all/forwarding" if ":" in ip else "/proc/sys/net/ipv4/ip_forward"

    def read(_key):
        if os.stat("/proc/thread-self/ns/net").st_ino != ns.inode:
            return None
        with open(knob) as f:
            return f.read().strip() != "0"

    result = each_in_namespace("net", [(path, "forwarding")], read).get("forwarding")
    return result if isinstance(result, bool) else None


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
        what = f"TCP port {self.port} of {self.to}" if self.port else self.to
        return f"{what} reachable from {describe_netns_ref(self.source)}"

    def grade(self, snap: Snapshot) -> Verdict:
        src = resolve_netns(snap, self.source)
        if isinstance(src, Missing):
            return self.fail(*src)
        target = ipaddress.ip_address(self.to)
        owners = owners_of_ip(snap, self.to)
        if not owners:
            return self.fail(f"no interface on this machine has {self.to}",
                             f"{self.to} is not assigned to any interface in any network namespace here, and "
                             "nstutor only probes addresses on this machine. Add the address first "
                             f"(ip -n NS addr add {self.to}/PREFIX dev DEV).")
        owner_ns, owner_dev, owner_cidr = next((o for o in owners if o[0].inode != src.inode), owners[0])
        evidence = {"from": where(src), "to": self.to, "port": self.port,
                    "owner": {"netns": where(owner_ns), "dev": owner_dev, "cidr": owner_cidr}}

        local = any(o[0].inode == src.inode for o in owners)
        mine = next((o for o in owners if o[0].inode == src.inode), None)
        if mine is not None and owner_ns.inode != src.inode and not target.is_loopback:
            # The source answers a ping to its own address itself: green would claim a path to the
            # other side that nothing tested. The address meant is the other one (the lesson's).
            return self.fail(f"{self.to} is on {mine[1]} in {where(src)} and on {owner_dev} in {where(owner_ns)}",
                             f"{where(src)} has {self.to} itself (on {mine[1]}), so a probe to it is answered "
                             f"by {where(src)} and never reaches {where(owner_ns)}, where the lesson puts it "
                             f"(on {owner_dev}). Remove the one in {where(src)}: "
                             f"{cmd_in(src, f'addr del {mine[2]} dev {mine[1]}')}")
        route = None
        if not local:
            route = _route_to(src, target)
            if route is None:
                down = _down_link_for_subnet(snap, src, target)
                if down is not None:
                    return self.fail(f"{where(src)} has no route to {self.to}",
                                     f"{where(src)}'s {down[0].name} has {down[1]}, but {why_not_up(snap, src, down[0])}; "
                                     f"until it is up the kernel keeps no route to that subnet")
                return self.fail(f"{where(src)} has no route to {self.to}",
                                 f"{where(src)} has no route to {self.to} ({owner_cidr} is on {owner_dev} in "
                                 f"{where(owner_ns)}): give {where(src)} an address on that subnet, or a route "
                                 "to it")
            # Policy rules could pick another table: every table's choice must stay on this machine.
            unsafe = next(filter(None, (_leaves_machine(src, r.dev) for r in _best_routes(src, target).values())),
                          None)
            if unsafe:
                down = _down_link_for_subnet(snap, src, target)
                if down is not None:
                    return self.fail(f"{where(src)} would send it by: {route_args(route)}",
                                     f"{where(src)}'s {down[0].name} has {down[1]}, but {why_not_up(snap, src, down[0])}; "
                                     f"while it is down the kernel drops its route to that subnet, so the packet "
                                     f"would leave through {route.dev} instead (nstutor did not probe)")
                return self.fail(f"{where(src)} would send it by: {route_args(route)}",
                                 f"nstutor did not probe: {unsafe}, and nstutor only sends probes that stay "
                                 f"inside this machine. Check the routes in {where(src)}.")
            evidence["route"] = route_args(route)

        result = probe(src, self.to, self.port)
        what = f"one TCP connection to {self.to}:{self.port}" if self.port else f"one ping to {self.to}"
        if result.ok:
            evidence["rtt_ms"] = round(result.rtt_ms or 0.0, 3)
            return self.ok(f"{what} from {where(src)}: {result.detail} in {result.rtt_ms:.1f} ms", evidence)
        observed = f"{what} from {where(src)}: {result.detail}"
        return self.fail(observed, self._diagnose(snap, src, route, owner_ns, owner_dev, result))

    def _diagnose(self, snap, src, route, owner_ns, owner_dev, result: ProbeResult) -> str:
        """The most likely reason, from the snapshot: a link on the way that is down, or the way back."""
        if result.detail.startswith(("sending a ping needs root", "entering the namespace needs root")):
            return result.detail
        head = f"{self.to} did not answer from {where(src)} ({result.detail})"
        if route is not None and route.dev:
            out = src.link(route.dev)
            if out is not None and not carries_traffic(out, snap):
                return f"{head}: {why_not_up(snap, src, out)}"
        dest = owner_ns.link(owner_dev)
        if dest is not None and not carries_traffic(dest, snap):
            return f"{head}: {why_not_up(snap, owner_ns, dest)}"
        gap = _bridge_gap(snap, src, src.link(route.dev) if route is not None and route.dev else None,
                          owner_ns, dest)
        if gap:
            return f"{head}: {gap}"
        if self.port and "refused" in result.detail:
            return f"{result.detail}: start a server on port {self.port} in {where(owner_ns)}"
        blame, note = self._host_firewall(snap, src, route, owner_ns, dest)
        if blame:
            return f"{head}: {blame}"
        for router in _routers_between(snap, src, owner_ns, self.to):
            if not router.is_host and _forwarding(router, self.to) is False:    # the host's is not ours to advise on
                knob = "net.ipv6.conf.all.forwarding" if ":" in self.to else "net.ipv4.ip_forward"
                return (f"{head}: {where(router)} routes this packet (it owns a gateway on the way) but does "
                        f"not forward packets ({knob} is 0 there), so it drops them: "
                        f"{cmd_in(router, f'-w {knob}=1', tool='sysctl')}")
        return (f"{head}. The links on the way are up; check that {where(owner_ns)} has a route back to "
                f"{where(src)}'s address, and firewall rules (iptables -S in both)" + (f"; {note}" if note else ""))

    def _host_firewall(self, snap, src: NetNS, route, owner_ns: NetNS, dest) -> tuple[str | None, str | None]:
        """(why the host's firewall drops this exchange, or None; a note when it might but nstutor cannot
        tell). Reads the host's filter table, and only for the two paths through the host that it sees:
        a bridge in the root netns between two namespaces (FORWARD), or the host itself at one end
        (OUTPUT and INPUT)."""
        if ":" in self.to or route is None and not src.is_host:
            return None, None
        proto = 6 if self.port else 1
        out = src.link(route.dev) if route is not None and route.dev else None
        bridge = _host_bridge(snap, out, dest) if not (src.is_host or owner_ns.is_host) else None
        if bridge is not None:
            a = _v4_on(src, out.name)
            if a is None:
                return None, None
            filt = read_host_filter()
            blame = forward_blame(filt, bridge, a, self.to, proto, where(src), where(owner_ns))
            if blame or filt.bridge_nf_iptables != 1:
                return blame, None
            return None, unsure(filt, "FORWARD", [Packet(bridge, bridge, a, self.to, proto),
                                                  Packet(bridge, bridge, self.to, a, proto)],
                                f"the host's FORWARD chain sees {bridge}'s frames (bridge-nf-call-iptables = 1)")
        if src.is_host and not owner_ns.is_host and route is not None and route.dev:
            dev, host_ip, other = route.dev, route.src or _v4_on(src, route.dev), self.to
        elif owner_ns.is_host and not src.is_host:
            dev, host_ip, other = _host_side(snap, out), self.to, _v4_on(src, out.name if out else None)
        else:
            return None, None
        if not dev or not host_ip or not other:
            return None, None
        filt = read_host_filter()
        blame = local_blame(filt, dev, host_ip, other, proto)
        if blame:
            return blame, None
        return None, unsure(filt, "INPUT", [Packet(dev, None, other, host_ip, proto)],
                            "the host's INPUT chain sees these packets")
