"""A small, fast rtnetlink client: dump links, addresses, routes, neighbours and fdb entries.

Why not pyroute2 here: pyroute2 decodes every attribute of every message into
Python objects, which is most of the cost of a dump (see NOTES-tech.md), it
takes ~150 ms to import, and its sockets are thread-local (used from another
thread they silently re-open, possibly in the wrong netns). A snapshot needs a
dozen attributes, so this module walks the raw messages with `struct` and keeps
only those. The tests check this decoder against pyroute2's on the same kernel
state, so pyroute2 stays the reference for the netlink ABI.

A socket made here is a plain `socket.socket`: it stays bound to the network
namespace of the thread that created it, and can be used from any thread.
Everything here only *reads* (RTM_GET* requests); nothing is ever created.
"""
from __future__ import annotations

import socket
import struct
import threading
from typing import Iterator

# ---- netlink / rtnetlink constants (linux/netlink.h, linux/rtnetlink.h)
NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ROOT, NLM_F_MATCH = 0x1, 0x2, 0x100, 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH = 18, 22, 26, 30
RTM_NEWNSID, RTM_GETNSID = 88, 90
# multicast groups for change events (bit numbers, linux/rtnetlink.h RTNLGRP_*)
RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE = 1, 3, 5, 7
RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE = 9, 11

AF_UNSPEC, AF_INET, AF_INET6, AF_BRIDGE = 0, 2, 10, 7
IFF_UP = 0x1

# link attributes (IFLA_*)
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_LINK_NETNSID = 16, 18, 37
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BRPORT_MODE = 4       # a bridge port's hairpin mode (u8), inside IFLA_INFO_SLAVE_DATA
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING = 1, 3, 4, 7
IFLA_VXLAN_PORT, IFLA_VXLAN_LOCAL6 = 15, 17
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
# address attributes (IFA_*)
IFA_ADDRESS, IFA_LOCAL = 1, 2
# route attributes (RTA_*) and flags
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 7, 15
RTNH_F_ONLINK = 4
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255
RTN_UNICAST = 1
ROUTE_PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static"}
ROUTE_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
# neighbour attributes (NDA_*) and states (NUD_*)
NDA_DST, NDA_LLADDR, NDA_VLAN, NDA_MASTER = 1, 2, 5, 9
NUD_STATES = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE",
              0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT", 0x00: "NONE"}
NTF_SELF, NTF_MASTER = 0x02, 0x04
# nsid attributes (NETNSA_*)
NETNSA_NSID, NETNSA_FD = 1, 3
NSID_NOT_ASSIGNED = -1

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBi")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BxxxiHBB")
_NLATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_RECV_BUF = 1 << 20
#: One receive buffer per thread, reused. `sock.recv(_RECV_BUF)` makes a new 1 MiB bytes object on
#: every call and shrinks it to the message: measured at 17 us a call (the heap grows and is
#: trimmed back each time), 3,000 calls in a cold snapshot at 200 netns; recv_into a kept buffer
#: costs what a small recv does.
_buffers = threading.local()


def _buffer() -> memoryview:
    view = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(_RECV_BUF))
    return view


def receive(sock: socket.socket, flags: int = 0) -> bytes:
    """One netlink datagram (up to _RECV_BUF bytes), read into this thread's kept buffer and copied out."""
    view = _buffer()
    return bytes(view[:sock.recv_into(view, _RECV_BUF, flags)])


# --------------------------------------------------------------- sockets
def open_socket(groups: int = 0) -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's network namespace.

    groups=0 for queries: an unread event queue must never pile up on a query socket.
    """
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECV_BUF)
    sock.bind((0, groups))
    return sock


def event_groups() -> int:
    """The multicast group mask for link, address, route and neighbour changes."""
    mask = 0
    for group in (RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE,
                  RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE):
        mask |= 1 << (group - 1)
    return mask


def _request(sock: socket.socket, msg_type: int, payload: bytes, flags: int, seq: int,
             stray: list | None = None) -> Iterator[tuple[int, bytes]]:
    """Send one request and yield (type, payload) for each reply message until DONE.

    Messages that are not part of the answer (events, on a subscribed socket) are skipped;
    if *stray* is given, one item is appended for each, so the caller knows something changed.
    """
    sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(payload), msg_type, NLM_F_REQUEST | flags, seq, 0) + payload)
    while True:
        data = receive(sock)
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, mtype, mflags, mseq, _ = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                return
            body = data[offset + _NLMSGHDR.size: offset + length]
            offset += (length + 3) & ~3
            if mseq != seq:
                if stray is not None:  # an event, or a late answer to an earlier request
                    stray.append(mtype)
                continue
            if mtype == NLMSG_DONE:
                return
            if mtype == NLMSG_ERROR:
                err = _I32.unpack_from(body)[0]
                if err:
                    raise OSError(-err, f"netlink request {msg_type} failed")
                return  # an ACK
            yield mtype, body
            if not mflags & NLM_F_MULTI:
                return


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    """Attributes (type -> raw value) from *offset* to the end of *data* (nested flag masked off)."""
    out = {}
    end = len(data)
    unpack = _NLATTR.unpack_from       # bound once: a link message has ~45 attributes, a dump hundreds of links
    while offset + 4 <= end:
        length, atype = unpack(data, offset)
        if length < 4:
            break
        out[atype & 0x3FFF] = data[offset + 4: offset + length]
        offset += (length + 3) & ~3
    return out


def _picked_attrs(data: bytes, offset: int, wanted: frozenset) -> dict[int, bytes]:
    """Like _attrs, keeping only the types in *wanted*: a link message carries ~45 attributes
    (counters, queue sizes, per-family settings) of which a snapshot uses 8, and copying out each
    of them was most of the cost of decoding a link dump."""
    out = {}
    end = len(data)
    unpack = _NLATTR.unpack_from
    while offset + 4 <= end:
        length, atype = unpack(data, offset)
        if length < 4:
            break
        atype &= 0x3FFF
        if atype in wanted:
            out[atype] = data[offset + 4: offset + length]
        offset += (length + 3) & ~3
    return out


def _str(raw: bytes | None) -> str | None:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw is not None else None


def _mac(raw: bytes | None) -> str | None:
    return raw.hex(":") if raw else None          # "aa:bb:..", as ":".join(f"{b:02x}") but in C


def _ip(family: int, raw: bytes | None) -> str | None:
    if raw is None:
        return None
    if family == AF_INET and len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if family == AF_INET6 and len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return None


def _u32(raw: bytes | None) -> int | None:
    return _U32.unpack(raw[:4])[0] if raw is not None and len(raw) >= 4 else None


# --------------------------------------------------------------- dumps (plain dicts; netlink.py builds the model)
def dump_links(sock: socket.socket, seq: int = 1, stray: list | None = None) -> list[dict]:
    return [_link(body) for _, body in
            _request(sock, RTM_GETLINK, _IFINFOMSG.pack(AF_UNSPEC, 0, 0, 0, 0), NLM_F_DUMP, seq, stray)]


def get_link(sock: socket.socket, index: int, seq: int, stray: list | None = None) -> dict | None:
    """One link by ifindex (a single RTM_GETLINK, no dump); None when it is gone."""
    try:
        for _, body in _request(sock, RTM_GETLINK, _IFINFOMSG.pack(AF_UNSPEC, 0, index, 0, 0), 0, seq, stray):
            return _link(body)
    except OSError:   # ENODEV: deleted since the dump
        return None
    return None


#: the attributes of a link message that _link reads
_LINK_ATTRS = frozenset({IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_OPERSTATE,
                         IFLA_LINKINFO, IFLA_LINK_NETNSID})


def _link(body: bytes) -> dict:
    """One RTM_NEWLINK message as a plain dict."""
    _family, _type, index, flags, _ = _IFINFOMSG.unpack_from(body)
    a = _picked_attrs(body, _IFINFOMSG.size, _LINK_ATTRS)
    link = {
        "index": index, "name": _str(a.get(IFLA_IFNAME)), "up": bool(flags & IFF_UP),
        "operstate": OPERSTATES[a[IFLA_OPERSTATE][0]] if IFLA_OPERSTATE in a and a[IFLA_OPERSTATE][0] < len(OPERSTATES) else "UNKNOWN",
        "mtu": _u32(a.get(IFLA_MTU)) or 0, "mac": _mac(a.get(IFLA_ADDRESS)),
        "master": _u32(a.get(IFLA_MASTER)), "link": _u32(a.get(IFLA_LINK)),
        "link_netnsid": _I32.unpack(a[IFLA_LINK_NETNSID][:4])[0] if IFLA_LINK_NETNSID in a else None,
        "kind": None, "vxlan": None, "hairpin": None,
    }
    if IFLA_LINKINFO in a:
        info = _attrs(a[IFLA_LINKINFO], 0)
        link["kind"] = _str(info.get(IFLA_INFO_KIND))
        if link["kind"] == "vxlan" and IFLA_INFO_DATA in info:
            v = _attrs(info[IFLA_INFO_DATA], 0)
            port = v.get(IFLA_VXLAN_PORT)
            link["vxlan"] = {
                "vni": _u32(v.get(IFLA_VXLAN_ID)),
                "port": struct.unpack("!H", port[:2])[0] if port else None,  # network byte order
                "local": _ip(AF_INET, v.get(IFLA_VXLAN_LOCAL)) or _ip(AF_INET6, v.get(IFLA_VXLAN_LOCAL6)),
                "link": _u32(v.get(IFLA_VXLAN_LINK)),
                "learning": bool(v[IFLA_VXLAN_LEARNING][0]) if IFLA_VXLAN_LEARNING in v else None,
            }
        if _str(info.get(IFLA_INFO_SLAVE_KIND)) == "bridge" and IFLA_INFO_SLAVE_DATA in info:
            mode = _attrs(info[IFLA_INFO_SLAVE_DATA], 0).get(IFLA_BRPORT_MODE)
            link["hairpin"] = bool(mode[0]) if mode else None
    return link


def dump_addresses(sock: socket.socket, seq: int = 2, stray: list | None = None) -> list[dict]:
    out = []
    for _, body in _request(sock, RTM_GETADDR, _IFADDRMSG.pack(AF_UNSPEC, 0, 0, 0, 0), NLM_F_DUMP, seq, stray):
        family, prefixlen, _flags, scope, index = _IFADDRMSG.unpack_from(body)
        a = _attrs(body, _IFADDRMSG.size)
        # IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise
        ip = _ip(family, a.get(IFA_LOCAL) or a.get(IFA_ADDRESS))
        if ip:
            out.append({"index": index, "family": family, "ip": ip, "prefixlen": prefixlen,
                        "scope": ROUTE_SCOPES.get(scope, str(scope))})
    return out


def dump_routes(sock: socket.socket, seq: int = 3, stray: list | None = None) -> list[dict]:
    """Unicast routes of every table but `local` (what `ip route` and `ip -6 route` show)."""
    out = []
    for _, body in _request(sock, RTM_GETROUTE, _RTMSG.pack(AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0), NLM_F_DUMP, seq, stray):
        family, dst_len, _src_len, _tos, table, proto, scope, rtype, flags = _RTMSG.unpack_from(body)
        if rtype != RTN_UNICAST:
            continue                  # before its attributes: most of a dump is the local table's
        a = _attrs(body, _RTMSG.size)
        table = _u32(a.get(RTA_TABLE)) or table
        if table == RT_TABLE_LOCAL:
            continue
        dst = _ip(family, a.get(RTA_DST))
        out.append({
            "family": family, "dst": f"{dst}/{dst_len}" if dst else "default",
            "via": _ip(family, a.get(RTA_GATEWAY)), "oif": _u32(a.get(RTA_OIF)),
            "onlink": bool(flags & RTNH_F_ONLINK), "table": table,
            "proto": ROUTE_PROTOCOLS.get(proto, str(proto)), "scope": ROUTE_SCOPES.get(scope, str(scope)),
            "src": _ip(family, a.get(RTA_PREFSRC)),
        })
    return out


def dump_neighbours(sock: socket.socket, seq: int = 4, stray: list | None = None) -> tuple[list[dict], list[dict]]:
    """(neighbours, fdb entries): the ARP/NDP table (AF_UNSPEC dump) and the bridge fdb (AF_BRIDGE dump)."""
    neigh, fdb = [], []
    for _, body in _request(sock, RTM_GETNEIGH, _NDMSG.pack(AF_UNSPEC, 0, 0, 0, 0), NLM_F_DUMP, seq, stray):
        family, index, state, flags, _ = _NDMSG.unpack_from(body)
        a = _attrs(body, _NDMSG.size)
        if family in (AF_INET, AF_INET6):
            ip = _ip(family, a.get(NDA_DST))
            if ip:
                neigh.append({"index": index, "ip": ip, "mac": _mac(a.get(NDA_LLADDR)),
                              "state": NUD_STATES.get(state, hex(state))})
    for _, body in _request(sock, RTM_GETNEIGH, _NDMSG.pack(AF_BRIDGE, 0, 0, 0, 0), NLM_F_DUMP, seq + 100, stray):
        family, index, state, flags, _ = _NDMSG.unpack_from(body)
        a = _attrs(body, _NDMSG.size)
        dst = a.get(NDA_DST)
        fdb.append({"index": index, "mac": _mac(a.get(NDA_LLADDR)),
                    "dst": _ip(AF_INET, dst) or _ip(AF_INET6, dst),
                    "master": _u32(a.get(NDA_MASTER)),
                    "vlan": struct.unpack("=H", a[NDA_VLAN][:2])[0] if NDA_VLAN in a else None,
                    "permanent": bool(state & 0x80), "self": bool(flags & NTF_SELF)})
    return neigh, fdb


def netnsid_of(sock: socket.socket, fd: int, seq: int = 5) -> int | None:
    """The id that the socket's netns uses for the netns open at *fd*; None when none is assigned.

    RTM_GETNSID only looks the id up: it never assigns one (observing changes nothing).
    """
    payload = struct.pack("=Bxxx", AF_UNSPEC) + _NLATTR.pack(8, NETNSA_FD) + _U32.pack(fd)
    for mtype, body in _request(sock, RTM_GETNSID, payload, 0, seq):
        if mtype == RTM_NEWNSID:
            nsid = _attrs(body, 4).get(NETNSA_NSID)
            value = _I32.unpack(nsid[:4])[0] if nsid else NSID_NOT_ASSIGNED
            return None if value < 0 else value
    return None


RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
_SET_BY_HAND = 0x40 | 0x80            # NUD_NOARP, NUD_PERMANENT: an entry someone added


def take_events(sock: socket.socket) -> tuple[int, bool]:
    """Read every pending event message, as drain_events; and whether one of them is more than a
    learned neighbour or fdb entry changing state (REACHABLE turns STALE, a bridge learns a MAC:
    the kernel's own doing, every few seconds on a busy network, never a learner's)."""
    total, matters = 0, False
    while True:
        try:
            data = sock.recv(_RECV_BUF, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return total, matters
        except OSError:  # ENOBUFS: events were lost, any of them may have mattered
            return total + 1, True
        if not data:
            return total, matters
        total += len(data)
        offset = 0
        while not matters and offset + _NLMSGHDR.size <= len(data):
            length, msg_type = _NLMSGHDR.unpack_from(data, offset)[:2]
            if length < _NLMSGHDR.size:
                break
            body = offset + _NLMSGHDR.size
            if msg_type not in (RTM_NEWNEIGH, RTM_DELNEIGH) or body + _NDMSG.size > len(data):
                matters = True
            elif _NDMSG.unpack_from(data, body)[2] & _SET_BY_HAND:
                matters = True
            offset += (length + 3) & ~3


def drain_events(sock: socket.socket) -> int:
    """Read every pending event message on a non-blocking event socket; return how many bytes came."""
    total = 0
    while True:
        try:
            size = sock.recv_into(_buffer(), _RECV_BUF, socket.MSG_DONTWAIT)   # only counted, never copied
        except BlockingIOError:
            return total
        except OSError:  # ENOBUFS: events were lost; the caller treats it as "changed"
            return total + 1
        if not size:
            return total
        total += size
