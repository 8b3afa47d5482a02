"""Process and namespace kinds graded against hand-made snapshots.

Only for what the kernel cannot be made to show on this machine, or only by changing the host:
cgroup v2 (this VM's cpu controller is on v1), a renamed host, unreadable files, a host /tmp on
tmpfs. Everything else is tested on the real kernel in tests/test_kinds_process*.py.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from tutor.checks.base import SpecError
from tutor.checks.registry import build
from tutor.observe.model import (NS_TYPES, CgroupInfo, CpuLimit, IdMap, Mount, Process, ShmSegment, Snapshot,
                                 UserNsInfo, frozen_map)

HOST = {t: 4026531830 + i for i, t in enumerate(NS_TYPES)}
ROOT_MOUNT = Mount(1, 0, "/", "ext4", "/dev/vda", "rw", "/")


def proc(pid: int, cmd: str, *, own: dict | None = None, **kw) -> Process:
    return Process(pid=pid, ppid=kw.pop("ppid", 1), comm=kw.pop("comm", cmd.split()[0]),
                   cmdline=tuple(cmd.split()), state=kw.pop("state", "S"), uid=kw.pop("uid", 0),
                   ns={**HOST, **(own or {})}, nspid=kw.pop("nspid", (pid,)), root=kw.pop("root", "/"), **kw)


def snap(*procs: Process, cgroups: CgroupInfo | None = None, **facts) -> Snapshot:
    return Snapshot(taken_at=0.0, monotonic=0.0, duration_ms=1.0,
                    processes=frozen_map({p.pid: p for p in procs}), namespaces=(), host_ns=frozen_map(HOST),
                    netns=frozen_map({}), hostnames=frozen_map(facts.get("hostnames", {HOST["uts"]: "vm"})),
                    mounts=frozen_map(facts.get("mounts", {HOST["mnt"]: (ROOT_MOUNT,)})),
                    shm=frozen_map(facts.get("shm", {HOST["ipc"]: ()})), userns=frozen_map(facts.get("userns", {})),
                    cgroups=cgroups or CgroupInfo("v2", "/sys/fs/cgroup"), is_root=facts.get("is_root", True))


def grade(item: dict, s: Snapshot):
    return build(item).grade(s)


def failed(item: dict, s: Snapshot, *fragments: str):
    v = grade(item, s)
    assert not v.passed, v
    text = v.observed + " | " + v.message
    for frag in fragments:
        assert frag in text, f"{frag!r} not in:\n{text}"
    return v


# --------------------------------------------------------------- selecting the process
def test_selection_explains_none_several_and_zombies():
    s = snap(proc(10, "sleep 1001"), proc(11, "sleep 1001"), proc(12, "sleep 1009", state="Z"),
             proc(13, "python3 app", comm="python3"), is_root=False)
    failed({"pid1": "^sleep 1001$"}, s, "2 processes match", "(pid 10)", "(pid 11)", "kill 10",
           "pgrep -a -f '^sleep 1001$'")
    failed({"pid1": "^sleep 1009$"}, s, "only a zombie", "parent (pid 1)")
    failed({"pid1": "^sleep 1004$"}, s, "no process runs `sleep 1004`", "`sleep 1004` is not running", "run nstutor as root",
           "pgrep -a -f '^sleep 1004$'")
    failed({"pid1": {"comm": "pause", "cmdline": "app"}}, s, "named 'python3', not 'pause'")
    failed({"pid1": {"comm": "pause"}}, s, "pgrep -a -x pause")


def test_lint_catches_contradictions():
    bad = [
        {"process": {"cmdline": "x", "own": ["uts"], "host": ["uts"]}},
        {"process": {"cmdline": "x", "shared_with": {"process": "y"}}},
        {"process": {"own": ["uts"]}},
        {"pod": {"pause": {"comm": "pause"}, "members": ["a"], "shared": ["net"], "private": ["net"]}},
        {"pod": {"pause": {"comm": "pause"}, "members": ["a"], "private_on_cgroup_v2": ["uts"]}},
        {"pod": {"pause": {"comm": "pause"}, "members": ["a"], "private": ["mnt", "cgroup"],
                 "private_on_cgroup_v2": ["cgroup"]}},
        {"cgroup": {"name": "nstutor-cpu", "measured": True}},
        {"uid_map": {"cmdline": "x", "outside": "root"}},
        {"root": {"cmdline": "x"}},
        {"mount": {"cmdline": "x", "target": "relative/path"}},
        {"mount": {"cmdline": "x", "target": "/etc/hosts", "source_path": "(unclosed"}},
        {"capabilities": {"cmdline": "x"}},
        {"capabilities": {"cmdline": "x", "lacks": ["sys_admn"]}},
        {"capabilities": {"cmdline": "x", "has": ["net_admin"], "lacks": ["CAP_NET_ADMIN"]}},
        {"capabilities": {"cmdline": "x", "has": "net_admin"}},
    ]
    for item in bad:
        with pytest.raises(SpecError):
            build(item)


# --------------------------------------------------------------- process
def test_process_messages_quote_inodes_and_the_fix():
    pause = proc(20, "pause", own={"net": 4026532215, "ipc": 4026532216, "uts": 4026532217})
    app_b = proc(21, "app-b --port 8080", own={"net": 4026532401, "ipc": 4026532216, "uts": 4026532217,
                                               "mnt": 4026532500})
    s = snap(pause, app_b)
    item = {"process": {"cmdline": "^app-b", "shared_with": {"process": {"comm": "pause"},
                                                             "types": ["net", "ipc", "uts"]}}}
    failed(item, s, "has its own net namespace (4026532401); 'pause' (pid 20)'s is 4026532215",
               "start it again with the lesson's command, run under: "
               "nsenter --net=/proc/20/ns/net --ipc=/proc/20/ns/ipc --uts=/proc/20/ns/uts ...")   # app-b is no program
    ok = grade({"process": {"cmdline": "^app-b", "shared_with": {"process": {"comm": "pause"},
                                                                 "types": ["ipc", "uts"]},
                            "private_from": {"process": {"comm": "pause"}, "types": ["mnt"]}}}, s)
    assert ok.passed and ok.evidence["shared_with"]["pid"] == 20, ok


def test_process_first_fails_a_sleep_that_joined_an_older_processs_namespaces():
    """own + first: namespaces that are not the host's and that nobody was in before the process.
    One that joined a container's uts and ipc fails; one that later processes joined (as sleep 1101
    joins sleep 1001 in the processes lesson) passes; unknown start times (0) say nothing."""
    item = {"process": {"cmdline": "^sleep 1001$", "own": ["uts", "ipc"], "first": True}}
    box = proc(50, "httpd -f -p 80", comm="httpd", own={"uts": 4026532300, "ipc": 4026532301}, start_ticks=100)
    joined = proc(51, "sleep 1001", own={"uts": 4026532300, "ipc": 4026532301}, start_ticks=200)
    failed(item, snap(box, joined), "'sleep 1001' (pid 51) joined the uts namespace (4026532300) that "
           "'httpd -f -p 80' (pid 50) was in before it", "the ipc namespace (4026532301)",
           "Stop it (kill 51)", "run under: unshare --uts --ipc ...")
    assert grade({"process": {"cmdline": "^sleep 1001$", "own": ["uts", "ipc"]}}, snap(box, joined)).passed
    made = proc(60, "sleep 1001", own={"uts": 4026532400, "ipc": 4026532401}, start_ticks=300)
    later = proc(61, "sleep 1101", own={"uts": 4026532400, "ipc": 4026532401}, start_ticks=400)
    v = grade(item, snap(made, later))
    assert v.passed, v
    assert "new ones" in build(item).describe()
    assert grade(item, snap(proc(70, "sh", own={"uts": 4026532400}), proc(71, "sleep 1001",
                 own={"uts": 4026532400, "ipc": 4026532401}))).passed          # start times unknown
    with pytest.raises(SpecError):
        build({"process": {"cmdline": "x", "first": True}})


def test_process_unreadable_namespace_is_said():
    p = Process(5, 1, "sleep", ("sleep", "1001"), "S", 0, {"mnt": HOST["mnt"]})
    failed({"process": {"cmdline": "sleep", "own": ["uts"]}}, snap(p, is_root=False),
           "could not read /proc/5/ns/uts", "run nstutor as root")


# --------------------------------------------------------------- pid1
def test_pid1_names_who_is_pid_1():
    sh = proc(30, "sh -c sleep 1004; true", comm="sh", own={"pid": 77}, nspid=(30, 1))
    sl = proc(31, "sleep 1004", own={"pid": 77}, nspid=(31, 2), ppid=30)
    failed({"pid1": "^sleep 1004$"}, snap(sh, sl), "is pid 2 in its own pid namespace", "NSpid: 31 2",
           "PID 1 there is 'sh -c sleep 1004; true' (pid 30)")


# --------------------------------------------------------------- hostname
def test_hostname_host_renamed():
    box = proc(40, "sleep 1003", own={"uts": 99})
    s = snap(box, hostnames={HOST["uts"]: "lab-box", 99: "lab-box"})
    failed({"hostname": {"cmdline": "1003", "hostname": "lab-box", "host_unchanged": True}}, s,
           "The host's hostname is 'lab-box' as well", "hostname $(cat /etc/hostname)")
    assert grade({"hostname": {"cmdline": "1003", "hostname": "lab-box"}}, s).passed
    in_host = snap(proc(41, "sleep 1003"), hostnames={HOST["uts"]: "lab-box"})
    failed({"hostname": {"cmdline": "1003", "hostname": "lab-box", "host_unchanged": True}}, in_host,
           "whole machine was renamed", "unshare --uts sleep 1003")


# --------------------------------------------------------------- mount / shm (unreadable tables)
def test_mount_and_shm_unreadable_tables():
    p = proc(50, "sleep 1006", own={"mnt": 61, "ipc": 62})
    s = snap(p, mounts={HOST["mnt"]: (ROOT_MOUNT,)}, shm={HOST["ipc"]: ()}, is_root=False)
    failed({"mount": {"cmdline": "1006", "target": "/mnt/x"}}, s, "could not read /proc/50/mountinfo", "run nstutor as root")
    failed({"shm": {"cmdline": "1006"}}, s, "could not read the shared memory segments of ipc namespace 62")


def test_shm_twin_in_the_host():
    p = proc(51, "sleep 1007", own={"ipc": 62})
    s = snap(p, shm={62: (ShmSegment(0x1234, 0, 4096, 0, 51),), HOST["ipc"]: (ShmSegment(0x99, 7, 4096, 0, 3),)})
    failed({"shm": {"cmdline": "1007", "size": 4096, "absent_from_host": True}}, s, "ipcrm -m 7")
    assert grade({"shm": {"cmdline": "1007", "key": 0x1234, "absent_from_host": True}}, s).passed


# --------------------------------------------------------------- uid_map
def test_uid_map_unmapped_and_numbers():
    p = proc(60, "sleep 1008", own={"user": 70}, uid=1000)
    maps = {70: UserNsInfo(70, (IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),))}
    assert grade({"uid_map": {"cmdline": "1008", "outside": "owner"}}, snap(p, userns=maps)).passed
    assert grade({"uid_map": {"cmdline": "1008", "outside": 1000}}, snap(p, userns=maps)).passed
    failed({"uid_map": {"cmdline": "1008", "inside": 5, "outside": "non-root"}}, snap(p, userns=maps),
           "uid 5 inside is not mapped")
    failed({"uid_map": {"cmdline": "1008", "outside": 1001}}, snap(p, userns=maps),
           "maps to uid 1000, expected uid 1001")
    failed({"uid_map": {"cmdline": "1008", "outside": "owner"}}, snap(p), "could not read /proc/60/uid_map")


# --------------------------------------------------------------- cgroup (v2: not available on this VM)
def v2(limits: dict) -> CgroupInfo:
    return CgroupInfo("v2", "/sys/fs/cgroup", frozen_map({p: CpuLimit(p, q, per, 2) for p, (q, per) in limits.items()}))


def test_cgroup_v2_commands_and_measure():
    busy = proc(80, "python3 busy.py", comm="python3", cgroup="/nstutor-cpu", cpu_percent=10.4)
    item = {"cgroup": {"name": "nstutor-cpu", "cpu_limit_percent": 10, "members": ["busy.py"], "measured": True}}
    ok = grade(item, snap(busy, cgroups=v2({"/nstutor-cpu": (100000, 1000000)})))
    assert ok.passed and ok.evidence["cpu_percent"] == 10.4 and ok.evidence["version"] == 2, ok
    failed(item, snap(busy, cgroups=v2({})), "mkdir /sys/fs/cgroup/nstutor-cpu",
           "echo +cpu > /sys/fs/cgroup/cgroup.subtree_control", "echo '100000 1000000' > /sys/fs/cgroup/nstutor-cpu/cpu.max")
    failed(item, snap(busy, cgroups=v2({"/nstutor-cpu": (None, 100000)})), "has no CPU limit yet",
           "echo '100000 1000000' > /sys/fs/cgroup/nstutor-cpu/cpu.max")
    outside = proc(80, "python3 busy.py", comm="python3", cgroup="/user.slice", cpu_percent=99.0)
    failed(item, snap(outside, cgroups=v2({"/nstutor-cpu": (100000, 1000000)})), "is in cgroup /user.slice",
           "echo 80 > /sys/fs/cgroup/nstutor-cpu/cgroup.procs")
    fresh = proc(80, "python3 busy.py", comm="python3", cgroup="/nstutor-cpu")
    failed(item, snap(fresh, cgroups=v2({"/nstutor-cpu": (100000, 1000000)})), "check again")
    assert build(item).needs_cpu_rate and not build({"cgroup": {"name": "nstutor-cpu"}}).needs_cpu_rate


# --------------------------------------------------------------- no_zombies
def test_no_zombies_when_init_does_not_reap():
    init = proc(90, "sleep infinity", own={"pid": 91}, nspid=(90, 1))
    z = Process(92, 90, "sh", (), "Z", 0, {"pid": 91})
    failed({"no_zombies": "^sleep infinity$"}, snap(init, z), "1 zombie", "'[sh]' (pid 92)",
           "PID 1 of the namespace, 'sleep infinity' (pid 90), and it does not reap")


def test_no_zombies_reaped_needs_pid_1_to_have_reaped_a_child():
    """"No zombie" holds before any orphan has exited; reaped: true asks for the kernel's proof that
    PID 1 has collected one (its children's page faults, added to cminflt only at wait())."""
    pause = proc(90, "pause", comm="pause", own={"pid": 91}, nspid=(90, 1))
    orphan = proc(93, "sleep 1014", ppid=90, own={"pid": 91}, nspid=(93, 3))
    item = {"no_zombies": {"comm": "pause", "reaped": True}}
    assert grade({"no_zombies": {"comm": "pause"}}, snap(pause, orphan)).passed     # the hole reaped closes
    failed(item, snap(pause, orphan), "has not reaped any child yet", "cminflt 0 in /proc/90/stat",
           "'sleep 1014' (pid 93) is an orphan it was handed, still running",
           "nsenter --target 90 --pid --mount sh -c 'sleep 1 & exit'")
    reaper = replace(pause, child_faults=97)
    v = grade(item, snap(reaper, orphan))
    assert v.passed and v.evidence["child_faults"] == 97 and "has reaped exited children" in v.observed, v
    # the counter of another process than PID 1 proves nothing about PID 1
    busy_parent = replace(orphan, child_faults=500)
    failed(item, snap(pause, busy_parent), "has not reaped any child yet")
    # a zombie left still fails, whatever was reaped before
    z = Process(94, 90, "sh", (), "Z", 0, {**HOST, "pid": 91})
    failed(item, snap(reaper, z), "1 zombie", "'[sh]' (pid 94)")
    with pytest.raises(SpecError):
        build({"no_zombies": {"comm": "pause", "reaped": "yes"}})


# --------------------------------------------------------------- root: host /tmp on tmpfs
def test_pivot_root_maps_back_through_a_tmpfs_tmp():
    tmp = Mount(2, 1, "/tmp", "tmpfs", "tmpfs", "rw", "/")
    new_root = Mount(9, 3, "/", "tmpfs", "tmpfs", "rw", "/nstutor-root")
    p = proc(95, "/bin/sleep 1005", own={"mnt": 96})
    s = snap(p, mounts={HOST["mnt"]: (ROOT_MOUNT, tmp), 96: (new_root,)})
    ok = grade({"root": {"cmdline": "1005", "dir": "/tmp/nstutor-root", "pivoted": True}}, s)
    assert ok.passed and ok.evidence["dir"] == "/tmp/nstutor-root", ok
    failed({"root": {"cmdline": "1005", "dir": "/srv/root", "pivoted": True}}, s,
           "pivot_root was done into /tmp/nstutor-root, expected /srv/root")


# --------------------------------------------------------------- pod: the cgroup namespace by cgroup layout
def test_pod_cgroup_namespace_is_private_only_on_cgroup_v2():
    """containerd (like Docker and Podman) gives a container a cgroup namespace of its own only on a pure
    cgroup v2 machine, and the pause none: private_on_cgroup_v2 expects exactly that, by inode."""
    item = {"pod": {"pause": {"comm": "pause"}, "members": ["^app-a ", "^app-b "], "shared": ["net", "ipc", "uts"],
                    "private": ["mnt", "pid"], "private_on_cgroup_v2": ["cgroup"]}}
    pod_ns = {"net": 4026532215, "ipc": 4026532216, "uts": 4026532217}
    pause = proc(20, "/pause", comm="pause", own={**pod_ns, "mnt": 4026532300, "pid": 4026532301})

    def app(pid: int, name: str, base: int, cgroup: int | None) -> Process:
        return proc(pid, f"{name} --serve", own={**pod_ns, "mnt": base, "pid": base + 1,
                                                 **({"cgroup": cgroup} if cgroup else {})})

    v1, v2 = CgroupInfo("v1", "/sys/fs/cgroup/cpu"), CgroupInfo("v2", "/sys/fs/cgroup")
    own = (app(21, "app-a", 4026532400, 4026532402), app(22, "app-b", 4026532500, 4026532502))
    kept = (app(21, "app-a", 4026532400, None), app(22, "app-b", 4026532500, None))
    twins = (app(21, "app-a", 4026532400, 4026532402), app(22, "app-b", 4026532500, 4026532402))

    v = grade(item, snap(pause, *own, cgroups=v2))
    assert v.passed, v.message
    assert v.evidence["members"][0]["ns"]["cgroup"] == 4026532402
    failed(item, snap(pause, *kept, cgroups=v2), "app-a --serve", "shares the pause's cgroup namespace (4026531836)",
           "this machine has cgroup v2")
    failed(item, snap(pause, *twins, cgroups=v2), "shares its cgroup namespace (4026532402) with")

    v = grade(item, snap(pause, *kept, cgroups=v1))
    assert v.passed, v.message
    for layout in (v1, CgroupInfo("hybrid", "/sys/fs/cgroup/cpu")):
        failed(item, snap(pause, *own, cgroups=layout), "has its own cgroup namespace (4026532402); the pause's is 4026531836",
               "not cgroup v2 alone: here a container gets no cgroup namespace of its own")
    assert "their own cgroup on cgroup v2, the pause's elsewhere" in build(item).describe()


def test_pod_member_left_in_the_hosts_private_namespace_fails_even_when_the_pause_has_its_own():
    """A real pause (containerd's, Podman's infra) has mnt and pid of its own; a member still in the host's
    mnt is then neither the pause's nor another member's, and still not "its own"."""
    item = {"pod": {"pause": {"comm": "pause"}, "members": ["^app-a ", "^app-b "]}}
    pod_ns = {"net": 4026532215, "ipc": 4026532216, "uts": 4026532217}
    pause = proc(20, "/pause", comm="pause", own={**pod_ns, "mnt": 4026532300, "pid": 4026532301})
    app_a = proc(21, "app-a --serve", own={**pod_ns, "pid": 4026532401})
    app_b = proc(22, "app-b --serve", own={**pod_ns, "mnt": 4026532500, "pid": 4026532501})
    failed(item, snap(pause, app_a, app_b), "'app-a --serve' (pid 21) is still in the host's mnt namespace "
           f"({HOST['mnt']}); it should have its own")
    app_a = proc(21, "app-a --serve", own={**pod_ns, "mnt": 4026532400, "pid": 4026532401})
    assert grade(item, snap(pause, app_a, app_b)).passed
