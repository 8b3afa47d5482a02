"""Has anything in a cgroup tree changed since the last look? inotify on each of its directories.

Which cgroup a process is in, and a cgroup's CPU limit, change only by a write into one of the
tree's files (cgroup.procs, tasks, cgroup.threads, cpu.max, cpu.cfs_quota_us...), and the set of
cgroups only by mkdir, rmdir and rename inside the tree. The kernel reports each of these to an
inotify watch on the directory concerned, whoever did it: a write as IN_MODIFY (vfs_write notifies
for every file system, cgroupfs included), mkdir, rmdir and rename as IN_CREATE, IN_DELETE and
IN_MOVED_* on the parent (checked on v1 and v2: tests/test_observe_cgroups.py). So a kept
CgroupReader that saw no event since its last round may keep what it read then, and a steady
machine's cgroups cost one read(2) of the inotify descriptor.

Why a watch on every directory, not only those processes are in: moving a process from a cgroup
we list into one we do not is a write into the latter only.

What writes nothing and still changes the lists: fork and exit. They make new pids and end old
ones, which the process reader sees for itself: a new process's cgroup is read from
/proc/PID/cgroup (see processes.py). What this cannot see: the kernel moving tasks on its own,
which v1's cpuset does when CPU hot-unplug leaves a cpuset with no CPU; that matters only where
cpu and cpuset share one v1 hierarchy.

Whenever it cannot be sure, changed() says True, and the reader reads everything as the CLI does:
no inotify, a tree with more than MAX_DIRS directories (the watches would crowd out other
programs': max_user_watches is shared by every process of the user), a watch that could not be
added, or an event queue that overflowed (then the watches are made again).
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from .watch import IN_CLOEXEC, IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO, IN_NONBLOCK, libc

IN_MODIFY, IN_Q_OVERFLOW, IN_IGNORED, IN_ISDIR = 0x2, 0x4000, 0x8000, 0x40000000
WATCHED = IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
MAX_DIRS = 2048
_EVENT = struct.Struct("iIII")        # wd, mask, cookie, length of the name that follows


class TreeWatch:
    """`changed()`: may anything in the cgroup tree at *root* have changed since the previous call?"""

    def __init__(self, root: str, max_dirs: int = MAX_DIRS) -> None:
        self.root = root.rstrip("/") or "/"
        self.max_dirs = min(max_dirs, _user_watches() // 4)
        self.dirs: dict[int, str] = {}     # watch descriptor -> directory
        self.reliable = False              # every directory is watched: no event means no change
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        self._started = False

    def changed(self) -> bool:
        """True on the first call, after any event, and every time while the tree is not fully watched."""
        if self._fd < 0:
            return True
        if not self._started:
            self._started = True
            self._watch_all()
            return True
        events = self._drain()
        if events is None:                 # overflowed (or the descriptor failed): watch afresh
            self._watch_all()
            return True
        moved = False
        for wd, mask, name in events:
            if mask & IN_IGNORED:
                self.dirs.pop(wd, None)
            elif mask & IN_ISDIR and mask & (IN_MOVED_FROM | IN_MOVED_TO):
                moved = True                   # the paths under it are others now: watch afresh below
            elif mask & IN_ISDIR and mask & IN_CREATE and self.reliable and wd in self.dirs:
                # before the caller reads: a process moved into it from now on is reported
                self._watch_tree(os.path.join(self.dirs[wd], name))
        if moved:
            self._watch_all()
        return bool(events) or not self.reliable

    def _watch_all(self) -> None:
        self._drain()
        self.dirs.clear()                  # the kernel hands out the same descriptor again
        self.reliable = self._watch_tree(self.root)

    def _watch_tree(self, top: str) -> bool:
        """Watch *top* and every directory under it; False (and unreliable from then on) if one failed."""
        stack = [top]
        while stack:
            directory = stack.pop()
            if len(self.dirs) >= self.max_dirs:
                self.reliable = False
                return False
            wd = libc.inotify_add_watch(self._fd, directory.encode(), WATCHED)
            if wd < 0:
                if ctypes.get_errno() == errno.ENOENT and directory != self.root:
                    continue                   # removed while we walked: its IN_DELETE is queued
                self.reliable = False
                return False
            self.dirs[wd] = directory
            try:
                with os.scandir(directory) as entries:
                    stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
            except OSError:
                pass                           # removed meanwhile: its IN_DELETE is queued
        return True

    def _drain(self) -> list[tuple[int, int, str]] | None:
        """Every queued event as (wd, mask, name); None if the queue overflowed."""
        events: list[tuple[int, int, str]] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return events
            except OSError:
                return None
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size:offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    self._drain_rest()
                    return None
                events.append((wd, mask, os.fsdecode(name)))

    def _drain_rest(self) -> None:
        try:
            while os.read(self._fd, 65536):
                pass
        except OSError:
            pass

    def event_fd(self) -> int | None:
        """The inotify descriptor, readable once anything in the tree changed (for
        events.ChangeWatch, which only polls it; changed() reads it)."""
        return self._fd if self._fd >= 0 and self._started else None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.dirs.clear()
        self.reliable = False


def _user_watches() -> int:
    """fs.inotify.max_user_watches: how many watches all of this user's programs may hold together."""
    try:
        with open("/proc/sys/fs/inotify/max_user_watches") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 8192                        # the kernel's default before 5.11
