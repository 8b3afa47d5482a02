"""The snapshot data model: plain, immutable records of what the kernel showed.

Everything here is data only (no I/O). `tutor.observe.snapshot.take_snapshot()`
fills these in; the grader (`tutor.checks`) and the views only read them.
Collections are tuples or read-only mappings so a snapshot can be shared
between threads and never changes after it is taken.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from .conntrack import ConntrackRead
    from .firewall import HostFilter, NatRead

#: The eight namespace types, in the order lsns prints them.
NS_TYPES = ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time")

EMPTY: Mapping = MappingProxyType({})


def frozen_map(d: dict | None) -> Mapping:
    """A read-only view of *d* (the snapshot never changes once taken)."""
    return MappingProxyType(dict(d or {}))


# --------------------------------------------------------------- containers (issue 14)
#: The engines nstutor reads, by the name a lesson and a selector use.
ENGINES = ("docker", "podman", "containerd")

#: The host bridges an engine makes for itself, the first time it runs a container (dockerd's
#: docker0 when it starts): not a learner's to make, nor a lesson's leftover.
ENGINE_LINKS = {"docker": re.compile(r"^docker0$"), "podman": re.compile(r"^(cni-)?podman\d+$")}


def engine_of_link(name: str) -> str | None:
    """The engine that makes a host link of this name (docker0: docker), or None."""
    return next((engine for engine, pattern in ENGINE_LINKS.items() if pattern.match(name)), None)


@dataclass(frozen=True, slots=True)
class Container:
    """A container as its engine records it (read-only: never through its CLI on each snapshot).

    Which namespaces it has is not a field: it is its main process's (`Snapshot.processes[pid].ns`),
    so every relation between containers is decided by namespace inode, as for any process."""
    engine: str                    # one of ENGINES
    id: str                        # the full id (64 hex digits for all three)
    name: str                      # docker: without the leading '/'; containerd/CRI: the Kubernetes container name
    image: str                     # as the engine names it: nstutor-box, localhost/podman-pause:4.3.1-0, ...
    state: str                     # the engine's word: running, paused, restarting, exited, created, ...
    pid: int | None                # its main process on this machine (None when it is not running)
    pod: str | None = None         # a Podman pod's name, or a Kubernetes pod as "namespace/name"
    infra: bool = False            # the pod's infra container (Podman) or sandbox / pause (Kubernetes)
    network: str | None = None     # how its network was asked for: bridge, host, none, container:<name>, a network name

    @property
    def label(self) -> str:
        """How a learner names it: 'web (docker)', 'podweb-a (podman, pod podweb)'."""
        pod = f", pod {self.pod}" if self.pod else ""
        return f"{self.name} ({self.engine}{pod})"


@dataclass(frozen=True, slots=True)
class EngineState:
    """Whether an engine could be read, for a lesson's requirement and the panel's note."""
    engine: str                    # one of ENGINES
    state: str                     # "running", "absent" (not installed), "stopped" (installed, not running),
    #                                "denied" (its records need root), "error" (read, but not understood)
    detail: str | None = None      # for people: "dockerd is not running: start it with ..." (None when running)


# --------------------------------------------------------------- processes
@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    ppid: int
    comm: str                      # /proc/PID/comm (the kernel's 15-char name)
    cmdline: tuple[str, ...]       # argv; empty for kernel threads and zombies
    state: str                     # one letter: R S D Z T I ...
    uid: int                       # owner of /proc/PID (what lsns shows as USER)
    ns: Mapping[str, int]          # namespace type -> inode; a type is missing if unreadable
    nspid: tuple[int, ...] = ()    # NSpid: pid in each pid ns, outermost (host) first
    root: str | None = None        # readlink /proc/PID/root as seen from the host ("/" normally)
    cgroup: str | None = None      # cgroup path (cpu controller hierarchy) e.g. "/nstutor-cpu"
    cpu_ticks: int = 0             # utime + stime, in clock ticks
    start_ticks: int = 0           # starttime from /proc/PID/stat (identity with pid)
    cpu_percent: float | None = None  # % of one CPU since the previous snapshot (None: no previous)
    #: cminflt + cmajflt: page faults of the children it has collected with wait(). The kernel adds
    #: a child's faults to its parent's only then, so above 0 means it has reaped an exited child.
    child_faults: int = 0

    @property
    def is_zombie(self) -> bool:
        return self.state == "Z"

    @property
    def command(self) -> str:
        """The command line as one string, or [comm] for kernel threads (like ps)."""
        return " ".join(self.cmdline) if self.cmdline else f"[{self.comm}]"

    @property
    def pid_in_own_ns(self) -> int:
        """The pid this process sees for itself (last NSpid entry)."""
        return self.nspid[-1] if self.nspid else self.pid


@dataclass(frozen=True, slots=True)
class Namespace:
    """One row of the lsns table."""
    inode: int
    type: str
    nprocs: int
    pid: int | None        # lowest pid in it (None: held only by a bind mount, e.g. a named netns)
    uid: int | None        # owner of that process
    command: str           # that process's command line
    names: tuple[str, ...] = ()   # for net: names in /run/netns that point here


# --------------------------------------------------------------- network
@dataclass(frozen=True, slots=True)
class VxlanInfo:
    vni: int | None
    port: int | None         # destination UDP port (host order)
    local: str | None        # local tunnel address
    dev: str | None          # underlay device name (resolved from IFLA_VXLAN_LINK)
    learning: bool | None


@dataclass(frozen=True, slots=True)
class Link:
    netns: int               # inode of the netns this link is in
    ifindex: int
    name: str
    kind: str | None         # "veth", "bridge", "vxlan", "dummy"... None for plain devices / lo
    admin_up: bool           # IFF_UP: `ip link set X up` was done
    operstate: str           # "UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN"...
    mtu: int
    mac: str | None
    master: str | None = None          # name of the bridge (or other master) it is enslaved to
    peer_netns: int | None = None      # veth: inode of the netns of its peer (None if unknown)
    peer_ifindex: int | None = None    # veth: ifindex of the peer inside peer_netns
    peer_name: str | None = None       # veth: peer's name, resolved across namespaces when possible
    vxlan: VxlanInfo | None = None
    #: a bridge port's hairpin mode (`bridge link set dev X hairpin on`: frames may leave by the port
    #: they came in by); None when it is not a bridge port, or the kernel did not say
    hairpin: bool | None = None

    @property
    def is_up(self) -> bool:
        """Up as a learner means it: administratively up and not DOWN."""
        return self.admin_up and self.operstate != "DOWN"


@dataclass(frozen=True, slots=True)
class Address:
    dev: str
    family: int              # socket.AF_INET or AF_INET6
    cidr: str                # "10.11.11.2/24"
    scope: str = "global"

    @property
    def ip(self) -> str:
        return self.cidr.split("/")[0]


#: Routing tables by number (linux/rtnetlink.h): `ip route` shows the main one; the local one
#: (the machine's own addresses) observe leaves out, as `ip route` does.
MAIN_TABLE, LOCAL_TABLE = 254, 255


@dataclass(frozen=True, slots=True)
class Route:
    dst: str                 # "default" or a prefix like "10.22.0.0/24"
    family: int
    dev: str | None = None
    via: str | None = None
    onlink: bool = False
    table: int = MAIN_TABLE
    proto: str | None = None
    scope: str | None = None
    src: str | None = None


@dataclass(frozen=True, slots=True)
class Neighbour:
    dev: str
    ip: str
    mac: str | None
    state: str               # "PERMANENT", "REACHABLE", "STALE", "FAILED"...


@dataclass(frozen=True, slots=True)
class FdbEntry:
    dev: str
    mac: str
    dst: str | None = None   # remote VTEP (vxlan fdb)
    master: str | None = None
    vlan: int | None = None
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class Socket:
    proto: str               # "tcp" or "udp"
    family: int
    ip: str                  # local address ("0.0.0.0", "::", "127.0.0.1"...)
    port: int
    inode: int
    state: str               # "LISTEN" for tcp; "UNCONN" for bound udp
    pids: tuple[int, ...] = ()   # processes holding it (best effort)


@dataclass(frozen=True, slots=True)
class NetNS:
    inode: int
    names: tuple[str, ...]   # names in /run/netns (empty: unnamed, held by processes only)
    pids: tuple[int, ...]    # processes in it
    is_host: bool            # the host's (PID 1's / our own) netns
    links: tuple[Link, ...] = ()
    addresses: tuple[Address, ...] = ()
    routes: tuple[Route, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    sockets: tuple[Socket, ...] = ()
    error: str | None = None # why some of it could not be read

    @property
    def label(self) -> str:
        """How a learner names it: "RED", "host", or "net:[4026532401]"."""
        if self.names:
            return self.names[0]
        if self.is_host:
            return "host"
        return f"net:[{self.inode}]"

    def link(self, name: str) -> Link | None:
        for link in self.links:
            if link.name == name:
                return link
        return None


# --------------------------------------------------------------- other namespaces
@dataclass(frozen=True, slots=True)
class Mount:
    mount_id: int
    parent_id: int
    target: str              # mount point as seen inside that mount ns
    fstype: str
    source: str
    options: str
    root: str = "/"          # root of the mount within its filesystem (4th mountinfo field)


@dataclass(frozen=True, slots=True)
class ShmSegment:
    key: int
    shmid: int
    size: int
    uid: int
    cpid: int


@dataclass(frozen=True, slots=True)
class IdMap:
    inside: int
    outside: int
    count: int


@dataclass(frozen=True, slots=True)
class UserNsInfo:
    inode: int
    uid_map: tuple[IdMap, ...]
    gid_map: tuple[IdMap, ...]


@dataclass(frozen=True, slots=True)
class CpuLimit:
    """The CPU bandwidth limit of one cgroup. quota None means unlimited ("max")."""
    path: str
    quota_us: int | None
    period_us: int
    version: int             # 1 or 2

    @property
    def percent(self) -> float | None:
        return None if self.quota_us is None else 100.0 * self.quota_us / self.period_us


@dataclass(frozen=True, slots=True)
class CgroupInfo:
    mode: str                                  # "v2", "v1", "hybrid"
    cpu_root: str | None                       # where the cpu controller is mounted
    limits: Mapping[str, CpuLimit] = field(default_factory=lambda: EMPTY)  # cgroup path -> limit (for paths processes are in, and their ancestors)


# --------------------------------------------------------------- parts read only when a check asks
@dataclass(frozen=True, slots=True)
class Probe:
    """One packet a check asks observe to send (observe/probes.py): from inside one netns, ONE ICMP
    echo to *ip*, or ONE TCP connection attempt to ip:port, with a one-second timeout. The kind that
    asks has already decided that the packet stays inside this machine (checks/kinds/reachable.py)."""
    netns: int                    # inode of the netns it is sent from
    ip: str                       # the destination address
    port: int | None = None       # TCP port; None: one ping


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one Probe found. *trouble* says why it was not sent at all, where the words name the
    netns it was to leave from (the kind words that): "gone" (nothing names it any more), "changed"
    (the file that names it holds another netns now), "enter" (setns failed; *detail* says how).
    *code* says what went wrong in every failed case (observe/probes.py lists the codes: "gone",
    "needs-root", "no-answer", "refused", ...; None when it answered): *detail* is in the learner's
    language, so a check decides on the code (probes.needs_root(), is_refused()), never on words."""
    ok: bool
    detail: str                   # what happened, in words (the learner's language)
    rtt_ms: float | None = None
    trouble: str | None = None
    code: str | None = None

    # A result made without a code (an older snapshot, a test's hand-made one) is told by its English words.
    @property
    def needs_root(self) -> bool:
        """Did the probe fail for want of root (nothing to diagnose on the way)?"""
        if self.code is not None:
            return self.code == PROBE_NEEDS_ROOT
        return not self.ok and self.trouble is None and self.detail.startswith(
            ("sending a ping needs root", "entering the namespace needs root"))

    @property
    def refused(self) -> bool:
        """Was a TCP connection refused (the address is there, nothing listens on the port)?"""
        if self.code is not None:
            return self.code == PROBE_REFUSED
        return not self.ok and self.trouble is None and "refused" in self.detail

    @property
    def no_answer(self) -> bool:
        """Did nothing come back within the timeout?"""
        if self.code is not None:
            return self.code == PROBE_NO_ANSWER
        return not self.ok and self.trouble is None and self.detail.startswith("no answer within")


#: ProbeResult.code values the model itself tells apart (observe/probes.py has them all)
PROBE_NEEDS_ROOT = "needs-root"
PROBE_REFUSED = "refused"
PROBE_NO_ANSWER = "no-answer"


@dataclass(frozen=True)
class Wants:
    """Snapshot parts some check will read beyond the standing ones, which cost too much to read
    for every snapshot (a program run, files opened inside a process's root, a packet sent). A kind
    says what it wants (checks/base.py Expectation.wants), observe reads exactly that into the
    snapshot, and grading reads only the snapshot. A kind may want more once what it asked for is in
    (a failed probe calls for the host's filter table): observe asks again once (snapshot.answer)."""
    nat: bool = False                                     # the host's iptables nat table
    files: frozenset[tuple[int | None, str]] = frozenset()  # (pid, path); pid None: the host's mount ns
    own_proc: frozenset[int] = frozenset()                # pids whose view of /proc is wanted
    programs: frozenset[str] = frozenset()                # argv[0]s: can each be typed again as it is?
    capabilities: frozenset[int] = frozenset()            # pids whose capability sets are wanted
    probes: frozenset[Probe] = frozenset()                # packets to send (only when probes are allowed)
    host_filter: bool = False                             # the host's iptables filter table
    forwarding: frozenset[tuple[int, int]] = frozenset()  # (netns inode, IP version 4/6): is forwarding on
    memory_cgroups: frozenset[str] = frozenset()          # cgroup paths (/nstutor-mem) whose memory files are wanted
    netns_nat: frozenset[int] = frozenset()               # netns inodes (not the host's) whose nat table is wanted
    conntrack: frozenset[int] = frozenset()               # netns inodes whose connection tracking table is wanted

    def __or__(self, other: "Wants") -> "Wants":
        return Wants(nat=self.nat or other.nat, files=self.files | other.files,
                     own_proc=self.own_proc | other.own_proc, programs=self.programs | other.programs,
                     probes=self.probes | other.probes, host_filter=self.host_filter or other.host_filter,
                     forwarding=self.forwarding | other.forwarding,
                     capabilities=self.capabilities | other.capabilities,
                     memory_cgroups=self.memory_cgroups | other.memory_cgroups,
                     netns_nat=self.netns_nat | other.netns_nat, conntrack=self.conntrack | other.conntrack)

    def __bool__(self) -> bool:
        return (self.nat or bool(self.files) or bool(self.own_proc) or bool(self.programs) or bool(self.probes)
                or self.host_filter or bool(self.forwarding) or bool(self.capabilities) or bool(self.memory_cgroups)
                or bool(self.netns_nat) or bool(self.conntrack))


NOTHING = Wants()


@dataclass(frozen=True, slots=True)
class FileFact:
    """A path as one process sees it (through /proc/PID/root), or as the host's mount namespace has it."""
    state: str                   # "file", "missing", "other" (not a regular file), "error", "gone" (the process exited)
    detail: str | None = None    # file: its text (the first 64 KiB; None for the host's); other: what it is; error: why


@dataclass(frozen=True, slots=True)
class CapabilitySets:
    """A process's capability sets, as bit masks (/proc/PID/status CapEff, CapPrm, CapBnd; bit N is
    capability number N of linux/capability.h), or why they could not be read."""
    effective: int = 0           # what the kernel checks on each privileged operation
    permitted: int = 0           # what it may switch on again
    bounding: int = 0            # the most that it and its children can ever get back (even by exec of setuid)
    gone: bool = False           # the process exited (or its pid was reused) before it was read
    error: str | None = None     # unreadable, and why


#: MemoryCgroup.swap_max when the cgroup has no memory.swap.max (the kernel does not account swap).
ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class MemoryCgroup:
    """One cgroup's memory limit and what the kernel counted against it (observe/memory.py), read
    only when a check asks. Sizes are bytes; None for a limit means "max" (no limit)."""
    path: str                          # the cgroup path as the check names it: /nstutor-mem
    version: int | None                # 1 or 2: the tree the memory controller is in (None: no memory tree)
    directory: str | None              # the directory looked at: /sys/fs/cgroup/memory/nstutor-mem (v1)
    exists: bool = False               # that directory is a cgroup (it has a cgroup.procs)
    controller: bool = False           # it has the memory files (v2: memory.max, which needs +memory
    #                                    in the parent's cgroup.subtree_control; v1: always)
    limit: int | None = None           # memory.max (v2) / memory.limit_in_bytes (v1); None: max
    swap_max: int | None | str = ABSENT  # v2 memory.swap.max: bytes, None for max, ABSENT without the file
    swappiness: int | None = None      # v1 memory.swappiness
    memsw_limit: int | None | str = ABSENT  # v1 memory.memsw.limit_in_bytes (memory + swap); None: max
    oom_kills: int | None = None       # oom_kill of memory.events (v2) / memory.oom_control (v1)
    max_hits: int | None = None        # how often the limit was hit: `max` of memory.events (v2), memory.failcnt (v1)
    usage: int | None = None           # memory.current (v2) / memory.usage_in_bytes (v1)
    members: tuple[int, ...] = ()      # cgroup.procs
    parent_subtree: tuple[str, ...] | None = None  # v2: the controllers of the parent's cgroup.subtree_control
    swap_areas: int | None = None      # swap areas the machine has (/proc/swaps); None: unreadable
    page_size: int = 4096              # the kernel rounds a limit down to whole pages
    error: str | None = None           # why some of it could not be read


@dataclass(frozen=True, slots=True)
class ProcView:
    """What the /proc in a process's mount namespace lists."""
    gone: bool = False                   # the process exited (or its pid was reused) before it was read
    error: str | None = None             # why its /proc could not be listed
    pids: tuple[int, ...] = ()           # the pids that /proc lists
    shows_as: int | None = None          # the pid under which that /proc lists the process itself


# --------------------------------------------------------------- the snapshot
@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: float                            # time.time()
    monotonic: float                           # time.monotonic(), for rates between snapshots
    duration_ms: float
    processes: Mapping[int, Process]
    namespaces: tuple[Namespace, ...]          # the lsns table (+ named netns with no process)
    host_ns: Mapping[str, int]                 # the host's namespace inodes (PID 1's, or ours where PID 1 is unreadable)
    netns: Mapping[int, NetNS]                 # inode -> netns
    hostnames: Mapping[int, str]               # uts inode -> hostname
    mounts: Mapping[int, tuple[Mount, ...]]    # mnt inode -> mount table
    shm: Mapping[int, tuple[ShmSegment, ...]]  # ipc inode -> SysV shm segments
    userns: Mapping[int, UserNsInfo]           # user inode -> id maps
    cgroups: CgroupInfo
    is_root: bool                              # taken with root privileges
    self_pids: frozenset[int] = frozenset()    # the observer's own processes (nstutor): no selector means them
    clock_ticks: int = 100                     # clock ticks per second (SC_CLK_TCK): the unit of cpu_ticks
    problems: tuple[str, ...] = ()             # what could not be seen, in plain words
    firewall_changes: int = 0                  # a long-lived Observer's count of nftables changes (0: not watched)
    containers: tuple[Container, ...] = ()     # every engine's containers, running or not (issue 14)
    engines: tuple[EngineState, ...] = ()      # one per engine in ENGINES: could it be read, and if not why
    parts_ms: Mapping[str, float] = field(default_factory=lambda: EMPTY)  # what each reader took (bench/snapshot.py)
    # ---- parts read only when a check asked for them (Wants); absent when nobody asked
    nat: "NatRead | None" = None               # the host's iptables nat table
    files: Mapping[tuple[int | None, str], FileFact] = field(default_factory=lambda: EMPTY)  # (pid, or None
    #                                          for the host's mount ns, path) -> fact
    own_proc: Mapping[int, ProcView] = field(default_factory=lambda: EMPTY)  # pid -> what the /proc it sees lists
    capabilities: Mapping[int, CapabilitySets] = field(default_factory=lambda: EMPTY)  # pid -> its capability sets
    memory: Mapping[str, MemoryCgroup] = field(default_factory=lambda: EMPTY)  # cgroup path -> its memory files
    programs: Mapping[str, bool] = field(default_factory=lambda: EMPTY)      # argv[0] -> a shell here finds it
    #                                          as typed (a path to a file, or a name on PATH; not `exec -a` names)
    probes: Mapping[Probe, ProbeResult] = field(default_factory=lambda: EMPTY)  # the packets sent, and what came back
    host_filter: "HostFilter | None" = None     # the host's iptables filter table
    forwarding: Mapping[tuple[int, int], bool | None] = field(default_factory=lambda: EMPTY)  # (netns inode,
    #                                          IP version) -> forwarding on (None: could not tell)
    netns_nat: Mapping[int, "NatRead"] = field(default_factory=lambda: EMPTY)  # netns inode -> its nat table
    conntrack: Mapping[int, "ConntrackRead"] = field(default_factory=lambda: EMPTY)  # netns inode -> its
    #                                          connection tracking table (observe/conntrack.py)

    # ---- lookups used by the grader and the views
    def netns_by_name(self, name: str) -> NetNS | None:
        """A netns by learner-facing name: a /run/netns name, "host"/"root", or "net:[inode]"."""
        if name in ("host", "root"):
            return self.netns.get(self.host_ns.get("net", -1))
        for ns in self.netns.values():
            if name in ns.names or name == f"net:[{ns.inode}]":
                return ns
        return None

    def netns_label(self, inode: int | None) -> str:
        if inode is None:
            return "an unknown namespace"
        ns = self.netns.get(inode)
        return ns.label if ns else f"net:[{inode}]"

    def host_netns(self) -> NetNS | None:
        return self.netns.get(self.host_ns.get("net", -1))

    def children(self, pid: int) -> list[Process]:
        return [p for p in self.processes.values() if p.ppid == pid]

    def container(self, name: str, engine: str | None = None) -> Container | None:
        """A container by name (and engine, where two engines have one of that name): the running one first."""
        found = [c for c in self.containers if c.name == name and (engine is None or c.engine == engine)]
        return next((c for c in found if c.pid is not None), found[0] if found else None)

    def containers_in_pod(self, pod: str, engine: str | None = None) -> list[Container]:
        return [c for c in self.containers if c.pod == pod and (engine is None or c.engine == engine)]

    def container_of_pid(self, pid: int) -> Container | None:
        """The container whose main process is *pid* (not its children: see tutor/checks/select.py)."""
        return next((c for c in self.containers if c.pid == pid), None)

    def engine(self, name: str) -> EngineState | None:
        return next((e for e in self.engines if e.engine == name), None)
