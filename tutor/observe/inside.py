"""What a process sees in its own root: a file at a path, and the /proc mounted there.

Read for the `file`, `pid1 {own_proc: true}`, `procfs` and `capabilities` kinds, only when a loaded check asks
(observe.Wants), right after the processes were read: a file's text and what a procfs mount lists
are not part of the standing snapshot. Everything goes through /proc/PID/root, read-only: regular
files are opened O_RDONLY|O_NONBLOCK|O_NOFOLLOW (a fifo or a device is never opened), and only
after making sure the pid still belongs to the process the snapshot saw (its start time), so a
reused pid is never read as the old process. Nothing is cached: a file can change at any time.
"""
from __future__ import annotations

import os
import stat

from .model import CapabilitySets, FileFact, Process, ProcView, Snapshot
from .procfs import proc_path, read_stat, same_process

READ_LIMIT = 64 * 1024
HOST_LOOKS = 3          # processes of the host's mount namespace to try, in case some exit meanwhile


def _still(proc: Process) -> int | None:
    """The start time of *proc*'s pid if it is still that process, running (None: it exited, is a
    zombie, whose root and /proc went with it, or the pid was reused)."""
    stat = same_process(proc.pid, proc.start_ticks)
    return None if stat is None else stat.start_ticks


def read_file(proc: Process, path: str, with_text: bool = True) -> FileFact:
    """*path* inside *proc*'s mount namespace: its text (*with_text*), or why there is none."""
    if _still(proc) is None:
        return FileFact("gone")
    full = proc_path(proc.pid, "root") + path
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return FileFact("missing")
    except OSError as exc:
        return FileFact("error", exc.strerror or str(exc))
    if not stat.S_ISREG(st.st_mode):
        what = ("a directory" if stat.S_ISDIR(st.st_mode) else "a symbolic link" if stat.S_ISLNK(st.st_mode)
                else "not a regular file")
        return FileFact("other", what)
    if not with_text:
        return FileFact("file")
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        return FileFact("error", exc.strerror or str(exc))
    try:
        data = os.read(fd, READ_LIMIT)
    except OSError as exc:
        return FileFact("error", exc.strerror or str(exc))
    finally:
        os.close(fd)
    return FileFact("file", data.decode(errors="replace"))


def read_host_file(snap: Snapshot, path: str) -> FileFact:
    """Is there a *path* in the host's mount namespace (its text is not read: only whether it is a
    file), looked at through a process that is in it, ourselves first. "gone" when no such process
    could be looked through."""
    host_mnt = snap.host_ns.get("mnt")
    if host_mnt is None:
        return FileFact("gone")
    me = os.getpid()
    host_procs = sorted((p for p in snap.processes.values() if p.ns.get("mnt") == host_mnt),
                        key=lambda p: p.pid != me)
    for proc in host_procs[:HOST_LOOKS]:
        fact = read_file(proc, path, with_text=False)
        if fact.state != "gone":
            return fact
    return FileFact("gone")


def read_own_proc(proc: Process) -> ProcView:
    """What the /proc in *proc*'s mount namespace lists, and under which pid it lists *proc* itself.

    A procfs lists every process under its pid in the pid namespace the procfs belongs to: the
    process appears under its inner pid (the last NSpid entry) in its own namespace's procfs, and
    under its host pid in the host's."""
    ticks = _still(proc)
    if ticks is None:
        return ProcView(gone=True)
    base = proc_path(proc.pid, "root", "proc")
    try:
        pids = tuple(sorted(int(e) for e in os.listdir(base) if e.isdigit()))
    except OSError as exc:
        return ProcView(error=exc.strerror or str(exc))
    for candidate in dict.fromkeys((proc.pid_in_own_ns, proc.pid)):
        seen = read_stat(candidate, root=base) if candidate in pids else None
        if seen is not None and seen.start_ticks == ticks:
            return ProcView(pids=pids, shows_as=candidate)
    return ProcView(pids=pids)


def read_capabilities(proc: Process) -> CapabilitySets:
    """*proc*'s capability sets, from /proc/PID/status (read only while the pid is still *proc*)."""
    if _still(proc) is None:
        return CapabilitySets(gone=True)
    try:
        with open(proc_path(proc.pid, "status"), "rb") as f:
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return CapabilitySets(gone=True)
    except OSError as exc:
        return CapabilitySets(error=exc.strerror or str(exc))
    sets = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("CapEff", "CapPrm", "CapBnd"):
            try:
                sets[key] = int(value.strip(), 16)
            except ValueError:
                return CapabilitySets(error=f"/proc/{proc.pid}/status has {key}:{value}, not a hex mask")
    if len(sets) < 3:
        return CapabilitySets(error=f"/proc/{proc.pid}/status has no CapEff, CapPrm and CapBnd lines")
    if _still(proc) is None:               # the pid was reused while we read: not this process's
        return CapabilitySets(gone=True)
    return CapabilitySets(effective=sets["CapEff"], permitted=sets["CapPrm"], bounding=sets["CapBnd"])
