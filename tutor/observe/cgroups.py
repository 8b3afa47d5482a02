"""Cgroups: which hierarchy controls CPU here, and the CPU limits that apply.

Three kinds of machine exist in the wild, and a lab VM may be any of them:
  * v2 ("unified"): one tree at /sys/fs/cgroup; a limit is `cpu.max` = "QUOTA PERIOD" or "max PERIOD";
  * v1: one tree per controller (/sys/fs/cgroup/cpu or cpu,cpuacct); a limit is
    `cpu.cfs_quota_us` (-1 = none) over `cpu.cfs_period_us`;
  * hybrid: v1 controllers plus an empty v2 tree (/sys/fs/cgroup/unified).
A process's CPU cgroup is the path on its v1 line that lists the `cpu` controller,
or else its v2 line ("0::/path").

Members: which cgroup a pid is in is read from the cgroups' lists of threads, `tasks` (v1) and
`cgroup.threads` (v2), not from their cgroup.procs: /proc/PID/cgroup names the cgroup of the
process's leader thread (whose thread id is the pid), and the threads of one process can be in
different cgroups (v1 moves one thread when a tid is written to `tasks`; v2 in a threaded
subtree), where cgroup.procs lists the pid in each of them. A thread is in one cgroup at a time,
so the pid's entry in a thread list is exactly what its /proc/PID/cgroup says. (Read one after
another, a thread moved meanwhile may be found in two lists: the later one holds.)

`cpu_cgroup_members()` and `read_cgroups()` read from scratch (the CLI). A `CgroupReader` kept
between snapshots (the live Observer) reads the same facts for less. Why it is exactly as right:

Members (pid -> cgroup). A pid is put in the map only because this snapshot read it in the
thread list of that very directory; a pid found in no list read is left to the caller, who reads
its /proc/PID/cgroup. So which lists are read only decides what is cheap, never what is true:
the reader reads the lists of the cgroups the processes of its previous read() were in (its first
round walks the whole tree as the CLI does). A process moved meanwhile into a cgroup not in that
set is in no list read: the caller reads it afresh (ProcessReader reuses a process only if the
map names its old cgroup, never on a miss), and its new cgroup is read from the next round on.
How each list is read:
  * v1: opened afresh every time. The kernel builds a v1 pid list at the first read after an
    open and a kept descriptor goes on showing that list (pread at 0 and lseek+read alike).
  * v2: kept open and read again with pread from 0, which makes the kernel walk the cgroup's
    tasks again (v2 keeps no list: a kept descriptor shows a process moved in or out after it
    was opened). A v2 cgroup cannot be renamed (rename(2) fails with EPERM), and once it is
    removed every read of a kept descriptor fails (ENODEV): then it is dropped and the path
    opened again, so a descriptor that reads is that path's directory.
CPU limits. The files are kept open and read again with pread, which shows what was written since
(verified on the kernel: a value written after the open is read through the kept descriptor).
Which directory a kept file belongs to must still be the one the path names now:
  * v2: as above, no rename, and a removed directory (or a cpu.max removed when the parent switches
    the cpu controller off) fails its reads with ENODEV: dropped, and opened afresh by path.
  * v1: a cgroup can be renamed (within its parent: `mv a b`), and a kept descriptor follows it.
    So each kept directory remembers its inode number (kernfs numbers are not reused while the
    system runs), and its files are used only if the listing of its parent, read in this snapshot,
    names that inode at that path (the listing of the root is the top-level scan read_cgroups makes
    anyway, so one listing per other parent). A path whose inode differs, or that is gone, is
    dropped and opened afresh by its path (or found missing).
  * The root of the tree: kept files are dropped whenever /proc/self/mountinfo changed (the same
    kept descriptor and POLLPRI that decide when the layout is parsed again, see _MountWatch): so
    no kept file outlives the mount it was opened under.
Nothing written at all. With every directory of the tree watched by inotify (cgroupwatch.py says
why that sees every change), a round with no event since the last one reads nothing: members()
answers UNMOVED (each process is where the caller found it; a new one is read from /proc/PID/cgroup)
and read() its last answer, for the same set of cgroups. Any event, and the rounds before the watch
is complete, read everything as above.
Which cgroups have their limit read is what read_cgroups reads, every time: every cgroup a process
is in, their ancestors, and every top-level cgroup (listed afresh each snapshot). A file that cannot
be opened (v2: cpu not switched on for that cgroup yet) is tried again next time, not remembered.
Descriptors are kept only within a budget (fd_budget() // 8, beside the process reader's half);
beyond it a file is opened, read and closed as the CLI does.
"""
from __future__ import annotations

import itertools
import os
import select
import threading

from .cgroupwatch import TreeWatch
from .model import CgroupInfo, CpuLimit, frozen_map
from .procfs import fd_budget, pread_all, proc_path

V2_ROOT = "/sys/fs/cgroup"


def cpu_cgroup_path(text: str) -> str | None:
    """The CPU cgroup path from the text of /proc/PID/cgroup."""
    v2 = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if "cpu" in controllers.split(","):
            return path
        if hier == "0" and controllers == "":
            v2 = path
    return v2


class _MountWatch:
    """Is /proc/self/mountinfo unchanged since we last read it? The kernel flags a change on a
    kept descriptor of it (POLLPRI), so the cgroup layout is parsed again only after a mount."""

    def __init__(self) -> None:
        #: (the layout, its generation): one tuple, so a reader in another thread gets a matching pair
        self.state: tuple[tuple[str, str | None], int] | None = None
        self._poll = None
        #: a poll object refuses two poll() at once (RuntimeError): the live loop's Observer and a
        #: take_snapshot() in another thread both ask
        self._lock = threading.Lock()
        try:
            self._fd = os.open(proc_path("self", "mountinfo"), os.O_RDONLY | os.O_CLOEXEC)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLPRI | select.POLLERR)
        except OSError:
            self._poll = None

    def cached(self) -> tuple[tuple[str, str | None], int] | None:
        if self._poll is None or self.state is None:
            return None
        with self._lock:
            if self._poll.poll(0):
                os.lseek(self._fd, 0, os.SEEK_SET)
                while os.read(self._fd, 65536):  # reading to the end re-arms the notification
                    pass
                return None
            return self.state


_mounts = _MountWatch()
_generations = itertools.count()   # next() is atomic: each parse of the layout gets its own number


def cpu_hierarchy() -> tuple[str, str | None]:
    """(mode, where the cpu controller's tree is mounted), from /proc/self/mountinfo."""
    return _hierarchy()[0]


def _hierarchy() -> tuple[tuple[str, str | None], int]:
    """cpu_hierarchy() and the generation of that parse: a new number after every mount change (or
    every call, where mountinfo cannot be watched), so a kept descriptor can be tied to one mount."""
    cached = _mounts.cached()
    if cached is not None:
        return cached
    _mounts.state = (_parse_cpu_hierarchy(), next(_generations))
    return _mounts.state


def _parse_cpu_hierarchy() -> tuple[str, str | None]:
    v1_cpu = None
    v2_mount = None
    has_v1 = False
    try:
        with open(proc_path("self", "mountinfo")) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                fstype, _source, options = (right.split() + ["", "", ""])[:3]
                if fstype == "cgroup":
                    has_v1 = True
                    if "cpu" in options.split(",") and v1_cpu is None:
                        v1_cpu = fields[4]
                elif fstype == "cgroup2" and v2_mount is None:
                    v2_mount = fields[4]
    except OSError:
        pass
    if v1_cpu:
        return ("hybrid" if v2_mount else "v1"), v1_cpu
    if v2_mount:
        return ("hybrid" if has_v1 else "v2"), v2_mount
    return "none", None


def cpu_cgroup_members() -> dict[int, str] | None:
    """pid -> CPU cgroup path, read from every thread list of the cpu tree; None if it cannot be read.

    One read per cgroup (tens) instead of one /proc/PID/cgroup per process (thousands). A pid
    found in no file (it started while we walked) is left for the caller to read directly.
    The map holds every thread id; a pid's entry is its leader thread's (see the module docstring).
    """
    mode, root = cpu_hierarchy()
    if root is None:
        return None
    threads = THREADS_FILE[cpu_version(mode, root)]
    members: dict[int, str] = {}
    root = root.rstrip("/") or "/"
    try:
        for dirpath, _dirs, files in os.walk(root):
            if threads not in files:
                continue
            rel = "/" + os.path.relpath(dirpath, root) if dirpath != root else "/"
            data = _read_path(os.path.join(dirpath, threads))
            if data is not None:          # else removed while we walked
                _add_members(members, data, rel)
    except OSError:
        return None
    return members


class Unmoved:
    """What CgroupReader.members() answers when no process can have been moved since its last
    answer (no write anywhere in the tree, see cgroupwatch.py): each process is in the cgroup the
    caller found it in last time, and a process new since then is to be read from /proc/PID/cgroup."""

    def __repr__(self) -> str:
        return "UNMOVED"


UNMOVED = Unmoved()


#: The list of a cgroup's threads, by cgroup version (see the module docstring: why not cgroup.procs).
THREADS_FILE = {1: "tasks", 2: "cgroup.threads"}


def _add_members(members: dict[int, str], data: bytes, path: str) -> None:
    members.update(dict.fromkeys(map(int, data.split()), path))


def _read_path(path: str) -> bytes | None:
    """The whole of a cgroup file by its path (None: it cannot be opened or read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return pread_all(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_line(fd: int) -> bytes:
    """An open limit file: one short line, which the kernel hands over whole in one read."""
    return os.pread(fd, 4096, 0)


def _read(path: str) -> str | None:
    data = _read_path(path)
    return None if data is None else data.decode().strip()


#: The files of a cgroup's CPU limit, by cgroup version.
LIMIT_FILES = {2: ("cpu.max",), 1: ("cpu.cfs_quota_us", "cpu.cfs_period_us")}


def read_limit(root: str, path: str, version: int) -> CpuLimit | None:
    """The CPU limit of cgroup *path*, or None if it does not exist (or has no cpu files)."""
    base = os.path.join(root, path.lstrip("/"))
    texts = [_read(os.path.join(base, name)) for name in LIMIT_FILES[version]]
    return _parse_limit(path, version, texts)


def _parse_limit(path: str, version: int, texts: list) -> CpuLimit | None:
    if any(text is None for text in texts):
        return None
    if version == 2:
        quota, _, period = texts[0].partition(" ")
        return CpuLimit(path, None if quota == "max" else int(quota), int(period or 100000), 2)
    quota, period = texts
    return CpuLimit(path, None if int(quota) < 0 else int(quota), int(period), 1)


def read_cgroups(procs, problems: list[str], reader: "CgroupReader | None" = None) -> CgroupInfo:
    """Mode, cpu tree, and the limit of: every cgroup a process is in, their ancestors, and every
    top-level cgroup (so a lesson's cgroup is seen before any process is moved into it).
    With a kept *reader* (the live Observer), through it: the same facts, for less."""
    if reader is not None:
        return reader.read(procs, problems)
    mode, root = cpu_hierarchy()
    if root is None:
        return _no_tree(mode, problems)
    version = cpu_version(mode, root)
    paths, _top = _limit_paths(procs, root, problems)
    limits = {}
    for path in paths:
        limit = read_limit(root, path, version)
        if limit is not None:
            limits[path] = limit
    return CgroupInfo(mode, root, frozen_map(limits))


def _no_tree(mode: str, problems: list[str]) -> CgroupInfo:
    problems.append("no cgroup hierarchy with the cpu controller is mounted; CPU limits cannot be read")
    return CgroupInfo(mode, None)


def cpu_version(mode: str, root: str) -> int:
    """1 or 2: the cgroup version of the tree the cpu controller is in."""
    return 1 if mode == "v1" or (mode == "hybrid" and not _is_v2(root)) else 2


def _limit_paths(procs, root: str, problems: list[str]) -> tuple[set[str], dict[str, int] | None]:
    """The cgroups whose limit a snapshot shows (see read_cgroups), and the top-level ones by name
    with their inode numbers (the root's listing; None if it could not be listed)."""
    paths: set[str] = {"/"}
    for path in _cgroups_of(procs):
        while path and path not in paths:
            paths.add(path)
            path = os.path.dirname(path)
    top: dict[str, int] | None = {}
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    paths.add("/" + entry.name)
                    top[entry.name] = entry.inode()
    except OSError as exc:
        problems.append(f"cannot list the cgroups in {root}: {exc.strerror}")
        top = None
    return paths, top


def _cgroups_of(procs) -> set[str]:
    """The cgroups the processes are in (a few tens for hundreds of processes)."""
    return {proc.cgroup for proc in procs.values()}


def _is_v2(root: str) -> bool:
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def _plain(path: str | None) -> bool:
    """A path inside the tree as the kernel names it ("/a/b"). A process outside our cgroup
    namespace shows as "/../x": such paths are only ever read by path, never kept."""
    return bool(path) and path.startswith("/") and "/.." not in path    # ("/..a" too: read by path)


def _child_dirs(directory: str) -> dict[str, int]:
    """The subdirectories of *directory* by name, with their inode numbers ({} if it is gone)."""
    try:
        with os.scandir(directory) as entries:
            return {e.name: e.inode() for e in entries if e.is_dir(follow_symlinks=False)}
    except OSError:
        return {}


class _Dir:
    """The kept files of one cgroup directory, and which directory they are in (its inode number)."""
    __slots__ = ("ino", "fds", "limit")

    def __init__(self, ino: int) -> None:
        self.ino = ino
        self.fds: dict[str, int] = {}     # file name -> open descriptor
        #: (the limit files' texts, the CpuLimit made of them): parsed again only when a text changed
        self.limit: tuple[tuple[bytes, ...], CpuLimit] | None = None


class CgroupReader:
    """cpu_cgroup_members() and read_cgroups() for the live Observer, which keeps one between
    snapshots: the thread lists of the cgroups processes were in instead of a walk of the whole tree,
    and kept descriptors read with pread. Why that is exactly as right: the module docstring.
    The Observer gives it to its ProcessReader (members) and to read_cgroups (limits)."""

    def __init__(self, max_fds: int | None = None) -> None:
        self.max_fds = fd_budget() // 8 if max_fds is None else max_fds
        self.walks = 0                    # how often members() walked the whole tree (for tests)
        self._dirs: dict[str, _Dir] = {}  # cgroup path -> its kept files
        self._fds = 0                     # how many descriptors _dirs holds
        self._generation: int | None = None    # the mount layout the kept files were opened under
        self._version = 2
        #: cgroups that held a process at the last read(): the thread lists members() reads
        self._known: frozenset[str] = frozenset()
        #: every directory of the tree watched: what may have changed since the last round
        self._watch: TreeWatch | None = None
        self._moved = True                # a process may have been moved since members() last listed
        self._limits_stale = True         # a limit, or the set of cgroups, may have changed since read()
        self._listed = False              # members() has answered with lists under this watch
        self._last_read: tuple[frozenset, CgroupInfo] | None = None   # (the cgroups of read(), its answer)
        self.list_reads = 0               # rounds members() read the thread lists (for tests and the bench)

    def members(self) -> dict[int, str] | None | Unmoved:
        """pid -> CPU cgroup path for the processes of the cgroups processes were in last time; a
        pid not in the map is to be read from /proc/PID/cgroup. None if there is no cpu tree.
        UNMOVED if nothing was written into the tree since the last answer (see cgroupwatch.py)."""
        _mode, root = self._sync()
        if root is None:
            return None
        self._poll()
        if not self._moved and self._listed:
            return UNMOVED
        self.list_reads += 1
        self._moved = False
        self._listed = True
        if not self._known:
            self.walks += 1
            found = cpu_cgroup_members()
            self._listed = found is not None
            return found
        members: dict[int, str] = {}
        threads = THREADS_FILE[self._version]
        for path in self._known:
            if self._version == 2:
                data = self._file(root, path, threads, pread_all)
            else:                          # v1: a kept descriptor shows the list of its first read
                data = _read_path(os.path.join(root, path.lstrip("/"), threads))
            if data:
                _add_members(members, data, path)
        return members

    def read(self, procs, problems: list[str]) -> CgroupInfo:
        """read_cgroups(procs, problems), the same facts through kept descriptors."""
        mode, root = self._sync()
        if root is None:
            return _no_tree(mode, problems)
        self._poll()
        cgroups_now = frozenset(_cgroups_of(procs))
        if not self._limits_stale and self._last_read is not None and self._last_read[0] == cgroups_now:
            return self._last_read[1]        # nothing written, made, moved or removed in the tree since
        reported = len(problems)
        paths, top = _limit_paths(procs, root, problems)
        self._known = frozenset(filter(_plain, cgroups_now))
        listings = {"/": top} if top is not None else {}
        limits = {}
        for path in paths:
            limit = self._limit(root, path, listings) if _plain(path) else read_limit(root, path, self._version)
            if limit is not None:
                limits[path] = limit
        for path in [p for p in self._dirs if p not in paths]:    # paths holds every cgroup of _known
            self._drop(path)
        info = CgroupInfo(mode, root, frozen_map(limits))
        # kept only if all of it was read through the watched tree (a "/../x" path is outside it)
        keep = len(problems) == reported and all(map(_plain, cgroups_now))
        self._last_read = (cgroups_now, info) if keep else None
        self._limits_stale = False
        return info

    def event_fds(self) -> list[tuple[int, int]]:
        """(descriptor, poll events) of the cgroup tree's watch, if it has one (events.ChangeWatch)."""
        fd = self._watch.event_fd() if self._watch is not None else None
        return [(fd, select.POLLIN)] if fd is not None else []

    def close(self) -> None:
        for path in list(self._dirs):
            self._drop(path)
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        self._moved = self._limits_stale = True
        self._listed = False
        self._last_read = None

    def _sync(self) -> tuple[str, str | None]:
        """cpu_hierarchy(); every kept file is dropped first if a mount changed since."""
        (mode, root), generation = _hierarchy()
        if generation != self._generation:
            self.close()
            self._generation = generation
            self._version = cpu_version(mode, root) if root is not None else 2
            self._watch = TreeWatch(root) if root is not None else None
        return mode, root

    def _poll(self) -> None:
        """Anything written, made, moved or removed in the tree since the last look: read it all again."""
        if self._watch is None or self._watch.changed():
            self._moved = self._limits_stale = True

    def _limit(self, root: str, path: str, listings: dict[str, dict[str, int]]) -> CpuLimit | None:
        names = LIMIT_FILES[self._version]
        kept = self._dirs.get(path)
        if kept is not None and self._version == 1 and path != "/" and not _still_at(root, path, kept, listings):
            self._drop(path)
            kept = None
        texts = self._kept_texts(path, kept, names) if kept is not None else None
        if texts is None:
            texts = tuple(self._file(root, path, name, _read_line) for name in names)
            if None in texts:
                return None
            kept = self._dirs.get(path)
        if kept is not None and kept.limit is not None and kept.limit[0] == texts:
            return kept.limit[1]
        limit = _parse_limit(path, self._version, [text.decode().strip() for text in texts])
        if kept is not None:
            kept.limit = (texts, limit)
        return limit

    def _kept_texts(self, path: str, kept: _Dir, names: tuple[str, ...]) -> tuple[bytes, ...] | None:
        """The limit files through the kept descriptors; None if one is not kept, or fails (ENODEV:
        the directory, or this file of it, was removed; then all of it is dropped)."""
        try:
            return tuple(_read_line(kept.fds[name]) for name in names)
        except KeyError:
            return None
        except OSError:
            self._drop(path)
            return None

    def _file(self, root: str, path: str, name: str, read) -> bytes | None:
        """*read* of file *name* of cgroup *path*: through its kept descriptor, or opened by path now
        (and kept while the budget allows). None: it cannot be opened (gone, or no such file)."""
        kept = self._dirs.get(path)
        fd = kept.fds.get(name) if kept is not None else None
        if fd is not None:
            try:
                return read(fd)
            except OSError:               # ENODEV: the directory, or this file of it, was removed
                self._drop(path)
        if self._fds >= self.max_fds:
            return _read_path(os.path.join(root, path.lstrip("/"), name))
        opened = self._open(os.path.join(root, path.lstrip("/")), name)
        if opened is None:
            return None
        ino, fd = opened
        kept = self._dirs.get(path)
        if kept is not None and kept.ino != ino:   # v1: the path names another directory now
            self._drop(path)
            kept = None
        if kept is None:
            kept = self._dirs[path] = _Dir(ino)
        kept.fds[name] = fd
        self._fds += 1
        try:
            return read(fd)
        except OSError:
            self._drop(path)
            return None

    def _open(self, directory: str, name: str) -> tuple[int, int] | None:
        """(the directory's inode number, an open descriptor of its file *name*). Only v1 needs the
        inode (see _still_at); on v2 a descriptor that reads is the path's file, and ino is 0."""
        if self._version == 1:
            return _open_in(directory, name)
        try:
            return 0, os.open(os.path.join(directory, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None

    def _drop(self, path: str) -> None:
        kept = self._dirs.pop(path, None)
        if kept is None:
            return
        for fd in kept.fds.values():
            os.close(fd)
        self._fds -= len(kept.fds)


def _still_at(root: str, path: str, kept: _Dir, listings: dict[str, dict[str, int]]) -> bool:
    """v1: is the directory of *kept* still the one at *path* (not renamed away, or replaced by
    another renamed or made there)? Its parent's listing (*listings*, by cgroup path, read once per
    snapshot) names it with its inode number."""
    parent, _, name = path.rpartition("/")
    parent = parent or "/"
    entries = listings.get(parent)
    if entries is None:
        entries = listings[parent] = _child_dirs(os.path.join(root, parent.lstrip("/")))
    return entries.get(name) == kept.ino


def _open_in(directory: str, name: str) -> tuple[int, int] | None:
    """(the inode number of *directory*, an open descriptor of its file *name*), both of one
    directory (opened through a descriptor of it, so a rename meanwhile cannot mix two up)."""
    try:
        dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.fstat(dirfd).st_ino, os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dirfd)
    except OSError:
        return None
    finally:
        os.close(dirfd)
