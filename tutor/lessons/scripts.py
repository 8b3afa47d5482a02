"""Running a lesson's shell scripts (its setup, and the script at the end of its cleanup), and the
log of what setup and cleanup did.

A script runs with bash in a session of its own, so the background jobs it starts (a lesson's
nodes, a container runtime) live on after it exits. It may report progress, which the setup
screen shows as a bar: see PROGRESS_MARK.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class ActionLog:
    """What setup/cleanup did, in plain lines, and what went wrong."""
    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


#: A setup script reports progress by printing lines that start with this mark, e.g.
#: `echo "## step 2/5: node2 on the underlay"` (setup.progress_fraction reads the 2/5); everything
#: else it prints is ignored.
PROGRESS_MARK = "## "


class _ProgressReader:
    """Hands on the progress lines a script has written to a file so far, one complete line at a time.

    Reads with pread at its own offset: the script's stdout shares the file's offset, which
    must stay where the script writes next."""

    def __init__(self, fd: int, callback: Callable[[str], None]) -> None:
        self.fd, self.callback, self.offset, self.pending = fd, callback, 0, b""

    def poll(self, final: bool = False) -> None:
        while chunk := os.pread(self.fd, 65536, self.offset):
            self.offset += len(chunk)
            self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        if final and self.pending:
            lines, self.pending = lines + [self.pending], b""
        for raw in lines:
            line = raw.decode(errors="replace")
            if line.startswith(PROGRESS_MARK) and line[len(PROGRESS_MARK):].strip():
                try:
                    self.callback(line[len(PROGRESS_MARK):].strip())
                except Exception:  # noqa: BLE001  (a display problem must not stop the script)
                    pass


def run_script(script: str, log: ActionLog, what: str, timeout: float = 120,
               progress: Callable[[str], None] | None = None) -> int | None:
    """Run a lesson's shell snippet with bash in a new session; background jobs it starts live on.

    With *progress*, the script's progress lines (see PROGRESS_MARK) are handed to it, without
    the mark, while the script runs (from the calling thread, within 50 ms of being printed).
    Returns the session id (the bash pid) so a caller can later find what the script left running.
    """
    # stdout and stderr go to files, not pipes: background jobs would hold a pipe open forever
    with tempfile.TemporaryFile("w+") as errors, tempfile.TemporaryFile("w+") as output:
        proc = subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL,
                                stdout=output if progress else subprocess.DEVNULL,
                                stderr=errors, text=True, start_new_session=True)
        reader = _ProgressReader(output.fileno(), progress) if progress else None
        deadline = time.monotonic() + timeout
        while True:
            try:
                proc.wait(timeout=0.05 if reader else max(0.0, deadline - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                if reader:
                    reader.poll()
                if time.monotonic() >= deadline:
                    proc.kill()
                    proc.wait()
                    log.errors.append(f"{what}: did not finish within {timeout:.0f} s")
                    return proc.pid
        if reader:
            reader.poll(final=True)
        errors.seek(0)
        err = errors.read()
    if proc.returncode == 0:
        log.done.append(what)
    else:
        log.errors.append(f"{what} exited {proc.returncode}: {err.strip()[-400:]}")
    return proc.pid
