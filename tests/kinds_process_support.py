"""Helpers for the real-kernel tests of the process and namespace kinds.

Test processes are `sleep N` with N made from the lesson number and the test's uid tag
(e.g. sleep 100112345 for lesson 2's `sleep 1001`), so selectors like '^sleep 100112345$'
can never match a learner's processes, and the process's own command line marks it as ours.
"""
from __future__ import annotations

import json
import os
import re
import sys

from conftest import wait_until
from tutor.checks.registry import build
from tutor.checks.runner import wants_of
from tutor.observe import take_snapshot

PYTHON = sys.executable

#: A pause stand-in: sets its kernel name (comm) to "pause" with prctl(PR_SET_NAME), then sleeps.
#: With "reap" in argv it reaps its children like a real pause (it is PID 1 of its pid namespace).
PAUSE = r"""
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(15, b"pause", 0, 0, 0)
def reap(*_):
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return
if "reap" in sys.argv:
    signal.signal(signal.SIGCHLD, reap)
while True:
    signal.pause()
"""


def number(uid: str, lesson: int) -> str:
    """'1001' + the uid's 4 hex digits as 5 decimal digits: a sleep argument nobody else uses."""
    return f"{lesson}{int(uid[2:], 16):05d}"


def pids_matching(pattern: str, zombies: bool = False) -> list[int]:
    """Pids whose command line matches *pattern* (read straight from /proc, not via nstutor)."""
    rx = re.compile(pattern)
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        if rx.search(" ".join(a.decode(errors="replace") for a in args)):
            out.append(int(entry))
    return sorted(out)


def wait_proc(pattern: str, count: int = 1) -> list[int]:
    """Wait until *count* processes match (the setup commands exec the matching one last)."""
    return wait_until(lambda: (lambda p: p if len(p) == count else None)(pids_matching(pattern)),
                      what=f"{count} process(es) matching {pattern!r}")


def children(pid: int) -> list[int]:
    """The pids whose parent is *pid* (every thread's children file)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def comm_of(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def grade(item: dict, snap=None):
    exp = build(item)
    return exp.grade(snap or take_snapshot(wants=wants_of([exp])))


def assert_pass(item: dict, snap=None):
    v = grade(item, snap)
    assert v.passed, f"expected a pass for {item}:\nobserved: {v.observed}\nmessage: {v.message}"
    assert v.evidence, "a passing verdict carries evidence"
    json.dumps(v.evidence)                      # progress export stores it as JSON
    return v


def assert_fail(item: dict, *fragments: str, snap=None):
    """It fails, and observed + message contain every fragment (what was seen, what to do)."""
    v = grade(item, snap)
    assert not v.passed, f"expected a failure for {item}, got a pass: {v.observed}"
    assert v.expected and v.observed and v.message, v
    text = v.observed + " | " + v.message
    for frag in fragments:
        assert frag in text, f"{frag!r} not in:\n{text}"
    return v


def ns_inode(pid: int, nstype: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{nstype}").st_ino


def host_inode(nstype: str) -> int:
    return os.stat(f"/proc/self/ns/{nstype}").st_ino
