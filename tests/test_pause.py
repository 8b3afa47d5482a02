"""nstutor's pause program (tutor/pause.py), as real processes on the real kernel.

It must look like a pause to the checks (comm "pause"), stop cleanly on SIGINT/SIGTERM (also as
PID 1 of a pid namespace, where the kernel drops signals that have no handler), and reap the
orphans it is handed as PID 1, so no zombie remains.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import wait_until
from kinds_process_support import PYTHON, assert_pass, children, comm_of, number, pids_matching, wait_proc
from tutor import pause

pytestmark = pytest.mark.needs_root

REPO = Path(__file__).resolve().parents[1]
PAUSE_CMD = f"{PYTHON} -m tutor.pause"


def state_and_ppid(pid: int) -> tuple[str, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def nspid(pid: int) -> list[int]:
    with open(f"/proc/{pid}/status") as f:
        line = next(ln for ln in f if ln.startswith("NSpid:"))
    return [int(x) for x in line.split()[1:]]


def start_pid1(spawn, command: str) -> tuple[subprocess.Popen, int]:
    """`unshare --pid --fork --mount-proc COMMAND`: returns (the unshare, the command = PID 1)."""
    outer = spawn(f"unshare --pid --fork --mount-proc {command}", cwd=REPO)
    inner = wait_until(lambda: (lambda c: c[0] if c else None)(children(outer.pid)),
                       what="unshare to fork its PID 1")
    return outer, inner


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_named_pause_and_exits_0_on_the_stop_signals(spawn, sig):
    proc = spawn(PAUSE_CMD, cwd=REPO)
    wait_until(lambda: os.path.exists(f"/proc/{proc.pid}/comm") and comm_of(proc.pid) == "pause",
               what="the pause to rename itself")
    assert state_and_ppid(proc.pid)[0] == "S"         # asleep, not spinning
    with pytest.raises(subprocess.TimeoutExpired):    # it does not exit by itself
        proc.wait(timeout=0.3)
    os.kill(proc.pid, sig)
    assert proc.wait(timeout=5) == 0


def test_as_pid_1_it_stops_on_sigterm_from_outside(spawn):
    """PID 1 of a pid namespace gets no signal it has not set a handler for; the pause has one."""
    outer, inner = start_pid1(spawn, PAUSE_CMD)
    wait_until(lambda: comm_of(inner) == "pause", what="the pause to rename itself")
    assert nspid(inner)[-1] == 1
    os.kill(inner, signal.SIGTERM)
    assert outer.wait(timeout=5) == 0                  # unshare returns its child's exit status


def test_as_pid_1_it_reaps_an_orphan_and_no_zombie_remains(spawn, uid):
    outer, inner = start_pid1(spawn, f"{PYTHON} -X {uid} -m tutor.pause")    # -X: a tag Python ignores
    wait_until(lambda: comm_of(inner) == "pause", what="the pause to rename itself")
    n = number(uid, 9014)
    subprocess.run(["nsenter", f"--target={inner}", "--pid", "--mount", "sh", "-c",
                    f"sleep {n} >/dev/null 2>&1 & exit"], check=True, timeout=10)
    orphan, = wait_proc(f"^sleep {n}$")
    # adopted by the pause, and asleep (a sleep just exec'd may still be running for a moment: R)
    wait_until(lambda: state_and_ppid(orphan) == ("S", inner), what="the orphan asleep under the pause")
    assert_pass({"parent": {"cmdline": f"^sleep {n}$", "parent": {"comm": "pause", "cmdline": f"-X {uid} "}}})
    os.kill(orphan, signal.SIGKILL)
    wait_until(lambda: state_and_ppid(orphan) is None, what="the pause to reap the orphan (no zombie)")
    assert not [p for p in pids_matching("") if (state_and_ppid(p) or ("", 0)) == ("Z", inner)]
    os.kill(inner, signal.SIGTERM)
    assert outer.wait(timeout=5) == 0


def test_a_pid_1_that_does_not_reap_keeps_the_zombie(spawn, uid):
    """The contrast, so the test above can fail: sleep as PID 1 never collects its orphan."""
    n = number(uid, 9114)
    outer, inner = start_pid1(spawn, f"sleep {n}")
    subprocess.run(["nsenter", f"--target={inner}", "--pid", "--mount", "sh", "-c",
                    "sleep 0.1 >/dev/null 2>&1 & exit"], check=True, timeout=10)

    def zombie():
        return next((p for p in children(inner) if (state_and_ppid(p) or ("",))[0] == "Z"), None)
    z = wait_until(zombie, what="the orphan to become a zombie")
    assert_pass({"zombie": {"cmdline": f"^sleep {n}$"}})
    with pytest.raises(subprocess.TimeoutExpired):
        outer.wait(timeout=0.3)
    assert state_and_ppid(z) == ("Z", inner)


def test_reap_collects_exited_children_and_stops_when_none_is_left():
    pid = os.fork()
    if pid == 0:                                       # the child exits at once with status 7
        os._exit(7)
    got = wait_until(lambda: pause.reap() or None, what="the child to exit and be reaped")
    assert got == [(pid, 7 << 8)]
    assert pause.reap() == []                          # no children: nothing, no exception


def test_arguments_are_refused_and_help_is_printed():
    res = subprocess.run([PYTHON, "-m", "tutor.pause", "extra"], cwd=REPO, capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 2 and "takes no arguments" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([PYTHON, "-m", "tutor.pause", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 0 and "usage: nstutor pause" in res.stdout
