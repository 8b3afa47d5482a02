"""`nstutor pause`: a tiny stand-in for Kubernetes' pause container.

What it does, and nothing more (like the real pause.c):

* names itself `pause` (prctl PR_SET_NAME), so /proc/PID/comm, `ps -o comm` and `pgrep -x pause`
  show the same name as a real pause container on a node;
* sleeps, using no CPU, until SIGINT or SIGTERM, then exits with status 0;
* reaps every child that exits (SIGCHLD -> waitpid(-1, WNOHANG) until none is left). Only PID 1
  of a pid namespace is handed other processes' orphans, so that is when it matters: a pod with
  `shareProcessNamespace: true` relies on it so that no zombie is left behind.

It imports nothing from the rest of nstutor, so it stays small (one Python interpreter and a
few standard modules). Run it as `nstutor pause` or `python -m tutor.pause`.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_NAME = 15
NAME = b"pause"
STOP = (signal.SIGINT, signal.SIGTERM)
USAGE = """usage: nstutor pause

Sleep as a pod's namespace holder, named 'pause'. Reaps exited children (all orphans of the
pid namespace when it runs as its PID 1). Exits 0 on SIGINT or SIGTERM."""


def set_comm(name: bytes = NAME) -> bool:
    """Set this process's kernel name (/proc/self/comm); False if prctl is unavailable.

    prctl is looked up in the C library the interpreter already has loaded (CDLL(None)), not with
    ctypes.util.find_library: that runs `ldconfig -p` as a child, and a pause must have waited for
    no child of its own. Its children's page faults (cminflt in /proc/PID/stat) then count only
    the orphans it reaped, which is what the shared-pid lesson's check reads."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap() -> list[tuple[int, int]]:
    """Collect every child that has exited; returns [(pid, wait status)]."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:        # no children at all
            return reaped
        except InterruptedError:         # pragma: no cover - PEP 475 retries, kept for safety
            continue
        if pid == 0:                     # children left, none of them exited yet
            return reaped
        reaped.append((pid, status))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if args:
        print(f"nstutor pause takes no arguments (got {' '.join(args)!r}).\n\n{USAGE}", file=sys.stderr)
        return 2
    set_comm()
    watched = set(STOP) | {signal.SIGCHLD}
    # Block the signals and take them one at a time with sigwait: none can slip in between "check"
    # and "sleep". It also matters for PID 1 of a pid namespace: the kernel drops signals that such
    # a process has left at their default action (a plain `kill` does nothing to it), but a blocked
    # signal is never dropped; it waits, pending, for sigwait.
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    reap()                               # children that exited before the mask was in place
    while True:
        sig = signal.sigwait(watched)
        if sig in STOP:
            return 0
        reap()


if __name__ == "__main__":
    sys.exit(main())
