"""A lab VM as a learner gets it, recreated on this one: before the first `ip netns add`.

iproute2 makes /run/netns a mount point on first use (it bind-mounts the directory on itself
and makes it shared, so the netns files it later mounts there propagate). Before that, a fresh
VM has no /run/netns mount, and often no /run/netns at all (/run is a tmpfs there). The
fixtures of tests/test_fresh_vm.py put this VM back in that state, the way
/work/shared/tools/lab-state `fresh` does.

Other engineers use the same kernel at the same time, so all of this runs under the shared
lesson lock (/tmp/nstutor-lesson.lock), and /run/netns is only unmounted when no netns is in it:
a plain `umount` (never lazy), which the kernel refuses while anything is mounted below it.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

LOCK = "/tmp/nstutor-lesson.lock"
RUN_NETNS = "/run/netns"
LOCK_WAIT_S = 900      # verify-lesson --all holds it for minutes


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return pids


def _lock_held_by_an_ancestor(path: str) -> bool:
    """True when pytest itself runs under `flock LOCK pytest ...`: flock(1) holds the lock and we
    inherited it. Taking it again on a new descriptor would then wait for ourselves forever."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    ancestors = _ancestors()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF" (a blocked waiter has "->" after the number)
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue
        if fields[5] == key and fields[4].isdigit() and int(fields[4]) in ancestors:
            return True
    return False


@contextmanager
def lesson_lock():
    """Hold the shared lesson lock (or find it held by the flock(1) that started pytest)."""
    if _lock_held_by_an_ancestor(LOCK):
        yield
        return
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)

    def too_long(signum, frame):
        raise TimeoutError

    # A blocking flock queues with the other waiters (a poll would lose to them every time); the
    # alarm is its deadline.
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(LOCK_WAIT_S)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except TimeoutError:
            pytest.skip(f"{LOCK} stayed held by other test runs for {LOCK_WAIT_S} s")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        yield
    finally:
        os.close(fd)                  # closing the descriptor releases the lock


def is_mount_point(path: str) -> bool:
    return subprocess.run(["mountpoint", "-q", path]).returncode == 0


def unmount_empty_run_netns() -> str:
    """Take away iproute2's /run/netns mount if nothing is in it. Returns what was done; skips the
    test (with the reason) when that cannot be done without touching someone's netns."""
    if not is_mount_point(RUN_NETNS):
        return "not mounted"
    for _ in range(4):           # iproute2 can stack its self-bind (two `ip netns add` racing)
        try:
            entries = os.listdir(RUN_NETNS)
        except FileNotFoundError:
            return "unmounted"
        if entries:
            names = sorted(entries)
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            pytest.skip(f"{RUN_NETNS} holds {shown}: not unmounting another test's netns")
        res = subprocess.run(["umount", RUN_NETNS], capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"{RUN_NETNS} cannot be unmounted now ({res.stderr.strip() or res.returncode}): in use")
        if not is_mount_point(RUN_NETNS):
            return "unmounted"
    pytest.skip(f"{RUN_NETNS} is still a mount point after 4 unmounts")
