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
