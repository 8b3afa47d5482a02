"""Which network namespaces exist: the named ones in /run/netns and those that processes hold.

`ip netns add` keeps a namespace alive by bind-mounting it on /run/netns/NAME
(no process needed, so `lsns` does not list it); a container's netns is held by
its processes and has no name. We list both, and for each keep a path we can
open to enter it. Nothing here opens a namespace for writing or creates one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .procfs import proc_path

RUN_NETNS = "/run/netns"


@dataclass(frozen=True)
class NetnsHandle:
    inode: int
    names: tuple[str, ...]     # names in /run/netns that point here
    pids: tuple[int, ...]      # processes in it, lowest first
    path: str                  # a file that refers to it (open O_RDONLY to setns into it)
    is_host: bool


def _nsfs_device() -> int | None:
    try:
        return os.stat(proc_path("self", "ns", "net")).st_dev
    except OSError:
        return None


def named_netns(problems: list[str]) -> dict[int, list[str]]:
    """inode -> names, from /run/netns. A leftover plain file (not a namespace) is reported, not listed."""
    out: dict[int, list[str]] = {}
    try:
        names = sorted(os.listdir(RUN_NETNS))
    except FileNotFoundError:
        return out
    except OSError as exc:
        problems.append(f"cannot list {RUN_NETNS}: {exc.strerror}")
        return out
    nsfs = _nsfs_device()
    for name in names:
        try:
            st = os.stat(f"{RUN_NETNS}/{name}")
        except FileNotFoundError:
            continue  # deleted while we looked
        except OSError as exc:
            problems.append(f"cannot read {RUN_NETNS}/{name}: {exc.strerror}")
            continue
        if nsfs is not None and st.st_dev != nsfs:
            problems.append(f"{RUN_NETNS}/{name} is a plain file, not a network namespace "
                            f"(left over from a failed `ip netns add`?); `ip netns del {name}` removes it")
            continue
        out.setdefault(st.st_ino, []).append(name)
    return out


def discover(procs, host_net: int | None, problems: list[str]) -> list[NetnsHandle]:
    """Every network namespace we can see: host first, then named ones by name, then unnamed by inode."""
    from .processes import members_by_ns
    pids_by_ns = members_by_ns(procs, "net")
    named = named_netns(problems)
    handles = []
    for inode in set(pids_by_ns) | set(named) | ({host_net} if host_net else set()):
        pids = tuple(pids_by_ns.get(inode, ()))           # members_by_ns lists them lowest first
        names = tuple(named.get(inode, ()))
        if inode == host_net:
            path = proc_path("self", "ns", "net") if _own_net() == inode else proc_path(pids[0], "ns", "net") if pids else ""
        elif names:
            path = f"{RUN_NETNS}/{names[0]}"
        else:
            path = proc_path(pids[0], "ns", "net")
        handles.append(NetnsHandle(inode, names, pids, path, inode == host_net))
    handles.sort(key=lambda h: (not h.is_host, not h.names, h.names, h.inode))
    return handles


def known_before_processes(problems: list[str]) -> list[NetnsHandle]:
    """The netns that can be found without the process list: our own and the named ones (their
    pids, and whether one is the host's, are only known from the processes: left empty here)."""
    handles = [NetnsHandle(inode, tuple(names), (), f"{RUN_NETNS}/{names[0]}", False)
               for inode, names in sorted(named_netns(problems).items(), key=lambda item: item[1])]
    own = _own_net()
    if own is not None and all(h.inode != own for h in handles):
        handles.insert(0, NetnsHandle(own, (), (), proc_path("self", "ns", "net"), False))
    return handles


def _own_net() -> int | None:
    try:
        return os.stat(proc_path("self", "ns", "net")).st_ino
    except OSError:
        return None
