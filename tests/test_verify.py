"""verify-lesson and the cleanup runner, on the real machine."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sh
from demo_lesson import make_lesson
from docker_host import DockerHost, missing_reason, running_dockerd
from tutor.lessons import load_catalog, parse_lesson
from tutor.lessons.cleanup import remove_cgroup, remove_path, run_cleanup
from tutor.lessons.scripts import ActionLog
from tutor.verify import verify_lesson

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent


#: The lessons whose traffic crosses a bridge or a router, for the Docker host whose dockerd stopped.
FORWARDING_LESSONS = ["netns-veth", "bridge", "network-modes", "flannel"]


@pytest.mark.parametrize("docker", ["no dockerd", "dockerd running", "dockerd stopped, its rules stay"])
def test_every_shipped_lesson_verifies(tmp_path, docker):
    """What CI promises: `nstutor verify-lesson --all` passes on a fresh machine, and on a Docker
    host (a real dockerd started as on a fresh VM: FORWARD policy DROP, br_netfilter loaded). Each
    lesson fails before its solutions, passes after each one, and cleanup leaves nothing (the
    firewall included); a lesson this machine cannot run (no kubectl, say) is skipped with its
    reason, never silently. Docker's rules outlive dockerd until reboot: the lessons that forward
    traffic are verified in that state too (only those, to keep CI short).

    The container lessons run on real engines: `docker` where the test's dockerd runs (its socket
    handed on as DOCKER_HOST), and is skipped with the reason a learner reads where none does;
    `real-pod` wherever Podman is installed (tests/containers.conf, through conftest's
    CONTAINERS_CONF, makes it work on a VM like CI's)."""
    catalog = load_catalog()
    for lesson in catalog.lessons:
        for name in lesson.cleanup.get("netns", []):
            if Path(f"/run/netns/{name}").exists():
                pytest.skip(f"netns {name} exists on this machine already; not touching a learner's lab")
    env = dict(os.environ, NSTUTOR_DATA_DIR=str(tmp_path))
    host = contextlib.nullcontext()
    which = ["--all"]
    if docker == "no dockerd":
        if running_dockerd():
            pytest.skip(f"a dockerd runs on this machine ({running_dockerd()[0]}): not a machine without one")
    else:
        if missing_reason():
            pytest.skip(missing_reason())
        host = DockerHost()
    with host:
        if docker.startswith("dockerd stopped"):
            assert not host.stop_daemon()
            which = FORWARDING_LESSONS
        if docker == "dockerd running":
            env["DOCKER_HOST"] = host.env["DOCKER_HOST"]
        res = subprocess.run([sys.executable, "-m", "tutor.cli", "verify-lesson", *which], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=1500)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert ", 0 failed" in out, out
    for lesson in catalog.lessons if which == ["--all"] else [l for l in catalog.lessons if l.id in which]:
        verdict = [line for line in out.splitlines() if line.startswith((f"PASS {lesson.id}", f"SKIP {lesson.id}:"))]
        assert verdict, f"no verdict for {lesson.id}:\n{out}"
        if verdict[0].startswith("SKIP"):
            assert len(verdict[0].split(":", 1)[1].strip()) > 5, f"{lesson.id} skipped without a reason"
    assert "leaves the machine as it found it" in out
    if which == ["--all"]:
        engine_lessons_verified(out, dockerd=docker == "dockerd running")


def engine_lessons_verified(out: str, dockerd: bool) -> None:
    """docker passed where dockerd ran and was skipped, saying so, where it did not; real-pod
    passed where Podman is installed."""
    if dockerd:
        assert "PASS docker" in out.splitlines(), f"docker did not pass with a dockerd running:\n{out}"
    else:
        assert any(line.startswith("SKIP docker: needs Docker: dockerd is not running") for line in out.splitlines()), out
    if shutil.which("podman"):
        assert "PASS real-pod" in out.splitlines(), f"real-pod did not pass with podman installed:\n{out}"


def test_good_demo_lesson_passes(tmp_path, uid):
    lesson = make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}a]")
    report = verify_lesson(lesson, echo=lambda *_: None)
    assert report.ok, report.lines
    assert not Path(f"/run/netns/{uid}a").exists()


def test_leftovers_are_reported(tmp_path, uid):
    # the cleanup forgets the netns the solution makes
    lesson = make_lesson(tmp_path, uid, cleanup="")
    try:
        report = verify_lesson(lesson, echo=lambda *_: None)
        assert not report.ok
        assert any("cleanup left netns behind" in f and f"{uid}a" in f for f in report.failures), report.failures
    finally:
        sh(f"ip netns del {uid}a", check=False)


def test_broken_solution_and_stray_process_are_reported(tmp_path, uid):
    lesson = make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}a]",
                         solution=f"ip netns add {uid}b; sleep 3{int(uid[2:], 16)} >/dev/null 2>&1 &")
    try:
        report = verify_lesson(lesson, echo=lambda *_: None)
        assert any("still fails after its solution" in f and f"{uid}a" in f for f in report.failures), report.failures
        assert any("left processes behind" in f and "sleep" in f for f in report.failures), report.failures
    finally:
        sh(f"ip netns del {uid}b", check=False)
        sh(f"pkill -f 'sleep 3{int(uid[2:], 16)}'", check=False)


def test_untrusted_lessons_never_run_shell(tmp_path, uid):
    lesson = make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}a]")
    untrusted, _ = parse_lesson(lesson.path, trusted=False)
    report = verify_lesson(untrusted, echo=lambda *_: None)
    assert report.skipped and "not run: its solutions" in report.skipped and report.refused
    assert not Path(f"/run/netns/{uid}a").exists()


def test_cleanup_refuses_unmarked_paths_and_cgroups(tmp_path):
    victim = tmp_path / "precious"
    victim.write_text("keep me")
    log = ActionLog()
    remove_path(str(victim), log)
    remove_cgroup("system.slice", log)
    assert victim.exists()
    assert len(log.errors) == 2 and all("refusing" in e for e in log.errors)


def test_cleanup_removes_declared_objects(tmp_path, uid, spawn):
    marked = tmp_path / f"nstutor-{uid}"
    marked.mkdir()
    (marked / "f").write_text("x")
    sh(f"ip netns add {uid}c")
    tag = f"4{int(uid[2:], 16)}"   # sleep needs a number: the uid's hex digits as decimal
    proc = spawn(f"sleep {tag}")
    lesson = make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}c], paths: ['{marked}'], processes: ['^sleep {tag}$']")
    log = run_cleanup(lesson)
    assert log.ok, log.errors
    assert not marked.exists() and not Path(f"/run/netns/{uid}c").exists()
    assert proc.wait(timeout=5) is not None


def test_cleanup_removes_a_cgroup_made_on_the_wrong_filesystem(uid):
    """The v2 command on a v1/hybrid host makes a plain directory (with plain files) on the tmpfs at
    /sys/fs/cgroup; the lesson's cleanup must remove it as well."""
    from tutor.lessons.cleanup import filesystem_of, remove_cgroup
    if filesystem_of(Path("/sys/fs/cgroup")) != "tmpfs":
        pytest.skip("/sys/fs/cgroup is not a tmpfs here (cgroup v2): the mistake cannot be made")
    stray = Path(f"/sys/fs/cgroup/nstutor-{uid}")
    stray.mkdir()
    (stray / "cpu.max").write_text("100000 1000000\n")
    log = ActionLog()
    remove_cgroup(f"nstutor-{uid}", log)
    assert log.ok, log.errors
    assert not stray.exists()
