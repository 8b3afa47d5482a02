"""The one reader of /proc/PID/stat, and where the procfs is: everything that asks "which process
is this pid, and is it still the one I saw" asks here.

/proc/PID/stat is one line, "PID (COMM) STATE PPID PGRP SESSION ...", and COMM is the process's
own choice of name (prctl PR_SET_NAME, or the file name it was started from): it may hold
spaces and parentheses, "a) (b" included. So the fields after it are counted from the LAST ')'.

A pid alone does not name a process: once a process exits, its pid may be given to a new one.
The pair (pid, start time) does: `starttime` (field 22, clock ticks since boot) never changes
for a process and two processes with one pid cannot have started at the same tick. The snapshot
keeps it as Process.start_ticks, and same_process() is the check before acting on a pid again
(signalling it, reading through its root).

PROC is the procfs this machine's processes are read from; code builds its paths with proc_path().
"""
from __future__ import annotations

import os
from typing import NamedTuple

#: Where the procfs is mounted: every path into it is built from here (proc_path()).
PROC = "/proc"

#: Clock ticks per second: the unit of Stat's times (utime, stime, starttime).
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Stat(NamedTuple):
    """The fields of /proc/PID/stat that nstutor uses (proc(5) numbers them from 1)."""
    pid: int            # 1
    comm: str           # 2, without its parentheses
    state: str          # 3: R S D Z T I ...
    ppid: int           # 4
    pgrp: int           # 5
    session: int        # 6
    cpu_ticks: int      # 14 + 15: utime + stime
    threads: int        # 20
    start_ticks: int    # 22: starttime, with the pid the process's identity
    child_faults: int = 0   # 11 + 13: cminflt + cmajflt, the page faults of the children it has waited for

    @property
    def is_zombie(self) -> bool:
        return self.state == "Z"


def proc_path(*parts: object) -> str:
    """A path in the procfs: proc_path(42, "stat") is "/proc/42/stat", proc_path() the procfs itself. It
    reads PROC on every call, so a test may point PROC at a procfs of its own."""
    return "/".join((PROC, *map(str, parts)))


def read_small(path: str) -> bytes:
    """A small /proc file (up to 4 KiB) with plain os calls, about a third of the cost of
    open().read(); raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def parse_stat(data: bytes) -> Stat | None:
    """The fields of a /proc/PID/stat text, or None when it is not one (empty, cut short)."""
    open_, close = data.find(b"("), data.rfind(b")")
    if open_ < 0 or close < open_:
        return None
    rest = data[close + 2:].split()      # from field 3 (state) on
    try:
        return Stat(int(data[:open_]), data[open_ + 1:close].decode(errors="replace"), rest[0].decode(),
                    int(rest[1]), int(rest[2]), int(rest[3]), int(rest[11]) + int(rest[12]), int(rest[17]),
                    int(rest[19]), int(rest[8]) + int(rest[10]))
    except (IndexError, ValueError):
        return None


def read_stat(pid: int | str, root: str | None = None) -> Stat | None:
    """/proc/PID/stat parsed; None when there is no such process (or it cannot be read).

    *root*: another procfs than PROC, e.g. the one mounted in a process's own root
    (proc_path(pid, "root", "proc")), which lists the processes of its pid namespace."""
    try:
        fd = os.open(f"{root or PROC}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return parse_stat(os.read(fd, 4096))
    except OSError:             # it exited between the open and the read (ESRCH)
        return None
    finally:
        os.close(fd)


def same_process(pid: int, start_ticks: int) -> Stat | None:
    """The pid's stat if *pid* still holds the process that started at *start_ticks* and it has not
    exited (a zombie has: its root, namespaces and /proc went with it); None otherwise, the pid
    reused by another process included. A start_ticks of 0 means unknown (a made-up Process):
    then any running process with that pid is taken for it."""
    stat = read_stat(pid)
    if stat is None or stat.is_zombie or (start_ticks and stat.start_ticks != start_ticks):
        return None
    return stat


def fd_budget() -> int:
    """How many descriptors the process reader may keep open: half of our own open-file limit, less
    room for the rest (sockets, files being read). The cgroup reader keeps an eighth of this much."""
    try:
        import resource
        return max(0, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2 - 256)
    except (ImportError, OSError, ValueError):
        return 0


def pread_all(fd: int) -> bytes:
    """A kept kernel file from its start to its end: pread at 0 makes a seq_file or a cgroup list
    produce it anew; one read gives at most a page or so, and a short read is not the end."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 65536, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
