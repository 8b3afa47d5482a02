"""`nstutor reset LESSON` and the app's reset: the learner's strays are listed with their command and
removed only when confirmed; decoys (names of their own, other subnets, other files) always survive.

These use the shipped lessons' fixed names (hello, RED, nsbr0, /tmp/from-app-a) and the host's nat
table: run them under the lesson lock,

    flock /tmp/nstutor-lesson.lock /opt/nstutor/bin/python -m pytest -q tests/test_reset_strays.py

Every NAT rule a test adds carries the comment nstutor-test-<uid> and is deleted at teardown.
"""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import sh, wait_until
from tutor.app.app import NstutorApp
from tutor.app.screens.lesson import LessonScreen
from tutor.app.screens.modals import ConfirmScreen
from tutor.checks.runner import grade_step
from tutor.grade import snapshot_for
from tutor.lessons import load_catalog
from tutor.lessons.cleanup import run_cleanup
from tutor.lessons.scripts import ActionLog, run_script
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root

REPO = Path(__file__).resolve().parents[1]


def exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """nstutor without a terminal (stdin is /dev/null)."""
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=REPO, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def run_in_terminal(args: list[str], answers: str, timeout: float = 60) -> tuple[int, str]:
    """nstutor on a pseudo-terminal, with *answers* typed ahead (one line per question)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tutor", *args], cwd=REPO, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True)
    os.close(slave)
    os.write(master, answers.encode())
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:          # EIO: the program closed the terminal (it exited)
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), out.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def names():
    """names('Hello', ...) makes those netns (skipping the test if one exists already); all are removed."""
    made: list[str] = []

    def make(*wanted: str) -> None:
        for name in wanted:
            if exists(name):
                pytest.skip(f"a netns {name!r} already exists on this machine; not touching it")
        for name in wanted:
            sh(f"ip netns add {name}")
            made.append(name)

    yield make
    for name in made:
        sh(f"ip netns del {name}", check=False)


WELCOME_STRAYS = ("Hello", "hellp")
WELCOME_DECOYS = ("hello2", "Helloworld", "blue-team")


# --------------------------------------------------------------- the CLI
def test_reset_lists_the_strays_and_removes_only_them(names):
    names("hello", *WELCOME_STRAYS, *WELCOME_DECOYS)
    res = run_cli("reset", "welcome", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "netns Hello (a case typo of hello)\n      remove with: ip netns del Hello" in res.stdout
    assert "netns hellp (a one-letter typo of hello)\n      remove with: ip netns del hellp" in res.stdout
    assert not any(exists(n) for n in ("hello", *WELCOME_STRAYS))
    assert all(exists(n) for n in WELCOME_DECOYS), res.stdout
    for decoy in WELCOME_DECOYS:
        assert decoy not in res.stdout


def test_reset_of_netns_veth_takes_case_typos_and_a_host_end_and_leaves_decoys(names):
    if os.path.exists("/sys/class/net/veth0"):
        pytest.skip("the host has a veth0; not touching it")
    names("RED", "BLUE", "red", "Red", "BLU", "redis", "blue-team", "REDS")
    try:
        sh("ip link add veth0 type veth peer name veth1 netns BLUE")    # made, never moved into RED
        res = run_cli("reset", "netns-veth", "--yes")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "the veth veth0 in the root netns (meant for RED)" in res.stdout
        assert not os.path.exists("/sys/class/net/veth0")
        assert not any(exists(n) for n in ("RED", "BLUE", "red", "Red", "BLU"))
        assert all(exists(n) for n in ("redis", "blue-team", "REDS")), res.stdout
    finally:
        sh("ip link del veth0", check=False)


def test_reset_without_confirmation_removes_nothing(names):
    names("hello", *WELCOME_STRAYS, *WELCOME_DECOYS)
    res = run_cli("reset", "welcome")                   # no terminal, no --yes: refused as before
    assert res.returncode == 2 and "pass --yes" in res.stderr
    assert all(exists(n) for n in ("hello", *WELCOME_STRAYS))

    code, out = run_in_terminal(["reset", "welcome"], "n\nn\nn\n")
    assert code == 0 and "Nothing changed." in out, out
    assert all(exists(n) for n in ("hello", *WELCOME_STRAYS, *WELCOME_DECOYS))

    # one question per stray: no to the lesson's cleanup, yes to Hello, no to hellp
    code, out = run_in_terminal(["reset", "welcome"], "n\ny\nn\n")
    assert code == 0, out
    assert "Remove netns Hello (a case typo of hello)? [y/N]" in out
    assert "removed netns Hello (a case typo of hello) (ip netns del Hello)" in out
    assert not exists("Hello")
    assert all(exists(n) for n in ("hello", "hellp", *WELCOME_DECOYS))


@pytest.fixture
def tagged_nat(uid):
    """Rules added with tagged_nat('POSTROUTING ...') carry this test's comment; all go at teardown."""
    tag = f"nstutor-test-{uid}"

    def add(rule: str) -> None:
        sh(f"iptables -w 5 -t nat -A {rule} -m comment --comment {tag}")

    add.tag = tag
    yield add
    for line in sh("iptables -w 5 -t nat -S", check=False).stdout.splitlines():
        if tag in line and line.startswith("-A "):
            sh(f"iptables -w 5 -t nat -D {line[3:]}", check=False)
    assert tag not in sh("iptables -w 5 -t nat -S").stdout


def nat_rules() -> list[str]:
    return [line for line in sh("iptables -w 5 -t nat -S").stdout.splitlines() if line.startswith("-A ")]


def test_reset_of_the_bridge_removes_a_wrong_masquerade_rule_and_nothing_else(tagged_nat, uid):
    if any("10.22.0.0/24" in line for line in nat_rules()):
        pytest.skip("the nat table already has rules for lesson 11's subnet; not touching them")
    before = nat_rules()
    other = f"203.0.113.{int(uid[2:], 16) % 250 + 1}/32"
    tagged_nat(f"POSTROUTING -s {other} ! -o nsbr0 -j MASQUERADE")                 # decoy: another subnet
    tagged_nat("POSTROUTING -s 10.22.0.0/24 -o nsbr0 -j MASQUERADE")              # the '!' forgotten
    wrong = f"-A POSTROUTING -s 10.22.0.0/24 -o nsbr0 -m comment --comment {tagged_nat.tag} -j MASQUERADE"
    res = run_cli("reset", "bridge", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"the nat rule '{wrong}' (-o nsbr0 where '! -o nsbr0' was meant)" in res.stdout
    assert f"remove with: iptables -t nat -D {wrong[3:]}" in res.stdout
    after = nat_rules()
    assert wrong not in after
    assert [r for r in after if tagged_nat.tag not in r] == before     # nothing else changed
    assert any(other in r for r in after)                             # the decoy survived
    assert other not in res.stdout


LESSON_13_UP_TO_PRIVATE_TMP = ("pause", "app-a", "crash", "private-tmp")


@pytest.fixture
def pod_lesson():
    lesson = load_catalog().find("pod")
    for path in ("/tmp/from-app-a", "/tmp/from-app-a-keep"):
        if os.path.exists(path):
            pytest.skip(f"the host has a {path}; not touching it")
    run_cleanup(lesson)
    yield lesson
    run_cleanup(lesson)
    for path in ("/tmp/from-app-a", "/tmp/from-app-a-keep"):
        if os.path.exists(path):
            os.unlink(path)


def test_lesson_13_step_4_fails_while_the_host_has_from_app_a_and_reset_removes_it(pod_lesson):
    lesson = pod_lesson
    for step_id in LESSON_13_UP_TO_PRIVATE_TMP:
        step = lesson.step(step_id)
        run_script(step.solution, ActionLog(), step_id)
        wait_until(lambda: grade_step(step, snapshot_for([step]), probes=False).passed, timeout=20,
                   what=f"step {step_id} to pass")
    step = lesson.step("private-tmp")
    Path("/tmp/from-app-a").write_text("hello from the host\n")     # the learner forgot --mount once
    Path("/tmp/from-app-a-keep").write_text("mine\n")               # a decoy
    result = grade_step(step, snapshot_for([step]), probes=False)
    assert not result.passed
    message = " ".join(v.message for v in result.failures)
    assert "also exists in the host's mount namespace" in message and "rm /tmp/from-app-a" in message

    res = run_cli("reset", "pod", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "the file /tmp/from-app-a in the host's mount namespace (made without --mount)" in res.stdout
    assert not os.path.exists("/tmp/from-app-a")
    assert os.path.exists("/tmp/from-app-a-keep")


# --------------------------------------------------------------- the app
async def test_the_apps_reset_offers_the_strays_too(names, tmp_path):
    names("hello", *WELCOME_STRAYS, *WELCOME_DECOYS)
    app = NstutorApp("welcome", store_path=tmp_path / "progress.sqlite3")
    async with app.run_test(size=(120, 36)) as pilot:
        async def until(condition, what, timeout=10.0):
            deadline = time.monotonic() + timeout
            while not condition():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await pilot.pause(0.05)

        await until(lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, "the lesson")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, ConfirmScreen), "the question")
        body = app.screen.body
        assert "netns Hello (a case typo of hello)\n      ip netns del Hello" in body
        assert "ip netns del hellp" in body and "hello2" not in body and "Helloworld" not in body
        await pilot.press("n")
        await until(lambda: isinstance(app.screen, LessonScreen), "the dialog to close")
        assert all(exists(n) for n in ("hello", *WELCOME_STRAYS))

        await pilot.press("r")
        await until(lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(lambda: not any(exists(n) for n in ("hello", *WELCOME_STRAYS)), "the strays to go")
    assert all(exists(n) for n in WELCOME_DECOYS)
