"""pid1: the process is PID 1 of its own pid namespace, and has another pid on the host.

    - pid1: {cmdline: '^sleep 1004$'}
    - pid1: {comm: pause}

Read from NSpid in /proc/PID/status: the pid in each nested pid namespace, the host's
first ("NSpid: 4242 1" = pid 4242 on the host, 1 inside its own namespace).
"""
from __future__ import annotations

from ...observe.model import Process, Snapshot
from ..base import Verdict
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import name


def nspid_text(proc: Process) -> str:
    return "NSpid: " + " ".join(map(str, proc.nspid))


@register
class PidOne(ProcessExpectation):
    kind = "pid1"
    fields = dict(SUBJECT_FIELDS)

    def describe(self) -> str:
        return f"{self.subject_words[0].upper()}{self.subject_words[1:]} is PID 1 in its own pid namespace"

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        fix = f"unshare --pid --fork --mount-proc {proc.command}"
        if not proc.nspid:
            return self.fail(f"{name(proc)}: NSpid unreadable",
                             f"nstutor could not read NSpid from /proc/{proc.pid}/status."
                             + ("" if snap.is_root else " Run nstutor with sudo."))
        if len(proc.nspid) == 1:
            return self.fail(
                f"{name(proc)} is in the host's pid namespace ({nspid_text(proc)})",
                f"{name(proc)} has only its host pid {proc.pid}: it is in the host's pid namespace. "
                f"Start it as the first process of a new one (kill {proc.pid} first): {fix}. "
                f"--fork matters: without it unshare runs the command in the old pid namespace "
                f"and only its children would be in the new one.")
        if proc.nspid[-1] != 1:
            first = self._first_in(snap, proc)
            who = f"PID 1 there is {name(first)}. " if first else ""
            return self.fail(
                f"{name(proc)} is pid {proc.nspid[-1]} in its own pid namespace ({nspid_text(proc)})",
                f"{name(proc)} is in a new pid namespace but is pid {proc.nspid[-1]} there, not 1. {who}"
                f"Make it the first process there: {fix} (a shell in between would be PID 1; use exec).")
        return self.ok(f"{name(proc)} is PID 1 in pid namespace {proc.ns.get('pid')} ({nspid_text(proc)})",
                       {"pid": proc.pid, "nspid": list(proc.nspid), "pid_ns": proc.ns.get("pid")})

    @staticmethod
    def _first_in(snap: Snapshot, proc: Process) -> Process | None:
        ino = proc.ns.get("pid")
        for p in snap.processes.values():
            if p.ns.get("pid") == ino and len(p.nspid) == len(proc.nspid) and p.nspid and p.nspid[-1] == 1:
                return p
        return None
