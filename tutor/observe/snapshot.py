"""take_snapshot() and Observer: one read-only picture of the machine, taken in one go.

This module only orchestrates; each source of facts has its own module:
  processes.py  /proc/PID: names, states, namespaces, NSpid, root, cgroup, CPU time
  netns.py      which network namespaces exist (named and process-held)
  netlink.py    links, addresses, routes, neighbours, fdb, sockets of each netns (rtnl.py, sockets.py)
  nsfacts.py    hostname per uts ns, mounts per mnt ns, shm per ipc ns, id maps per user ns
  cgroups.py    cgroup mode and CPU limits
  engines/      the containers Docker, Podman and containerd know of (their own records)
Each reader records what it could not see in `problems` and goes on.

Some parts are read only when a check asks for them (`wants`, see model.Wants): the nat table
(firewall.py), what a process sees in its own root (inside.py), whether a command can be typed
again as it is (commands.py), a cgroup's memory limit and OOM kills (memory.py), and probes (probes.py). *wants* is called with the snapshot of the
standing parts (a check names a process by a selector, so it needs the processes to say which
pid), and its answer is read into the same snapshot: grading then reads nothing. A probe's result
can call for more (answer_probes asks *wants* again).

`take_snapshot()` starts from nothing each time (the CLI). `Observer` keeps what
is worth keeping between snapshots (open netlink sockets that tell it which
netns changed, what each process was made of at exec), which is what makes the
live panel cheap: see bench/snapshot.py.
"""
from __future__ import annotations

import dataclasses
import os
import select
import threading
import time
from typing import Callable, Union

from . import cgroups, commands, conntrack, engines, firewall, inside, memory, netns, nsfacts, probes
from .model import NOTHING, Probe, ProbeResult, Snapshot, Wants, frozen_map
from .netlink import NetworkReader
from .processes import ProcessReader, host_namespaces, namespace_table
from .procfs import CLOCK_TICKS
from .firewall import RulesetWatch
from .events import ChangeWatch
from .watch import NetnsDirWatcher


#: What a caller wants read beyond the standing parts: fixed, or decided from the standing snapshot.
WantsFor = Union[Wants, Callable[[Snapshot], Wants], None]
NatSource = Callable[[], "firewall.NatRead"]


def answer(snap: Snapshot, wants: WantsFor, read_nat: NatSource = firewall.read_nat) -> Snapshot:
    """*snap* with the parts *wants* asks for read in (a new Snapshot; *snap* is not changed)."""
    want = _as_function(wants)
    asked = want(snap)
    if not asked:
        return snap
    files = {}
    for pid, path in sorted(asked.files, key=lambda k: (k[0] is not None, k[0] or 0, k[1])):
        proc = snap.processes.get(pid) if pid is not None else None
        if pid is None:
            files[(pid, path)] = inside.read_host_file(snap, path)
        elif proc is not None:
            files[(pid, path)] = inside.read_file(proc, path)
    own_proc = {pid: inside.read_own_proc(snap.processes[pid]) for pid in sorted(asked.own_proc)
                if pid in snap.processes}
    programs = {program: commands.runnable(program) for program in sorted(asked.programs)}
    capabilities = {pid: inside.read_capabilities(snap.processes[pid]) for pid in sorted(asked.capabilities)
                    if pid in snap.processes}
    memory_cgroups = {path: memory.read(path) for path in sorted(asked.memory_cgroups)}
    snap = dataclasses.replace(snap, nat=read_nat() if asked.nat else None,
                               files=frozen_map(files), own_proc=frozen_map(own_proc),
                               programs=frozen_map(programs), capabilities=frozen_map(capabilities),
                               memory=frozen_map(memory_cgroups),
                               netns_nat=frozen_map(_in_each_netns(snap, asked.netns_nat, firewall.read_nat_in)),
                               conntrack=frozen_map(_in_each_netns(snap, asked.conntrack, conntrack.read_conntrack)))
    return answer_probes(snap, want)


def _in_each_netns(snap: Snapshot, inodes: frozenset[int], read: Callable[[str, int], object]) -> dict:
    """inode -> read(path, inode) for each wanted netns that the snapshot holds and a file still names
    (a netns gone since is left out: the kind says it is gone, as for any netns it names)."""
    out = {}
    for inode in sorted(inodes):
        ns = snap.netns.get(inode)
        path = probes.netns_path(ns) if ns is not None else None
        if path is not None:
            out[inode] = read(path, inode)
    return out


def answer_probes(snap: Snapshot, wants: WantsFor,
                  send: Callable[[Snapshot, Probe], ProbeResult] = probes.send,
                  read_filter: Callable[[], "firewall.HostFilter"] = firewall.read_host_filter,
                  read_forwarding: Callable[..., bool | None] = probes.read_forwarding) -> Snapshot:
    """*snap* with the probes *wants* asks for sent, and what their results call for read: a failed
    probe's diagnosis wants the host's filter table and the forwarding switch of the routers on the
    way. So *wants* is asked again once the probes are answered (two rounds at most: the second
    asks nothing that would call for a third). Only what *snap* does not hold yet is read, so the
    live loop can send a lesson's probes into a snapshot taken without them. The filter table is
    read only after a failure, as before: it runs iptables, and a passing probe needs no reason."""
    want = _as_function(wants)
    for _ in range(2):
        asked = want(snap)
        new = sorted(asked.probes - snap.probes.keys(), key=lambda p: (p.netns, p.ip, p.port or 0))
        read_filter_now = asked.host_filter and snap.host_filter is None
        switches = sorted(asked.forwarding - snap.forwarding.keys())
        if not (new or read_filter_now or switches):
            break
        sent = {p: send(snap, p) for p in new}
        read = {(inode, version): read_forwarding(snap.netns[inode], version) if inode in snap.netns else None
                for inode, version in switches}
        snap = dataclasses.replace(snap, probes=frozen_map({**snap.probes, **sent}),
                                   host_filter=read_filter() if read_filter_now else snap.host_filter,
                                   forwarding=frozen_map({**snap.forwarding, **read}))
    return snap


def _as_function(wants: WantsFor) -> Callable[[Snapshot], Wants]:
    if callable(wants):
        return wants
    fixed = wants or NOTHING
    return lambda _snap: fixed


@dataclasses.dataclass
class Readers:
    """What a snapshot is read by. take_snapshot() makes a fresh set each time and keeps nothing;
    an Observer keeps one set, and each reader keeps what provably has not changed (its module's
    docstring says why). The optional ones fall back to a one-shot read when absent."""
    procs: ProcessReader
    net: NetworkReader
    engines: list = dataclasses.field(default_factory=list)
    mounts: "nsfacts.MountReader | None" = None
    cgroups: "cgroups.CgroupReader | None" = None
    hostnames: "nsfacts.HostnameReader | None" = None
    shm: "nsfacts.ShmReader | None" = None


def _assemble(readers: Readers, previous: Snapshot | None, firewall_changes: int = 0) -> Snapshot:
    proc_reader, net_reader = readers.procs, readers.net
    hostname_reader, mount_reader, shm_reader = readers.hostnames, readers.mounts, readers.shm
    started = time.monotonic()
    wall = time.time()
    problems: list[str] = []
    parts: dict[str, float] = {}
    clock = [started]

    def timed(part: str, value):
        """*value* (just computed), with the time since the last part booked to *part*."""
        now = time.monotonic()
        parts[part] = (now - clock[0]) * 1000.0
        clock[0] = now
        return value

    prefetched = [0.0]

    def prefetch() -> None:
        """One-shot: the netns known without the processes are dumped while a forked helper starts
        reading the processes (ProcessReader.read); booked to the network."""
        if not net_reader.persistent:
            began = time.monotonic()
            net_reader.prefetch(netns.known_before_processes([]))
            prefetched[0] = time.monotonic() - began

    procs = proc_reader.read(previous, problems, prefetch)
    clock[0] += prefetched[0]
    procs = timed("processes", procs)
    host_ns = host_namespaces(procs)
    handles = timed("netns", netns.discover(procs, host_ns.get("net"), problems))
    network = timed("network", net_reader.read(handles, problems, proc_reader.unchanged))
    parts["network"] += prefetched[0] * 1000.0
    table = timed("ns_table", namespace_table(procs, {h.inode: h.names for h in handles if h.names}))
    hostnames = timed("hostnames", hostname_reader.read(procs, problems) if hostname_reader
                      else nsfacts.read_hostnames(procs, problems))
    mounts = timed("mounts", mount_reader.read(procs, problems) if mount_reader
                   else nsfacts.read_mounts(procs, problems))
    shm = timed("shm", shm_reader.read(procs, problems) if shm_reader else nsfacts.read_shm(procs, problems))
    userns = timed("userns", nsfacts.read_userns(procs, problems))
    cgroup_info = timed("cgroups", cgroups.read_cgroups(procs, problems, readers.cgroups))
    containers, engine_states = timed("engines", engines.read_all(readers.engines, procs))

    return Snapshot(
        taken_at=wall,
        monotonic=started,
        duration_ms=(time.monotonic() - started) * 1000.0,
        processes=frozen_map(procs),
        namespaces=table,
        host_ns=frozen_map(host_ns),
        netns=frozen_map(network),
        hostnames=frozen_map(hostnames),
        mounts=frozen_map(mounts),
        shm=frozen_map(shm),
        userns=frozen_map(userns),
        cgroups=cgroup_info,
        is_root=os.geteuid() == 0,
        self_pids=frozenset({os.getpid()}),
        clock_ticks=CLOCK_TICKS,
        problems=tuple(problems),
        firewall_changes=firewall_changes,
        containers=containers,
        engines=engine_states,
        parts_ms=frozen_map(parts),
    )


def take_snapshot(previous: Snapshot | None = None, wants: WantsFor = None) -> Snapshot:
    """Observe the machine from scratch. Never changes anything.

    *previous*, if given, is used to compute per-process CPU use (cpu_percent)
    over the time between the two snapshots. *wants*: the parts to read beyond the
    standing ones (checks.runner.wants_of(steps) says what a lesson's checks read).
    """
    once = Readers(ProcessReader(), NetworkReader(persistent=False), engines.readers())
    try:
        return answer(_assemble(once, previous), wants)
    finally:
        engines.close_all(once.engines)


class Observer:
    """Snapshots for a live view: call snapshot() as often as you like; close() when done.

    Keeps one rtnetlink socket (subscribed to change events) and one sock_diag socket
    per netns, and re-dumps a netns only when it changed. Those sockets would keep a
    deleted netns alive, so each snapshot() first releases every netns that is gone.
    Likewise a file per mnt, uts and ipc namespace (see nsfacts' kept readers).
    Thread-safe: snapshot() may run in a worker thread while close() runs in another.
    """

    def __init__(self, on_netns_change: Callable[[], None] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        """*on_netns_change*, if given, is called (from a watcher thread) when a name appears in or
        leaves /run/netns: `ip netns add` sends no netlink event, so the app can refresh sooner.
        *on_change*, if given, is called (from another thread) when a process event or a netlink
        event says the machine may have changed since the last snapshot (events.py); then
        `events_live` tells whether process events come at all."""
        _raise_fd_limit()   # first: the readers size what they keep open by it
        # kept: the cgroups processes were in, and their files open (members for the process reader)
        self._cgroups = cgroups.CgroupReader()
        self._procs = ProcessReader(keep_cache=True, cgroups=self._cgroups)
        self._net = NetworkReader(persistent=True)
        self._engines = engines.readers()  # kept: each caches what it learnt by container id
        self._mounts = nsfacts.MountReader()  # kept: each mount table read again only when it changed
        self._hostnames = nsfacts.HostnameReader()  # kept: namespaces entered again after a hostname change
        self._shm = nsfacts.ShmReader()       # kept: each ipc namespace's table, re-read without entering it
        self._readers = Readers(self._procs, self._net, self._engines, self._mounts, self._cgroups,
                                self._hostnames, self._shm)
        self._previous: Snapshot | None = None
        self._on_netns_change = on_netns_change
        self._watcher = NetnsDirWatcher(self._netns_dir_changed)
        self._rules = RulesetWatch()      # firewall rules send no rtnetlink event: see firewall.py
        self._changes = ChangeWatch(on_change) if on_change is not None else None
        self.events_live = self._changes is not None and self._changes.live
        self._nat: tuple[tuple, "firewall.NatRead"] | None = None   # (what it was read under, the read)
        self.nat_reads = 0                # how often the nat table was read (for tests and the bench)

    def _netns_dir_changed(self) -> None:
        self.release_missing()
        if self._on_netns_change is not None:
            self._on_netns_change()

    def snapshot(self, wants: WantsFor = None) -> Snapshot:
        """*wants* as in take_snapshot; the nat table is read again only when it may have changed."""
        if self._changes is not None:
            self._changes.observing_from(threading.get_native_id())   # what this thread runs is ours
        changes = self._rules.poll()
        snap = answer(_assemble(self._readers, self._previous, changes), wants, lambda: self._read_nat(changes))
        self._previous = snap
        if self._changes is not None:
            # their news is read: watch them again
            netlink = [(fd, select.POLLIN, self._net.take_events) for fd in self._net.event_fds()]
            polled = [(fd, mask, None) for fd, mask in self._mounts.event_fds() + self._cgroups.event_fds()]
            self._changes.rearm(netlink + polled)
        return snap

    def _read_nat(self, changes: int) -> "firewall.NatRead":
        """The nat table, kept while nftables announces no change. The key holds the tools too: an
        iptables installed, or a legacy table loaded, meanwhile reads again."""
        tools = firewall.backends("nat")
        key = (changes, tuple(tools))
        if self._nat is not None and self._nat[0] == key:
            return self._nat[1]
        read = firewall.read_nat(tools)
        self.nat_reads += 1
        keep = self._rules.watching and firewall.nat_cacheable(tools) and not read.problem
        self._nat = (key, read) if keep else None
        return read

    @property
    def previous(self) -> Snapshot | None:
        return self._previous

    def release_missing(self) -> None:
        """Close the sockets of named netns whose /run/netns entry is gone (call on a /run/netns change)."""
        present = set(netns.named_netns([]))
        gone = [inode for inode in list(self._net.conns) if inode not in present
                and not (self._previous and self._previous.netns.get(inode) and self._previous.netns[inode].pids)]
        self._net.release(gone)

    def close(self) -> None:
        self._watcher.close()
        if self._changes is not None:
            self._changes.close()
        self._rules.close()
        self._net.close()
        self._procs.close()
        engines.close_all(self._engines)
        self._mounts.close()
        self._cgroups.close()
        self._hostnames.close()
        self._shm.close()

    def __enter__(self) -> "Observer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _raise_fd_limit() -> None:
    """Two sockets per netns and one file per process: make room (our own soft limit only)."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 16384 and hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    except (ImportError, ValueError, OSError):
        pass
