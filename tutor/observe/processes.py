"""Processes from /proc: names, states, owners, namespaces, NSpid, root, cgroup, CPU time.

Read the way `lsns` and `ps` read them (no psutil here: at 2,000 processes
psutil's per-process objects cost ~30x more than reading the few files we need).

A `ProcessReader` may keep a cache between snapshots (the live app does). It keeps only
what cannot have changed: a process's command line, owner, namespaces and root change
only by its own doing (exec, setns(2), unshare(2), chroot(2), setuid(2), rewriting its
argv), so they are reused only for a process none of whose threads has run since they were
read (each thread's schedstat is unchanged). Everything another process can change is read
every time: the parent (re-parenting when the parent exits) from /proc/PID/stat, the cgroup
(a process is moved between cgroups by someone else). A process that ran is read again in full.
The cgroup of a quiet process is read in the cgroups' thread lists of this round: it is reused
only if its old cgroup's list holds its pid now; a process listed in no list read (moved into a
cgroup the reader did not read, see cgroups.CgroupReader) is read again, /proc/PID/cgroup included.
Where nothing at all was written into the cgroup tree since the last round (cgroupwatch.py), no
list is read: each process is where it was, and a new one's /proc/PID/cgroup is read.

Why every thread: a container engine's shims and daemons have ten threads or more, and any of
them can open a socket or chroot. Why that is enough: a new thread is made by one that runs, so
if none of the threads we know of ran, there is none we do not know of. A thread seen for the
first time is believed quiet only from the next round on (its first schedstat was read after
the facts it would vouch for).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from .cgroups import UNMOVED, CgroupReader, Unmoved, cpu_cgroup_members, cpu_cgroup_path
from .model import NS_TYPES, Namespace, Process, Snapshot
from . import procfs, shared_read
from .procfs import CLOCK_TICKS, fd_budget, parse_stat, proc_path, read_small


@dataclass(frozen=True, slots=True)
class _Static:
    """What stays the same for a process until it execs."""
    start_ticks: int
    comm: str
    cmdline: tuple[str, ...]
    uid: int
    ns: Mapping[str, int]
    nspid: tuple[int, ...]
    root: str | None


_interned: dict[tuple, Mapping[str, int]] = {}


def _intern(ns: dict[str, int]) -> Mapping[str, int]:
    """One shared read-only mapping per distinct set of namespaces: thousands of processes share a
    few hundred sets, so the lsns table can group processes by set instead of one by one."""
    key = tuple(ns.items())
    found = _interned.get(key)
    if found is None:
        if len(_interned) > 50_000:
            _interned.clear()
        found = _interned[key] = MappingProxyType(ns)
    return found


#: (type, where its inode starts in the link text "net:[4026531840]"), in NS_TYPES order
_NS_LINKS = tuple((nstype, len(nstype) + 2) for nstype in NS_TYPES)
_NS_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_PID_LINK = NS_TYPES.index("pid")
#: the link texts of a process's namespaces (None: unreadable) -> their interned mapping (_intern)
_by_links: dict[tuple[str | None, ...], Mapping[str, int]] = {}


def _ns_inodes(pid: int, base: str | None = None) -> Mapping[str, int]:
    """type -> inode of each namespace of *pid* (*base*: its /proc/PID directory, if already made),
    as the interned mapping of that set (see _intern)."""
    return _ns_of_links(_ns_links(base or proc_path(pid)))


def _ns_links(base: str) -> tuple[str | None, ...] | None:
    """The texts of the namespace links of the process at *base* (its /proc/PID), in NS_TYPES
    order, None for one that cannot be read; None when the process is gone.

    The links are read relative to one O_PATH descriptor of /proc/PID/ns: 8 links for each of
    thousands of processes, and each lookup of the full path walks /proc/PID again. Every link is
    read every time; only turning the texts into numbers is done once per distinct set of texts
    (2,000 processes in ~200 sets: parsing them was a fifth of the cost above the syscalls)."""
    try:
        ns_dir = os.open(base + "/ns", _NS_DIR_FLAGS)
    except OSError:
        return None                                # gone
    readlink = os.readlink
    links: list[str | None] = []
    try:
        for nstype in NS_TYPES:
            try:
                links.append(readlink(nstype, dir_fd=ns_dir))
            except OSError:
                links.append(None)                 # EACCES (e.g. PID 1 here) or gone: lsns skips it too
    finally:
        os.close(ns_dir)
    return tuple(links)


def _ns_of_links(key: tuple[str | None, ...] | None) -> Mapping[str, int]:
    """The interned mapping (see _intern) of a set of link texts from _ns_links."""
    if key is None:
        return _intern({})
    found = _by_links.get(key)
    if found is None:
        if len(_by_links) > 50_000:
            _by_links.clear()
        found = _by_links[key] = _intern({nstype: int(link[start:-1])
                                          for (nstype, start), link in zip(_NS_LINKS, key) if link is not None})
    return found


def _nspid(pid: int) -> tuple[int, ...]:
    try:
        with open(proc_path(pid, "status"), "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return tuple(int(x) for x in line.split()[1:])
    except OSError:
        pass
    return (pid,)


def _read_or_none(where: str) -> bytes | None:
    try:
        return read_small(where)
    except OSError:
        return None


def _read_whole(where: str) -> bytes:
    """A /proc file that may be longer than a page (a command line), with plain os calls: the
    kernel fills one read as far as it asks, so one read usually has it all."""
    fd = os.open(where, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _WHOLE_CHUNK)
        if len(data) < _WHOLE_CHUNK:
            return data
        chunks = [data]
        while chunk := os.read(fd, _WHOLE_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


_WHOLE_CHUNK = 65536


def _read_static(pid: int, start_ticks: int, comm: str, host_pidns: int | None) -> _Static | None:
    fields = _static_fields(pid, proc_path(pid), host_pidns)
    if fields is None:
        return None
    cmdline, uid, ns, nspid, root = fields
    return _Static(start_ticks, comm, cmdline, uid, ns, nspid, root)


def _static_fields(pid: int, base: str, host_pidns: int | None) -> tuple | None:
    """(cmdline, uid, namespaces, NSpid, root) of *pid*, whose /proc directory is *base*; None if gone."""
    try:
        raw = _read_whole(base + "/cmdline")
        uid = os.stat(base).st_uid
    except OSError:
        return None
    # one decode, then split: the same as decoding each argument (a NUL is never part of a
    # malformed sequence), at half the cost
    cmdline = tuple(raw.rstrip(b"\0").decode(errors="replace").split("\0")) if raw else ()
    ns = _ns_inodes(pid, base)             # interned
    # NSpid has more than one entry only in a nested pid namespace: skip the costly status read otherwise
    nspid = _nspid(pid) if ns.get("pid") not in (None, host_pidns) else (pid,)
    try:
        root = os.readlink(base + "/root")
    except OSError:
        root = None
    return cmdline, uid, ns, nspid, root


def _read_cgroup(pid: int) -> str | None:
    try:
        with open(proc_path(pid, "cgroup"), "rb") as f:
            return cpu_cgroup_path(f.read().decode(errors="replace"))
    except OSError:
        return None


def _same_cgroup(members: dict[int, str] | None | Unmoved, pid: int, before: Process) -> bool:
    """Is *pid* listed, in this round, in the thread list of the cgroup it was in (or was nothing
    moved at all)? A pid listed nowhere (moved into a cgroup not read, or a cgroup we could not
    name) is not the same."""
    if members is UNMOVED:
        return before.cgroup is not None
    return members is not None and before.cgroup is not None and members.get(pid) == before.cgroup


def _cgroup_of(pid: int, members: dict[int, str] | None | Unmoved, before: Process | None,
               start_ticks: int) -> str | None:
    """The CPU cgroup of *pid*: from the tree's thread lists when we have them (one read per
    cgroup instead of one per process), where nothing was moved the one it was in, else from
    /proc/PID/cgroup (a new process: only a write moves a process, but a fork makes one)."""
    if members is UNMOVED:
        if before is not None and before.start_ticks == start_ticks and before.cgroup is not None:
            return before.cgroup
        return _read_cgroup(pid)
    if members is not None:
        found = members.get(pid)
        if found is not None:
            return found
    return _read_cgroup(pid)


@dataclass
class ProcessReader:
    """Reads every process; with keep_cache=True it remembers what only changes on exec."""
    keep_cache: bool = False
    #: where the cgroup members come from: a kept CgroupReader (the Observer's), or a walk of the tree
    cgroups: CgroupReader | None = None
    cache: dict[int, _Static] = field(default_factory=dict)
    #: pid -> open /proc/PID/stat (kept with keep_cache): one pread per process and snapshot instead of
    #: open + read + close. Such an fd is tied to that very process: once it exits, reads fail (ESRCH),
    #: so a recycled pid is never mistaken for the old process.
    stat_fds: dict[int, int] = field(default_factory=dict)
    max_fds: int = field(default_factory=lambda: fd_budget())
    #: pid -> the stat text of the previous snapshot: a process whose stat text, cgroup and CPU use are
    #: unchanged (most sleeping processes) is the same Process object as last time, not a new one
    last_stat: dict[int, bytes] = field(default_factory=dict)
    sched_fds: dict[int, int] = field(default_factory=dict)      # pid -> open /proc/PID/schedstat
    last_sched: dict[int, bytes] = field(default_factory=dict)   # pid -> its main thread's schedstat then
    #: pid -> {tid: [open /proc/PID/task/TID/schedstat, its text when last read]} of a multi-threaded
    #: process's other threads. They are read only while the main thread is quiet: an older text
    #: only makes a process look as if it ran, never the other way round.
    thread_fds: dict[int, dict[int, list]] = field(default_factory=dict)
    thread_fd_count: int = 0
    #: pids whose every thread we watch: single-threaded ones, and multi-threaded ones whose
    #: threads all have a kept schedstat descriptor (a process over the budget is read in full)
    threads_known: set[int] = field(default_factory=set)
    #: after read(): the pids that are the very Process of the previous read (none of their
    #: threads has run since): what they hold, such as their open files, cannot have changed
    unchanged: frozenset[int] = frozenset()

    def _stat_bytes(self, pid: int) -> bytes | None:
        """The text of /proc/PID/stat, through a kept fd when we keep state between snapshots."""
        if not self.keep_cache:
            return _read_or_none(proc_path(pid, "stat"))
        data = self._pread_kept(self.stat_fds, pid, "stat", 4096)
        return data if data is not None else _read_or_none(proc_path(pid, "stat"))

    def _sched_bytes(self, pid: int) -> bytes | None:
        """/proc/PID/schedstat (run time in ns): a third of the cost of stat, and it changes whenever
        the process ran, so it tells which processes need their stat read again."""
        return self._pread_kept(self.sched_fds, pid, "schedstat", 256)

    def _pread_kept(self, fds: dict[int, int], pid: int, name: str, size: int) -> bytes | None:
        """/proc/PID/<name> through a descriptor kept in *fds* (opened on first use, while the
        budget allows). Such a descriptor is tied to that very process: once it exits, reads fail
        (ESRCH), so a recycled pid gets a fresh descriptor. None: gone, or over the budget."""
        fd = fds.get(pid)
        if fd is not None:
            try:
                return os.pread(fd, size, 0)
            except OSError:                          # that process is gone; the pid may be a new one
                os.close(fds.pop(pid))
        if self._kept_fd_count() >= self.max_fds:
            return None
        try:
            fd = os.open(proc_path(pid, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            data = os.pread(fd, size, 0)
        except OSError:
            os.close(fd)
            return None
        fds[pid] = fd
        return data

    def _kept_fd_count(self) -> int:
        return len(self.stat_fds) + len(self.sched_fds) + self.thread_fd_count

    def _quiet(self, pids: list[int]) -> set[int]:
        """The processes none of whose threads has run since the previous read (every thread's
        schedstat the same as then). Only a process whose threads we all know can be quiet."""
        if not self.keep_cache:
            return set()
        last, now = self.last_sched, {}
        threads = self.thread_fds
        kept, pread = self.sched_fds, os.pread
        quiet = set()
        for pid in pids:
            fd = kept.get(pid)
            try:                                 # the common case inline: a thousand times a round
                data = pread(fd, 256, 0) if fd is not None else None
            except OSError:
                data = None
            if data is None:
                data = self._sched_bytes(pid)    # opens it, or finds the process gone
                if data is None:
                    continue
            now[pid] = data
            if data == last.get(pid) and (pid not in threads or _threads_quiet(threads[pid])):
                quiet.add(pid)
        self.last_sched = now
        return quiet

    def _know_threads(self, pid: int, threads: int) -> None:
        """After a full read of *pid* (its stat says *threads*): watch each of its threads. A thread
        seen for the first time makes the process unfit for reuse next round (see the docstring)."""
        kept = self.thread_fds.pop(pid, {})
        tids = None
        if threads > 1:
            try:
                tids = {int(t) for t in os.listdir(proc_path(pid, "task")) if t.isdigit()} - {pid}
            except OSError:
                pass                             # gone: the next read says so
        for tid in [t for t in kept if tids is None or t not in tids]:
            os.close(kept.pop(tid)[0])
            self.thread_fd_count -= 1
        if threads == 1:
            self.threads_known.add(pid)
            return
        known = tids is not None
        for tid in sorted(tids - kept.keys()) if known else ():
            try:
                if self._kept_fd_count() >= self.max_fds:
                    raise OSError("over the descriptor budget")
                fd = os.open(proc_path(pid, "task", str(tid), "schedstat"), os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                known = False                    # over budget, or gone while we listed
                break
            try:
                text = os.pread(fd, 256, 0)
            except OSError:                      # exited between the open and the read (ESRCH)
                os.close(fd)
                known = False
                break
            kept[tid] = [fd, text]
            self.thread_fd_count += 1
            self.last_sched.pop(pid, None)       # its first text was read after the facts
        if kept:
            self.thread_fds[pid] = kept
        if known:
            self.threads_known.add(pid)
        else:
            self.threads_known.discard(pid)

    def close(self) -> None:
        for fds in (self.stat_fds, self.sched_fds):
            for fd in fds.values():
                os.close(fd)
            fds.clear()
        for kept in self.thread_fds.values():
            for fd, _text in kept.values():
                os.close(fd)
        self.thread_fds.clear()
        self.thread_fd_count = 0

    def read(self, previous: Snapshot | None, problems: list[str],
             meanwhile: Callable[[], None] = lambda: None) -> dict[int, Process]:
        """Every process. *meanwhile*: other work that does not need them, done here while a forked
        helper starts on a from-scratch read (see _read_cold); else before reading."""
        if not self.keep_cache and self.cgroups is None:
            return self._read_cold_all(previous, problems, meanwhile)
        meanwhile()
        try:
            pids = sorted(int(e) for e in os.listdir(proc_path()) if e.isdigit())   # so groups come out sorted
        except OSError as exc:
            problems.append(f"cannot list /proc: {exc.strerror}")
            return {}
        host_pidns = _host_pidns()
        prev = previous.processes if previous else {}
        elapsed = (_now() - previous.monotonic) if previous else 0.0
        procs: dict[int, Process] = {}
        members = self.cgroups.members() if self.cgroups is not None else cpu_cgroup_members()
        cache = self.cache
        new_cache: dict[int, _Static] = {}
        last_stat, new_stat = self.last_stat, {}
        # A process that did not run cannot have changed its state, CPU time or command, and its ppid
        # only changes when its parent exits (which the parent must run to do): such a process,
        # all of whose threads we watch, in the same cgroup, is reused as it was.
        quiet = self._quiet(pids)
        known = self.threads_known
        for pid in pids:
            before = prev.get(pid)
            if (pid in quiet and before is not None and before.cpu_percent == 0.0 and pid in known
                    and (before.ppid in quiet or before.ppid == 0) and pid in cache and pid in last_stat
                    and _same_cgroup(members, pid, before)):
                procs[pid] = before
                new_cache[pid] = cache[pid]
                new_stat[pid] = last_stat[pid]
                continue
            # it has not run since the last read, so nothing it does itself can have changed
            unchanged = pid in quiet and pid in known
            raw = self._stat_bytes(pid)
            if not raw:
                continue                            # exited while we looked
            if (unchanged and before is not None and raw == last_stat.get(pid) and before.cpu_percent == 0.0
                    and _same_cgroup(members, pid, before) and pid in cache):
                procs[pid] = before                 # nothing about it changed
                new_cache[pid] = cache[pid]
                new_stat[pid] = raw
                continue
            stat = parse_stat(raw)
            if stat is None:
                continue
            comm, state, ppid, cpu, start = stat.comm, stat.state, stat.ppid, stat.cpu_ticks, stat.start_ticks
            if self.keep_cache and not unchanged:
                self._know_threads(pid, stat.threads)
            static = cache.get(pid)
            if static is None or static.start_ticks != start or static.comm != comm or not unchanged:
                static = _read_static(pid, start, comm, host_pidns)
                if static is None:
                    continue
            # A user process with no command line was caught in the middle of an exec (its new comm
            # set, its arguments not yet): read it again next round, never keep it (a sleep that never
            # runs again would be `[sleep]` for ever). Kernel threads and zombies have none for good.
            if static.cmdline or ppid == 2 or pid == 2 or state in "ZX":
                new_cache[pid] = static
            new_stat[pid] = raw
            cpu_percent = None
            if before is not None and before.start_ticks == start and elapsed > 0:
                cpu_percent = 100.0 * (cpu - before.cpu_ticks) / CLOCK_TICKS / elapsed
            procs[pid] = Process(pid, ppid, comm, static.cmdline, state, static.uid, static.ns, static.nspid,
                                 static.root, _cgroup_of(pid, members, before, start), cpu, start, cpu_percent,
                                 stat.child_faults)
        self.unchanged = frozenset(pid for pid, proc in procs.items() if prev.get(pid) is proc)
        if self.keep_cache:
            self.cache = new_cache
            self.last_stat = new_stat
            for fds in (self.stat_fds, self.sched_fds):
                for pid in [p for p in fds if p not in procs]:
                    os.close(fds.pop(pid))
            for pid in [p for p in self.thread_fds if p not in procs]:
                for fd, _text in self.thread_fds.pop(pid).values():
                    os.close(fd)
                    self.thread_fd_count -= 1
            self.threads_known &= procs.keys()
        return procs

    def _read_cold_all(self, previous: Snapshot | None, problems: list[str],
                       meanwhile: Callable[[], None]) -> dict[int, Process]:
        try:
            pids = sorted(int(e) for e in os.listdir(proc_path()) if e.isdigit())   # so groups come out sorted
        except OSError as exc:
            meanwhile()
            problems.append(f"cannot list /proc: {exc.strerror}")
            return {}
        prev = previous.processes if previous else {}
        elapsed = (_now() - previous.monotonic) if previous else 0.0
        members: list = []            # read in meanwhile's time, while the helper starts

        def first() -> None:
            meanwhile()
            members.append(cpu_cgroup_members())

        return self._read_cold(pids, _host_pidns(), prev, elapsed, members, first)

    def _read_cold(self, pids: list[int], host_pidns: int | None, prev: Mapping[int, Process], elapsed: float,
                   members_of: list, first: Callable[[], None]) -> dict[int, Process]:
        """Every process read from scratch (take_snapshot(): nothing is kept, nothing reused), in a
        loop of its own: at 2,000 processes the general loop's lookups of what a kept reader reuses
        add up. The same Process as the general loop makes of a process it reads in full.

        The reading and parsing (the syscalls, most of the time) is shared with a forked helper on
        the other CPU, in chunks (shared_read.py); the rows are made into Process objects here."""
        procs: dict[int, Process] = {}
        host_pid_link = f"pid:[{host_pidns}]" if host_pidns is not None else None

        def made(rows: list[tuple]) -> list[Process]:
            members = members_of[0]
            out = []
            for pid, ppid, comm, cmdline, state, uid, links, nspid, root, cpu, start, child_faults in rows:
                before = prev.get(pid)
                cpu_percent = None
                if before is not None and before.start_ticks == start and elapsed > 0:
                    cpu_percent = 100.0 * (cpu - before.cpu_ticks) / CLOCK_TICKS / elapsed
                out.append(Process(pid, ppid, comm, cmdline, state, uid, _ns_of_links(links), nspid or (pid,), root,
                                   _cgroup_of(pid, members, before, start), cpu, start, cpu_percent, child_faults))
            return out

        chunks = [(procfs.PROC, host_pid_link, pids[i:i + _COLD_CHUNK]) for i in range(0, len(pids), _COLD_CHUNK)]
        for made_chunk in shared_read.read_chunks(chunks, _read_raw_chunk, made, first):
            for proc in made_chunk:
                procs[proc.pid] = proc
        self.unchanged = frozenset()
        return procs


#: processes per chunk of a cold read (shared_read.py): small enough that the caller and its
#: helper meet close to the middle, large enough that a chunk's bookkeeping is noise
_COLD_CHUNK = 48


def _read_raw_chunk(chunk: tuple[str, str | None, list[int]]) -> list[tuple]:
    """What a cold read reads of each process of *chunk* (procfs, the host's pid namespace link,
    pids), parsed into plain data (it may come from the forked helper, see shared_read.py): per
    process still there, (pid, ppid, comm, cmdline, state, uid, namespace link texts or None,
    NSpid or None when it is just (pid,), root or None, CPU ticks, start ticks, child faults).
    Processes with the same namespaces get the same tuple of link texts (marshal sends it once)."""
    proc_root, host_pid_link, pids = chunk
    rows = []
    stat_, readlink = os.stat, os.readlink
    same_links: dict[tuple, tuple] = {}
    for pid in pids:
        base = f"{proc_root}/{pid}"
        raw = _read_or_none(base + "/stat")
        if not raw:
            continue                            # exited while we looked
        stat = parse_stat(raw)
        if stat is None:
            continue
        try:
            raw_cmdline = _read_whole(base + "/cmdline")
            uid = stat_(base).st_uid
        except OSError:
            continue
        links = _ns_links(base)
        if links is not None:
            links = same_links.setdefault(links, links)
        # NSpid has more than one entry only in a nested pid namespace: skip the costly status read otherwise
        pid_link = links[_PID_LINK] if links is not None else None
        nspid = _nspid(pid) if pid_link is not None and pid_link != host_pid_link else None
        try:
            root = readlink(base + "/root")
        except OSError:
            root = None
        # one decode, then split: the same as decoding each argument (a NUL is never part of a
        # malformed sequence), at half the cost
        cmdline = tuple(raw_cmdline.rstrip(b"\0").decode(errors="replace").split("\0")) if raw_cmdline else ()
        rows.append((pid, stat.ppid, stat.comm, cmdline, stat.state, uid, links, nspid, root, stat.cpu_ticks,
                     stat.start_ticks, stat.child_faults))
    return rows


def _threads_quiet(kept: dict[int, list]) -> bool:
    """Has none of these threads run since its text was last read? Keeps each one's new text (read
    now, before the facts it vouches for; see ProcessReader.thread_fds)."""
    entries = kept.values()
    try:
        texts = [os.pread(entry[0], 256, 0) for entry in entries]
    except OSError:                              # a thread exited: the next full read relists
        return False
    quiet = True
    for entry, text in zip(entries, texts):
        if entry[1] != text:
            entry[1] = text
            quiet = False
    return quiet


def _now() -> float:
    import time
    return time.monotonic()


def _host_pidns() -> int | None:
    for where in (proc_path(1, "ns", "pid"), proc_path("self", "ns", "pid")):
        try:
            return os.stat(where).st_ino
        except OSError:
            continue
    return None


def read_processes(previous: Snapshot | None, problems: list[str]) -> dict[int, Process]:
    return ProcessReader().read(previous, problems)


def host_namespaces(procs: dict[int, Process]) -> dict[str, int]:
    """The host's namespaces: PID 1's, or our own for the types PID 1's cannot be read (EACCES)."""
    host = dict(procs[1].ns) if 1 in procs else {}
    for nstype in NS_TYPES:
        if nstype not in host:
            try:
                host[nstype] = os.stat(proc_path("self", "ns", nstype)).st_ino
            except OSError:
                pass
    return host


_last_sets: tuple = (None, [], {})   # (procs, its namespace sets, members_by_ns memo per type)


def ns_sets(procs: Mapping[int, Process]) -> list[tuple[Mapping[str, int], list[Process]]]:
    """The processes grouped by their set of namespaces: [(ns mapping, processes)].

    Several readers need it for the same snapshot; it is computed once per `procs` object (we keep
    a reference to that object, so its id cannot be reused by another while cached)."""
    global _last_sets
    if _last_sets[0] is procs:
        return _last_sets[1]
    by_set: dict[int, tuple[Mapping[str, int], list[Process]]] = {}
    for proc in procs.values():
        entry = by_set.get(id(proc.ns))
        if entry is None:
            entry = by_set[id(proc.ns)] = (proc.ns, [])
        entry[1].append(proc)
    sets = list(by_set.values())
    _last_sets = (procs, sets, {})
    return sets


def members_by_ns(procs: Mapping[int, Process], nstype: str) -> dict[int, list[int]]:
    """inode -> pids in that namespace of type *nstype*, lowest first (callers must not modify it).

    Processes that share a set of namespaces share one mapping object (see _intern), so this
    groups by that object first: a few hundred sets instead of thousands of lookups."""
    memo = _last_sets[2] if _last_sets[0] is procs else None
    if memo is not None and nstype in memo:
        return memo[nstype]
    out: dict[int, list[int]] = {}
    for ns, members in ns_sets(procs):
        inode = ns.get(nstype)
        if inode is not None:
            out.setdefault(inode, []).extend(p.pid for p in members)
    for pids in out.values():
        pids.sort()
    _last_sets[2][nstype] = out     # ns_sets(procs) above made sure the memo is this procs's
    return out


#: The previous table: (type, inode) -> ((nprocs, first process, names), its row), and the rows in
#: order. Most rows of a steady machine are the same from one snapshot to the next: they are
#: reused, and so is the whole tuple when nothing at all changed (the panel then redraws nothing).
_last_table: tuple[dict, tuple] = ({}, ())
#: What the last table was made of: per namespace set, (its mapping, how many, its lowest process),
#: and the netns names. The same of each makes the same table (see namespace_table).
_last_made_of: tuple[list, dict] = ([], {})


def namespace_table(procs: dict[int, Process], netns_names: dict[int, tuple[str, ...]]) -> tuple[Namespace, ...]:
    """The lsns table: one row per (type, inode) with NPROCS, lowest PID, its owner and command.

    Plus a row for each named netns that no process is in (lsns leaves those out; a learner who just
    ran `ip netns add` expects to see theirs)."""
    global _last_table, _last_made_of
    sets = ns_sets(procs)
    # Each row is its namespace's count and lowest process, summed over the sets that hold it: the
    # same sets (one interned mapping each, see _intern), each with as many processes and the same
    # lowest one, under the same names, make the very same rows. A steady machine stops here.
    made_of = [(ns, len(members), members[0]) for ns, members in sets]
    last_made_of, last_names = _last_made_of
    if (_last_table[1] and netns_names == last_names and len(made_of) == len(last_made_of)
            and all(ns is was_ns and _same_row((was_count, was_first, ()), count, first, ())
                    for (ns, count, first), (was_ns, was_count, was_first) in zip(made_of, last_made_of))):
        _last_made_of = (made_of, last_names)
        return _last_table[1]
    _last_made_of = (made_of, dict(netns_names))
    # group by namespace set first (few hundred sets for thousands of processes), then by namespace
    groups: dict[tuple[str, int], list] = {}     # (type, inode) -> [count, lowest process]
    for _ns, members in sets:
        count, lowest = len(members), members[0]   # procs is in pid order, so each group is too
        for key in lowest.ns.items():
            entry = groups.get(key)
            if entry is None:
                groups[key] = [count, lowest]
            else:
                entry[0] += count
                if lowest.pid < entry[1].pid:
                    entry[1] = lowest
    for inode in netns_names:
        groups.setdefault(("net", inode), [0, None])
    last, last_rows = _last_table
    table = {}
    same = len(groups) == len(last)
    for key, (count, first) in groups.items():
        names = tuple(netns_names.get(key[1], ())) if key[0] == "net" else ()
        old = last.get(key)
        if old is not None and _same_row(old[0], count, first, names):
            table[key] = old
            continue
        same = False
        row = (Namespace(key[1], key[0], count, first.pid, first.uid, first.command, names) if first is not None
               else Namespace(key[1], "net", 0, None, None, "", names))
        table[key] = ((count, first, names), row)
    if same:
        return last_rows
    rows = tuple(sorted((row for _, row in table.values()), key=lambda r: (r.inode, NS_TYPES.index(r.type))))
    _last_table = (table, rows)
    return rows


def _same_row(before: tuple, count: int, first: Process | None, names: tuple) -> bool:
    was_count, was_first, was_names = before
    if was_count != count or was_names != names:
        return False
    if was_first is first:
        return True
    return (first is not None and was_first is not None and was_first.pid == first.pid
            and was_first.uid == first.uid and was_first.cmdline == first.cmdline and was_first.comm == first.comm)
