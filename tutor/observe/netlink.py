"""Links, addresses, routes, neighbours, fdb and listening sockets of every network namespace.

For each netns we open two sockets from a thread that has setns()ed into it
(rtnetlink, and sock_diag for listening sockets); a socket stays bound to the
netns it was made in, so the dumps can then run from any thread.

`NetworkReader` is used two ways:
  * one-shot (`take_snapshot()`): open, dump everything, close;
  * persistent (`Observer`, the live app): sockets stay open, the rtnetlink one
    subscribed to link/address/route/neighbour events, and a netns is re-dumped
    only when an event says it changed. Listening sockets have no events and are
    re-read every time (one cheap sock_diag dump per netns).

An open socket holds a reference to its netns, which would keep a deleted
namespace (and the veths inside it) alive. So a persistent reader must release a
netns as soon as it disappears: the Observer closes the sockets of every netns
that is gone at each snapshot, and `release_missing_named()` does it at once when
/run/netns changes (see observer.py).
"""
from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

from . import rtnl, sockets
from .model import Address, FdbEntry, Link, NetNS, Neighbour, Route, VxlanInfo
from .netns import NetnsHandle
from .setns import each_in_namespace


@dataclass
class _Conn:
    """The open sockets of one netns, and the last raw dump of it."""
    inode: int
    route: socket.socket
    diag: socket.socket | None
    dump: dict | None = None          # links, addresses, routes, neighbours, fdb (raw dicts)
    dirty: bool = False               # an event came during the last dump: dump again next time
    seq: int = 100

    def close(self) -> None:
        for sock in (self.route, self.diag):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass


@dataclass
class NetworkReader:
    persistent: bool = False
    conns: dict[int, _Conn] = field(default_factory=dict)
    nsid_cache: dict[tuple[int, int], int | None] = field(default_factory=dict)  # (from, to) -> nsid
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------- connections
    def _open(self, handles: list[NetnsHandle], problems: list[str]) -> None:
        groups = rtnl.event_groups() if self.persistent else 0

        def make(inode: int):
            route = rtnl.open_socket(groups)
            try:
                diag = sockets.open_diag_socket()
            except OSError:
                diag = None
            return route, diag

        wanted = [(h.path, h.inode) for h in handles if h.inode not in self.conns and h.path]
        for inode, result in each_in_namespace("net", wanted, make).items():
            if isinstance(result, OSError):
                label = next((h.names[0] for h in handles if h.inode == inode and h.names), f"net:[{inode}]")
                problems.append(f"cannot look into network namespace {label}: {result.strerror or result}")
                continue
            route, diag = result
            if self.persistent:
                route.setblocking(True)
            self.conns[inode] = _Conn(inode, route, diag)

    def release(self, inodes) -> None:
        """Close the sockets of these netns (so a deleted namespace can really go away)."""
        with self.lock:
            for inode in list(inodes):
                conn = self.conns.pop(inode, None)
                if conn:
                    conn.close()
            self.nsid_cache = {k: v for k, v in self.nsid_cache.items() if k[0] in self.conns and k[1] in self.conns}

    def close(self) -> None:
        self.release(list(self.conns))

    # ---------------------------------------------------------- reading
    def read(self, handles: list[NetnsHandle], problems: list[str]) -> dict[int, NetNS]:
        with self.lock:
            present = {h.inode for h in handles}
            for inode in [i for i in self.conns if i not in present]:
                self.conns.pop(inode).close()
            self._open(handles, problems)
            for handle in handles:
                conn = self.conns.get(handle.inode)
                if conn is None:
                    continue
                changed = conn.dump is None or conn.dirty
                if self.persistent and not changed:
                    changed = self._events_pending(conn)
                if changed:
                    try:
                        conn.dump = self._dump(conn)
                    except OSError as exc:
                        conn.dump = None
                        problems.append(f"cannot read network namespace {handle.names[0] if handle.names else handle.inode}: "
                                        f"{exc.strerror or exc}")
            result = self._build(handles, problems)
            if not self.persistent:
                for conn in self.conns.values():
                    conn.close()
                self.conns.clear()
            return result

    @staticmethod
    def _events_pending(conn: _Conn) -> bool:
        return rtnl.drain_events(conn.route) > 0

    @staticmethod
    def _dump(conn: _Conn) -> dict:
        conn.seq += 10
        if conn.dump is not None:
            rtnl.drain_events(conn.route)  # what happened before this dump is covered by it
        stray: list = []
        links = rtnl.dump_links(conn.route, conn.seq + 1, stray)
        addrs = rtnl.dump_addresses(conn.route, conn.seq + 2, stray)
        routes = rtnl.dump_routes(conn.route, conn.seq + 3, stray)
        neigh, fdb = rtnl.dump_neighbours(conn.route, conn.seq + 4, stray)
        # an event that arrived while we dumped may describe a change the dump missed: look again next time
        conn.dirty = bool(stray)
        return {"links": links, "addresses": addrs, "routes": routes, "neighbours": neigh, "fdb": fdb}

    # ---------------------------------------------------------- building the model
    def _build(self, handles: list[NetnsHandle], problems: list[str]) -> dict[int, NetNS]:
        by_inode = {h.inode: h for h in handles}
        # index -> raw link, per netns; and (netns, ifindex, peer ifindex) of every veth for peer matching
        indexes = {i: {l["index"]: l for l in c.dump["links"]} for i, c in self.conns.items() if c.dump}
        out: dict[int, NetNS] = {}
        for handle in handles:
            conn = self.conns.get(handle.inode)
            if conn is None or conn.dump is None:
                out[handle.inode] = NetNS(handle.inode, handle.names, handle.pids, handle.is_host,
                                          error="could not be read (see problems)")
                continue
            d = conn.dump
            names = {i: l["name"] for i, l in indexes[handle.inode].items()}
            links = tuple(self._link(handle.inode, raw, names, indexes, by_inode) for raw in d["links"])
            addresses = tuple(Address(names.get(a["index"], f"if{a['index']}"), a["family"],
                                      f"{a['ip']}/{a['prefixlen']}", a["scope"]) for a in d["addresses"])
            routes = tuple(Route(r["dst"], r["family"], names.get(r["oif"]) if r["oif"] else None, r["via"],
                                 r["onlink"], r["table"], r["proto"], r["scope"], r["src"]) for r in d["routes"])
            neighbours = tuple(Neighbour(names.get(n["index"], f"if{n['index']}"), n["ip"], n["mac"], n["state"])
                               for n in d["neighbours"])
            fdb = tuple(FdbEntry(names.get(f["index"], f"if{f['index']}"), f["mac"] or "", f["dst"],
                                 names.get(f["master"]) if f["master"] else None, f["vlan"], f["permanent"])
                        for f in d["fdb"])
            socks = sockets.read_listening(conn.diag, problems, handle) if conn.diag else ()
            out[handle.inode] = NetNS(handle.inode, handle.names, handle.pids, handle.is_host, links, addresses,
                                      routes, neighbours, fdb, socks)
        return out

    def _link(self, inode: int, raw: dict, names: dict, indexes: dict, by_inode: dict) -> Link:
        peer_netns = peer_index = peer_name = None
        if raw["kind"] == "veth" and raw["link"]:
            peer_index = raw["link"]
            if raw["link_netnsid"] is None:
                peer_netns = inode                       # both ends in this netns
            else:
                peer_netns = self._peer_netns(inode, raw, indexes, by_inode)
            if peer_netns is not None:
                peer = indexes.get(peer_netns, {}).get(peer_index)
                peer_name = peer["name"] if peer else None
        vx = raw["vxlan"]
        vxlan = VxlanInfo(vx["vni"], vx["port"], vx["local"], names.get(vx["link"]) if vx["link"] else None,
                          vx["learning"]) if vx else None
        return Link(inode, raw["index"], raw["name"] or f"if{raw['index']}", raw["kind"], raw["up"], raw["operstate"],
                    raw["mtu"], raw["mac"], names.get(raw["master"]) if raw["master"] else None,
                    peer_netns, peer_index, peer_name, vxlan)

    def _peer_netns(self, inode: int, raw: dict, indexes: dict, by_inode: dict) -> int | None:
        """Which netns the veth's peer is in. The kernel tells us only an nsid (a number local to this
        netns), so: take every netns holding a veth at the peer's ifindex that points back at us, and
        confirm with RTM_GETNSID which of them has that nsid here (cached: ids never change)."""
        candidates = [other for other, links in indexes.items()
                      if other != inode and (p := links.get(raw["link"])) and p["kind"] == "veth"
                      and p["link"] == raw["index"]]
        conn = self.conns.get(inode)
        for other in candidates:
            key = (inode, other)
            if key not in self.nsid_cache:
                self.nsid_cache[key] = self._query_nsid(conn, by_inode.get(other))
            if self.nsid_cache[key] == raw["link_netnsid"]:
                return other
        return None

    @staticmethod
    def _query_nsid(conn: _Conn | None, handle: NetnsHandle | None) -> int | None:
        if conn is None or handle is None or not handle.path:
            return None
        try:
            fd = os.open(handle.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            conn.seq += 1
            return rtnl.netnsid_of(conn.route, fd, conn.seq)
        except OSError:
            return None
        finally:
            os.close(fd)


def read_network(handles: list[NetnsHandle], problems: list[str]) -> dict[int, NetNS]:
    """One-shot read of every netns (opens and closes its sockets)."""
    return NetworkReader(persistent=False).read(handles, problems)
