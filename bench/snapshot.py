#!/usr/bin/env python3
"""Benchmark: nstutor's snapshot against the classic tools, on a machine at scale.

Builds, in namespaces it owns and without adding anything to the root netns:
  * a hub netns `nsb-hub` holding 20 bridges (br00..br19);
  * 200 netns `nsb-000`..`nsb-199`, each with one veth end `eth0` whose peer `vNNN`
    sits in the hub, enslaved to bridge NNN % 20; an address on each end; all up;
  * 2,000 `sleep` processes spread over those netns, each started with
    `nsenter --net=/run/netns/nsb-NNN sleep 100000.KKKKK` (nsenter, not `ip netns exec`,
    which would also make a mount namespace per process); the argv is unique and
    recognisable, so leftovers can be found and killed safely.
Then it times, in the same run:
  * a cold `take_snapshot()` (what `nstutor check` pays: nothing kept from before);
  * the live app's `Observer().snapshot()`, warm, with one change (an address added or
    removed on one veth) between iterations, so every snapshot has real work to do;
  * the tool equivalent a script would run: `lsns -J`, `ip -j netns list`, then
    `ip -j addr` and `ip -j route` for every netns (and the root), and
    `bridge -n nsb-hub -j link`, one after the other, each parsed as JSON.
Every snapshot is checked against the scenario (the netns, veth ends with resolved
peers, bridges with their ports, the processes): a fast but blind snapshot is a failure.
The containers case (`--containers N`, default 50; 0 skips it) times the warm snapshot on the
same machine with none of its containers, then with N Docker containers running (a dockerd of its
own, as tests/docker_host.py starts one, unless one answers on /run/docker.sock), side by side with
`docker ps`; every snapshot must name all N with their pids.

The last line is machine-readable:
    snapshot_ms=<median> tools_ms=<median> ratio=<tools/snapshot> cold_ms=<median> cold_ratio=<tools/cold>

Run as root from the repository:   sudo /opt/nstutor/bin/python bench/snapshot.py
Smaller:                           ... bench/snapshot.py --netns 20 --procs 200 --iterations 5
Leftovers from a killed run:       ... bench/snapshot.py --cleanup
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout's tutor, whatever the current directory

PREFIX = "nsb-"
HUB = "nsb-hub"
SLEEP_SECONDS = "100000"
#: The argv of our sleeps: "sleep 100000.00042". Nothing else on a machine looks like that.
SLEEP_ARG = re.compile(r"^100000\.\d{5}$")
PR_SET_CHILD_SUBREAPER = 36


class BenchError(Exception):
    """Something is wrong with the machine or the snapshot: printed as one clear message, exit 1."""


class Interrupted(BaseException):
    """SIGTERM / SIGHUP: unwind through the finally blocks like Ctrl-C does."""


# --------------------------------------------------------------- the scenario
@dataclass
class Scenario:
    netns: int
    procs: int
    bridges: int
    inodes: dict[str, int] = field(default_factory=dict)     # netns name -> inode
    sleeps: dict[int, int] = field(default_factory=dict)     # pid -> index k (its netns is k % netns)
    launcher: subprocess.Popen | None = None

    def leaf(self, i: int) -> str:
        return f"{PREFIX}{i:03d}"

    @staticmethod
    def bridge(b: int) -> str:
        return f"br{b:02d}"

    @staticmethod
    def port(i: int) -> str:
        return f"v{i:03d}"

    @staticmethod
    def cidr(i: int, end: int) -> str:
        """A /24 of its own for veth pair i: the leaf end is .1, the hub end .2."""
        return f"10.{i // 256}.{i % 256}.{end}/24"

    @staticmethod
    def sleep_arg(k: int) -> str:
        return f"{SLEEP_SECONDS}.{k:05d}"


def run(cmd: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` failed ({res.returncode}): {res.stderr.strip()[:500]}")
    return res


def build(sc: Scenario) -> dict[str, float]:
    """Make the netns, links and processes; return how long each part took (ms)."""
    times: dict[str, float] = {}
    leaves = [sc.leaf(i) for i in range(sc.netns)]

    t = time.monotonic()
    run(["ip", "-batch", "-"], "".join(f"netns add {name}\n" for name in [HUB, *leaves]))
    times["netns"] = (time.monotonic() - t) * 1000

    # The hub does most of the work in one `ip` process: bridges, the veth pairs (each created here
    # with its other end born straight into its leaf netns), ports, addresses.
    t = time.monotonic()
    hub = ["link set lo up"]
    for b in range(sc.bridges):
        hub += [f"link add {sc.bridge(b)} type bridge", f"link set {sc.bridge(b)} up"]
    for i, leaf in enumerate(leaves):
        port = sc.port(i)
        hub += [f"link add {port} type veth peer name eth0 netns {leaf}",
                f"link set {port} master {sc.bridge(i % sc.bridges)}",
                f"addr add {sc.cidr(i, 2)} dev {port}",
                f"link set {port} up"]
    run(["ip", "-n", HUB, "-batch", "-"], "\n".join(hub) + "\n")
    times["hub"] = (time.monotonic() - t) * 1000

    # Each leaf needs its own `ip -n` (a batch line cannot switch netns); a few at a time.
    t = time.monotonic()

    def configure(i: int) -> None:
        run(["ip", "-n", leaves[i], "-batch", "-"],
            f"link set lo up\naddr add {sc.cidr(i, 1)} dev eth0\nlink set eth0 up\n")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(configure, range(sc.netns)))
    times["leaves"] = (time.monotonic() - t) * 1000

    for name in [HUB, *leaves]:
        sc.inodes[name] = os.stat(f"/run/netns/{name}").st_ino

    t = time.monotonic()
    start_sleeps(sc)
    times["processes"] = (time.monotonic() - t) * 1000
    return times


def start_sleeps(sc: Scenario) -> None:
    """One bash starts every sleep in the background (a fork is much cheaper from bash than from
    Python) and prints their pids; it stays alive (`wait`) so it reaps them when we kill them."""
    lines = ["#!/bin/bash"]
    for k in range(sc.procs):
        lines.append(f"nsenter --net=/run/netns/{sc.leaf(k % sc.netns)} sleep {sc.sleep_arg(k)} "
                     f"</dev/null >/dev/null 2>&1 &")
        lines.append(f"echo {k} $!")
    lines += ["echo READY", "exec >/dev/null", "wait"]
    with tempfile.NamedTemporaryFile("w", prefix="nsb-launch-", suffix=".sh", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        script = f.name
    try:
        sc.launcher = subprocess.Popen(["bash", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       text=True, start_new_session=True)
        for line in sc.launcher.stdout:
            if line.strip() == "READY":
                break
            k, pid = line.split()
            sc.sleeps[int(pid)] = int(k)
    finally:
        os.unlink(script)
    if len(sc.sleeps) != sc.procs:
        raise BenchError(f"the launcher started {len(sc.sleeps)} of {sc.procs} processes")
    # A pid is printed right after fork; wait until each one has become our sleep in the right netns.
    deadline = time.monotonic() + 60
    pending = dict(sc.sleeps)
    while pending:
        for pid, k in list(pending.items()):
            if _cmdline(pid) == ["sleep", sc.sleep_arg(k)] and _net_inode(pid) == sc.inodes[sc.leaf(k % sc.netns)]:
                del pending[pid]
        if pending and time.monotonic() > deadline:
            raise BenchError(f"{len(pending)} processes did not become `sleep` in their netns within 60 s")
        if pending:
            time.sleep(0.05)


def _cmdline(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw else []


def _net_inode(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


# --------------------------------------------------------------- leftovers and cleanup
def our_sleeps() -> list[int]:
    """Processes that are, beyond doubt, this benchmark's sleeps: the argv, outside the host netns."""
    host = _net_inode("self")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = _cmdline(int(entry))
            if argv and len(argv) == 2 and argv[0] == "sleep" and SLEEP_ARG.match(argv[1]) \
                    and _net_inode(entry) != host:
                found.append(int(entry))
    return found


def our_netns() -> list[str]:
    try:
        return sorted(n for n in os.listdir("/run/netns") if n.startswith(PREFIX))
    except FileNotFoundError:
        return []


def cleanup(sc: Scenario | None) -> str:
    """Kill our sleeps, delete our netns. Idempotent; signals are held off until it is done."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        if sc and sc.launcher:
            # The launcher leads its own process group, and every sleep (or nsenter not yet
            # turned into one, if we were interrupted while starting them) is in it.
            try:
                os.killpg(sc.launcher.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            sc.launcher.wait()
        victims = set(our_sleeps())
        if sc:
            victims |= set(sc.sleeps)
        for pid in our_sleeps():   # leftovers of an earlier run, or ones that escaped the group
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap_orphans()
        deadline = time.monotonic() + 30
        while (alive := [p for p in victims if _alive(p)]) and time.monotonic() < deadline:
            _reap_orphans()
            time.sleep(0.05)
        names = our_netns()
        if names:
            subprocess.run(["ip", "-force", "-batch", "-"], input="".join(f"netns del {n}\n" for n in names),
                           capture_output=True, text=True)
        left = our_netns()
        note = f"cleanup: killed {len(victims)} processes, deleted {len(names) - len(left)} netns"
        if alive or left:
            note += f"; STILL THERE: {len(alive)} processes, netns {left[:5]}"
        return note
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _reap_orphans() -> None:
    """We are a child subreaper: sleeps orphaned by a dead launcher come to us; reap them."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------- is the snapshot seeing it all?
def check_snapshot(snap, sc: Scenario, what: str) -> None:
    """Fail loudly unless the snapshot shows the whole scenario."""
    problems: list[str] = []
    hub = snap.netns_by_name(HUB)
    if hub is None or hub.error:
        raise BenchError(f"{what}: the hub netns {HUB} is missing or unreadable "
                         f"({hub.error if hub else 'absent'}); problems: {list(snap.problems)[:5]}")
    for b in range(sc.bridges):
        link = hub.link(sc.bridge(b))
        if link is None or link.kind != "bridge":
            problems.append(f"bridge {sc.bridge(b)} missing in {HUB} (or not a bridge)")
            continue
        ports = {l.name for l in hub.links if l.master == sc.bridge(b)}
        expected = {sc.port(i) for i in range(sc.netns) if i % sc.bridges == b}
        if ports != expected:
            problems.append(f"{sc.bridge(b)} ports: saw {len(ports)}, expected {len(expected)}")
    ends = 0
    for i in range(sc.netns):
        name, port = sc.leaf(i), sc.port(i)
        ns = snap.netns_by_name(name)
        if ns is None or ns.error:
            problems.append(f"netns {name} missing or unreadable")
            continue
        if ns.inode != sc.inodes[name]:
            problems.append(f"netns {name}: inode {ns.inode}, expected {sc.inodes[name]}")
        eth0, hub_end = ns.link("eth0"), hub.link(port)
        if eth0 and eth0.kind == "veth" and eth0.peer_netns == hub.inode and eth0.peer_name == port \
                and eth0.admin_up:
            ends += 1
        else:
            problems.append(f"{name}/eth0: {eth0 and (eth0.kind, eth0.peer_netns, eth0.peer_name)}, "
                            f"expected a veth, up, peer {HUB}/{port}")
        if hub_end and hub_end.kind == "veth" and hub_end.peer_netns == ns.inode \
                and hub_end.peer_name == "eth0" and hub_end.master == sc.bridge(i % sc.bridges):
            ends += 1
        else:
            problems.append(f"{HUB}/{port}: {hub_end and (hub_end.kind, hub_end.peer_netns, hub_end.peer_name, hub_end.master)}, "
                            f"expected a veth, peer {name}/eth0, master {sc.bridge(i % sc.bridges)}")
        if not any(a.dev == "eth0" and a.cidr == sc.cidr(i, 1) for a in ns.addresses):
            problems.append(f"{name}/eth0 lacks {sc.cidr(i, 1)}")
        if not any(a.dev == port and a.cidr == sc.cidr(i, 2) for a in hub.addresses):
            problems.append(f"{HUB}/{port} lacks {sc.cidr(i, 2)}")
    seen = 0
    for pid, k in sc.sleeps.items():
        proc = snap.processes.get(pid)
        if proc and proc.cmdline == ("sleep", sc.sleep_arg(k)) \
                and proc.ns.get("net") == sc.inodes[sc.leaf(k % sc.netns)]:
            seen += 1
    if seen != sc.procs:
        problems.append(f"saw {seen} of the {sc.procs} sleep processes in their netns")
    expected_nprocs = {sc.inodes[sc.leaf(i)]: 0 for i in range(sc.netns)}
    for k in sc.sleeps.values():
        expected_nprocs[sc.inodes[sc.leaf(k % sc.netns)]] += 1
    rows = {row.inode: row for row in snap.namespaces if row.type == "net"}
    for inode, n in expected_nprocs.items():
        row = rows.get(inode)
        if n and (row is None or row.nprocs != n):
            problems.append(f"namespace table: net:[{inode}] has {row.nprocs if row else 'no row'}, expected {n} processes")
    if ends != 2 * sc.netns:
        problems.insert(0, f"resolved {ends} of {2 * sc.netns} veth ends")
    if problems:
        raise BenchError(f"{what} does not see the scenario ({len(problems)} problems):\n  "
                         + "\n  ".join(problems[:12]))


# --------------------------------------------------------------- timing
def stats(values: list[float]) -> tuple[float, float]:
    """(median, p90 by nearest rank)."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def change(sc: Scenario, iteration: int) -> tuple[str, str, bool]:
    """One change in one netns: add an address (even iterations), remove it again (odd)."""
    step = iteration // 2
    name = sc.leaf((step * 37) % sc.netns)
    cidr = f"192.0.2.{step % 250 + 1}/32"
    add = iteration % 2 == 0
    run(["ip", "-n", name, "addr", "add" if add else "del", cidr, "dev", "eth0"])
    return name, cidr, add


def tools_once() -> int:
    """What a script would run to see the same: returns how many commands it took."""
    count = 0

    def tool(*cmd: str, netns: str | None = None):
        nonlocal count
        count += 1
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            if netns and not netns.startswith(PREFIX) and not os.path.exists(f"/run/netns/{netns}"):
                return []   # someone else's netns, deleted since `ip netns list`: a script would shrug too
            raise BenchError(f"`{' '.join(cmd)}` failed: {res.stderr.strip()[:300]}")
        return json.loads(res.stdout) if res.stdout.strip() else []

    tool("lsns", "-J")
    names = [entry["name"] for entry in tool("ip", "-j", "netns", "list")]
    tool("ip", "-j", "addr")
    tool("ip", "-j", "route")
    for name in names:
        tool("ip", "-n", name, "-j", "addr", netns=name)
        tool("ip", "-n", name, "-j", "route", netns=name)
    tool("bridge", "-n", HUB, "-j", "link")
    return count


def measure(sc: Scenario, args) -> dict:
    from tutor.observe import take_snapshot
    try:
        from tutor.observe import Observer
    except (ImportError, AttributeError):
        Observer = None
    out: dict = {}

    print(f"\n== cold take_snapshot() x{args.cold} (nothing kept between calls: what `nstutor check` pays)")
    cold = []
    for n in range(args.cold):
        t = time.monotonic()
        snap = take_snapshot()
        cold.append((time.monotonic() - t) * 1000)
        check_snapshot(snap, sc, "cold take_snapshot()")
        print(f"  cold {n + 1}: {cold[-1]:7.1f} ms  ({len(snap.processes)} processes, {len(snap.netns)} netns)")
    out["cold"] = cold
    del snap

    print(f"\n== warm snapshots x{args.iterations}, one change in one netns before each")
    if Observer is None:
        print("  (tutor.observe.Observer is not there yet: timing take_snapshot(previous) instead)")
        obs = None
        take = lambda prev: take_snapshot(prev)  # noqa: E731
    else:
        obs = Observer()
        take = lambda prev: obs.snapshot()  # noqa: E731
    try:
        t = time.monotonic()
        snap = take(None)
        out["first"] = (time.monotonic() - t) * 1000
        check_snapshot(snap, sc, "the first Observer snapshot")
        print(f"  first (opens a socket per netns): {out['first']:7.1f} ms")
        warm, stale = [], []
        for n in range(args.iterations):
            name, cidr, added = change(sc, n)
            t = time.monotonic()
            snap = take(snap)
            warm.append((time.monotonic() - t) * 1000)
            ns = snap.netns_by_name(name)
            present = ns is not None and any(a.cidr == cidr and a.dev == "eth0" for a in ns.addresses)
            ok = present == added
            if not ok:
                stale.append(n + 1)
            print(f"  iter {n + 1:3d}: {warm[-1]:7.1f} ms  ({'+' if added else '-'}{cidr} on {name}/eth0: "
                  f"{'seen' if ok else 'NOT SEEN'})")
        check_snapshot(snap, sc, "the last Observer snapshot")
        out["warm"] = warm
        out["rss"] = rss_mb()
        if stale:
            raise BenchError(f"the warm snapshot missed the change in iterations {stale}: "
                             "a fast snapshot that does not see changes is worthless")
    finally:
        if obs is not None:
            obs.close()
    del snap

    print(f"\n== tools x{args.iterations}: lsns -J, ip -j netns list, ip -n NS -j addr/route per netns, "
          f"bridge -n {HUB} -j link")
    tools = []
    for n in range(args.iterations):
        t = time.monotonic()
        commands = tools_once()
        tools.append((time.monotonic() - t) * 1000)
        print(f"  iter {n + 1:3d}: {tools[-1]:7.1f} ms  ({commands} commands)")
    out["tools"] = tools
    out["commands"] = commands
    if args.containers:
        out["containers"] = measure_containers(args)
    return out


# --------------------------------------------------------------- containers (issue 14)
CONTAINER = "nsb-c"          # our containers: nsb-c00 ..; our image: nsb-box
SETTLE_S = 5.0               # after starting them, before timing (see measure_containers)
WARMUP_ROUNDS = 3            # untimed Observer rounds before the timed ones (see warm())
CYCLES = 2                   # the containers started and stopped again: 0, N, 0, N, 0 (see measure_containers)


def _docker_env() -> tuple[dict, object | None]:
    """(environment for `docker`, the DockerHost we started or None): a running system dockerd is
    used as it is; otherwise one of our own, as the tests start it."""
    if os.path.exists("/run/docker.sock") and \
            subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0:
        return dict(os.environ), None
    sys.path.insert(0, str(REPO / "tests"))
    from docker_host import DockerHost, missing_reason
    reason = missing_reason()
    if reason:
        raise BenchError(f"the containers case needs Docker: {reason} (or --containers 0)")
    host = DockerHost().start()
    return host.env, host


def measure_containers(args) -> dict:
    """Warm Observer snapshots with 0, then args.containers Docker containers running; `docker ps`."""
    from tutor.observe import Observer, engines
    busybox = shutil.which("busybox")
    if busybox is None:
        raise BenchError("the containers case imports the host's busybox: apt-get install busybox-static")
    n = args.containers
    print(f"\n== containers: warm snapshots with 0 and with {n} Docker containers, x{args.iterations} each")
    env, host = _docker_env()
    old_host = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = env.get("DOCKER_HOST", "unix:///run/docker.sock")
    names = [f"{CONTAINER}{i:02d}" for i in range(n)]
    out: dict = {}
    try:
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(f"{root}/bin")
            shutil.copy(busybox, f"{root}/bin/busybox")
            os.symlink("busybox", f"{root}/bin/sleep")
            tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
            run_env(["docker", "import", "-", "nsb-box"], env, tar)

        def warm(label: str, expect: int) -> list[float]:
            from tutor.observe import take_snapshot
            cold = []
            for _ in range(args.cold):
                t = time.monotonic()
                take_snapshot()
                cold.append((time.monotonic() - t) * 1000)
            print(f"  cold take_snapshot(), {label}: median {stats(cold)[0]:6.1f} ms")
            out.setdefault(f"cold_{expect}", []).extend(cold)
            times = []
            parts: dict[str, list[float]] = {}
            with Observer() as obs:
                # Three untimed rounds: a reader keeps what it saw twice unchanged (a thread must be
                # seen once before its quiet can be vouched for), and the budget is about rounds after.
                for _ in range(WARMUP_ROUNDS):
                    obs.snapshot()
                for _ in range(args.iterations):
                    t = time.monotonic()
                    snap = obs.snapshot()
                    times.append((time.monotonic() - t) * 1000)
                    for part, ms in snap.parts_ms.items():
                        parts.setdefault(part, []).append(ms)
                        out.setdefault(f"parts_{expect}", {}).setdefault(part, []).append(ms)
                    ours = [c for c in snap.containers if c.name.startswith(CONTAINER) and c.pid in snap.processes]
                    if len(ours) != expect:
                        raise BenchError(f"{label}: the snapshot named {len(ours)} of our {expect} running containers")
            med, p90 = stats(times)
            print(f"  warm snapshot, {label}: median {med:6.1f} ms  p90 {p90:6.1f} ms")
            print("    by part (median ms): " + ", ".join(f"{part} {stats(v)[0]:.2f}" for part, v in parts.items()))
            # the engines' share of it: kept Readers (as the Observer keeps them) on the same processes
            readers = engines.readers()
            try:
                for _ in range(2):
                    engines.read_all(readers, snap.processes)
                part = []
                for _ in range(args.iterations):
                    t = time.monotonic()
                    engines.read_all(readers, snap.processes)
                    part.append((time.monotonic() - t) * 1000)
            finally:
                engines.close_all(readers)
            out.setdefault(f"engines_{expect}", []).extend(part)
            return times

        def settle() -> None:
            # A container just started (or stopped) keeps its shim, containerd and dockerd busy for
            # a moment: the budget is about a steady machine, the one a learner looks at.
            time.sleep(SETTLE_S)
            # A shim daemonizes, so as a subreaper we inherit it, and its zombie once its container
            # stops: reaped here, or the next phases would count fifty dead shims a learner never has.
            _reap_orphans()

        # 0, N, 0, N, 0: this VM's speed drifts over a minute by more than what is measured, so each
        # N phase is compared with the 0 phases on either side of it (CYCLES of them).
        zeros, fulls = [warm("0 containers", 0)], []
        t = time.monotonic()
        for name in names:
            run_env(["docker", "run", "-d", "--name", name, "nsb-box", "sleep", "100000"], env)
        print(f"  started {n} containers in {(time.monotonic() - t):.1f} s")
        for cycle in range(1, CYCLES + 1):
            if cycle > 1:
                run_env(["docker", "start", *names], env)
            settle()
            fulls.append(warm(f"{n} containers (cycle {cycle})", n))
            if cycle == 1:
                ps = []
                for _ in range(args.iterations):
                    t = time.monotonic()
                    run_env(["docker", "ps", "-q"], env)
                    ps.append((time.monotonic() - t) * 1000)
                med, p90 = stats(ps)
                print(f"  docker ps:              median {med:6.1f} ms  p90 {p90:6.1f} ms")
                out["ps"] = ps
            run_env(["docker", "stop", "-t", "0", *names], env)     # stopped: no process, no netns
            settle()
            zeros.append(warm(f"0 containers (after cycle {cycle})", 0))
        out["zeros"], out["fulls"] = zeros, fulls
        out["warm0"] = [ms for phase in zeros for ms in phase]
        out["warmN"] = [ms for phase in fulls for ms in phase]
        # what N add in each cycle: its N phase against the mean of the 0 phases around it
        out["added"] = [stats(full)[0] - (stats(zeros[i])[0] + stats(zeros[i + 1])[0]) / 2
                        for i, full in enumerate(fulls)]
    finally:
        if names:
            subprocess.run(["docker", "rm", "-f", *names], env=env, capture_output=True, timeout=300)
        subprocess.run(["docker", "rmi", "nsb-box"], env=env, capture_output=True, timeout=60)
        if old_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old_host
        if host is not None:
            problems = host.stop()
            if problems:
                print(f"  dockerd's host not fully restored: {problems}", file=sys.stderr)
    return out


def run_env(cmd: list[str], env: dict, stdin: bytes | None = None) -> None:
    res = subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=120)
    if res.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` failed ({res.returncode}): {res.stderr.decode(errors='replace')[:300]}")


# --------------------------------------------------------------- main
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--netns", type=int, default=200, help="leaf network namespaces (default 200, max 999)")
    p.add_argument("--procs", type=int, default=2000, help="sleep processes spread over them (default 2000)")
    p.add_argument("--bridges", type=int, default=20, help="bridges in the hub (default 20)")
    p.add_argument("--iterations", type=int, default=20, help="timed warm snapshots and tool runs (default 20)")
    p.add_argument("--cold", type=int, default=3, help="cold take_snapshot() runs (default 3)")
    p.add_argument("--containers", type=int, default=50,
                   help="Docker containers for the containers case (default 50; 0 skips it)")
    p.add_argument("--cleanup", action="store_true", help="remove what an interrupted run left behind, then exit")
    args = p.parse_args(argv)
    if not 1 <= args.netns <= 999:
        p.error("--netns must be between 1 and 999")
    if not 0 <= args.containers <= 99:
        p.error("--containers must be 0..99")
    if not 0 <= args.procs <= 99999 or args.iterations < 1 or args.cold < 1 or args.bridges < 1:
        p.error("--procs must be 0..99999; --iterations, --cold and --bridges at least 1")
    args.bridges = min(args.bridges, args.netns)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/snapshot.py builds namespaces: run it as root (sudo).", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "bridge", "lsns", "nsenter", "bash") if shutil.which(tool) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.cleanup:
        print(cleanup(None))
        return 0
    leftovers = our_netns(), our_sleeps()
    if any(leftovers):
        print(f"refusing to start: {len(leftovers[0])} netns named {PREFIX}* and {len(leftovers[1])} "
              f"benchmark sleeps already exist (an interrupted run?). Remove them with: "
              f"sudo {sys.executable} {sys.argv[0]} --cleanup", file=sys.stderr)
        return 2
    try:
        import tutor.observe.snapshot  # noqa: F401  (fail before building anything)
    except ImportError as exc:
        print(f"cannot import nstutor's observer from {REPO}: {exc}", file=sys.stderr)
        return 2

    def interrupted(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    _become_subreaper()

    sc = Scenario(args.netns, args.procs, args.bridges)
    result = None
    status = 0
    try:
        print(f"== building: {args.netns} netns + {HUB} with {args.bridges} bridges, {2 * args.netns} veth ends, "
              f"{args.procs} processes")
        t = time.monotonic()
        times = build(sc)
        total = (time.monotonic() - t) * 1000
        print("  build: " + ", ".join(f"{k} {v:.0f} ms" for k, v in times.items()) + f"; total {total:.0f} ms")
        rss_before = rss_mb()[0]
        result = measure(sc, args)
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\ninterrupted ({str(exc) or 'SIGINT'}): cleaning up", file=sys.stderr)
        status = 130
    finally:
        print("\n" + cleanup(sc))

    if result is None or "tools" not in result:
        return status or 1
    cold_med, cold_p90 = stats(result["cold"])
    warm_med, warm_p90 = stats(result["warm"])
    tools_med, tools_p90 = stats(result["tools"])
    rss, hwm = result["rss"]
    print("\n== summary")
    print(f"  scenario      {args.netns} netns (+hub), {2 * args.netns} veth ends, {args.bridges} bridges, "
          f"{args.procs} processes; {result['commands']} tool commands per run")
    print(f"  cold snapshot median {cold_med:7.1f} ms   p90 {cold_p90:7.1f} ms   (take_snapshot(), n={len(result['cold'])})")
    print(f"  first Observer snapshot {result['first']:7.1f} ms")
    print(f"  warm snapshot median {warm_med:7.1f} ms   p90 {warm_p90:7.1f} ms   (Observer.snapshot(), n={len(result['warm'])})")
    print(f"  tools         median {tools_med:7.1f} ms   p90 {tools_p90:7.1f} ms   (n={len(result['tools'])})")
    print(f"  ratio tools/warm {tools_med / warm_med:.1f}x   tools/cold {tools_med / cold_med:.1f}x")
    if "containers" in result:
        c = result["containers"]
        n = args.containers
        w0, wn, ps = stats(c["warm0"])[0], stats(c["warmN"])[0], stats(c["ps"])[0]
        e0, en = stats(c["engines_0"])[0], stats(c[f"engines_{n}"])[0]
        added = stats(c["added"])[0]
        zeros = ", ".join(f"{stats(phase)[0]:.1f}" for phase in c["zeros"])
        fulls = ", ".join(f"{stats(phase)[0]:.1f}" for phase in c["fulls"])
        print(f"  containers    cold snapshot {stats(c['cold_0'])[0]:.1f} ms with 0, {stats(c[f'cold_{n}'])[0]:.1f} ms "
              f"with {n}")
        print(f"  containers    warm snapshot {w0:.1f} ms with 0 (phases {zeros}), {wn:.1f} ms with {n} (phases "
              f"{fulls}): {added:+.1f} ms for {n} containers (median over the cycles: "
              + ", ".join(f"{a:+.1f}" for a in c["added"]) + f"); the engines' records {e0:.3f} -> {en:.3f} ms, "
              f"the rest is the kernel's view of them; `docker ps` {ps:.1f} ms")
        p0, pn = c["parts_0"], c[f"parts_{n}"]
        print("  containers    what they add, by part (median ms): "
              + ", ".join(f"{part} {stats(pn[part])[0] - stats(p0.get(part, [0.0]))[0]:+.2f}" for part in pn))
    print(f"  memory        RSS {rss:.1f} MiB after the snapshots (peak {hwm:.1f} MiB; {rss_before:.1f} MiB before)")
    targets = []
    if tools_med / warm_med < 5:
        targets.append(f"ratio {tools_med / warm_med:.1f} < 5")
    if warm_med >= 100:
        targets.append(f"snapshot median {warm_med:.1f} ms >= 100 ms")
    print("  targets       " + ("met (ratio >= 5, snapshot < 100 ms)" if not targets else "MISSED: " + "; ".join(targets)))
    print(f"snapshot_ms={warm_med:.1f} tools_ms={tools_med:.1f} ratio={tools_med / warm_med:.1f} "
          f"cold_ms={cold_med:.1f} cold_ratio={tools_med / cold_med:.1f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
