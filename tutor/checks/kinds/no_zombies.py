"""no_zombies: no zombie process in the pid namespace of a process (e.g. a pod's pause).

    - no_zombies: {comm: pause}

A zombie has exited but its parent has not collected its exit status (wait()). When a parent
dies, its children are re-parented to PID 1 of their pid namespace, which must reap them: the
pause of a pod with a shared pid namespace does exactly that.

Membership of the pid namespace is decided as tutor/checks/pid_namespaces.py says.
"""
from __future__ import annotations

from ...observe.model import Snapshot
from ...texts import counted
from ..base import Verdict
from ..pid_namespaces import pid1_of, pid_ns_of
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..registry import register
from ..select import name


@register
class NoZombies(ProcessExpectation):
    kind = "no_zombies"
    fields = dict(SUBJECT_FIELDS)

    def describe(self) -> str:
        return f"no zombie process in the pid namespace of {self.subject_words}"

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "pid")
        if isinstance(found, Verdict):
            return found
        proc, pidns = found
        members = [p for p in snap.processes.values() if pid_ns_of(snap, p) == pidns]
        zombies = sorted((p for p in members if p.is_zombie), key=lambda p: p.pid)
        init = pid1_of(snap, pidns)
        host = " (the host's)" if pidns == snap.host_ns.get("pid") else ""
        where = f"pid namespace {pidns}{host} of {name(proc, snap)}"
        if not zombies:
            return self.ok(f"{counted(len(members), 'process', 'processes')} in {where}, no zombie",
                           {"pid": proc.pid, "pid_ns": pidns, "processes": len(members),
                            "pid1": init.pid if init else None})
        lines = []
        for z in zombies[:5]:
            parent = snap.processes.get(z.ppid)
            pname = name(parent, snap) if parent else f"pid {z.ppid}"
            lines.append(f"{name(z, snap)} whose parent is {pname}")
        more = f" and {len(zombies) - 5} more" if len(zombies) > 5 else ""
        observed = (f"{counted(len(zombies), 'zombie')} in {where}: " + "; ".join(lines) + more)
        parents = sorted({z.ppid for z in zombies})
        if init is not None and parents == [init.pid]:
            advice = (f"Their parent is PID 1 of the namespace, {name(init, snap)}, and it does not reap its "
                      f"children. PID 1 of a pod must wait() for orphans, as a real pause does; "
                      f"start nstutor's pause (or another reaping init) as PID 1 instead.")
        else:
            to_kill = [p for p in parents if init is None or p != init.pid]
            reaper = f"PID 1 there, {name(init, snap)}, which reaps it" if init else "PID 1 of the namespace"
            advice = (f"The parent has not collected the exit status (wait()). Stop the parent "
                      f"(kill {' '.join(map(str, to_kill))}): its zombie children pass to {reaper}.")
        return self.fail(observed, f"{counted(len(zombies), 'zombie')} in {where}. {advice}")
