"""listening: a TCP (or UDP) port is open for connections in a network namespace.

    - listening: {port: 8081}                                  # in the host's netns
    - listening: {netns: c1, port: 80}
    - listening: {netns_of: {comm: pause}, port: 8080, process: {cmdline: app-a}}
    - listening: {netns: RED, port: 53, proto: udp, ip: 10.11.11.2}

A socket bound to the wildcard address (0.0.0.0 or ::) counts for any `ip`, except a loopback
one: `ip: 127.0.0.1` means "on the loopback only", and a server on 0.0.0.0 can be reached from
other machines too, so it fails with the restart that binds it right. When the port is not open
where expected, the message says where it is open instead ("8081 is listening, but in c1, not
in the host's").
"""
from __future__ import annotations

import ipaddress

from ...i18n import _
from ...observe.model import NetNS, Snapshot, Socket
from ..base import Expectation, Field, Verdict, v_int, v_ip, v_one_of, v_selector
from ..refs import Missing, describe_netns_ref, netns_ref_problem, resolve_netns, where
from ..registry import register
from .. import containers, select

WILDCARDS = ("0.0.0.0", "::", "*")


def is_open(sock: Socket, proto: str) -> bool:
    return sock.proto == proto and (sock.state == "LISTEN" if proto == "tcp" else sock.state in ("UNCONN", "LISTEN"))


def covers(sock: Socket, ip: str | None) -> bool:
    """Does a socket bound to sock.ip accept packets for *ip*? (wildcards accept all)."""
    if ip is None or sock.ip in WILDCARDS:
        return True
    try:
        return ipaddress.ip_address(sock.ip) == ipaddress.ip_address(ip)
    except ValueError:
        return sock.ip == ip


def sock_text(sock: Socket) -> str:
    host = f"[{sock.ip}]" if ":" in sock.ip else sock.ip
    return f"{sock.proto} {host}:{sock.port}"


def _where_host(ns: NetNS) -> str:
    return _("the host's") if ns.is_host else where(ns)


@register
class ListeningExpectation(Expectation):
    kind = "listening"
    fields = {
        "netns": Field(netns_ref_problem, doc="RED, host (the default), or {netns_of: ...}"),
        "netns_of": Field(v_selector, doc="the netns of this process, e.g. {comm: pause}"),
        "port": Field(v_int, required=True),
        "proto": Field(v_one_of("tcp", "udp"), default="tcp"),
        "ip": Field(v_ip, doc="the local address it must accept on"),
        "process": Field(v_selector, doc="the process that must hold the socket"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = []
        if "netns" in spec and "netns_of" in spec:
            out.append("'listening': give either netns or netns_of, not both")
        if not 0 < spec["port"] < 65536:
            out.append(f"'listening.port': {spec['port']} is not a port number (1-65535)")
        return out

    def _ref(self):
        return {"netns_of": self.netns_of} if self.netns_of is not None else self.netns

    def describe(self) -> str:
        netns = describe_netns_ref(self._ref())
        if self.process is not None:
            process = select.describe_selector(self.process)
            if self.ip:
                return _("{proto} port {port} open on {ip} in {netns}, held by {process}").format(
                    proto=self.proto, port=self.port, ip=self.ip, netns=netns, process=process)
            return _("{proto} port {port} open in {netns}, held by {process}").format(
                proto=self.proto, port=self.port, netns=netns, process=process)
        if self.ip:
            return _("{proto} port {port} open on {ip} in {netns}").format(proto=self.proto, port=self.port,
                                                                           ip=self.ip, netns=netns)
        return _("{proto} port {port} open in {netns}").format(proto=self.proto, port=self.port, netns=netns)

    def grade(self, snap: Snapshot) -> Verdict:
        ns = resolve_netns(snap, self._ref())
        if isinstance(ns, Missing):
            return self.fail(*ns)
        on_port = [s for s in ns.sockets if s.port == self.port]
        opened = [s for s in on_port if is_open(s, self.proto)]
        matching = [s for s in opened if covers(s, self.ip)]
        here = where(ns, snap)
        listing = ", ".join(sock_text(s) for s in on_port) or _("nothing on port {port}").format(port=self.port)
        observed = _("in {netns}: {sockets}").format(netns=here, sockets=listing)

        if (not matching and self.process is not None and select.is_container_selector(self.process)
                and not select.select(snap, self.process)):
            # the container that should hold it is not running: that, not a server to start, is the fix
            return self.fail(*containers.missing(snap, self.process))
        if not matching:
            return self.fail(observed, self._why_not(snap, ns, on_port, opened))
        if self.ip is not None and _is_loopback(self.ip) and not any(s.ip not in WILDCARDS for s in matching):
            if ns.is_host:
                text = _("port {port} is open in {netns}, but on {bound}, every address of the host, so other "
                         "machines can reach it too; the lesson keeps it on the loopback: stop it ({stop}) and start "
                         "it again bound to {ip} (python3 -m http.server ... --bind {ip})")
            else:
                text = _("port {port} is open in {netns}, but on {bound}, every address of {netns}, so other "
                         "machines can reach it too; the lesson keeps it on the loopback: stop it ({stop}) and start "
                         "it again bound to {ip} (python3 -m http.server ... --bind {ip})")
            return self.fail(observed, text.format(port=self.port, netns=here, bound=matching[0].ip,
                                                   stop=_kill_words(snap, matching[0]), ip=self.ip))
        if self.process is not None:
            wanted = {p.pid for p in select.select(snap, self.process)}
            held = [s for s in matching if wanted & set(s.pids)]
            if not held:
                holders = sorted({pid for s in matching for pid in s.pids})
                if not holders:
                    return self.fail(observed, _("port {port} is open in {netns}, but nstutor cannot see which "
                                                 "process holds it; run nstutor as root (sudo).").format(
                        port=self.port, netns=here))
                names = ", ".join(select.name(snap.processes[p], snap) if p in snap.processes else f"pid {p}"
                                  for p in holders[:3])
                return self.fail(_("{observed} (held by {processes})").format(observed=observed, processes=names),
                                 _("port {port} is open in {netns}, but by {processes}, not by {process}: stop that "
                                   "one first, then start yours.").format(
                                     port=self.port, netns=here, processes=names,
                                     process=select.describe_selector(self.process)))
            matching = held
        sock = matching[0]
        return self.ok(_("{socket} is open in {netns}").format(socket=sock_text(sock), netns=here),
                       {"netns": here, "proto": sock.proto, "ip": sock.ip, "port": sock.port,
                        "pids": list(sock.pids)})

    def _why_not(self, snap: Snapshot, ns: NetNS, on_port: list[Socket], opened: list[Socket]) -> str:
        here = where(ns, snap)
        if opened:   # open, but bound to another address
            bound = ", ".join(s.ip for s in opened)
            return _("port {port} is open in {netns}, but only on {bound}, not on {ip}: bind the server to {ip} or "
                     "to 0.0.0.0").format(port=self.port, netns=here, bound=bound, ip=self.ip)
        other_proto = "udp" if self.proto == "tcp" else "tcp"
        if any(is_open(s, other_proto) for s in on_port):
            return _("port {port} is open for {other}, not {proto}, in {netns}").format(
                port=self.port, other=other_proto, proto=self.proto, netns=here)
        elsewhere = [o for o in snap.netns.values() if o.inode != ns.inode
                     and any(s.port == self.port and is_open(s, self.proto) and covers(s, self.ip) for s in o.sockets)]
        elsewhere.sort(key=lambda o: (not o.is_host, o.label))
        if elsewhere:
            other = elsewhere[0]
            place = _("in the host's netns") if other.is_host else _("in netns {netns}").format(netns=where(other, snap))
            # Never "stop it": that server may be another step's (a port belongs to one netns, and a
            # lesson can want the same port open in two of them).
            if ns.is_host:
                return _("{port} is listening {place}, but not in the host's (each network namespace has its own "
                         "ports): start a server from a shell on the host itself (not under ip netns exec or "
                         "nsenter)").format(port=self.port, place=place)
            if _run_in(ns):
                return _("{port} is listening {place}, but not in {here} (each network namespace has its own "
                         "ports): start a server inside {netns} ({command} ...)").format(
                    port=self.port, place=place, here=_where_host(ns), netns=here, command=_run_in(ns))
            return _("{port} is listening {place}, but not in {here} (each network namespace has its own ports): "
                     "start a server inside {netns}").format(port=self.port, place=place, here=_where_host(ns),
                                                            netns=here)
        if ns.error and not ns.sockets:
            return _("nstutor could not read the sockets of {netns} ({error}); run nstutor as root.").format(
                netns=here, error=ns.error)
        if self.proto == "udp":
            return _("nothing is bound to udp port {port} in {netns}: start the server there").format(
                port=self.port, netns=here)
        example = f"{_run_in(ns)} python3 -m http.server {self.port}".strip()
        return _("nothing listens on tcp port {port} in {netns}: start a server there, e.g. {command}").format(
            port=self.port, netns=here, command=example)


def _run_in(ns: NetNS) -> str:
    """The prefix that runs a program inside *ns*."""
    if ns.is_host:
        return ""
    if ns.names:
        return f"ip netns exec {ns.names[0]}"
    if ns.pids:
        return f"nsenter --net=/proc/{ns.pids[0]}/ns/net"
    return f"nsenter --net=<net:[{ns.inode}]>"


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _kill_words(snap: Snapshot, sock: Socket) -> str:
    pids = [p for p in sock.pids if p in snap.processes]
    return f"kill {' '.join(map(str, pids[:3]))}" if pids else _("the server that holds it")
