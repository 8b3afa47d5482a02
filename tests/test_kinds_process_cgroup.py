"""cgroup on the real kernel (lesson 9): a CPU-limited cgroup, a busy loop in it, measured use.

Works where the cpu controller is: v1/hybrid (/sys/fs/cgroup/cpu, this VM) or v2
(/sys/fs/cgroup with +cpu in cgroup.subtree_control). Cgroups made here are named
nstutor-cpu-<uid> and removed at teardown (their processes moved out first).
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from conftest import remove_cgroup, wait_until
from kinds_process_support import assert_fail, assert_pass, grade, number, wait_proc
from tutor.checks.registry import build
from tutor.grade import snapshot_for
from tutor.observe.cgroups import cpu_hierarchy

pytestmark = pytest.mark.needs_root

PERIOD = 1_000_000


def cpu_root_or_skip() -> tuple[str, bool]:
    """(the cpu controller's root directory, whether it is cgroup v2); skips the test where there is
    none, or where v2 would need +cpu switched on at the root (tests never change that)."""
    _mode, root = cpu_hierarchy()
    if root is None:
        pytest.skip("no cgroup hierarchy with the cpu controller is mounted here")
    v2 = os.path.exists(os.path.join(root, "cgroup.controllers"))
    if v2:
        with open(os.path.join(root, "cgroup.subtree_control")) as f:
            if "cpu" not in f.read().split():
                pytest.skip("cgroup v2 without +cpu in the root's cgroup.subtree_control; not changing it")
    return root, v2


@pytest.fixture
def cpu_cgroup(uid):
    """cpu_cgroup(percent or None) -> (cgroup path, directory) of a new nstutor-cpu-<uid>[-k]."""
    root, v2 = cpu_root_or_skip()
    made: list[str] = []

    def make(percent: float | None) -> tuple[str, str]:
        name = f"nstutor-cpu-{uid}" + (f"-{len(made)}" if made else "")
        directory = os.path.join(root, name)
        os.mkdir(directory)
        made.append(directory)
        if percent is not None:
            quota = int(percent / 100 * PERIOD)
            if v2:
                write(f"{directory}/cpu.max", f"{quota} {PERIOD}")
            else:
                write(f"{directory}/cpu.cfs_period_us", str(PERIOD))
                write(f"{directory}/cpu.cfs_quota_us", str(quota))
        return "/" + name, directory

    yield make
    for directory in reversed(made):
        remove_cgroup(directory, root)


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def throttled(directory: str) -> int:
    """How many periods the cgroup was held back by its limit (cpu.stat, v1 and v2 alike)."""
    with open(f"{directory}/cpu.stat") as f:
        stats = dict(line.split() for line in f if line.strip())
    return int(stats.get("nr_throttled", 0))


def wait_steady(directory: str) -> None:
    """Wait until the limit has held the loop back twice: the period it was moved in mid-way
    can give it up to two quotas in one second, which is not the steady state a learner sees."""
    wait_until(lambda: throttled(directory) >= 2, timeout=10, what=f"{directory} to throttle its loop")


def measured_snapshot(item: dict):
    """What the runner does for a check that needs CPU rates: two snapshots a second apart."""
    exp = build(item)
    assert exp.needs_cpu_rate
    return snapshot_for([SimpleNamespace(expectations=[exp])])


def start_busy_loop(spawn, uid: str, tag: str) -> int:
    spawn(f"sh -c 'while :; do :; done' busy-{uid}-{tag}")
    pid, = wait_proc(f"busy-{uid}-{tag}$")
    return pid


def test_cgroup_limit_members_and_measured_use(spawn, uid, cpu_cgroup):
    path, directory = cpu_cgroup(10)
    busy = start_busy_loop(spawn, uid, "a")
    write(f"{directory}/cgroup.procs", str(busy))
    wait_steady(directory)
    sel = f"busy-{uid}-a$"
    item = {"cgroup": {"name": path.lstrip("/"), "cpu_limit_percent": 10, "members": [sel], "measured": True}}
    snap = measured_snapshot(item)
    v = assert_pass(item, snap=snap)
    assert v.evidence["path"] == path and v.evidence["members"] == [busy]
    assert v.evidence["limit_percent"] == 10 and v.evidence["period_us"] == PERIOD
    assert 5 <= v.evidence["cpu_percent"] <= 15, v.evidence
    assert_pass({"cgroup": {"name": path, "cpu_limit_percent": 10}}, snap=snap)   # by path, limit only

    version = v.evidence["version"]
    limit_file = "cpu.max" if version == 2 else "cpu.cfs_quota_us"
    assert_fail({"cgroup": {"name": path, "cpu_limit_percent": 20, "members": [sel], "measured": True}},
                f"limited to 10% of a CPU, expected 20%", f"{directory}/{limit_file}",
                "well under the 20% limit", snap=snap)
    assert_fail({"cgroup": {"name": f"nstutor-none-{uid}", "cpu_limit_percent": 10}},
                f"There is no cgroup /nstutor-none-{uid}", f"mkdir {os.path.dirname(directory)}/nstutor-none-{uid}",
                snap=snap)


def test_cgroup_member_outside_and_idle_member(spawn, uid, cpu_cgroup):
    path, directory = cpu_cgroup(10)
    n, m = number(uid, 1009), number(uid, 2009)
    spawn(f"sleep {n}")
    spawn(f"sleep {m}")
    outside, = wait_proc(f"^sleep {n}$")
    idle, = wait_proc(f"^sleep {m}$")
    write(f"{directory}/cgroup.procs", str(idle))
    with open(f"/proc/{outside}/cgroup") as f:
        assert f":{path}\n" not in f.read()
    assert_fail({"cgroup": {"name": path, "members": [f"^sleep {n}$"]}},
                f"'sleep {n}' (pid {outside}) is in cgroup", f"not in {path}",
                f"echo {outside} > {directory}/cgroup.procs")
    item = {"cgroup": {"name": path, "cpu_limit_percent": 10, "members": [f"^sleep {m}$"], "measured": True}}
    assert_fail(item, "measured CPU use 0.0% of one CPU", "is the busy loop running",
                snap=measured_snapshot(item))
    # without a previous snapshot, nothing is measured yet: say so rather than guess
    assert_fail(item, "CPU use not measured yet", "check again")


def test_cgroup_without_a_limit(spawn, uid, cpu_cgroup):
    path, directory = cpu_cgroup(None)
    busy = start_busy_loop(spawn, uid, "b")
    write(f"{directory}/cgroup.procs", str(busy))
    item = {"cgroup": {"name": path, "cpu_limit_percent": 10, "members": [f"busy-{uid}-b$"], "measured": True}}
    v = assert_fail(item, f"{path} has no CPU limit yet", "more than the 10% limit", snap=measured_snapshot(item))
    assert "no limit (quota max" in v.observed
    # a cgroup that exists is found by name alone
    assert grade({"cgroup": {"name": path}}).passed
