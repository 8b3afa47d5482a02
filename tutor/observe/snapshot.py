"""take_snapshot(): one read-only picture of the machine, taken in one go.

This module only orchestrates; each source of facts has its own module:
  processes.py  /proc/PID: names, states, namespaces, NSpid, root, cgroup
  netns.py      which network namespaces exist (named and process-held)
  netlink.py    links, addresses, routes, neighbours, fdb of each netns
  sockets.py    listening TCP/UDP sockets of each netns
  nsfacts.py    hostname per uts ns, mounts per mnt ns, shm per ipc ns, id maps per user ns
  cgroups.py    cgroup mode and CPU limits
Each reader records what it could not see in `problems` and goes on.
"""
from __future__ import annotations

import os
import time

from . import cgroups, netlink, netns, nsfacts, processes
from .model import Snapshot, frozen_map


def take_snapshot(previous: Snapshot | None = None) -> Snapshot:
    """Observe the machine. Never changes anything.

    *previous*, if given, is used to compute per-process CPU use (cpu_percent)
    over the time between the two snapshots.
    """
    started = time.monotonic()
    wall = time.time()
    problems: list[str] = []

    procs = processes.read_processes(previous, problems)
    host_ns = processes.host_namespaces(procs)
    handles = netns.discover(procs, host_ns.get("net"), problems)
    network = netlink.read_network(handles, problems)
    table = processes.namespace_table(procs, {h.inode: h.names for h in handles})
    hostnames = nsfacts.read_hostnames(procs, problems)
    mounts = nsfacts.read_mounts(procs, problems)
    shm = nsfacts.read_shm(procs, problems)
    userns = nsfacts.read_userns(procs, problems)
    cgroup_info = cgroups.read_cgroups(procs, problems)

    return Snapshot(
        taken_at=wall,
        monotonic=started,
        duration_ms=(time.monotonic() - started) * 1000.0,
        processes=frozen_map(procs),
        namespaces=table,
        host_ns=frozen_map(host_ns),
        netns=frozen_map(network),
        hostnames=frozen_map(hostnames),
        mounts=frozen_map(mounts),
        shm=frozen_map(shm),
        userns=frozen_map(userns),
        cgroups=cgroup_info,
        is_root=os.geteuid() == 0,
        problems=tuple(problems),
    )
