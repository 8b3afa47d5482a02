"""nsfacts on the real kernel: hostnames, mounts, SysV shm and id maps per namespace.

The `procs` mapping is built here from /proc/PID/ns/* of the processes each test
spawns (plus this test process, which stands for the host), so these tests do not
depend on processes.py.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import wait_until
from tutor.observe import nsfacts
from tutor.observe.model import NS_TYPES, IdMap, Process, frozen_map

pytestmark = pytest.mark.needs_root

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------- helpers
def ns_inodes(pid: int) -> dict[str, int]:
    out = {}
    for nstype in NS_TYPES:
        try:
            out[nstype] = os.stat(f"/proc/{pid}/ns/{nstype}").st_ino
        except OSError:
            pass
    return out


def process(pid: int, ns: dict[str, int]) -> Process:
    return Process(pid=pid, ppid=0, comm="", cmdline=(), state="S", uid=0, ns=frozen_map(ns))


def procs_for(*pids: int) -> dict[int, Process]:
    """What processes.py would report for these pids (always including ourselves: the host)."""
    return {pid: process(pid, ns_inodes(pid)) for pid in sorted({os.getpid(), *pids})}


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def running_sleep(proc: subprocess.Popen, what: str) -> int:
    """Wait until the spawned shell has done its setup and exec'ed sleep; fail if it died."""
    wait_until(lambda: proc.poll() is not None or comm(proc.pid) == "sleep", what=what)
    assert proc.poll() is None, f"{what}: the setup command failed (exit {proc.returncode})"
    return proc.pid


def thread_ns(nstype: str) -> int:
    return os.stat(f"/proc/thread-self/ns/{nstype}").st_ino


# --------------------------------------------------------------- hostnames
def test_hostname_inside_own_uts_namespace_and_host_unchanged(spawn, uid):
    host_name = os.uname().nodename
    home = thread_ns("uts")
    pid = running_sleep(spawn(f"unshare --uts sh -c 'hostname {uid}; exec sleep 1001'"), "uts ns with hostname")
    procs = procs_for(pid)
    problems: list[str] = []

    names = nsfacts.read_hostnames(procs, problems)

    assert problems == []
    assert names[procs[pid].ns["uts"]] == uid
    assert names[home] == host_name != uid
    assert os.uname().nodename == host_name and thread_ns("uts") == home  # we never moved


def test_hostname_skips_a_pid_that_exited_and_one_that_now_stands_for_another_ns(spawn, uid):
    dead = spawn("true")
    dead.wait()
    elsewhere = spawn("sleep 1001")  # in the host's uts ns
    pid = running_sleep(spawn(f"unshare --uts sh -c 'hostname {uid}; exec sleep 1001'"), "uts ns")
    inode = ns_inodes(pid)["uts"]
    procs = procs_for(pid)
    # More pids said to be in that namespace: one that exited, and one that is really in the
    # host's uts ns, as after a pid reuse. Both must be passed over, never reported as its hostname.
    procs[dead.pid] = process(dead.pid, {"uts": inode})
    procs[elsewhere.pid] = process(elsewhere.pid, {"uts": inode})
    problems: list[str] = []

    names = nsfacts.read_hostnames(procs, problems)

    assert names[inode] == uid
    assert problems == []


def test_mounts_and_id_maps_skip_a_pid_now_in_another_ns(spawn):
    elsewhere = spawn("sleep 1001")  # in the host's namespaces
    pid = running_sleep(spawn("unshare --mount --user sleep 1001"), "mnt + user ns")
    procs = procs_for(pid)
    fake = dict(procs[pid].ns)
    procs[elsewhere.pid] = process(elsewhere.pid, fake)  # as if its pid had been reused
    problems: list[str] = []

    mounts = nsfacts.read_mounts(procs, problems)
    userns = nsfacts.read_userns(procs, problems)

    assert problems == []
    assert len(mounts[fake["mnt"]]) == len(nsfacts.parse_mountinfo(Path(f"/proc/{pid}/mountinfo").read_text()))
    assert userns[fake["user"]].uid_map == ()  # nothing mapped yet: not the host's 0 0 4294967295


# --------------------------------------------------------------- mounts
def test_tmpfs_in_private_mount_ns_is_seen_there_not_on_host(spawn, uid, tmp_path):
    target = tmp_path / f"{uid} dir"  # a space: mountinfo writes it as \040
    target.mkdir()
    script = f"mount -t tmpfs -o size=1m {uid} {shlex.quote(str(target))} && exec sleep 1002"
    pid = running_sleep(spawn(f"unshare --mount --propagation private sh -c {shlex.quote(script)}"),
                        "private mount ns with a tmpfs")
    procs = procs_for(pid)
    problems: list[str] = []

    mounts = nsfacts.read_mounts(procs, problems)

    assert problems == []
    inside = [m for m in mounts[procs[pid].ns["mnt"]] if m.target == str(target)]
    assert len(inside) == 1, f"tmpfs on {target} not found in the new mount ns"
    assert (inside[0].fstype, inside[0].source) == ("tmpfs", uid)
    assert "size=1024k" in inside[0].options and inside[0].options.startswith("rw")
    host = mounts[thread_ns("mnt")]
    assert any(m.target == "/" for m in host)
    assert not any(m.target == str(target) for m in host)


# --------------------------------------------------------------- shared memory
def test_shm_segment_in_new_ipc_ns_only(spawn):
    home = thread_ns("ipc")
    pid = running_sleep(spawn("unshare --ipc sh -c 'ipcmk -M 4096 && exec sleep 1007'"), "ipc ns with shm")
    procs = procs_for(pid)
    problems: list[str] = []

    shm = nsfacts.read_shm(procs, problems)

    assert problems == []
    segments = shm[procs[pid].ns["ipc"]]
    assert [s.size for s in segments] == [4096]
    assert 0 <= segments[0].key <= 0xFFFFFFFF and segments[0].uid == 0
    host_segments = {(s.key, s.shmid) for s in shm[home]}
    assert (segments[0].key, segments[0].shmid) not in host_segments
    assert thread_ns("ipc") == home


# --------------------------------------------------------------- user namespaces
def test_map_root_user_uid_map(spawn):
    pid = running_sleep(spawn("setpriv --reuid=65534 --regid=65534 --clear-groups "
                              "unshare --user --map-root-user sleep 1008"), "user ns of nobody")
    procs = procs_for(pid)
    problems: list[str] = []

    userns = nsfacts.read_userns(procs, problems)

    assert problems == []
    info = userns[procs[pid].ns["user"]]
    assert info.uid_map == (IdMap(inside=0, outside=65534, count=1),)
    assert info.gid_map == (IdMap(inside=0, outside=65534, count=1),)
    assert userns[thread_ns("user")].uid_map == (IdMap(0, 0, 4294967295),)


# --------------------------------------------------------------- robustness
def test_namespace_whose_processes_all_exited_is_a_problem_not_a_crash(spawn, uid):
    proc = spawn("unshare --uts --ipc --mount --user sleep 1009")
    pid = running_sleep(proc, "namespaces to lose")
    procs = procs_for(pid)
    proc.kill()
    proc.wait()
    problems: list[str] = []

    assert procs[pid].ns["uts"] not in nsfacts.read_hostnames(procs, problems)
    assert procs[pid].ns["ipc"] not in nsfacts.read_shm(procs, problems)
    assert procs[pid].ns["mnt"] not in nsfacts.read_mounts(procs, problems)
    assert procs[pid].ns["user"] not in nsfacts.read_userns(procs, problems)

    assert len(problems) == 4, problems
    for nstype, line in zip(("uts", "ipc", "mnt", "user"), problems):
        assert str(procs[pid].ns[nstype]) in line and "exited" in line, line
    # the host's own namespaces were still read
    assert nsfacts.read_hostnames(procs, [])[thread_ns("uts")] == os.uname().nodename


def test_processes_exiting_while_we_read(spawn, uid):
    """Kill the namespaces' processes one by one while reading in a loop: never an exception,
    never a wrong answer; each namespace is either read correctly or named in problems."""
    spawned = []
    for i in range(12):
        proc = spawn(f"unshare --uts --ipc --mount sh -c 'hostname {uid}-{i}; exec sleep 1010'")
        spawned.append((proc, f"{uid}-{i}"))
    for proc, _ in spawned:
        running_sleep(proc, "uts namespaces")
    procs = procs_for(*(p.pid for p, _ in spawned))
    expected = {procs[p.pid].ns["uts"]: name for p, name in spawned}

    def killer():
        for proc, _ in spawned:
            proc.kill()
            proc.wait()

    thread = threading.Thread(target=killer)
    rounds = 0
    thread.start()
    try:
        while thread.is_alive() or rounds < 2:
            problems: list[str] = []
            names = nsfacts.read_hostnames(procs, problems)
            nsfacts.read_shm(procs, problems)
            nsfacts.read_mounts(procs, problems)
            nsfacts.read_userns(procs, problems)
            for inode, name in expected.items():
                assert names.get(inode, name) == name
                assert inode in names or any(str(inode) in line for line in problems)
            rounds += 1
    finally:
        thread.join()
    problems = []
    assert not set(nsfacts.read_hostnames(procs, problems)) & set(expected), "all of them exited"
    assert len(problems) == len(expected)


def test_without_root_permission_denied_is_reported(spawn, uid):
    """As nobody, other users' namespaces cannot be entered: plain words, no traceback."""
    pid = running_sleep(spawn(f"unshare --uts --mount sh -c 'hostname {uid}; exec sleep 1011'"), "root's uts ns")
    table = {str(p): ns for p, ns in ((p, ns_inodes(p)) for p in (pid,))}
    code = (
        "import json, os, sys\n"
        "from tutor.observe import nsfacts\n"
        "from tutor.observe.model import Process, frozen_map\n"
        "table = json.loads(sys.argv[1])\n"
        "procs = {int(p): Process(int(p), 0, '', (), 'S', 0, frozen_map(ns)) for p, ns in table.items()}\n"
        "me = os.getpid()\n"
        "procs[me] = Process(me, 0, '', (), 'S', 65534, frozen_map(\n"
        "    {t: os.stat(f'/proc/self/ns/{t}').st_ino for t in ('uts', 'mnt')}))\n"
        "problems = []\n"
        "names = nsfacts.read_hostnames(procs, problems)\n"
        "mounts = nsfacts.read_mounts(procs, problems)\n"
        "print(json.dumps({'names': names, 'mounts': len(mounts), 'problems': problems}))\n"
    )
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-c", code, json.dumps(table)],
                         cwd=REPO, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    out = json.loads(res.stdout)
    assert out["names"] == {str(thread_ns("uts")): os.uname().nodename}  # its own ns: read without setns
    inode = ns_inodes(pid)
    assert any(str(inode["uts"]) in p and "permission denied" in p and "run nstutor as root" in p for p in out["problems"])
    assert any(str(inode["mnt"]) in p and "permission denied" in p for p in out["problems"])


# --------------------------------------------------------------- parsers (no kernel needed)
def test_parse_mountinfo_escapes_empty_source_and_garbage():
    text = (
        "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
        "40 36 0:5 / /empty\\011tab rw shared:2 propagation:x - tmpfs  rw,size=64k\n"
        "this line is garbage\n"
    )
    first, second = nsfacts.parse_mountinfo(text)
    assert (first.mount_id, first.parent_id, first.root, first.target) == (36, 35, "/mnt1", "/mnt/with space")
    assert (first.fstype, first.source, first.options) == ("ext3", "/dev/root", "rw,noatime,errors=continue")
    assert (second.target, second.source, second.options) == ("/empty\ttab", "", "rw,size=64k")


def test_parse_sysvipc_shm_by_header_and_unsigned_key():
    text = ("       key      shmid perms                  size  cpid  lpid nattch   uid   gid\n"
            "-1968482752          3   644                  4096  3949     0      0  1000  1000\n")
    (seg,) = nsfacts.parse_sysvipc_shm(text)
    assert (seg.key, seg.shmid, seg.size, seg.cpid, seg.uid) == (0x8aab5640, 3, 4096, 3949, 1000)
    assert nsfacts.parse_sysvipc_shm("") == ()


def test_parse_id_map():
    assert nsfacts.parse_id_map("         0       1000          1\n      1   100000  65536\n") == (
        IdMap(0, 1000, 1), IdMap(1, 100000, 65536))
    assert nsfacts.parse_id_map("") == ()


def test_kept_mount_reader_reads_a_table_again_only_after_it_changed(spawn, uid, tmp_path):
    """MountReader (the Observer's) keeps mountinfo open and re-reads on poll's POLLPRI: a mount and
    an umount inside a private mount ns show in the next read; between them nothing is re-parsed."""
    target = tmp_path / f"{uid}m"
    target.mkdir()
    pid = running_sleep(spawn("unshare --mount --propagation private sleep 1003"), "private mount ns")
    procs = procs_for(pid)
    inode = procs[pid].ns["mnt"]
    reader = nsfacts.MountReader()
    try:
        problems: list[str] = []
        first = reader.read(procs, problems)[inode]
        assert problems == [] and not any(m.target == str(target) for m in first)
        assert reader.read(procs, problems)[inode] is first          # unchanged: the very same tuple
        subprocess.run(["nsenter", "-t", str(pid), "-m", "mount", "-t", "tmpfs", "-o", "size=1m", uid, str(target)],
                       check=True)
        after = reader.read(procs, problems)[inode]
        assert [(m.fstype, m.source) for m in after if m.target == str(target)] == [("tmpfs", uid)]
        subprocess.run(["nsenter", "-t", str(pid), "-m", "umount", str(target)], check=True)
        assert not any(m.target == str(target) for m in reader.read(procs, problems)[inode])
        assert problems == []
    finally:
        reader.close()
    assert reader.read({}, []) == {}
