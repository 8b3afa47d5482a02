"""The kept Observer's cgroups on the real kernel (cgroups.CgroupReader): it reads the cgroup.procs
of the cgroups processes were in instead of walking the tree, and keeps the limit files open;
yet every change made by someone else is seen on the very next snapshot.

Cgroups made here are nstutor-cgr-<uid>[...] under the cpu controller's root, removed at teardown
(their processes moved out first). Works on v1/hybrid and on v2 with +cpu at the root.
"""
from __future__ import annotations

import os
import signal
import sys

import pytest

from conftest import remove_cgroup, rmdir_once_idle, wait_until
from kinds_process_support import number
from test_kinds_process_cgroup import cpu_root_or_skip, write
from tutor.observe import Observer, cgroups, take_snapshot
from tutor.observe.cgroups import cpu_cgroup_members, cpu_cgroup_path
from tutor.observe.cgroupwatch import TreeWatch
from tutor.observe.model import Process

pytestmark = pytest.mark.needs_root


@pytest.fixture
def cgroup(uid):
    """cgroup(name) -> (its cgroup path, its directory): makes <cpu root>/nstutor-cgr-<uid><name>
    (name may hold a '/' for a nested one, whose parent was made first)."""
    root, v2 = cpu_root_or_skip()
    made: list[str] = []

    def make(name: str = "") -> tuple[str, str]:
        path = f"/nstutor-cgr-{uid}{name}"
        directory = root + path
        os.mkdir(directory)
        made.append(directory)
        return path, directory

    make.root, make.v2 = root, v2
    yield make
    for directory in reversed(made):
        if not os.path.isdir(directory):
            continue                          # the test removed (or renamed) it
        remove_cgroup(directory, root)


def set_limit(cgroup, directory: str, quota: int, period: int = 100000) -> None:
    if cgroup.v2:
        write(f"{directory}/cpu.max", f"{quota} {period}")
    else:
        write(f"{directory}/cpu.cfs_period_us", str(period))
        write(f"{directory}/cpu.cfs_quota_us", str(quota))


def quiet_sleep(spawn, obs: Observer, uid: str, base: int) -> int:
    """A `sleep` the kept Observer reuses as it was (the same Process object twice): the case in
    which its cgroup is taken from the cgroup.procs files alone."""
    pid = spawn(f"sleep {number(uid, base)}").pid

    def reused() -> bool:
        before = obs.snapshot().processes.get(pid)
        return before is not None and obs.snapshot().processes.get(pid) is before
    wait_until(reused, what="the sleep to be reused as it was")
    return pid


def test_a_quiet_process_moved_into_a_brand_new_cgroup_is_seen_at_once(spawn, uid, cgroup):
    """Someone else makes a cgroup and moves a sleeping process into it: no file the reader reads
    lists the process any more, so it must be read again, not kept in its old cgroup."""
    with Observer() as obs:
        pid = quiet_sleep(spawn, obs, uid, 1101)
        path, directory = cgroup()
        nested, nested_dir = cgroup("/inner")
        write(f"{nested_dir}/cgroup.procs", str(pid))
        snap = obs.snapshot()
        assert snap.processes[pid].cgroup == nested
        assert nested in snap.cgroups.limits and path in snap.cgroups.limits
        # quiet again in that cgroup (reused), then moved on into another new one
        wait_until(lambda: obs.snapshot().processes[pid] is obs.snapshot().processes[pid],
                   what="the sleep to be reused in its new cgroup")
        other, other_dir = cgroup("-b")
        write(f"{other_dir}/cgroup.procs", str(pid))
        assert obs.snapshot().processes[pid].cgroup == other


def test_a_limit_written_is_seen_at_once(uid, cgroup):
    path, directory = cgroup()
    set_limit(cgroup, directory, 20000)
    with Observer() as obs:
        assert obs.snapshot().cgroups.limits[path].quota_us == 20000
        assert obs.snapshot().cgroups.limits[path].quota_us == 20000     # now through the kept files
        set_limit(cgroup, directory, 30000, 200000)
        limit = obs.snapshot().cgroups.limits[path]
        assert (limit.quota_us, limit.period_us, limit.percent) == (30000, 200000, 15.0)
        set_limit(cgroup, directory, -1 if not cgroup.v2 else "max")
        assert obs.snapshot().cgroups.limits[path].quota_us is None


def test_a_new_top_level_cgroup_without_a_process_is_seen_at_once(uid, cgroup):
    with Observer() as obs:
        obs.snapshot()
        obs.snapshot()
        path, directory = cgroup()
        set_limit(cgroup, directory, 10000)
        assert obs.snapshot().cgroups.limits[path].quota_us == 10000


def test_a_removed_cgroup_is_gone_and_one_made_again_under_its_name_is_the_new_one(spawn, uid, cgroup):
    """Between two snapshots a cgroup is removed and made again under its name: the kept files
    are the old one's (its limit), and must not be taken for the new one's."""
    path, directory = cgroup()
    nested, nested_dir = cgroup("/inner")
    set_limit(cgroup, nested_dir, 10000)
    with Observer() as obs:
        pid = quiet_sleep(spawn, obs, uid, 1102)
        write(f"{nested_dir}/cgroup.procs", str(pid))
        assert obs.snapshot().processes[pid].cgroup == nested
        assert obs.snapshot().cgroups.limits[nested].quota_us == 10000      # kept open by now
        write(f"{cgroup.root}/cgroup.procs", str(pid))
        wait_until(lambda: rmdir_once_idle(nested_dir), what=f"rmdir {nested_dir}")
        os.mkdir(nested_dir)                  # the same name, a new cgroup: its own limit
        set_limit(cgroup, nested_dir, 40000)
        write(f"{nested_dir}/cgroup.procs", str(pid))
        snap = obs.snapshot()
        assert snap.processes[pid].cgroup == nested and snap.cgroups.limits[nested].quota_us == 40000
        # both removed: gone from the very next snapshot
        write(f"{cgroup.root}/cgroup.procs", str(pid))
        wait_until(lambda: rmdir_once_idle(nested_dir), what=f"rmdir {nested_dir}")
        wait_until(lambda: rmdir_once_idle(directory), what=f"rmdir {directory}")
        snap = obs.snapshot()
        assert snap.processes[pid].cgroup == "/"
        assert path not in snap.cgroups.limits and nested not in snap.cgroups.limits


def test_a_renamed_v1_cgroup_is_seen_under_its_new_name(uid, cgroup):
    """v1 lets a cgroup be renamed, and a kept descriptor follows the directory: the reader must
    not show the renamed one's limit under the old name, nor miss the one made there since."""
    if cgroup.v2:
        pytest.skip("cgroup v2 cannot rename a cgroup")
    path, directory = cgroup()
    set_limit(cgroup, directory, 10000)
    with Observer() as obs:
        assert obs.snapshot().cgroups.limits[path].quota_us == 10000
        assert obs.snapshot().cgroups.limits[path].quota_us == 10000     # now through the kept files
        renamed, renamed_dir = path + "-mv", directory + "-mv"
        os.rename(directory, renamed_dir)
        try:
            os.mkdir(directory)                # a new one under the old name
            set_limit(cgroup, directory, 50000)
            snap = obs.snapshot()
            assert snap.cgroups.limits[path].quota_us == 50000
            assert snap.cgroups.limits[renamed].quota_us == 10000
        finally:
            wait_until(lambda: rmdir_once_idle(renamed_dir), what=f"rmdir {renamed_dir}")


def test_the_kept_observer_walks_the_tree_once_and_agrees_with_a_fresh_snapshot(spawn, uid, cgroup):
    """The walk of the whole tree is done once; after it, members come from the cgroups processes
    were in. What the kept Observer shows is what a fresh snapshot shows."""
    path, directory = cgroup()
    set_limit(cgroup, directory, 10000)
    with Observer() as obs:
        pid = quiet_sleep(spawn, obs, uid, 1103)
        write(f"{directory}/cgroup.procs", str(pid))
        for _ in range(3):
            kept = obs.snapshot()
        assert obs._cgroups.walks == 1
        fresh = take_snapshot()
        assert kept.cgroups.limits == fresh.cgroups.limits
        assert kept.processes[pid].cgroup == fresh.processes[pid].cgroup == path
        # every process both saw, in the same cgroup (a process may start or exit between the two)
        both = kept.processes.keys() & fresh.processes.keys()
        differ = {p: (kept.processes[p].cgroup, fresh.processes[p].cgroup) for p in both
                  if kept.processes[p].cgroup != fresh.processes[p].cgroup}
        assert not differ
        # nothing written into the tree since: no list is read (a write elsewhere on the machine
        # may come between two rounds, so until one round is quiet)
        wait_until(lambda: obs._cgroups.members() is cgroups.UNMOVED, what="a round with no write in the tree")
        write(f"{directory}/cgroup.procs", str(pid))     # a write (moving nothing): the lists are read
        members = obs._cgroups.members()
        walked = cpu_cgroup_members()
        assert members is not cgroups.UNMOVED
        assert members and all(walked.get(p, c) == c for p, c in members.items())


_TWO_THREADS = "import threading\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\nthreading.Event().wait()"


def test_a_process_whose_threads_are_in_two_cgroups_is_in_its_leader_threads(spawn, uid, cgroup):
    """v1 moves one thread when its tid is written to `tasks`. /proc/PID/cgroup names the leader
    thread's cgroup, and so must the snapshot, kept or fresh: cgroup.procs would list the process
    in both cgroups (and the kept Observer would take the old one for still true)."""
    if cgroup.v2:
        pytest.skip("cgroup v2 keeps a process's threads together outside threaded subtrees")
    proc = spawn([sys.executable, "-c", _TWO_THREADS + f"  # {number(uid, 1104)}"])
    pid = proc.pid
    wait_until(lambda: len(os.listdir(f"/proc/{pid}/task")) == 2, what="the second thread")
    other, = (int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    with Observer() as obs:
        def reused() -> bool:
            before = obs.snapshot().processes.get(pid)
            return before is not None and obs.snapshot().processes.get(pid) is before
        wait_until(reused, what="the two-threaded process to be reused as it was")
        start = obs.snapshot().processes[pid].cgroup
        path, directory = cgroup()
        write(f"{directory}/tasks", str(pid))          # the leader alone: the other thread stays
        assert leader_cgroup(pid) == path
        assert obs.snapshot().processes[pid].cgroup == path
        assert take_snapshot().processes[pid].cgroup == path
        write(f"{cgroup.root}{start}/tasks".replace("//", "/"), str(pid))   # the leader back
        write(f"{directory}/tasks", str(other))        # and now the other thread alone
        assert leader_cgroup(pid) == start
        assert obs.snapshot().processes[pid].cgroup == start
        assert take_snapshot().processes[pid].cgroup == start
        write(f"{cgroup.root}{start}/tasks".replace("//", "/"), str(other))


def leader_cgroup(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        return cpu_cgroup_path(f.read())


def test_v2_thread_lists_through_kept_descriptors_follow_moves(spawn, uid, monkeypatch):
    """On a hybrid machine (the cpu controller on v1) the v2 tree is there too, without controllers:
    enough to check the reader's v2 way of reading members (kept descriptors, pread from 0) on the
    real kernel. Where the cpu controller is on v2 the tests above check it."""
    v2_tree = "/sys/fs/cgroup/unified"
    if not os.path.exists(f"{v2_tree}/cgroup.threads") or cgroups.cpu_version(*cgroups.cpu_hierarchy()) == 2:
        pytest.skip("no v2 tree beside a v1 cpu controller here")
    monkeypatch.setattr(cgroups, "_hierarchy", lambda: (("v2", v2_tree), -1))
    directory = f"{v2_tree}/nstutor-cgr-{uid}"
    pid = spawn(f"sleep {number(uid, 1105)}").pid

    def v2_cgroup(p: int) -> str:
        with open(f"/proc/{p}/cgroup") as f:
            return next(line.split(":", 2)[2] for line in f.read().splitlines() if line.startswith("0::"))

    start = v2_cgroup(pid)
    reader = cgroups.CgroupReader()
    os.mkdir(directory)
    try:
        assert reader.members()[pid] == start                    # the first round walks
        write(f"{directory}/cgroup.procs", str(pid))
        # what read() is told by the snapshot: where the processes are (its v2 paths here)
        reader.read({pid: Process(pid, 1, "sleep", (), "S", 0, {}, cgroup=f"/nstutor-cgr-{uid}"),
                     1: Process(1, 0, "init", (), "S", 0, {}, cgroup=start)}, [])
        assert reader.members()[pid] == f"/nstutor-cgr-{uid}"   # its list kept open from here on
        kept = reader._dirs[f"/nstutor-cgr-{uid}"].fds["cgroup.threads"]
        write(f"{v2_tree}{start}/cgroup.procs".replace("//", "/"), str(pid))
        assert reader.members()[pid] == start
        write(f"{directory}/cgroup.procs", str(pid))
        assert reader.members()[pid] == f"/nstutor-cgr-{uid}"
        assert reader._dirs[f"/nstutor-cgr-{uid}"].fds["cgroup.threads"] == kept   # through the same descriptor
        # removed and made again between two reads: the kept descriptor fails, the new one is read
        write(f"{v2_tree}{start}/cgroup.procs".replace("//", "/"), str(pid))
        wait_until(lambda: rmdir_once_idle(directory), what=f"rmdir {directory}")
        os.mkdir(directory)
        write(f"{directory}/cgroup.procs", str(pid))
        assert reader.members()[pid] == f"/nstutor-cgr-{uid}"
    finally:
        reader.close()
        if os.path.isdir(directory):
            with open(f"{directory}/cgroup.procs") as f:
                for p in f.read().split():
                    write(f"{v2_tree}{start}/cgroup.procs".replace("//", "/"), p)
            wait_until(lambda: rmdir_once_idle(directory), what=f"rmdir {directory}")


# ------------------------------------------------------------ the tree watch (cgroupwatch.py)
def settled(watch: TreeWatch) -> bool:
    """A look that found nothing new (a write elsewhere on the machine may come first)."""
    return not watch.changed()


def test_the_tree_watch_reports_writes_mkdir_rename_and_rmdir_anywhere_in_the_tree(cgroup):
    """What the kept reader's shortcut rests on: every way the lists or limits change is reported,
    in a directory made after the watch started too, and nothing is reported when nothing happened."""
    watch = TreeWatch(cgroup.root)
    try:
        assert watch.changed() and watch.reliable           # the first look: nothing known yet
        wait_until(lambda: settled(watch), what="a look with no event")
        assert not watch.changed()
        path, directory = cgroup()                            # mkdir at the top
        assert watch.changed()
        wait_until(lambda: settled(watch), what="a look with no event")
        _child_path, child = cgroup("/inner")                 # mkdir in a directory made meanwhile
        assert watch.changed()
        assert any(d == child for d in watch.dirs.values()), "the new directory is watched"
        wait_until(lambda: settled(watch), what="a look with no event")
        set_limit(cgroup, child, 20000)                       # a write two levels down, in the new one
        assert watch.changed()
        wait_until(lambda: settled(watch), what="a look with no event")
        if not cgroup.v2:                                     # v2 refuses rename(2)
            renamed = directory + "-moved"
            os.rename(directory, renamed)
            try:
                assert watch.changed()
                wait_until(lambda: settled(watch), what="a look with no event")
                set_limit(cgroup, renamed + "/inner", 30000)   # under its new name: still watched
                assert watch.changed()
            finally:
                os.rename(renamed, directory)
            assert watch.changed()
            wait_until(lambda: settled(watch), what="a look with no event")
        wait_until(lambda: rmdir_once_idle(child), what=f"rmdir {child}")
        assert watch.changed()
    finally:
        watch.close()


def test_a_tree_too_big_to_watch_is_always_changed(cgroup):
    """Past its budget of watches the watch cannot vouch for anything: every look says changed."""
    cgroup()
    watch = TreeWatch(cgroup.root, max_dirs=1)
    try:
        assert watch.changed()
        assert not watch.reliable
        assert all(watch.changed() for _ in range(3))
    finally:
        watch.close()


_FORK_ON_USR1 = ("import signal, subprocess, sys\n"
                 "signal.signal(signal.SIGUSR1, lambda *_: subprocess.Popen(['sleep', sys.argv[1]]))\n"
                 "while True: signal.pause()")


def test_a_child_forked_while_nothing_is_written_is_in_its_parents_cgroup(spawn, uid, cgroup):
    """A fork writes nothing into the tree, so the kept reader reads no list that round: the new
    process must still get the cgroup it was born in (its own /proc/PID/cgroup), not none."""
    path, directory = cgroup()
    parent = spawn([sys.executable, "-c", _FORK_ON_USR1, str(number(uid, 1106))])
    write(f"{directory}/cgroup.procs", str(parent.pid))
    kids: list[int] = []
    with Observer() as obs:
        def steady_round() -> bool:
            lists = obs._cgroups.list_reads
            obs.snapshot()
            return obs._cgroups.list_reads == lists
        wait_until(steady_round, what="a snapshot that read no cgroup list")
        try:
            os.kill(parent.pid, signal.SIGUSR1)

            def child_in_a_steady_round():
                lists = obs._cgroups.list_reads
                snap = obs.snapshot()
                found = [p for p in snap.processes.values() if p.ppid == parent.pid and p.comm == "sleep"]
                kids[:] = [p.pid for p in found]
                return found[0] if found and obs._cgroups.list_reads == lists else None
            child = wait_until(child_in_a_steady_round, what="the child, in a round that read no list")
            assert child.cgroup == path
            assert obs.snapshot().processes[child.pid].cgroup == path     # and kept so
        finally:
            for pid in kids:
                os.kill(pid, signal.SIGKILL)


def test_the_cgroup_layout_can_be_asked_from_several_threads_at_once():
    """The live loop's Observer and a take_snapshot() in another thread both ask cpu_hierarchy():
    the kept mountinfo poll must not raise "concurrent poll() invocation"."""
    import threading
    from tutor.observe import cgroups
    cgroups.cpu_hierarchy()
    errors = []

    def ask():
        try:
            for _ in range(20000):
                cgroups.cpu_hierarchy()
        except Exception as exc:      # noqa: BLE001 (the failure under test)
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
