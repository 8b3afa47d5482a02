"""Lessons 2 (processes), 4 (uts) and 5 (pid): the kind behaviour those lessons rely on, on the real kernel.

What these pin down, beyond tests/test_kinds_process*.py:
* pid1 `own_proc` (lesson 5's step "own-proc"): the /proc a process sees belongs to its own pid
  namespace. A process started without --mount-proc (host mount namespace), one with a mount
  namespace whose /proc is still the host's copy, and one with no procfs at all each get their
  own message; the in-place fix the message suggests really works when typed.
* PID 1 of a pid namespace ignores a plain `kill` from the host (the reason the messages and the
  lesson say `kill -KILL`), and when it dies the kernel kills the rest of its namespace.
* A process that exits between the snapshot's process list and the read of its /proc (the part
  its check asked for) is reported as such, not misjudged.
"""
from __future__ import annotations

import os
import signal

import pytest

from conftest import sh, wait_until
from kinds_process_support import assert_fail, assert_pass, host_inode, ns_inode, number, pids_matching, wait_proc
from tutor.checks.registry import build
from tutor.checks.runner import wants_of
from tutor.observe import answer, take_snapshot

pytestmark = pytest.mark.needs_root


def own_proc(n: str) -> dict:
    return {"pid1": {"cmdline": f"^sleep {n}$", "own_proc": True}}


def status_field(pid: int, key: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def gone(pid: int) -> bool:
    try:
        return status_field(pid, "State").startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


# --------------------------------------------------------------- lesson 5: own_proc
def test_own_proc_with_mount_proc(spawn, uid):
    n = number(uid, 1004)
    spawn(f"unshare --pid --fork --mount-proc sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    v = assert_pass(own_proc(n))
    assert v.evidence["proc_pids"] == [1] and v.evidence["proc_count"] == 1
    assert v.evidence["nspid"] == [pid, 1]
    assert "lists 1 process, itself as pid 1" in v.observed and f"pid {pid} on the host" in v.observed
    # what the lesson shows: ps in both namespaces lists the sleep as PID 1, and ps itself
    out = sh(f"nsenter --target {pid} --pid --mount ps -o pid=,args=").stdout.split("\n")
    assert out[0].split() == ["1", "sleep", n] and len([line for line in out if line.strip()]) == 2


def test_own_proc_without_mount_proc_is_the_hosts(spawn, uid):
    n = number(uid, 1004)
    spawn(f"unshare --pid --fork sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    assert_pass({"pid1": f"^sleep {n}$"})           # it is PID 1 all right; only its /proc is wrong
    v = assert_fail(own_proc(n), f"itself under its host pid {pid}: it is the host's /proc",
                    "shares the host's mount namespace", f"kill -KILL {pid}",
                    f"unshare --pid --fork --mount-proc sleep {n}")
    assert "mount -t proc" not in v.message          # never suggest mounting over the host's own /proc


def test_own_proc_copied_proc_then_fixed_in_place(spawn, uid):
    n = number(uid, 1004)
    spawn(f"unshare --pid --fork --mount sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    assert ns_inode(pid, "mnt") != host_inode("mnt")
    v = assert_fail(own_proc(n), f"has its own mount namespace ({ns_inode(pid, 'mnt')})",
                    "belongs to another pid namespace", f"itself under its host pid {pid}")
    fix = f"nsenter --target {pid} --pid --mount mount -t proc proc /proc"
    assert fix in v.message
    sh(fix)                                           # the suggested command, as typed
    v = assert_pass(own_proc(n))
    assert v.evidence["proc_pids"] == [1]
    with open("/proc/self/mountinfo") as f:           # the host's /proc is untouched
        assert sum(1 for line in f if line.split()[4] == "/proc") == 1


def test_own_proc_no_procfs(spawn, uid):
    n = number(uid, 1004)
    spawn(f"unshare --pid --fork --mount sh -c 'umount -l /proc && exec sleep {n}'", shell=True)
    pid, = wait_proc(f"^sleep {n}$")
    # sh was PID 1 and exec'd sleep: sleep is PID 1 with an empty /proc
    assert_fail(own_proc(n), "lists no processes (no procfs is mounted there)", "ps there shows nothing",
                f"nsenter --target {pid} --pid --mount mount -t proc proc /proc")


def test_own_proc_process_exits_before_grading(spawn, uid):
    n = number(uid, 1004)
    spawn(f"unshare --pid --fork --mount-proc sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    standing = take_snapshot()               # the process list still has it
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid), what=f"pid {pid} to exit")
    snap = answer(standing, wants_of([build(own_proc(n))]))
    assert snap.own_proc[pid].gone
    assert_fail(own_proc(n), "exited while nstutor was looking", "start it again", snap=snap)


def test_own_proc_lint():
    from tutor.checks.kinds.pid1 import PidOne
    assert PidOne.problems({"cmdline": "^sleep 1004$", "own_proc": "yes"}) == \
        ["'pid1.own_proc': must be true or false"]
    assert PidOne.problems({"cmdline": "^sleep 1004$", "own_proc": True}) == []


# --------------------------------------------------------------- lesson 5: PID 1 is special
def test_pid1_ignores_plain_kill_and_takes_its_namespace_along(spawn, uid):
    n, m = number(uid, 1004), number(uid, 1104)
    spawn(f"unshare --pid --fork --mount-proc sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    spawn(f"nsenter --target {pid} --pid --mount sleep {m}")
    member, = wait_proc(f"^sleep {m}$")
    assert_pass({"process": {"cmdline": f"^sleep {m}$",
                             "shared_with": {"process": f"^sleep {n}$", "types": ["pid", "mnt"]}}})
    assert status_field(member, "NSpid").split()[0] == str(member)

    # SIGTERM from the host: dropped when sent (PID 1 has no handler), so nothing is pending
    os.kill(pid, signal.SIGTERM)
    assert not gone(pid)
    assert int(status_field(pid, "ShdPnd"), 16) == 0 and int(status_field(pid, "SigPnd"), 16) == 0
    # SIGKILL from above works, and the kernel kills every other process in the namespace
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid) and gone(member), what="PID 1 and the member to die")
    assert not pids_matching(f"^sleep {m}$")


# --------------------------------------------------------------- lesson 4: the one-go variant
def test_hostname_set_before_exec(spawn, uid):
    """sleep 1003 started the runtime's way, `unshare --uts sh -c 'hostname lab-box; exec sleep 1003'`
    (the one-go variant the uts lesson shows with a one-off command), passes all three steps."""
    n = number(uid, 1003)
    box = f"lab-{uid}"
    spawn(f"unshare --uts sh -c 'hostname {box}; exec sleep {n}'", shell=True)
    wait_proc(f"^sleep {n}$")
    assert_pass({"process": {"cmdline": f"^sleep {n}$", "own": ["uts"]}})
    assert_pass({"hostname": {"cmdline": f"^sleep {n}$", "hostname": box, "host_unchanged": True}})
    assert os.uname().nodename != box


# --------------------------------------------------------------- lesson 2: the restart keeps both namespaces
def test_process_restart_command_keeps_every_own_namespace(spawn, uid):
    """Lesson 2's step 1 with --ipc forgotten: the suggested command makes both uts and ipc new again."""
    n = number(uid, 1001)
    spawn(f"unshare --uts sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    assert_fail({"process": {"cmdline": f"^sleep {n}$", "own": ["uts", "ipc"]}},
                f"shares the host's ipc namespace ({host_inode('ipc')})", f"kill {pid}",
                f"start it again with: unshare --uts --ipc sleep {n}")
    # and with an extra namespace (--net) the step that wants the rest to be the host's says which
    m = number(uid, 2001)
    spawn(f"unshare --uts --ipc --net sleep {m}")
    other, = wait_proc(f"^sleep {m}$")
    assert_fail({"process": {"cmdline": f"^sleep {m}$", "own": ["uts", "ipc"],
                             "host": ["mnt", "net", "pid", "user", "cgroup", "time"]}},
                f"has its own net namespace ({ns_inode(other, 'net')})", "without unshare's --net",
                f"start it again with: unshare --uts --ipc sleep {m}")
