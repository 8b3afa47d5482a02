"""no_zombies: no zombie process in the pid namespace of a process (e.g. a pod's pause).

    - no_zombies: {comm: pause}
    - no_zombies: {comm: pause, reaped: true}

A zombie has exited but its parent has not collected its exit status (wait()). When a parent
dies, its children are re-parented to PID 1 of their pid namespace, which must reap them: the
pause of a pod with a shared pid namespace does exactly that.

reaped  PID 1 of the namespace must also have reaped at least one exited child: "no zombie" alone
        holds before any orphan has exited. The evidence is the kernel's own: when a process
        collects a child with wait(), the child's page faults are added to its parent's cminflt
        and cmajflt (/proc/PID/stat, Process.child_faults), and only then. So they are above 0
        once PID 1 has reaped a child; a pause has no children but the orphans it is handed (it
        forks nothing itself), so for it, above 0 means it reaped an orphan.

Membership of the pid namespace is decided as tutor/checks/pid_namespaces.py says.
"""
from __future__ import annotations

from ...observe.model import Process, Snapshot
from ...i18n import _, ngettext
from ..base import Field, Verdict, v_bool
from ..pid_namespaces import pid1_of, pid_ns_of
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..registry import register
from ..select import name


@register
class NoZombies(ProcessExpectation):
    kind = "no_zombies"
    fields = {
        **SUBJECT_FIELDS,
        "reaped": Field(v_bool, default=False, doc="PID 1 of the namespace must have reaped an exited child too"),
    }

    def describe(self) -> str:
        if self.reaped:
            return _("no zombie process in the pid namespace of {process}, whose PID 1 has reaped an exited "
                     "orphan").format(process=self.subject_words)
        return _("no zombie process in the pid namespace of {process}").format(process=self.subject_words)

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "pid")
        if isinstance(found, Verdict):
            return found
        proc, pidns = found
        members = [p for p in snap.processes.values() if pid_ns_of(snap, p) == pidns]
        zombies = sorted((p for p in members if p.is_zombie), key=lambda p: p.pid)
        init = pid1_of(snap, pidns)
        host = _(" (the host's)") if pidns == snap.host_ns.get("pid") else ""
        where = _("pid namespace {pidns}{host} of {process}").format(pidns=pidns, host=host, process=name(proc, snap))
        if not zombies:
            evidence = {"pid": proc.pid, "pid_ns": pidns, "processes": len(members),
                        "pid1": init.pid if init else None}
            observed = ngettext("{n} process in {where}, no zombie", "{n} processes in {where}, no zombie",
                                len(members)).format(n=len(members), where=where)
            if not self.reaped:
                return self.ok(observed, evidence)
            return self._grade_reaped(snap, observed, evidence, init, members)
        lines = []
        for z in zombies[:5]:
            parent = snap.processes.get(z.ppid)
            pname = name(parent, snap) if parent else f"pid {z.ppid}"
            lines.append(_("{zombie} whose parent is {parent}").format(zombie=name(z, snap), parent=pname))
        more = _(" and {n} more").format(n=len(zombies) - 5) if len(zombies) > 5 else ""
        observed = ngettext("{n} zombie in {where}: {zombies}{more}", "{n} zombies in {where}: {zombies}{more}",
                            len(zombies)).format(n=len(zombies), where=where, zombies="; ".join(lines), more=more)
        parents = sorted({z.ppid for z in zombies})
        if init is not None and parents == [init.pid]:
            advice = _("Their parent is PID 1 of the namespace, {init}, and it does not reap its "
                       "children. PID 1 of a pod must wait() for orphans, as a real pause does; "
                       "start nstutor's pause (or another reaping init) as PID 1 instead.").format(init=name(init, snap))
        else:
            to_kill = [p for p in parents if init is None or p != init.pid]
            reaper = (_("PID 1 there, {init}, which reaps it").format(init=name(init, snap)) if init
                      else _("PID 1 of the namespace"))
            advice = _("The parent has not collected the exit status (wait()). Stop the parent "
                       "({command}): its zombie children pass to {reaper}.").format(
                           command=f"kill {' '.join(map(str, to_kill))}", reaper=reaper)
        return self.fail(observed, ngettext("{n} zombie in {where}. {advice}", "{n} zombies in {where}. {advice}",
                                            len(zombies)).format(n=len(zombies), where=where, advice=advice))

    def _grade_reaped(self, snap: Snapshot, observed: str, evidence: dict, init: Process | None,
                      members: list[Process]) -> Verdict:
        """No zombie is left; has PID 1 reaped anything (its children's page faults, counted at wait())?"""
        if init is None:
            return self.fail(_("{observed}, and no PID 1 nstutor can see").format(observed=observed),
                             _("The pid namespace has no running PID 1 that nstutor can see, so nothing in it can "
                               "reap orphans. Start the pod again (see the lesson)."))
        if init.child_faults > 0:
            return self.ok(_("{observed}; its PID 1, {init}, has reaped exited children "
                             "(their {faults} page faults are in its cminflt)")
                           .format(observed=observed, init=name(init, snap), faults=init.child_faults),
                           {**evidence, "child_faults": init.child_faults})
        running = sorted((p for p in members if p.ppid == init.pid and p.pid != init.pid and not p.is_zombie),
                         key=lambda p: p.pid)
        waiting = (" " + _("{process} is an orphan it was handed, still running: it is reaped when it "
                           "exits.").format(process=name(running[0], snap)) if running else "")
        return self.fail(_("{observed}, but its PID 1, {init}, has not reaped any child yet "
                           "(cminflt 0 in /proc/{pid}/stat)").format(observed=observed, init=name(init, snap),
                                                                     pid=init.pid),
                         _("No zombie, but only because no orphan has exited in there yet: nothing has been "
                           "reaped.{waiting} Make an orphan that exits: {command}, then wait a second.")
                         .format(waiting=waiting,
                                 command=f"nsenter --target {init.pid} --pid --mount sh -c 'sleep 1 & exit'"))
