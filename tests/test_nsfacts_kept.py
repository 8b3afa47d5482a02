"""The live Observer's kept hostname and shm readers (nsfacts.HostnameReader, nsfacts.ShmReader) on
the real kernel: what a short-lived nsenter changes shows in the very next snapshot, a quiet
namespace is not entered again, and a namespace no process is in any more is let go."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from conftest import wait_until
from tutor.observe import Observer

pytestmark = pytest.mark.needs_root


def ns_inode(pid: int, nstype: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{nstype}").st_ino


def started(proc: subprocess.Popen, what: str) -> int:
    """Wait until the spawned setup command has exec'ed sleep; fail if it died."""
    def sleeping():
        try:
            with open(f"/proc/{proc.pid}/comm") as f:
                return proc.poll() is not None or f.read().strip() == "sleep"
        except OSError:
            return proc.poll() is not None
    wait_until(sleeping, what=what)
    assert proc.poll() is None, f"{what}: the setup command failed (exit {proc.returncode})"
    return proc.pid


def nsenter(pid: int, flag: str, *argv: str) -> str:
    return subprocess.run(["nsenter", flag, "-t", str(pid), *argv], check=True, capture_output=True,
                          text=True).stdout


def held(link: str) -> int:
    """How many of our open files read as *link* ('uts:[INODE]', '/proc/sysvipc/shm')."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == link
        except OSError:
            pass
    return count


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=5)


def test_kept_observer_sees_a_hostname_set_by_a_short_lived_nsenter_at_once(spawn, uid):
    """A lesson's `nsenter --uts -t PID hostname NAME` runs and exits between two snapshots: the
    next one shows it, though the namespace is not entered while no hostname changes anywhere."""
    pid = started(spawn("unshare --uts sleep 1001"), "uts ns")
    inode = ns_inode(pid, "uts")
    host = os.uname().nodename
    with Observer() as obs:
        assert obs.snapshot().hostnames[inode] == host
        reader = obs._hostnames

        def a_snapshot_enters_nothing():
            # another test run's sethostname anywhere makes us enter all namespaces again: a round
            # without one must come soon, and then nothing is entered
            before = reader.visits
            snap = obs.snapshot()
            return reader.visits == before and snap.hostnames[inode] == host
        wait_until(a_snapshot_enters_nothing, what="a snapshot that reuses every hostname")

        for name in (f"{uid}a", f"{uid}b"):
            nsenter(pid, "--uts", "hostname", name)
            before = reader.visits
            snap = obs.snapshot()
            assert snap.hostnames[inode] == name, "the kept Observer missed a hostname set from outside"
            assert reader.visits > before
            assert snap.hostnames[ns_inode(os.getpid(), "uts")] == host == os.uname().nodename


def test_kept_observer_sees_a_segment_made_and_removed_by_short_lived_nsenters(spawn):
    """ipcmk and ipcrm run through nsenter: the next snapshot shows the segment, then its absence,
    read through the file kept open in that namespace (the namespace is not entered again)."""
    pid = started(spawn("unshare --ipc sleep 1002"), "ipc ns")
    inode = ns_inode(pid, "ipc")
    with Observer() as obs:
        assert obs.snapshot().shm[inode] == ()
        visits = obs._shm.visits
        made = nsenter(pid, "--ipc", "ipcmk", "-M", "4096")          # "Shared memory id: N"
        shmid = int(made.split()[-1])
        snap = obs.snapshot()
        assert [(s.shmid, s.size) for s in snap.shm[inode]] == [(shmid, 4096)]
        nsenter(pid, "--ipc", "ipcrm", "-m", str(shmid))
        assert obs.snapshot().shm[inode] == ()
        # a table longer than a page comes in several reads: all of it is read each time
        nsenter(pid, "--ipc", "sh", "-c", "for i in $(seq 40); do ipcmk -M 4096 >/dev/null; done")
        assert len(obs.snapshot().shm[inode]) == 40
        nsenter(pid, "--ipc", "ipcrm", "--all=shm")
        assert obs.snapshot().shm[inode] == ()
        assert obs._shm.visits == visits, "a kept ipc namespace was entered again"


def test_a_namespace_no_process_is_in_is_let_go_and_its_reused_inode_read_anew(spawn, uid):
    """While a kept file holds a namespace, its inode cannot go to a new one; once no process is in
    it, the next snapshot closes its files, and a new namespace that then gets the same inode
    (the kernel hands it out again at once) is read anew, not taken for the old one."""
    host = os.uname().nodename
    first = spawn(f"unshare --uts --ipc sh -c 'hostname {uid}; ipcmk -M 4096 >/dev/null; exec sleep 1003'")
    pid = started(first, "uts+ipc ns with a name and a segment")
    uts, ipc = ns_inode(pid, "uts"), ns_inode(pid, "ipc")
    with Observer() as obs:
        snap = obs.snapshot()
        assert snap.hostnames[uts] == uid and len(snap.shm[ipc]) == 1
        assert held(f"uts:[{uts}]") == 1
        shm_files = held("/proc/sysvipc/shm")

        stop(first)
        second = spawn("unshare --uts --ipc sleep 1003")
        other = started(second, "a second uts+ipc ns")
        # still held by the Observer: the new namespaces cannot have the old inodes
        assert ns_inode(other, "uts") != uts and ns_inode(other, "ipc") != ipc

        snap = obs.snapshot()
        assert uts not in snap.hostnames and ipc not in snap.shm
        assert held(f"uts:[{uts}]") == 0, "the file of a uts namespace no process is in is still open"
        assert held("/proc/sysvipc/shm") == shm_files, "the old ipc file was not closed (or the new not kept)"
        assert snap.hostnames[ns_inode(other, "uts")] == host and snap.shm[ns_inode(other, "ipc")] == ()

        # the next namespaces made get the freed inodes back, unless someone else's come first
        # (other test runs make namespaces too): try again until ours do
        deadline = time.monotonic() + 15
        while True:
            proc = spawn("unshare --uts --ipc sleep 1003")
            new = started(proc, "a third uts+ipc ns")
            if (ns_inode(new, "uts"), ns_inode(new, "ipc")) == (uts, ipc):
                break
            stop(proc)     # frees its inodes again; the old ipc one may still be on its way out
            if time.monotonic() > deadline:
                pytest.skip("namespaces made elsewhere kept taking the freed inodes: no reuse to check")

        snap = obs.snapshot()
        assert snap.hostnames[uts] == host, "a new uts namespace was taken for the old one of that inode"
        assert snap.shm[ipc] == (), "a new ipc namespace was taken for the old one of that inode"


def test_beyond_the_file_budget_namespaces_are_read_as_from_scratch(spawn, uid):
    """With no room for kept files, nothing is kept and every snapshot enters each namespace: still right."""
    pid = started(spawn("unshare --uts --ipc sleep 1004"), "uts+ipc ns")
    uts, ipc = ns_inode(pid, "uts"), ns_inode(pid, "ipc")
    with Observer() as obs:
        obs._hostnames.max_fds = obs._shm.max_fds = 0
        shm_files = held("/proc/sysvipc/shm")
        obs.snapshot()
        visits = (obs._hostnames.visits, obs._shm.visits)
        nsenter(pid, "--uts", "hostname", uid)
        shmid = int(nsenter(pid, "--ipc", "ipcmk", "-M", "8192").split()[-1])
        snap = obs.snapshot()
        assert snap.hostnames[uts] == uid and [(s.shmid, s.size) for s in snap.shm[ipc]] == [(shmid, 8192)]
        assert obs._hostnames.visits > visits[0] and obs._shm.visits > visits[1]
        assert held(f"uts:[{uts}]") == 0 and held("/proc/sysvipc/shm") == shm_files
