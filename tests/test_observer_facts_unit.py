"""Facts about the observer and the machine that the grader reads from the snapshot, not the OS.

nstutor's own pids (a selector never matches nstutor itself), the clock's ticks per second (the
unit of the CPU times a cgroup check measures), and whether a process's command can be typed
again as it is (the restart advice of the process and pod kinds). The kinds are graded against
made-up snapshots here; the last tests check that observe fills the facts in from the machine.
"""
from __future__ import annotations

import os
import sys
from dataclasses import replace

from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.checks.select import select
from tutor.observe import Wants, answer, take_snapshot
from tutor.observe.model import CgroupInfo, CpuLimit, frozen_map

from test_kinds_process_unit import proc, snap

UTS = 4026532401


def grade(item: dict, s):
    return grade_expectation(build(item), s)


# --------------------------------------------------------------- the observer's own processes
def test_a_selector_never_matches_the_observer():
    me, other = proc(70, "python3 -m tutor check sleep", comm="python3"), proc(71, "sleep 1001")
    s = replace(snap(me, other), self_pids=frozenset({70}))
    assert [p.pid for p in select(s, {"cmdline": "sleep"})] == [71]
    assert [p.pid for p in select(replace(s, self_pids=frozenset()), {"cmdline": "sleep"})] == [70, 71]
    v = grade({"process": {"comm": "python3", "own": ["uts"]}}, s)
    assert not v.passed and "no running process named 'python3'" in v.observed


# --------------------------------------------------------------- clock ticks: the unit of CPU times
LIMITED = "/nstutor-cpu"
CGROUPS = CgroupInfo("v2", "/sys/fs/cgroup", frozen_map({LIMITED: CpuLimit(LIMITED, 100_000, 1_000_000, 2)}))
MEASURED = {"cgroup": {"name": "nstutor-cpu", "cpu_limit_percent": 10, "members": ["^loop$"], "measured": True}}


def cpu_snap(at: float, ticks: int, clock_ticks: int):
    loop = proc(80, "loop", cgroup=LIMITED, cpu_ticks=ticks, start_ticks=5, cpu_percent=None)
    return replace(snap(loop, cgroups=CGROUPS), monotonic=at, clock_ticks=clock_ticks)


def test_measured_cpu_use_is_counted_in_the_snapshots_clock_ticks():
    """30 ticks in 3 s are 10% of a CPU at 100 ticks a second, and 1% at 1000."""
    for clock_ticks, passes, said in ((100, True, "measured CPU use 10.0%"), (1000, False, "only 1.0%")):
        exp = build(MEASURED)
        first = grade_expectation(exp, cpu_snap(100.0, 0, clock_ticks))
        assert not first.passed and "check again in a second" in first.message
        v = grade_expectation(exp, cpu_snap(103.0, 30, clock_ticks))
        assert v.passed is passes and said in v.observed + v.message, v


# --------------------------------------------------------------- can the command be typed again
OWN_UTS = {"process": {"cmdline": "^sleep 1001$", "own": ["uts", "ipc"]}}


def test_the_process_kind_asks_whether_its_processs_command_can_be_typed_again():
    s = snap(proc(60, "sleep 1001", own={"uts": UTS}))
    assert build(OWN_UTS).wants(s) == Wants(programs=frozenset({"sleep"}))
    assert build(OWN_UTS).wants(snap()) == Wants()            # no such process: nothing to ask
    assert wants_of([build(OWN_UTS)])(s) == Wants(programs=frozenset({"sleep"}))


def test_the_restart_advice_follows_the_snapshots_answer():
    s = snap(proc(60, "sleep 1001", own={"uts": UTS}))
    v = grade(OWN_UTS, replace(s, programs=frozen_map({"sleep": True})))
    assert v.message.endswith("start it again with: unshare --uts --ipc sleep 1001"), v.message
    for programs in ({"sleep": False}, {}):                  # not typeable, or not asked: the lesson's command
        v = grade(OWN_UTS, replace(s, programs=frozen_map(programs)))
        assert v.message.endswith("start it again with the lesson's command, run under: unshare --uts --ipc ..."), \
            v.message


def test_the_pod_kind_asks_for_its_members_commands():
    pause = proc(20, "pause", own={"net": 1, "ipc": 2, "uts": 3})
    app_a = proc(21, "/usr/bin/app-a --port 80", own={"net": 1, "ipc": 2, "uts": 3, "mnt": 5})
    app_b = proc(22, "app-b", own={"net": 9, "ipc": 2, "uts": 3, "mnt": 6})
    item = {"pod": {"pause": {"comm": "pause"}, "members": ["^/usr/bin/app-a", "^app-b"],
                    "shared": ["net", "ipc", "uts"], "private": ["mnt"]}}
    s = snap(pause, app_a, app_b)
    assert build(item).wants(s) == Wants(programs=frozenset({"/usr/bin/app-a", "app-b"}))
    v = grade(item, replace(s, programs=frozen_map({"/usr/bin/app-a": True, "app-b": True})))
    assert "start it again with: nsenter --net=/proc/20/ns/net" in v.message and v.message.endswith(" app-b"), \
        v.message


# --------------------------------------------------------------- observe fills them in
def test_observe_answers_whether_programs_can_be_typed(tmp_path):
    here = tmp_path / "tool"
    here.write_text("#!/bin/sh\n")
    asked = frozenset({"sh", sys.executable, str(here), "nstutor-no-such-program", str(tmp_path / "gone"), ""})
    s = answer(snap(), Wants(programs=asked))
    assert dict(s.programs) == {"sh": True, sys.executable: True, str(here): True,
                                "nstutor-no-such-program": False, str(tmp_path / "gone"): False, "": False}
    assert answer(snap(), Wants(nat=False)).programs == {}


def test_a_real_snapshot_knows_the_observer_and_the_clock():
    s = take_snapshot()
    assert s.self_pids == {os.getpid()} and os.getpid() in s.processes
    assert s.clock_ticks == os.sysconf("SC_CLK_TCK")
    assert os.getpid() not in {p.pid for p in select(s, {"cmdline": "."})}
