"""Watch /run/netns with inotify, so a persistent Observer can let go of a deleted netns at once.

`ip netns del RED` only removes the name; the namespace itself lives on while
anything holds it, and the Observer's netlink sockets do. Left alone, RED and
its veth0 would linger until the next snapshot, long enough to break a script
that deletes RED and immediately builds it again (the old veth1 would still sit
in BLUE). This thread wakes on every change in /run/netns and calls back, and the
callback closes the sockets of the names that went away. `ip netns add` emits no
netlink event either, so the same wake-up also lets the app refresh sooner.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import threading
from typing import Callable

IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO = 0x100, 0x200, 0x40, 0x80
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000

#: the C library, for the inotify calls Python has no wrapper of (cgroupwatch.py uses it too)
libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class WakePipe:
    """A pipe that wakes a thread blocked in poll(2): register `fileno`, `poke()` from elsewhere,
    `drain()` once woken. Both ends are non-blocking, so a poke never blocks (a full pipe already
    holds a wake-up)."""

    def __init__(self) -> None:
        self.fileno, self._write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def poke(self) -> None:
        try:
            os.write(self._write_end, b"x")
        except OSError:                # full (a wake-up is pending anyway) or closed
            pass

    def drain(self) -> None:
        try:
            while os.read(self.fileno, 4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.fileno, self._write_end):
            try:
                os.close(fd)
            except OSError:            # closed before
                pass


class NetnsDirWatcher:
    """Calls *on_change()* from a daemon thread whenever an entry of *directory* appears or disappears."""

    def __init__(self, on_change: Callable[[], None], directory: str = "/run/netns") -> None:
        self.on_change = on_change
        self.directory = directory
        self._stop = threading.Event()
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        self._wake = WakePipe()           # close() ends the poll at once
        self._thread: threading.Thread | None = None
        if self._fd >= 0:
            self._thread = threading.Thread(target=self._run, name="nstutor-netns-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        watching = False
        # poll, not select: the Observer keeps thousands of descriptors open, and select() cannot
        # take one numbered 1024 or more
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake.fileno, select.POLLIN)
        while not self._stop.is_set():
            if not watching and os.path.isdir(self.directory):
                # the directory appears with the first `ip netns add`: (re)try until it is there
                watching = libc.inotify_add_watch(self._fd, self.directory.encode(),
                                                   IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) >= 0
            if not poller.poll(500) or self._stop.is_set():
                continue
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            if data:
                try:
                    self.on_change()
                except Exception:  # noqa: BLE001 - a callback bug must not kill the watcher
                    pass

    def close(self) -> None:
        self._stop.set()
        self._wake.poke()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._wake.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
