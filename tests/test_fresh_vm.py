"""A fresh lab VM: no /run/netns mount yet (before the first `ip netns add`) and no progress yet.

verify-lesson, `nstutor check`, `nstutor snapshot` and the app's first start, each in that state
(see tests/fresh_vm.py for how it is made, under the shared lesson lock).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import sh
from demo_lesson import make_lesson
from fresh_vm import RUN_NETNS, is_mount_point, lesson_lock, unmount_empty_run_netns
from tutor.verify import verify_lesson

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_run_netns():
    """This VM as before its first `ip netns add`: no /run/netns mount (iproute2 makes it again on
    the next `ip netns add`, so nothing needs restoring). Holds the lesson lock for the test."""
    with lesson_lock():
        state = unmount_empty_run_netns()
        assert not is_mount_point(RUN_NETNS), state
        yield state


@pytest.fixture
def fresh_data(tmp_path):
    """A first start: XDG_DATA_HOME and NSTUTOR_DATA_DIR point at an empty directory (no store, no name)."""
    data = tmp_path / "fresh-data"
    data.mkdir()
    env = dict(os.environ, XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(tmp_path / "fresh-config"),
               NSTUTOR_DATA_DIR=str(data / "nstutor"))
    return env


def nstutor(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------- verify-lesson
def test_verify_welcome_passes_on_a_vm_before_its_first_ip_netns_add(fresh_run_netns, fresh_data):
    """The lesson's `ip netns add hello` makes iproute2 mount /run/netns on itself: iproute2's mount,
    not a leftover of the lesson."""
    if Path("/run/netns/hello").exists():
        pytest.skip("a netns 'hello' exists on this machine; not touching a learner's lab")
    res = nstutor("verify-lesson", "welcome", env=fresh_data)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "PASS welcome" in out and "leaves the machine as it found it" in out, out
    assert "/run/netns" not in out.replace("/run/netns/hello", ""), out


def stray_mount_lesson(tmp_path: Path, uid: str, solution: str) -> object:
    return make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}a]", solution=solution, lesson_id="stray")


def test_a_tmpfs_the_lesson_left_mounted_is_still_reported_on_a_fresh_vm(fresh_run_netns, tmp_path, uid):
    target = f"/mnt/nstutor-{uid}"
    lesson = stray_mount_lesson(tmp_path, uid, f"ip netns add {uid}a && mkdir -p {target} && "
                                               f"mount -t tmpfs nstutor-{uid} {target}")
    try:
        report = verify_lesson(lesson, echo=lambda *_: None)
        assert any(f.startswith("cleanup left host mounts behind:") and f"{target} (tmpfs)" in f
                   for f in report.failures), report.failures
        assert not any(RUN_NETNS + " " in f or f.endswith(RUN_NETNS) for f in report.failures), report.failures
    finally:
        sh(f"umount {target}", check=False)
        sh(f"rmdir {target}", check=False)
        sh(f"ip netns del {uid}a", check=False)


def test_a_netns_file_left_mounted_outside_run_netns_is_reported(fresh_run_netns, tmp_path, uid):
    """`ip netns del` took the name away, but a bind mount of the netns elsewhere keeps it alive."""
    keeper = f"/tmp/nstutor-{uid}-net"
    lesson = stray_mount_lesson(tmp_path, uid, f"ip netns add {uid}a && touch {keeper} && "
                                               f"mount --bind /run/netns/{uid}a {keeper}")
    try:
        report = verify_lesson(lesson, echo=lambda *_: None)
        assert any(f.startswith("cleanup left host mounts behind:") and f"{keeper} (nsfs)" in f
                   for f in report.failures), report.failures
    finally:
        sh(f"umount {keeper}", check=False)
        sh(f"rm -f {keeper}", check=False)
        sh(f"ip netns del {uid}a", check=False)


def test_a_mount_stacked_on_an_existing_mount_point_is_reported(tmp_path, uid):
    """A mount point that existed before is no alibi: a second tmpfs on top of it is new."""
    target = tmp_path / f"nstutor-{uid}"
    target.mkdir()
    sh(f"mount -t tmpfs nstutor-{uid}-a {target}")
    lesson = stray_mount_lesson(tmp_path, uid, f"ip netns add {uid}a && mount -t tmpfs nstutor-{uid}-b {target}")
    try:
        with lesson_lock():
            report = verify_lesson(lesson, echo=lambda *_: None)
        assert any(f.startswith("cleanup left host mounts behind:") and f"{target} (tmpfs)" in f
                   for f in report.failures), report.failures
    finally:
        sh(f"umount {target}; umount {target}", check=False)
        sh(f"ip netns del {uid}a", check=False)


# --------------------------------------------------------------- which mounts a lesson could leave behind
ROOT = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw"
RUN_TMPFS = "30 27 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=815388k,mode=755"


def mounts(*lines: str, netns=()) -> set[str]:
    from tutor.verify import host_mounts
    return {str(m) for m in host_mounts("\n".join(lines), set(netns))}


def test_iproute2s_self_bind_of_run_netns_is_not_a_leftover():
    on_root = "45 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw"
    on_run_tmpfs = "46 30 0:25 /netns /run/netns rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=815388k,mode=755"
    stacked = "47 46 0:25 /netns /run/netns rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=815388k,mode=755"
    netns_file = "48 47 0:4 net:[4026532178] /run/netns/hello rw shared:6 - nsfs nsfs rw"
    assert mounts(ROOT, on_root) == {"/ (ext4)"}
    assert mounts(ROOT, RUN_TMPFS, on_run_tmpfs, stacked, netns_file, netns=["hello"]) == {"/ (ext4)", "/run (tmpfs)"}


def test_other_mounts_on_or_in_run_netns_are_leftovers():
    tmpfs_on_run_netns = "46 27 0:60 / /run/netns rw - tmpfs stray rw"
    other_dir_bound_there = "46 27 254:0 /srv/x /run/netns rw shared:1 - ext4 /dev/vda rw"
    name_gone = "48 27 0:4 net:[4026532178] /run/netns/hello rw - nsfs nsfs rw"
    elsewhere = "49 27 0:4 net:[4026532178] /tmp/keep rw - nsfs nsfs rw"
    assert mounts(ROOT, tmpfs_on_run_netns) == {"/ (ext4)", "/run/netns (tmpfs)"}
    assert mounts(ROOT, other_dir_bound_there) == {"/ (ext4)", "/run/netns (ext4)"}
    # a netns file whose name is not listed (hidden under another mount, or its file gone) is no netns of ours
    assert mounts(ROOT, name_gone) == {"/ (ext4)", "/run/netns/hello (nsfs)"}
    assert mounts(ROOT, elsewhere, netns=["hello"]) == {"/ (ext4)", "/tmp/keep (nsfs)"}
    assert mounts(ROOT, r"50 27 0:61 / /mnt/with\040space rw - tmpfs x rw") == {"/ (ext4)", "/mnt/with space (tmpfs)"}


# --------------------------------------------------------------- nstutor check and snapshot on a fresh VM
def test_check_welcome_on_a_fresh_vm_names_the_first_command(fresh_run_netns, fresh_data):
    res = nstutor("check", "welcome", env=fresh_data)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr == "", res.stderr
    assert "there is no network namespace hello: ip netns add hello" in res.stdout, res.stdout
    assert "0/2 steps pass" in res.stdout, res.stdout
    # the learner's first check made the store, in the fresh data dir
    assert Path(fresh_data["NSTUTOR_DATA_DIR"], "progress.sqlite3").exists()
    assert not is_mount_point(RUN_NETNS), "observing made iproute2's mount (or anything else)"


def test_snapshot_on_a_fresh_vm_says_there_is_no_named_netns_yet(fresh_run_netns, fresh_data):
    res = nstutor("snapshot", env=fresh_data)
    assert res.returncode == 0 and res.stderr == "", res.stdout + res.stderr
    out = res.stdout
    assert "PROBLEMS: none" in out, out
    assert "(no named network namespace yet: `ip netns add NAME` makes one)" in out, out
    assert "NETWORK NAMESPACE host" in out, out
    assert not os.path.exists(RUN_NETNS) or os.listdir(RUN_NETNS) == [] or "NETWORK NAMESPACE" in out
    assert not is_mount_point(RUN_NETNS)
    js = nstutor("snapshot", "--json", env=fresh_data)
    assert js.returncode == 0 and '"problems": []' in js.stdout, js.stdout[-2000:]


def test_snapshot_header_counts_one_network_namespace_in_the_singular():
    from test_app_scenes import empty, welcome_done
    from tutor.observe.render import render_text
    host_only = render_text(empty())
    assert host_only.splitlines()[0].endswith(" 3 processes, 1 network namespace"), host_only.splitlines()[0]
    assert "(no named network namespace yet: `ip netns add NAME` makes one)" in host_only
    with_hello = render_text(welcome_done())
    assert with_hello.splitlines()[0].endswith(", 2 network namespaces"), with_hello.splitlines()[0]
    assert "no named network namespace yet" not in with_hello


def test_check_and_snapshot_where_run_netns_does_not_exist_yet(fresh_data):
    """On a real fresh VM /run is a tmpfs and /run/netns does not exist until the first `ip netns
    add`. Recreated in a private mount namespace with an empty tmpfs on /run (nothing on the host
    changes, and its netns named hello is gone with that mount namespace)."""
    py = sys.executable
    script = textwrap.dedent(f"""\
        set -e
        mount -t tmpfs nstutor-fresh-run /run
        test ! -e /run/netns
        echo "== snapshot"; {py} -m tutor.cli snapshot || echo "rc=$?"
        echo "== check"; {py} -m tutor.cli check welcome --step made || echo "rc=$?"
        test ! -e /run/netns
        ip netns add hello
        echo "== check after"; {py} -m tutor.cli check welcome --step made || echo "rc=$?"
        """)
    res = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], cwd=REPO,
                         env=fresh_data, capture_output=True, text=True, timeout=120)
    out = res.stdout
    assert res.returncode == 0 and res.stderr == "", out + res.stderr
    snapshot, check, after = out.split("== snapshot")[1].split("== check\n")[0], \
        out.split("== check\n")[1].split("== check after")[0], out.split("== check after")[1]
    assert "PROBLEMS: none" in snapshot and "no named network namespace yet" in snapshot, snapshot
    assert "there is no network namespace hello: ip netns add hello" in check and "rc=1" in check, check
    assert "PASS  made" in after and "rc=" not in after, after
