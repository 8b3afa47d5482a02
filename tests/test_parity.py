"""nstutor sees what the classic tools see: its namespace table against `lsns -J`, and each
network namespace's addresses against `ip -n NS -j addr`, on the same real machine state.

The state is built here (netns with a veth pair and addresses, processes in new namespaces
made with unshare/nsenter). The namespaces this test made are compared exactly. The host's
(and any other) namespaces are compared with two tolerances, because the machine does not
stand still and the observers are not the same program:
  * `lsns` counts itself (and only itself: we spawn it directly, no shell) in every one of
    the namespaces it runs in, the host's, so its NPROCS there may be one higher;
  * processes come and go between the observations (kernel workers, cron, other tests'
    helpers). So we take a snapshot before and after `lsns` and accept a row when lsns's
    value lies between the two snapshots' values, widened by a small churn margin.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from conftest import sh, wait_until

pytestmark = pytest.mark.needs_root

NS_TYPES = ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time")
FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
#: processes that may appear or exit in a host namespace between two observations made ~50 ms apart
CHURN = 3


def _ns_of(pid: int) -> dict[str, int]:
    """The namespace inodes of a process, read directly (not through nstutor)."""
    out = {}
    for nstype in NS_TYPES:
        try:
            out[nstype] = os.stat(f"/proc/{pid}/ns/{nstype}").st_ino
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().rstrip(b"\0").split(b"\0") if a]
    except OSError:
        return []


def _child(pid: int) -> int | None:
    """The first child of *pid* (unshare --fork runs its command as a child)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def _lsns() -> dict[tuple[str, int], dict]:
    # Spawned directly (no shell) so exactly one extra process, lsns itself, is in the host namespaces.
    out = subprocess.run(["lsns", "-J", "-o", "NS,TYPE,NPROCS,PID"], capture_output=True, text=True, check=True)
    return {(row["type"], int(row["ns"])): row for row in json.loads(out.stdout)["namespaces"]}


def _table(snap) -> dict[tuple[str, int], object]:
    return {(row.type, row.inode): row for row in snap.namespaces}


@pytest.fixture
def machine(netns, spawn, uid):
    """Two named netns joined by a veth pair with IPv4 and IPv6 addresses, and processes in new
    namespaces of every type. Returns what was made: names, and {(type, inode): (nprocs, pid)}."""
    red, blue = netns("r"), netns("b")
    sh(f"ip -n {red} link add {uid}a type veth peer name {uid}b netns {blue}")
    sh(f"ip -n {red} addr add 10.77.1.1/24 dev {uid}a")
    sh(f"ip -n {red} addr add 2001:db8:77::1/64 dev {uid}a nodad")
    sh(f"ip -n {blue} addr add 10.77.1.2/24 dev {uid}b")
    sh(f"ip -n {blue} addr add 10.77.2.2/24 dev {uid}b")   # a second address on one device
    sh(f"ip -n {red} link set {uid}a up")
    sh(f"ip -n {blue} link set {uid}b up")
    sh(f"ip -n {red} link set lo up")                      # 127.0.0.1/8 and ::1/128 in RED only

    # Each process has a distinct argv so we can tell they have exec'd their sleep.
    plan = {
        "uts+ipc": (f"unshare --uts --ipc sleep 7101", False),
        "net": (f"unshare --net sleep 7102", False),
        "mnt+cgroup": (f"unshare --mount --cgroup sleep 7103", False),
        "user": (f"unshare --user sleep 7104", False),
        "pid": (f"unshare --pid --fork sleep 7105", True),      # the sleep is unshare's child
        "time": (f"unshare --time --fork sleep 7106", True),    # time ns applies to children only
        "red-1": (f"nsenter --net=/run/netns/{red} sleep 7107", False),
        "red-2": (f"nsenter --net=/run/netns/{red} sleep 7108", False),
    }
    pids: dict[str, int] = {}
    for key, (cmd, forks) in plan.items():
        proc = spawn(cmd)
        arg = cmd.split()[-1]

        def ready(proc=proc, forks=forks, arg=arg):
            pid = _child(proc.pid) if forks else proc.pid
            return pid if pid and _cmdline(pid) == ["sleep", arg] else None

        pids[key] = wait_until(ready, what=f"`{cmd}` to start its sleep")

    # The namespaces this test made: every namespace of our sleeps that is not the host's.
    host = _ns_of(os.getpid())
    made: dict[tuple[str, int], list[int]] = {}
    for pid in pids.values():
        for nstype, inode in _ns_of(pid).items():
            if inode != host.get(nstype):
                made.setdefault((nstype, inode), []).append(pid)
    # The unshare parents of the --fork cases stay in the host's namespaces (pid_for_children and
    # time_for_children are not what lsns counts), so they add nothing here.
    expected = {key: (len(members), min(members)) for key, members in made.items()}
    # Sanity of the setup itself: every type was made, and RED holds two processes.
    assert {t for t, _ in expected} == set(NS_TYPES), f"setup made only {sorted(expected)}"
    red_inode = os.stat(f"/run/netns/{red}").st_ino
    assert expected[("net", red_inode)][0] == 2
    return {"red": red, "blue": blue, "expected": expected, "pids": pids,
            "blue_inode": os.stat(f"/run/netns/{blue}").st_ino}


def _churn(nprocs: int) -> int:
    """How many processes may come or go in a busy namespace between observations ~50 ms apart
    (other test runs, kernel workers): a few, or 5% of a big namespace."""
    return max(CHURN, nprocs // 20)


def _other_mismatches(lsns: dict, before, after, made: dict) -> list[str]:
    """Rows of namespaces this test did not make (the host's, other programs') that disagree
    with lsns beyond what lsns itself and process churn explain."""
    t_before, t_after = _table(before), _table(after)
    own = _ns_of(os.getpid())
    bad = []
    for key, row in lsns.items():
        if key in made:
            continue
        seen = [t[key] for t in (t_before, t_after) if key in t]
        if not seen:
            # Only lsns saw it: fine if it belonged to a short-lived process, born and gone between
            # the snapshots; not if its process was there all along.
            if row["pid"] in before.processes and row["pid"] in after.processes:
                bad.append(f"lsns lists {key} (pid {row['pid']}), which nstutor missed although that process was there")
            continue
        counts = [r.nprocs for r in seen]
        lsns_itself = 1 if own.get(key[0]) == key[1] else 0   # lsns runs in our (the host's) namespaces
        if not min(counts) - _churn(min(counts)) <= row["nprocs"] <= max(counts) + lsns_itself + _churn(max(counts)):
            bad.append(f"{key}: lsns counts {row['nprocs']} processes, nstutor {counts} (before, after)")
        if row["pid"] not in [r.pid for r in seen]:
            # The lowest pid may differ only if one of those processes came or went in between.
            moved = {row["pid"], *[r.pid for r in seen]}
            if all(p in before.processes and p in after.processes for p in moved):
                bad.append(f"{key}: lsns says lowest pid {row['pid']}, nstutor {[r.pid for r in seen]}")
    for key in t_before.keys() & t_after.keys():
        if key not in lsns and key not in made and t_before[key].nprocs and t_after[key].nprocs \
                and t_before[key].pid == t_after[key].pid:
            bad.append(f"nstutor lists {key} (pid {t_after[key].pid}) in both snapshots, but lsns does not")
    return bad


def test_namespace_table_matches_lsns(machine, snapshot):
    made = machine["expected"]
    # Other programs' namespaces may churn; if a burst of it spoils one round, look again (3 rounds).
    for attempt in range(3):
        before = snapshot()
        lsns = _lsns()
        after = snapshot()
        t_before, t_after = _table(before), _table(after)

        # 1. The namespaces this test made: exactly the same inode, type, NPROCS and PID, every round.
        for key, (nprocs, pid) in made.items():
            assert key in lsns, f"lsns does not list {key} (the test made it)"
            assert (lsns[key]["nprocs"], lsns[key]["pid"]) == (nprocs, pid), f"lsns disagrees with /proc on {key}"
            for name, table in (("before", t_before), ("after", t_after)):
                row = table.get(key)
                assert row is not None, f"nstutor ({name} lsns) has no row for {key}; lsns has {lsns[key]}"
                assert (row.nprocs, row.pid) == (nprocs, pid), \
                    f"nstutor ({name}) says {key} has {row.nprocs} processes, lowest pid {row.pid}; lsns: {lsns[key]}"

        # 2. A named netns with no process: lsns (util-linux 2.38) leaves it out; nstutor lists it,
        #    with no processes, so a learner who just ran `ip netns add` sees it.
        blue = ("net", machine["blue_inode"])
        assert blue not in lsns or lsns[blue]["nprocs"] == 0
        row = t_after.get(blue)
        assert row is not None and row.nprocs == 0 and row.pid is None and machine["blue"] in row.names

        # 3. Every other namespace (the host's, other programs'), within the tolerances.
        mismatches = _other_mismatches(lsns, before, after, made)
        if not mismatches:
            break
    assert not mismatches, "nstutor's namespace table and lsns disagree (3 rounds):\n" + "\n".join(mismatches)


def _ip_addresses(ns: str) -> set[tuple[str, str, str]]:
    out = subprocess.run(["ip", "-n", ns, "-j", "addr"], capture_output=True, text=True, check=True)
    return {(link["ifname"], f"{a['local']}/{a['prefixlen']}", a["family"])
            for link in json.loads(out.stdout) for a in link.get("addr_info", [])}


def _nstutor_addresses(snap, ns: str) -> set[tuple[str, str, str]]:
    view = snap.netns_by_name(ns)
    assert view is not None and view.error is None, f"nstutor cannot see netns {ns}: {view and view.error}"
    return {(a.dev, a.cidr, FAMILIES.get(a.family, str(a.family))) for a in view.addresses}


def test_addresses_match_ip_addr(machine, snapshot, uid):
    red, blue = machine["red"], machine["blue"]
    # The kernel adds an IPv6 link-local address when the link gets carrier, which the link-watch
    # worker may do up to a second after `ip link set up`: wait until the state has settled.
    for ns, dev in ((red, f"{uid}a"), (blue, f"{uid}b")):
        wait_until(lambda ns=ns, dev=dev: any(d == dev and c.startswith("fe80:") for d, c, _ in _ip_addresses(ns)),
                   what=f"the IPv6 link-local address on {ns}/{dev}")
    snap = snapshot()
    for ns in (red, blue):
        tools = _ip_addresses(ns)
        assert tools, f"`ip -n {ns} addr` shows no address at all: the setup failed"
        ours = _nstutor_addresses(snap, ns)
        assert ours == tools, (f"netns {ns}: nstutor and `ip addr` disagree; only nstutor: {sorted(ours - tools)}, "
                               f"only ip: {sorted(tools - ours)}")
    # And the setup is what we think it is (so an empty-vs-empty agreement cannot pass).
    assert {("lo", "127.0.0.1/8", "inet"), ("lo", "::1/128", "inet6"), (f"{uid}a", "10.77.1.1/24", "inet"),
            (f"{uid}a", "2001:db8:77::1/64", "inet6")} <= _ip_addresses(red)
    assert {(f"{uid}b", "10.77.1.2/24", "inet"), (f"{uid}b", "10.77.2.2/24", "inet")} <= _ip_addresses(blue)
