"""pid1: the process is PID 1 of its own pid namespace, and has another pid on the host.

    - pid1: {cmdline: '^sleep 1004$'}
    - pid1: {cmdline: '^sleep 1004$', own_proc: true}
    - pid1: {comm: pause}

Read from NSpid in /proc/PID/status: the pid in each nested pid namespace, the host's
first ("NSpid: 4242 1" = pid 4242 on the host, 1 inside its own namespace).

own_proc  also: the /proc that the process sees (in its mount namespace) is a procfs of its own
          pid namespace, so `ps` run there lists only the processes of that namespace. This is
          what `unshare --mount-proc` arranges. What a procfs mount shows is not part of the
          standing snapshot: wants() asks for it, and observe lists /proc/PID/root/proc into
          `snap.own_proc` (observe/inside.py read_own_proc, read-only).

How it tells whose /proc it is: a procfs lists every process under its pid *in the pid
namespace the procfs belongs to*. If the process appears in it under its inner pid (the last
NSpid entry, 1 for PID 1) with its own start time, the procfs is its namespace's; if it appears
under its host pid, it is the host's /proc.
"""
from __future__ import annotations

from ...observe.model import Process, ProcView, Snapshot, Wants
from ..base import Field, NotObserved, Verdict, v_bool
from ..containers import pid_namespace_advice
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import name


def nspid_text(proc: Process) -> str:
    return "NSpid: " + " ".join(map(str, proc.nspid))


def own_proc_of(snap: Snapshot, proc: Process) -> ProcView:
    """What the /proc in *proc*'s mount namespace lists, as the snapshot's `own_proc` part has it."""
    view = snap.own_proc.get(proc.pid)
    if view is None:
        raise NotObserved(f"the /proc that pid {proc.pid} sees")
    return view


def want_own_proc(snap: Snapshot, subject) -> Wants:
    proc = pick(snap, subject).proc
    return Wants(own_proc=frozenset({proc.pid})) if proc is not None else Wants()


@register
class PidOne(ProcessExpectation):
    kind = "pid1"
    fields = {
        **SUBJECT_FIELDS,
        "own_proc": Field(v_bool, default=False,
                          doc="the /proc it sees belongs to its own pid namespace (ps inside lists only its tree)"),
    }

    def describe(self) -> str:
        text = f"{self.subject_words[0].upper()}{self.subject_words[1:]} is PID 1 in its own pid namespace"
        if self.own_proc:
            text += ", and the /proc it sees lists only that namespace's processes"
        return text

    def wants(self, snap: Snapshot) -> Wants:
        return want_own_proc(snap, self.subject) if self.own_proc else Wants()

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        container = snap.container_of_pid(proc.pid)
        fix = f"unshare --pid --fork --mount-proc {proc.command}"
        if not proc.nspid:
            return self.fail(f"{name(proc, snap)}: NSpid unreadable",
                             f"nstutor could not read NSpid from /proc/{proc.pid}/status."
                             + ("" if snap.is_root else " Run nstutor as root."))
        if len(proc.nspid) == 1 and container is not None:
            return self.fail(f"{name(proc, snap)} is in the host's pid namespace ({nspid_text(proc)})",
                             f"{name(proc, snap)} has only its host pid {proc.pid}: it is in the host's pid "
                             f"namespace. {pid_namespace_advice(container)}.")
        if len(proc.nspid) == 1:
            return self.fail(
                f"{name(proc, snap)} is in the host's pid namespace ({nspid_text(proc)})",
                f"{name(proc, snap)} has only its host pid {proc.pid}: it is in the host's pid namespace. "
                f"Start it as the first process of a new one (kill {proc.pid} first): {fix}. "
                f"--fork matters: without it unshare runs the command in the old pid namespace "
                f"and only its children would be in the new one.")
        if proc.nspid[-1] != 1:
            first = self._first_in(snap, proc)
            who = f"PID 1 there is {name(first, snap)}. " if first else ""
            if container is not None:
                return self.fail(
                    f"{name(proc, snap)} is pid {proc.nspid[-1]} in its own pid namespace ({nspid_text(proc)})",
                    f"{name(proc, snap)} is pid {proc.nspid[-1]} in its pid namespace, not 1: {who}"
                    f"{pid_namespace_advice(container)}.")
            return self.fail(
                f"{name(proc, snap)} is pid {proc.nspid[-1]} in its own pid namespace ({nspid_text(proc)})",
                f"{name(proc, snap)} is in a new pid namespace but is pid {proc.nspid[-1]} there, not 1. {who}"
                f"Make it the first process there: {fix} (a shell in between would be PID 1; use exec).")
        observed = (f"{name(proc, snap)} is PID 1 in pid namespace {proc.ns.get('pid')} ({nspid_text(proc)}: "
                    f"pid {proc.pid} on the host, 1 inside)")
        evidence = {"pid": proc.pid, "nspid": list(proc.nspid), "pid_ns": proc.ns.get("pid")}
        if not self.own_proc:
            return self.ok(observed, evidence)
        return self._grade_proc(snap, proc, observed, evidence)

    def _grade_proc(self, snap: Snapshot, proc: Process, observed: str, evidence: dict) -> Verdict:
        view = own_proc_of(snap, proc)
        if view.gone:
            return self.fail(f"{name(proc, snap)} exited while nstutor was looking",
                             "The process the snapshot saw has exited; start it again and check once more.")
        if view.error is not None:
            return self.fail(observed + f"; its /proc is unreadable ({view.error})",
                             f"nstutor could not list /proc/{proc.pid}/root/proc: {view.error}"
                             + ("" if snap.is_root else "; run nstutor as root") + ".")
        mnt = proc.ns.get("mnt")
        host_mnt = mnt is not None and mnt == snap.host_ns.get("mnt")
        restart = (f"stop it (kill -KILL {proc.pid}: as PID 1 of its namespace it ignores a plain kill) "
                   f"and start it again with: unshare --pid --fork --mount-proc {proc.command}")
        if not view.pids:
            where = "the host's mount namespace" if host_mnt else f"its mount namespace ({mnt})"
            inside = ("" if host_mnt else
                      f" Or mount one now, inside its namespaces: nsenter --target {proc.pid} --pid --mount "
                      f"mount -t proc proc /proc.")
            return self.fail(observed + f"; /proc in {where} lists no processes (no procfs is mounted there)",
                             f"There is no procfs at /proc for {name(proc, snap)}, so ps there shows nothing at all: "
                             + restart + "." + inside)
        listed = f"/proc as it sees it lists {len(view.pids)} process{'es' if len(view.pids) != 1 else ''}"
        if view.shows_as == proc.pid_in_own_ns:
            return self.ok(observed + f"; {listed}, itself as pid {view.shows_as}",
                           {**evidence, "proc_pids": list(view.pids[:50]), "proc_count": len(view.pids)})
        if view.shows_as is not None:
            whose = f"itself under its host pid {view.shows_as}: it is the host's /proc"
        else:
            whose = f"not itself as pid {proc.pid_in_own_ns}: it belongs to another pid namespace"
        if host_mnt:
            why = (f"{name(proc, snap)} shares the host's mount namespace, so its /proc is the host's, and ps there "
                   f"shows every process on the machine. --mount-proc gives it a mount namespace of its own "
                   f"with a fresh /proc for its pid namespace: {restart}.")
        else:
            why = (f"{name(proc, snap)} has its own mount namespace ({mnt}), but the /proc in it belongs to another "
                   f"pid namespace (a copy of the host's, or one mounted from outside the new pid namespace), "
                   f"so ps there shows the wrong processes. Mount a "
                   f"fresh one from inside both namespaces: nsenter --target {proc.pid} --pid --mount "
                   f"mount -t proc proc /proc (that is what --mount-proc does). Or: {restart}.")
        return self.fail(observed + f"; {listed}, {whose}", why)

    @staticmethod
    def _first_in(snap: Snapshot, proc: Process) -> Process | None:
        ino = proc.ns.get("pid")
        for p in snap.processes.values():
            if p.ns.get("pid") == ino and len(p.nspid) == len(proc.nspid) and p.nspid and p.nspid[-1] == 1:
                return p
        return None
