"""process, pid1, hostname, mount, shm and uid_map on the real kernel (lessons 2 and 4-8).

Each test builds the lesson's state with unshare/nsenter, grades the kind against a real
snapshot, and checks that wrong variants fail with a message that says what was seen and what
to run. Processes are started with the `spawn` fixture (killed at teardown).
"""
from __future__ import annotations

import os
import shutil

import pytest

from conftest import sh, wait_until
from kinds_process_support import (assert_fail, assert_pass, host_inode, ns_inode, number, pids_matching,
                                   wait_proc)

pytestmark = pytest.mark.needs_root


# --------------------------------------------------------------- lesson 2: process
def test_process_own_and_host_namespaces(spawn, uid):
    n = number(uid, 1001)
    spawn(f"unshare --uts --ipc sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"
    v = assert_pass({"process": {"cmdline": sel, "own": ["uts", "ipc"],
                                 "host": ["mnt", "net", "pid", "user", "cgroup", "time"]}})
    assert v.evidence["pid"] == pid and v.evidence["ns"]["uts"] == ns_inode(pid, "uts") != host_inode("uts")

    net = host_inode("net")
    assert_fail({"process": {"cmdline": sel, "own": ["net"]}},
                f"shares the host's net namespace ({net})", f"kill {pid}", f"unshare --net sleep {n}")
    assert_fail({"process": {"cmdline": sel, "host": ["uts"]}},
                f"has its own uts namespace ({ns_inode(pid, 'uts')}); the host's is {host_inode('uts')}",
                "without unshare's --uts")


def test_process_first_tells_new_namespaces_from_joined_ones(spawn, uid):
    """The processes lesson's own-ns (own + first): sleep 1001 made by unshare passes, also once a
    younger sleep has joined it (the lesson's next step); a sleep that nsenter put into another
    process's uts and ipc is not the host's either, but fails, naming the older member."""
    import time
    n, m = number(uid, 1001), number(uid, 2001)
    spawn(f"unshare --uts --ipc sleep {n}")
    holder, = wait_proc(f"^sleep {n}$")
    time.sleep(0.05)                            # start times count in clock ticks (10 ms)
    spawn(f"nsenter --target {holder} --uts --ipc sleep {m}")
    joiner, = wait_proc(f"^sleep {m}$")
    assert ns_inode(joiner, "uts") == ns_inode(holder, "uts") != host_inode("uts")
    v = assert_pass({"process": {"cmdline": f"^sleep {n}$", "own": ["uts", "ipc"], "first": True}})
    assert v.evidence["pid"] == holder
    assert_pass({"process": {"cmdline": f"^sleep {m}$", "own": ["uts", "ipc"]}})      # not the host's...
    assert_fail({"process": {"cmdline": f"^sleep {m}$", "own": ["uts", "ipc"], "first": True}},  # ...but not new
                f"'sleep {m}' (pid {joiner}) joined the uts namespace ({ns_inode(holder, 'uts')}) that "
                f"'sleep {n}' (pid {holder}) was in before it", f"the ipc namespace ({ns_inode(holder, 'ipc')})",
                f"kill {joiner}", f"start it again with: unshare --uts --ipc sleep {m}")


def test_process_shared_with_and_private_from(spawn, uid):
    n, m = number(uid, 1001), number(uid, 2001)
    spawn(f"unshare --uts --ipc sleep {n}")
    holder, = wait_proc(f"^sleep {n}$")
    spawn(f"nsenter --uts=/proc/{holder}/ns/uts sleep {m}")
    joiner, = wait_proc(f"^sleep {m}$")
    other = {"cmdline": f"^sleep {n}$"}
    v = assert_pass({"process": {"cmdline": f"^sleep {m}$", "shared_with": {"process": other, "types": ["uts"]},
                                 "private_from": {"process": other, "types": ["ipc"]}}})
    assert v.evidence["shared_with"] == {"pid": holder, "ns": {"uts": ns_inode(holder, "uts")}}

    # joined only uts: the ipc namespace is the host's, not the holder's
    assert_fail({"process": {"cmdline": f"^sleep {m}$", "shared_with": {"process": other, "types": ["ipc"]}}},
                f"is still in the host's ipc namespace ({host_inode('ipc')}); 'sleep {n}' (pid {holder})'s is "
                f"{ns_inode(holder, 'ipc')}",
                f"nsenter --ipc=/proc/{holder}/ns/ipc sleep {m}")
    assert_fail({"process": {"cmdline": f"^sleep {m}$", "private_from": {"process": other, "types": ["uts"]}}},
                f"shares its uts namespace ({ns_inode(holder, 'uts')}) with 'sleep {n}' (pid {holder})",
                f"unshare --uts sleep {m}")
    # the other process is missing: say which selector found nothing
    assert_fail({"process": {"cmdline": f"^sleep {m}$",
                             "shared_with": {"process": f"^sleep {n}9$", "types": ["uts"]}}},
                f"no process runs `sleep {n}9`", f"`sleep {n}9` is not running", f"pgrep -a -f '^sleep {n}9$'")


def test_process_selector_none_or_several(spawn, uid):
    n = number(uid, 1001)
    assert_fail({"process": {"cmdline": f"^sleep {n}$"}},
                f"no process runs `sleep {n}`", f"pgrep -a -f '^sleep {n}$'")
    spawn(f"sleep {n}")
    spawn(f"sleep {n}")
    a, b = wait_proc(f"^sleep {n}$", count=2)
    assert_fail({"process": {"cmdline": f"^sleep {n}$"}}, "2 processes match", f"(pid {a})", f"(pid {b})",
                f"kill {a}")


# --------------------------------------------------------------- lesson 5: pid1
def test_pid1(spawn, uid):
    n = number(uid, 1004)
    spawn(f"unshare --pid --fork --mount-proc sleep {n}")
    pid = wait_proc(f"^sleep {n}$")[0]
    v = assert_pass({"pid1": f"^sleep {n}$"})
    assert v.evidence["nspid"] == [pid, 1] and v.evidence["pid"] == pid
    assert f"NSpid: {pid} 1" in v.observed

    # without --fork, sleep itself stays in the host's pid namespace
    m = number(uid, 2004)
    spawn(f"unshare --pid sleep {m}")
    other, = wait_proc(f"^sleep {m}$")
    assert_fail({"pid1": f"^sleep {m}$"}, f"NSpid: {other})", "host's pid namespace",
                f"unshare --pid --fork --mount-proc sleep {m}")

    # a shell in between is PID 1, sleep is pid 2
    k = number(uid, 3004)
    spawn(f"unshare --pid --fork sh -c 'sleep {k}; true'")
    third, = wait_proc(f"^sleep {k}$")
    shell = [p for p in pids_matching(f"^sh -c sleep {k}; true$") if p != third][-1]
    assert_fail({"pid1": f"^sleep {k}$"}, f"NSpid: {third} 2", "not 1",
                f"PID 1 there is 'sh -c sleep {k}; true' (pid {shell})")


# --------------------------------------------------------------- lesson 4: hostname
def test_hostname(spawn, uid):
    n = number(uid, 1003)
    box = f"lab-{uid}"
    spawn(f"unshare --uts sh -c 'hostname {box} && exec sleep {n}'")
    pid, = wait_proc(f"^sleep {n}$")
    v = assert_pass({"hostname": {"cmdline": f"^sleep {n}$", "hostname": box, "host_unchanged": True}})
    assert v.evidence["hostname"] == box and v.evidence["uts"] == ns_inode(pid, "uts")
    assert v.evidence["host_hostname"] == os.uname().nodename != box

    assert_fail({"hostname": {"cmdline": f"^sleep {n}$", "hostname": "lab-box"}},
                f"hostname {box!r}", "expected 'lab-box'", f"nsenter --target {pid} --uts hostname lab-box")
    m = number(uid, 2003)
    spawn(f"sleep {m}")
    plain, = wait_proc(f"^sleep {m}$")
    assert_fail({"hostname": {"cmdline": f"^sleep {m}$", "hostname": box}},
                f"the host's uts namespace ({host_inode('uts')})", f"hostname {os.uname().nodename!r}",
                f"unshare --uts sleep {m}")


# --------------------------------------------------------------- lesson 6: mount
@pytest.fixture
def mountpoints(uid):
    """Directories /tmp/<uid>-*, unmounted (on the host) and removed at teardown."""
    made: list[str] = []

    def make(suffix: str) -> str:
        path = f"/tmp/{uid}-{suffix}"
        os.makedirs(path)
        made.append(path)
        return path

    yield make
    for path in made:
        sh(f"umount {path}", check=False)
        os.rmdir(path)


def test_mount(spawn, uid, mountpoints):
    n = number(uid, 1006)
    target = mountpoints("priv")
    spawn(f"unshare --mount sh -c 'mount -t tmpfs nstutor-{uid} {target} && exec sleep {n}'")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"
    v = assert_pass({"mount": {"cmdline": sel, "target": target, "fstype": "tmpfs", "absent_from_host": True}})
    assert v.evidence["source"] == f"nstutor-{uid}" and v.evidence["mnt"] == ns_inode(pid, "mnt")

    assert_fail({"mount": {"cmdline": sel, "target": target, "fstype": "proc"}},
                f"tmpfs from nstutor-{uid}", "not proc", f"nsenter --target {pid} --mount")
    assert_fail({"mount": {"cmdline": sel, "target": target + "-other"}},
                f"nothing is mounted at {target}-other", f"nsenter --target {pid} --mount mount -t tmpfs")
    # a process in the host's mount namespace cannot keep a mount private
    m = number(uid, 2006)
    spawn(f"sleep {m}")
    wait_proc(f"^sleep {m}$")
    assert_fail({"mount": {"cmdline": f"^sleep {m}$", "target": target, "absent_from_host": True}},
                f"the host's mount namespace ({host_inode('mnt')})", f"unshare --mount sleep {m}")


def test_mount_that_leaked_to_the_host(spawn, uid, mountpoints):
    target = mountpoints("leak")
    sh(f"mount -t tmpfs nstutor-{uid} {target}")     # made on the host first, then copied by unshare
    n = number(uid, 1006)
    spawn(f"unshare --mount sleep {n}")
    wait_proc(f"^sleep {n}$")
    assert_fail({"mount": {"cmdline": f"^sleep {n}$", "target": target, "absent_from_host": True}},
                f"the host has tmpfs from nstutor-{uid} at {target} too", f"umount {target}")
    assert_pass({"mount": {"cmdline": f"^sleep {n}$", "target": target, "fstype": "tmpfs"}})


# --------------------------------------------------------------- lesson 7: shm
@pytest.fixture
def host_segments():
    """shmids made in the host's ipc namespace, removed at teardown."""
    made: list[str] = []
    yield made
    for shmid in made:
        sh(f"ipcrm -m {shmid}", check=False)


def test_shm(spawn, uid, host_segments):
    n = number(uid, 1007)
    size = 40960 + int(uid[2:], 16)          # a size no other segment on the host has
    spawn(f"unshare --ipc sh -c 'ipcmk -M {size} >/dev/null && exec sleep {n}'")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"
    v = assert_pass({"shm": {"cmdline": sel, "size": size, "absent_from_host": True}})
    assert v.evidence["size"] == size and v.evidence["ipc"] == ns_inode(pid, "ipc")

    assert_fail({"shm": {"cmdline": sel, "size": 4096}}, f"{size} bytes", "none of 4096 bytes",
                f"nsenter --target {pid} --ipc ipcmk -M 4096")
    m = number(uid, 2007)
    spawn(f"sleep {m}")
    wait_proc(f"^sleep {m}$")
    assert_fail({"shm": {"cmdline": f"^sleep {m}$", "size": size, "absent_from_host": True}},
                f"the host's ipc namespace ({host_inode('ipc')})", f"unshare --ipc sleep {m}")
    # the same segment made on the host as well (ipcmk without nsenter)
    out = sh(f"ipcmk -M {size}").stdout
    shmid = out.split(":")[-1].strip()
    host_segments.append(shmid)
    assert_fail({"shm": {"cmdline": sel, "size": size, "absent_from_host": True}}, f"ipcrm -m {shmid}")


# --------------------------------------------------------------- lesson 8: uid_map
def test_uid_map(spawn, uid):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to start a process as an unprivileged user")
    n = number(uid, 1008)
    nobody = 65534
    spawn(f"setpriv --reuid={nobody} --regid={nobody} --clear-groups unshare --user --map-root-user sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"
    v = assert_pass({"uid_map": {"cmdline": sel, "outside": "owner"}})
    assert v.evidence["outside"] == nobody and v.evidence["uid_map"] == [[0, nobody, 1]]
    assert_pass({"uid_map": {"cmdline": sel, "inside": 0, "outside": nobody}})
    assert_pass({"uid_map": {"cmdline": sel, "outside": "non-root"}})
    assert_fail({"uid_map": {"cmdline": sel, "outside": 1000}}, f"maps to uid {nobody}, expected uid 1000")

    # made by root: root inside is root outside
    m = number(uid, 2008)
    spawn(f"unshare --user --map-root-user sleep {m}")
    wait_proc(f"^sleep {m}$")
    assert_fail({"uid_map": {"cmdline": f"^sleep {m}$", "outside": "non-root"}},
                "uid_map: 0 0 1", "is root (uid 0) outside too", "not with sudo")
    # no map written yet
    k = number(uid, 3008)
    spawn(f"unshare --user sleep {k}")
    third, = wait_proc(f"^sleep {k}$")
    assert_fail({"uid_map": {"cmdline": f"^sleep {k}$", "outside": "owner"}}, "uid_map: empty",
                f"/proc/{third}/uid_map")
    # no user namespace at all
    j = number(uid, 4008)
    spawn(f"sleep {j}")
    wait_proc(f"^sleep {j}$")
    assert_fail({"uid_map": {"cmdline": f"^sleep {j}$", "outside": "owner"}},
                f"the host's user namespace ({host_inode('user')})", f"unshare --user --map-root-user sleep {j}")


def test_a_typo_in_the_command_gets_a_did_you_mean(spawn, uid):
    n = number(uid, 1001)
    spawn(f"sleep {n}9")                        # one digit too many
    wait_proc(f"^sleep {n}9$")
    assert_fail({"process": {"cmdline": f"^sleep {n}$"}}, f"Did you mean 'sleep {n}9'?")


# --------------------------------------------------------------- docker lesson: what runc locks down, by hand
def test_capabilities_of_a_process_started_with_fewer(spawn, uid):
    """setpriv drops capabilities from the bounding set before exec, so root's sleep starts without
    them: has/lacks read its CapEff, the failure lists what it holds and names the fix."""
    n, m = number(uid, 1013), number(uid, 2013)
    spawn(f"setpriv --bounding-set -net_admin,-sys_admin sleep {n}")
    spawn(f"sleep {m}")
    pid, = wait_proc(f"^sleep {n}$")
    with open(f"/proc/{pid}/status") as f:
        eff = int(next(ln for ln in f if ln.startswith("CapEff:")).split()[1], 16)
    assert not eff >> 12 & 1 and not eff >> 21 & 1 and eff & 1, hex(eff)
    v = assert_pass({"capabilities": {"cmdline": f"^sleep {n}$", "has": ["chown", "CAP_KILL"],
                                      "lacks": ["net_admin", "sys_admin"]}})
    assert v.evidence["effective"] == f"{eff:016x}"
    assert_fail({"capabilities": {"cmdline": f"^sleep {n}$", "has": ["net_admin"]}},
                f"(CapEff {eff:016x})", "does not hold net_admin", "not even in its bounding set")
    assert_fail({"capabilities": {"cmdline": f"^sleep {m}$", "lacks": ["sys_admin"]}},
                "holds sys_admin, which the step says it must not",
                f"setpriv --bounding-set -sys_admin sleep {m}")


def test_mount_read_only_and_source_path(spawn, uid, mountpoints):
    """A file bind-mounted read-only over another, the way an engine puts /etc/hosts into a
    container (and masks /proc/keys with /dev/null): source_path matches the path the mount shows
    inside its filesystem, read_only its ro option; the wrong ones fail naming both."""
    target = mountpoints("bind")
    src = f"{target}-src"
    os.makedirs(src)
    try:
        with open(f"{src}/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n")
        n = number(uid, 1006)
        spawn(f"unshare --mount sh -c 'mount --bind {src} {target} && mount -o remount,bind,ro {target} "
              f"&& exec sleep {n}'")
        pid, = wait_proc(f"^sleep {n}$")
        sel = f"^sleep {n}$"
        wait_until(lambda: f" {target} " in open(f"/proc/{pid}/mountinfo").read(), what="the bind mount")
        v = assert_pass({"mount": {"cmdline": sel, "target": target, "read_only": True,
                                   "source_path": f"{os.path.basename(target)}-src$"}})
        assert v.evidence["root"].endswith(f"{os.path.basename(target)}-src") and "ro" in v.evidence["options"]
        assert_fail({"mount": {"cmdline": sel, "target": target, "read_only": False}},
                    "read-only", f"mount -o remount,bind,rw {target}")
        assert_fail({"mount": {"cmdline": sel, "target": target, "source_path": "^/null$"}},
                    f"-src of it", "not a path matching '^/null$'", f"nsenter --target {pid} --mount mount --bind")
    finally:
        sh(f"rm -rf {src}", check=False)
