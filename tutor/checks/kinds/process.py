"""process: which namespaces a process has of its own, and which it shares.

    - process: {cmdline: '^sleep 1001$', own: [uts, ipc], host: [mnt, net, pid, user, cgroup, time]}
    - process: {cmdline: app-b, shared_with: {process: {comm: pause}, types: [net, ipc, uts]},
                private_from: {process: app-a, types: [mnt]}}

own          types whose namespace differs from the host's (Snapshot.host_ns)
first        with own: those namespaces are new ones, not someone else's it joined: no process that
             started before it is in them (processes that joined later, as in a pod, do not count)
host         types whose namespace is the host's
shared_with  {process: SELECTOR, types: [...]}: same namespace as that other process (when several
             match, e.g. one pause per pod on a node, the one it shares them with is meant)
private_from {process: SELECTOR, types: [...]}: a different namespace from that other process
own_on_cgroup_v2  [cgroup]: its own cgroup namespace where the machine runs cgroup v2 alone
             (Snapshot.cgroups.mode "v2"), the host's where cgroup v1 trees are mounted (v1, hybrid).
             That is what the engines do by default: Docker 20.10+, Podman and containerd's CRI
             create a cgroup namespace for a container only when /sys/fs/cgroup is cgroup2
             (`run --cgroupns private` or `--cgroupns host`, and dockerd's
             --default-cgroupns-mode, override that default):

    - process: {container: web, engine: docker, host: [user], own_on_cgroup_v2: [cgroup]}

Any of the selectors may name a container ({container: web-side, engine: docker}, {pod: podweb,
infra: true}): its main process is meant, and the fix is the engine's (`docker rm -f web-side; docker
run -d --name web-side --network container:web --pid container:web ...`):

    - process: {container: web-side, engine: docker, shared_with: {process: {container: web}, types: [net, pid]},
                private_from: {process: {container: web}, types: [mnt]}}

Namespaces are compared by inode, as `ls -l /proc/PID/ns` and lsns show them. A running
process cannot change its namespaces from outside, so every fix is "start it again with...".
"""
from __future__ import annotations

from typing import Any

from ...i18n import _, ngettext
from ...observe.model import NS_TYPES, Process, Snapshot, Wants
from ...texts import words
from ..base import Field, ProcessRef, Verdict, v_bool, v_nstypes, v_selector
from ..cgroup_version import cgroup_layout, cgroup_v2_alone, v_cgroup_only
from ..procs import (SUBJECT_FIELDS, UNSHARE_OPTION, ProcessExpectation, ns_summary, ns_unreadable_reason, pick,
                     restart_advice, same_ns_processes, want_programs)
from ..containers import recreate_advice
from ..registry import register
from ..select import capitalised, describe_selector, name


def v_relation(value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"process", "types"}:
        return "must be {process: SELECTOR, types: [net, ipc, ...]}"
    return v_selector(value["process"]) or v_nstypes(value["types"])


@register
class ProcessNamespaces(ProcessExpectation):
    kind = "process"
    fields = {
        **SUBJECT_FIELDS,
        "own": Field(v_nstypes, default=[], doc="namespace types that differ from the host's"),
        "first": Field(v_bool, default=False, doc="with own: no process older than it is in those namespaces"),
        "host": Field(v_nstypes, default=[], doc="namespace types that are the host's"),
        "shared_with": Field(v_relation, doc="{process: SELECTOR, types: [...]}: same namespaces as that process"),
        "private_from": Field(v_relation, doc="{process: SELECTOR, types: [...]}: other namespaces than that process"),
        "own_on_cgroup_v2": Field(v_cgroup_only, default=[], doc="[cgroup]: its own on a cgroup v2 machine, "
                                                                "the host's where cgroup v1 is mounted"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = super().extra_problems(spec)
        both = set(spec.get("own", [])) & set(spec.get("host", []))
        if both:
            out.append(f"'process': {', '.join(sorted(both))} cannot be both own and host")
        by_version = set(spec.get("own_on_cgroup_v2", [])) & (set(spec.get("own", [])) | set(spec.get("host", [])))
        if by_version:
            out.append(f"'process': {', '.join(sorted(by_version))} is in own_on_cgroup_v2: leave it out of own and host")
        if spec.get("first") and not spec.get("own"):
            out.append("'process': first says something about the own namespaces: it needs own")
        shared = set((spec.get("shared_with") or {}).get("types", []))
        private = set((spec.get("private_from") or {}).get("types", []))
        if shared & private and spec["shared_with"]["process"] == spec["private_from"]["process"]:
            out.append(f"'process': {', '.join(sorted(shared & private))} cannot be both shared with "
                       f"and private from the same process")
        return out

    def refers_to(self):
        """The subject, and the processes of shared_with and private_from: their selector sits inside
        a mapping ({process: SELECTOR, types: [...]}), which the field alone does not say."""
        yield from super().refers_to()
        for relation in (self.shared_with, self.private_from):
            if relation:
                yield ProcessRef(relation["process"])

    def describe(self) -> str:
        parts = []
        if self.own and self.first:
            parts.append(ngettext("its own {types} namespace (new ones: nobody was in them before it)",
                                  "its own {types} namespaces (new ones: nobody was in them before it)",
                                  len(self.own)).format(types=words(self.own)))
        elif self.own:
            parts.append(ngettext("its own {types} namespace", "its own {types} namespaces",
                                  len(self.own)).format(types=words(self.own)))
        if self.host:
            parts.append(_("the host's {types}").format(types=words(self.host)))
        if self.own_on_cgroup_v2:
            parts.append(_("its own cgroup namespace on a cgroup v2 machine, the host's where cgroup v1 is mounted"))
        if self.shared_with:
            parts.append(_("the same {types} as {process}").format(
                types=words(self.shared_with["types"]), process=describe_selector(self.shared_with["process"])))
        if self.private_from:
            parts.append(_("other {types} than {process}").format(
                types=words(self.private_from["types"]), process=describe_selector(self.private_from["process"])))
        # English capitalises the sentence's start; a Korean phrase may start with a name (web 컨테이너)
        subject = self.subject_words
        what = capitalised(subject)
        if not parts:
            return _("{process} runs").format(process=what)
        return _("{process} runs with {namespaces}").format(process=what, namespaces="; ".join(parts))

    def wants(self, snap: Snapshot) -> Wants:
        return want_programs([pick(snap, self.subject).proc])     # for the restart advice

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        own, host = self._own_host(snap)
        problems: list[str] = []
        unshare_types: list[str] = []       # what a fixed command line would unshare
        nsenter_types: list[str] = []       # ... and enter
        evidence: dict[str, Any] = {"pid": proc.pid, "ns": {t: proc.ns.get(t) for t in NS_TYPES if t in proc.ns}}
        observed = [f"{name(proc, snap)}: {ns_summary(snap, proc, self._types())}"]
        if self.own_on_cgroup_v2:
            observed[0] += _(" (this machine runs {layout})").format(layout=cgroup_layout(snap))

        for t in own:
            ino, host_ino = proc.ns.get(t), snap.host_ns.get(t)
            if ino is None:
                problems.append(ns_unreadable_reason(proc, t, snap) + ".")
            elif host_ino is None:
                problems.append(_("nstutor does not know the host's {type} namespace to compare with.").format(type=t))
            elif ino == host_ino:
                problems.append(_("{process} shares the host's {type} namespace ({inode}); it should have its own.")
                                .format(process=name(proc, snap), type=t, inode=ino)
                                + (self._by_version(snap, proc) if t in self.own_on_cgroup_v2 else ""))
            elif self.first and t in self.own and (older := _older_members(snap, proc, t, ino)):
                problems.append(_("{process} joined the {type} namespace ({inode}) that {older} was in before it; "
                                  "it should have a new one of its own.")
                                .format(process=name(proc, snap), type=t, inode=ino, older=name(older[0], snap)))
            unshare_types.append(t)
        for t in host:
            ino, host_ino = proc.ns.get(t), snap.host_ns.get(t)
            if ino is None:
                problems.append(ns_unreadable_reason(proc, t, snap) + ".")
            elif host_ino is not None and ino != host_ino:
                if snap.container_of_pid(proc.pid) is not None:
                    text = _("{process} has its own {type} namespace ({inode}); the host's is {host_inode}.")
                else:
                    text = _("{process} has its own {type} namespace ({inode}); the host's is {host_inode}: "
                             "start it without unshare's {option}.")
                problems.append(text.format(process=name(proc, snap), type=t, inode=ino, host_inode=host_ino,
                                            option=_option(t))
                                + (self._by_version(snap, proc) if t in self.own_on_cgroup_v2 else ""))
        other_pid = None
        if self.shared_with:
            types = self.shared_with["types"]
            other = pick(snap, self.shared_with["process"], _("the process to share with"),
                         prefer=lambda o: all(o.ns.get(t) is not None and o.ns.get(t) == proc.ns.get(t)
                                              for t in types))
            if other.proc is None:
                return self.fail("; ".join(observed + [other.observed]), other.message)
            other_pid = other.proc.pid
            evidence["shared_with"] = {"pid": other.proc.pid,
                                       "ns": {t: other.proc.ns.get(t) for t in self.shared_with["types"]}}
            observed.append(f"{name(other.proc, snap)}: {ns_summary(snap, other.proc, self.shared_with['types'])}")
            for t in self.shared_with["types"]:
                mine, theirs = proc.ns.get(t), other.proc.ns.get(t)
                if mine is None or theirs is None:
                    problems.append(ns_unreadable_reason(proc if mine is None else other.proc, t, snap) + ".")
                elif mine != theirs:
                    if mine == snap.host_ns.get(t):
                        text = _("{process} is still in the host's {type} namespace ({inode}); {other}'s is "
                                 "{other_inode}.")
                    else:
                        text = _("{process} has its own {type} namespace ({inode}); {other}'s is {other_inode}.")
                    problems.append(text.format(process=name(proc, snap), type=t, inode=mine,
                                                other=name(other.proc, snap), other_inode=theirs))
                    nsenter_types.append(t)
            if nsenter_types:
                # The restart must join every namespace the check asks to share, not only the
                # missing ones: the new process starts with none of the old one's.
                nsenter_types = list(self.shared_with["types"])
        if self.private_from:
            other = pick(snap, self.private_from["process"], _("the process to differ from"))
            if other.proc is None:
                return self.fail("; ".join(observed + [other.observed]), other.message)
            evidence["private_from"] = {"pid": other.proc.pid,
                                        "ns": {t: other.proc.ns.get(t) for t in self.private_from["types"]}}
            observed.append(f"{name(other.proc, snap)}: {ns_summary(snap, other.proc, self.private_from['types'])}")
            for t in self.private_from["types"]:
                mine, theirs = proc.ns.get(t), other.proc.ns.get(t)
                if mine is None or theirs is None:
                    problems.append(ns_unreadable_reason(proc if mine is None else other.proc, t, snap) + ".")
                elif mine == theirs:
                    problems.append(_("{process} shares its {type} namespace ({inode}) with {other}; "
                                      "it should have its own.")
                                    .format(process=name(proc, snap), type=t, inode=mine, other=name(other.proc, snap)))
                    if t not in unshare_types:
                        unshare_types.append(t)

        if not problems:
            return self.ok("; ".join(observed), evidence)
        # Namespaces are fixed at start, so the fix is a restart, and the new command line must keep
        # the namespaces of its own that this check asks for, not only add the missing one: a sleep
        # started with --uts but without --ipc is restarted with both.
        for t in own:
            if t not in unshare_types:
                unshare_types.append(t)
        unshare_types = [t for t in NS_TYPES if t in unshare_types]
        fix = self._fix(snap, proc, unshare_types, nsenter_types, other_pid, host)
        return self.fail("; ".join(observed), " ".join(problems) + fix)

    def _own_host(self, snap: Snapshot) -> tuple[list[str], list[str]]:
        """(own, host) on this machine: own_on_cgroup_v2 joins own on cgroup v2 alone, host elsewhere."""
        if cgroup_v2_alone(snap):
            return list(self.own) + list(self.own_on_cgroup_v2), list(self.host)
        return list(self.own), list(self.host) + list(self.own_on_cgroup_v2)

    @staticmethod
    def _by_version(snap: Snapshot, proc: Process) -> str:
        """' This machine runs cgroup v1 and v2 (hybrid): there ...': why the cgroup namespace should be
        so here, since the engines' default follows the cgroup version."""
        c = snap.container_of_pid(proc.pid)
        if cgroup_v2_alone(snap):
            text = (_("This machine runs {layout}: there the container engines give a container a cgroup "
                      "namespace of its own, unless it is run with --cgroupns host.") if c is None else
                    _("This machine runs {layout}: there {engine} gives a container a cgroup namespace of its "
                      "own, unless it is run with --cgroupns host."))
        else:
            text = (_("This machine runs {layout}: there the container engines leave a container in the host's "
                      "cgroup namespace, unless it is run with --cgroupns private.") if c is None else
                    _("This machine runs {layout}: there {engine} leaves a container in the host's cgroup "
                      "namespace, unless it is run with --cgroupns private."))
        return " " + text.format(layout=cgroup_layout(snap), engine=c.engine if c is not None else "")

    def _types(self) -> list[str]:
        seen: list[str] = []
        for t in list(self.own) + list(self.host) + list(self.own_on_cgroup_v2):
            if t not in seen:
                seen.append(t)
        for rel in (self.shared_with, self.private_from):
            for t in (rel or {}).get("types", []):
                if t not in seen:
                    seen.append(t)
        return seen or ["mnt", "net", "pid", "uts", "ipc", "user"]

    def _fix(self, snap: Snapshot, proc: Process, unshare_types: list[str], nsenter_types: list[str],
             other_pid: int | None, host: list[str]) -> str:
        """One command line that would start the process right (namespaces are fixed at start): for a
        container, its engine's (the container is removed and run again with the right options)."""
        container = snap.container_of_pid(proc.pid)
        if container is None:
            return restart_advice(snap, proc, unshare_types, nsenter_types, other_pid)
        # The new container starts with none of the old one's options: join all it should share.
        other = snap.container_of_pid(other_pid) if other_pid is not None else None
        shared = list(self.shared_with["types"]) if self.shared_with and other_pid is not None else []
        join = {t: other if other is not None else other_pid for t in shared}
        return recreate_advice(snap, container, join, host=host,
                               own=[t for t in unshare_types if t not in join])


def _older_members(snap: Snapshot, proc: Process, ns_type: str, inode: int) -> list[Process]:
    """The processes in that namespace that started before *proc*, oldest first (a start time of 0 is
    unknown and says nothing)."""
    older = [p for p in same_ns_processes(snap, ns_type, inode)
             if p.pid != proc.pid and 0 < p.start_ticks < proc.start_ticks]
    return sorted(older, key=lambda p: (p.start_ticks, p.pid))


def _option(ns_type: str) -> str:
    return UNSHARE_OPTION[ns_type].split()[0]
