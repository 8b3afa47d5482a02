"""Containers in messages: why a container selector picked nothing, and the engine's command that fixes it.

A container's namespaces are fixed when its engine creates it, so a wrong one is fixed by removing
the container and running it again with the right options (`docker run --network container:web
--pid container:web ...`), and a pod's by creating the pod again (`podman pod create --share ...`).
The kinds (process, pod, container) and the references (`{netns_of: {container: web}}`) grade by
namespace inode; this module only words what they found, from the engines' records in the snapshot
(Snapshot.containers, Snapshot.engines) and each engine's command line.
"""
from __future__ import annotations

import shlex
from typing import Any, Iterable

from ..i18n import _, ngettext
from ..observe.model import Container, Snapshot
from ..texts import words
from .select import capitalised, containers_of, describe_selector, is_pod_members, name, normalise

#: `run` options that join another container's namespace of each type (Docker has net, pid and ipc only).
JOIN_OPTION = {
    "docker": {"net": "--network", "pid": "--pid", "ipc": "--ipc"},
    "podman": {"net": "--network", "pid": "--pid", "ipc": "--ipc", "uts": "--uts", "user": "--userns",
               "cgroup": "--cgroupns"},
}
#: `run` options that keep the host's namespace of each type (no engine shares the host's mount namespace).
HOST_OPTION = {"net": "--network host", "pid": "--pid host", "ipc": "--ipc host", "uts": "--uts host",
               "user": "--userns host", "cgroup": "--cgroupns host"}
#: Options for a namespace of its own where the engine's default is not one.
OWN_OPTION = {"docker": {"cgroup": "--cgroupns private"},
              "podman": {"cgroup": "--cgroupns private", "user": "--userns auto"}}
#: What `podman pod create --share` can share.
POD_SHARES = ("cgroup", "ipc", "net", "pid", "uts")


def q(text: str) -> str:
    return shlex.quote(text)


def _k8s(pod: str | None) -> tuple[str, str]:
    """A Kubernetes pod "namespace/name" as (namespace, name)."""
    ns, slash, pod_name = (pod or "").partition("/")
    return (ns, pod_name) if slash else ("default", ns)


def kubelet_pod(pod: str | None) -> bool:
    """Is *pod* a Kubernetes pod, "namespace/name"? (No engine's own pod or container name holds a /.)
    A selector naming one means a container the kubelet makes, so its fix is the Pod spec."""
    return bool(pod) and "/" in pod


def kubelet_made(c: Container) -> bool:
    """Made and kept by a kubelet: containerd's CRI containers, and Docker's that dockershim or
    cri-dockerd made for a Kubernetes pod (the only Docker containers with a pod, "namespace/name").
    Their fix is the pod's spec, never the engine's run command: the kubelet would undo it."""
    return c.engine == "containerd" or (c.engine == "docker" and c.pod is not None)


def network_words(snap: Snapshot, network: str) -> str:
    """A network mode as a learner types it: docker records --network container:web as
    container:<web's id>, which is named again here."""
    if not network.startswith("container:"):
        return network
    ref = network.split(":", 1)[1]
    for c in snap.containers:
        if ref and (c.id == ref or c.id.startswith(ref) or c.name == ref):
            return f"container:{c.name}"
    return network


# --------------------------------------------------------------- the engines' commands
def list_command(value: Any) -> str:
    """The command that shows the learner what the selector looks for."""
    sel = normalise(value)
    engine = sel.get("engine")
    if engine == "containerd":
        if "container" in sel:
            return f"crictl ps -a --name {q(sel['container'])}"
        return f"crictl pods --name {q(_k8s(sel['pod'])[1])}"
    if "container" in sel:
        def one(e: str) -> str:
            return f"{e} ps -a --filter name=^{q(sel['container'])}$"
        return one(engine) if engine else _("{command} (or {other})").format(command=one("docker"), other=one("podman"))
    return f"podman ps -a --pod --filter pod={q(sel['pod'])}"


def start_command(c: Container) -> str:
    if kubelet_made(c):
        ns, pod = _k8s(c.pod)
        return _("the kubelet restarts a pod's containers itself; see why it stopped: {command}").format(
            command=f"kubectl describe pod -n {q(ns)} {q(pod)}")
    if c.engine == "podman" and c.infra and c.pod:
        return f"podman pod start {q(c.pod)}"
    return f"{c.engine} start {q(c.name)}"


def remove_command(c: Container) -> str | None:
    if kubelet_made(c):
        return None
    return f"{c.engine} rm -f {q(c.name)}"


def run_command(engine: str, name: str, options: Iterable[str] = (), image: str | None = None) -> str:
    """`docker run -d --name web OPTIONS IMAGE ...` (the image and command as the lesson has them)."""
    parts = [engine, "run", "-d", "--name", q(name), *options]
    parts.append(f"{q(image)} ..." if image else "...")
    return " ".join(parts)


def pid_namespace_advice(c: Container) -> str:
    """How to make *c*'s main process PID 1 of a pid namespace: the engine decides that when it
    creates the container (or the pod), so the fix is to create it again, never unshare."""
    if kubelet_made(c):
        return sentence(kubelet_advice(c.pod))
    if c.engine == "podman" and c.pod:
        return _("Pod {pod} was made without one shared pid namespace: make it again with one, {command} (or, "
                 "for a pod from a Pod spec, set shareProcessNamespace: true and run {play})").format(
            pod=c.pod, command=f"podman pod rm -f {q(c.pod)}; podman pod create --name {q(c.pod)} --share +pid",
            play="podman kube play --replace FILE")
    return _("{container} was created to join another pid namespace (--pid host or --pid container:...): "
             "{remove}; then {run} without that --pid").format(container=c.label, remove=remove_command(c),
                                                               run=run_command(c.engine, c.name))


def sentence(text: str) -> str:
    """*text* as the start of a sentence (its first letter a capital, in English only: a Korean
    sentence may start with a name, which keeps its case)."""
    return capitalised(text)


def kubelet_advice(pod: str | None) -> str:
    ns, pod_name = _k8s(pod)
    return _("the kubelet makes a pod's containers and namespaces from its Pod spec (hostNetwork, hostPID, "
             "shareProcessNamespace): change the spec and create the pod again: {command}").format(
        command=f"kubectl delete pod -n {q(ns)} {q(pod_name)}; kubectl apply -f POD.yaml")


def engine_trouble(snap: Snapshot, engine: str) -> str | None:
    """Why nstutor has no record of *engine*'s containers (its EngineState's sentence), or None."""
    state = snap.engine(engine)
    if state is None or state.state == "running":
        return None
    return state.detail or _("{engine} is {state}").format(engine=engine, state=state.state)


def engine_bridge_missing(snap: Snapshot, engine: str, name: str) -> str:
    """Why the host has no *name*, a bridge *engine* makes for itself, and what brings it back."""
    trouble = engine_trouble(snap, engine)
    if engine == "docker":
        if trouble:
            return _("{bridge} is dockerd's own bridge, made when dockerd starts: {trouble}").format(
                bridge=name, trouble=trouble)
        return _("{bridge} is dockerd's own bridge, made when dockerd starts, and it is gone although dockerd runs "
                 "(was it deleted?): restart dockerd to make it again").format(bridge=name)
    return _("{bridge} is Podman's own bridge, made for the first container it runs on its default network: "
             "{fix}").format(bridge=name, fix=trouble or run_command("podman", "NAME"))


# --------------------------------------------------------------- selected nothing, or several
def missing(snap: Snapshot, value: Any, lead: str = "") -> tuple[str, str]:
    """(observed, message) when a container selector selects no running process."""
    sel = normalise(value)
    what = describe_selector(sel)
    engine = sel.get("engine")
    records = containers_of(snap, sel)
    blind = "" if snap.is_root else _(" (nstutor is not running as root, so it may not see every process: run "
                                      "nstutor as root)")
    if records:
        stopped = [c for c in records if c.pid is None or c.state != "running"]
        if stopped:
            c = stopped[0]
            return (lead + _("{container} exists but is not running ({state})").format(container=c.label, state=c.state),
                    lead + _("{what} exists but is not running ({state}): {command}").format(
                        what=what, state=c.state, command=start_command(c)))
        c = records[0]
        return (lead + _("{container} runs as pid {pid}, which nstutor does not see{blind}").format(
                    container=c.label, pid=c.pid, blind=blind),
                lead + _("{engine} says {what} runs as pid {pid}, but nstutor cannot see that process{blind}.").format(
                    engine=c.engine, what=what, pid=c.pid, blind=blind))
    if engine:
        engines = [engine]
    elif kubelet_pod(sel.get("pod")):            # a kubelet's pod runs under containerd, or docker (cri-dockerd)
        engines = ["containerd", "docker"]
    else:
        engines = sorted({c.engine for c in snap.containers} | {"docker", "podman"})
    trouble = [t for t in map(lambda e: engine_trouble(snap, e), engines) if t]
    if engine and trouble:
        return (lead + _("no record of {engine}'s containers: {trouble}").format(engine=engine, trouble=trouble[0]),
                lead + _("{what} cannot be found: {trouble}").format(what=what, trouble=trouble[0]))
    if "container" in sel:
        return _no_container(snap, sel, what, lead, trouble)
    return _no_pod_member(snap, sel, what, lead, trouble)


def _elsewhere(c: Container) -> str:
    return f"{c.label}, {c.state}"


def _no_container(snap: Snapshot, sel: dict, what: str, lead: str, trouble: list[str]) -> tuple[str, str]:
    wanted, engine, pod = sel["container"], sel.get("engine"), sel.get("pod")
    same_name = [c for c in snap.containers if c.name == wanted]
    if same_name:
        other = same_name[0]
        seen = "; ".join(_elsewhere(c) for c in same_name[:3])
        if engine and other.engine != engine:
            remove = remove_command(other)
            fix = (f"{remove}; " if remove else "") + _make(engine, wanted, pod)
            return (lead + _("there is no {engine} container {name}; seen: {seen}").format(
                        engine=engine, name=wanted, seen=seen),
                    lead + _("there is no {engine} container {name}, but {other_engine} has one ({state}): this step "
                             "wants it under {engine}: {fix}").format(engine=engine, name=wanted,
                                                                      other_engine=other.engine, state=other.state,
                                                                      fix=fix))
        fix = ((remove_command(other) + "; ") if remove_command(other) else "") + _make(engine or other.engine,
                                                                                         wanted, pod)
        return (lead + _("there is no container {name} in pod {pod}; seen: {seen}").format(name=wanted, pod=pod,
                                                                                           seen=seen),
                lead + (_("container {name} is in pod {other_pod}, not in pod {pod}: {fix}").format(
                            name=wanted, other_pod=other.pod, pod=pod, fix=fix) if other.pod
                        else _("container {name} is in no pod, not in pod {pod}: {fix}").format(
                            name=wanted, pod=pod, fix=fix)))
    note = f" ({'; '.join(trouble)})" if trouble else ""
    return (lead + _("no container named {name}{note}").format(name=wanted, note=note),
            lead + _("no container named {name}{note}: {command}").format(name=wanted, note=note,
                                                                          command=_make(engine, wanted, pod)))


def _make(engine: str | None, name_: str, pod: str | None) -> str:
    """The command that makes the container (where a learner makes it: not a Kubernetes one, which
    the kubelet makes from its pod's spec: a container of a pod "namespace/name" under any engine)."""
    if engine == "containerd" or kubelet_pod(pod):
        return kubelet_advice(pod)
    if pod:
        return run_command("podman", name_, [f"--pod {q(pod)}"])
    if engine:
        return run_command(engine, name_)
    return _("{command} (or podman run ...)").format(command=run_command("docker", name_))


def _no_pod_member(snap: Snapshot, sel: dict, what: str, lead: str, trouble: list[str]) -> tuple[str, str]:
    pod, engine = sel["pod"], sel.get("engine")
    in_pod = snap.containers_in_pod(pod, engine)
    if not in_pod:
        note = f" ({'; '.join(trouble)})" if trouble else ""
        make = (kubelet_advice(pod) if engine == "containerd" or kubelet_pod(pod)
                else f"podman pod create --name {q(pod)}")
        return (lead + _("no pod {pod}{note}").format(pod=pod, note=note),
                lead + _("there is no pod {pod}{note}: {command}").format(pod=pod, note=note, command=make))
    seen = "; ".join(_elsewhere(c) for c in in_pod[:4])
    pod_engine = in_pod[0].engine
    if sel.get("infra"):
        make = (kubelet_advice(pod) if pod_engine == "containerd"
                else _("{command} (a pod made with --infra=false has none)").format(
                    command=f"podman pod rm -f {q(pod)}; podman pod create --name {q(pod)}"))
        return (lead + _("pod {pod} has no infra container; seen: {seen}").format(pod=pod, seen=seen),
                lead + _("pod {pod} has no infra container: {command}").format(pod=pod, command=make))
    make = (kubelet_advice(pod) if pod_engine == "containerd"
            else run_command("podman", "NAME", [f"--pod {q(pod)}"]))
    return (lead + _("pod {pod} has no container besides its infra; seen: {seen}").format(pod=pod, seen=seen),
            lead + _("pod {pod} has no container of its own yet: {command}").format(pod=pod, command=make))


def several(snap: Snapshot, value: Any, procs: list, lead: str = "") -> tuple[str, str]:
    """(observed, message) when a container selector that must mean one process means several."""
    sel = normalise(value)
    what = describe_selector(sel)
    shown = ", ".join(name(p, snap) for p in procs[:5]) + (" ..." if len(procs) > 5 else "")
    found = [c for p in procs for c in [snap.container_of_pid(p.pid)] if c is not None]
    if is_pod_members(sel):
        hint = (_("name one of them, e.g. {selector}").format(selector=f"{{container: {found[0].name}}}") if found
                else _("name one container"))
    elif len({c.engine for c in found}) > 1:
        hint = _("name the engine, e.g. {selector}").format(
            selector=f"{{container: {sel.get('container')}, engine: {found[0].engine}}}")
    elif len({c.pod for c in found}) > 1:
        hint = _("name the pod, e.g. {selector}").format(
            selector=f"{{container: {sel.get('container')}, pod: {found[0].pod}}}")
    else:
        hint = _("name the one meant by its engine and pod")
    return (lead + _("{n} containers match ({what}): {shown}").format(n=len(procs), what=what, shown=shown),
            lead + _("this check is about one container, and {what} means {n}: {hint}.").format(
                what=what, n=len(procs), hint=hint))


# --------------------------------------------------------------- namespaces fixed at creation
def recreate_advice(snap: Snapshot, c: Container, join: dict[str, Container | int], host: Iterable[str] = (),
                    own: Iterable[str] = ()) -> str:
    """' Its namespaces are fixed when docker creates it: docker rm -f web-side; docker run -d --name
    web-side --network container:web --pid container:web nstutor-box ...'.

    *join*: type -> the container (or a plain process's pid) whose namespace it should share;
    *host*: types it should share with the host; *own*: types it should have of its own."""
    if kubelet_made(c):
        return " " + sentence(kubelet_advice(c.pod)) + "."
    notes: list[str] = []
    host, own = list(host), list(own)
    options = _kept_options(snap, c, keep_network="net" not in set(join) | set(host) | set(own))
    cannot: list[str] = []
    for t, other in join.items():
        if isinstance(other, Container) and other.pod and other.infra and other.pod == c.pod:
            continue                    # --pod already joins what the pod shares
        option = JOIN_OPTION.get(c.engine, {}).get(t)
        if option is None:
            cannot.append(t)
        elif isinstance(other, Container):
            options.append(f"{option} container:{q(other.name)}")
        elif c.engine == "podman":
            options.append(f"{option} ns:/proc/{other}/ns/{t}")
        else:
            notes.append(_("docker joins only another container's namespaces ({option} container:NAME), "
                           "not a process's").format(option=option))
    proc = snap.processes.get(c.pid) if c.pid is not None else None

    def hosts(t: str) -> bool:
        return proc is not None and proc.ns.get(t) is not None and proc.ns.get(t) == snap.host_ns.get(t)
    for t in host:
        if t in ("user", "time") and (hosts(t) or t == "time"):
            continue                    # the engines' default: no option needed (and none exists for time)
        if t in HOST_OPTION:
            options.append(HOST_OPTION[t])
        else:
            cannot.append(t)
    for t in own:
        if t in OWN_OPTION.get(c.engine, {}):
            options.append(OWN_OPTION[c.engine][t])
        elif t == "user" and c.engine == "docker" and hosts("user"):
            notes.append(_("docker gives a container a user namespace of its own only when dockerd runs with "
                           "--userns-remap"))
    if cannot:
        notes.append(ngettext("{engine} cannot share a container's {types} namespace",
                              "{engine} cannot share a container's {types} namespaces", len(cannot)).format(
                         engine=c.engine, types=words(sorted(cannot)))
                     + (_(" (share files with a volume, -v, instead)") if "mnt" in cannot else ""))
    remove = remove_command(c)
    fix = f"{remove}; {run_command(c.engine, c.name, options, c.image)}"
    return (_(" Its namespaces are fixed when {engine} creates it: {command}").format(engine=c.engine, command=fix)
            + (_(" (note: {notes}).").format(notes="; ".join(notes)) if notes else ""))


def exec_command(snap: Snapshot, proc, command: str) -> str | None:
    """*command* (a shell line) run inside a container the way its engine does it: `docker exec web
    sh -c '...'`, `kubectl exec -n NS POD -c NAME -- sh -c '...'`. None for a process that is no
    container's main process."""
    c = snap.container_of_pid(proc.pid)
    if c is None:
        return None
    if kubelet_made(c):
        ns, pod_name = _k8s(c.pod)
        return f"kubectl exec -n {q(ns)} {q(pod_name)} -c {q(c.name)} -- sh -c {q(command)}"
    return f"{c.engine} exec {q(c.name)} sh -c {q(command)}"


def recreate_with(snap: Snapshot, proc, option: str, pod_spec: str, pod_wide: bool = False) -> str | None:
    """How a container is made again with *option* (its engine's `run` option, e.g. --hostname
    lab-box), as commands: 'docker rm -f web; docker run -d --name web --hostname lab-box
    nstutor-box ...', or for a kubelet's container what to put in the Pod spec (*pod_spec*) and
    how to create the pod again. *pod_wide*: in a Podman pod the option is the pod's (its containers
    share what it sets: `podman pod create --hostname`). None if *proc* is no container's main process."""
    c = snap.container_of_pid(proc.pid)
    if c is None:
        return None
    if pod_wide and c.engine == "podman" and c.pod:
        return _("{command} (with the --share it had), then its containers again ({run})").format(
            command=f"podman pod rm -f {q(c.pod)}; podman pod create --name {q(c.pod)} {option}",
            run=run_command("podman", "NAME", [f"--pod {q(c.pod)}"]))
    if kubelet_made(c):
        return pod_spec_fix(c, _("put {spec} in the Pod spec").format(spec=pod_spec))
    options = [*_kept_options(snap, c, keep_network=True), option]
    return f"{remove_command(c)}; {run_command(c.engine, c.name, options, c.image)}"


def pod_spec_fix(c: Container, change: str) -> str:
    """A kubelet's container is fixed in its pod's spec: '*change* and create the pod again:
    kubectl delete pod ...; kubectl apply -f POD.yaml' (*change* says what to put in or take out)."""
    ns, pod_name = _k8s(c.pod)
    return _("{change} and create the pod again: {command}").format(
        change=change, command=f"kubectl delete pod -n {q(ns)} {q(pod_name)}; kubectl apply -f POD.yaml")


def pod_yaml_command(c: Container) -> str:
    """The command that shows the spec of a kubelet's container's pod."""
    ns, pod_name = _k8s(c.pod)
    return f"kubectl get pod -n {q(ns)} {q(pod_name)} -o yaml"


def inspect_hint(c: Container, fields: Iterable[str]) -> str | None:
    """The command that shows how *c* was started, for Docker's HostConfig *fields* (Privileged,
    CapAdd, SecurityOpt; Podman's inspect has the same): `docker inspect -f '{{.HostConfig.Privileged}}
    {{.HostConfig.CapAdd}}' web`. A kubelet's container was started from its Pod spec, so for it the
    command shows that container's securityContext there (privileged, capabilities, procMount), whatever
    *fields* asks. None for an engine with neither."""
    if kubelet_made(c):
        ns, pod_name = _k8s(c.pod)
        path = f'{{.spec.containers[?(@.name=="{c.name}")].securityContext}}'
        return f"kubectl get pod -n {q(ns)} {q(pod_name)} -o jsonpath={q(path)}"
    if c.engine not in ("docker", "podman"):
        return None
    template = " ".join(f"{{{{.HostConfig.{f}}}}}" for f in fields)
    return f"{c.engine} inspect -f {q(template)} {q(c.name)}"


def _kept_options(snap: Snapshot, c: Container, keep_network: bool) -> list[str]:
    """The `run` options a container made again must keep: its pod (a pod member, not the infra),
    and, where its namespaces are not what is being changed, a network mode other than the default."""
    if c.pod and not c.infra:
        return [f"--pod {q(c.pod)}"]
    if keep_network and not c.pod and c.network and c.network not in ("bridge", "default"):
        return [f"--network {q(network_words(snap, c.network))}"]
    return []


def pod_advice(member: Container, pause: Container, shared: Iterable[str], private: Iterable[str]) -> str:
    """What fixes a pod's member that does not share what it should with the pod's infra (or shares too much)."""
    if kubelet_made(member) or kubelet_made(pause):
        return " " + sentence(kubelet_advice(pause.pod or member.pod)) + "."
    pod = pause.pod
    if member.pod != pod or pod is None:
        remove = remove_command(member)
        target = _("pod {pod}").format(pod=pod) if pod else f"{pause.label}"
        run = (run_command("podman", member.name, [f"--pod {q(pod)}"], member.image) if pod
               else run_command(member.engine, member.name, [], member.image))
        fix = f"{remove}; {run}"
        if member.pod:
            return _(" It is in pod {member_pod}, not in {target}: {fix}").format(member_pod=member.pod, target=target,
                                                                                  fix=fix)
        return _(" It is in no pod, not in {target}: {fix}").format(target=target, fix=fix)
    share = [t for t in shared if t in POD_SHARES]
    pid_note = (_(" (a pod from podman kube play: set shareProcessNamespace in its spec and play it again with "
                  "podman kube play --replace)") if "pid" in set(shared) | set(private) else "")
    return _(" A pod's containers get the namespaces the pod shares, fixed when the pod is created: {command}; "
             "then run its containers again ({run}){note}").format(
        command=f"podman pod rm -f {q(pod)}; podman pod create --name {q(pod)} --share {','.join(share) or 'none'}",
        run=run_command("podman", member.name, [f"--pod {q(pod)}"], member.image), note=pid_note)
