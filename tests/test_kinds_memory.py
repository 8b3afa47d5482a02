"""memory: a cgroup's memory limit, no swap, and its OOM kills (the cgroups lesson's memory steps).

* On the real kernel (v1/hybrid on this VM, v2 where memory is switched on at the root): a cgroup
  ntm<hex> is looked for before it exists, made, limited wrongly, limited right, and then a process
  is run into its 20M limit exactly as the lesson does it; each state gets the verdict and the
  message it should. The cgroup is removed by a finalizer (its processes moved out first).
* v2's files (memory.max, memory.swap.max, memory.events, the parent's cgroup.subtree_control) on a
  directory laid out like a v2 cgroup: observe/memory.py takes the tree's root, so v2 parsing and
  the v2 messages are tested here too, where the kernel is v1.
* Lint: a bad size, an unknown field, a wrong type each get a message with file:line.
"""
from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from conftest import remove_cgroup
from kinds_process_support import assert_fail, assert_pass
from test_lessons import lesson_text, messages, write
from tutor.checks.base import SpecError
from tutor.checks.kinds.memory import OOM_COMMAND, parse_size
from tutor.checks.registry import build
from tutor.observe import take_snapshot
from tutor.observe.memory import memory_tree, read, read_memory_cgroup
from tutor.observe.model import ABSENT, CgroupInfo, Snapshot, Wants, frozen_map

MIB = 1024 * 1024
NO_SWAP = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
ONE_SWAP = NO_SWAP + "/swapfile                               file\t\t1048572\t\t0\t\t-2\n"


# =============================================================== the real kernel
def memory_root_or_skip() -> tuple[int, str]:
    """(version, root) of this machine's memory tree; skips where there is none, or where v2 would
    need +memory switched on at the root (tests never change that)."""
    version, root = memory_tree()
    if version is None:
        pytest.skip("no cgroup tree with the memory controller is mounted here")
    if version == 2 and "memory" not in Path(root, "cgroup.subtree_control").read_text().split():
        pytest.skip("cgroup v2 without +memory in the root's cgroup.subtree_control; not changing it")
    return version, root


@pytest.fixture
def memory_cgroup():
    """(name, directory, version) of a memory cgroup ntm<hex> that does not exist yet; removed after."""
    version, root = memory_root_or_skip()
    name = "ntm" + secrets.token_hex(3)
    directory = os.path.join(root, name)
    yield name, directory, version
    if os.path.isdir(directory):
        remove_cgroup(directory, root)


def put(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


@pytest.mark.needs_root
def test_a_real_oom_kill_in_a_20m_cgroup(memory_cgroup):
    name, directory, v = memory_cgroup
    limit_file = "memory.max" if v == 2 else "memory.limit_in_bytes"
    swap_file = "memory.swap.max" if v == 2 else "memory.swappiness"
    counter = "memory.events" if v == 2 else "memory.oom_control"
    limit = {"memory": {"name": name, "max": "20M", "no_swap": True}}
    oom = {"memory": {"name": name, "oom_kills": {"at_least": 1}}}

    # no cgroup: which directory was looked for, and the mkdir line; and looking made nothing
    assert_fail(limit, f"there is no directory {directory}", f"Make it: mkdir {directory}")
    assert_fail(oom, f"mkdir {directory}")
    assert not os.path.exists(directory)

    os.mkdir(directory)
    assert_fail(limit, f"{limit_file} is", "has no memory limit yet", f"echo 20M > {directory}/{limit_file}")
    put(f"{directory}/{limit_file}", "30M")
    assert_fail(limit, f"{directory}/{limit_file} is 31457280 (30M), expected 20M (20971520)",
                f"echo 20M > {directory}/{limit_file}")
    put(f"{directory}/{limit_file}", "20M")
    if v == 1:
        assert_fail(limit, f"{directory}/memory.swappiness is 60", f"echo 0 > {directory}/memory.swappiness")
    else:
        assert_fail(limit, f"{directory}/memory.swap.max is max", f"echo 0 > {directory}/memory.swap.max")
    put(f"{directory}/{swap_file}", "0")
    v_limit = assert_pass(limit)
    assert v_limit.evidence["limit"] == 20 * MIB and f"{limit_file} is 20971520 (20M)" in v_limit.observed

    # nothing killed yet: the counter and the lesson's command for this directory
    assert_fail(oom, f"{directory}/{counter} says oom_kill 0", OOM_COMMAND.format(directory=directory))

    res = subprocess.run(["sh", "-c", OOM_COMMAND.format(directory=directory)], capture_output=True,
                         text=True, timeout=60, start_new_session=True)
    assert res.returncode == 137, (res.returncode, res.stderr)     # 128 + SIGKILL, as the lesson says
    v_oom = assert_pass(oom)
    kills = v_oom.evidence["oom_kills"]
    assert kills >= 1 and f"{counter} says oom_kill {kills}" in v_oom.observed, v_oom.observed
    assert_pass(limit)                            # the earlier step stays green
    assert read("/" + name).members == ()         # the killed pipeline left nothing in it: rmdir works
    os.rmdir(directory)


@pytest.mark.needs_root
def test_v1_no_swap_by_memsw_equal_to_the_limit(memory_cgroup):
    """v1's other way to forbid swap: memory + swap limited to the memory limit itself."""
    name, directory, v = memory_cgroup
    if v != 1 or not os.path.exists(os.path.join(os.path.dirname(directory), "memory.memsw.limit_in_bytes")):
        pytest.skip("needs cgroup v1 with swap accounting (memory.memsw.*)")
    os.mkdir(directory)
    put(f"{directory}/memory.limit_in_bytes", "20M")
    item = {"memory": {"name": name, "max": "20M", "no_swap": True}}
    assert_fail(item, "memory.memsw.limit_in_bytes unlimited")
    put(f"{directory}/memory.memsw.limit_in_bytes", "30M")
    assert_fail(item, "memory.memsw.limit_in_bytes 31457280 (30M)")
    put(f"{directory}/memory.memsw.limit_in_bytes", "20M")
    v_ok = assert_pass(item)
    assert "memory.memsw.limit_in_bytes equals the limit" in v_ok.observed


@pytest.mark.needs_root
def test_the_kernel_rounds_a_limit_down_to_pages_and_the_kind_accepts_it(memory_cgroup):
    name, directory, v = memory_cgroup
    os.mkdir(directory)
    put(f"{directory}/{'memory.max' if v == 2 else 'memory.limit_in_bytes'}", "20000001")
    page = os.sysconf("SC_PAGE_SIZE")
    assert read("/" + name).limit == 20000001 // page * page
    assert_pass({"memory": {"name": name, "max": 20000001}})
    assert_fail({"memory": {"name": name, "max": "20M"}}, "expected 20M (20971520)")


# =============================================================== v2 files, on a directory laid out like v2
def v2_tree(tmp_path: Path, subtree: str = "cpu memory", files: dict | None = None) -> Path:
    """A v2 root (cgroup.controllers, cgroup.subtree_control) with one child ntmv2 holding *files*."""
    root = tmp_path / "cg2"
    child = root / "ntmv2"
    child.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text(subtree + "\n")
    default = {"cgroup.procs": "", "memory.max": "20971520\n", "memory.swap.max": "0\n",
               "memory.current": "8192\n",
               "memory.events": "low 0\nhigh 0\nmax 31\noom 2\noom_kill 2\noom_group_kill 0\n"}
    for file, text in {**default, **(files or {})}.items():
        if text is not None:
            (child / file).write_text(text)
    return root


def snap_with(mem) -> Snapshot:
    return Snapshot(taken_at=0.0, monotonic=0.0, duration_ms=1.0, processes=frozen_map({}), namespaces=(),
                    host_ns=frozen_map({}), netns=frozen_map({}), hostnames=frozen_map({}), mounts=frozen_map({}),
                    shm=frozen_map({}), userns=frozen_map({}), cgroups=CgroupInfo("v2", "/sys/fs/cgroup"),
                    is_root=True, memory=frozen_map({mem.path: mem}))


def grade_v2(tmp_path, item: dict, swaps: str = NO_SWAP, **tree):
    root = v2_tree(tmp_path, **tree)
    mem = read_memory_cgroup("/ntmv2", str(root), 2, swaps=swaps, page=4096)
    return build({"memory": {"name": "ntmv2", **item}}).grade(snap_with(mem)), str(root / "ntmv2")


def test_v2_files_are_read_as_the_kernel_writes_them(tmp_path):
    root = v2_tree(tmp_path, files={"cgroup.procs": "41\n42\n"})
    mem = read_memory_cgroup("/ntmv2", str(root), 2, swaps=NO_SWAP, page=4096)
    assert (mem.version, mem.exists, mem.controller, mem.limit, mem.swap_max) == (2, True, True, 20 * MIB, 0)
    assert (mem.oom_kills, mem.max_hits, mem.usage, mem.members) == (2, 31, 8192, (41, 42))
    assert mem.parent_subtree == ("cpu", "memory") and mem.swap_areas == 0
    unlimited = read_memory_cgroup("/ntmv2", str(v2_tree(tmp_path / "b", files={"memory.max": "max\n",
                                                                                 "memory.swap.max": None})), 2)
    assert unlimited.limit is None and unlimited.swap_max == ABSENT


def test_v2_passes_and_says_what_it_read(tmp_path):
    v, _ = grade_v2(tmp_path, {"max": "20M", "no_swap": True, "oom_kills": {"at_least": 2}})
    assert v.passed, v.message
    assert "memory.max is 20971520 (20M)" in v.observed and "memory.swap.max is 0" in v.observed
    assert "memory.events says oom_kill 2 (memory.events max 31)" in v.observed


def test_v2_misses_name_the_file_the_value_and_the_v2_command(tmp_path):
    v, d = grade_v2(tmp_path / "a", {"max": "20M"}, files={"memory.max": "max\n"})
    assert not v.passed and f"{d}/memory.max is max" in v.message and f"echo 20M > {d}/memory.max" in v.message
    v, d = grade_v2(tmp_path / "b", {"no_swap": True}, files={"memory.swap.max": "max\n"})
    assert not v.passed and f"{d}/memory.swap.max is max" in v.message and f"echo 0 > {d}/memory.swap.max" in v.message
    v, d = grade_v2(tmp_path / "c", {"oom_kills": {"at_least": 1}}, files={"memory.events": "max 0\noom_kill 0\n"})
    assert not v.passed and f"{d}/memory.events says oom_kill 0" in v.message
    assert OOM_COMMAND.format(directory=d) in v.message


def test_v2_without_swap_accounting_passes_only_on_a_machine_without_swap(tmp_path):
    v, _ = grade_v2(tmp_path / "a", {"no_swap": True}, files={"memory.swap.max": None})
    assert v.passed and "no memory.swap.max" in v.observed and "the machine has no swap" in v.observed
    v, d = grade_v2(tmp_path / "b", {"no_swap": True}, swaps=ONE_SWAP, files={"memory.swap.max": None})
    assert not v.passed and f"{d} has no memory.swap.max" in v.message and "lists 1 swap area" in v.message
    assert "swapoff -a" in v.message


def test_v2_without_the_memory_controller_in_the_parents_subtree_control(tmp_path):
    v, d = grade_v2(tmp_path, {"max": "20M"}, subtree="cpu", files={"memory.max": None, "memory.swap.max": None,
                                                                      "memory.events": None})
    root = os.path.dirname(d)
    assert not v.passed and v.observed == f"{d} has no memory.max (cgroup v2)"
    assert f"not enabled for the children of {root}: its cgroup.subtree_control holds cpu" in v.message
    assert f"echo +memory > {root}/cgroup.subtree_control" in v.message


def test_v2_missing_cgroup_says_the_directory_and_the_mkdir_line(tmp_path):
    root = v2_tree(tmp_path, subtree="")
    mem = read_memory_cgroup("/ntm-none", str(root), 2, swaps=NO_SWAP)
    v = build({"memory": "ntm-none"}).grade(snap_with(mem))
    assert not v.passed and f"there is no directory {root}/ntm-none (cgroup v2)" in v.observed
    assert f"mkdir {root}/ntm-none" in v.message and f"echo +memory > {root}/cgroup.subtree_control" in v.message


def test_the_memory_tree_is_found_from_mountinfo(tmp_path):
    hybrid = ("35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
              "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
    assert memory_tree(hybrid) == (1, "/sys/fs/cgroup/memory")
    root = v2_tree(tmp_path)
    unified = f"30 23 0:26 / {root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    assert memory_tree(unified) == (2, str(root))
    (root / "cgroup.controllers").write_text("cpu pids\n")      # memory bound elsewhere, or disabled
    assert memory_tree(unified) == (None, None)


def test_a_snapshot_reads_memory_only_when_asked():
    assert take_snapshot().memory == {}
    snap = take_snapshot(wants=Wants(memory_cgroups=frozenset({"/"})))
    assert set(snap.memory) == {"/"} and snap.memory["/"].exists == (snap.memory["/"].version is not None)


# =============================================================== lint
def test_sizes_are_binary_like_the_kernels():
    assert parse_size("20M") == 20 * MIB and parse_size("512k") == 512 * 1024 and parse_size("1G") == 1024 ** 3
    assert parse_size(4096) == 4096
    for bad in ("20MB", "twenty", "-1", 0, "0M", True, "20 M M", None):
        assert parse_size(bad) is None, bad


BAD = {
    "  - memory: {name: nstutor-mem, max: 20MB}": "'memory.max': '20MB' is not a size",
    "  - memory: {name: nstutor-mem, limit: 20M}": "'memory' has no field 'limit'",
    "  - memory: {name: nstutor-mem, no_swap: yes please}": "'memory.no_swap': must be true or false",
    "  - memory: {name: nstutor-mem, oom_kills: 1}": "'memory.oom_kills': must be {at_least: N}",
    "  - memory: {name: nstutor-mem, oom_kills: {at_least: 0}}": "'memory.oom_kills': must be {at_least: N}",
    "  - memory: {max: 20M}": "'memory' is missing the required field 'name'",
    "  - memory: {name: nstutor-mem, no_swap: false}": "no_swap': false checks nothing",
}


@pytest.mark.parametrize("line, said", BAD.items())
def test_lint_names_file_and_line_of_a_bad_memory_check(tmp_path, line, said):
    step = ("```check\nid: mem\ntitle: Limit it\nexpect:\n  - netns: {name: RED}\n" + line +
            "\nhint: mkdir\nsolution: |\n  true\n```\n")
    msgs = messages(write(tmp_path, "05-demo.md", lesson_text(step)))
    assert any("05-demo.md:15:" in m and said in m for m in msgs), msgs
    with pytest.raises(SpecError):
        build({"memory": __import__("yaml").safe_load(line.split(": ", 1)[1])})
