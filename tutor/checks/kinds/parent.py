"""parent: which process is a process's parent (its PPID), e.g. an orphan adopted by a pod's pause.

    - parent: {cmdline: '^sleep 1014$', parent: {comm: pause}}

parent   selector of the process that must be the parent. When several match (one pause per pod
         on a node), the one that is the parent is meant.

When a process's parent exits, the kernel hands the orphan to PID 1 of the orphan's own pid
namespace (or to a "child subreaper" above it in that namespace). The messages say which of
those happened instead, and why.
"""
from __future__ import annotations

from ...i18n import _
from ...observe.model import Snapshot
from ..base import Field, Verdict, v_selector
from ..pid_namespaces import pid1_of
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import describe_selector, name


@register
class Parent(ProcessExpectation):
    kind = "parent"
    fields = {
        **SUBJECT_FIELDS,
        "parent": Field(v_selector, required=True, doc="the process that must be its parent, e.g. {comm: pause}"),
    }

    def describe(self) -> str:
        return _("the parent of {process} is {parent}").format(process=self.subject_words,
                                                                 parent=describe_selector(self.parent))

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        wanted = pick(snap, self.parent, _("the parent"), prefer=lambda p: p.pid == proc.ppid)
        actual = snap.processes.get(proc.ppid)
        actual_text = name(actual, snap) if actual else f"pid {proc.ppid}"
        observed = _("{process} has the parent {parent}").format(process=name(proc, snap), parent=actual_text)
        if wanted.proc is None:
            return self.fail(f"{observed}; {wanted.observed}", wanted.message)
        parent = wanted.proc
        if proc.ppid == parent.pid:
            if parent.nspid and parent.nspid[-1] == 1:
                observed = _("{process} has the parent {parent} (PID 1 of its pid namespace)").format(
                    process=name(proc, snap), parent=actual_text)
            return self.ok(observed, {"pid": proc.pid, "ppid": proc.ppid, "parent": parent.pid})

        mine, theirs = proc.ns.get("pid"), parent.ns.get("pid")
        init = pid1_of(snap, mine)
        if mine is not None and theirs is not None and mine != theirs:
            host = _(" (the host's)") if mine == snap.host_ns.get("pid") else ""
            return self.fail(observed,
                             _("{process} is in pid namespace {pidns}{host}, {parent} in {parent_pidns}. "
                               "An orphan is adopted by PID 1 of its own pid namespace, so "
                               "{parent} can only adopt processes started inside its namespace. "
                               "Stop it (kill {pid}) and start it in there: {command}")
                             .format(process=name(proc, snap), pidns=mine, host=host, parent=name(parent, snap),
                                     parent_pidns=theirs, pid=proc.pid,
                                     command=f"nsenter --target {parent.pid} --pid --mount sh -c "
                                             f"'{proc.command} & exit'"))
        if actual is not None and init is not None and actual.pid != init.pid:
            return self.fail(observed,
                             _("Its parent {parent} is still running, so it is not an orphan yet: a process "
                               "is handed to PID 1 only when its parent exits. Start it from a shell that exits "
                               "right away ({command}), or stop the parent (kill {pid}).")
                             .format(parent=actual_text, command=f"sh -c '{proc.command} & exit'", pid=actual.pid))
        if init is not None and init.pid != parent.pid:
            return self.fail(observed,
                             _("PID 1 of its pid namespace is {init}, not {parent}: orphans go to "
                               "PID 1. Make {selector} PID 1 of the namespace.")
                             .format(init=name(init, snap), parent=name(parent, snap),
                                     selector=describe_selector(self.parent)))
        return self.fail(observed, _("Its parent is {actual}, not {parent}. Stop it (kill {pid}) "
                                     "and start it again as the lesson shows.")
                         .format(actual=actual_text, parent=name(parent, snap), pid=proc.pid))
