"""The process kinds' grader messages in Korean (issue 16), on the real kernel.

Each test builds a real state with unshare/nsenter (processes from the `spawn` fixture, whose
finalizer kills every process group it started), grades it under Korean, and checks the Korean
sentence, that the command or name in it is exact, and that the English sentence did not leak.
The `korean` fixture switches the language for the test and always switches back to English.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import wait_until
from kinds_process_support import (assert_fail, assert_pass, children, grade, host_inode, ns_inode, number,
                                   wait_proc)
from tutor import i18n
from tutor.checks.registry import build

pytestmark = pytest.mark.needs_root



def no_english(text: str, *sentences: str) -> None:
    for sentence in sentences:
        assert sentence not in text, f"English leaked: {sentence!r} in:\n{text}"


def start_pid1(spawn, command: str) -> tuple[subprocess.Popen, int]:
    """`unshare --pid --fork --mount-proc COMMAND`: (the unshare, the command = PID 1)."""
    outer = spawn(f"unshare --pid --fork --mount-proc {command}")
    inner = wait_until(lambda: (lambda c: c[0] if c else None)(children(outer.pid)),
                       what="unshare to fork its PID 1")
    return outer, inner


def state_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


# --------------------------------------------------------------- pid1 / process: the host's pid namespace
def test_pid1_and_process_for_a_process_in_the_hosts_namespaces(spawn, uid, korean):
    n = number(uid, 7701)
    spawn(f"sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"

    v = assert_fail({"pid1": {"cmdline": sel}},
                    "호스트의 pid 네임스페이스에 있습니다(NSpid: ",
                    f"호스트 pid {pid}만 있습니다. 호스트의 pid 네임스페이스에 있다는 뜻입니다.",
                    f"(먼저 kill {pid}): unshare --pid --fork --mount-proc sleep {n}.",
                    "--fork가 중요합니다.")
    assert v.expected.endswith(": 자기 pid 네임스페이스의 PID 1"), v.expected
    no_english(v.observed + v.message, "is in the host's pid namespace", "has only its host pid",
               "--fork matters", "is PID 1 in its own pid namespace")

    uts = host_inode("uts")
    v = assert_fail({"process": {"cmdline": sel, "own": ["uts"], "host": ["net"]}},
                    f"호스트의 uts 네임스페이스({uts})를 함께 씁니다. 자기 네임스페이스가 있어야 합니다.",
                    f"kill {pid}", f"unshare --uts sleep {n}")
    assert ": 실행 중, 자기 uts 네임스페이스; 호스트의 net 네임스페이스" in v.expected, v.expected
    no_english(v.expected + v.message, "shares the host's", "it should have its own", " runs with ",
               "its own uts namespace")


def test_pid1_passes_in_korean_for_pid_1_of_a_new_namespace(spawn, uid, korean):
    n = number(uid, 7702)
    _outer, inner = start_pid1(spawn, f"sleep {n}")
    v = assert_pass({"pid1": {"cmdline": f"^sleep {n}$", "own_proc": True}})
    assert f"의 PID 1입니다(NSpid: {inner} 1: 호스트에서는 pid {inner}, 안에서는 1)" in v.observed, v.observed
    assert "자기 자신은 pid 1번으로 나옵니다" in v.observed, v.observed
    assert "그 프로세스가 보는 /proc에는 그 네임스페이스의 프로세스만 나옴" in v.expected, v.expected
    no_english(v.observed, "is PID 1 in pid namespace", "on the host", "itself as pid")


# --------------------------------------------------------------- hostname in a uts namespace of its own
def test_hostname_that_differs_in_its_own_uts_namespace(spawn, uid, korean):
    n = number(uid, 7703)
    box = f"ko-{uid}"
    spawn(f"unshare --uts sh -c 'hostname {box} && exec sleep {n}'")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"
    uts = ns_inode(pid, "uts")
    assert uts != host_inode("uts")

    v = assert_fail({"hostname": {"cmdline": sel, "hostname": "lab-box"}},
                    f"자기 uts 네임스페이스({uts})에 있고, 호스트 이름은 {box!r}입니다",
                    f"; 호스트의 호스트 이름은 {os.uname().nodename!r}입니다",
                    f"uts 네임스페이스의 호스트 이름이 {box!r}입니다. 기대한 이름은 'lab-box'입니다: "
                    f"nsenter --target {pid} --uts hostname lab-box")
    assert v.message.endswith(f"nsenter --target {pid} --uts hostname lab-box"), v.message
    assert v.expected.endswith("의 uts 네임스페이스에서 호스트 이름 'lab-box'"), v.expected
    no_english(v.observed + v.message, "The hostname in its uts namespace", "expected 'lab-box'",
               "is in its own uts namespace", "the host's hostname is")

    v = assert_pass({"hostname": {"cmdline": sel, "hostname": box, "host_unchanged": True}})
    assert f"호스트의 호스트 이름은 {box!r}이(가) 아님" in v.expected, v.expected
    assert f"호스트 이름은 {box!r}입니다" in v.observed, v.observed


# --------------------------------------------------------------- zombie / no_zombies
def test_zombie_left_by_a_pid_1_that_does_not_reap(spawn, uid, korean):
    n = number(uid, 7704)
    _outer, inner = start_pid1(spawn, f"sleep {n}")
    sel = f"^sleep {n}$"
    pidns = ns_inode(inner, "pid")
    orphan = f"nsenter --target {inner} --pid --mount sh -c 'sleep 1 & exit'"

    v = assert_fail({"zombie": {"cmdline": sel}},
                    f"pid 네임스페이스 {pidns}(PID 1: ", "에 좀비가 없습니다",
                    f"그 안에서 아직 종료된 고아가 없습니다. 하나 만드세요: {orphan} (sh는 바로 종료되고")
    assert v.expected.endswith("의 pid 네임스페이스에서 PID 1이 거두지 않은 좀비"), v.expected
    no_english(v.observed + v.message, "no zombie in", "No orphan has exited", "Make one:")

    subprocess.run(["nsenter", f"--target={inner}", "--pid", "--mount", "sh", "-c",
                    "sleep 0.1 >/dev/null 2>&1 & exit"], check=True, timeout=10)
    zombie = wait_until(lambda: next((p for p in children(inner) if state_of(p) == "Z"), None),
                        what="the orphan to become a zombie")
    v = assert_pass({"zombie": {"cmdline": sel}})
    assert f"에 거둬지지 않은 좀비가 1개 있습니다: [sleep] (pid {zombie})" in v.observed, v.observed
    no_english(v.observed, "zombie in", "never reaped")

    v = assert_fail({"no_zombies": {"cmdline": sel}},
                    f"pid 네임스페이스 {pidns}", "에 좀비가 1개 있습니다: ", f"(pid {zombie}), 부모는 ",
                    "자식을 거두지 않습니다. 파드의 PID 1은 진짜 pause처럼 고아를 wait()으로 거둬야 합니다.")
    assert v.expected.endswith("의 pid 네임스페이스에 좀비 프로세스 없음"), v.expected
    no_english(v.observed + v.message, "whose parent is", "does not reap its", "zombie in")


# --------------------------------------------------------------- uid_map: unmapped, and none at all
def test_uid_map_of_an_unmapped_user_namespace(spawn, uid, korean):
    n, m = number(uid, 7705), number(uid, 7706)
    spawn(f"unshare --user sleep {n}")
    spawn(f"sleep {m}")
    pid, = wait_proc(f"^sleep {n}$")
    plain, = wait_proc(f"^sleep {m}$")
    user = ns_inode(pid, "user")

    v = assert_fail({"uid_map": {"cmdline": f"^sleep {n}$", "outside": "owner"}},
                    f"자기 user 네임스페이스({user})에 있습니다. uid_map: 비어 있음",
                    f"user 네임스페이스 {user}의 uid_map이 비어 있습니다.",
                    f"맵을 한 번 쓰세요: echo '0 <your uid> 1' > /proc/{pid}/uid_map. "
                    f"또는 --map-root-user로 시작하세요: unshare --user --map-root-user sleep {n}")
    assert v.expected.endswith(": 자기 user 네임스페이스가 있고, 안쪽 uid 0 → 바깥 프로세스의 소유자"), v.expected
    no_english(v.observed + v.message, "is empty", "Write a map once", "empty", "is in its own user namespace")

    v = assert_fail({"uid_map": {"cmdline": f"^sleep {m}$", "outside": "non-root"}},
                    f"호스트의 user 네임스페이스({host_inode('user')})에 있습니다.",
                    f"kill {plain}; unshare --user --map-root-user sleep {m} "
                    f"(root 셸에서라면: runuser -u YOURNAME -- ...)")
    assert "안쪽 uid 0 → 바깥 root가 아닌 uid" in v.expected, v.expected
    no_english(v.observed + v.message, "has no user namespace of its own", "from a root shell", "everywhere")


def test_uid_map_for_a_missing_process_keeps_the_kernel_messages(uid, korean):
    v = assert_fail({"uid_map": {"cmdline": f"^sleep {number(uid, 7707)}$", "outside": "owner"}},
                    "unshare --user가 'Operation not permitted'(또는 'write failed /proc/self/uid_map', "
                    "'No space left on device')를 출력했다면",
                    "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns, "
                    "user.max_user_namespaces를 확인하세요.")
    no_english(v.message, "this system does not let unprivileged users")


# --------------------------------------------------------------- shm: a missing segment
def test_shm_missing_segment_in_its_own_ipc_namespace(spawn, uid, korean):
    n, m = number(uid, 7708), number(uid, 7709)
    size = 50000 + int(uid[2:], 16)            # a size no other segment on the host has
    spawn(f"unshare --ipc sleep {n}")
    spawn(f"unshare --ipc sh -c 'ipcmk -M {size} >/dev/null && exec sleep {m}'")
    pid, = wait_proc(f"^sleep {n}$")
    with_segment, = wait_proc(f"^sleep {m}$")
    ipc = ns_inode(pid, "ipc")

    v = assert_fail({"shm": {"cmdline": f"^sleep {n}$", "size": size}},
                    f"자기 ipc 네임스페이스({ipc})에 있습니다: 세그먼트 없음",
                    f"의 ipc 네임스페이스에 공유 메모리 세그먼트가 없습니다. 그 안에서 하나 만드세요: "
                    f"nsenter --target {pid} --ipc ipcmk -M {size}")
    assert v.message.endswith(f"nsenter --target {pid} --ipc ipcmk -M {size}"), v.message
    assert f"의 ipc 네임스페이스에 있는 {size}바이트 SysV 공유 메모리 세그먼트" in v.expected, v.expected
    no_english(v.observed + v.message + v.expected, "no segments", "has no shared memory segment",
               "Make one inside it", "a SysV shared memory segment")

    v = assert_fail({"shm": {"cmdline": f"^sleep {m}$", "size": 4096}},
                    f"세그먼트가 1개 있지만, 4096바이트인 것은 없습니다. 하나 만드세요: "
                    f"nsenter --target {with_segment} --ipc ipcmk -M 4096")
    assert f", {size}바이트" in v.observed, v.observed
    no_english(v.observed + v.message, "but none of", " bytes")

    v = assert_pass({"shm": {"cmdline": f"^sleep {m}$", "size": size, "absent_from_host": True}})
    assert "호스트의 ipc 네임스페이스에는 그런 세그먼트가 없습니다" in v.observed, v.observed
    assert v.expected.endswith("호스트의 ipc 네임스페이스에서는 보이지 않음"), v.expected


# --------------------------------------------------------------- English stays the English
def test_the_same_check_reads_english_again_after_korean(spawn, uid):
    n = number(uid, 7710)
    spawn(f"sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    item = {"pid1": {"cmdline": f"^sleep {n}$"}}
    i18n.set_language("ko")
    try:
        assert "호스트의 pid 네임스페이스" in grade(item).message
    finally:
        i18n.set_language("en")
    v = grade(item)
    assert f"has only its host pid {pid}: it is in the host's pid namespace." in v.message
    assert build(item).describe().endswith("is PID 1 in its own pid namespace")
