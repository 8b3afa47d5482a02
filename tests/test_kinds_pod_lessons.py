"""The kinds added for lessons 14 (pod) and 15 (shared-pid), on the real kernel: parent, zombie, file."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import wait_until
from kinds_process_support import PYTHON, assert_fail, assert_pass, children, comm_of, grade, number, wait_proc
from tutor.checks.base import SpecError
from tutor.checks.registry import build
from tutor.observe.procfs import read_stat

pytestmark = pytest.mark.needs_root

REPO = Path(__file__).resolve().parents[1]


def state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, timeout=10, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pid1(spawn, command: str) -> int:
    """Start COMMAND as PID 1 of a new pid namespace; its host pid."""
    outer = spawn(f"unshare --pid --fork --mount-proc {command}", cwd=REPO)
    return wait_until(lambda: (lambda c: c[0] if c else None)(children(outer.pid)), what="PID 1 to start")


@pytest.fixture
def pod_pause(spawn, uid):
    """nstutor's pause as PID 1 of a new pid namespace (lesson 15). `-X TAG` (an option Python
    accepts and ignores) puts the test's uid in its command line, so selectors find only it."""
    pause = pid1(spawn, f"{PYTHON} -X {uid} -m tutor.pause")
    wait_until(lambda: comm_of(pause) == "pause", what="the pause to rename itself")
    return pause


def pause_sel(uid: str) -> dict:
    """Only this test's pause, even when other pauses run on the machine."""
    return {"comm": "pause", "cmdline": f"-X {uid} -m tutor\\.pause$"}


def orphan_in(target: int, command: str) -> None:
    """Start COMMAND in TARGET's pid namespace from a shell that exits at once: an orphan."""
    run("nsenter", f"--target={target}", "--pid", "--mount", "sh", "-c", f"{command} >/dev/null 2>&1 & exit")


# --------------------------------------------------------------- parent
def test_parent_orphan_adopted_by_the_pause(uid, pod_pause):
    n = number(uid, 3014)
    orphan_in(pod_pause, f"sleep {n}")
    orphan, = wait_proc(f"^sleep {n}$")
    v = assert_pass({"parent": {"cmdline": f"^sleep {n}$", "parent": pause_sel(uid)}})
    assert v.evidence == {"pid": orphan, "ppid": pod_pause, "parent": pod_pause}
    assert "PID 1 of its pid namespace" in v.observed


def test_parent_not_an_orphan_while_its_parent_runs(spawn, uid, pod_pause):
    n = number(uid, 4014)
    spawn(f"nsenter --target={pod_pause} --pid --mount sh -c 'sleep {n}; true'")
    wait_proc(f"^sleep {n}$")
    assert_fail({"parent": {"cmdline": f"^sleep {n}$", "parent": pause_sel(uid)}},
                "is still running, so it is not an orphan yet", "sh -c 'sleep", "& exit'")


def test_parent_orphan_in_another_pid_namespace(spawn, uid, pod_pause):
    n = number(uid, 5014)
    lazy = pid1(spawn, f"sleep {number(uid, 5114)}")
    orphan_in(lazy, f"sleep {n}")
    orphan, = wait_proc(f"^sleep {n}$")
    assert_fail({"parent": {"cmdline": f"^sleep {n}$", "parent": pause_sel(uid)}},
                f"has the parent 'sleep {number(uid, 5114)}' (pid {lazy})",
                "adopted by PID 1 of its own pid namespace", f"nsenter --target {pod_pause} --pid --mount")


def test_parent_spec_problems():
    with pytest.raises(SpecError):
        build({"parent": {"cmdline": "^sleep 1$"}})              # no parent
    with pytest.raises(SpecError):
        build({"parent": {"parent": {"comm": "pause"}}})         # no subject


# --------------------------------------------------------------- zombie
def test_zombie_left_by_a_pid_1_that_does_not_reap(spawn, uid):
    n = number(uid, 6114)
    lazy = pid1(spawn, f"sleep {n}")
    sel = {"zombie": {"cmdline": f"^sleep {n}$"}}
    assert_fail(sel, "no zombie in pid namespace", "No orphan has exited", f"nsenter --target {lazy}")
    orphan_in(lazy, "sleep 0.2")
    z = wait_until(lambda: next((c for c in children(lazy) if state(c) == "Z"), None), what="a zombie")
    v = assert_pass(sel)
    assert v.evidence["zombies"] == [z] and v.evidence["pid1"] == lazy


def test_zombie_never_appears_under_the_pause(uid, pod_pause):
    n = number(uid, 7014)
    orphan_in(pod_pause, f"sleep {n}")
    orphan, = wait_proc(f"^sleep {n}$")
    sel = {"zombie": pause_sel(uid)}
    assert_fail(sel, f"'sleep {n}' (pid {orphan}) is an orphan of PID 1 that is still running")
    os.kill(orphan, 9)
    wait_until(lambda: state(orphan) is None, what="the pause to reap the orphan")
    assert_fail(sel, "no zombie in pid namespace", "No orphan has exited")
    assert_pass({"no_zombies": pause_sel(uid)})


def test_no_zombies_reaped_only_once_the_pause_has_reaped_an_orphan(uid, pod_pause):
    """reaped: true wants the kernel's proof that the pause collected an orphan: its children's
    page faults (cminflt) grow only at wait(). nstutor's pause forks nothing itself, so they start at 0."""
    sel = {"no_zombies": {**pause_sel(uid), "reaped": True}}
    assert read_stat(pod_pause).child_faults == 0
    n = number(uid, 9214)
    orphan_in(pod_pause, f"sleep {n}")
    orphan, = wait_proc(f"^sleep {n}$")
    assert_pass({"no_zombies": pause_sel(uid)})          # "no zombie" already holds: it proves nothing
    assert_fail(sel, "has not reaped any child yet", f"cminflt 0 in /proc/{pod_pause}/stat",
                f"'sleep {n}' (pid {orphan}) is an orphan it was handed, still running")
    os.kill(orphan, 9)
    wait_until(lambda: state(orphan) is None, what="the pause to reap the orphan")
    v = wait_until(lambda: (lambda v: v if v.passed else None)(grade(sel)), what="the reaping to be seen")
    assert v.evidence["pid1"] == pod_pause and v.evidence["child_faults"] == read_stat(pod_pause).child_faults > 0


def test_no_zombies_reaped_fails_under_a_pid_1_that_does_not_reap(spawn, uid):
    """The contrast: the orphan exits under a PID 1 that never waits; its faults are never counted."""
    n = number(uid, 9314)
    lazy = pid1(spawn, f"sleep {n}")
    orphan_in(lazy, "sleep 0.1")
    wait_until(lambda: next((c for c in children(lazy) if state(c) == "Z"), None), what="a zombie")
    assert_fail({"no_zombies": {"cmdline": f"^sleep {n}$", "reaped": True}}, "1 zombie", "does not reap")
    assert read_stat(lazy).child_faults == 0


def test_zombie_needs_a_pid_namespace_of_its_own(spawn, uid):
    n = number(uid, 8114)
    spawn(f"sleep {n}")
    wait_proc(f"^sleep {n}$")
    assert_fail({"zombie": {"cmdline": f"^sleep {n}$"}}, "in the host's pid namespace",
                f"unshare --pid --fork --mount-proc sleep {n}")


# --------------------------------------------------------------- file
def container(spawn, n: str, tmpfs: bool = True) -> int:
    """`sleep N` in its own mount namespace, with (or without) its own tmpfs on /tmp."""
    mount = f"mount -t tmpfs nstutor-{n} /tmp && " if tmpfs else ""
    spawn(f"unshare --mount --propagation private sh -c '{mount}exec sleep {n}'")
    pid, = wait_proc(f"^sleep {n}$")
    return pid


def write_in(pid: int, path: str, text: str) -> None:
    run("nsenter", f"--target={pid}", "--mount", "sh", "-c", f"printf '%s\\n' '{text}' > {path}")


def test_file_present_in_one_container_and_absent_in_the_other(spawn, uid):
    a, b = number(uid, 1013), number(uid, 2013)
    pa, pb = container(spawn, a), container(spawn, b)
    item = {"file": {"cmdline": f"^sleep {a}$", "path": "/tmp/from-app-a", "absent_in": f"^sleep {b}$"}}
    assert not os.path.exists("/tmp/from-app-a") or pytest.skip("the host has a /tmp/from-app-a")
    assert_fail(item, "missing", f"nsenter --target {pa} --mount sh -c 'echo hello > /tmp/from-app-a'")
    write_in(pa, "/tmp/from-app-a", "hello")
    v = assert_pass(item)
    assert v.evidence["absent_in"]["pid"] == pb
    assert not os.path.exists("/tmp/from-app-a")            # never on the host
    write_in(pb, "/tmp/from-app-a", "me too")
    assert_fail(item, f"(pid {pb}) sees /tmp/from-app-a too", "tmpfs from nstutor-", "mount -t tmpfs NAME /tmp")


def test_file_seen_by_both_without_a_private_filesystem(spawn, uid, tmp_path):
    a, b = number(uid, 3013), number(uid, 4013)
    container(spawn, a, tmpfs=False)
    pb = container(spawn, b, tmpfs=False)
    shared = tmp_path / "shared.txt"                        # the host's filesystem, seen by both
    shared.write_text("hi\n")
    assert_fail({"file": {"cmdline": f"^sleep {a}$", "path": str(shared), "absent_in": f"^sleep {b}$"}},
                f"(pid {pb}) sees {shared} too", "a new mount namespace starts as a copy")
    same = number(uid, 5013)
    spawn(f"sleep {same}")
    wait_proc(f"^sleep {same}$")
    other = number(uid, 6013)
    spawn(f"sleep {other}")
    wait_proc(f"^sleep {other}$")
    assert_fail({"file": {"cmdline": f"^sleep {same}$", "path": str(shared), "absent_in": f"^sleep {other}$"}},
                "share one mount namespace")


def test_file_contains(spawn, uid):
    a = number(uid, 7013)
    pa = container(spawn, a)
    write_in(pa, "/tmp/app-b.log", "OSError: [Errno 98] Address already in use")
    assert_pass({"file": {"cmdline": f"^sleep {a}$", "path": "/tmp/app-b.log", "contains": "Address already in use"}})
    assert_fail({"file": {"cmdline": f"^sleep {a}$", "path": "/tmp/app-b.log", "contains": "Connection refused"}},
                "does not contain 'Connection refused'", "its last line: 'OSError: [Errno 98]",
                f"nsenter --target {pa} --mount cat /tmp/app-b.log")
    assert_fail({"file": {"cmdline": f"^sleep {a}$", "path": "/tmp/nothing.log", "contains": "x"}},
                "There is no /tmp/nothing.log", "The program writes it")
    assert_fail({"file": {"cmdline": f"^sleep {a}$", "path": "/tmp"}}, "a directory, not a file")


def test_file_spec_problems():
    with pytest.raises(SpecError):
        build({"file": {"cmdline": "x", "path": "tmp/relative"}})
    with pytest.raises(SpecError):
        build({"file": {"cmdline": "x", "path": "/tmp/a", "contains": "("}})
    with pytest.raises(SpecError):
        build({"file": {"path": "/tmp/a"}})
