"""Which containers live in a namespace, for the views that draw namespaces (issue 14).

A Docker container's netns is anonymous to the kernel ("net:[4026532701]") and Podman's is named
"netns-<uuid>": neither tells a learner that it is `web`. The engines' records (Snapshot.containers)
say which process is each container's main one, and that process's namespaces are the container's;
so a namespace is a container's when a running container's main process is in it. Decided by inode
only, as every relation is: names and hostnames are never compared.

The topology titles a container's netns box with this, the netns sections of views 3-6 add it to
their titles, the namespaces view to its rows and the processes view to the main process's line.
The host's namespaces are never labelled: a `--network host` container shares them, it does not
own them.
"""
from __future__ import annotations

import re

from ...observe.model import Container, Snapshot
from .layout import clean

#: the names engines give the netns they make (Podman, CNI): not a learner's name, so a container label replaces them
ENGINE_NETNS_NAME = re.compile(r"^(netns|cni)-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")

_CACHE: dict[int, tuple[Snapshot, dict[tuple[str, int], tuple[Container, ...]]]] = {}
_CACHE_SIZE = 8


def infra_word(c: Container) -> str:
    """What a pod's infra container is called where it runs: Kubernetes calls its sandbox's process the pause."""
    return "pause" if c.engine == "containerd" else "infra"


def _order(c: Container) -> tuple:
    return (c.pod or "", not c.infra, c.name, c.engine)


def by_namespace(snap: Snapshot) -> dict[tuple[str, int], tuple[Container, ...]]:
    """(type, inode) -> the running containers whose main process is in that namespace (the host's left out).

    Built once per snapshot (the views ask for it on every refresh)."""
    hit = _CACHE.get(id(snap))
    if hit is not None and hit[0] is snap:
        return hit[1]
    table: dict[tuple[str, int], list[Container]] = {}
    host = snap.host_ns
    for c in snap.containers:
        proc = snap.processes.get(c.pid) if c.pid is not None else None
        if proc is None:
            continue
        for nstype, inode in proc.ns.items():
            if host.get(nstype) != inode:
                table.setdefault((nstype, inode), []).append(c)
    out = {key: tuple(sorted(cs, key=_order)) for key, cs in table.items()}
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(snap)] = (snap, out)
    return out


def in_namespace(snap: Snapshot, nstype: str, inode: int | None) -> tuple[Container, ...]:
    if inode is None or not snap.containers:
        return ()
    return by_namespace(snap).get((nstype, inode), ())


def group_label(containers: tuple[Container, ...] | list[Container]) -> str:
    """How a learner names the containers sharing one namespace: 'web (docker)', 'web, web-side (docker)',
    'pod podweb (podman)' (a pod's infra and containers), 'a (docker), b (podman)'. Engines' names are
    shown with control characters as '?', like every name the panel draws."""
    return clean(_group_label(containers))


def _group_label(containers: tuple[Container, ...] | list[Container]) -> str:
    if not containers:
        return ""
    pods = {(c.pod, c.engine) for c in containers}
    if len(pods) == 1:
        pod, engine = next(iter(pods))
        if pod and (len(containers) > 1 or containers[0].infra):
            return f"pod {pod} ({engine})"
    if len(containers) == 1:
        return containers[0].label
    engines = {c.engine for c in containers}
    if len(engines) == 1:
        return f"{', '.join(c.name for c in containers)} ({next(iter(engines))})"
    return ", ".join(c.label for c in containers)


def namespace_label(snap: Snapshot, nstype: str, inode: int | None) -> str:
    """The containers in that namespace, or '' when none is."""
    return group_label(in_namespace(snap, nstype, inode))


def netns_label(snap: Snapshot, inode: int | None) -> str:
    """A netns as the panel names it: by its containers where it is theirs, else as the snapshot does.

    A name the learner gave stays, with the containers after it; an engine-made name gives way."""
    label = snap.netns_label(inode)
    containers = namespace_label(snap, "net", inode)
    if not containers:
        return label
    ns = snap.netns.get(inode) if inode is not None else None
    own = [n for n in (ns.names if ns is not None else ()) if not ENGINE_NETNS_NAME.match(n)]
    return f"{own[0]}: {containers}" if own else containers
