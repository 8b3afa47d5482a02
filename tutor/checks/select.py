"""Process selectors: how a check names "the process I mean".

    process: {comm: pause}                  # exact kernel name (15 chars max)
    process: {cmdline: '^sleep 1001$'}      # regular expression searched in the joined argv
    process: 'sleep 1001'                   # shorthand for {cmdline: ...}
    process: {comm: sleep, cmdline: '1004'} # both must hold

A container is named by its engine's record (Snapshot.containers), and means its main process:

    process: {container: web}                        # the container named web, under any engine
    process: {container: web, engine: docker}        # ... under Docker only
    process: {pod: podweb}                           # the pod's containers (its infra excluded)
    process: {pod: podweb, infra: true}              # the pod's infra container (Podman) or pause (Kubernetes)
    process: {container: nginx, pod: default/myweb2} # a Kubernetes container, by its name in that pod

comm, cmdline and zombie do not go with container or pod: a container selector means the one
process the engine started (its namespaces are the container's), not something matched in it;
another process inside a container is named by {cmdline: ...} alone. A container that exists
but is not running selects no process (tutor/checks/containers.py says why, with the command).

Zombies are skipped unless {zombie: true}. nstutor's own processes (Snapshot.self_pids) never match.
"""
from __future__ import annotations

import re
from typing import Any

from ..i18n import _
from .engine_names import engine_name_problem
from ..observe.model import ENGINES, Container, Process, Snapshot
from ..texts import command_words, noun

PROCESS_KEYS = ("comm", "cmdline", "zombie")
CONTAINER_KEYS = ("container", "pod", "engine", "infra")
_KEYS = set(PROCESS_KEYS) | set(CONTAINER_KEYS)

_HOW = ("a process is selected with {comm: NAME} and/or {cmdline: REGEX}, "
        "a container with {container: NAME} or {pod: NAME}")


COMM_MAX = 15       # the kernel keeps a process's name in 16 bytes, the last one a NUL


def comm_problem(value: Any) -> str | None:
    """A process's kernel name (/proc/PID/comm): a text of 1 to 15 bytes on one line. A longer one
    never matches (the kernel cuts it), nor does one that YAML read as a number or true."""
    if not isinstance(value, str) or not value.strip():
        return f"must be a process's name, like sleep (not {value!r})"
    if any(c in value for c in "\t\n\r") or len(value.encode()) > COMM_MAX:
        return (f"{value!r} cannot be a process's name: the kernel keeps at most {COMM_MAX} bytes on one line "
                f"(match a longer name with cmdline)")
    return None


def cmdline_problem(value: Any) -> str | None:
    """A regular expression searched in a command line: a text, not empty (that matches every
    process), valid."""
    if not isinstance(value, str):
        return f"cmdline must be a regular expression in quotes, like '^sleep 1001$' (not {value!r})"
    if not value:
        return "an empty cmdline pattern matches every process: give one, like '^sleep 1001$'"
    try:
        re.compile(value)
    except re.error as exc:
        return f"cmdline pattern {value!r} is not a valid regular expression: {exc}"
    return None


def selector_problem(value: Any) -> str | None:
    if isinstance(value, str):
        value = {"cmdline": value}
    if not isinstance(value, dict) or not value:
        return _HOW
    unknown = set(value) - _KEYS
    if unknown:
        return (f"unknown selector {noun(len(unknown), 'key')} {', '.join(sorted(map(str, unknown)))}; "
                f"use comm and/or cmdline, or container/pod (with engine, infra)")
    if any(k in value for k in CONTAINER_KEYS):
        return _container_problem(value)
    if "comm" not in value and "cmdline" not in value:
        return "a process selector needs comm or cmdline"
    if "comm" in value and (bad := comm_problem(value["comm"])):
        return f"comm {bad}"
    if "cmdline" in value:
        return cmdline_problem(value["cmdline"])
    return None


#: Command lines of processes a lab VM needs. A cleanup selector that matches one of them would
#: make `nstutor reset` stop it (as root: the learner's shell, sshd, dockerd...), so lint refuses it.
MACHINE_COMMANDS = (
    "", "/sbin/init", "/lib/systemd/systemd --system --deserialize 20", "/lib/systemd/systemd-journald",
    "bash", "-bash", "/bin/bash", "sh", "/bin/sh -i", "zsh", "sudo -i", "su -", "login -- root",
    "sshd: root@pts/0", "/usr/sbin/sshd -D", "tmux", "tmux new-session", "/usr/bin/dockerd -H fd://",
    "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2 -namespace moby -id 0123abcd -address /run/containerd/containerd.sock",
    "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml", "/usr/bin/python3 -m tutor reset",
    "/opt/nstutor/bin/python /opt/nstutor/bin/nstutor reset", "vim lesson.md", "sleep 5", "cron -f",
    "/pause", "/usr/bin/pause", "/usr/bin/catatonit -P",
)
#: Kernel names of those processes: a cleanup selector of {comm: NAME} alone must not be one.
MACHINE_COMMS = frozenset({"systemd", "init", "bash", "sh", "zsh", "dash", "sudo", "su", "login", "sshd",
                           "tmux", "tmux: server", "dockerd", "containerd", "containerd-shim", "kubelet",
                           "python3", "python", "nstutor", "agetty", "cron", "dbus-daemon", "journald",
                           "systemd-journal", "systemd-logind", "systemd-udevd", "runc", "conmon", "podman",
                           "pause", "catatonit"})      # Kubernetes' pause, Podman's infra: a real pod's


def cleanup_selector_problem(value: Any) -> str | None:
    """A cleanup's process selector is what `nstutor reset` stops, as root: on top of being a valid
    selector, it must not also match what the machine runs anyway (an empty pattern matches every
    process; 'sleep' matches the learner's own sleeps; {comm: bash} their shell)."""
    problem = selector_problem(value)
    if problem or is_container_selector(value):
        return problem
    sel = normalise(value)
    comm = sel.get("comm")
    if "cmdline" not in sel:
        if comm in MACHINE_COMMS:
            return (f"{{comm: {comm}}} alone would also stop the machine's own {comm} processes: add a "
                    f"cmdline that only the lesson's process has, e.g. {{comm: {comm}, cmdline: '^{comm} 1001$'}}")
        return None
    if comm is not None and comm not in MACHINE_COMMS:
        return None         # both must hold: an unusual comm already narrows it
    pattern = re.compile(str(sel["cmdline"]))
    for command in MACHINE_COMMANDS:
        if pattern.search(command):
            shown = repr(command) if command else "an empty command line (every kernel thread)"
            return (f"cmdline pattern {sel['cmdline']!r} also matches {shown}, so reset would stop processes "
                    f"the lesson did not start: anchor it to the lesson's own command, e.g. '^sleep 1001$'")
    return None


def _container_problem(value: dict) -> str | None:
    mixed = [k for k in PROCESS_KEYS if k in value]
    if mixed and ("container" in value or "pod" in value):
        return (f"{', '.join(mixed)} cannot go with container or pod: a container selector means the "
                f"container's main process; name another process inside it with {{cmdline: ...}} alone")
    if "container" not in value and "pod" not in value:
        given = ", ".join(k for k in CONTAINER_KEYS if k in value)
        return (f"{given} only narrows a container selector: give {{container: NAME}} or {{pod: NAME}} "
                f"(e.g. {{container: web, engine: docker}}, {{pod: podweb, infra: true}})")
    for key in ("container", "pod"):
        if key in value and (bad := engine_name_problem(value[key], key)):
            return f"{key} {bad}"
    if "engine" in value and value["engine"] not in ENGINES:
        return f"unknown engine {value['engine']!r}; known: {', '.join(ENGINES)}"
    if "infra" in value:
        if not isinstance(value["infra"], bool):
            return "infra must be true or false"
        if "pod" not in value or "container" in value:
            return ("infra goes with pod alone: {pod: NAME, infra: true} is the pod's infra container "
                    "(Podman) or pause (Kubernetes)")
    if "pod" in value and value.get("engine") == "docker" and "/" not in str(value["pod"]):
        # cri-dockerd (or the old dockershim) runs a Kubernetes pod's containers in Docker
        return ("docker has no pods of its own: a pod is podman's (podman pod create), or Kubernetes' "
                "named NAMESPACE/NAME (engine: containerd, or docker under cri-dockerd)")
    return None


def normalise(value: Any) -> dict:
    return {"cmdline": value} if isinstance(value, str) else dict(value)


def is_container_selector(value: Any) -> bool:
    """Does the selector name containers (by their engine's record) rather than match processes?"""
    return isinstance(value, dict) and ("container" in value or "pod" in value)


def is_pod_members(value: Any) -> bool:
    """{pod: NAME} alone (infra not asked for): it may mean several processes, one per container."""
    return is_container_selector(value) and "container" not in value and not value.get("infra", False)


def _engine_note(engine: str | None) -> str:
    return f" ({engine})" if engine else ""


def selector_detail(value: Any) -> str:
    """What a process selector says about its process, the words after 'a process ': "named 'pause'",
    "running `sleep 1001`", "named 'sleep' and whose command line matches '10.4'" (in Korean a
    modifier before 프로세스: "이름이 'pause'인")."""
    sel = normalise(value)
    comm = sel.get("comm")
    if "cmdline" not in sel:
        return _("named '{comm}'").format(comm=comm) if "comm" in sel else ""
    pattern = str(sel["cmdline"])
    shown = command_words(pattern)
    if "comm" in sel:
        if shown:
            return _("named '{comm}' and running {command}").format(comm=comm, command=shown)
        return _("named '{comm}' and whose command line matches '{pattern}'").format(comm=comm, pattern=sel["cmdline"])
    if shown:
        return _("running {command}").format(command=shown)
    return _("whose command line matches '{pattern}'").format(pattern=sel["cmdline"])


def describe_selector(value: Any) -> str:
    """In words: 'a process named 'pause'', 'the container web (docker)', 'the infra container of
    pod podweb (podman)'."""
    sel = normalise(value)
    if is_container_selector(sel):
        engine = _engine_note(sel.get("engine"))
        if "container" in sel:
            if "pod" in sel:
                return _("the container {container} of pod {pod}{engine}").format(
                    container=sel["container"], pod=sel["pod"], engine=engine)
            return _("the container {container}{engine}").format(container=sel["container"], engine=engine)
        if sel.get("infra"):
            if sel.get("engine") == "containerd":
                return _("the pause (sandbox) of pod {pod}{engine}").format(pod=sel["pod"], engine=engine)
            return _("the infra container of pod {pod}{engine}").format(pod=sel["pod"], engine=engine)
        return _("the containers of pod {pod}{engine}").format(pod=sel["pod"], engine=engine)
    return _("a process {detail}").format(detail=selector_detail(sel))


def the_selected(value: Any) -> str:
    """describe_selector() as the subject of a sentence: 'the process named 'pause'', 'the container web'."""
    if is_container_selector(normalise(value)):
        return describe_selector(value)
    return _("the process {detail}").format(detail=selector_detail(value))


def capitalised(words: str) -> str:
    """describe_selector()/the_selected() at the start of a sentence: 'The process named 'pause''. Only
    English has capitals to add; a Korean phrase may start with a name ("web 컨테이너"), kept as it is."""
    from ..i18n import current
    return words[:1].upper() + words[1:] if current() == "en" else words


def containers_of(snap: Snapshot, value: Any) -> list[Container]:
    """The container records a container selector names, running or not (records order)."""
    sel = normalise(value)
    engine = sel.get("engine")
    out = []
    for c in snap.containers:
        if engine is not None and c.engine != engine:
            continue
        if "container" in sel and c.name != sel["container"]:
            continue
        if "pod" in sel:
            if c.pod != sel["pod"]:
                continue
            if "container" not in sel and c.infra != bool(sel.get("infra", False)):
                continue
        out.append(c)
    return out


def select(snap: Snapshot, value: Any) -> list[Process]:
    """Processes matching the selector, lowest pid first."""
    sel = normalise(value)
    me = snap.self_pids
    if is_container_selector(sel):
        found: dict[int, Process] = {}
        for c in containers_of(snap, sel):
            proc = snap.processes.get(c.pid) if c.pid is not None else None
            if proc is not None and proc.pid not in me and not proc.is_zombie:
                found[proc.pid] = proc
        return [found[pid] for pid in sorted(found)]
    comm = sel.get("comm")
    if comm is None and "cmdline" not in sel:
        # A selector that names nothing (a malformed lesson's `{1: a}`, `{}`) selects no process,
        # never every one: reset SIGKILLs what a cleanup selects, as root.
        return []
    pattern = re.compile(str(sel["cmdline"])) if "cmdline" in sel else None
    want_zombie = bool(sel.get("zombie", False))
    out = []
    for proc in snap.processes.values():
        if proc.pid in me or (proc.is_zombie and not want_zombie):
            continue
        if comm is not None and proc.comm != comm:
            continue
        if pattern is not None and not pattern.search(" ".join(proc.cmdline)):
            continue
        out.append(proc)
    out.sort(key=lambda p: p.pid)
    return out


def innermost(procs: list[Process]) -> list[Process]:
    """Drop matches whose parent also matches (e.g. `unshare --fork sleep 1004` and its child
    `sleep 1004`), keeping the innermost process, which is the one that does the work."""
    pids = {p.pid for p in procs}
    parents = {p.ppid for p in procs if p.ppid in pids}
    return [p for p in procs if p.pid not in parents] or procs


def container_words(c: Container) -> str:
    """A container as a noun: 'container web', 'infra container of pod podweb', 'pause (sandbox) of pod default/myweb2'."""
    if c.infra and c.pod:
        if c.engine == "containerd":
            return _("pause (sandbox) of pod {pod}").format(pod=c.pod)
        return _("infra container of pod {pod}").format(pod=c.pod)
    return _("container {container}").format(container=c.name)


def name(proc: Process, snap: Snapshot | None = None) -> str:
    """How messages name a process: 'sleep 1001' (pid 4242); with the snapshot, a container's main
    process by its container: container web (docker, pid 4242)."""
    c = snap.container_of_pid(proc.pid) if snap is not None else None
    if c is not None:
        if c.pod and not c.infra:
            return _("{container} ({engine}, pod {pod}, pid {pid})").format(
                container=container_words(c), engine=c.engine, pod=c.pod, pid=proc.pid)
        return _("{container} ({engine}, pid {pid})").format(container=container_words(c), engine=c.engine, pid=proc.pid)
    cmd = proc.command
    if len(cmd) > 60:
        cmd = cmd[:57] + "..."
    return f"'{cmd}' (pid {proc.pid})"
