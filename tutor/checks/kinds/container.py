"""container: a container exists under an engine, runs (or not), with a network mode and a pod.

    - container: {name: web, engine: docker}                    # exists and runs under Docker
    - container: {name: web, engine: docker, network: bridge}
    - container: {name: web-side, engine: docker, network: 'container:web'}
    - container: {name: podweb-a, engine: podman, pod: podweb}
    - container: {name: web, engine: docker, running: false}    # exists, stopped

name     the container's name (docker: without the leading /; Kubernetes: the container's name in its pod)
engine   docker, podman or containerd
running  true (default): its main process runs; false: it exists and is stopped
network  how its network was made: bridge, host, none, or container:NAME (another container's)
pod      the pod it belongs to (a Podman pod name, or a Kubernetes pod as namespace/name)
infra    true: it is its pod's infra container (Podman) or pause (Kubernetes); false: it is not

Existence, state and pod are the engine's records (Snapshot.containers). The network mode is
decided by the kernel where it is a relation, by inode: host is the host's netns, container:web is
web's netns; none is a netns of its own with nothing but lo, bridge one of its own with a veth (and
the engine's record saying bridge). A failure names what was seen (the same name under another
engine, a stopped container, the engine not running) and the engine command that fixes it.
"""
from __future__ import annotations

from typing import Any, Iterator

from ...i18n import _
from ...observe.model import ENGINES, Container, Process, Snapshot
from ..base import Expectation, Field, ProcessRef, Verdict, v_bool, v_engine_name, v_one_of
from ..containers import (kubelet_advice, kubelet_made, missing, network_words, q, remove_command, run_command,
                          sentence, start_command)
from ..registry import register
from ..select import containers_of, name

#: Docker's word for the default bridge network when `docker run` was given no --network.
_BRIDGE_WORDS = ("bridge", "default", "podman")


def v_network(value: Any) -> str | None:
    if value in ("bridge", "host", "none"):
        return None
    if isinstance(value, str) and value.startswith("container:") and value[len("container:"):].strip():
        return None
    return f"{value!r} is not a network mode: bridge, host, none or container:NAME"


@register
class ContainerRuns(Expectation):
    kind = "container"
    fields = {
        "name": Field(v_engine_name("container"), required=True, doc="the container's name, e.g. web"),
        "engine": Field(v_one_of(*ENGINES), required=True, doc=f"its engine: {', '.join(ENGINES)}"),
        "running": Field(v_bool, default=True, doc="true: it runs (default); false: it exists and is stopped"),
        "network": Field(v_network, doc="bridge, host, none or container:NAME"),
        "pod": Field(v_engine_name("pod"), doc="the pod it is in (Podman pod name, or Kubernetes namespace/name)"),
        "infra": Field(v_bool, doc="true: it is its pod's infra container (or pause)"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = []
        engine = spec.get("engine")
        if engine == "docker" and ("pod" in spec or "infra" in spec):
            out.append("'container': docker has no pods; pod and infra are podman's or containerd's (Kubernetes)")
        if "network" in spec and engine == "containerd":
            out.append("'container': a Kubernetes container has its pod's network (hostNetwork in the Pod spec): "
                       "leave out network")
        elif "network" in spec and "pod" in spec and not spec.get("infra"):
            out.append("'container': a pod's containers have the pod's network; check the network of its infra "
                       "container, or leave out network")
        return out

    # -- what it names: the container, through a process selector, and the one whose network it shares
    def refers_to(self) -> Iterator[ProcessRef]:
        """The container as a {container: ...} process selector (the panel's focus resolves it like any
        selector), and the container named by network: container:NAME."""
        yield ProcessRef(self._selector())
        if isinstance(self.network, str) and self.network.startswith("container:"):
            yield ProcessRef({"container": self.network.split(":", 1)[1], "engine": self.engine})

    def _selector(self) -> dict:
        return {"container": self.name, "engine": self.engine}

    def describe(self) -> str:
        parts = [(_("container {name} runs under {engine}") if self.running
                  else _("container {name} exists, stopped, under {engine}")).format(name=self.name, engine=self.engine)]
        if self.network:
            parts.append(_("with --network {network}").format(network=self.network))
        if self.pod:
            parts.append((_("in pod {pod} as its infra container") if self.infra else _("in pod {pod}")).format(
                pod=self.pod))
        elif self.infra is not None:
            parts.append(_("as its pod's infra container") if self.infra else _("not as a pod's infra container"))
        text = parts[0]
        for detail in parts[1:]:            # each detail after the container, in the language's own way
            text = _("{description} {detail}").format(description=text, detail=detail)
        return text

    # -- grading
    def grade(self, snap: Snapshot) -> Verdict:
        sel = self._selector()
        records = containers_of(snap, sel)
        if not records:
            return self.fail(*missing(snap, sel))
        c = snap.container(self.name, self.engine) or records[0]
        running = c.pid is not None and c.state == "running"
        proc = snap.processes.get(c.pid) if c.pid is not None else None
        evidence: dict[str, Any] = {"engine": c.engine, "name": c.name, "id": c.id, "state": c.state, "pid": c.pid,
                                    "image": c.image, "network": c.network, "pod": c.pod, "infra": c.infra}
        if self.running and not running:
            # in the words every check naming this container uses, so a step says it once
            return self.fail(_("{container}: {state}, not running").format(container=c.label, state=c.state),
                             missing(snap, {"container": c.name, "engine": c.engine})[1])
        if not self.running and running:
            stop = (_("the kubelet runs it as long as its pod exists") if kubelet_made(c)
                    else f"{c.engine} stop {q(c.name)}")
            return self.fail(_("{container}: running").format(container=name(proc, snap) if proc else c.label),
                             _("container {name} ({engine}) is running, and this step wants it stopped: {command}").format(
                                 name=c.name, engine=c.engine, command=stop))
        if running and proc is None:
            blind = "" if snap.is_root else _("; run nstutor as root")
            return self.fail(_("{container} runs as pid {pid}, which nstutor does not see").format(
                                 container=c.label, pid=c.pid),
                             _("{engine} says container {name} runs as pid {pid}, but nstutor cannot see that "
                               "process{blind}.").format(engine=c.engine, name=c.name, pid=c.pid, blind=blind))
        observed = [_("{container}: running").format(container=name(proc, snap)) if proc else f"{c.label}: {c.state}"]
        if c.image:
            observed.append(_("image {image}").format(image=c.image))
        problems: list[str] = []
        fix_options: list[str] | None = None      # options of a `run` that would make it right
        if self.pod is not None and c.pod != self.pod:
            observed.append(_("in pod {pod}").format(pod=c.pod) if c.pod else _("in no pod"))
            problems.append((_("container {name} is in pod {other_pod}, not in pod {pod}.") if c.pod
                             else _("container {name} is in no pod, not in pod {pod}.")).format(
                name=c.name, other_pod=c.pod, pod=self.pod))
            fix_options = [f"--pod {q(self.pod)}"]
        elif c.pod:
            observed.append(_("in pod {pod}").format(pod=c.pod))
        if self.infra is not None and c.infra != self.infra:
            problems.append((_("container {name} is not its pod's infra container") if not c.infra
                             else _("container {name} is its pod's infra container")).format(name=c.name)
                            + (_("; the infra container of pod {pod} is made by `podman pod create`, its own "
                                 "containers by `podman run --pod {pod}`").format(pod=c.pod)
                               if c.engine == "podman" and c.pod else "")
                            + ".")
        if self.network is not None:
            seen, problem = self._network(snap, c, proc)
            observed.append(seen)
            if problem:
                problems.append(problem)
                fix_options = (fix_options or []) + _network_options(self.network)
        if problems:
            return self.fail("; ".join(observed), " ".join(problems) + self._fix(c, fix_options))
        if proc is not None:
            evidence["ns"] = dict(proc.ns)
        return self.ok("; ".join(observed), evidence)

    def _network(self, snap: Snapshot, c: Container, proc: Process | None) -> tuple[str, str | None]:
        """(what was seen of its network, the problem or None). By inode where it is a relation."""
        want = self.network
        record = "bridge" if c.network in _BRIDGE_WORDS else network_words(snap, c.network or "unknown")
        if proc is None or proc.ns.get("net") is None:
            # Stopped (or its netns unreadable): only the engine's record can say.
            seen = _("{engine}'s record: {mode}").format(
                engine=c.engine, mode=f"--network {record}" if c.network else _("no network mode"))
            return seen, None if record == want else _("container {name} was made with --network {record}, not "
                                                       "{want}.").format(name=c.name, record=record, want=want)
        inode = proc.ns["net"]
        host = snap.host_ns.get("net")
        netns = snap.netns.get(inode)
        sharers = [o for o in snap.containers if o is not c and o.pid is not None and o.pid in snap.processes
                   and snap.processes[o.pid].ns.get("net") == inode]
        links = ", ".join(sorted(link.name for link in netns.links)) if netns else _("unreadable")
        shared = (_(", shared with {containers}").format(
            containers=", ".join(_("container {name}").format(name=o.name) for o in sharers[:3])) if sharers else "")
        where = (_("the host's netns net:[{inode}]").format(inode=inode) if inode == host
                 else f"net:[{inode}] ({links}){shared}")
        seen = _("network: {where}; {engine}'s record: {mode}").format(
            where=where, engine=c.engine, mode=f"--network {record}" if c.network else _("no network mode"))
        said = c.name
        if want == "host":
            if inode != host:
                return seen, _("container {name} has a network namespace of its own (net:[{inode}]); the host's is "
                               "net:[{host}].").format(name=said, inode=inode, host=host)
            return seen, None
        if inode == host:
            return seen, _("container {name} is in the host's network namespace (net:[{inode}]), as --network host "
                           "makes it.").format(name=said, inode=inode)
        if want.startswith("container:"):
            other_name = want.split(":", 1)[1]
            other = snap.container(other_name, c.engine)
            other_proc = snap.processes.get(other.pid) if other is not None and other.pid is not None else None
            if other is None or other_proc is None:
                o_observed, o_message = missing(snap, {"container": other_name, "engine": c.engine})
                return f"{seen}; {o_observed}", _("container {name} should share the netns of container {other}: "
                                                  "{message}").format(name=said, other=other_name, message=o_message)
            theirs = other_proc.ns.get("net")
            if theirs != inode:
                return seen, _("container {name} is in net:[{inode}], and {other} in net:[{theirs}]: they do not "
                               "share a network namespace.").format(name=said, inode=inode,
                                                                    other=name(other_proc, snap), theirs=theirs)
            return seen, None
        if want == "none":
            others = [link.name for link in netns.links if link.name != "lo"] if netns else []
            if netns is None:
                return seen, _("nstutor could not read container {name}'s network namespace (net:[{inode}]){root}.").format(
                    name=said, inode=inode, root="" if snap.is_root else _("; run nstutor as root"))
            if others:
                return seen, _("container {name} has {links} besides lo: --network none leaves a container nothing "
                               "but lo.").format(name=said, links=", ".join(sorted(others)))
            if sharers:
                return seen, _("container {name} shares the netns of container {other}: --network none gives it one "
                               "of its own.").format(name=said, other=sharers[0].name)
            return seen, None
        # bridge: a netns of its own (not another container's), with a veth, made as bridge
        if record.startswith("container:") or (sharers and record not in ("bridge", "unknown")):
            return seen, _("container {name} was made with --network {record}, so it has that container's "
                           "network, not one of its own on the bridge.").format(name=said, record=record)
        if record not in ("bridge", "unknown"):
            return seen, _("container {name} was made with --network {record}, not bridge.").format(name=said,
                                                                                                   record=record)
        if netns is not None and not any(link.kind == "veth" for link in netns.links):
            return seen, _("container {name}'s network namespace has no veth ({links}), so it is on no "
                           "bridge.").format(name=said, links=", ".join(sorted(l.name for l in netns.links)))
        return seen, None

    def _fix(self, c: Container, options: list[str] | None) -> str:
        """The engine's command that makes the container right (its network and pod are fixed when it is made)."""
        if kubelet_made(c):
            return " " + sentence(kubelet_advice(c.pod)) + "."
        if options is None:
            return ""
        engine = "podman" if any(o.startswith("--pod ") for o in options) else c.engine
        remove = remove_command(c)
        return _(" Its network and pod are fixed when {engine} creates it: {command}").format(
            engine=c.engine, command=f"{remove}; {run_command(engine, c.name, options, c.image)}")


def _network_options(mode: str) -> list[str]:
    """`run` options for a network mode: bridge is the engines' default."""
    if mode == "bridge":
        return []
    if mode.startswith("container:"):
        return [f"--network container:{q(mode.split(':', 1)[1])}"]
    return [f"--network {mode}"]

