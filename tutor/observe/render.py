"""Views of a Snapshot: a JSON-able dict, and a human text view for `nstutor snapshot`.

Pure functions over the snapshot (no I/O; the one lookup is uid -> user name through
pwd, cached). Data and formatting are kept apart, the way rich separates rendering
from data: each section has a `*_rows(snap)` function returning small row records
(typed fields + `cells()` giving the strings in column order, and a `HEADERS` tuple),
and `format_table()` turns rows into plain text. The app's live panel builds its tables from
the same rows and draws them with its own engine (tutor/app/panel/layout.py: styles, changes
since the last snapshot, the lesson's rows marked, columns dropped to fit a narrow panel).

The text view leaves out what is always there and never interesting (IPv6 link-local
routes, NOARP neighbours, multicast fdb entries); the JSON has everything.
"""
from __future__ import annotations

import dataclasses
import pwd
import socket
import textwrap
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..texts import cell_width, counted, fit, noun, pad, wrap
from .model import (MAIN_TABLE, Container, FdbEntry, Link, Mount, Namespace, Neighbour, NetNS, NS_TYPES, Route,
                    Snapshot, Socket)

WIDTH = 100
FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
#: derived values worth having in the JSON next to the fields (name -> property on the record)
_EXTRAS = {"NetNS": ("label",), "Link": ("is_up",), "CpuLimit": ("percent",), "Process": ("command",),
           "Container": ("label",)}


# =============================================================== JSON
def snapshot_to_dict(snap: Snapshot) -> dict:
    """Everything in the snapshot as plain JSON types.

    Records become dicts with their field names as keys; mappings keyed by inode or pid get
    string keys (JSON has no others), sorted numerically; address families are "inet"/"inet6".
    """
    return {
        "taken_at": snap.taken_at,
        "duration_ms": round(snap.duration_ms, 3),
        "is_root": snap.is_root,
        "host_ns": to_jsonable(snap.host_ns),
        "namespaces": to_jsonable(snap.namespaces),
        "processes": to_jsonable(snap.processes),
        "netns": to_jsonable(snap.netns),
        "hostnames": to_jsonable(snap.hostnames),
        "mounts": to_jsonable(snap.mounts),
        "shm": to_jsonable(snap.shm),
        "userns": to_jsonable(snap.userns),
        "cgroups": to_jsonable(snap.cgroups),
        "containers": to_jsonable(snap.containers),
        "engines": to_jsonable(snap.engines),
        "container_of_pid": {str(pid): c.label for pid, c in sorted(container_owners(snap).items())},
        "problems": list(snap.problems),
    }


def to_jsonable(obj):
    """Dataclasses -> dicts, mappings -> dicts with string keys, tuples -> lists, recursively."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "family" and isinstance(value, int):
                out[f.name] = FAMILIES.get(value, value)
            else:
                out[f.name] = to_jsonable(value)
        for extra in _EXTRAS.get(type(obj).__name__, ()):
            out[extra] = to_jsonable(getattr(obj, extra))
        return out
    if isinstance(obj, Mapping):
        keys = sorted(obj, key=lambda k: (not isinstance(k, int), k if isinstance(k, int) else 0, str(k)))
        return {str(k): to_jsonable(obj[k]) for k in keys}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    return str(obj)


# =============================================================== rows (data)
_user_names: dict[int, str] = {}


def user_name(uid: int | None) -> str:
    """'root' for 0; the uid as text when it has no name; '-' for unknown.

    Names found are kept (a uid's name does not change during a lesson); a uid without a name is
    looked up again next time, since the user lesson's learner may create that user a minute later."""
    if uid is None:
        return "-"
    found = _user_names.get(uid)
    if found is None:
        try:
            found = pwd.getpwuid(uid).pw_name
        except (KeyError, OverflowError):
            return str(uid)
        if len(_user_names) < 4096:
            _user_names[uid] = found
    return found


def _held_by(names: Sequence[str]) -> str:
    if not names:
        return "(no process)"
    return "(no process: held by " + ", ".join(f"/run/netns/{n}" for n in names) + ")"


@dataclass(frozen=True)
class LsnsRow:
    HEADERS = ("NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND")
    ALIGN = "rlrrll"
    inode: int
    type: str
    nprocs: int
    pid: int | None
    user: str
    command: str
    names: tuple[str, ...] = ()
    container: str = ""           # the container its process belongs to ("web (docker)"), if any

    def cells(self) -> tuple[str, ...]:
        command = f"[{self.container}] {self.command}" if self.container else self.command
        return (str(self.inode), self.type, str(self.nprocs), "-" if self.pid is None else str(self.pid),
                self.user, command)


def lsns_rows(snap: Snapshot) -> list[LsnsRow]:
    """The lsns table, plus named netns that no process is in (lsns leaves those out)."""
    rows = []
    owners = container_owners(snap)
    for ns in sorted(snap.namespaces, key=lambda n: (n.inode, _type_order(n.type))):
        if ns.pid is None:
            rows.append(LsnsRow(ns.inode, ns.type, 0, None, "-", _held_by(ns.names), ns.names))
        else:
            owner = owners.get(ns.pid)
            rows.append(LsnsRow(ns.inode, ns.type, ns.nprocs, ns.pid, user_name(ns.uid), ns.command, ns.names,
                                owner.label if owner else ""))
    return rows


# --------------------------------------------------------------- containers
def container_owners(snap: Snapshot) -> dict[int, Container]:
    """pid -> the container it belongs to: a container's main process and all its descendants
    (what `docker exec` starts is a child of the engine's shim, not of the main process: it is
    in the container's namespaces but not counted here)."""
    if not snap.containers:
        return {}
    main = {c.pid: c for c in snap.containers if c.pid is not None and c.pid in snap.processes}
    owners: dict[int, Container] = {}
    for pid in snap.processes:
        chain = []
        at = pid
        found = None
        while at in snap.processes and at not in owners and len(chain) < 256:
            if at in main:
                found = main[at]
                break
            chain.append(at)
            at = snap.processes[at].ppid
        else:
            found = owners.get(at)
        if found is not None:
            owners[at] = found
            for p in chain:
                owners[p] = found
    return owners


def netns_containers(snap: Snapshot) -> dict[int, list[Container]]:
    """netns inode -> the running containers whose main process is in it (a pod's all share one)."""
    out: dict[int, list[Container]] = {}
    for c in snap.containers:
        proc = snap.processes.get(c.pid) if c.pid is not None else None
        if proc is not None and "net" in proc.ns:
            out.setdefault(proc.ns["net"], []).append(c)
    return out


def containers_text(found: Sequence[Container]) -> str:
    """'web, web-side (docker)'; 'podweb-a, podweb-b (podman, pod podweb)': the infra first, then
    by main pid (the order they were started in)."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for c in sorted(found, key=lambda c: (not c.infra, c.pid or 0)):
        groups.setdefault((c.engine, c.pod), []).append(c.name + (" (infra)" if c.infra else ""))
    return "; ".join(f"{', '.join(names)} ({engine}{f', pod {pod}' if pod else ''})"
                     for (engine, pod), names in groups.items())


@dataclass(frozen=True)
class ContainerRow:
    HEADERS = ("ENGINE", "NAME", "POD", "STATE", "PID", "IMAGE", "NETWORK")
    ALIGN = "llllrll"
    engine: str
    name: str
    pod: str | None
    infra: bool
    state: str
    pid: int | None
    image: str
    network: str | None

    def cells(self) -> tuple[str, ...]:
        pod = (self.pod or "-") + (" (infra)" if self.infra else "")
        return (self.engine, self.name, pod, self.state, "-" if self.pid is None else str(self.pid),
                self.image or "-", self.network or "-")


def container_rows(snap: Snapshot) -> list[ContainerRow]:
    """Running ones first, then by engine, pod (infra first) and name."""
    ordered = sorted(snap.containers, key=lambda c: (c.pid is None, c.engine, c.pod or "", not c.infra, c.name))
    return [ContainerRow(c.engine, c.name, c.pod, c.infra, c.state, c.pid, c.image, c.network) for c in ordered]


def _type_order(nstype: str) -> int:
    return NS_TYPES.index(nstype) if nstype in NS_TYPES else len(NS_TYPES)


@dataclass(frozen=True)
class NetnsRow:
    HEADERS = ("NETNS", "INODE", "NPROCS", "LINKS", "NOTE")
    ALIGN = "lrrrl"
    inode: int
    label: str
    names: tuple[str, ...]
    is_host: bool
    pids: tuple[int, ...]
    nlinks: int
    error: str | None = None
    containers: str = ""          # the containers in it: "web, web-side (docker)"

    @property
    def note(self) -> str:
        if self.error:
            return self.error
        if not self.pids:
            return _held_by(self.names)
        held = f"{self.containers}; " if self.containers else ""   # first: a narrow line cuts the pids
        if len(self.pids) > 5:
            return f"{held}{len(self.pids)} processes"
        return f"{held}{noun(len(self.pids), 'process', 'processes')} {', '.join(map(str, self.pids))}"

    def cells(self) -> tuple[str, ...]:
        return (self.label, str(self.inode), str(len(self.pids)), str(self.nlinks), self.note)


def ordered_netns(snap: Snapshot) -> list[NetNS]:
    """Host first, then named netns by name, then unnamed ones by inode."""
    return sorted(snap.netns.values(),
                  key=lambda n: (not n.is_host, not n.names, n.names[0] if n.names else "", n.inode))


def netns_rows(snap: Snapshot) -> list[NetnsRow]:
    held = netns_containers(snap)
    return [NetnsRow(ns.inode, ns.label, ns.names, ns.is_host, tuple(sorted(ns.pids)), len(ns.links), ns.error,
                     containers_text(held.get(ns.inode, ())))
            for ns in ordered_netns(snap)]


@dataclass(frozen=True)
class LinkRow:
    """One line of `ip -br link` and `ip -br addr` together, plus what a learner needs to see."""
    HEADERS = ("LINK", "STATE", "MAC", "ADDRESSES")
    ALIGN = "llll"
    netns: int
    name: str
    peer: str | None          # "BLUE/veth1" (other netns), "veth1" (same netns), "?" (unknown)
    state: str
    mac: str
    addresses: tuple[str, ...]
    notes: tuple[str, ...]    # "master br0", "vxlan vni 42 ...", "mtu 9000", the kind

    @property
    def display_name(self) -> str:
        return f"{self.name} <-> {self.peer}" if self.peer else self.name

    def cells(self) -> tuple[str, ...]:
        last = " ".join(self.addresses)
        if self.notes:
            last = f"{last}  ({', '.join(self.notes)})" if last else f"({', '.join(self.notes)})"
        return (self.display_name, self.state, self.mac, last)


def link_state(link: Link) -> str:
    """What `ip -br link` prints: the operstate, or DOWN when not set up."""
    return link.operstate if link.admin_up else "DOWN"


def panel_state(link: Link) -> str:
    """link_state, except that a link switched on but without carrier reads NO-CARRIER (the flag
    `ip link` shows for it). `ip -br` says DOWN for both, and a learner who has just typed
    `ip link set X up` reads DOWN as "my command failed" while the link only waits for its peer
    (a veth) or its first port (a bridge)."""
    if link.admin_up and link.operstate in ("DOWN", "LOWERLAYERDOWN"):
        return "NO-CARRIER"
    return link_state(link)


def peer_text(snap: Snapshot, link: Link) -> str | None:
    """Where a veth's other end is ("NETNS/name", or just the name in the same netns); None for other kinds."""
    if link.kind != "veth":
        return None
    if link.peer_netns is None:
        return "?" if link.peer_ifindex is None else f"?/if{link.peer_ifindex}"
    peer = link.peer_name or (f"if{link.peer_ifindex}" if link.peer_ifindex is not None else "?")
    if link.peer_netns == link.netns:
        return peer
    return f"{snap.netns_label(link.peer_netns)}/{peer}"


def _vxlan_text(link: Link) -> str:
    vx = link.vxlan
    if vx is None:
        return "vxlan"
    parts = ["vxlan"]
    if vx.vni is not None:
        parts.append(f"vni {vx.vni}")
    if vx.port is not None:
        parts.append(f"dstport {vx.port}")
    if vx.local:
        parts.append(f"local {vx.local}")
    if vx.dev:
        parts.append(f"dev {vx.dev}")
    if vx.learning is False:
        parts.append("nolearning")
    return " ".join(parts)



def link_rows(snap: Snapshot, ns: NetNS) -> list[LinkRow]:
    addrs: dict[str, list[str]] = {}
    for addr in sorted(ns.addresses, key=lambda a: (a.family != socket.AF_INET, a.scope == "link")):
        addrs.setdefault(addr.dev, []).append(addr.cidr)
    rows = []
    for link in sorted(ns.links, key=lambda l: l.ifindex):
        notes = []
        if link.kind == "vxlan":
            notes.append(_vxlan_text(link))
        elif link.kind not in (None, "veth"):
            notes.append(link.kind)
        if link.master:
            notes.append(f"master {link.master}")
        if link.mtu not in (1500, 65536):
            notes.append(f"mtu {link.mtu}")
        rows.append(LinkRow(ns.inode, link.name, peer_text(snap, link), link_state(link), link.mac or "",
                            tuple(addrs.get(link.name, ())), tuple(notes)))
    return rows


@dataclass(frozen=True)
class BridgeRow:
    """One bridge, like `brctl show`: its name, state and ports."""
    HEADERS = ("BRIDGE", "STATE", "PORTS")
    ALIGN = "lll"
    netns: int
    netns_label: str
    bridge: str
    state: str
    ports: tuple[str, ...]
    hairpin: tuple[str, ...] = ()   # the ports with hairpin on (`bridge -d link` says "hairpin on")

    def cells(self) -> tuple[str, ...]:
        ports = [f"{p} (hairpin on)" if p in self.hairpin else p for p in self.ports]
        return (self.bridge, self.state, ", ".join(ports) if ports else "(no ports)")


def bridge_rows(snap: Snapshot, ns: NetNS | None = None) -> list[BridgeRow]:
    """Bridges of one netns, or of all of them (in ordered_netns order)."""
    rows = []
    for each in [ns] if ns is not None else ordered_netns(snap):
        for link in sorted(each.links, key=lambda l: l.ifindex):
            if link.kind == "bridge":
                ports = sorted((p for p in each.links if p.master == link.name), key=lambda p: p.name)
                rows.append(BridgeRow(each.inode, each.label, link.name, link_state(link),
                                      tuple(p.name for p in ports), tuple(p.name for p in ports if p.hairpin)))
    return rows


@dataclass(frozen=True)
class TextRow:
    """A row that is one line of text in the style of an iproute2 command (routes, neighbours...)."""
    HEADERS = ("",)
    ALIGN = "l"
    netns: int
    text: str

    def cells(self) -> tuple[str, ...]:
        return (self.text,)


def route_text(route: Route, *, details: bool = True) -> str:
    """A route as `ip route` prints it (details=False: as route_args())."""
    parts = [route.dst]
    if route.via:
        parts.append(f"via {route.via}")
    if route.dev:
        parts.append(f"dev {route.dev}")
    if details:
        if route.table != MAIN_TABLE:
            parts.append(f"table {route.table}")
        if route.proto and route.proto != "boot":
            parts.append(f"proto {route.proto}")
        if route.scope and route.scope not in ("global", "universe"):
            parts.append(f"scope {route.scope}")
        if route.src:
            parts.append(f"src {route.src}")
    if route.onlink:
        parts.append("onlink")
    return " ".join(parts)


def route_args(route: Route) -> str:
    """A route as `ip route add` and `ip route del` take it: destination, gateway, device, onlink
    (no table, protocol, scope or source address). The checks quote a route so, in their messages
    and in the commands they suggest."""
    return route_text(route, details=False)


def route_rows(snap: Snapshot, ns: NetNS) -> list[TextRow]:
    """IPv4 routes, then IPv6 ones; automatic fe80::/64 link-local routes are left out."""
    routes = [r for r in ns.routes if not (r.family == socket.AF_INET6 and r.dst.startswith("fe80::"))]
    routes.sort(key=lambda r: r.family != socket.AF_INET)
    return [TextRow(ns.inode, route_text(r)) for r in routes]


def neighbour_text(n: Neighbour) -> str:
    """A neighbour as `ip neigh` prints it."""
    mac = f" lladdr {n.mac}" if n.mac else ""
    return f"{n.ip} dev {n.dev}{mac} {n.state}"


def neighbour_rows(snap: Snapshot, ns: NetNS) -> list[TextRow]:
    return [TextRow(ns.inode, neighbour_text(n)) for n in ns.neighbours if n.state != "NOARP"]


def is_multicast(mac: str) -> bool:
    """A multicast MAC (the low bit of its first byte): the bridge's own fdb entries, left out of the views."""
    try:
        return bool(int(mac.split(":")[0], 16) & 1)
    except ValueError:
        return False


def fdb_text(e: FdbEntry) -> str:
    """An fdb entry as `bridge fdb show` prints it."""
    parts = [e.mac, f"dev {e.dev}"]
    if e.dst:
        parts.append(f"dst {e.dst}")
    if e.vlan is not None:
        parts.append(f"vlan {e.vlan}")
    if e.master:
        parts.append(f"master {e.master}")
    if e.permanent:
        parts.append("permanent")
    return " ".join(parts)


def fdb_rows(snap: Snapshot, ns: NetNS) -> list[TextRow]:
    """Entries with a remote VTEP (vxlan) and unicast entries; multicast ones are left out."""
    return [TextRow(ns.inode, fdb_text(e)) for e in ns.fdb if e.dst or not is_multicast(e.mac)]


def socket_text(s: Socket) -> str:
    ip = f"[{s.ip}]" if ":" in s.ip else s.ip
    pids = f"  pid {', '.join(str(p) for p in s.pids)}" if s.pids else ""
    return f"{s.proto} {ip}:{s.port} {s.state}{pids}"


def socket_rows(snap: Snapshot, ns: NetNS) -> list[TextRow]:
    return [TextRow(ns.inode, socket_text(s))
            for s in sorted(ns.sockets, key=lambda s: (s.proto, s.port, s.family, s.ip))]


def _representative(snap: Snapshot, nstype: str, inode: int) -> Namespace | None:
    for ns in snap.namespaces:
        if ns.type == nstype and ns.inode == inode:
            return ns
    return None


def _ns_label(snap: Snapshot, nstype: str, inode: int) -> str:
    host = " (host)" if snap.host_ns.get(nstype) == inode else ""
    return f"{inode}{host}"


@dataclass(frozen=True)
class HostnameRow:
    HEADERS = ("UTS NS", "HOSTNAME", "PID", "COMMAND")
    ALIGN = "llrl"
    inode: int
    hostname: str
    is_host: bool
    pid: int | None
    command: str

    def cells(self) -> tuple[str, ...]:
        return (f"{self.inode}{' (host)' if self.is_host else ''}", self.hostname,
                "-" if self.pid is None else str(self.pid), self.command)


def _sorted_host_first(snap: Snapshot, nstype: str, inodes: Iterable[int]) -> list[int]:
    host = snap.host_ns.get(nstype)
    return sorted(inodes, key=lambda i: (i != host, i))


def hostname_rows(snap: Snapshot) -> list[HostnameRow]:
    rows = []
    for inode in _sorted_host_first(snap, "uts", snap.hostnames):
        rep = _representative(snap, "uts", inode)
        rows.append(HostnameRow(inode, snap.hostnames[inode], snap.host_ns.get("uts") == inode,
                                rep.pid if rep else None, rep.command if rep else ""))
    return rows


@dataclass(frozen=True)
class MountNsRow:
    """A mount namespace, compared with the host's: what it has that the host has not, and the reverse."""
    inode: int
    is_host: bool
    pid: int | None
    command: str
    nmounts: int
    added: tuple[Mount, ...]      # in this namespace, not in the host's (by target, fstype, source)
    missing: int                  # how many of the host's mounts it does not have

    @property
    def summary(self) -> str:
        who = f"pid {self.pid} {self.command}" if self.pid is not None else "no process"
        if self.is_host:
            return f"mnt {self.inode} (host): {counted(self.nmounts, 'mount')}; {who}"
        return (f"mnt {self.inode}: {counted(self.nmounts, 'mount')}, {len(self.added)} not in the "
                f"host's, {self.missing} of the host's absent; {who}")


def mount_text(m: Mount) -> str:
    """Like `findmnt -l`: TARGET SOURCE FSTYPE OPTIONS."""
    root = f"[{m.root}]" if m.root not in ("/", "") else ""
    return f"{m.target}  {m.source}{root}  {m.fstype}  {m.options}"


def mount_rows(snap: Snapshot) -> list[MountNsRow]:
    host_inode = snap.host_ns.get("mnt")
    host_keys = {(m.target, m.fstype, m.source) for m in snap.mounts.get(host_inode, ())}
    rows = []
    for inode in _sorted_host_first(snap, "mnt", snap.mounts):
        table = snap.mounts[inode]
        keys = {(m.target, m.fstype, m.source) for m in table}
        rep = _representative(snap, "mnt", inode)
        is_host = inode == host_inode
        added = () if is_host else tuple(m for m in table if (m.target, m.fstype, m.source) not in host_keys)
        missing = 0 if is_host or not host_keys else len(host_keys - keys)
        rows.append(MountNsRow(inode, is_host, rep.pid if rep else None, rep.command if rep else "",
                               len(table), added, missing))
    return rows


@dataclass(frozen=True)
class ShmRow:
    HEADERS = ("IPC NS", "KEY", "SHMID", "BYTES", "OWNER", "CREATOR PID")
    ALIGN = "llrrlr"
    inode: int
    is_host: bool
    key: int
    shmid: int
    size: int
    owner: str
    cpid: int

    def cells(self) -> tuple[str, ...]:
        return (f"{self.inode}{' (host)' if self.is_host else ''}", f"{self.key:#010x}", str(self.shmid),
                str(self.size), self.owner, str(self.cpid))


def shm_rows(snap: Snapshot) -> list[ShmRow]:
    host = snap.host_ns.get("ipc")
    return [ShmRow(inode, inode == host, s.key, s.shmid, s.size, user_name(s.uid), s.cpid)
            for inode in _sorted_host_first(snap, "ipc", snap.shm)
            for s in sorted(snap.shm[inode], key=lambda s: s.shmid)]


def id_map_text(maps) -> str:
    """A uid_map/gid_map as in /proc/PID/uid_map (INSIDE OUTSIDE COUNT), lines joined by '; '."""
    return "; ".join(f"{m.inside} {m.outside} {m.count}" for m in maps) if maps else "(not mapped yet)"


@dataclass(frozen=True)
class UserNsRow:
    HEADERS = ("USER NS", "UID MAP", "GID MAP", "PID", "COMMAND")
    ALIGN = "lllrl"
    inode: int
    is_host: bool
    uid_map: str
    gid_map: str
    pid: int | None
    command: str

    def cells(self) -> tuple[str, ...]:
        return (f"{self.inode}{' (host)' if self.is_host else ''}", self.uid_map, self.gid_map,
                "-" if self.pid is None else str(self.pid), self.command)


def userns_rows(snap: Snapshot) -> list[UserNsRow]:
    rows = []
    for inode in _sorted_host_first(snap, "user", snap.userns):
        info = snap.userns[inode]
        rep = _representative(snap, "user", inode)
        rows.append(UserNsRow(inode, snap.host_ns.get("user") == inode, id_map_text(info.uid_map),
                              id_map_text(info.gid_map), rep.pid if rep else None, rep.command if rep else ""))
    return rows


@dataclass(frozen=True)
class CgroupRow:
    HEADERS = ("CGROUP", "NPROCS", "CPU LIMIT")
    ALIGN = "lrl"
    path: str
    limit: str
    nprocs: int

    def cells(self) -> tuple[str, ...]:
        return (self.path, str(self.nprocs), self.limit)


def cgroup_rows(snap: Snapshot) -> list[CgroupRow]:
    """The cgroups that have a CPU limit, with how many processes are directly in each."""
    counts: dict[str, int] = {}
    for proc in snap.processes.values():
        if proc.cgroup is not None:
            counts[proc.cgroup] = counts.get(proc.cgroup, 0) + 1
    rows = []
    for path in sorted(snap.cgroups.limits):
        limit = snap.cgroups.limits[path]
        if limit.quota_us is None:
            continue
        text = (f"{limit.percent:g}% of one CPU ({limit.quota_us} us per {limit.period_us} us, "
                f"cgroup v{limit.version})")
        rows.append(CgroupRow(path, text, counts.get(path, 0)))
    return rows


# =============================================================== text formatting
def _fit(text: str, width: int) -> str:
    return fit(text, max(width, 1))


def format_table(headers: Sequence[str] | None, rows: Iterable[Sequence[str]], align: str = "",
                 width: int = WIDTH, indent: int = 0, wrap_last: bool = True, max_col: int = 40) -> list[str]:
    """Lines of a plain table: columns two spaces apart, no wider than *width*.

    Columns but the last are as wide as their widest cell (at most *max_col*, longer cells are
    cut with '…'); the last column gets the rest of the line and wraps onto indented continuation
    lines (or is cut, with wrap_last=False). *align* has one 'l' or 'r' per column.
    This is the plain-text table of `nstutor snapshot`, which people and scripts read; the live
    panel's styled, changing tables are tutor/app/panel/layout.render_table's job.
    """
    rows = [tuple(r) for r in rows]
    if not rows:
        return []
    ncols = len(rows[0])
    sized = ([tuple(headers)] if headers else []) + rows
    widths = [min(max(cell_width(r[i]) for r in sized), max_col) for i in range(ncols - 1)]
    last_width = max(cell_width(r[-1]) for r in sized)
    # many wide columns (a Podman container: a 30-character image name beside its pod and infra
    # names) leave the last one no room: cut the widest of them, one cell at a time, until the
    # last column has the room it needs (up to 16 cells) and the line fits *width*
    need_last = min(last_width, 16)
    while indent + sum(w + 2 for w in widths) + need_last > width and max(widths, default=0) > 6:
        widths[widths.index(max(widths))] -= 1
    start = indent + sum(w + 2 for w in widths)
    room = max(width - start, need_last)
    last_right = len(align) >= ncols and align[ncols - 1] == "r"
    last_width = min(last_width, room)

    def line(cells: Sequence[str]) -> list[str]:
        parts = []
        for i, w in enumerate(widths):
            cell = _fit(cells[i], w)
            parts.append(pad(cell, w, right=i < len(align) and align[i] == "r"))
        last = cells[-1]
        if wrap_last and cell_width(last) > room:
            pieces = wrap(last, room) or [""]
        else:
            pieces = [_fit(last, room)]
            if last_right:
                pieces[0] = pad(pieces[0], last_width, right=True)
        head = " " * indent + "  ".join(parts + [pieces[0]])
        return [head.rstrip()] + [(" " * start + p).rstrip() for p in pieces[1:]]

    out = line(headers) if headers else []
    for r in rows:
        out.extend(line(r))
    return out


def _table(rows: Sequence, width: int, indent: int = 0, **kw) -> list[str]:
    if not rows:
        return []
    cls = type(rows[0])
    return format_table(cls.HEADERS, (r.cells() for r in rows), cls.ALIGN, width, indent, **kw)


def _lines(title: str, rows: Sequence, width: int, indent: int) -> list[str]:
    """A titled list of one-line rows (routes, neighbours...), or nothing when empty."""
    if not rows:
        return []
    pad = " " * indent
    return [f"{pad}{title}:"] + [_fit(f"{pad}  {r.text}", width) for r in rows]


def render_lsns(snap: Snapshot, width: int = WIDTH) -> list[str]:
    out = ["NAMESPACES (like lsns; named netns with no process included)"] + \
        _table(lsns_rows(snap), width, indent=2, wrap_last=False)
    if not any(ns.names for ns in snap.netns.values()):
        # a fresh VM before its first `ip netns add` (often no /run/netns at all): not a blind spot
        out.append("  (no named network namespace yet: `ip netns add NAME` makes one)")
    return out


def render_netns(snap: Snapshot, ns: NetNS, width: int = WIDTH,
                 held: Mapping[int, Sequence[Container]] | None = None) -> list[str]:
    """One netns's section; *held*: netns_containers(snap), when the caller has it already."""
    held = netns_containers(snap) if held is None else held
    row = NetnsRow(ns.inode, ns.label, ns.names, ns.is_host, tuple(sorted(ns.pids)), len(ns.links), ns.error,
                   containers_text(held.get(ns.inode, ())))
    title = f"NETWORK NAMESPACE {ns.label}"
    if ns.label != f"net:[{ns.inode}]":
        title += f"  net:[{ns.inode}]"
    out = [_fit(f"{title}  {'host, ' if ns.is_host and ns.names else ''}{row.note}", width)]
    if ns.error and not ns.links:
        return out
    out += _table(link_rows(snap, ns), width, indent=2)
    bridges = bridge_rows(snap, ns)
    if bridges:
        out += [""] + _table(bridges, width, indent=2)
    for title, rows in (("routes", route_rows(snap, ns)), ("neighbours", neighbour_rows(snap, ns)),
                        ("fdb", fdb_rows(snap, ns)), ("listening", socket_rows(snap, ns))):
        out += _lines(title, rows, width, 2)
    return out


def render_containers(snap: Snapshot, width: int = WIDTH) -> list[str]:
    """The containers table, and a line for each engine that could not be read (and why); nothing
    for a snapshot that did not look for containers (made up by a test, or an engine-less build)."""
    if not (snap.containers or snap.engines):
        return []
    out = ["CONTAINERS (as Docker, Podman and containerd record them)"]
    rows = container_rows(snap)
    out += _table(rows, width, indent=2, wrap_last=False) if rows else ["  (none)"]
    for state in snap.engines:
        if state.state != "running":
            out += [_fit(f"  {state.engine} {state.state}: {line}" if i == 0 else f"    {line}", width)
                    for i, line in enumerate(textwrap.wrap(state.detail or "", width - 20) or [""])]
    return out


def render_hostnames(snap: Snapshot, width: int = WIDTH) -> list[str]:
    return ["HOSTNAMES (one per uts namespace)"] + (_table(hostname_rows(snap), width, indent=2, wrap_last=False)
                                                    or ["  (none read)"])


def render_mounts(snap: Snapshot, width: int = WIDTH, limit: int = 8) -> list[str]:
    out = ["MOUNT NAMESPACES (compared with the host's)"]
    for row in mount_rows(snap):
        out.append(_fit(f"  {row.summary}", width))
        for m in row.added[:limit]:
            out.append(_fit(f"    + {mount_text(m)}", width))
        if len(row.added) > limit:
            out.append(f"    ... and {len(row.added) - limit} more")
    return out if len(out) > 1 else out + ["  (none read)"]


def render_shm(snap: Snapshot, width: int = WIDTH) -> list[str]:
    rows = shm_rows(snap)
    return ["SYSV SHARED MEMORY (per ipc namespace)"] + (_table(rows, width, indent=2) if rows else ["  (no segments)"])


def render_userns(snap: Snapshot, width: int = WIDTH) -> list[str]:
    return ["USER NAMESPACES (uid_map / gid_map: inside outside count)"] + \
        (_table(userns_rows(snap), width, indent=2, wrap_last=False) or ["  (none read)"])


def render_cgroups(snap: Snapshot, width: int = WIDTH) -> list[str]:
    cg = snap.cgroups
    where = f", cpu controller at {cg.cpu_root}" if cg.cpu_root else ""
    rows = cgroup_rows(snap)
    return [f"CGROUPS ({cg.mode}{where})"] + (_table(rows, width, indent=2) if rows else ["  (no CPU limits set)"])


def render_problems(snap: Snapshot, width: int = WIDTH) -> list[str]:
    if not snap.problems:
        return ["PROBLEMS: none, nstutor saw everything it looked for"]
    out = [f"PROBLEMS ({len(snap.problems)}: what nstutor could not see)"]
    for p in snap.problems:
        wrapped = textwrap.wrap(p, width - 4, break_long_words=False) or [""]
        out.append(f"  - {wrapped[0]}")
        out.extend(f"    {w}" for w in wrapped[1:])
    return out


def render_header(snap: Snapshot) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.taken_at))
    who = "as root" if snap.is_root else "NOT as root: other users' namespaces are hidden"
    return (f"nstutor snapshot {when}, took {snap.duration_ms:.0f} ms, {who}; "
            f"{len(snap.processes)} processes, {_netns_count(snap)}")


def _netns_count(snap: Snapshot) -> str:
    n = len(snap.netns)      # 1 on a fresh VM: only the host's
    return f"{n} network namespace{'' if n == 1 else 's'}"


def render_text(snap: Snapshot, width: int = WIDTH) -> str:
    """The whole snapshot for a human, in *width* columns."""
    sections: list[list[str]] = [[_fit(render_header(snap), width)], render_lsns(snap, width),
                                 render_containers(snap, width)]
    held = netns_containers(snap)
    sections += [render_netns(snap, ns, width, held) for ns in ordered_netns(snap)]
    sections += [render_hostnames(snap, width), render_mounts(snap, width), render_shm(snap, width),
                 render_userns(snap, width), render_cgroups(snap, width), render_problems(snap, width)]
    return "\n\n".join("\n".join(s) for s in sections if s)
