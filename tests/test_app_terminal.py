"""The app never outlives its terminal: closing the terminal ends it (instead of spinning on a dead tty)."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_app_exits_when_its_terminal_is_closed(tmp_path):
    master, slave = pty.openpty()
    env = dict(os.environ, NSTUTOR_DATA_DIR=str(tmp_path), TERM="xterm-256color")
    # a new session and no controlling tty: no SIGHUP will come, only the deleted device tells
    app = subprocess.Popen([sys.executable, "-m", "tutor", "welcome"], stdin=slave, stdout=slave, stderr=slave,
                           cwd=REPO, env=env, start_new_session=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 15
        while b"Welcome" not in seen and time.monotonic() < deadline:   # the first frame is drawn
            if select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 65536)
        assert b"Welcome" in seen, "the app never drew its first frame"
        os.close(master)
        master = None
        app.wait(timeout=10)
        assert app.returncode == 0
    finally:
        if master is not None:
            os.close(master)
        if app.poll() is None:
            app.kill()
            app.wait()


def test_app_is_gone_soon_after_its_tmux_session_is_killed(tmp_path):
    """Found in the test suite's leftovers: `nstutor 10` in a tmux pane, the session killed, and
    the app still there 45 minutes later (Textual's exit blocked writing to the dead terminal)."""
    import secrets
    import shlex
    import shutil

    import pytest
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed")
    session = "nstutor-gone-" + secrets.token_hex(3)
    marker = f"nstutor-gone-{secrets.token_hex(3)}"
    command = (f"env NSTUTOR_DATA_DIR={shlex.quote(str(tmp_path))} TERM=xterm-256color "
               f"{shlex.quote(sys.executable)} -X {marker} -m tutor.cli 10; sleep 600")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "130", "-y", "44", "-c", str(REPO), command],
                   check=True, timeout=10)

    def app_pids() -> list[int]:
        out = subprocess.run(["pgrep", "-f", "--", f"-X {marker} -m tutor.cli"], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]
    try:
        deadline = time.monotonic() + 20
        while True:          # the lesson drawn: the app is fully up, its live loop running
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", f"{session}:0.0"], capture_output=True,
                                    text=True, timeout=10).stdout
            if "Step" in screen or "step" in screen:
                break
            assert time.monotonic() < deadline, f"the app did not start; the screen was:\n{screen}"
            time.sleep(0.1)  # polling interval of a wait with a deadline
        assert app_pids(), "the app's process was not found"
        time.sleep(2.5)      # let a few live rounds draw: the writes that filled the queue
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        while app_pids():
            assert time.monotonic() < deadline, "the app outlived its killed tmux session by 10 s"
            time.sleep(0.1)  # polling interval of a wait with a deadline
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
        for pid in app_pids():
            os.kill(pid, 9)
