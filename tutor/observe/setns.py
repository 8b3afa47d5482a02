"""Run a function inside another namespace, in a throwaway thread.

The net, uts and ipc namespaces belong to a *thread*, not to the whole process:
setns() in a helper thread moves only that thread. So we can look into a
namespace (make a netlink socket there, read the hostname, read
/proc/thread-self/...) without forking, and without ever moving the thread
that runs the app. The mount namespace cannot be entered this way (threads
share their filesystem root), which is why mounts are read from
/proc/PID/mountinfo instead.

Nothing here creates a namespace: we only open existing files with O_RDONLY.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Callable, Iterable, TypeVar

from .procfs import proc_path

CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
FLAGS = {"net": CLONE_NEWNET, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

T = TypeVar("T")
R = TypeVar("R")


def setns(fd: int, nstype: str) -> None:
    """setns(2) for the calling thread; raises OSError on failure."""
    if _libc.setns(fd, FLAGS[nstype]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def each_in_namespace(
    nstype: str,
    items: Iterable[tuple[str, T]],
    func: Callable[[T], R],
) -> dict[T, R | OSError]:
    """For each (ns_path, key) call func(key) with this thread inside that namespace.

    Runs in one new thread that visits the namespaces one after the other and
    goes back home in between, so a failure in one never leaks into the next.
    Returns key -> result, or key -> the OSError that stopped it (the netns
    vanished, permission denied...). The calling thread is never moved.
    """
    results: dict = {}
    items = list(items)
    if not items:
        return results              # starting a thread for nothing costs more than the rest of a warm read

    def worker() -> None:
        home = os.open(proc_path("thread-self", "ns", nstype), os.O_RDONLY | os.O_CLOEXEC)
        try:
            for path, key in items:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as exc:
                    results[key] = exc
                    continue
                try:
                    setns(fd, nstype)
                except OSError as exc:
                    results[key] = exc
                    continue
                finally:
                    os.close(fd)
                try:
                    results[key] = func(key)
                except OSError as exc:
                    results[key] = exc
                finally:
                    setns(home, nstype)
        finally:
            os.close(home)

    thread = threading.Thread(target=worker, name=f"nstutor-setns-{nstype}", daemon=True)
    thread.start()
    thread.join()
    return results
