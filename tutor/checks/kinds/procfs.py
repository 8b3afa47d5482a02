"""procfs: the /proc a process sees lists the processes of its own pid namespace (what ps shows there).

    - procfs: {cmdline: '^app-b '}

For PID 1 of a namespace, `pid1: {own_proc: true}` says the same. This kind is for a process
that is not PID 1: a container that joined a pod's pid namespace (`nsenter --pid`) and made a
mount namespace of its own. `unshare --mount --mount-proc` then mounts a procfs of the pod's pid
namespace, so `ps -ef` in there lists the pod, the pause as PID 1; a plain `unshare --mount`
keeps its copy of the host's /proc, and ps lists every process of the machine.

Read as pid1's own_proc reads it (wants() asks, observe/inside.py read_own_proc lists it into
`snap.own_proc`): a procfs lists each process under its pid in the pid namespace the procfs
belongs to, so the process must appear in it under its innermost pid (the last NSpid entry).
"""
from __future__ import annotations

from ...observe.model import Snapshot, Wants
from ..base import Verdict
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import name
from .pid1 import own_proc_of, want_own_proc


@register
class ProcfsView(ProcessExpectation):
    kind = "procfs"
    fields = dict(SUBJECT_FIELDS)

    def describe(self) -> str:
        return f"the /proc that {self.subject_words} sees lists the processes of its own pid namespace"

    def wants(self, snap: Snapshot) -> Wants:
        return want_own_proc(snap, self.subject)

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        inner = proc.pid_in_own_ns
        view = own_proc_of(snap, proc)
        if view.gone:
            return self.fail(f"{name(proc, snap)} exited while nstutor was looking",
                             "The process the snapshot saw has exited; start it again and check once more.")
        if view.error is not None:
            return self.fail(f"{name(proc, snap)}: its /proc is unreadable ({view.error})",
                             f"nstutor could not list /proc/{proc.pid}/root/proc: {view.error}"
                             + ("" if snap.is_root else "; run nstutor as root") + ".")
        listed = f"/proc as {name(proc, snap)} sees it lists {len(view.pids)} process{'es' if len(view.pids) != 1 else ''}"
        evidence = {"pid": proc.pid, "pid_in_own_ns": inner, "proc_count": len(view.pids), "pid_ns": proc.ns.get("pid")}
        if view.shows_as == inner:
            return self.ok(f"{listed}, itself as pid {inner} (pid {proc.pid} on the host)", evidence)
        own_mnt = proc.ns.get("mnt") not in (None, snap.host_ns.get("mnt"))
        mount_here = (f"nsenter --target {proc.pid} --pid --mount mount -t proc proc /proc" if own_mnt else None)
        if not view.pids:
            whose = "no procfs is mounted there"
        elif view.shows_as == proc.pid:
            whose = f"itself under its host pid {proc.pid}: it is the host's /proc, so ps there lists every process"
        else:
            whose = f"not itself as pid {inner}: it belongs to another pid namespace"
        how = (f"Mount its own from inside both namespaces: {mount_here} (that is what unshare --mount-proc "
               f"does)" if mount_here else
               f"{name(proc, snap)} shares the host's mount namespace, so it cannot have a /proc of its own: start it "
               f"with unshare --mount --mount-proc")
        return self.fail(f"{listed}, {whose}",
                         f"The /proc that {name(proc, snap)} sees does not belong to its pid namespace ({whose}). {how}.")
