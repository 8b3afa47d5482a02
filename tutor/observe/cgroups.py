"""Cgroups: which hierarchy controls CPU here, and the CPU limits that apply.

Three kinds of machine exist in the wild, and a lab VM may be any of them:
  * v2 ("unified"): one tree at /sys/fs/cgroup; a limit is `cpu.max` = "QUOTA PERIOD" or "max PERIOD";
  * v1: one tree per controller (/sys/fs/cgroup/cpu or cpu,cpuacct); a limit is
    `cpu.cfs_quota_us` (-1 = none) over `cpu.cfs_period_us`;
  * hybrid: v1 controllers plus an empty v2 tree (/sys/fs/cgroup/unified).
A process's CPU cgroup is the path on its v1 line that lists the `cpu` controller,
or else its v2 line ("0::/path").
"""
from __future__ import annotations

import os
import select

from .model import CgroupInfo, CpuLimit, frozen_map
from .procfs import proc_path

V2_ROOT = "/sys/fs/cgroup"


def cpu_cgroup_path(text: str) -> str | None:
    """The CPU cgroup path from the text of /proc/PID/cgroup."""
    v2 = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if "cpu" in controllers.split(","):
            return path
        if hier == "0" and controllers == "":
            v2 = path
    return v2


class _MountWatch:
    """Is /proc/self/mountinfo unchanged since we last read it? The kernel flags a change on a
    kept descriptor of it (POLLPRI), so the cgroup layout is parsed again only after a mount."""

    def __init__(self) -> None:
        self.result: tuple[str, str | None] | None = None
        self._poll = None
        try:
            self._fd = os.open(proc_path("self", "mountinfo"), os.O_RDONLY | os.O_CLOEXEC)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLPRI | select.POLLERR)
        except OSError:
            self._poll = None

    def cached(self) -> tuple[str, str | None] | None:
        if self._poll is None or self.result is None:
            return None
        if self._poll.poll(0):
            os.lseek(self._fd, 0, os.SEEK_SET)
            while os.read(self._fd, 65536):      # reading to the end re-arms the notification
                pass
            return None
        return self.result


_mounts = _MountWatch()


def cpu_hierarchy() -> tuple[str, str | None]:
    """(mode, where the cpu controller's tree is mounted), from /proc/self/mountinfo."""
    cached = _mounts.cached()
    if cached is not None:
        return cached
    _mounts.result = _parse_cpu_hierarchy()
    return _mounts.result


def _parse_cpu_hierarchy() -> tuple[str, str | None]:
    v1_cpu = None
    v2_mount = None
    has_v1 = False
    try:
        with open(proc_path("self", "mountinfo")) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                fstype, _source, options = (right.split() + ["", "", ""])[:3]
                if fstype == "cgroup":
                    has_v1 = True
                    if "cpu" in options.split(",") and v1_cpu is None:
                        v1_cpu = fields[4]
                elif fstype == "cgroup2" and v2_mount is None:
                    v2_mount = fields[4]
    except OSError:
        pass
    if v1_cpu:
        return ("hybrid" if v2_mount else "v1"), v1_cpu
    if v2_mount:
        return ("hybrid" if has_v1 else "v2"), v2_mount
    return "none", None


def cpu_cgroup_members() -> dict[int, str] | None:
    """pid -> CPU cgroup path, read from every cgroup.procs of the cpu tree; None if it cannot be read.

    One read per cgroup (tens) instead of one /proc/PID/cgroup per process (thousands). A pid
    found in no file (it started while we walked) is left for the caller to read directly.
    """
    _mode, root = cpu_hierarchy()
    if root is None:
        return None
    members: dict[int, str] = {}
    root = root.rstrip("/") or "/"
    try:
        for dirpath, _dirs, files in os.walk(root):
            if "cgroup.procs" not in files:
                continue
            rel = "/" + os.path.relpath(dirpath, root) if dirpath != root else "/"
            try:
                fd = os.open(os.path.join(dirpath, "cgroup.procs"), os.O_RDONLY | os.O_CLOEXEC)
                try:
                    chunks = []
                    while chunk := os.read(fd, 65536):
                        chunks.append(chunk)
                finally:
                    os.close(fd)
            except OSError:
                continue  # removed while we walked
            for pid in b"".join(chunks).split():
                members[int(pid)] = rel
    except OSError:
        return None
    return members


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def read_limit(root: str, path: str, version: int) -> CpuLimit | None:
    """The CPU limit of cgroup *path*, or None if it does not exist (or has no cpu files)."""
    base = os.path.join(root, path.lstrip("/"))
    if version == 2:
        text = _read(os.path.join(base, "cpu.max"))
        if text is None:
            return None
        quota, _, period = text.partition(" ")
        return CpuLimit(path, None if quota == "max" else int(quota), int(period or 100000), 2)
    quota = _read(os.path.join(base, "cpu.cfs_quota_us"))
    period = _read(os.path.join(base, "cpu.cfs_period_us"))
    if quota is None or period is None:
        return None
    return CpuLimit(path, None if int(quota) < 0 else int(quota), int(period), 1)


def read_cgroups(procs, problems: list[str]) -> CgroupInfo:
    """Mode, cpu tree, and the limit of: every cgroup a process is in, their ancestors, and every
    top-level cgroup (so a lesson's cgroup is seen before any process is moved into it)."""
    mode, root = cpu_hierarchy()
    if root is None:
        problems.append("no cgroup hierarchy with the cpu controller is mounted; CPU limits cannot be read")
        return CgroupInfo(mode, None)
    version = 1 if mode == "v1" or (mode == "hybrid" and not _is_v2(root)) else 2
    paths: set[str] = {"/"}
    for proc in procs.values():
        path = proc.cgroup
        while path and path not in paths:
            paths.add(path)
            path = os.path.dirname(path)
    try:
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False):
                paths.add("/" + entry.name)
    except OSError as exc:
        problems.append(f"cannot list the cgroups in {root}: {exc.strerror}")
    limits = {}
    for path in paths:
        limit = read_limit(root, path, version)
        if limit is not None:
            limits[path] = limit
    return CgroupInfo(mode, root, frozen_map(limits))


def _is_v2(root: str) -> bool:
    return os.path.exists(os.path.join(root, "cgroup.controllers"))
