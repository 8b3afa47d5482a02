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

from ...i18n import _, ngettext
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
        return _("the /proc that {subject} sees lists the processes of its own pid namespace").format(
            subject=self.subject_words)

    def wants(self, snap: Snapshot) -> Wants:
        return want_own_proc(snap, self.subject)

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        inner = proc.pid_in_own_ns
        view = own_proc_of(snap, proc)
        who = name(proc, snap)
        if view.gone:
            return self.fail(_("{process} exited while nstutor was looking").format(process=who),
                             _("The process the snapshot saw has exited; start it again and check once more."))
        if view.error is not None:
            return self.fail(_("{process}: its /proc is unreadable ({error})").format(process=who, error=view.error),
                             (_("nstutor could not list {directory}: {error}.") if snap.is_root
                              else _("nstutor could not list {directory}: {error}; run nstutor as root.")).format(
                                 directory=f"/proc/{proc.pid}/root/proc", error=view.error))
        count = len(view.pids)
        listed = ngettext("/proc as {process} sees it lists {n} process",
                          "/proc as {process} sees it lists {n} processes", count).format(process=who, n=count)
        evidence = {"pid": proc.pid, "pid_in_own_ns": inner, "proc_count": len(view.pids), "pid_ns": proc.ns.get("pid")}
        if view.shows_as == inner:
            return self.ok(_("{listed}, itself as pid {inner} (pid {pid} on the host)").format(
                listed=listed, inner=inner, pid=proc.pid), evidence)
        own_mnt = proc.ns.get("mnt") not in (None, snap.host_ns.get("mnt"))
        mount_here = (f"nsenter --target {proc.pid} --pid --mount mount -t proc proc /proc" if own_mnt else None)
        if not view.pids:
            whose = _("no procfs is mounted there")
        elif view.shows_as == proc.pid:
            whose = _("itself under its host pid {pid}: it is the host's /proc, so ps there lists every "
                      "process").format(pid=proc.pid)
        else:
            whose = _("not itself as pid {inner}: it belongs to another pid namespace").format(inner=inner)
        how = (_("Mount its own from inside both namespaces: {command} (that is what unshare --mount-proc "
                 "does)").format(command=mount_here) if mount_here else
               _("{process} shares the host's mount namespace, so it cannot have a /proc of its own: start it "
                 "with unshare --mount --mount-proc").format(process=who))
        return self.fail(_("{listed}, {whose}").format(listed=listed, whose=whose),
                         _("The /proc that {process} sees does not belong to its pid namespace ({whose}). "
                           "{how}.").format(process=who, whose=whose, how=how))
