"""Facts per namespace: hostname per uts ns, mount table per mnt ns, SysV shared
memory per ipc ns, uid/gid maps per user ns.

Work is done per NAMESPACE, never per process: at 2,000 processes sharing a
handful of namespaces we look at one representative process per namespace
(the lowest pid, like lsns), and only try the next one if that process exited
or was replaced while we looked.

Two ways in:
  * uts and ipc facts can only be read from *inside* the namespace (uname(2)
    and /proc/sysvipc/shm answer for the calling thread's namespace), so a
    throwaway thread setns()es into each one in turn (tutor.observe.setns);
    one thread visits all namespaces of a type. Measured: /proc/sysvipc/shm
    opened by a thread that setns()ed into an ipc ns lists that namespace's
    segments (the kernel takes the ipc ns of the *opening thread*), and the
    host's file stays empty of them.
  * mnt and user facts have per-process files (/proc/PID/mountinfo,
    /proc/PID/uid_map): read directly, no namespace switch. A mount namespace
    could not be entered from a thread anyway (threads share their fs root).

Every reader checks that the process it reads from is still in the namespace
it stands for (pids get reused), and never raises: what it could not see
becomes a plain-words line in `problems`. Observing never changes anything:
namespace files are only ever opened O_RDONLY.

The live Observer keeps readers between snapshots (MountReader, HostnameReader, ShmReader), so
that 50 containers' namespaces are not all entered for every snapshot. What they reuse, and why
it cannot have changed (measured on Linux 6.18):
  * A kept file holds its namespace, so its inode number stays that namespace's: the kernel
    hands a freed namespace's inode to the very next namespace made (`unshare --uts` twice in a
    row gets the same inode), but not while any file of the old one is open. Each read first
    closes the files of the namespaces no process is in any more, so a namespace nobody is in
    is kept for one snapshot at most.
  * hostnames: /proc/sys/kernel/hostname flags POLLPRI (poll(2)) after every sethostname(2) and
    every write to that file, in ANY uts namespace: the kernel has one event counter for the
    file, not one per namespace (uts_proc_notify), and a poll that reports re-arms it. The
    counter moves before sethostname (or the write) returns: sethostname moves it while it
    still holds the uts lock that uname(2) takes to read. So: poll first; if anything was
    reported, enter every namespace again; if not, no hostname changed since the previous read
    began, and each namespace read then (held by the /proc/thread-self/ns/uts file its visiting
    thread opened) keeps its name. A namespace made since copies its maker's name without an
    event: it has a new inode (the old ones are held), so it is entered. A namespace's pid is
    not proof enough instead of a held file: a process seen not to run while the processes are
    listed may still exit, and its namespace's inode go to a new one, before the other
    processes' namespaces are read.
  * shm: /proc/sysvipc/shm answers for the ipc namespace of the thread that OPENED it, every
    time it is read from offset 0 (a seq_file: pread(fd, n, 0) starts the table again). There
    is no event for SysV IPC, so the kept file is read again for every snapshot, without setns.
    Its pids and uids are told as the opener sees them (our pid and user namespaces, which a
    visiting thread keeps), the same as in a from-scratch read.
Beyond a budget of kept files (a sixteenth of our open-file limit each) a namespace is read
the from-scratch way, every snapshot.
"""
from __future__ import annotations

import errno
import os
import re
import select
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from .model import IdMap, Mount, Process, ShmSegment, UserNsInfo
from .processes import members_by_ns, ns_sets
from .procfs import pread_all, proc_path
from .setns import each_in_namespace

#: errno values that mean "this process is gone (or a zombie)": try the next one of the namespace.
GONE = {errno.ENOENT, errno.ESRCH, errno.EINVAL}
DENIED = {errno.EACCES, errno.EPERM}
#: How many thread visits a setns reader makes at most (the next rounds only retry the
#: namespaces whose process exited during the previous one).
MAX_ROUNDS = 3
SUDO_HINT = "permission denied (run nstutor as root to look inside other namespaces)"


class _Moved:
    """The pid we used now stands for another namespace (it exited and the pid was reused)."""


MOVED = _Moved()


class _Broken:
    """func failed for a reason that another pid would not fix; carries the message."""

    def __init__(self, message: str) -> None:
        self.message = message


#: mnt inode -> (mountinfo text, parsed mounts) of the previous read_mounts call. Parsing is
#: most of its cost and mount tables rarely change between two snapshots of the live panel.
_mount_cache: dict[int, tuple[str, tuple[Mount, ...]]] = {}


# --------------------------------------------------------------- public readers
def read_hostnames(procs: Mapping[int, Process], problems: list[str]) -> dict[int, str]:
    """uts inode -> hostname (nodename) seen inside that uts namespace."""
    def hostname(inode: int):
        if _thread_ns_inode("uts") != inode:
            return MOVED
        return os.uname().nodename

    return _guarded(problems, "hostnames", lambda: _visit_each(
        "uts", _members(procs, "uts"), hostname, problems, "the hostname of uts namespace"))


def read_shm(procs: Mapping[int, Process], problems: list[str]) -> dict[int, tuple[ShmSegment, ...]]:
    """ipc inode -> the SysV shared memory segments that exist in that ipc namespace."""
    def shm_table(inode: int):
        if _thread_ns_inode("ipc") != inode:
            return MOVED
        return _read_text(proc_path("sysvipc", "shm"))

    def read_all() -> dict[int, tuple[ShmSegment, ...]]:
        raw = _visit_each("ipc", _members(procs, "ipc"), shm_table, problems,
                          "the shared memory segments of ipc namespace")
        return {inode: parse_sysvipc_shm(text) for inode, text in raw.items()}

    return _guarded(problems, "shared memory segments", read_all)


def read_mounts(procs: Mapping[int, Process], problems: list[str]) -> dict[int, tuple[Mount, ...]]:
    """mnt inode -> the mount table as seen inside that mount namespace."""
    def read_all():
        global _mount_cache
        out, cache = {}, {}
        for inode, pids in _members(procs, "mnt").items():
            # prefer a process that is not chrooted: it sees the whole table of its namespace
            pids = sorted(pids, key=lambda pid: (procs[pid].root not in ("/", None), pid))
            texts = _read_per_process(pids, "mnt", inode, ("mountinfo",), problems,
                                      "the mount table of mnt namespace")
            if texts is None:
                continue
            cached = _mount_cache.get(inode)
            mounts = cached[1] if cached and cached[0] == texts[0] else parse_mountinfo(texts[0])
            out[inode] = mounts
            cache[inode] = (texts[0], mounts)
        _mount_cache = cache  # only the namespaces that still exist; replaced in one step
        return out

    return _guarded(problems, "mount tables", read_all)


class MountReader:
    """read_mounts for a reader kept between snapshots (the live Observer): it keeps each mount
    namespace's /proc/PID/mountinfo open and reads it again only when poll(2) says that
    namespace's mount table changed (the kernel flags POLLPRI on such a file after every mount,
    umount or move in its namespace). A host with 50 containers has 50 more mount namespaces;
    reading all their tables for every snapshot cost more than the rest of their namespaces.

    Such a file holds its namespace (as a netns socket does): each read first closes the files of
    namespaces that no process is in any more."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[int, tuple[Mount, ...]]] = {}   # mnt inode -> (fd, mounts)
        self._poll = select.poll()

    def read(self, procs: Mapping[int, Process], problems: list[str]) -> dict[int, tuple[Mount, ...]]:
        return _guarded(problems, "mount tables", lambda: self._read(procs, problems))

    def _read(self, procs: Mapping[int, Process], problems: list[str]) -> dict[int, tuple[Mount, ...]]:
        groups = _members(procs, "mnt")
        for inode in [i for i in self._kept if i not in groups]:
            self._drop(inode)
        changed = {fd for fd, _ in self._poll.poll(0)} if self._kept else set()
        out = {}
        for inode, pids in groups.items():
            kept = self._kept.get(inode)
            if kept is not None and kept[0] not in changed:
                out[inode] = kept[1]
                continue
            if kept is not None:
                text = _reread(kept[0])
                if text:
                    mounts = parse_mountinfo(text)
                    self._kept[inode] = (kept[0], mounts)
                    out[inode] = mounts
                    continue
                self._drop(inode)
            pids = sorted(pids, key=lambda pid: (procs[pid].root not in ("/", None), pid))
            opened = _open_per_process(pids, "mnt", inode, "mountinfo", problems, "the mount table of mnt namespace")
            if opened is None:
                continue
            fd, text = opened
            mounts = parse_mountinfo(text)
            out[inode] = mounts
            if fd is not None:
                self._kept[inode] = (fd, mounts)
                self._poll.register(fd, select.POLLPRI | select.POLLERR)
        return out

    def _drop(self, inode: int) -> None:
        fd, _ = self._kept.pop(inode)
        try:
            self._poll.unregister(fd)
        except (KeyError, ValueError):
            pass
        os.close(fd)

    def close(self) -> None:
        for inode in list(self._kept):
            self._drop(inode)

    def event_fds(self) -> list[tuple[int, int]]:
        """(descriptor, poll events) of each kept mount table: POLLPRI once it changed (for
        events.ChangeWatch, which only polls them; read() reads them again)."""
        return [(fd, select.POLLPRI | select.POLLERR) for fd, _mounts in list(self._kept.values())]


class _Kept:
    """What a namespace visit found, with the file it keeps open for that namespace (None: over
    the budget, nothing kept)."""

    def __init__(self, fd: int | None, value) -> None:
        self.fd, self.value = fd, value


class _KeptFiles:
    """A reader kept between snapshots that holds one open file per namespace (see the module
    docstring: while it is open, the inode names that namespace and no other)."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple] = {}      # inode -> (fd, what was read through it, ...)
        self.max_fds = _kept_budget()
        self.visits = 0                        # namespaces entered (a thread setns()ed into them)
        self._lock = threading.Lock()          # Observer.close() may run while a snapshot reads

    def _room(self) -> list[int]:
        return [self.max_fds - len(self._kept)]

    @staticmethod
    def _take(room: list[int], fd: int) -> int | None:
        """*fd* to keep while *room* lasts; closed (None) beyond it."""
        if room[0] > 0:
            room[0] -= 1
            return fd
        os.close(fd)
        return None

    def _forget_gone(self, present: set[int] | Mapping[int, list[int]]) -> None:
        for inode in [i for i in self._kept if i not in present]:
            self._drop(inode)

    def _missing(self, procs: Mapping[int, Process], present: set[int]) -> dict[int, list[int]]:
        """The members of each namespace in *present* that has no kept file (listing every
        namespace's pids costs more than a snapshot's worth of kept reads: only when needed)."""
        if present <= self._kept.keys():
            return {}
        return {inode: pids for inode, pids in _members(procs, self.nstype).items() if inode not in self._kept}

    def _drop(self, inode: int) -> None:
        os.close(self._kept.pop(inode)[0])

    def close(self) -> None:
        with self._lock:
            self.max_fds = 0                   # a read after close keeps nothing open
            for inode in list(self._kept):
                self._drop(inode)

    def _count_visits(self, groups: Mapping[int, list[int]]) -> None:
        own = _thread_ns_inode(self.nstype)
        self.visits += sum(1 for inode in groups if inode != own)


class HostnameReader(_KeptFiles):
    """read_hostnames for a reader kept between snapshots (the live Observer): a namespace is
    entered again only after poll(2) on /proc/sys/kernel/hostname reported a hostname change
    somewhere (see the module docstring). Each namespace entered is held by a file of it, opened
    by the visiting thread while inside; those of namespaces no process is in are closed first."""

    nstype = "uts"

    def __init__(self) -> None:
        super().__init__()
        self._poll = select.poll()
        try:
            self._notify: int | None = os.open(proc_path("sys", "kernel", "hostname"), os.O_RDONLY | os.O_CLOEXEC)
            self._poll.register(self._notify, select.POLLPRI | select.POLLERR)
        except OSError:
            self._notify = None                # no notice of changes: keep nothing

    def read(self, procs: Mapping[int, Process], problems: list[str]) -> dict[int, str]:
        with self._lock:
            return _guarded(problems, "hostnames", lambda: self._read(procs, problems))

    def _read(self, procs: Mapping[int, Process], problems: list[str]) -> dict[int, str]:
        present = _inodes(procs, "uts")
        # first the poll, then the reads: a change made while we read is reported next time
        if self._notify is None or self._poll.poll(0):
            self._forget_gone(())
        else:
            self._forget_gone(present)
        out = {inode: kept[1] for inode, kept in self._kept.items()}
        missing = self._missing(procs, present)
        if not missing:
            return out
        room = self._room() if self._notify is not None else [0]

        def hostname(inode: int):
            # the visiting thread's own namespace file: it holds the very namespace whose name we read
            fd = os.open(proc_path("thread-self", "ns", "uts"), os.O_RDONLY | os.O_CLOEXEC)
            name = None
            try:
                if os.fstat(fd).st_ino == inode:
                    name = os.uname().nodename
            finally:
                if name is None:
                    os.close(fd)
            return MOVED if name is None else _Kept(self._take(room, fd), name)

        self._count_visits(missing)
        read = _visit_each("uts", missing, hostname, problems, "the hostname of uts namespace")
        for inode, kept in read.items():
            out[inode] = kept.value
            if kept.fd is not None:
                self._kept[inode] = (kept.fd, kept.value)
        return out

    def close(self) -> None:
        super().close()
        with self._lock:
            if self._notify is not None:
                self._poll.unregister(self._notify)
                os.close(self._notify)
                self._notify = None


class ShmReader(_KeptFiles):
    """read_shm for a reader kept between snapshots (the live Observer): each ipc namespace's
    /proc/sysvipc/shm is opened once, by a thread inside that namespace, and read again through
    pread for every snapshot, without entering the namespace (see the module docstring). The
    file holds its namespace, segments and all: each read first closes the files of namespaces
    that no process is in any more, so a dead namespace is kept for one snapshot at most."""

    nstype = "ipc"

    def read(self, procs: Mapping[int, Process], problems: list[str]) -> dict[int, tuple[ShmSegment, ...]]:
        with self._lock:
            return _guarded(problems, "shared memory segments", lambda: self._read(procs, problems))

    def _read(self, procs: Mapping[int, Process], problems: list[str]) -> dict[int, tuple[ShmSegment, ...]]:
        present = _inodes(procs, "ipc")
        self._forget_gone(present)
        out = {}
        for inode, (fd, raw, segments) in list(self._kept.items()):
            try:
                now = pread_all(fd)
            except OSError:
                self._drop(inode)              # read it the first way again, below
                continue
            if now != raw:
                segments = parse_sysvipc_shm(now.decode("utf-8", errors="replace"))
                self._kept[inode] = (fd, now, segments)
            out[inode] = segments
        missing = self._missing(procs, present)
        if not missing:
            return out
        room = self._room()

        def shm_file(inode: int):
            if _thread_ns_inode("ipc") != inode:
                return MOVED
            fd = os.open(proc_path("sysvipc", "shm"), os.O_RDONLY | os.O_CLOEXEC)
            raw = None
            try:
                raw = pread_all(fd)
            finally:
                if raw is None:
                    os.close(fd)
            return _Kept(self._take(room, fd), raw)

        self._count_visits(missing)
        read = _visit_each("ipc", missing, shm_file, problems, "the shared memory segments of ipc namespace")
        for inode, kept in read.items():
            segments = parse_sysvipc_shm(kept.value.decode("utf-8", errors="replace"))
            out[inode] = segments
            if kept.fd is not None:
                self._kept[inode] = (kept.fd, kept.value, segments)
        return out


def _kept_budget() -> int:
    """How many namespace files one kept reader may hold: a sixteenth of our open-file limit (the
    ProcessReader keeps up to half of it, see processes._fd_budget)."""
    try:
        import resource
        return max(0, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 16)
    except (ImportError, OSError, ValueError):
        return 0


def _reread(fd: int) -> str:
    """The whole of a kept /proc file again, from its start ('' if it cannot be read any more)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode("utf-8", errors="replace")


def _open_per_process(pids: list[int], nstype: str, inode: int, name: str, problems: list[str],
                      what: str) -> tuple[int | None, str] | None:
    """(an open descriptor of /proc/PID/<name>, its text) from the first pid still in namespace
    *inode*, checked as _read_per_process checks; the descriptor is None when all its processes
    show an empty table (dying or chrooted: nothing worth keeping). None: nothing could be read."""
    tried = _Tried()
    empty = False
    for dirfd in _proc_dirs_in(pids, nstype, inode, tried):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dirfd)
        except OSError as exc:
            tried.last = exc
            continue
        text = _reread(fd)
        if text:
            return fd, text
        os.close(fd)
        empty = True
        tried.last = OSError(errno.ESRCH, "exited")
    if empty:
        return None, ""
    problems.append(f"could not read {what} {inode}: {_describe(tried.last)}")
    return None


def read_userns(procs: Mapping[int, Process], problems: list[str]) -> dict[int, UserNsInfo]:
    """user inode -> its uid_map and gid_map (outside ids as seen from nstutor's own user ns)."""
    def read_all():
        out = {}
        for inode, pids in _members(procs, "user").items():
            texts = _read_per_process(pids, "user", inode, ("uid_map", "gid_map"), problems,
                                      "the id maps of user namespace")
            if texts is not None:
                out[inode] = UserNsInfo(inode=inode, uid_map=parse_id_map(texts[0]),
                                        gid_map=parse_id_map(texts[1]))
        return out

    return _guarded(problems, "user namespace id maps", read_all)


# --------------------------------------------------------------- parsers (pure)
_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape(field: str) -> str:
    r"""Undo the kernel's octal escapes in mountinfo: '\040' is a space, '\011' a tab, '\134' a backslash."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field) if "\\" in field else field


def parse_mountinfo(text: str) -> tuple[Mount, ...]:
    """Parse /proc/PID/mountinfo (see proc(5)); malformed lines are skipped.

    Line: ID PARENT MAJ:MIN ROOT TARGET VFS-OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS.
    `options` joins the per-mount options with the filesystem's own ones (like findmnt).
    """
    mounts = []
    for line in text.splitlines():
        parts = line.split(" ")  # not split(): an empty SOURCE shows as two spaces
        try:
            sep = parts.index("-", 6)
            if "\\" in line:
                parts = [unescape(p) for p in parts]
            vfs = parts[5].split(",")
            extra = [o for o in parts[sep + 3].split(",") if o and o not in ("rw", "ro") and o not in vfs] \
                if len(parts) > sep + 3 else []
            mounts.append(Mount(int(parts[0]), int(parts[1]), parts[4], parts[sep + 1], parts[sep + 2],
                                ",".join(vfs + extra), parts[3]))
        except (ValueError, IndexError):
            continue
    return tuple(mounts)


def parse_sysvipc_shm(text: str) -> tuple[ShmSegment, ...]:
    """Parse /proc/sysvipc/shm, finding columns by the header (their order is the kernel's to change).

    The kernel prints the key as a signed int; we keep it as the unsigned 32-bit number ipcs shows
    in hex (0x8aaa...), IPC_PRIVATE is 0.
    """
    lines = text.splitlines()
    if not lines:
        return ()
    header = lines[0].split()
    try:
        col = {name: header.index(name) for name in ("key", "shmid", "size", "uid", "cpid")}
    except ValueError:
        return ()
    segments = []
    for line in lines[1:]:
        cells = line.split()
        try:
            segments.append(ShmSegment(key=int(cells[col["key"]]) & 0xFFFFFFFF, shmid=int(cells[col["shmid"]]),
                                       size=int(cells[col["size"]]), uid=int(cells[col["uid"]]),
                                       cpid=int(cells[col["cpid"]])))
        except (ValueError, IndexError):
            continue
    return tuple(segments)


def parse_id_map(text: str) -> tuple[IdMap, ...]:
    """Parse a uid_map / gid_map: lines of 'INSIDE OUTSIDE COUNT'. Empty: not written yet (nothing maps)."""
    maps = []
    for line in text.splitlines():
        cells = line.split()
        if len(cells) == 3:
            try:
                maps.append(IdMap(inside=int(cells[0]), outside=int(cells[1]), count=int(cells[2])))
            except ValueError:
                continue
    return tuple(maps)


# --------------------------------------------------------------- machinery
def _guarded(problems: list[str], what: str, read: Callable[[], dict]) -> dict:
    """Run a reader; a bug or an unforeseen error costs that section, never the snapshot."""
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - the snapshot must survive anything
        problems.append(f"could not read {what}: {type(exc).__name__}: {exc}")
        return {}


def _members(procs: Mapping[int, Process], nstype: str) -> dict[int, list[int]]:
    """inode -> pids in that namespace, lowest first (the lowest is lsns's representative)."""
    return members_by_ns(procs, nstype)


def _inodes(procs: Mapping[int, Process], nstype: str) -> set[int]:
    """The namespaces of type *nstype* some process is in (what _members lists, without the pids)."""
    found = {ns.get(nstype) for ns, _ in ns_sets(procs)}
    found.discard(None)
    return found


def _thread_ns_inode(nstype: str) -> int | None:
    try:
        return os.stat(proc_path("thread-self", "ns", nstype)).st_ino
    except OSError:
        return None


def _read_text(path: str, dir_fd: int | None = None) -> str:
    """The whole file, read with plain os.read (a third of the cost of open().read() for /proc files)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, OSError) and exc.errno in DENIED:
        return SUDO_HINT
    if isinstance(exc, OSError) and exc.errno in GONE:
        return "its processes exited while nstutor looked"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) if exc else "its processes exited while nstutor looked"


def _visit_each(nstype: str, groups: dict[int, list[int]], func: Callable[[int], object],
                problems: list[str], what: str) -> dict:
    """inode -> func(inode) run inside each namespace of *groups*.

    Our own namespace is read in the calling thread (no setns: this also works without root).
    The others are visited by one throwaway thread per round; a namespace whose process
    vanished (or whose pid now belongs to another namespace) is retried with its next pid
    in the next round, at most MAX_ROUNDS rounds.
    """
    def safe(inode: int):
        try:
            return func(inode)
        except OSError:
            raise  # each_in_namespace records it; GONE errors get a retry
        except Exception as exc:  # noqa: BLE001 - an exception must not kill the visiting thread
            return _Broken(f"{type(exc).__name__}: {exc}")

    results: dict = {}
    own = _thread_ns_inode(nstype)
    next_pid = {inode: 0 for inode in groups}
    last_error: dict[int, object] = {}
    pending = set(groups)

    if own in pending:
        pending.discard(own)
        try:
            outcome = safe(own)
        except OSError as exc:
            outcome = exc
        if isinstance(outcome, (OSError, _Broken, _Moved)):
            last_error[own] = outcome
        else:
            results[own] = outcome

    for _ in range(MAX_ROUNDS):
        items = []
        for inode in sorted(pending):
            index = next_pid[inode]
            if index < len(groups[inode]):
                items.append((proc_path(groups[inode][index], "ns", nstype), inode))
                next_pid[inode] = index + 1
            else:
                pending.discard(inode)  # no process left to try
        if not items:
            break
        try:
            visited = each_in_namespace(nstype, items, safe)
        except Exception as exc:  # noqa: BLE001 - e.g. "can't start new thread"
            problems.append(f"could not visit the {nstype} namespaces: {exc}")
            return results
        for _, inode in items:
            outcome = visited.get(inode, OSError(errno.ESRCH, "the visiting thread stopped"))
            if outcome is MOVED or (isinstance(outcome, OSError) and outcome.errno in GONE):
                last_error[inode] = outcome  # try its next process in the next round
                continue
            pending.discard(inode)
            if isinstance(outcome, (OSError, _Broken)):
                last_error[inode] = outcome
            else:
                results[inode] = outcome
                last_error.pop(inode, None)

    for inode in sorted(set(groups) - set(results)):
        err = last_error.get(inode)
        reason = err.message if isinstance(err, _Broken) else _describe(err if isinstance(err, OSError) else None)
        problems.append(f"could not read {what} {inode}: {reason}")
    return results


def _read_per_process(pids: list[int], nstype: str, inode: int, names: tuple[str, ...],
                      problems: list[str], what: str) -> tuple[str, ...] | None:
    """Read /proc/PID/<name> for each name from the first pid still in namespace *inode*
    (see _proc_dirs_in: a reused pid fails instead of silently reading the newcomer)."""
    tried = _Tried()
    empty: tuple[str, ...] | None = None
    for dirfd in _proc_dirs_in(pids, nstype, inode, tried):
        try:
            texts = [_read_text(name, dir_fd=dirfd) for name in names]
        except OSError as exc:
            tried.last = exc
            continue
        if nstype == "mnt" and not texts[0]:
            # a dying process shows an empty table, and so does a chrooted one (it sees only the
            # mounts below its root): try the others, and settle for "empty" if all are like that
            empty = tuple(texts)
            tried.last = OSError(errno.ESRCH, "exited")
            continue
        return tuple(texts)
    if empty is not None:
        return empty
    problems.append(f"could not read {what} {inode}: {_describe(tried.last)}")
    return None


@dataclass
class _Tried:
    """Why the last process tried could not be read, for the problem line when none could."""
    last: OSError | None = None


def _proc_dirs_in(pids: list[int], nstype: str, inode: int, tried: _Tried) -> Iterator[int]:
    """A descriptor of /proc/PID for each of *pids* still in namespace *inode*, closed when the
    loop moves on. The namespace is checked through the descriptor itself, and the caller opens
    files relative to it: if the pid was reused meanwhile, the old descriptor fails (ESRCH)."""
    for pid in pids:
        try:
            dirfd = os.open(proc_path(pid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            tried.last = exc
            continue
        try:
            if os.stat(f"ns/{nstype}", dir_fd=dirfd).st_ino != inode:
                tried.last = OSError(errno.ESRCH, "moved to another namespace")
                continue
            yield dirfd
        except OSError as exc:
            tried.last = exc
        finally:
            os.close(dirfd)
