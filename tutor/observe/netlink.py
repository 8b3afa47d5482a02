"""Links, addresses, routes, neighbours, fdb and listening sockets of every network namespace.

For each netns we open two sockets from a thread that has setns()ed into it
(rtnetlink, and sock_diag for listening sockets); a socket stays bound to the
netns it was made in, so the dumps can then run from any thread.

`NetworkReader` is used two ways:
  * one-shot (`take_snapshot()`): open, dump everything, close;
  * persistent (`Observer`, the live app): sockets stay open, the rtnetlink one
    subscribed to link/address/route/neighbour events, and a netns is re-dumped
    only when an event says it changed. Listening sockets have no events: they are
    listed again unless nothing that could change them happened (see below).

What a persistent reader keeps between reads, and why each is safe to keep (a long-lived reader
may only keep what cannot change while it is kept: the app and a fresh `nstutor check` must
never disagree):
  * a netns's dump, until an event in that netns says it changed. One change sends no event to
    the netns it affects: moving a veth's peer to another netns changes the peer's netns as seen
    from this end. So a dump holding a veth whose peer cannot be found is dumped again at once,
    and again on every read while the peer stays unresolved. Another sends no event at all: a
    setting of a switched-off bridge port (`ip link set X type bridge_slave hairpin on` while X is
    down). So each such port is asked for again on every read, one link, not a dump (see
    _quiet_port_changed).
  * an nsid (what netns A calls netns B), once the kernel has assigned one: an assigned id never
    changes while both namespaces exist, and both are pinned by our open sockets. "No id yet" is
    never kept: the kernel assigns ids lazily, the moment anything needs one.
  * the model built from a dump, while neither it nor its veth peers' dumps changed; a build with
    an unresolved peer is never reused.
  * which socket inodes a process holds, while that process has not run (see ProcessReader.unchanged).
    Who holds a netns's listening sockets is not kept beyond that: a process that closes its copy
    of a shared socket, or receives one over a unix socket, must show in the very next read, or the
    app and a fresh `nstutor check` could disagree.
  * a netns's list of listening sockets, which sends no events, while all of these hold:
      - no rtnetlink event came from that netns (a kernel socket such as vxlan's comes with a link);
      - its socket counters are the same (`sockets: used` and the per-protocol `inuse` of
        /proc/net/sockstat and sockstat6, kept open from inside that netns): a socket made there by
        a process of another netns (setns, as dockerd does for its DNS) counts;
      - the same processes are in it, and none of them has run (each thread's schedstat: see
        ProcessReader.unchanged): only a process that runs can bind, listen, connect or close;
      - every socket of the list had an owner among them: a socket held only from outside (a
        descriptor passed away, or a kernel socket) could change with no one in here running.
    A busy netns (the host's, where something always runs) is listed on every read, as before; a
    container whose processes sleep costs three preads instead of three dumps. Known blind spot: a
    bound UDP socket that a member also passed to a process in another netns, connected there.
An open socket holds a reference to its netns, which would keep a deleted
namespace (and the veths inside it) alive. So a persistent reader must release a
netns as soon as it disappears: the Observer closes the sockets of every netns
that is gone at each snapshot, and `release_missing_named()` does it at once when
/run/netns changes (see observer.py).
"""
from __future__ import annotations

import errno
import os
import re
import select
import socket
import threading
from dataclasses import dataclass, field

from . import rtnl, sockets
from .model import Address, FdbEntry, Link, NetNS, Neighbour, Route, VxlanInfo
from .netns import NetnsHandle
from .procfs import proc_path
from .setns import each_in_namespace

#: The per-netns counts in sockstat ("sockets: used 3", "TCP: inuse 1"...), not the machine-wide
#: ones beside them (orphan, tw, alloc, mem), which change with any TCP traffic anywhere.
_COUNTS = re.compile(rb"(?:used|inuse) \d+")


@dataclass
class _Conn:
    """The open sockets of one netns, and the last raw dump of it."""
    inode: int
    route: socket.socket
    diag: socket.socket | None
    dump: dict | None = None          # links, addresses, routes, neighbours, fdb (raw dicts)
    dirty: bool = False               # an event came during the last dump: dump again next time
    taken: bool = False               # the change watch read events of it since the last dump
    version: int = 0                  # +1 at each dump
    built: tuple | None = None        # (key, model parts) of the last build; see NetworkReader._build
    seq: int = 100
    counters: tuple[int, ...] = ()    # kept /proc/net/sockstat, sockstat6 fds opened inside this netns
    listening: tuple | None = None    # (what it was listed under, the sockets); see the module docstring
    counted: tuple | None = None      # (the sockstat texts, the counts in them) of the last look
    model: "NetNS | None" = None      # what the last build made of it (reused while all of it is the same)
    in_use: dict | None = None        # one-shot: its TCP/UDP socket counts when opened (sockets.count_in_use)

    def close(self) -> None:
        for sock in (self.route, self.diag):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        for fd in self.counters:
            os.close(fd)
        self.counters = ()

    def socket_counters(self) -> bytes | None:
        """This netns's socket counts, from the kept sockstat files (None: cannot tell)."""
        if not self.counters:
            return None
        try:
            texts = tuple(os.pread(fd, 1024, 0) for fd in self.counters)
        except OSError:
            return None
        if self.counted is not None and self.counted[0] == texts:
            return self.counted[1]        # the very same texts: the same counts, without parsing them
        counts = b" ".join(b" ".join(_COUNTS.findall(text)) for text in texts)
        self.counted = (texts, counts)
        return counts


@dataclass
class NetworkReader:
    persistent: bool = False
    conns: dict[int, _Conn] = field(default_factory=dict)
    nsid_cache: dict[tuple[int, int], int] = field(default_factory=dict)  # (from, to) -> assigned nsid
    lock: threading.Lock = field(default_factory=threading.Lock)
    fd_sockets: dict[int, frozenset[int]] = field(default_factory=dict)   # pid -> socket inodes it holds

    # ---------------------------------------------------------- connections
    def _open(self, handles: list[NetnsHandle], problems: list[str]) -> None:
        groups = rtnl.event_groups() if self.persistent else 0

        def make(inode: int):
            # The path was looked at a moment ago; `ip netns add/del` may have changed what it
            # refers to since. Never file one namespace's sockets under another's inode.
            here = os.stat(proc_path("thread-self", "ns", "net")).st_ino
            if here != inode:
                raise OSError(errno.EAGAIN, f"it changed while nstutor looked (net:[{here}], not net:[{inode}])")
            route = rtnl.open_socket(groups)
            # one-shot: the socket counts, read now, a moment before the dump: a protocol with no
            # socket here is not dumped, and a netns with none at all needs no sock_diag socket
            in_use = None if self.persistent else sockets.count_in_use()
            diag = None
            if in_use is None or any(in_use.values()):
                try:
                    diag = sockets.open_diag_socket()
                except OSError:
                    pass
            return route, diag, sockets.open_counters() if self.persistent else (), in_use

        wanted = [(h.path, h.inode) for h in handles if h.inode not in self.conns and h.path]
        for inode, result in each_in_namespace("net", wanted, make).items():
            if isinstance(result, OSError):
                label = next((h.names[0] for h in handles if h.inode == inode and h.names), f"net:[{inode}]")
                problems.append(f"cannot look into network namespace {label}: {result.strerror or result}")
                continue
            route, diag, counters, in_use = result
            if self.persistent:
                route.setblocking(True)
            self.conns[inode] = _Conn(inode, route, diag, counters=counters, in_use=in_use)

    def release(self, inodes) -> None:
        """Close the sockets of these netns (so a deleted namespace can really go away)."""
        with self.lock:
            for inode in list(inodes):
                conn = self.conns.pop(inode, None)
                if conn:
                    conn.close()
            self._forget_nsids()

    def _forget_nsids(self) -> None:
        """Drop the ids of every pair that is no longer pinned by our sockets: once a netns is freed, its
        inode number can be given to a new namespace, which the old id must not be taken for."""
        self.nsid_cache = {k: v for k, v in self.nsid_cache.items() if k[0] in self.conns and k[1] in self.conns}

    def close(self) -> None:
        self.release(list(self.conns))

    def event_fds(self) -> list[int]:
        """The descriptors of the kept event sockets, one per netns (for events.ChangeWatch)."""
        with self.lock:
            return [conn.route.fileno() for conn in self.conns.values()]

    def take_events(self, fd: int) -> bool | None:
        """From the change watch's thread: read the events waiting on the socket *fd*, so that the
        next read() dumps that netns again; True when one of them is worth a look now (rtnl's
        take_events); None when *fd* is no longer one of ours."""
        with self.lock:
            conn = next((c for c in self.conns.values() if c.route.fileno() == fd), None)
            if conn is None:
                return None
            size, matters = rtnl.take_events(conn.route)
            if size:
                conn.taken = True
            return matters

    # ---------------------------------------------------------- reading
    def prefetch(self, handles: list[NetnsHandle]) -> None:
        """One-shot: open and dump these netns now, ahead of read() (which takes their dumps as
        they are, and dumps again any whose veth peer it then cannot place, as it always does).
        take_snapshot() calls it with the netns it knows of before the processes are read (its
        own and the named ones), while a forked helper reads processes (shared_read.py). Their
        models are built too (without listening sockets): read() keeps what is still valid.
        What fails here is left for read() to try again and report."""
        if self.persistent:
            return
        with self.lock:
            self._open(handles, [])
            for handle in handles:
                conn = self.conns.get(handle.inode)
                if conn is not None and conn.dump is None:
                    self._redump(conn, handle, [])
                    if conn.dump is None:                # read() opens it again and says why
                        self.conns.pop(handle.inode).close()
            # and built, so read() reuses each build whose veth peers were all among these (see
            # _still_valid), with the nsids it asked for (kept while both netns are open)
            self._build(handles, [], frozenset(), listing=False)

    def read(self, handles: list[NetnsHandle], problems: list[str],
             unchanged: frozenset[int] = frozenset()) -> dict[int, NetNS]:
        """Every netns's model. *unchanged*: pids that have not run since the previous read, whose
        open sockets a persistent reader may take from its last look (see the module's docstring)."""
        with self.lock:
            present = {h.inode for h in handles}
            gone = [i for i in self.conns if i not in present]
            for inode in gone:
                self.conns.pop(inode).close()
            if gone:
                self._forget_nsids()
            self._open(handles, problems)
            dumped: set[int] = set()
            signalled = self._signalled() if self.persistent else set()
            for handle in handles:
                conn = self.conns.get(handle.inode)
                if conn is None:
                    continue
                changed = conn.dump is None or conn.dirty or conn.taken
                if self.persistent and not changed and conn.inode in signalled:
                    changed = self._events_pending(conn)
                if self.persistent and not changed:
                    changed = self._quiet_port_changed(conn)
                if changed:
                    self._redump(conn, handle, problems)
                    dumped.add(handle.inode)
            result = self._build(handles, problems, unchanged)
            # A veth whose peer is nowhere to be found may be a stale dump: its peer moved to another
            # netns, which sends this netns no event. Dump those once more and build again.
            stale = [h for h in handles if h.inode not in dumped and h.inode in self.conns
                     and h.inode not in self._reused and _has_unresolved_peer(result.get(h.inode))]
            if stale:
                for handle in stale:
                    self._redump(self.conns[handle.inode], handle, problems)
                result = self._build(handles, problems, unchanged)
            if self.persistent:
                alive = {pid for h in handles for pid in h.pids}
                self.fd_sockets = {pid: s for pid, s in self.fd_sockets.items() if pid in alive}
            else:
                for conn in self.conns.values():
                    conn.close()
                self.conns.clear()
                self.fd_sockets.clear()
            return result

    def _redump(self, conn: _Conn, handle: NetnsHandle, problems: list[str]) -> None:
        conn.taken = False              # under the lock: what the watch reads from now on counts again
        try:
            conn.dump = self._dump(conn)
            conn.version += 1
        except OSError as exc:
            conn.dump = None
            problems.append(f"cannot read network namespace {handle.names[0] if handle.names else handle.inode}: "
                            f"{exc.strerror or exc}")

    def _signalled(self) -> set[int]:
        """The netns whose event socket has something to read: one poll(2) for all of them, instead
        of a recv that fails with EAGAIN on each quiet one."""
        poller = select.poll()
        by_fd = {}
        for inode, conn in self.conns.items():
            fd = conn.route.fileno()
            by_fd[fd] = inode
            poller.register(fd, select.POLLIN)
        return {by_fd[fd] for fd, _mask in poller.poll(0)}

    @staticmethod
    def _events_pending(conn: _Conn) -> bool:
        return rtnl.drain_events(conn.route) > 0

    @staticmethod
    def _quiet_port_changed(conn: _Conn) -> bool:
        """Whether a switched-off bridge port of the kept dump is no longer as dumped. The kernel
        announces a port setting changed with `ip link set X type bridge_slave hairpin on` only
        while X is up (netdev_state_change); `bridge link set` and sysfs always do. So each such
        port is asked for again (one RTM_GETLINK, not a dump): a difference, or an event that came
        meanwhile, means dump this netns again."""
        quiet = [raw for raw in conn.dump["links"] if raw["hairpin"] is not None and not raw["up"]]
        stray: list = []
        for raw in quiet:
            conn.seq += 1
            if rtnl.get_link(conn.route, raw["index"], conn.seq, stray) != raw or stray:
                return True
        return False

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
    def _build(self, handles: list[NetnsHandle], problems: list[str], unchanged: frozenset[int],
               listing: bool = True) -> dict[int, NetNS]:
        """The model of each netns of *handles* (a netns's links, addresses... are built again only
        when it, or a netns its veth peers are in, was dumped again). *listing*: list the
        listening sockets too (prefetch builds without them: their owners are processes)."""
        by_inode = {h.inode: h for h in handles}
        indexes: dict = {}       # made only if a netns is built afresh (see _link_indexes)
        out: dict[int, NetNS] = {}
        self._reused: set[int] = set()   # netns whose last build was still valid: no unresolved peer
        for handle in handles:
            conn = self.conns.get(handle.inode)
            if conn is None or conn.dump is None:
                out[handle.inode] = NetNS(handle.inode, handle.names, handle.pids, handle.is_host,
                                          error="could not be read (see problems)")
                continue
            if conn.built is not None and self._still_valid(conn.built[0], conn):
                parts = conn.built[1]
                self._reused.add(handle.inode)
            else:
                deps: dict[int, int] = {}
                if not indexes:
                    indexes = self._link_indexes()
                parts = self._parts(handle.inode, conn.dump, indexes, by_inode, deps)
                # a build with an unresolved peer is never reused (see the module's docstring)
                unresolved = any(_unresolved(l) for l in parts[0])
                conn.built = None if unresolved else ((conn.version, tuple(deps.items())), parts)
            if not listing:
                continue
            socks = self._sockets(conn, handle, problems, unchanged)
            last = conn.model
            if (last is None or last.sockets is not socks or last.links is not parts[0] or last.pids != handle.pids
                    or last.names != handle.names or last.is_host != handle.is_host):
                last = conn.model = NetNS(handle.inode, handle.names, handle.pids, handle.is_host, *parts, socks)
            out[handle.inode] = last       # the very same object while nothing in it changed
        return out

    def _link_indexes(self) -> dict[int, dict[int, dict]]:
        """ifindex -> raw link, per netns; and, in self._veths, (ifindex, peer ifindex) -> the netns
        holding such a veth, which finds a peer's candidates in one lookup."""
        indexes = {i: {l["index"]: l for l in c.dump["links"]} for i, c in self.conns.items() if c.dump}
        self._veths: dict[tuple[int, int], list[int]] = {}
        for inode, links in indexes.items():
            for l in links.values():
                if l["kind"] == "veth" and l["link"]:
                    self._veths.setdefault((l["index"], l["link"]), []).append(inode)
        return indexes

    def _sockets(self, conn: _Conn, handle: NetnsHandle, problems: list[str], unchanged: frozenset[int]) -> tuple:
        if conn.diag is None:
            return ()
        # what the list may be kept under (see the module docstring); read before the dump, so a
        # change in between shows as a different key next time
        key = None
        if self.persistent and all(pid in unchanged for pid in handle.pids):
            counts = conn.socket_counters()
            key = (conn.version, handle.pids, counts) if counts is not None else None
        if key is not None and conn.listening is not None and conn.listening[0] == key:
            return conn.listening[1]
        found = sockets.read_listening(conn.diag, problems, handle, self.fd_sockets, unchanged, conn.in_use)
        kept = key is not None and all(s.pids for s in found)
        conn.listening = (key, found) if kept else None
        return found

    def _still_valid(self, key: tuple, conn: _Conn) -> bool:
        """A built netns can be reused while neither it nor the netns its veth peers live in were
        re-dumped (builds with an unresolved peer are not kept at all)."""
        version, deps = key
        if version != conn.version:
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
                    peer_netns, peer_index, peer_name, vxlan, raw["hairpin"])

    def _peer_netns(self, inode: int, raw: dict, indexes: dict, by_inode: dict) -> int | None:
        """Which netns the veth's peer is in. The kernel tells us only an nsid (a number local to this
        netns), so: take every netns holding a veth at the peer's ifindex that points back at us, and
        confirm with RTM_GETNSID which of them has that nsid here, and that its end's nsid leads back
        to us (both dumps may not be equally fresh: a peer that just moved must not be matched on a
        stale number)."""
        candidates = [other for other in self._veths.get((raw["link"], raw["index"]), ()) if other != inode]
        for other in candidates:
            if self._nsid(inode, other, by_inode) != raw["link_netnsid"]:
                continue
            back = indexes.get(other, {}).get(raw["link"])
            back_nsid = back.get("link_netnsid") if back else None
            if back_nsid is not None and self._nsid(other, inode, by_inode) == back_nsid:
                return other
        return None

    def _nsid(self, inode: int, other: int, by_inode: dict) -> int | None:
        """What netns *inode* calls netns *other*. Kept once assigned (it cannot change while both are
        pinned by our sockets); "none assigned yet" is asked again next time, never kept."""
        key = (inode, other)
        found = self.nsid_cache.get(key)
        if found is None:
            found = self._query_nsid(self.conns.get(inode), by_inode.get(other))
            if found is not None and inode in self.conns and other in self.conns:
                self.nsid_cache[key] = found
        return found

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


def _unresolved(link: Link) -> bool:
    """A veth whose other end nstutor could not place (the peer netns was not found)."""
    return link.kind == "veth" and link.peer_ifindex is not None and link.peer_netns is None


def _has_unresolved_peer(ns: NetNS | None) -> bool:
    return ns is not None and any(_unresolved(l) for l in ns.links)


def read_network(handles: list[NetnsHandle], problems: list[str]) -> dict[int, NetNS]:
    """One-shot read of every netns (opens and closes its sockets)."""
    return NetworkReader(persistent=False).read(handles, problems)
