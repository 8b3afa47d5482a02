"""root on the real kernel (lesson 3): chroot, and pivot_root in a new mount namespace.

Also pins down what the host sees (documented in tutor/checks/kinds/root.py): readlink
/proc/PID/root is the directory after chroot, but "/" after pivot_root.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from kinds_process_support import assert_fail, assert_pass, number, wait_proc

pytestmark = pytest.mark.needs_root

TOOLS = ("/bin/sleep", "/bin/mount", "/bin/umount")


def host_mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


@pytest.fixture
def minimal_root(uid):
    """/tmp/<uid>-root with sh, sleep, mount, umount and their libraries; removed at teardown."""
    root = f"/tmp/{uid}-root"
    try:
        for d in ("bin", "old", "proc"):
            os.makedirs(f"{root}/{d}")
        shutil.copy2(os.path.realpath("/bin/sh"), f"{root}/bin/sh")
        for tool in TOOLS:
            shutil.copy2(tool, f"{root}/bin/")
        ldd = subprocess.run(["ldd", os.path.realpath("/bin/sh"), *TOOLS], capture_output=True, text=True).stdout
        # lines are "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
        for lib in {w for w in ldd.split() if w.startswith("/") and not w.endswith(":")}:
            os.makedirs(root + os.path.dirname(lib), exist_ok=True)
            shutil.copy2(lib, root + lib)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    yield root
    remove_root(root)


def remove_root(root: str) -> None:
    """Never delete through a mount: the tests' mounts live in private mount namespaces only."""
    if any(p == root or p.startswith(root + "/") for p in host_mount_points()):
        pytest.fail(f"{root} has a mount in the host's namespace; left in place, remove it by hand")
    shutil.rmtree(root)


def pivot(root: str, n: str, detach: bool = True) -> str:
    inner = f"mount -t proc proc /proc; {'umount -l /old; ' if detach else ''}exec /bin/sleep {n}"
    return (f"unshare --mount --fork sh -c 'mount --bind {root} {root} && cd {root} && pivot_root . old && "
            f"exec /bin/sh -c \"{inner}\"'")


def test_chroot(minimal_root, spawn, uid):
    root = minimal_root
    n = number(uid, 1002)
    spawn(f"chroot {root} /bin/sleep {n}")
    pid, = wait_proc(f"^/bin/sleep {n}$")
    assert os.readlink(f"/proc/{pid}/root") == root
    v = assert_pass({"root": {"cmdline": f"^/bin/sleep {n}$", "dir": root}})
    assert v.evidence == {"pid": pid, "root": root}

    assert_fail({"root": {"cmdline": f"^/bin/sleep {n}$", "dir": root + "-other"}},
                f"is {root}, expected {root}-other")
    m = number(uid, 2002)
    spawn(f"sleep {m}")
    wait_proc(f"^sleep {m}$")
    assert_fail({"root": {"cmdline": f"^sleep {m}$", "dir": root}},
                f"the root of 'sleep {m}'", "is /", "That is the host's root", f"chroot {root} sleep {m}")


def test_pivot_root(minimal_root, spawn, uid):
    root = minimal_root
    n = number(uid, 1005)
    spawn(pivot(root, n))
    pid, = wait_proc(f"^/bin/sleep {n}$")
    assert os.readlink(f"/proc/{pid}/root") == "/"     # the host cannot tell a pivot_root from readlink
    sel = f"^/bin/sleep {n}$"
    v = assert_pass({"root": {"cmdline": sel, "dir": root, "pivoted": True}})
    assert v.evidence["dir"] == root and v.evidence["mounts"] == 2      # "/" and /proc
    assert_pass({"root": {"cmdline": sel, "pivoted": True}})

    assert_fail({"root": {"cmdline": sel, "dir": "/srv", "pivoted": True}},
                f"pivot_root was done into {root}, expected /srv")
    assert_fail({"root": {"cmdline": sel, "dir": root}}, "is /, expected", "this step asks for a chroot")


def test_pivot_root_with_the_old_root_still_attached(minimal_root, spawn, uid):
    n = number(uid, 3005)
    spawn(pivot(minimal_root, n, detach=False))
    wait_proc(f"^/bin/sleep {n}$")
    assert_fail({"root": {"cmdline": f"^/bin/sleep {n}$", "dir": minimal_root, "pivoted": True}},
                "the old root is still attached at /old", "umount -l /old")


def test_chroot_is_not_a_pivot(minimal_root, spawn, uid):
    root = minimal_root
    n, m = number(uid, 4005), number(uid, 5005)
    spawn(f"chroot {root} /bin/sleep {n}")
    spawn(f"unshare --mount chroot {root} /bin/sleep {m}")
    wait_proc(f"^/bin/sleep {n}$")
    pid, = wait_proc(f"^/bin/sleep {m}$")
    assert os.readlink(f"/proc/{pid}/root") == root
    assert_fail({"root": {"cmdline": f"^/bin/sleep {n}$", "pivoted": True}},
                "is in the host's mount namespace", "needs one of its own", "pivot_root . old")
    assert_fail({"root": {"cmdline": f"^/bin/sleep {m}$", "dir": root, "pivoted": True}},
                f"the host sees its root as {root}", "that is a chroot", "pivot_root . old")
    # and a mount namespace that has not moved its root at all
    k = number(uid, 6005)
    spawn(f"unshare --mount sleep {k}")
    wait_proc(f"^sleep {k}$")
    assert_fail({"root": {"cmdline": f"^sleep {k}$", "pivoted": True}},
                "that is the host's root", "has not done pivot_root")
