"""pod: a pause process and member processes, sharing some namespaces and keeping others.

    - pod: {pause: {comm: pause}, members: ['^app-a', '^app-b'], shared: [net, ipc, uts], private: [mnt, pid]}

pause    selector of the process that holds the pod's namespaces (usually {comm: pause})
members  selectors of the containers' processes
shared   types every member shares with the pause (default net, ipc, uts)
private  types every member has of its own: different from the pause's, the host's and the other
         members' (default mnt, pid)
private_on_cgroup_v2  [cgroup]: private where this machine has a pure cgroup v2 layout, shared with the
         pause on cgroup v1 or hybrid. containerd, Docker and Podman all give a (non-privileged) container
         a cgroup namespace of its own only on cgroup v2; containerd gives the pause none.

On a node with several pods, the pause selector may match several pauses: the one whose shared
namespaces the members are in is meant.
The pause must hold namespaces of its own for the shared mnt/net/pid/uts/ipc types: members that
"share" the host's network with a pause that also uses it are not a pod. (user, cgroup and time are
not held to that: pods commonly run in the host's user namespace.)
Each failure names the member and the namespace, with inodes, and the command that would start it right.

A real pod is named by its engine's records (tutor.checks.select): its infra container (Podman) or
pause (Kubernetes) is the pause, and `{pod: NAME}` as a member means every container of the pod:

    - pod: {pause: {pod: podweb, infra: true}, members: [{pod: podweb}], shared: [net, ipc, uts], private: [mnt, pid]}

Still decided by inode only; the fix it names is then the engine's (`podman pod create --share ...`,
`podman run --pod podweb ...`, or the Pod spec for Kubernetes).
"""
from __future__ import annotations

from typing import Any

from ...i18n import _, ngettext
from ...observe.model import Process, Snapshot, Wants
from ...texts import words
from ..base import Expectation, Field, Verdict, v_nstypes, v_selector, v_selectors
from ..cgroup_version import cgroup_layout, cgroup_v2_alone, v_cgroup_only
from ..containers import kubelet_made, pod_advice, q, remove_command, run_command
from ..procs import Pick, ns_summary, ns_unreadable_reason, pick, restart_advice, unshare_cmd, want_programs
from ..registry import register
from ..select import describe_selector, innermost, is_pod_members, name, select

#: Types a pause must hold of its own when they are listed as shared.
POD_OWNED = ("mnt", "net", "pid", "uts", "ipc")


@register
class Pod(Expectation):
    kind = "pod"
    fields = {
        "pause": Field(v_selector, required=True, doc="the pause process, e.g. {comm: pause}"),
        "members": Field(v_selectors, required=True, doc="the containers' processes"),
        "shared": Field(v_nstypes, default=["net", "ipc", "uts"], doc="types shared with the pause"),
        "private": Field(v_nstypes, default=["mnt", "pid"], doc="types each member has of its own"),
        "private_on_cgroup_v2": Field(v_cgroup_only, default=[], doc="[cgroup]: each member's own on cgroup v2, "
                                                                 "the pause's on v1 or hybrid"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        shared, private = set(spec.get("shared", ["net", "ipc", "uts"])), set(spec.get("private", ["mnt", "pid"]))
        by_mode = set(spec.get("private_on_cgroup_v2", []))
        out = []
        if shared & private:
            out.append(f"'pod': {', '.join(sorted(shared & private))} cannot be both shared and private")
        if by_mode & (shared | private):
            out.append(f"'pod': {', '.join(sorted(by_mode & (shared | private)))} is in private_on_cgroup_v2: "
                       f"leave it out of shared and private")
        return out

    def split(self, snap: Snapshot) -> tuple[list[str], list[str]]:
        """(shared, private) on this machine: private_on_cgroup_v2 joins private on cgroup v2, shared elsewhere."""
        if not self.private_on_cgroup_v2:
            return list(self.shared), list(self.private)
        if cgroup_v2_alone(snap):
            return list(self.shared), list(self.private) + list(self.private_on_cgroup_v2)
        return list(self.shared) + list(self.private_on_cgroup_v2), list(self.private)

    def describe(self) -> str:
        pods = [describe_selector(m) for m in self.members if is_pod_members(m)]
        others = len(self.members) - len(pods)
        who = words(pods + ([ngettext("{n} member", "{n} members", others).format(n=others)] if others else []))
        return (_("a pod: {members} share {shared} with {pause}").format(
                    members=who, shared=words(self.shared), pause=describe_selector(self.pause))
                + (_(" and have their own {private}").format(private=words(self.private)) if self.private else "")
                + (_(" (and their own {types} on cgroup v2, the pause's elsewhere)").format(
                       types=words(self.private_on_cgroup_v2)) if self.private_on_cgroup_v2 else ""))

    def wants(self, snap: Snapshot) -> Wants:
        return want_programs(self._pick_members(snap)[0])     # for the members' restart advice

    def grade(self, snap: Snapshot) -> Verdict:
        members, member_observed, problems = self._pick_members(snap)
        shared, private = self.split(snap)

        def holds_members(candidate: Process) -> bool:
            # On a node with many pods (many pauses), the pause meant is the one whose shared
            # namespaces the members are in.
            return bool(members) and all(candidate.ns.get(t) is not None and candidate.ns.get(t) == m.ns.get(t)
                                         for m in members for t in shared)

        picked = pick(snap, self.pause, _("the pause"), prefer=holds_members)
        pause = picked.proc
        if pause is None:
            pauses = innermost(select(snap, self.pause))
            if len(pauses) <= 1:
                return self.fail(picked.observed, picked.message)
            # A node runs one pause per pod: never advise stopping any. Take the pause that holds
            # most of the members' namespaces, and let the member problems say what is missing.
            def shared_with(candidate: Process) -> int:
                return sum(1 for m in members for t in shared
                           if candidate.ns.get(t) is not None and candidate.ns.get(t) == m.ns.get(t))
            pause = max(pauses, key=shared_with)
            if not members or shared_with(pause) == 0:
                seen = ", ".join(name(p, snap) for p in pauses[:5]) + (" ..." if len(pauses) > 5 else "")
                return self.fail(_("{n} pause processes run here ({seen}); none holds a member's {shared}").format(
                                     n=len(pauses), seen=seen, shared=words(shared))
                                 + (f"; {'; '.join(member_observed)}" if member_observed else ""),
                                 "\n".join(problems + [
                                     _("Several pods run here, each with its own pause. The one meant is the pause "
                                       "whose {shared} namespaces the members are in, and no pause has the members "
                                       "yet: start (or join) the members with {command}").format(
                                         shared=words(shared),
                                         command="nsenter --target PAUSE_PID "
                                                 + " ".join("--" + ("mount" if t == "mnt" else t) for t in shared)
                                                 + " ...")]))
        types = list(shared) + [t for t in private if t not in shared]
        observed = [f"{_pause_words(snap, pause)}: {ns_summary(snap, pause, types)}"] + member_observed

        # The pause itself must hold new namespaces, or "shared" means nothing.
        held_by_host = [t for t in shared if t in POD_OWNED and pause.ns.get(t) is not None
                        and pause.ns.get(t) == snap.host_ns.get(t)]
        for t in shared:
            if pause.ns.get(t) is None:
                problems.append(ns_unreadable_reason(pause, t, snap) + ".")
        if held_by_host:
            problems.append(ngettext("The {pause} is in the host's {types} namespace: a pod's pause holds new ones. {fix}",
                                     "The {pause} is in the host's {types} namespaces: a pod's pause holds new ones. "
                                     "{fix}", len(held_by_host)).format(
                pause=_pause_words(snap, pause), types=words(held_by_host), fix=self._pause_fix(snap, pause, shared)))

        for proc in members:
            observed.append(f"{name(proc, snap)}: {ns_summary(snap, proc, types)}")
            problems.extend(self._member_problems(snap, pause, proc, members, shared, private))

        if problems:
            return self.fail("; ".join(observed), "\n".join(problems))
        evidence = {
            "pause": {"pid": pause.pid, "ns": {t: pause.ns.get(t) for t in types}},
            "members": [{"pid": p.pid, "ns": {t: p.ns.get(t) for t in types}} for p in members],
        }
        return self.ok("; ".join(observed), evidence)

    def _pause_fix(self, snap: Snapshot, pause: Process, shared: list[str]) -> str:
        """How to start the pause so that it holds the namespaces of the pod."""
        c = snap.container_of_pid(pause.pid)
        shared = [t for t in shared if t in POD_OWNED]
        if c is None:
            return _("Start it with: {command}").format(command=unshare_cmd(shared, pause.command))
        if kubelet_made(c):
            return _("The kubelet runs a pod in the host's namespaces only when its spec says so (hostNetwork, "
                     "hostPID, hostIPC): remove those and create the pod again.")
        if c.pod:
            share = ",".join(t for t in shared if t != "mnt")
            return _("Create the pod again without --network host (and sharing {types}): {command}").format(
                types=words(shared),
                command=f"podman pod rm -f {q(c.pod)}; podman pod create --name {q(c.pod)} --share {share}")
        return _("Run it again without the host's namespaces: {command}").format(
            command=f"{remove_command(c)}; {run_command(c.engine, c.name, [], c.image)}")

    def _pick_members(self, snap: Snapshot) -> tuple[list[Process], list[str], list[str]]:
        """(members found, what was seen of those not found, problems)."""
        members: list[Process] = []
        observed: list[str] = []
        problems: list[str] = []
        first_member: dict[int, int] = {}      # pid -> number of the member selector that chose it
        for i, selector in enumerate(self.members, 1):
            role = _("member {n} ({selector})").format(n=i, selector=describe_selector(selector))
            for got in _member_picks(snap, selector, role):
                if got.proc is None:
                    observed.append(got.observed)
                    problems.append(got.message)
                    continue
                if got.proc.pid in first_member:
                    if first_member[got.proc.pid] != i:
                        problems.append(_("Members {first} and {second} both select {process}: make each member's "
                                          "pattern match only its own container.").format(
                            first=first_member[got.proc.pid], second=i, process=name(got.proc, snap)))
                    continue
                first_member[got.proc.pid] = i
                members.append(got.proc)
        return members, observed, problems

    def _member_problems(self, snap: Snapshot, pause: Process, proc: Process, members: list[Process],
                         shared: list[str], private: list[str]) -> list[str]:
        out: list[str] = []
        for t in shared:
            mine, theirs = proc.ns.get(t), pause.ns.get(t)
            if mine is None:
                out.append(ns_unreadable_reason(proc, t, snap) + ".")
            elif theirs is not None and mine != theirs:
                said = (_("{process} is still in the host's {type} namespace ({mine}); the pause's is {theirs}.")
                        if mine == snap.host_ns.get(t)
                        else _("{process} has its own {type} namespace ({mine}); the pause's is {theirs}."))
                out.append(said.format(process=name(proc, snap), type=t, mine=mine, theirs=theirs)
                           + (_(" This machine runs {layout}, not cgroup v2 alone: here a container gets no cgroup "
                                "namespace of its own and stays in the pause's.").format(layout=cgroup_layout(snap))
                              if t in self.private_on_cgroup_v2 else ""))
        for t in private:
            mine, theirs = proc.ns.get(t), pause.ns.get(t)
            if mine is None:
                out.append(ns_unreadable_reason(proc, t, snap) + ".")
                continue
            if mine == theirs:
                out.append(_("{process} shares the pause's {type} namespace ({mine}); it should have its own").format(
                               process=name(proc, snap), type=t, mine=mine)
                           + (_(" (this machine has cgroup v2: a container that is not privileged gets a cgroup "
                                "namespace of its own).") if t in self.private_on_cgroup_v2 else "."))
                continue
            if mine == snap.host_ns.get(t):
                # A real pause has mnt and pid of its own: a member left in the host's is not "its own" either.
                out.append(_("{process} is still in the host's {type} namespace ({mine}); it should have its "
                             "own.").format(process=name(proc, snap), type=t, mine=mine))
                continue
            twins = [m for m in members if m is not proc and m.ns.get(t) == mine]
            if twins:
                out.append(_("{process} shares its {type} namespace ({mine}) with {other}; each container should "
                             "have its own.").format(process=name(proc, snap), type=t, mine=mine,
                                                     other=name(twins[0], snap)))
        if not out:
            return out
        member_c, pause_c = snap.container_of_pid(proc.pid), snap.container_of_pid(pause.pid)
        if member_c is not None and pause_c is not None:
            # Real containers: the engine made their namespaces, so its command is the fix.
            out[-1] += pod_advice(member_c, pause_c, shared, private)
            return out
        # One command that would start this member right: enter the pause's shared namespaces,
        # then unshare every private type (all of them: a restarted member needs them all again).
        out[-1] += restart_advice(snap, proc, list(private), list(shared), pause.pid)
        return out


def _pause_words(snap: Snapshot, pause: Process) -> str:
    """'pause 'pause' (pid 42)', or the container: 'infra container of pod podweb (podman, pid 42)'."""
    return (name(pause, snap) if snap.container_of_pid(pause.pid) is not None
            else _("pause {process}").format(process=name(pause, snap)))


def _member_picks(snap: Snapshot, selector: Any, role: str) -> list:
    """What one member selector picks: one process, or, for {pod: NAME}, each container of the pod."""
    if is_pod_members(selector):
        found = innermost(select(snap, selector))
        if found:
            return [Pick(p) for p in found]
    return [pick(snap, selector, role)]
