"""The grader in Korean (issue 16) for mount, file, root, procfs, cgroup and memory, on the real kernel.

Each test builds the state the way the English tests do (a private mount namespace held by
`unshare --mount sleep N`, a tmpfs mounted inside with nsenter, a cgroup under a lesson's name
nstutor-cpu-<uid> / nstutor-mem-<uid>), grades it with the language set to Korean, and checks the
Korean sentence, that the command in it is exact, and that the English sentence did not leak.
Everything made here is undone: the processes by the spawn fixture (a private mount namespace and
its tmpfs go with its last process), directories and cgroups by finalizers.
"""
from __future__ import annotations

import os
import re

import pytest

from conftest import remove_cgroup, sh
from kinds_process_support import grade, number, wait_proc
from test_kinds_memory import memory_root_or_skip
from test_kinds_process_cgroup import cpu_root_or_skip
from test_kinds_process import mountpoints  # noqa: F401 (a fixture: /tmp/<uid>-* dirs, unmounted and removed)

HANGUL = re.compile(r"[\uac00-\ud7a3]")





def failing(item: dict, *fragments: str, absent: tuple[str, ...] = ()):
    """Graded in Korean: a failure whose expected/observed/message are Korean, contain every
    fragment, and none of the English sentences in *absent*."""
    v = grade(item)
    assert not v.passed, f"expected a failure for {item}: {v.observed}"
    text = f"{v.expected} | {v.observed} | {v.message}"
    for part in (v.expected, v.observed, v.message):
        assert HANGUL.search(part), f"no Korean in {part!r}"
    for frag in fragments:
        assert frag in text, f"{frag!r} not in:\n{text}"
    for english in absent:
        assert english not in text, f"English {english!r} leaked into:\n{text}"
    return v


def passing(item: dict, *fragments: str, korean_observed: bool = True):
    """A pass, its expected Korean (and its observed, unless that is only files and values)."""
    v = grade(item)
    assert v.passed, f"expected a pass for {item}:\n{v.observed}\n{v.message}"
    assert HANGUL.search(v.expected) and (HANGUL.search(v.observed) or not korean_observed), v
    for frag in fragments:
        assert frag in v.observed, f"{frag!r} not in {v.observed!r}"
    return v


# --------------------------------------------------------------- mount, procfs, file: one private mount namespace
@pytest.mark.needs_root
def test_a_tmpfs_missing_in_a_private_mount_namespace_then_mounted(spawn, uid, mountpoints, korean):
    n = number(uid, 1006)
    target = mountpoints("priv")
    spawn(f"unshare --mount sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    sel = f"^sleep {n}$"
    item = {"mount": {"cmdline": sel, "target": target, "fstype": "tmpfs", "absent_from_host": True}}

    v = failing(item,
                "자기만의 마운트 네임스페이스(", f"그곳의 {target}에는 마운트된 것 없음(마운트 ",
                f"의 마운트 네임스페이스 안에서 {target}에 마운트된 것이 없습니다. 안에서 마운트하세요: "
                f"nsenter --target {pid} --mount mount -t tmpfs tmpfs {target} "
                f"(디렉터리가 있어야 합니다: mkdir -p {target})",
                absent=("Nothing is mounted at", "Mount it from inside", "nothing is mounted at", "its own mount"))
    assert v.expected.endswith(f"에서 {target}에 있는 tmpfs 마운트, 호스트의 마운트 네임스페이스에는 없음")

    sh(f"nsenter --target {pid} --mount mount -t tmpfs nstutor-{uid} {target}")
    passing(item, f"{target}에 tmpfs(소스 nstutor-{uid}) 마운트 있음", "; 호스트의 마운트 네임스페이스에는 없음")

    # the wrong type: the Korean says what is there and the exact commands
    failing({"mount": {"cmdline": sel, "target": target, "fstype": "proc"}},
            f"{target}에 마운트는 있지만 파일시스템이 tmpfs입니다. 기대한 것은 proc입니다.",
            f"nsenter --target {pid} --mount umount {target}; nsenter --target {pid} --mount mount -t proc proc {target}",
            absent=("is mounted, but as",))


@pytest.mark.needs_root
def test_procfs_of_a_private_mount_namespace_is_still_the_hosts(spawn, uid, korean):
    # its own pid namespace (it is PID 1 there) and mount namespace, but no --mount-proc: the /proc
    # it sees is the copy of the host's, where it shows under its host pid
    n = number(uid, 1015)
    spawn(f"unshare --pid --fork --mount sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    failing({"procfs": {"cmdline": f"^sleep {n}$"}},
            "에게 보이는 /proc: 프로세스 ", f"자기 자신이 호스트의 pid {pid} 그대로 보임",
            f"두 네임스페이스 안에서 자기 /proc을 마운트하세요: nsenter --target {pid} --pid --mount "
            f"mount -t proc proc /proc (unshare --mount-proc이 하는 일이 이것입니다).",
            absent=("does not belong to its pid namespace", "Mount its own", "sees it lists"))


@pytest.mark.needs_root
def test_a_file_that_is_not_there(spawn, uid, korean):
    n = number(uid, 1016)
    path = f"/tmp/{uid}-note"
    spawn(f"unshare --mount sleep {n}")
    pid, = wait_proc(f"^sleep {n}$")
    assert not os.path.exists(path)
    v = failing({"file": {"cmdline": f"^sleep {n}$", "path": path}},
                f"에서 {path}: 없음",
                f"의 마운트 네임스페이스에 {path} 파일이 없습니다. 안에서 만드세요: "
                f"nsenter --target {pid} --mount sh -c 'echo hello > {path}'.",
                absent=("There is no", "Create it from inside", "missing"))
    assert v.expected.endswith(f"의 마운트 네임스페이스에 {path} 파일이 있음")

    # one with the wrong text: the last line is quoted as it is, the cat command exact
    try:
        sh(f"nsenter --target {pid} --mount sh -c 'echo started > {path}'")
        failing({"file": {"cmdline": f"^sleep {n}$", "path": path, "contains": "ready"}},
                f"있음, 내용에 'ready' 없음; 마지막 줄: 'started'",
                f"{path} 파일은 있지만 내용에 'ready' 패턴이 없습니다; 마지막 줄: 'started'. "
                f"직접 읽어 보세요: nsenter --target {pid} --mount cat {path}",
                absent=("does not contain", "Read it yourself", "present"))
    finally:
        sh(f"rm -f {path}")        # /tmp is the host's disk in that namespace too


# --------------------------------------------------------------- root
@pytest.mark.needs_root
def test_a_process_whose_root_is_not_the_expected_directory(spawn, uid, korean):
    m = number(uid, 2002)
    want = f"/tmp/{uid}-root"
    spawn(f"sleep {m}")
    pid, = wait_proc(f"^sleep {m}$")
    v = failing({"root": {"cmdline": f"^sleep {m}$", "dir": want}},
                f"'sleep {m}' (pid {pid})의 루트: /",
                f"'sleep {m}' (pid {pid})의 루트는 /입니다. 기대한 것은 {want}입니다. 호스트의 루트입니다. "
                f"chroot 없이 시작했습니다. 새 루트 안에서 시작하세요: kill {pid}; chroot {want} sleep {m}",
                absent=("The root of", "expected", "That is the host's root", "Start it inside"))
    assert v.expected.endswith(f"의 루트 디렉터리가 {want}임")


# --------------------------------------------------------------- cgroup (cpu) and memory, under the lesson's names
@pytest.mark.needs_root
def test_a_cpu_limit_that_is_not_set(uid, korean):
    root, v2 = cpu_root_or_skip()
    name = f"nstutor-cpu-{uid}"
    directory = os.path.join(root, name)
    item = {"cgroup": {"name": name, "cpu_limit_percent": 10}}
    limit = (f"echo '100000 1000000' > {directory}/cpu.max" if v2 else
             f"echo 1000000 > {directory}/cpu.cfs_period_us; echo 100000 > {directory}/cpu.cfs_quota_us")
    try:
        failing(item, f"/{name}의 CPU 제한을 읽을 수 없습니다(cgroup v",
                f"CPU 제한이 걸린 /{name} cgroup이 없습니다({directory}). 만드세요: mkdir {directory}",
                f"그다음 제한을 거세요: {limit}", absent=("There is no cgroup", "Create it", "then limit it"))
        os.mkdir(directory)
        v = failing(item, f"/{name}: 제한 없음(quota max",
                    f"/{name} cgroup에는 아직 CPU 제한이 없습니다. 설정하세요: {limit}",
                    absent=("has no CPU limit yet", "Set it"))
        assert v.expected == f"cgroup /{name}, CPU 하나의 10%로 제한됨"
    finally:
        if os.path.isdir(directory):
            remove_cgroup(directory, root)


@pytest.mark.needs_root
def test_memory_cgroup_missing_unlimited_then_limited(uid, korean):
    version, root = memory_root_or_skip()
    name = f"nstutor-mem-{uid}"
    directory = os.path.join(root, name)
    limit_file = "memory.max" if version == 2 else "memory.limit_in_bytes"
    item = {"memory": {"name": name, "max": "20M"}}
    try:
        failing(item, f"cgroup /{name} 없음: {directory} 디렉터리가 없습니다(cgroup v{version})",
                f"memory 트리에 /{name} cgroup이 없습니다(nstutor가 찾아본 곳: {directory}). "
                f"만드세요: mkdir {directory}", absent=("There is no cgroup", "Make it"))
        assert not os.path.exists(directory)
        os.mkdir(directory)
        failing(item, f"{directory}: {limit_file}: ",
                f"{directory}/{limit_file}: ", f"/{name} cgroup에는 아직 메모리 제한이 없습니다. "
                f"설정하세요: echo 20M > {directory}/{limit_file}",
                absent=("has no memory limit yet", "Set it"))
        with open(f"{directory}/{limit_file}", "w") as f:
            f.write("20M")
        v = passing(item, f"{directory}: {limit_file}: 20971520 (20M)", korean_observed=False)
        assert v.expected == f"memory 트리의 cgroup /{name}, 메모리 제한 20M"
    finally:
        if os.path.isdir(directory):
            remove_cgroup(directory, root)


# --------------------------------------------------------------- hand-made snapshots (no root needed)
def test_a_file_made_on_the_host_is_named_in_korean_with_its_rm(korean):
    from dataclasses import replace as with_
    from test_kinds_process_unit import proc, snap
    from tutor.checks.registry import build
    from tutor.observe.model import FileFact, frozen_map
    app = proc(20, "app-a serve", own={"mnt": 4026532500})
    s = with_(snap(app), files=frozen_map({(20, "/tmp/log"): FileFact("file", "ready\n"),
                                          (None, "/tmp/log"): FileFact("file", "")}))
    v = build({"file": {"cmdline": "^app-a ", "path": "/tmp/log", "absent_from_host": True}}).grade(s)
    assert not v.passed and v.observed.endswith("; 호스트의 마운트 네임스페이스에도 /tmp/log 파일이 있음")
    assert "호스트의 /tmp에 생겼고, 이 단계는 거기에 있으면 안 된다고 합니다. " in v.message
    assert v.message.endswith(": rm /tmp/log.") and "A /tmp/log also exists" not in v.message
    assert [st.what for st in v.strays] == ["호스트 마운트 네임스페이스의 /tmp/log 파일(--mount 없이 만든 것)"]


def test_a_pivot_root_left_attached_in_korean(korean):
    from test_kinds_process_unit import HOST, ROOT_MOUNT, proc, snap
    from tutor.checks.registry import build
    from tutor.observe.model import Mount
    p = proc(61, "/bin/sleep 1012", own={"mnt": 88})
    new_root = Mount(9, 3, "/", "ext4", "/dev/vda", "rw", "/tmp/nstutor-root")
    old = Mount(10, 9, "/old", "ext4", "/dev/vda", "rw", "/")
    v = build({"root": {"cmdline": "1012", "dir": "/tmp/nstutor-root", "pivoted": True}}).grade(
        snap(p, mounts={HOST["mnt"]: (ROOT_MOUNT,), 88: (new_root, old)}))
    assert not v.passed
    assert v.expected.endswith("자기 마운트 네임스페이스에서 pivot_root를 하고(새 루트 /tmp/nstutor-root) 이전 루트를 떼어 냄")
    assert v.observed.endswith("; 호스트의 루트가 아직 /old에 붙어 있음")
    assert "네임스페이스 안에서 떼어 내세요: nsenter --target 61 --mount umount -l /old (" in v.message
    assert "먼저 마운트하거나(nsenter --target 61 --mount mount -t proc proc /proc, " in v.message
    assert "pivot_root was done" not in v.message and "Detach it" not in v.message


def test_english_is_back_after_a_korean_test():
    """The fixture sets English again: the same kind speaks English outside it."""
    from tutor.checks.registry import build
    assert build({"memory": {"name": "nstutor-mem", "max": "20M"}}).describe() == \
        "cgroup /nstutor-mem in the memory tree, limited to 20M"
