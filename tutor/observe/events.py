"""Wake the live loop when the machine may have changed, instead of looking every second.

Almost every change a learner makes is a command that runs and ends (`ip netns add`, `unshare
... sleep`, `hostname`, `mount`), and the ones a daemon makes show up on netlink. So one thread
waits, in a single poll(2), on:

* the kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC): a program started
  (exec) or a process ended (exit) anywhere on the machine. Processes that the observing thread
  forks (a snapshot runs `nft`, `iptables`...) and their children are ignored, or every look
  would call for the next one. Needs CAP_NET_ADMIN in the initial user and pid namespace: as root on a
  VM, yes; elsewhere the subscription fails and `live` stays False;
* the Observer's rtnetlink sockets, one per network namespace, each subscribed to link, address,
  route and neighbour changes (links a daemon adds, a carrier that comes up). When one is
  readable, this thread reads its events for the Observer (NetworkReader.take_events: the next
  snapshot dumps that netns again) and wakes the loop unless they were only the kernel's own
  neighbour churn (a learned entry turning STALE, a bridge learning a MAC), which a busy network
  sends all the time and no learner causes; the next round shows it anyway;
* the Observer's kept mount tables (/proc/PID/mountinfo, POLLPRI once a mount changed) and its
  inotify watch of the cgroup tree: only polled (the Observer reads them), so once one is ready it
  wakes the loop and is left alone until the Observer calls `rearm()` after its next snapshot;
* a pipe of its own, to be woken by rearm() and close().

/run/netns has its own watcher (watch.py), and the live loop keeps a slower round as a safety
net for what sends no event at all (a file written by a long-running process, a CPU rate): see
tutor/app/live_checker.py.
"""
from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
from typing import Callable

from .watch import WakePipe

NETLINK_CONNECTOR = 11
CN_IDX_PROC, CN_VAL_PROC = 1, 1
PROC_CN_MCAST_LISTEN = 1
NLMSG_DONE = 3
PROC_EVENT_FORK, PROC_EVENT_EXEC, PROC_EVENT_EXIT = 0x1, 0x2, 0x80000000

_NLMSGHDR = struct.Struct("=IHHII")         # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")          # idx, val, seq, ack, len, flags
_EVENT_HEAD = struct.Struct("=IIQ")         # what, cpu, timestamp_ns
_PIDS = struct.Struct("=IIII")              # fork: parent pid, parent tgid, child pid, child tgid
_PID_TGID = struct.Struct("=II")            # exec, exit: pid, tgid
_EVENT_AT = _NLMSGHDR.size + _CN_MSG.size
_RECV_BUF = 1 << 16
_SOCKET_BUF = 1 << 20                       # a burst of 2,000 processes starting fits in it


def open_process_events() -> socket.socket:
    """A socket subscribed to the process events connector. Raises OSError where it is refused."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_CONNECTOR)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUF)
        except OSError:
            pass
        sock.bind((0, CN_IDX_PROC))
        op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
        body = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), NLMSG_DONE, 0, 0, 0) + body)
        # The kernel handles the request inside send(): it answers with an ack (what 0, its error
        # after the event's head: EPERM without CAP_NET_ADMIN), or, to a process outside the
        # initial user and pid namespaces, with nothing at all, and then sends it no events.
        if not _acknowledged(sock):
            raise OSError(errno.EPERM, "the process events connector did not accept the subscription")
        sock.setblocking(False)
        return sock
    except BaseException:
        sock.close()
        raise


def _acknowledged(sock: socket.socket) -> bool:
    """Whether what is queued after the listen request says we are subscribed: an ack without an
    error, or events already (the kernel sends none until a listener is counted)."""
    while True:
        try:
            data = sock.recv(_RECV_BUF, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        if len(data) < _EVENT_AT + _EVENT_HEAD.size + 4:
            continue
        what = _EVENT_HEAD.unpack_from(data, _EVENT_AT)[0]
        if what != 0:
            return True
        return struct.unpack_from("=I", data, _EVENT_AT + _EVENT_HEAD.size)[0] == 0


class ProcessFilter:
    """Which process events mean "something may have changed": an exec or an exit of a process
    (not a thread) other than those the observing thread started itself (a snapshot runs `nft` or
    `iptables`) and their descendants. Only that thread's: a shell the app opens (the UI thread
    forks it) is the learner's, and so is everything run in it."""

    def __init__(self) -> None:
        self.observing: set[int] = set()      # thread ids (gettid) whose children are nstutor's own
        self.own: set[int] = set()            # pids of those children and their descendants

    def matters(self, data: bytes) -> bool:
        """True when a datagram of events holds one that matters (it may hold several)."""
        found = False
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length = _NLMSGHDR.unpack_from(data, offset)[0]
            if length < _NLMSGHDR.size:
                break
            found = self._one(data, offset + _NLMSGHDR.size + _CN_MSG.size) or found
            offset += (length + 3) & ~3
        return found

    def _one(self, data: bytes, at: int) -> bool:
        if at + _EVENT_HEAD.size + _PID_TGID.size > len(data):
            return False
        what = _EVENT_HEAD.unpack_from(data, at)[0]
        body = at + _EVENT_HEAD.size
        if what == PROC_EVENT_FORK and body + _PIDS.size <= len(data):
            parent_tid, parent_tgid, child_pid, child_tgid = _PIDS.unpack_from(data, body)
            if child_pid == child_tgid and (parent_tid in self.observing or parent_tgid in self.own):
                self.own.add(child_tgid)
            return False
        if what not in (PROC_EVENT_EXEC, PROC_EVENT_EXIT):
            return False
        pid, tgid = _PID_TGID.unpack_from(data, body)
        if pid != tgid:
            return False                          # a thread
        if tgid in self.own:
            if what == PROC_EVENT_EXIT:
                self.own.discard(tgid)
            return False
        return True


class ChangeWatch:
    """Calls *on_change()* from a daemon thread when a process event or a kept netlink socket says
    the machine may have changed (see the module docstring). `live` tells whether the process
    events are coming (without them, only netlink and the safety net wake the loop)."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change
        self.events_seen = 0                  # wake-ups sent (tests, the bench)
        self.causes: dict[str, int] = {}      # what sent them: "process", or the kept descriptor's kind
        self._filter = ProcessFilter()
        self._lock = threading.Lock()
        self._kept: tuple = ()                # (fd, events, reader) of the Observer's kept descriptors
        self._fired: set[int] = set()         # those without a reader that were ready since the rearm
        self._stop = threading.Event()
        try:
            self._procs: socket.socket | None = open_process_events()
        except OSError:
            self._procs = None
        self.live = self._procs is not None
        self._wake = WakePipe()
        self._thread = threading.Thread(target=self._run, name="nstutor-change-watch", daemon=True)
        self._thread.start()

    def observing_from(self, thread_id: int) -> None:
        """The processes that thread (a native id, threading.get_native_id()) starts are nstutor's
        own looking, not a change: call it from the thread that takes the snapshots."""
        self._filter.observing.add(thread_id)

    def rearm(self, kept) -> None:
        """The Observer read its kept descriptors (a snapshot): poll these until each says there is
        something new again. Each item is (descriptor, poll events, reader): with a reader, the
        watch calls reader(fd) when it is ready, which reads what is waiting and says whether that
        is worth a wake-up, and it stays watched; without, it is only polled, and left alone once
        ready until the next rearm (the Observer reads it)."""
        with self._lock:
            self._kept = tuple(kept)
            self._fired = set()
        self._wake.poke()

    def close(self) -> None:
        self._stop.set()
        self._wake.poke()
        self._thread.join(timeout=2)
        self._wake.close()
        if self._procs is not None:
            self._procs.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            poller = select.poll()             # poll, not select: the Observer's fds pass 1024
            poller.register(self._wake.fileno, select.POLLIN)
            if self._procs is not None:
                poller.register(self._procs.fileno(), select.POLLIN)
            with self._lock:
                kept = {fd: reader for fd, mask, reader in self._kept if fd not in self._fired}
                masks = {fd: mask for fd, mask, _reader in self._kept}
            for fd in kept:
                poller.register(fd, masks[fd])
            try:
                ready = poller.poll()
            except InterruptedError:
                continue
            changed = False
            for fd, mask in ready:
                if fd == self._wake.fileno:
                    self._wake.drain()
                elif self._procs is not None and fd == self._procs.fileno():
                    if self._read_process_events():
                        changed = True
                        self._count("process")
                elif fd in kept:
                    cause = self._kept_ready(fd, mask, kept[fd])
                    if cause:
                        changed = True
                        self._count(cause)
            if changed and not self._stop.is_set():
                self.events_seen += 1
                try:
                    self.on_change()
                except Exception:  # noqa: BLE001 - a callback bug must not kill the watcher
                    pass

    def _kept_ready(self, fd: int, mask: int, reader) -> str | None:
        """What a ready kept descriptor means: a cause worth a wake-up, or None."""
        if reader is not None and not mask & select.POLLNVAL:
            try:
                worth = reader(fd)
            except Exception:  # noqa: BLE001 - a reader bug must not kill the watcher: look
                worth = None
            if worth is not None:
                return "netlink" if worth else None    # False: only the kernel's own neighbour churn
            # None: not the Observer's any more (closed, the number reused): leave it alone
        # POLLNVAL: the Observer closed it meanwhile; or a mount table or the cgroup tree changed.
        # Either way the Observer should look, and rearm with what it has then.
        with self._lock:
            self._fired.add(fd)
        return "closed" if mask & select.POLLNVAL else "kept descriptor"

    def _count(self, cause: str) -> None:
        self.causes[cause] = self.causes.get(cause, 0) + 1

    def _read_process_events(self) -> bool:
        changed = False
        while True:
            try:
                data = self._procs.recv(_RECV_BUF)
            except BlockingIOError:
                return changed
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:   # events were lost: assume one mattered
                    changed = True
                    continue
                return changed
            changed = self._filter.matters(data) or changed
