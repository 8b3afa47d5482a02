"""pod and no_zombies on the real kernel (lessons 14 and 15): a hand-made pod.

The pause is a small Python program that renames itself `pause` (prctl PR_SET_NAME, so its
comm really is "pause") and sleeps; members join its namespaces with nsenter and unshare
their own mnt/pid, as the lessons do by hand.
"""
from __future__ import annotations

import os
import signal

import pytest

from conftest import wait_until
from kinds_process_support import (PAUSE, PYTHON, assert_fail, assert_pass, comm_of, grade, host_inode,
                                   ns_inode, number, pids_matching, wait_proc)

pytestmark = pytest.mark.needs_root


@pytest.fixture
def start_pause(spawn, uid, tmp_path):
    """start_pause(unshare_options, *args) -> pid of a process named pause holding new namespaces."""
    script = tmp_path / f"{uid}-pause.py"
    script.write_text(PAUSE)
    count = [0]

    def start(options: str = "--net --ipc --uts", *args: str) -> int:
        count[0] += 1
        tag = f"{uid}p{count[0]}"
        spawn(f"unshare {options} --fork {PYTHON} {script} {tag} {' '.join(args)}")
        return wait_until(lambda: next((p for p in pids_matching(f"{script} {tag}\\b") if comm_of(p) == "pause"),
                                       None), what="the pause to rename itself")
    return start


def join(pause: int, types: str) -> str:
    return "nsenter " + " ".join(f"--{t}=/proc/{pause}/ns/{t}" for t in types.split())


def pause_selector(uid: str, n: int = 1) -> dict:
    return {"comm": "pause", "cmdline": f"{uid}p{n}\\b"}


def test_pod_shares_net_ipc_uts_and_keeps_mnt_pid(spawn, uid, start_pause):
    pause = start_pause()
    assert comm_of(pause) == "pause"
    a, b = number(uid, 1013), number(uid, 2013)
    for n in (a, b):
        spawn(f"{join(pause, 'net ipc uts')} unshare --mount --pid --fork sleep {n}")
    pa, = wait_proc(f"^sleep {a}$")
    pb, = wait_proc(f"^sleep {b}$")
    pod = {"pause": pause_selector(uid), "members": [f"^sleep {a}$", f"^sleep {b}$"],
           "shared": ["net", "ipc", "uts"], "private": ["mnt", "pid"]}
    v = assert_pass({"pod": pod})
    assert v.evidence["pause"]["pid"] == pause
    assert [m["pid"] for m in v.evidence["members"]] == [pa, pb]
    assert v.evidence["members"][0]["ns"]["net"] == ns_inode(pause, "net") != host_inode("net")
    # the process kind says the same of one member
    assert_pass({"process": {"cmdline": f"^sleep {a}$",
                             "shared_with": {"process": pause_selector(uid), "types": ["net", "ipc", "uts"]},
                             "private_from": {"process": f"^sleep {b}$", "types": ["mnt", "pid"]}}})

    # a second pod: {comm: pause} matches two pauses; the members say which one is meant
    other = start_pause()
    both = {"comm": "pause", "cmdline": uid}
    v = assert_pass({"pod": {**pod, "pause": both}})
    assert v.evidence["pause"]["pid"] == pause != other
    assert_pass({"process": {"cmdline": f"^sleep {a}$", "shared_with": {"process": both, "types": ["net"]}}})
    lone = number(uid, 6013)
    spawn(f"sleep {lone}")
    wait_proc(f"^sleep {lone}$")
    # a member in no pod: both pauses are named, and neither is to be stopped (a node has one per pod)
    v = assert_fail({"pod": {**pod, "pause": both, "members": [f"^sleep {lone}$"]}}, "2 pause processes run here",
                    f"(pid {pause})", f"(pid {other})", "no pause has the members yet")
    assert "kill" not in v.message

    # the same pattern twice is one process, not two members
    assert_fail({"pod": {**pod, "members": [f"^sleep {a}$", f"^sleep {a}$"]}}, "Members 1 and 2 both select")


def test_pod_member_that_did_not_join_the_net_namespace(spawn, uid, start_pause):
    pause = start_pause()
    c = number(uid, 3013)
    spawn(f"{join(pause, 'ipc uts')} unshare --mount --pid --fork sleep {c}")
    pc, = wait_proc(f"^sleep {c}$")
    pod = {"pause": pause_selector(uid), "members": [f"^sleep {c}$"]}   # defaults: net ipc uts / mnt pid
    fix = (f"nsenter --net=/proc/{pause}/ns/net --ipc=/proc/{pause}/ns/ipc --uts=/proc/{pause}/ns/uts "
           f"unshare --mount --pid --fork sleep {c}")
    v = assert_fail({"pod": pod},
                    f"'sleep {c}' (pid {pc}) is still in the host's net namespace ({host_inode('net')}); "
                    f"the pause's is {ns_inode(pause, 'net')}", f"kill {pc}", fix)
    assert "ipc namespace" not in v.message and "uts namespace" not in v.message
    # the DESIGN's example message, from the process kind
    assert_fail({"process": {"cmdline": f"^sleep {c}$",
                             "shared_with": {"process": pause_selector(uid), "types": ["net"]}}},
                f"is still in the host's net namespace ({host_inode('net')}); ", f"(pid {pause})'s is {ns_inode(pause, 'net')}",
                f"nsenter --net=/proc/{pause}/ns/net")


def test_pod_member_without_its_own_mnt_and_pid(spawn, uid, start_pause):
    pause = start_pause()
    d = number(uid, 4013)
    spawn(f"{join(pause, 'net ipc uts')} sleep {d}")
    pd, = wait_proc(f"^sleep {d}$")
    assert_fail({"pod": {"pause": pause_selector(uid), "members": [f"^sleep {d}$"]}},
                f"shares the pause's mnt namespace ({host_inode('mnt')})",
                f"shares the pause's pid namespace ({host_inode('pid')})", f"kill {pd}",
                "unshare --mount --pid --fork sleep")


def test_pod_whose_pause_holds_no_network(spawn, uid, start_pause):
    pause = start_pause("--ipc --uts")
    e = number(uid, 5013)
    spawn(f"{join(pause, 'net ipc uts')} unshare --mount --pid --fork sleep {e}")
    wait_proc(f"^sleep {e}$")
    assert_fail({"pod": {"pause": pause_selector(uid), "members": [f"^sleep {e}$"]}},
                f"is in the host's net namespace", f"Start it with: unshare --net --ipc --uts {PYTHON}")
    assert_fail({"pod": {"pause": pause_selector(uid, 7), "members": [f"^sleep {e}$"]}},
                "the pause: no running process named 'pause'")


# --------------------------------------------------------------- lesson 15: no zombies
def make_zombie(spawn, pause: int, n: str) -> tuple[int, int]:
    """A process in the pause's pid ns that never reaps its child: returns (parent, zombie)."""
    spawn(f"nsenter --pid=/proc/{pause}/ns/pid sh -c 'sleep 0.01 & exec sleep {n}'")
    parent, = wait_proc(f"^sleep {n}$")

    def zombie():
        for pid in pids_matching(""):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == parent:
                return pid
        return None
    return parent, wait_until(zombie, what="the child to become a zombie")


def test_no_zombies_once_the_pause_reaps_the_orphan(spawn, uid, start_pause):
    pause = start_pause("--pid", "reap")
    sel = pause_selector(uid)
    v = assert_pass({"no_zombies": sel})
    assert v.evidence["pid1"] == pause and v.evidence["pid_ns"] == ns_inode(pause, "pid")

    n = number(uid, 1014)
    parent, zombie = make_zombie(spawn, pause, n)
    assert_fail({"no_zombies": sel}, "1 zombie", f"'[sleep]' (pid {zombie}) whose parent is 'sleep {n}' "
                f"(pid {parent})", f"kill {parent}", "which reaps it")
    os.kill(parent, signal.SIGKILL)       # the orphan goes to the pause, which reaps it
    wait_until(lambda: grade({"no_zombies": sel}).passed, what="the pause to reap the orphan")


def test_zombies_stay_when_pid_1_does_not_reap(spawn, uid, start_pause):
    pause = start_pause("--pid")          # no "reap": a PID 1 that never waits
    n = number(uid, 2014)
    parent, zombie = make_zombie(spawn, pause, n)
    os.kill(parent, signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{parent}"), what="the parent to be gone")
    with open(f"/proc/{zombie}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[1] == str(pause)
    assert_fail({"no_zombies": pause_selector(uid)}, f"'[sleep]' (pid {zombie}) whose parent is '{PYTHON}",
                f"(pid {pause}), and it ", "does not reap its children")
