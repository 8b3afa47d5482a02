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

import errno
import os
import socket
import threading
from dataclasses import dataclass, field

from . import rtnl, sockets
from .model import Address, FdbEntry, Link, NetNS, Neighbour, Route, VxlanInfo
from .netns import NetnsHandle
from .setns import each_in_namespace

#: A netns where nothing ran still has its sockets listed again at least every this many reads.
SOCKETS_MAX_AGE = 4


@dataclass
class _Conn:
    """The open sockets of one netns, and the last raw dump of it."""
    inode: int
    route: socket.socket
    diag: socket.socket | None
    dump: dict | None = None          # links, addresses, routes, neighbours, fdb (raw dicts)
    dirty: bool = False               # an event came during the last dump: dump again next time
    version: int = 0                  # +1 at each dump
    built: tuple | None = None        # (key, model parts) of the last build; see NetworkReader._build
    built_now: bool = False           # this read rebuilt it (its links or a peer's changed)
    sockets: tuple | None = None      # the last list of listening sockets, and how many reads ago
    sockets_age: int = 0
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
    generation: int = 0               # +1 whenever a netns is opened or released

    # ---------------------------------------------------------- connections
    def _open(self, handles: list[NetnsHandle], problems: list[str]) -> None:
        groups = rtnl.event_groups() if self.persistent else 0

        def make(inode: int):
            # The path was looked at a moment ago; `ip netns add/del` may have changed what it
            # refers to since. Never file one namespace's sockets under another's inode.
            here = os.stat("/proc/thread-self/ns/net").st_ino
            if here != inode:
                raise OSError(errno.EAGAIN, f"it changed while nstutor looked (net:[{here}], not net:[{inode}])")
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
            self.generation += 1

    def release(self, inodes) -> None:
        """Close the sockets of these netns (so a deleted namespace can really go away)."""
        with self.lock:
            for inode in list(inodes):
                conn = self.conns.pop(inode, None)
                if conn:
                    conn.close()
                    self.generation += 1
            self.nsid_cache = {k: v for k, v in self.nsid_cache.items() if k[0] in self.conns and k[1] in self.conns}

    def close(self) -> None:
        self.release(list(self.conns))

    # ---------------------------------------------------------- reading
    def read(self, handles: list[NetnsHandle], problems: list[str], busy: set[int] | None = None) -> dict[int, NetNS]:
        """Every netns's model. *busy* (persistent reader only): the netns in which a process started,
        exited or ran since the last read; the others' listening sockets cannot have changed
        (a socket is opened by a process running), so their last list is reused, though never for
        longer than SOCKETS_MAX_AGE reads. None: list every netns's sockets."""
        with self.lock:
            present = {h.inode for h in handles}
            for inode in [i for i in self.conns if i not in present]:
                self.conns.pop(inode).close()
                self.generation += 1
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
                        conn.version += 1
                    except OSError as exc:
                        conn.dump = None
                        problems.append(f"cannot read network namespace {handle.names[0] if handle.names else handle.inode}: "
                                        f"{exc.strerror or exc}")
            result = self._build(handles, problems, busy)
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
    def _build(self, handles: list[NetnsHandle], problems: list[str], busy: set[int] | None) -> dict[int, NetNS]:
        by_inode = {h.inode: h for h in handles}
        # index -> raw link, per netns; and (netns, ifindex, peer ifindex) of every veth for peer matching
        indexes = {i: {l["index"]: l for l in c.dump["links"]} for i, c in self.conns.items() if c.dump}
        # (ifindex, peer ifindex) -> netns holding such a veth: finds a peer's candidates in one lookup
        self._veths: dict[tuple[int, int], list[int]] = {}
        for inode, links in indexes.items():
            for l in links.values():
                if l["kind"] == "veth" and l["link"]:
                    self._veths.setdefault((l["index"], l["link"]), []).append(inode)
        out: dict[int, NetNS] = {}
        for handle in handles:
            conn = self.conns.get(handle.inode)
            if conn is None or conn.dump is None:
                out[handle.inode] = NetNS(handle.inode, handle.names, handle.pids, handle.is_host,
                                          error="could not be read (see problems)")
                continue
            conn.built_now = conn.built is None or not self._still_valid(conn.built[0], conn)
            if not conn.built_now:
                parts = conn.built[1]
            else:
                deps: dict[int, int] = {}
                parts = self._parts(handle.inode, conn.dump, indexes, by_inode, deps)
                unresolved = any(l.kind == "veth" and l.peer_netns is None for l in parts[0])
                conn.built = ((conn.version, tuple(deps.items()), self.generation if unresolved else None), parts)
            socks = self._sockets(conn, handle, problems, busy)
            out[handle.inode] = NetNS(handle.inode, handle.names, handle.pids, handle.is_host, *parts, socks)
        return out

    @staticmethod
    def _sockets(conn: _Conn, handle: NetnsHandle, problems: list[str], busy: set[int] | None) -> tuple:
        if conn.diag is None:
            return ()
        fresh = (busy is None or handle.inode in busy or conn.sockets is None or conn.built_now
                 or conn.sockets_age >= SOCKETS_MAX_AGE)
        if fresh:
            conn.sockets = sockets.read_listening(conn.diag, problems, handle)
            conn.sockets_age = 0
        else:
            conn.sockets_age += 1
        return conn.sockets

    def _still_valid(self, key: tuple, conn: _Conn) -> bool:
        """A built netns can be reused while neither it nor the netns its veth peers live in were
        re-dumped (and, if a peer was not found, while no netns came or went)."""
        version, deps, generation = key
        if version != conn.version or (generation is not None and generation != self.generation):
            return False
        return all((other := self.conns.get(inode)) is not None and other.version == v for inode, v in deps)

    def _parts(self, inode: int, d: dict, indexes: dict, by_inode: dict, deps: dict) -> tuple:
        """(links, addresses, routes, neighbours, fdb) of one netns, as model objects."""
        names = {i: l["name"] for i, l in indexes[inode].items()}
        links = tuple(self._link(inode, raw, names, indexes, by_inode) for raw in d["links"])
        for link in links:
            if link.peer_netns is not None and link.peer_netns != inode and link.peer_netns in self.conns:
                deps[link.peer_netns] = self.conns[link.peer_netns].version
        addresses = tuple(Address(names.get(a["index"], f"if{a['index']}"), a["family"],
                                  f"{a['ip']}/{a['prefixlen']}", a["scope"]) for a in d["addresses"])
        routes = tuple(Route(r["dst"], r["family"], names.get(r["oif"]) if r["oif"] else None, r["via"],
                             r["onlink"], r["table"], r["proto"], r["scope"], r["src"]) for r in d["routes"])
        neighbours = tuple(Neighbour(names.get(n["index"], f"if{n['index']}"), n["ip"], n["mac"], n["state"])
                           for n in d["neighbours"])
        fdb = tuple(FdbEntry(names.get(f["index"], f"if{f['index']}"), f["mac"] or "", f["dst"],
                             names.get(f["master"]) if f["master"] else None, f["vlan"], f["permanent"])
                    for f in d["fdb"])
        return links, addresses, routes, neighbours, fdb

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
        candidates = [other for other in self._veths.get((raw["link"], raw["index"]), ()) if other != inode]
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
