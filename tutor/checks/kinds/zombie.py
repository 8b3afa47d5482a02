"""zombie: an orphan's zombie left behind by a PID 1 that does not reap (the contrast to no_zombies).

    - zombie: {cmdline: '^sleep 1114$'}

The process named is any process of the pid namespace (usually its PID 1). The check passes
when that namespace holds a zombie whose parent is its PID 1: an orphan was handed to PID 1,
exited, and PID 1 never called wait() for it. That is what a pod without a reaping pause looks
like; no_zombies checks the opposite.
"""
from __future__ import annotations

from ...observe.model import Snapshot
from ...i18n import _, ngettext
from ..base import Verdict
from ..pid_namespaces import pid1_of, pid_ns_of
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..registry import register
from ..select import name


@register
class Zombie(ProcessExpectation):
    kind = "zombie"
    fields = dict(SUBJECT_FIELDS)

    def describe(self) -> str:
        return _("a zombie left unreaped by PID 1 of the pid namespace of {process}").format(
            process=self.subject_words)

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "pid")
        if isinstance(found, Verdict):
            return found
        proc, pidns = found
        if pidns == snap.host_ns.get("pid"):
            return self.fail(_("{process} is in the host's pid namespace ({pidns})").format(
                                 process=name(proc, snap), pidns=pidns),
                             _("{process} is in the host's pid namespace, whose PID 1 (init) reaps every "
                               "orphan. The contrast needs a pid namespace of its own with a PID 1 that does "
                               "not reap: kill {pid}; {command}")
                             .format(process=name(proc, snap), pid=proc.pid,
                                     command=f"unshare --pid --fork --mount-proc {proc.command}"))
        init = pid1_of(snap, pidns)
        if init is None:
            return self.fail(_("pid namespace {pidns} of {process} has no running PID 1").format(
                                 pidns=pidns, process=name(proc, snap)),
                             _("Its PID 1 has exited, and with it the whole namespace: start it again (see the "
                               "lesson)."))
        members = [p for p in snap.processes.values() if pid_ns_of(snap, p) == pidns]
        zombies = sorted((p for p in members if p.is_zombie), key=lambda p: p.pid)
        adopted = [z for z in zombies if z.ppid == init.pid]
        where = _("pid namespace {pidns}, whose PID 1 is {init}").format(pidns=pidns, init=name(init, snap))
        make_orphan = f"nsenter --target {init.pid} --pid --mount sh -c 'sleep 1 & exit'"
        if adopted:
            return self.ok(ngettext("{n} zombie in {where}, never reaped: {zombies}",
                                    "{n} zombies in {where}, never reaped: {zombies}", len(adopted))
                           .format(n=len(adopted), where=where,
                                   zombies=", ".join(f"[{z.comm}] (pid {z.pid})" for z in adopted[:5])),
                           {"pid1": init.pid, "pid_ns": pidns, "zombies": [z.pid for z in adopted]})
        if zombies:
            parents = ", ".join(sorted({str(z.ppid) for z in zombies}))
            return self.fail(ngettext("{n} zombie in {where}, with parent(s) {parents}",
                                      "{n} zombies in {where}, with parent(s) {parents}", len(zombies))
                             .format(n=len(zombies), where=where, parents=parents),
                             _("There are zombies, but their parent is not PID 1: they are not orphans, their own "
                               "parent just has not collected them yet. Make an orphan instead, whose parent exits "
                               "first: {command}").format(command=make_orphan))
        running = [p for p in members if p.ppid == init.pid and not p.is_zombie and p.pid != init.pid]
        waiting = (" " + _("{process} is an orphan of PID 1 that is still running: when it exits it stays a "
                           "zombie.").format(process=name(running[0], snap)) if running else "")
        return self.fail(_("no zombie in {where}").format(where=where),
                         _("No orphan has exited in there yet.{waiting} Make one: {command} "
                           "(the sh exits at once; sleep is handed to PID 1 and exits a second later).")
                         .format(waiting=waiting, command=make_orphan))
