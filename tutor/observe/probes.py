"""Probes: the one place nstutor sends packets, and what a failed probe's diagnosis reads inside a netns.

The `reachable` check asks for a probe (model.Probe, in its wants) once it has decided, from the
snapshot alone, that the packet stays inside this machine; observe sends it here and keeps the
result in the snapshot (Snapshot.probes), so grading reads only the snapshot.

A probe is exactly ONE ICMP echo, or ONE TCP connection attempt, with a one-second timeout, sent
by a throwaway thread that enters the source netns (setns on the existing namespace file, opened
read-only: nothing is created) and makes its socket there. The calling thread never moves.

As a second guard behind the kind's decision, a probe to an address that no interface of any netns
in the snapshot carries is not sent.

read_forwarding() reads a router's IP forwarding switch the same way (a failed probe's diagnosis
names a router on the way that does not forward).

A result's *detail* is in the learner's language (gettext); what a check decides on is its
*code* (the constants below), never the words: use needs_root(), is_refused() and no_answer(),
which also know the English texts of a result made without a code (older snapshots, tests).
(*trouble* keeps its own meaning: set only for GONE, CHANGED and ENTER, where the kind words it.)
"""
from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import socket
import struct
import time

from ..i18n import _
from .model import PROBE_NEEDS_ROOT, PROBE_NO_ANSWER, PROBE_REFUSED, NetNS, Probe, ProbeResult, Snapshot
from .setns import each_in_namespace

TIMEOUT = 1.0

# What went wrong, as ProbeResult.code (None: it answered / connected).
# Not sent at all, for a reason in the source netns (the kind words these itself, naming the netns;
# these three are also ProbeResult.trouble):
GONE = "gone"                 # nothing names the netns any more
CHANGED = "changed"           # the file that named it holds another netns now
ENTER = "enter"               # setns failed (detail: the OS's words)
# Not sent, or not answered, for another reason (the detail says it in full):
NEEDS_ROOT = PROBE_NEEDS_ROOT   # entering the netns, or a raw ICMP socket, needs root
NOT_HERE = "not-here"         # the address is on no interface of this machine: not sent
NOT_RUN = "not-run"           # the probe thread gave nothing back
SEND_FAILED = "send-failed"   # the ping could not be sent
NO_ANSWER = PROBE_NO_ANSWER     # nothing came back within TIMEOUT
UNREACHABLE = "unreachable"   # an ICMP error (destination unreachable, time exceeded) came back
REFUSED = PROBE_REFUSED         # the TCP connection was refused (the address answered: nothing listens)
FAILED = "failed"             # receiving or connecting failed otherwise (detail: the OS's words)

def needs_root(result: ProbeResult) -> bool:
    """Did the probe fail for want of root (nothing to diagnose on the way)?"""
    return result.needs_root


def is_refused(result: ProbeResult) -> bool:
    """Was a TCP connection refused (the address is there, nothing listens on the port)?"""
    return result.refused


def no_answer(result: ProbeResult) -> bool:
    """Did nothing come back within the timeout?"""
    return result.no_answer


def _gone() -> ProbeResult:
    return ProbeResult(False, _("the netns is gone (nothing names it any more)"), trouble=GONE, code=GONE)


def _silence() -> ProbeResult:
    return ProbeResult(False, _("no answer within {seconds:g} second").format(seconds=TIMEOUT), code=NO_ANSWER)


def send(snap: Snapshot, probe: Probe) -> ProbeResult:
    """Send *probe* from inside its netns, in a throwaway thread."""
    ns = snap.netns.get(probe.netns)
    if ns is None:
        return _gone()
    if not _on_this_machine(snap, probe.ip):
        return ProbeResult(False, _("{ip} is on no interface of this machine, so nstutor did not send it").format(
            ip=probe.ip), code=NOT_HERE)
    path = netns_path(ns)
    if path is None:
        return _gone()

    def run(_key) -> ProbeResult:
        # The namespace file could have been replaced since the snapshot: make sure we are where we meant.
        if os.stat("/proc/thread-self/ns/net").st_ino != ns.inode:
            return ProbeResult(False, _("the netns changed since nstutor looked"), trouble=CHANGED, code=CHANGED)
        return _ping_once(probe.ip) if probe.port is None else _connect_once(probe.ip, probe.port)

    result = each_in_namespace("net", [(path, "probe")], run).get("probe")
    if isinstance(result, OSError):
        if result.errno in (errno.EPERM, errno.EACCES):
            return ProbeResult(False, _("entering the namespace needs root: run nstutor as root"),
                               code=NEEDS_ROOT)
        return ProbeResult(False, str(result.strerror or result), trouble=ENTER, code=ENTER)
    return result or ProbeResult(False, _("the probe did not run"), code=NOT_RUN)


def read_forwarding(ns: NetNS, version: int) -> bool | None:
    """Is IP forwarding (*version* 4 or 6) on in *ns* (read in a throwaway thread inside it)? None: could not tell."""
    path = netns_path(ns)
    if path is None:
        return None
    knob = "/proc/sys/net/ipv6/conf/all/forwarding" if version == 6 else "/proc/sys/net/ipv4/ip_forward"

    def read(_key):
        if os.stat("/proc/thread-self/ns/net").st_ino != ns.inode:
            return None
        with open(knob) as f:
            return f.read().strip() != "0"

    result = each_in_namespace("net", [(path, "forwarding")], read).get("forwarding")
    return result if isinstance(result, bool) else None


def netns_path(ns: NetNS) -> str | None:
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


def _on_this_machine(snap: Snapshot, ip: str) -> bool:
    try:
        want = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for ns in snap.netns.values():
        for addr in ns.addresses:
            try:
                if ipaddress.ip_interface(addr.cidr).ip == want:
                    return True
            except ValueError:
                continue
    return False


# --------------------------------------------------------------- the packets
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
    unreachable = {1: "destination", 3: "time"} if v6 else {3: "destination", 11: "time"}
    try:
        sock, raw = socket.socket(family, socket.SOCK_RAW, proto), True
    except PermissionError:
        try:    # unprivileged ping sockets, where net.ipv4.ping_group_range allows them
            sock, raw = socket.socket(family, socket.SOCK_DGRAM, proto), False
        except OSError:
            return ProbeResult(False, _("sending a ping needs root (a raw ICMP socket): run nstutor as root"),
                               code=NEEDS_ROOT)
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
            return ProbeResult(False, _("the ping could not be sent: {error}").format(error=exc.strerror or exc),
                               code=SEND_FAILED)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return _silence()
            sock.settimeout(left)
            try:
                data, _sender = sock.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                return _silence()
            except OSError as exc:
                return ProbeResult(False, _("the ping failed: {error}").format(error=exc.strerror or exc),
                                   code=FAILED)
            icmp = data[(data[0] & 0x0F) * 4:] if (raw and not v6) else data
            if len(icmp) < 8:
                continue
            kind, code, _sum, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if kind == reply and rseq == seq and (rid == ident or not raw) and icmp[8:] == token:
                return ProbeResult(True, _("answered"), (time.monotonic() - started) * 1000.0)
            if kind in unreachable and _quotes_our_echo(icmp[8:], v6, ident, raw):
                if unreachable[kind] == "destination":
                    text = _("destination unreachable (ICMP code {code})")
                else:
                    text = _("time exceeded (ICMP code {code})")
                return ProbeResult(False, text.format(code=code), code=UNREACHABLE)


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
            return _silence()
        except ConnectionRefusedError:
            return ProbeResult(False, _("{ip} answered, but refused the connection: nothing listens on port {port}")
                               .format(ip=ip, port=port), code=REFUSED)
        except OSError as exc:
            return ProbeResult(False, _("the connection failed: {error}").format(error=exc.strerror or exc),
                               code=FAILED)
        return ProbeResult(True, _("connected"), (time.monotonic() - started) * 1000.0)
