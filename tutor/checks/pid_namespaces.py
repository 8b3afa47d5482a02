"""Which pid namespace a process is in, and its PID 1: shared by the parent, zombie and no_zombies kinds.

A zombie's /proc/PID/ns/pid stays readable (its other ns links vanish), so membership is decided
by that inode; if even that is missing, by its parent's pid namespace.
"""
from __future__ import annotations

from ..observe.model import Process, Snapshot


def pid_ns_of(snap: Snapshot, proc: Process) -> int | None:
    """The inode of *proc*'s pid namespace (its parent's when its own link is gone)."""
    ino = proc.ns.get("pid")
    if ino is None:
        parent = snap.processes.get(proc.ppid)
        ino = parent.ns.get("pid") if parent is not None else None
    return ino


def pid1_of(snap: Snapshot, pidns: int | None) -> Process | None:
    """PID 1 of a pid namespace (the process whose last NSpid is 1 there)."""
    if pidns is None:
        return None
    for p in snap.processes.values():
        if p.ns.get("pid") == pidns and p.nspid and p.nspid[-1] == 1 and not p.is_zombie:
            return p
    return None
