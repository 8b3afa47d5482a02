"""End to end: the real `nstutor` in a real terminal (tmux), a learner typing in another pane.

The app runs in the top pane of a tmux session exactly as a learner starts it
(`python -m tutor welcome`), with its progress in a temporary directory (NSTUTOR_DATA_DIR).
The test types the lesson's commands into the bottom pane, a plain shell, and reads the
app's screen with `tmux capture-pane`: the step must turn green on screen with no key
pressed in the app. Then it presses keys in the app (a hint, the view keys, quit) and
checks what the screen shows and that the progress was saved.
"""
from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import sh

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.needs_root,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def tmux(*args: str, check: bool = True) -> str:
    res = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)
    if check and res.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} failed: {res.stderr}")
    return res.stdout


class Terminal:
    def __init__(self, session: str) -> None:
        self.session = session
        self.app = f"{session}:0.0"
        self.shell = f"{session}:0.1"

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.app)

    def wait_screen(self, predicate, timeout: float = 10.0, what: str = "the screen") -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; the screen was:\n{text}")
            time.sleep(0.1)   # polling interval of a wait with a deadline

    def keys(self, *keys: str, pane: str | None = None) -> None:
        tmux("send-keys", "-t", pane or self.app, *keys)

    def type_command(self, command: str) -> None:
        tmux("send-keys", "-t", self.shell, "-l", command)
        tmux("send-keys", "-t", self.shell, "Enter")


@pytest.fixture
def terminal(tmp_path):
    if Path("/run/netns/hello").exists():
        pytest.skip("a netns 'hello' already exists on this machine; not touching it")
    session = "nstutor-test-" + secrets.token_hex(3)
    data = tmp_path / "data"
    # COLUMNS/LINES would override the pane's real size (a tmux server started under pytest has them)
    command = (f"env -u COLUMNS -u LINES NSTUTOR_DATA_DIR={data} TERM=xterm-256color SHELL=/bin/bash "
               f"{sys.executable} -m tutor welcome; "
               f"echo nstutor-exit=$?; sleep 600")
    tmux("new-session", "-d", "-s", session, "-x", "130", "-y", "44", "-c", str(REPO), command)
    try:
        tmux("split-window", "-v", "-l", "6", "-t", f"{session}:0", "-c", str(REPO), "bash --norc --noprofile")
        yield Terminal(session), data
    finally:
        tmux("kill-session", "-t", session, check=False)
        sh("ip netns del hello", check=False)


def test_nstutor_in_tmux_turns_green_when_the_learner_types_in_another_pane(terminal):
    term, data = terminal
    # A first start asks once for the name the progress exports will carry.
    term.wait_screen(lambda s: "Your name" in s and "nstutor whoami NAME" in s, what="the name question")
    tmux("send-keys", "-t", term.app, "-l", "Tess Tmux")
    term.keys("Enter")
    term.wait_screen(lambda s: "Welcome - your first namespace" in s and "✘ 1. Create the network namespace hello"
                     in s and "Your name" not in s, what="the welcome lesson with its first step red")

    term.type_command("ip netns add hello")
    term.wait_screen(lambda s: "✔ 1. Create the network namespace hello" in s, timeout=5,
                     what="step 1 to turn green on screen")
    screen = term.wait_screen(lambda s: "ip -n hello link set lo up" in s, what="why step 2 fails")
    assert "✘ 2." in screen

    term.keys("h")                      # the hint for the selected step (now step 2)
    term.wait_screen(lambda s: "Hint 1" in s, what="the first hint")

    term.keys("2")                      # the namespaces view lists hello, which has no process
    term.wait_screen(lambda s: "hello" in s and "Namespaces" in s, what="the namespaces view")

    term.type_command("ip -n hello link set lo up")
    term.wait_screen(lambda s: "Lesson complete" in s, timeout=5, what="the lesson to complete")

    term.type_command("ip netns del hello")
    term.wait_screen(lambda s: "✘ 1. Create the network namespace hello" in s, timeout=5,
                     what="step 1 to turn red again")

    term.keys("q")
    term.wait_screen(lambda s: "nstutor-exit=0" in s, what="nstutor to quit cleanly")

    from tutor.lessons import load_catalog
    from tutor.progress.paths import DB_NAME
    from tutor.progress.store import ProgressStore
    assert (data / DB_NAME).is_file(), f"no progress saved in {data}"
    with ProgressStore.open(data / DB_NAME) as store:
        progress = store.lesson_progress(load_catalog().find("welcome"))
        assert progress["made"].ever_passed and progress["lo-up"].ever_passed
        assert progress["lo-up"].hints_shown == 1
        assert store.last_lesson() == "welcome"
        assert store.learner_name() == "Tess Tmux" and store.name_asked()


def test_shell_key_suspends_the_app_and_rechecks_on_return(terminal):
    term, data = terminal
    term.wait_screen(lambda s: "Your name" in s, what="the name question")
    term.keys("Escape")                 # skipping is an answer: it is not asked again
    term.wait_screen(lambda s: "✘ 1. Create the network namespace hello" in s and "Your name" not in s,
                     what="the welcome lesson")
    term.keys("!")
    term.wait_screen(lambda s: "here is your shell" in s, what="the app to give way to a shell")
    # its prompt says it runs inside nstutor (bash reads ~/.bashrc first, then our mark goes in front),
    # and nstutor started there says so instead of opening a second app on top of the first
    term.wait_screen(lambda s: s.strip() and s.strip().splitlines()[-1].startswith("(nstutor welcome) "),
                     what="the shell's prompt, marked")
    tmux("send-keys", "-t", term.app, "-l", f"{sys.executable} -m tutor")
    term.keys("Enter")
    term.wait_screen(lambda s: "nstutor is still open behind it" in s, what="a second nstutor refusing")
    # typed in the app's own pane: the learner's shell, with the app suspended
    tmux("send-keys", "-t", term.app, "-l", "ip netns add hello; exit")
    term.keys("Enter")
    screen = term.wait_screen(lambda s: "✔ 1. Create the network namespace hello" in s, timeout=5,
                              what="the app back, with step 1 green")
    assert "here is your shell" not in screen
    term.keys("q")
    term.wait_screen(lambda s: "nstutor-exit=0" in s, what="nstutor to quit cleanly")
    from tutor.progress.paths import DB_NAME
    from tutor.progress.store import ProgressStore
    with ProgressStore.open(data / DB_NAME) as store:
        assert store.name_asked() and store.learner_name() is None
