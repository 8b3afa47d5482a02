"""A cgroup's memory limit, its swap setting and its OOM kills, read only when a check asks (Wants.memory_cgroups).

Where the memory controller lives decides the files:
  * v1 and hybrid: its own tree, a `cgroup` mount whose options list `memory` (/sys/fs/cgroup/memory);
    limit `memory.limit_in_bytes`, swap `memory.swappiness` and `memory.memsw.limit_in_bytes` (the
    latter only where the kernel accounts swap), kills `oom_kill` in `memory.oom_control` (4.13+),
    hits `memory.failcnt`, use `memory.usage_in_bytes`;
  * v2: the `cgroup2` tree, when `memory` is in its root's cgroup.controllers (on hybrid it is not:
    the v1 tree has it); limit `memory.max`, swap `memory.swap.max` (missing where the kernel does not
    account swap), kills `oom_kill` and hits `max` in `memory.events`, use `memory.current`. A
    child has these files only while `memory` is in its parent's cgroup.subtree_control.
A v1 limit of "no limit" reads as the largest whole number of pages (9223372036854771712 with 4 KiB
pages); both versions round a written limit down to whole pages.

Only files are opened, for reading: observing never writes, makes or removes a cgroup. The tree's
root can be given (the unit tests point it at a directory laid out like a cgroup), so the parsing is
tested for both versions on any machine.
"""
from __future__ import annotations

import os
import posixpath

from .model import ABSENT, MemoryCgroup
from .procfs import proc_path

#: The largest value a 64-bit kernel's page counter holds: LONG_MAX rounded down to whole pages.
LONG_MAX = 2 ** 63 - 1


def page_size() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 4096


def cgroup_path(name: str) -> str:
    """The cgroup path a check's name means: nstutor-mem is /nstutor-mem; a path with slashes as is."""
    path = name if name.startswith("/") else "/" + name.strip("/")
    return posixpath.normpath(path)


def memory_tree(mountinfo: str | None = None) -> tuple[int | None, str | None]:
    """(cgroup version, mount point) of the tree the memory controller is in, from /proc/self/mountinfo
    (or *mountinfo*, its text): a v1 `cgroup` mount with `memory` first, else a `cgroup2` mount whose
    cgroup.controllers lists `memory`. (None, None): no tree has it."""
    if mountinfo is None:
        try:
            with open(proc_path("self", "mountinfo")) as f:
                mountinfo = f.read()
        except OSError:
            return None, None
    v2_mounts = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        fstype, _source, options = (right.split() + ["", "", ""])[:3]
        if len(fields) < 5:
            continue
        if fstype == "cgroup" and "memory" in options.split(","):
            return 1, fields[4]
        if fstype == "cgroup2":
            v2_mounts.append(fields[4])
    for mount in v2_mounts:
        if "memory" in (_words(os.path.join(mount, "cgroup.controllers")) or ()):
            return 2, mount
    return None, None


def read(path: str) -> MemoryCgroup:
    """The memory files of cgroup *path* (/nstutor-mem) in the memory tree of this machine."""
    version, root = memory_tree()
    if version is None or root is None:
        return MemoryCgroup(path, None, None, swap_areas=swap_areas(), page_size=page_size(),
                            error="no cgroup tree with the memory controller is mounted")
    return read_memory_cgroup(path, root, version)


def read_memory_cgroup(path: str, root: str, version: int, swaps: str | None = None,
                       page: int | None = None) -> MemoryCgroup:
    """The memory files of cgroup *path* under the tree mounted at *root* (version 1 or 2). *swaps*:
    the text of /proc/swaps (read from the machine when None); *page*: the page size."""
    page = page or page_size()
    directory = root.rstrip("/") + (path if path != "/" else "")
    parent = posixpath.dirname(directory) if path != "/" else None
    common = dict(swap_areas=swap_areas(swaps), page_size=page,
                  parent_subtree=_words(os.path.join(parent, "cgroup.subtree_control"))
                  if version == 2 and parent else None)
    procs = _text(os.path.join(directory, "cgroup.procs"))
    if procs is None:
        return MemoryCgroup(path, version, directory, **common)
    members = tuple(int(p) for p in procs.split() if p.isdigit())
    if version == 2:
        limit = _size(_text(os.path.join(directory, "memory.max")), page)
        if limit is ABSENT:                   # memory not in the parent's cgroup.subtree_control
            return MemoryCgroup(path, 2, directory, exists=True, members=members, **common)
        events = _counters(_text(os.path.join(directory, "memory.events")))
        return MemoryCgroup(path, 2, directory, exists=True, controller=True, limit=limit,
                            swap_max=_size(_text(os.path.join(directory, "memory.swap.max")), page),
                            oom_kills=events.get("oom_kill"), max_hits=events.get("max"),
                            usage=_number(_text(os.path.join(directory, "memory.current"))),
                            members=members, **common)
    limit = _size(_text(os.path.join(directory, "memory.limit_in_bytes")), page)
    if limit is ABSENT:                       # a cgroup of a tree without memory files: should not happen
        return MemoryCgroup(path, 1, directory, exists=True, members=members,
                            error=f"{directory} has no memory.limit_in_bytes", **common)
    oom = _counters(_text(os.path.join(directory, "memory.oom_control")))
    return MemoryCgroup(path, 1, directory, exists=True, controller=True, limit=limit,
                        swappiness=_number(_text(os.path.join(directory, "memory.swappiness"))),
                        memsw_limit=_size(_text(os.path.join(directory, "memory.memsw.limit_in_bytes")), page),
                        oom_kills=oom.get("oom_kill"),
                        max_hits=_number(_text(os.path.join(directory, "memory.failcnt"))),
                        usage=_number(_text(os.path.join(directory, "memory.usage_in_bytes"))),
                        members=members, **common)


def swap_areas(text: str | None = None) -> int | None:
    """How many swap areas /proc/swaps lists (its first line is a header); None if unreadable."""
    if text is None:
        text = _text(proc_path("swaps"))
        if text is None:
            return None
    return sum(1 for line in text.splitlines()[1:] if line.strip())


# --------------------------------------------------------------- reading and parsing
def _text(path: str) -> str | None:
    """A file's text, or None if it cannot be read (missing, or the cgroup went away)."""
    try:
        with open(path, "rb") as f:
            return f.read(65536).decode(errors="replace")
    except OSError:
        return None


def _words(path: str) -> tuple[str, ...] | None:
    text = _text(path)
    return None if text is None else tuple(text.split())


def _number(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _size(text: str | None, page: int) -> int | None | str:
    """A limit file: bytes; None for no limit ("max" on v2, the page counter's largest value on v1);
    ABSENT when the file is not there."""
    if text is None:
        return ABSENT
    text = text.strip()
    if text == "max":
        return None
    value = _number(text)
    if value is None:
        return ABSENT
    return None if value >= LONG_MAX // page * page else value


def _counters(text: str | None) -> dict[str, int]:
    """'name value' lines (memory.events, memory.oom_control) as a mapping."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        number = _number(value)
        if key and number is not None:
            out[key] = number
    return out
