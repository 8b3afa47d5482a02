"""parent: which process is a process's parent (its PPID), e.g. an orphan adopted by a pod's pause.

    - parent: {cmdline: '^sleep 1014$', parent: {comm: pause}}

parent   selector of the process that must be the parent. When several match (one pause per pod
         on a node), the one that is the parent is meant.

When a process's parent exits, the kernel hands the orphan to PID 1 of the orphan's own pid
namespace (or to a "child subreaper" above it in that namespace). The messages say which of
those happened instead, and why.
"""
from __future__ import annotations

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
        return f"the parent of {self.subject_words} is {describe_selector(self.parent)}"

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        wanted = pick(snap, self.parent, "the parent", prefer=lambda p: p.pid == proc.ppid)
        actual = snap.processes.get(proc.ppid)
        actual_text = name(actual, snap) if actual else f"pid {proc.ppid}"
        observed = f"{name(proc, snap)} has the parent {actual_text}"
        if wanted.proc is None:
            return self.fail(f"{observed}; {wanted.observed}", wanted.message)
        parent = wanted.proc
        if proc.ppid == parent.pid:
            role = " (PID 1 of its pid namespace)" if parent.nspid and parent.nspid[-1] == 1 else ""
            return self.ok(observed + role, {"pid": proc.pid, "ppid": proc.ppid, "parent": parent.pid})

        mine, theirs = proc.ns.get("pid"), parent.ns.get("pid")
        init = pid1_of(snap, mine)
        if mine is not None and theirs is not None and mine != theirs:
            host = " (the host's)" if mine == snap.host_ns.get("pid") else ""
            return self.fail(observed,
                             f"{name(proc, snap)} is in pid namespace {mine}{host}, {name(parent, snap)} in {theirs}. "
                             f"An orphan is adopted by PID 1 of its own pid namespace, so "
                             f"{name(parent, snap)} can only adopt processes started inside its namespace. "
                             f"Stop it (kill {proc.pid}) and start it in there: "
                             f"nsenter --target {parent.pid} --pid --mount sh -c '{proc.command} & exit'")
        if actual is not None and init is not None and actual.pid != init.pid:
            return self.fail(observed,
                             f"Its parent {actual_text} is still running, so it is not an orphan yet: a process "
                             f"is handed to PID 1 only when its parent exits. Start it from a shell that exits "
                             f"right away (sh -c '{proc.command} & exit'), or stop the parent (kill {actual.pid}).")
        if init is not None and init.pid != parent.pid:
            return self.fail(observed,
                             f"PID 1 of its pid namespace is {name(init, snap)}, not {name(parent, snap)}: orphans go to "
                             f"PID 1. Make {describe_selector(self.parent)} PID 1 of the namespace.")
        return self.fail(observed, f"Its parent is {actual_text}, not {name(parent, snap)}. Stop it (kill {proc.pid}) "
                                   f"and start it again as the lesson shows.")
