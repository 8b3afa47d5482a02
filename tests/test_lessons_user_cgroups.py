"""Lessons 8 (user) and 9 (cgroups): the kind changes they brought, on the real kernel.

* uid_map: a map written by hand (what --map-root-user does) is graded like --map-root-user's;
  the messages say how to start the process as a normal user from a root shell, and, when there
  is no process at all, that the system may forbid unprivileged user namespaces.
* cgroup measured: CPU use is measured over several periods of the limit, remembered across the
  snapshots a check grades, so a busy loop held at 10% with a 1 s period reads ~10% even when
  snapshots come 0.3 s apart (a single short window reads 0% or 30%).
* the lesson under systemd's hybrid layout (a read-only tmpfs at /sys/fs/cgroup, cpu,cpuacct with
  a `cpu` link), rebuilt in a private mount namespace by tests/systemd_cgroup_layout.py.
* the memory steps: their commands, as printed, make a 20M cgroup nstutor-mem-ntm<hex> without
  swap and end in an OOM kill inside it, counted by the cgroup, named in the kernel log, and
  graded by the lesson's own memlimit and oom checks.

Processes are `sleep <lesson><uid digits>` or `sh -c 'while :; do :; done' busy-<uid>` and cgroups
nstutor-cpu-<uid>: nothing here can match a learner's objects.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import remove_cgroup, sh, wait_until
from kinds_process_support import assert_fail, assert_pass, number, wait_proc
from shipped_lesson import ShippedLesson
from test_kinds_process_cgroup import cpu_root_or_skip, throttled, write
from tutor.checks.kinds.cgroup import CgroupCpu, CpuHistory, measure_window
from tutor.checks.registry import build
from tutor.lessons.cleanup import run_cleanup
from tutor.observe import take_snapshot
from tutor.observe.cgroups import cpu_hierarchy
from tutor.observe.model import Process

pytestmark = pytest.mark.needs_root

NOBODY = 65534
AS_NOBODY = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"


def needs_setpriv() -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to start a process as an unprivileged user")


# --------------------------------------------------------------- lesson 8: uid_map
def test_hand_written_map_passes_like_map_root_user(spawn, uid):
    """Step 2 of the lesson: `unshare --user` leaves the map empty; the owner writes '0 UID 1'."""
    needs_setpriv()
    n = number(uid, 1008)
    sel = f"^sleep {n}$"
    spawn(f"{AS_NOBODY} unshare --user sleep {n}")
    pid, = wait_proc(sel)
    assert_fail({"uid_map": {"cmdline": sel, "outside": "owner"}}, "uid_map: empty", f"/proc/{pid}/uid_map")
    # as the same unprivileged user, from outside: allowed once, for its own uid only
    sh(f"{AS_NOBODY} sh -c 'echo \"0 {NOBODY} 1\" > /proc/{pid}/uid_map'")
    v = assert_pass({"uid_map": {"cmdline": sel, "inside": 0, "outside": "owner"}})
    assert v.evidence["uid_map"] == [[0, NOBODY, 1]] and v.evidence["outside"] == NOBODY
    assert_pass({"uid_map": {"cmdline": sel, "outside": "non-root"}})
    # a second write is refused by the kernel: the map is fixed once written
    res = sh(f"{AS_NOBODY} sh -c 'echo \"0 {NOBODY} 1\" > /proc/{pid}/uid_map'", check=False)
    assert res.returncode != 0


def test_uid_map_messages_for_a_root_shell(spawn, uid):
    """Made by root (a root shell, sudo) or without --user: say how to run it as a normal user."""
    m, k = number(uid, 2008), number(uid, 3008)
    spawn(f"unshare --user --map-root-user sleep {m}")
    spawn(f"sleep {k}")
    by_root, = wait_proc(f"^sleep {m}$")
    plain, = wait_proc(f"^sleep {k}$")
    assert_fail({"uid_map": {"cmdline": f"^sleep {m}$", "outside": "non-root"}},
                "is root (uid 0) outside too", f"kill {by_root}; unshare --user --map-root-user sleep {m}",
                "runuser -u YOURNAME --")
    assert_fail({"uid_map": {"cmdline": f"^sleep {k}$", "outside": "owner"}},
                "the host's user namespace", f"kill {plain}", "runuser -u YOURNAME --")


def test_uid_map_missing_process_mentions_blocked_user_namespaces(uid):
    sel = f"^sleep {number(uid, 4008)}$"
    assert_fail({"uid_map": {"cmdline": sel, "outside": "owner"}},
                "is not running", "Operation not permitted", "kernel.unprivileged_userns_clone",
                "kernel.apparmor_restrict_unprivileged_userns", "user.max_user_namespaces")


# --------------------------------------------------------------- lesson 9: measured over a window
@pytest.fixture
def limited_cgroup(uid):
    """A cgroup nstutor-cpu-<uid> limited to 10% with a 1 s period (the lesson's numbers)."""
    root, v2 = cpu_root_or_skip()
    directory = os.path.join(root, f"nstutor-cpu-{uid}")
    os.mkdir(directory)
    if v2:
        write(f"{directory}/cpu.max", "100000 1000000")
    else:
        write(f"{directory}/cpu.cfs_period_us", "1000000")
        write(f"{directory}/cpu.cfs_quota_us", "100000")
    yield directory
    remove_cgroup(directory, root)


def test_measured_use_is_steady_between_close_snapshots(spawn, uid, limited_cgroup):
    directory = limited_cgroup
    spawn(f"sh -c 'while :; do :; done' busy-{uid}")
    busy, = wait_proc(f"busy-{uid}$")
    write(f"{directory}/cgroup.procs", str(busy))
    wait_until(lambda: throttled(directory) >= 2, timeout=10, what="the limit to hold the loop back twice")
    name = os.path.basename(directory)
    check = build({"cgroup": {"name": name, "cpu_limit_percent": 10, "members": [f"busy-{uid}$"],
                              "measured": True}})
    assert measure_window(1_000_000) == 3.0
    snap, windowed = None, []
    started = time.monotonic()
    while time.monotonic() - started < 6.0:
        snap = take_snapshot(snap)
        v = check.grade(snap)
        if "window_s" in v.evidence or not v.passed and "over the last" in v.observed:
            windowed.append(v)
        time.sleep(0.3)          # a measurement interval, like a learner pressing "check" again
    assert len(windowed) >= 6, [v.observed for v in windowed]
    for v in windowed:
        assert v.passed, v.observed + " | " + v.message
        assert v.evidence["window_s"] >= 3.0 and 5 <= v.evidence["cpu_percent"] <= 15, v.evidence


def test_measured_use_over_a_window_catches_an_unlimited_loop(spawn, uid):
    """A loop nothing limits (the root cgroup): the window shows ~100%."""
    if cpu_hierarchy()[1] is None:
        pytest.skip("no cgroup hierarchy with the cpu controller is mounted here")
    spawn(f"sh -c 'while :; do :; done' busy-{uid}")
    wait_proc(f"busy-{uid}$")
    # Built without the lint, which refuses the root cgroup in a lesson (every process is below it): here
    # it is the one cgroup sure to hold the loop without a limit.
    check = CgroupCpu({"name": "/", "cpu_limit_percent": 10, "members": [f"busy-{uid}$"], "measured": True})
    snap, last = None, None
    started = time.monotonic()
    while time.monotonic() - started < 3.6:
        snap = take_snapshot(snap)
        last = check.grade(snap)
        time.sleep(0.3)
    assert not last.passed and "over the last" in last.observed, last.observed
    assert "more than the 10% limit" in last.message and "check again in a few seconds" in last.message


# --------------------------------------------------------------- CpuHistory edge cases (pure)
def proc(pid: int, start: int, ticks: int) -> Process:
    return Process(pid, 1, "sh", ("sh",), "R", 0, {}, cpu_ticks=ticks, start_ticks=start)


def test_cpu_history_needs_a_whole_window_of_the_same_processes():
    hz = os.sysconf("SC_CLK_TCK")
    h = CpuHistory()
    assert h.rate(100.0, [proc(5, 1, 0)], 3.0, hz) is None              # nothing older yet
    assert h.rate(101.0, [proc(5, 1, hz // 10)], 3.0, hz) is None
    used, over = h.rate(103.0, [proc(5, 1, 3 * hz // 10)], 3.0, hz)      # 0.3 s of CPU in 3 s
    assert over == 3.0 and abs(used - 10.0) < 0.5
    assert h.rate(102.5, [proc(5, 1, 0)], 3.0, hz) is None               # out of order: not recorded, too young
    assert h.rate(103.0, [proc(5, 1, 3 * hz // 10)], 3.0, hz) == (used, over)
    # the loop was restarted (same pid, new start time): no window until one has passed
    assert h.rate(104.0, [proc(5, 2, 0)], 3.0, hz) is None
    assert h.rate(107.0, [proc(5, 2, 3 * hz // 10)], 3.0, hz)[1] == 3.0


# --------------------------------------------------------------- lesson 9 under systemd's hybrid layout
def v1_cpu_mount() -> tuple[str, str] | None:
    """(mount point, controller options) of the host's v1 tree with the cpu controller, or None."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = (right.split() + ["", "", ""])[:3]
        if fstype == "cgroup" and "cpu" in options.split(","):
            kept = [o for o in options.split(",") if o not in ("rw", "ro")]
            return left.split()[4], ",".join(kept)
    return None


def test_the_lesson_in_systemds_hybrid_layout(uid, tmp_path):
    """systemd makes /sys/fs/cgroup a read-only tmpfs on v1 and hybrid, and mounts cpu with cpuacct at
    cpu,cpuacct with a `cpu` link to it. Rebuilt in a private mount namespace (the host's mounts are
    never touched, see tests/systemd_cgroup_layout.py): the v2 line of the lesson fails with EROFS,
    its check names the cpu,cpuacct directory, the lesson's own v1 commands (through the `cpu` link)
    make both steps green, and its cleanup removes the cgroup without an error."""
    if shutil.which("unshare") is None or shutil.which("findmnt") is None:
        pytest.skip("unshare and findmnt (util-linux) are needed")
    found = v1_cpu_mount()
    if found is None:
        pytest.skip("no v1 cpu tree here (cgroup v2): systemd's hybrid layout cannot be rebuilt")
    host_root, options = found
    cg, busy = f"nstutor-cpu-{uid}", f"nstutor-busy-{uid}"
    lab = ShippedLesson("cgroups", tmp_path, {"nstutor-cpu": cg, "nstutor-busy": busy,
                                              "nstutor-mem": f"nstutor-mem-{uid}"}, uid)
    try:
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable,
             str(Path(__file__).with_name("systemd_cgroup_layout.py")), str(lab.lesson.path), options,
             os.readlink("/proc/self/ns/mnt"), cg],
            capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr[-3000:]
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert out["findmnt"].split()[0] == "tmpfs" and "ro" in out["findmnt"].split()[1].split(","), out
        assert out["v2_mkdir"] == "EROFS", out
        assert out["layout"] == ["hybrid", "/sys/fs/cgroup/cpu,cpuacct"], out
        assert not out["limit_before"]["passed"]
        assert f"mkdir /sys/fs/cgroup/cpu,cpuacct/{cg}" in out["limit_before"]["said"], out["limit_before"]
        assert [rc for rc, _ in out["solved"]] == [0, 0], out["solved"]
        assert out["limit"]["passed"], out["limit"]["said"]
        assert out["member"]["passed"], out["member"]["said"]
        assert any(line.split(":")[1] == options and line.endswith(f":/{cg}") for line in out["proc_cgroup"]), out
        assert out["cleanup"]["ok"], out["cleanup"]
        assert out["left"] == [], out
        assert not os.path.exists(os.path.join(host_root, cg))      # the host's tree: gone there too
    finally:
        lab.teardown()
        if os.path.isdir(os.path.join(host_root, cg)):
            remove_cgroup(os.path.join(host_root, cg), host_root)


# --------------------------------------------------------------- lesson 9: the memory steps, as printed
def memory_blocks(text: str) -> list[str]:
    """The ```sh blocks of the lesson's memory steps (Step 4 to the next section that is no step), in order."""
    section = text[text.index("## Step 4: a memory fence"):]
    section = section[:section.index("\n## Other limits")]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_the_memory_steps_typed_as_printed_end_in_an_oom_kill_inside_the_cgroup(uid, tmp_path):
    """The memory steps, typed as printed (the v1 or v2 lines this machine needs), graded by the
    lesson's own checks: memlimit fails before the cgroup is made and passes after its limit lines;
    oom fails until the bounded `tail` is killed (status 137), then passes; the cgroup's counters
    show oom_kill, the kernel log names tail, and the lesson's cleanup removes the cgroup."""
    v1 = os.path.ismount("/sys/fs/cgroup/memory")
    if not v1:
        if not os.path.exists("/sys/fs/cgroup/cgroup.subtree_control"):
            pytest.skip("no memory controller tree found")
        with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
            if "memory" not in f.read().split():
                pytest.skip("cgroup v2 without +memory in the root's cgroup.subtree_control; not changing it")
    mg = f"nstutor-mem-ntm{uid[2:]}"
    lab = ShippedLesson("cgroups", tmp_path, {"nstutor-cpu": f"nstutor-cpu-{uid}", "nstutor-mem": mg,
                                              "nstutor-busy": f"nstutor-busy-{uid}"}, uid)
    make, limit_v2, limit_v1, oom, events_v2, counters_v1, log_grep = memory_blocks(lab.lesson.path.read_text())
    wanted = "# v1 or hybrid" if v1 else "# v2"
    make = "".join(line + "\n" for line in make.splitlines() if not line.startswith("MG=") or wanted in line)
    assert make.count("MG=") == 1, make
    directory = f"/sys/fs/cgroup/memory/{mg}" if v1 else f"/sys/fs/cgroup/{mg}"
    killed = r"Memory cgroup out of memory: Killed process (\d+) \(tail\)"
    before = set(re.findall(killed, sh(log_grep, check=False).stdout))     # earlier kills in the log

    def typed(*blocks: str) -> subprocess.CompletedProcess:
        # each block after the MG= line, as a learner types them one after another in one shell
        return subprocess.run(["bash", "-c", make.split("mkdir")[0] + "".join(blocks)], capture_output=True,
                              text=True, timeout=60, start_new_session=True)
    try:
        assert f"mkdir {directory}" in lab.messages("memlimit")
        res = typed(make.split("\n", 1)[1], limit_v1 if v1 else limit_v2)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == (["20971520", "0"]), res.stdout      # what the cat line prints
        assert lab.grade("memlimit").passed, lab.messages("memlimit")
        assert "says oom_kill 0" in lab.messages("oom")
        res = typed(oom, counters_v1 if v1 else events_v2, log_grep)
        assert res.stdout.splitlines()[0] == "137", res.stdout + res.stderr
        kills = [int(line.split()[1]) for line in res.stdout.splitlines() if line.startswith("oom_kill ")]
        # tail, and sometimes head too, before tail has given its memory back (the lesson says so)
        assert kills and kills[0] >= 1, res.stdout
        assert set(re.findall(killed, res.stdout)) - before, res.stdout
        oom_step = lab.grade("oom")
        assert oom_step.passed, lab.messages("oom")
        assert f"oom_kill {kills[0]}" in oom_step.verdicts[0].observed
        assert lab.grade("memlimit").passed
        log = run_cleanup(lab.lesson)
        assert log.ok, log.errors
        assert not os.path.exists(directory)
    finally:
        lab.teardown()
        if os.path.isdir(directory):
            os.rmdir(directory)
