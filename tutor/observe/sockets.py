"""Listening TCP and bound UDP sockets of a network namespace, through sock_diag.

`ss -ltun` asks the kernel the same way: one NETLINK_SOCK_DIAG dump per
(family, protocol). The diag socket is made inside the netns (see netlink.py),
so it sees exactly that namespace's sockets. Which process holds a socket is
found by matching socket inodes against /proc/PID/fd of the processes in that
netns (the costly part). A caller that keeps state between reads passes what it found for
each process last time; it is reused only for processes that have not run since, because a
process must run to open, close or receive a descriptor.
"""
from __future__ import annotations

import os
import re
import socket
import struct

from .model import Socket
from .rtnl import receive
from .procfs import proc_path, read_small

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
TCP_LISTEN, TCP_CLOSE = 10, 7          # a bound, unconnected UDP socket is in state CLOSE ("UNCONN")
TCPDIAG_GETSOCK = 18
_REQ = struct.Struct("=BBBxI48s")       # inet_diag_req_v2
_REQ_V1 = struct.Struct("=BBBB48sII")   # inet_diag_req (family, src_len, dst_len, ext, id, states, dbs)
_MSG = struct.Struct("=BBBB2s2s16s16sIQIIIII")  # inet_diag_msg
_HDR = struct.Struct("=IHHII")
NLM_F_REQUEST, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR = 0x1, 0x300, 3, 2

def open_diag_socket() -> socket.socket:
    """A sock_diag socket in the calling thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
    sock.bind((0, 0))
    return sock


def open_counters() -> tuple[int, ...]:
    """Kept descriptors of /proc/net/sockstat and sockstat6 of the calling thread's netns: the
    kernel binds such a file to the netns it was opened in. () if sockstat cannot be opened;
    sockstat6 is absent where IPv6 is off, and then no IPv6 socket can exist."""
    fds = []
    for name in ("sockstat", "sockstat6"):
        try:
            fds.append(os.open(proc_path("thread-self", "net", name), os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            if name == "sockstat":
                return ()
    return tuple(fds)


#: "TCP: inuse 3" in sockstat, "UDP6: inuse 0" in sockstat6: this netns's sockets of each protocol
_IN_USE = re.compile(rb"^(TCP6?|UDP6?): inuse (\d+)", re.M)


def count_in_use() -> dict[str, int] | None:
    """How many TCP and UDP sockets (IPv4: "TCP", "UDP"; IPv6: "TCP6", "UDP6") the calling thread's
    netns has in the kernel's socket tables, from /proc/net/sockstat and sockstat6; None if
    sockstat cannot be read or says less than that.

    A socket counts from the moment it is hashed (bound, listening or connected) until it is
    unhashed: the very sockets a sock_diag dump walks the tables for. So a count of 0 means that
    dump would list nothing, and a one-shot read may skip it (at 200 netns of which most have no
    socket: three dumps each, 14 ms, against 2 small reads). No sockstat6 means no IPv6."""
    try:
        text = read_small(proc_path("thread-self", "net", "sockstat"))
    except OSError:
        return None
    try:
        text += read_small(proc_path("thread-self", "net", "sockstat6"))
    except FileNotFoundError:
        text += b"TCP6: inuse 0\nUDP6: inuse 0\n"
    except OSError:
        return None
    counts = {name.decode(): int(n) for name, n in _IN_USE.findall(text)}
    return counts if len(counts) == 4 else None




def _dump(sock: socket.socket, family: int, proto: int, states: int) -> list[tuple]:
    """Sockets of one family and protocol (inet_diag_req_v2)."""
    return _request(sock, SOCK_DIAG_BY_FAMILY, _REQ.pack(family, proto, 0, states, b"\0" * 48))


def _dump_tcp_all_families(sock: socket.socket, states: int) -> list[tuple]:
    """TCP sockets of both IPv4 and IPv6 in one dump: the older TCPDIAG_GETSOCK request (what
    `ss` falls back to) takes family AF_UNSPEC to mean both, which halves the round trips."""
    return _request(sock, TCPDIAG_GETSOCK, _REQ_V1.pack(socket.AF_UNSPEC, 0, 0, 0, b"\0" * 48, states, 0))


def _request(sock: socket.socket, msg_type: int, req: bytes) -> list[tuple]:
    sock.send(_HDR.pack(_HDR.size + len(req), msg_type, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req)
    out = []
    while True:
        data = receive(sock)       # a kept buffer: see rtnl.receive
        offset = 0
        while offset + _HDR.size <= len(data):
            length, mtype, _flags, _seq, _pid = _HDR.unpack_from(data, offset)
            if length < _HDR.size:
                return out
            if mtype in (NLMSG_DONE, NLMSG_ERROR):
                return out
            (fam, state, _t, _r, sport, _dport, src, _dst, _if, _cookie, _exp, _rq, _wq, _uid,
             inode) = _MSG.unpack_from(data, offset + _HDR.size)
            ip = socket.inet_ntop(socket.AF_INET, src[:4]) if fam == socket.AF_INET else \
                socket.inet_ntop(socket.AF_INET6, src)
            out.append((fam, state, ip, struct.unpack("!H", sport)[0], inode))
            offset += (length + 3) & ~3
        if not data:
            return out


def read_listening(sock: socket.socket, problems: list[str], handle, held: dict[int, frozenset[int]] | None = None,
                   unchanged: frozenset[int] = frozenset(), in_use: dict[str, int] | None = None) -> tuple[Socket, ...]:
    """Listening TCP and bound UDP sockets of the netns the diag socket lives in. *held* (pid ->
    socket inodes) is updated with what was found; an entry is reused for a pid in *unchanged*.
    *in_use*: count_in_use() of that netns, read just before: a protocol it counts no socket of
    is not dumped."""
    found = []
    try:
        if in_use is None or in_use["TCP"] or in_use["TCP6"]:
            for fam, state, ip, port, inode in _dump_tcp_all_families(sock, 1 << TCP_LISTEN):
                found.append(("tcp", fam, ip, port, inode, "LISTEN"))
        for family, counted in ((socket.AF_INET, "UDP"), (socket.AF_INET6, "UDP6")):
            if in_use is not None and not in_use[counted]:
                continue
            for fam, state, ip, port, inode in _dump(sock, family, socket.IPPROTO_UDP, 1 << TCP_CLOSE):
                found.append(("udp", fam, ip, port, inode, "UNCONN"))
    except OSError as exc:
        label = handle.names[0] if handle.names else f"net:[{handle.inode}]"
        problems.append(f"cannot list the sockets of {label}: {exc.strerror or exc}")
        return ()
    owners = _owners(handle.pids, frozenset(f[4] for f in found), {} if held is None else held, unchanged)
    return tuple(Socket(proto, fam, ip, port, inode, state, owners.get(inode, ()))
                 for proto, fam, ip, port, inode, state in sorted(found, key=lambda f: (f[0], f[3], f[2])))


def _owners(pids: tuple[int, ...], inodes: frozenset, held: dict[int, frozenset[int]],
            unchanged: frozenset[int]) -> dict[int, tuple[int, ...]]:
    """socket inode -> pids holding it, among the processes of this netns."""
    if not inodes:
        return {}
    owners: dict[int, list[int]] = {}
    me = os.getpid()
    for pid in pids:
        if pid == me:
            # nstutor itself holds no listening socket (only netlink ones), and it runs every round
            # with thousands of descriptors open (two sockets per netns, a stat file per process):
            # reading them all again each round would cost more than the rest of the snapshot
            continue
        sockets_held = held.get(pid) if pid in unchanged else None
        if sockets_held is None:
            sockets_held = held[pid] = _socket_inodes(pid)
        for inode in sockets_held & inodes:
            owners.setdefault(inode, []).append(pid)
    return {i: tuple(sorted(p)) for i, p in owners.items()}


def _socket_inodes(pid: int) -> frozenset[int]:
    """The inodes of every socket that process *pid* has open (empty if it is gone or hidden).
    Each name is read relative to the open fd directory: a fifth less than a full path each, which
    counts for a daemon with hundreds of descriptors that runs every second (containerd)."""
    try:
        fd_dir = os.open(proc_path(pid, "fd"), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return frozenset()
    try:
        found = []
        readlink = os.readlink
        for fd in os.listdir(fd_dir):
            try:
                target = readlink(fd, dir_fd=fd_dir)
            except OSError:
                continue
            if target.startswith("socket:["):
                found.append(int(target[8:-1]))
        return frozenset(found)
    except OSError:
        return frozenset()
    finally:
        os.close(fd_dir)
