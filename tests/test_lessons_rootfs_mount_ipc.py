"""Lessons 3 (rootfs), 6 (mount) and 7 (ipc): the kinds' behaviour those lessons rely on, on the real kernel.

What these pin down, beyond tests/test_kinds_process*.py:
* root: `old_root: any` (lesson 3's step "pivot" looks at /old before step "detach" cuts it off);
  util-linux's umount cannot detach /old without a /proc in the new root, and the message says so;
  the commands the messages suggest really work when typed.
* shm: a host segment left by ipcmk (creator gone) is named; one kept by a running program is not
  blamed on the learner.
* mount: a tmpfs mounted on the host instead of inside the namespace gets its own message.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import sh, wait_until
from kinds_process_support import assert_fail, assert_pass, number, wait_proc
from test_kinds_process_root import host_mount_points, remove_root
from tutor.checks.kinds.root import RootDir
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root

#: Lesson 3's step 1, for a root directory of our own (the lesson's is /tmp/nstutor-root).
BUILD = """
mkdir -p {root}/bin {root}/old {root}/proc
cd {root}
for cmd in sh sleep ls umount; do
  cp "$(command -v $cmd)" bin/
  for lib in $(ldd "$(command -v $cmd)" | grep -o '/[^ ]*'); do
    mkdir -p ".$(dirname $lib)"
    cp "$lib" ".$lib"
  done
done
"""


@pytest.fixture
def lesson_root(uid):
    """/tmp/<uid>-nstutor-root built with lesson 3's own commands; removed at teardown."""
    root = f"/tmp/{uid}-nstutor-root"
    try:
        sh(BUILD.format(root=root))
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    yield root
    remove_root(root)


def pivot(root: str, n: str, proc: bool = True) -> str:
    """Lesson 3's step 3 (the old root stays at /old)."""
    mount_proc = f"mount -t proc proc {root}/proc && " if proc else ""
    return (f"unshare --mount sh -c 'mount --bind {root} {root} && {mount_proc}cd {root} && "
            f"pivot_root . old && exec sleep {n}'")


# --------------------------------------------------------------- lesson 3: rootfs
def test_lesson_root_runs_sh_inside(lesson_root):
    res = subprocess.run(["chroot", lesson_root, "sh", "-c", "ls /"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res.stderr
    assert set(res.stdout.split()) >= {"bin", "lib64", "old", "proc"}


def test_old_root_any_then_detached(lesson_root, spawn, uid):
    root, n = lesson_root, number(uid, 1012)
    sel = f"^sleep {n}$"
    spawn(pivot(root, n), shell=True)
    pid, = wait_proc(sel)
    v = assert_pass({"root": {"cmdline": sel, "dir": root, "pivoted": True, "old_root": "any"}})
    assert "the old root is still attached at /old" in v.observed
    assert v.evidence["old_root"] == "/old" and v.evidence["dir"] == root
    # the lesson's step "detach" fails, and says what to type
    bad = assert_fail({"root": {"cmdline": sel, "dir": root, "pivoted": True}},
                      "the host's root is still attached at /old",
                      f"nsenter --target {pid} --mount umount -l /old")
    assert "no /proc" not in bad.message          # /proc is there: no detour needed
    # ... and what it says works: the copy of umount inside the new root detaches /old
    sh(f"nsenter --target {pid} --mount umount -l /old")
    v = wait_until(lambda: (lambda r: r if r.passed else None)(
        RootDir({"cmdline": sel, "dir": root, "pivoted": True}).grade(take_snapshot())),
        what="the old root to be detached")
    assert "the old root is detached" in v.observed and v.evidence["mounts"] == 2     # "/" and /proc
    assert "old_root" not in v.evidence
    assert_pass({"root": {"cmdline": sel, "dir": root, "pivoted": True, "old_root": "any"}})


def test_umount_needs_proc_in_the_new_root(lesson_root, spawn, uid):
    root, n = lesson_root, number(uid, 2012)
    sel = f"^sleep {n}$"
    spawn(pivot(root, n, proc=False), shell=True)
    pid, = wait_proc(sel)
    # the fact behind the message: util-linux umount reads /proc/self/mountinfo and fails without it
    res = subprocess.run(["nsenter", "--target", str(pid), "--mount", "umount", "-l", "/old"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode != 0 and "No such file or directory" in res.stderr, res
    assert_fail({"root": {"cmdline": sel, "dir": root, "pivoted": True}},
                "still attached at /old", "no /proc in that namespace",
                f"nsenter --target {pid} --mount mount -t proc proc /proc",
                f"mount -t proc proc {root}/proc")


def test_the_suggested_pivot_command_works(lesson_root, spawn, uid):
    root, n = lesson_root, number(uid, 3012)
    sel = f"^sleep {n}$"
    first = spawn(f"sleep {n}")
    wait_proc(sel)
    v = assert_fail({"root": {"cmdline": sel, "dir": root, "pivoted": True}},
                    "is in the host's mount namespace", "umount -l /old")
    recipe = re.search(r"Start it with: (unshare --mount sh -c '[^']*')", v.message)
    assert recipe, v.message
    first.kill()
    first.wait(timeout=5)
    spawn(recipe.group(1), shell=True)
    wait_proc(sel)
    wait_until(lambda: RootDir({"cmdline": sel, "dir": root, "pivoted": True}).grade(
        take_snapshot()).passed, what="the recipe to pivot and detach")


def test_old_root_field_is_checked_by_the_lint():
    assert RootDir.problems({"cmdline": "^sleep 1$", "dir": "/tmp/nstutor-root", "old_root": "any"}) == \
        ["'root': old_root only means something with pivoted: true"]
    assert any("must be one of detached, any" in p for p in
               RootDir.problems({"cmdline": "^sleep 1$", "pivoted": True, "old_root": "kept"}))
    assert RootDir.problems({"cmdline": "^sleep 1$", "pivoted": True, "old_root": "any"}) == []


# --------------------------------------------------------------- lesson 7: ipc
@pytest.fixture
def host_segments():
    """shmids in the host's ipc namespace made by a test; removed at teardown."""
    made: list[str] = []
    yield made
    for shmid in made:
        sh(f"ipcrm -m {shmid}", check=False)


def host_shm() -> list[dict]:
    with open("/proc/sysvipc/shm") as f:
        lines = f.read().splitlines()
    head = lines[0].split()
    return [dict(zip(head, line.split())) for line in lines[1:]]


#: A program that keeps a segment of its own, as a database or a desktop does.
KEEPER = """
import ctypes, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
if libc.shmget(0, int(sys.argv[1]), 0o1600) < 0:
    sys.exit(1)
signal.pause()
"""


def test_ipcmk_on_the_host_instead_is_named(spawn, uid, host_segments):
    n, size = number(uid, 1007), 40960 + int(uid[2:], 16)
    sel = f"^sleep {n}$"
    spawn(f"unshare --ipc sleep {n}")
    pid, = wait_proc(sel)
    shmid = sh(f"ipcmk -M {size}").stdout.split(":")[-1].strip()
    host_segments.append(shmid)
    assert_fail({"shm": {"cmdline": sel, "size": size}},
                "has no shared memory segment", f"nsenter --target {pid} --ipc ipcmk -M {size}",
                "The host's ipc namespace has one", f"ipcrm -m {shmid}")


def test_a_running_programs_segment_is_not_blamed(spawn, uid, host_segments):
    n, size = number(uid, 2007), 40960 + int(uid[2:], 16)
    sel = f"^sleep {n}$"
    spawn(f"unshare --ipc sh -c 'ipcmk -M {size} >/dev/null && exec sleep {n}'")
    wait_proc(sel)
    keeper = spawn([sys.executable, "-c", KEEPER, str(size)])
    seg = wait_until(lambda: next((s for s in host_shm() if s["size"] == str(size)), None),
                     what="the keeper's segment")
    host_segments.append(seg["shmid"])
    assert seg["cpid"] == str(keeper.pid)
    v = assert_pass({"shm": {"cmdline": sel, "size": size, "absent_from_host": True}})
    assert f"shmid {seg['shmid']} of pid {keeper.pid}" in v.observed and "running programs" in v.observed
    # once its creator is gone, the same segment looks like a stray ipcmk made: now it counts
    keeper.kill()
    keeper.wait(timeout=5)
    wait_until(lambda: not os.path.exists(f"/proc/{keeper.pid}/stat") or
               open(f"/proc/{keeper.pid}/stat").read().split(") ")[1].startswith("Z"), what="the keeper to exit")
    assert_fail({"shm": {"cmdline": sel, "size": size, "absent_from_host": True}},
                f"the host's ipc namespace has shmid {seg['shmid']}", "made by a program that has exited",
                f"ipcrm -m {seg['shmid']}")


# --------------------------------------------------------------- lesson 6: mount
@pytest.fixture
def host_dir(uid):
    """/tmp/<uid>-nstutor-mnt; anything mounted on it on the host is unmounted at teardown."""
    path = f"/tmp/{uid}-nstutor-mnt"
    os.mkdir(path)
    yield path
    while path in host_mount_points():
        sh(f"umount {path}")
    os.rmdir(path)


def test_mounted_on_the_host_instead(spawn, uid, host_dir):
    n = number(uid, 1006)
    sel = f"^sleep {n}$"
    spawn(f"unshare --mount sleep {n}")
    pid, = wait_proc(sel)
    sh(f"mount -t tmpfs nstutor-{uid} {host_dir}")        # after unshare: the namespace does not get it
    assert_fail({"mount": {"cmdline": sel, "target": host_dir, "fstype": "tmpfs"}},
                f"nothing is mounted at {host_dir} there, but the host has tmpfs from nstutor-{uid}",
                f"umount {host_dir}", f"nsenter --target {pid} --mount mount -t tmpfs")
    # once it is inside as well (and gone from the host), both lesson steps pass
    sh(f"umount {host_dir}")
    sh(f"nsenter --target {pid} --mount mount -t tmpfs nstutor-{uid} {host_dir}")
    assert_pass({"mount": {"cmdline": sel, "target": host_dir, "fstype": "tmpfs", "absent_from_host": True}})
