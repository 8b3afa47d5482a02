"""The README's first command, as written, on the shells a learner really has.

A lab VM's root shell often has no sudo at all; a learner's own account has sudo. The README's
two commands must work in both, so:
- the first command runs for real (install, then the app on a first start) in tmux, in a shell
  whose PATH has no sudo, and its output is read back: a progress line per stage, no pip or
  debconf noise, and the right way to start for that shell;
- install.sh, tests/run and nstutor itself, started by a user who is not root, run themselves
  again through sudo when there is one (a stand-in sudo records what it was asked to run), and
  say how to become root when there is none.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def readme_commands() -> list[str]:
    """The first line of each of the README's first two ```sh blocks: install-and-start, tests."""
    text = (REPO / "README.md").read_text()
    return [block.strip().splitlines()[0] for block in re.findall(r"```sh\n(.*?)```", text, re.S)[:2]]


def tmux(*args: str, check: bool = True) -> str:
    res = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)
    if check and res.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} failed: {res.stderr}")
    return res.stdout


def wait_screen(pane: str, predicate, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = tmux("capture-pane", "-p", "-S", "-100", "-t", pane)
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; the screen was:\n{text}")
        time.sleep(0.2)   # polling interval of a wait with a deadline


def reachable_dir() -> Path:
    """A directory the unprivileged user can reach (pytest's tmp_path is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="nstutor-test-", dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture
def shared_dir():
    path = reachable_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def path_without_sudo():
    """A PATH with every command of this one except sudo: a root shell on a VM without sudo."""
    bin_dir = reachable_dir()
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name != "sudo" and not os.path.lexists(target):
                target.symlink_to(entry.path)
    yield str(bin_dir)
    shutil.rmtree(bin_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def repo_copy():
    """The scripts, where the unprivileged user can run them (a clone may sit in root's home)."""
    parent = reachable_dir()
    copy = parent / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__",
                                                               "__snapshots__", "bench"))
    copy.chmod(0o755)
    yield copy
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def fake_sudo(shared_dir, path_without_sudo):
    """A PATH whose `sudo` only records its arguments, one per line, and exits 0."""
    bin_dir = shared_dir / "bin-fake-sudo"
    bin_dir.mkdir(mode=0o755)
    record = shared_dir / "sudo-was-asked"
    record.touch()
    record.chmod(0o666)
    script = bin_dir / "sudo"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {record}\nexit 0\n")
    script.chmod(0o755)
    return f"{bin_dir}:{path_without_sudo}", record


def run_as_nobody(argv: list[str], path: str, **kwargs) -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    return subprocess.run(argv, user=NOBODY, group=NOBODY, extra_groups=[], env=env, cwd="/",
                          capture_output=True, text=True, timeout=60, **kwargs)


# --------------------------------------------------------------- the README's first command, for real
@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="install.sh is for Debian/Ubuntu")
def test_the_readme_first_command_as_written_in_a_root_shell_without_sudo(shared_dir, path_without_sudo):
    first, _ = readme_commands()
    assert "sudo" not in first, "a root shell without sudo could not run it"
    data = shared_dir / "data"
    # What an old install leaves in the clone's build/: a module since renamed must not come back
    stale = REPO / "build" / "lib" / "tutor" / "stale_module_from_an_old_build.py"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("raise SystemExit('a stale build was installed')\n")
    session = "nstutor-first-" + secrets.token_hex(3)
    # A first start: no progress, no name yet. COLUMNS/LINES would override the pane's real size.
    command = (f"env -u COLUMNS -u LINES -u SUDO_USER PATH={path_without_sudo} NSTUTOR_DATA_DIR={data} "
               f"TERM=xterm-256color bash --norc --noprofile -c {shlex_quote(first)}; "
               f"echo first-command-exit=$?; sleep 600")
    tmux("new-session", "-d", "-s", session, "-x", "130", "-y", "44", "-c", str(REPO), command)
    pane = f"{session}:0.0"
    try:
        wait_screen(pane, lambda s: "Your name" in s, timeout=240, what="the app's first start (the name dialog)")
        tmux("send-keys", "-t", pane, "-l", "Ada")
        tmux("send-keys", "-t", pane, "Enter")
        wait_screen(pane, lambda s: "lessons" in s and "Your name" not in s, timeout=30, what="the catalog")
        tmux("send-keys", "-t", pane, "q")
        screen = wait_screen(pane, lambda s: "first-command-exit=" in s, timeout=30, what="the app to quit")
    finally:
        tmux("kill-session", "-t", session, check=False)
    assert "first-command-exit=0" in screen, screen
    install = screen[:screen.index("first-command-exit=")]
    stages = re.findall(r"^==> \[(\d)/(\d)\] ", install, re.M)
    assert [int(n) for n, _ in stages] == [1, 2, 3] and {t for _, t in stages} == {"3"}, install
    assert re.search(r"^==> done in \d+ s: nstutor \S+\. Start it with: nstutor$", install, re.M), install
    # a machine's own pip configuration and debconf print notices: they are in the log, not here
    for noise in ("WARNING", "Location", "debconf", "Traceback", "sudo: command not found"):
        assert noise not in install, install
    assert (data / "progress.sqlite3").exists(), "the app ran, as root, and kept its progress"
    installed = subprocess.run(["/opt/nstutor/bin/python", "-c", "import tutor, pathlib; print(pathlib.Path(tutor.__file__).parent)"],
                               capture_output=True, text=True, cwd="/", timeout=30).stdout.strip()
    assert installed and not (Path(installed) / stale.name).exists(), "a stale build/ was installed"


def shlex_quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="install.sh is for Debian/Ubuntu")
def test_install_tells_a_sudo_user_how_to_start():
    """Run through sudo (SUDO_USER set), install.sh says that nstutor asks sudo itself."""
    env = {**os.environ, "SUDO_USER": "nobody"}
    res = subprocess.run([str(REPO / "install.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("==> done in ") and "Start it with: nstutor" in last and "sudo" in last, last
    assert res.stderr == "", res.stderr


def test_install_rejects_an_unknown_option():
    res = subprocess.run([str(REPO / "install.sh"), "--tset"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "unknown option '--tset'" in res.stderr


# --------------------------------------------------------------- not root: sudo, or how to become root
@pytest.mark.needs_root
@pytest.mark.parametrize("script, args", [("install.sh", ["--test"]), ("tests/run", ["-q", "tests/test_cli.py"])])
def test_a_user_with_sudo_is_asked_for_it(script, args, fake_sudo, repo_copy):
    path, record = fake_sudo
    copy = repo_copy
    res = run_as_nobody([str(copy / script), *args], path)
    assert res.returncode == 0, res.stderr
    assert "again with sudo" in res.stdout
    assert record.read_text().splitlines() == ["--", str(copy / script), *args]


@pytest.mark.needs_root
@pytest.mark.parametrize("script", ["install.sh", "tests/run"])
def test_a_user_without_sudo_is_told_how_to_become_root(script, path_without_sudo, repo_copy):
    copy = repo_copy
    res = run_as_nobody([str(copy / script)], path_without_sudo)
    assert res.returncode == 2
    assert "no sudo" in res.stderr and "log in as root" in res.stderr.lower(), res.stderr
    assert "command not found" not in res.stderr


# nstutor itself: imports done as root (this Python may live where nobody cannot read: so every module
# the tested commands import, lazily too, such as tutor.grade for check), then the
# child drops to nobody and runs the CLI with a terminal on stdin and stderr, or without.
CHILD = (
    "import os, sys, tutor.cli, tutor.elevate, tutor.lessons, tutor.checks.runner, tutor.grade, tutor.lessons.cleanup;"
    "tutor.lessons.load_catalog();"
    "os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534);"
    "sys.argv = ['nstutor', *sys.argv[1:]];"
    "sys.exit(tutor.cli.main(sys.argv[1:]))"
)


def run_cli_as_nobody(args: list[str], path: str, *, terminal: bool, extra_env: dict | None = None):
    env = {"PATH": path, "HOME": "/nonexistent", "NSTUTOR_DATA_DIR": "/tmp/nstutor-nobody-data",
           **(extra_env or {})}
    if not terminal:
        return subprocess.run([sys.executable, "-c", CHILD, *args], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    leader, follower = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env, cwd=REPO, stdin=follower,
                                stdout=subprocess.PIPE, stderr=follower, text=True)
        os.close(follower)
        out, _ = proc.communicate(timeout=60)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:            # EIO: the child closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, b"".join(chunks).decode())
    finally:
        os.close(leader)


@pytest.mark.needs_root
@pytest.mark.parametrize("args", [["check", "welcome"], ["reset", "welcome"], [], ["welcome"]])
def test_nstutor_started_without_root_runs_itself_again_through_sudo(args, fake_sudo):
    path, record = fake_sudo
    res = run_cli_as_nobody(args, path, terminal=True, extra_env={"LANG": "C.UTF-8"})
    assert res.returncode == 0, res.stderr      # the stand-in sudo's exit code: this process became it
    asked = record.read_text().splitlines()
    assert asked == ["--", "/usr/bin/env", "NSTUTOR_DATA_DIR=/tmp/nstutor-nobody-data", "LANG=C.UTF-8",
                     sys.executable, "-m", "tutor.cli", *args]
    assert "needs root; running it again as: sudo nstutor" in res.stderr


@pytest.mark.needs_root
def test_without_a_terminal_or_when_opted_out_nstutor_does_not_ask_sudo(fake_sudo):
    path, record = fake_sudo
    res = run_cli_as_nobody(["check", "welcome"], path, terminal=False)
    assert record.read_text() == "" and "Traceback" not in res.stderr
    assert res.returncode in (0, 1) and "run it as root: sudo nstutor check welcome" in res.stderr
    res = run_cli_as_nobody(["check", "welcome"], path, terminal=True, extra_env={"NSTUTOR_NO_SUDO": "1"})
    assert record.read_text() == "" and "Traceback" not in res.stderr


@pytest.mark.needs_root
def test_commands_that_need_no_root_never_ask_sudo(fake_sudo):
    path, record = fake_sudo
    for args in (["list"], ["kinds"], ["chekc", "welcome"], ["check", "no-such-lesson"]):
        res = run_cli_as_nobody(args, path, terminal=True)
        assert record.read_text() == "", (args, res.stderr)
        assert "Traceback" not in res.stderr
