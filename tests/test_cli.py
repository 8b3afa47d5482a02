"""The command-line contract: exit codes, JSON shape, packaging, non-root runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sh, wait_until
from tutor.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: str | Path = REPO, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, **kw)


def test_unknown_lesson_is_a_usage_error(capsys):
    assert main(["check", "no-such-lesson"]) == 2
    err = capsys.readouterr().err
    assert "unknown lesson 'no-such-lesson'" in err and "nstutor list shows the lessons" in err


def test_unknown_step_is_a_usage_error(capsys):
    assert main(["check", "welcome", "--step", "nope"]) == 2
    assert "has no step 'nope'" in capsys.readouterr().err


def test_bad_arguments_exit_2():
    res = run_cli("check")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run_cli("no-such-lesson")
    assert res.returncode == 2 and "unknown lesson" in res.stderr


def test_list_json():
    res = run_cli("list", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["id"]: r for r in json.loads(res.stdout)["lessons"]}
    assert rows["netns-veth"]["minutes"] == 15 and rows["netns-veth"]["title"]
    assert rows["welcome"]["ready"] in (True, False) and isinstance(rows["welcome"]["missing"], list)


@pytest.mark.needs_root
def test_check_welcome_turns_from_fail_to_pass():
    if Path("/run/netns/hello").exists():
        pytest.skip("a netns 'hello' already exists on this machine; not touching it")
    try:
        res = run_cli("check", "welcome", "--json")
        assert res.returncode == 1
        doc = json.loads(res.stdout)
        assert doc["lesson"] == "welcome" and doc["passed"] is False
        first = doc["steps"][0]
        assert set(first) == {"id", "title", "passed", "expectations"}
        exp = first["expectations"][0]
        assert set(exp) == {"kind", "passed", "expected", "observed", "message", "strays"}
        assert exp["kind"] == "netns" and not exp["passed"] and "ip netns add hello" in exp["message"]

        sh("ip netns add hello")
        res = run_cli("check", "welcome", "--step", "made", "--json")
        assert res.returncode == 0, res.stdout
        assert json.loads(res.stdout)["passed"] is True
        res = run_cli("check", "welcome", "--step", "lo-up")
        assert res.returncode == 1 and "ip -n hello link set lo up" in res.stdout
        sh("ip -n hello link set lo up")
        res = run_cli("check", "welcome")
        assert res.returncode == 0 and "2/2 steps pass" in res.stdout
    finally:
        sh("ip netns del hello", check=False)


@pytest.mark.needs_root
def test_non_root_run_explains_instead_of_crashing():
    # /root (where this Python lives) is not readable by nobody, so import everything first,
    # then drop to uid 65534 inside the child and run the CLI there.
    code = (
        "import os, sys, tutor.cli, tutor.observe.snapshot, tutor.observe.render, tutor.checks.runner;"
        "from tutor.checks.registry import load_kinds; load_kinds();"
        "import tutor.lessons; tutor.lessons.load_catalog();"
        "os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534);"
        "sys.exit(tutor.cli.main(sys.argv[1:]))"
    )
    for args in (["check", "netns-veth", "--no-probe"], ["snapshot"], ["list"]):
        res = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                             timeout=60)
        assert "Traceback" not in res.stderr, res.stderr
        assert res.returncode in (0, 1), (args, res.returncode, res.stderr)
    res = subprocess.run([sys.executable, "-c", code, "check", "netns-veth", "--no-probe"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "For a full check, run it as root: " in res.stderr
    # this VM has no sudo, so the advice is the one a root shell without sudo can follow
    assert "then nstutor check netns-veth --no-probe" in res.stderr or "sudo nstutor check" in res.stderr


def test_readme_and_ci_agree():
    """The README's first screen gives the two commands; .ci/run runs the test command from it."""
    readme = (REPO / "README.md").read_text().splitlines()
    first_screen = "\n".join(readme[:30])
    assert "./install.sh && nstutor" in first_screen
    marker = readme.index("<!-- test-command -->")
    test_cmd = next(l for l in readme[marker + 1:] if not l.startswith("```"))
    assert test_cmd == "./install.sh --test && tests/run -q" and test_cmd in first_screen
    assert "<!-- test-command -->" in (REPO / ".ci/run").read_text()


def test_every_package_is_packaged():
    """pyproject lists packages explicitly (lessons/ and assets/ are mapped in): none may be forgotten."""
    import tomllib
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "tutor").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"


@pytest.fixture
def netns_c1():
    """Lesson 11's netns c1, made for the test (as a learner half-way through the lesson)."""
    if Path("/run/netns/c1").exists() or Path("/run/netns/c2").exists():
        pytest.skip("a netns c1 or c2 already exists on this machine; not touching it")
    sh("ip netns add c1")
    yield "c1"
    sh("ip netns del c1", check=False)


@pytest.mark.needs_root
def test_reset_says_in_words_what_it_removes_and_without_a_terminal_removes_nothing(netns_c1):
    res = run_cli("reset", "bridge", stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and "pass --yes" in res.stderr
    assert "This removes what lesson 11 (bridge) made and is still on this machine:" in res.stdout
    # only what is here: c1, not c2 or the links nobody made yet
    assert "  - the network namespace c1\n" in res.stdout and "c2" not in res.stdout.split("runs these")[0]
    assert "the links" not in res.stdout
    assert "{" not in res.stdout                # not the raw front matter mapping
    assert Path("/run/netns/c1").exists()       # asked, not answered: nothing removed


def test_reset_of_a_lesson_with_nothing_on_the_machine_says_so():
    res = run_cli("reset", "welcome", stdin=subprocess.DEVNULL)
    if "hello" in res.stdout:
        pytest.skip("a netns hello exists on this machine")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Nothing that lesson 1 (welcome) makes is on this machine now.\nNothing to reset.\n"


@pytest.mark.needs_root
def test_reset_names_the_processes_and_the_script_commands_it_will_run():
    pause = subprocess.Popen([sys.executable, "-m", "tutor.pause"], cwd=REPO)
    try:
        comm = Path(f"/proc/{pause.pid}/comm")
        wait_until(lambda: comm.read_text().strip() == "pause", timeout=10, what="the pause program to name itself")
        pod = run_cli("reset", "pod", stdin=subprocess.DEVNULL).stdout
    finally:
        pause.terminate()
        pause.wait(timeout=10)
    assert "processes named pause (started as `… nstutor pause`" in pod and "comm" not in pod  # not the selector
    bridge = run_cli("reset", "bridge", stdin=subprocess.DEVNULL).stdout
    assert "iptables -D FORWARD -i nsbr0 -o nsbr0 -j ACCEPT" in bridge       # the learner's rule goes too


def test_no_probe_says_a_probe_step_is_unknown_not_failed():
    """With --no-probe a reachable step was not checked at all: it is neither PASS nor FAIL (the
    walk-through's `check --no-probe` said "4/8 steps pass" where the app, which probes, said 7/8)."""
    out = run_cli("check", "netns-veth", "--no-probe").stdout
    assert "----  ping:" in out and "not probed" in out, out
    assert "FAIL  ping" not in out, out
    assert "1 not probed (--no-probe)" in out, out
