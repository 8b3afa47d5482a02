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

from ...i18n import _, ngettext
from ...observe.model import Process, ProcView, Snapshot, Wants
from ..base import Field, NotObserved, Verdict, v_bool
from ..containers import pid_namespace_advice
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import capitalised, name


def nspid_text(proc: Process) -> str:
    return "NSpid: " + " ".join(map(str, proc.nspid))


def own_proc_of(snap: Snapshot, proc: Process) -> ProcView:
    """What the /proc in *proc*'s mount namespace lists, as the snapshot's `own_proc` part has it."""
    view = snap.own_proc.get(proc.pid)
    if view is None:
        raise NotObserved(_("the /proc that pid {pid} sees").format(pid=proc.pid))
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
        # English capitalises the sentence's start; a Korean phrase may start with a name (web 컨테이너)
        subject = self.subject_words
        what = capitalised(subject)
        if self.own_proc:
            return _("{process} is PID 1 in its own pid namespace, and the /proc it sees lists only that "
                     "namespace's processes").format(process=what)
        return _("{process} is PID 1 in its own pid namespace").format(process=what)

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
            return self.fail(_("{process}: NSpid unreadable").format(process=name(proc, snap)),
                             (_("nstutor could not read NSpid from /proc/{pid}/status.") if snap.is_root else
                              _("nstutor could not read NSpid from /proc/{pid}/status. Run nstutor as root."))
                             .format(pid=proc.pid))
        if len(proc.nspid) == 1:
            observed = _("{process} is in the host's pid namespace ({nspid})").format(
                process=name(proc, snap), nspid=nspid_text(proc))
            if container is not None:
                return self.fail(observed,
                                 _("{process} has only its host pid {pid}: it is in the host's pid namespace. "
                                   "{advice}.").format(process=name(proc, snap), pid=proc.pid,
                                                       advice=pid_namespace_advice(container)))
            return self.fail(observed,
                             _("{process} has only its host pid {pid}: it is in the host's pid namespace. "
                               "Start it as the first process of a new one (kill {pid} first): {command}. "
                               "--fork matters: without it unshare runs the command in the old pid namespace "
                               "and only its children would be in the new one.")
                             .format(process=name(proc, snap), pid=proc.pid, command=fix))
        if proc.nspid[-1] != 1:
            first = self._first_in(snap, proc)
            who = _("PID 1 there is {process}. ").format(process=name(first, snap)) if first else ""
            observed = _("{process} is pid {inner} in its own pid namespace ({nspid})").format(
                process=name(proc, snap), inner=proc.nspid[-1], nspid=nspid_text(proc))
            if container is not None:
                return self.fail(observed,
                                 _("{process} is pid {inner} in its pid namespace, not 1: {who}{advice}.")
                                 .format(process=name(proc, snap), inner=proc.nspid[-1], who=who,
                                         advice=pid_namespace_advice(container)))
            return self.fail(observed,
                             _("{process} is in a new pid namespace but is pid {inner} there, not 1. {who}"
                               "Make it the first process there: {command} (a shell in between would be PID 1; "
                               "use exec).").format(process=name(proc, snap), inner=proc.nspid[-1], who=who,
                                                     command=fix))
        observed = (_("{process} is PID 1 in pid namespace {pidns} ({nspid}: pid {pid} on the host, 1 inside)")
                    .format(process=name(proc, snap), pidns=proc.ns.get("pid"), nspid=nspid_text(proc),
                            pid=proc.pid))
        evidence = {"pid": proc.pid, "nspid": list(proc.nspid), "pid_ns": proc.ns.get("pid")}
        if not self.own_proc:
            return self.ok(observed, evidence)
        return self._grade_proc(snap, proc, observed, evidence)

    def _grade_proc(self, snap: Snapshot, proc: Process, observed: str, evidence: dict) -> Verdict:
        view = own_proc_of(snap, proc)
        if view.gone:
            return self.fail(_("{process} exited while nstutor was looking").format(process=name(proc, snap)),
                             _("The process the snapshot saw has exited; start it again and check once more."))
        if view.error is not None:
            return self.fail(_("{observed}; its /proc is unreadable ({error})").format(observed=observed,
                                                                                      error=view.error),
                             (_("nstutor could not list /proc/{pid}/root/proc: {error}.") if snap.is_root else
                              _("nstutor could not list /proc/{pid}/root/proc: {error}; run nstutor as root."))
                             .format(pid=proc.pid, error=view.error))
        mnt = proc.ns.get("mnt")
        host_mnt = mnt is not None and mnt == snap.host_ns.get("mnt")
        restart = (_("stop it (kill -KILL {pid}: as PID 1 of its namespace it ignores a plain kill) "
                     "and start it again with: {command}")
                   .format(pid=proc.pid, command=f"unshare --pid --fork --mount-proc {proc.command}"))
        mount_inside = f"nsenter --target {proc.pid} --pid --mount mount -t proc proc /proc"
        if not view.pids:
            where = _("the host's mount namespace") if host_mnt else _("its mount namespace ({mnt})").format(mnt=mnt)
            inside = ("" if host_mnt else
                      " " + _("Or mount one now, inside its namespaces: {command}.").format(command=mount_inside))
            return self.fail(_("{observed}; /proc in {where} lists no processes (no procfs is mounted there)")
                             .format(observed=observed, where=where),
                             _("There is no procfs at /proc for {process}, so ps there shows nothing at all: "
                               "{restart}.").format(process=name(proc, snap), restart=restart) + inside)
        listed = ngettext("/proc as it sees it lists {n} process", "/proc as it sees it lists {n} processes",
                          len(view.pids)).format(n=len(view.pids))
        if view.shows_as == proc.pid_in_own_ns:
            return self.ok(_("{observed}; {listed}, itself as pid {pid}").format(observed=observed, listed=listed,
                                                                                pid=view.shows_as),
                           {**evidence, "proc_pids": list(view.pids[:50]), "proc_count": len(view.pids)})
        if view.shows_as is not None:
            whose = _("itself under its host pid {pid}: it is the host's /proc").format(pid=view.shows_as)
        else:
            whose = _("not itself as pid {pid}: it belongs to another pid namespace").format(pid=proc.pid_in_own_ns)
        if host_mnt:
            why = _("{process} shares the host's mount namespace, so its /proc is the host's, and ps there "
                    "shows every process on the machine. --mount-proc gives it a mount namespace of its own "
                    "with a fresh /proc for its pid namespace: {restart}.").format(process=name(proc, snap),
                                                                                  restart=restart)
        else:
            why = _("{process} has its own mount namespace ({mnt}), but the /proc in it belongs to another "
                    "pid namespace (a copy of the host's, or one mounted from outside the new pid namespace), "
                    "so ps there shows the wrong processes. Mount a fresh one from inside both namespaces: "
                    "{command} (that is what --mount-proc does). Or: {restart}.").format(
                        process=name(proc, snap), mnt=mnt, command=mount_inside, restart=restart)
        return self.fail(_("{observed}; {listed}, {whose}").format(observed=observed, listed=listed, whose=whose),
                         why)

    @staticmethod
    def _first_in(snap: Snapshot, proc: Process) -> Process | None:
        ino = proc.ns.get("pid")
        for p in snap.processes.values():
            if p.ns.get("pid") == ino and len(p.nspid) == len(proc.nspid) and p.nspid and p.nspid[-1] == 1:
                return p
        return None
