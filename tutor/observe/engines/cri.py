"""Kubernetes pods on a containerd node, read from the records containerd and the kubelet write.

No kubelet or containerd API is asked (no socket, no crictl): two kinds of record are enough.

* The cgroup of each process. The kubelet puts every pod in a cgroup of its own under "kubepods",
  one level deeper for the Burstable and BestEffort QoS classes, and the runtime puts each container
  (the pause sandbox included) in a cgroup named by its 64-hex id:
      systemd driver   /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid, - as _>.slice/cri-containerd-<id>.scope
                       /kubepods.slice/kubepods-pod<uid>.slice/cri-containerd-<id>.scope        (Guaranteed)
      cgroupfs driver  /kubepods/besteffort/pod<uid>/<id>     /kubepods/burstable/pod<uid>/<id>     /kubepods/pod<uid>/<id>
  (kubelet's CgroupName.ToSystemd: the name parts joined by "-", each part's "-" escaped as "_";
  containerd's runc shim names the scope "cri-containerd-<id>.scope"; dockershim/cri-dockerd
  "docker-<id>.scope", CRI-O "crio-<id>.scope"). The path may sit deeper than the root: kind's
  nodes are containers themselves ("/system.slice/docker-<node>.scope/kubelet.slice/kubelet-kubepods.slice/...").
* containerd's task state, one bundle directory per running task:
  /run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/ with config.json (the OCI runtime spec
  the CRI plugin wrote, whose annotations say what the task is) and init.pid (the pid runc wrote:
  decimal, no newline). The CRI plugin's annotations (containerd pkg/cri/annotations):
      io.kubernetes.cri.container-type      "sandbox" (the pause) or "container"
      io.kubernetes.cri.sandbox-id          the sandbox's id (a sandbox's own id, for the sandbox)
      io.kubernetes.cri.sandbox-name        the pod's name        io.kubernetes.cri.sandbox-namespace  its namespace
      io.kubernetes.cri.container-name      the Kubernetes container name (containers only)
      io.kubernetes.cri.image-name          its image (containers only)
  The sandbox's record does not name the pause image; containerd's config.toml does (sandbox_image).

The cgroups say which processes belong to which container id (a container's main process is the one
init.pid names, found among them); the records say what the id is. Records are kept by container id:
a bundle's config.json and init.pid never change while the task lives, so a steady node costs one
directory listing per snapshot.

The roots come from one place each, so a test can point them at a directory of its own: PROC
(observe/procfs.py) and CONTAINERD_STATE and CONTAINERD_CONFIG here.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Mapping, NamedTuple

from ...i18n import _
from ..model import Container, EngineState, Process
from ..procfs import proc_path

ENGINE = "containerd"

#: containerd's state directory (its `state` setting); the task bundles are under it.
CONTAINERD_STATE = "/run/containerd"
#: containerd's configuration, where the pause image is named (sandbox_image).
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
#: The containerd namespace the CRI plugin keeps Kubernetes' containers in.
K8S_NAMESPACE = "k8s.io"
#: The directory of the runtime v2 task bundles, under CONTAINERD_STATE.
TASK_DIR = "io.containerd.runtime.v2.task"

# The annotations the CRI plugin writes into each task's OCI spec.
CONTAINER_TYPE = "io.kubernetes.cri.container-type"
SANDBOX_ID = "io.kubernetes.cri.sandbox-id"
SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
CONTAINER_NAME = "io.kubernetes.cri.container-name"
IMAGE_NAME = "io.kubernetes.cri.image-name"


def task_dir(prefix: str = "") -> str:
    """The directory of containerd's Kubernetes task bundles, under *prefix* (a process's root, or "")."""
    return f"{prefix}{CONTAINERD_STATE}/{TASK_DIR}/{K8S_NAMESPACE}"


# --------------------------------------------------------------- cgroup paths
class PodCgroup(NamedTuple):
    """What a kubepods cgroup path says about the process in it."""
    runtime: str            # "containerd", "docker" (dockershim, cri-dockerd), "cri-o", or "" (cgroupfs driver: not named)
    container_id: str       # 64 hex digits
    pod_uid: str            # the pod's uid, with "-" as the API shows it
    qos: str                # "guaranteed", "burstable", "besteffort"


_ID = r"[0-9a-f]{64}"
#: A pod's cgroup: systemd "<parent>-pod<uid_with_underscores>.slice" or cgroupfs "pod<uid>". A static
#: pod's uid is a 32-hex hash without dashes; an API pod's a 36-character UUID.
_POD_SYSTEMD = re.compile(r"^(?P<parent>[\w-]*kubepods[\w-]*?)-pod(?P<uid>[0-9a-f_]{32,36})\.slice$")
_POD_CGROUPFS = re.compile(r"^pod(?P<uid>[0-9a-f-]{32,36})$")
_CONTAINER_SCOPE = re.compile(rf"^(?P<runtime>cri-containerd|docker|crio)-(?P<id>{_ID})\.scope$")
_CONTAINER_PLAIN = re.compile(rf"^(?P<id>{_ID})$")
_RUNTIMES = {"cri-containerd": "containerd", "docker": "docker", "crio": "cri-o"}


def parse_pod_cgroup(path: str | None) -> PodCgroup | None:
    """The pod and container a kubepods cgroup path names, or None for any other path (a pod's own
    cgroup without a container below it, a conmon scope, the host's processes)."""
    if not path or "kubepods" not in path:
        return None
    parts = path.strip("/").split("/")
    if len(parts) < 2:
        return None
    pod, leaf = parts[-2], parts[-1]
    scope = _CONTAINER_SCOPE.match(leaf)
    plain = None if scope else _CONTAINER_PLAIN.match(leaf)
    if not (scope or plain):
        return None
    systemd = _POD_SYSTEMD.match(pod)
    if systemd:
        uid = systemd["uid"].replace("_", "-")
        parent = systemd["parent"]
        qos = next((q for q in ("besteffort", "burstable") if parent.endswith(f"kubepods-{q}")), "guaranteed")
    else:
        cgroupfs = _POD_CGROUPFS.match(pod)
        if not cgroupfs or not any("kubepods" in p for p in parts[:-2]):
            return None
        uid = cgroupfs["uid"]
        above = parts[-3] if len(parts) >= 3 else ""
        qos = above if above in ("besteffort", "burstable") else "guaranteed"
    if scope:
        return PodCgroup(_RUNTIMES[scope["runtime"]], scope["id"], uid, qos)
    return PodCgroup("", plain["id"], uid, qos)


# --------------------------------------------------------------- docker-based nodes
_DOCKER_K8S_NAME = re.compile(r"^/?k8s_(?P<container>[^_]+)_(?P<pod>[^_]+)_(?P<namespace>[^_]+)_(?P<uid>[^_]+)_(?P<attempt>\d+)$")


def pod_of_docker_name(name: str) -> tuple[str, str, bool] | None:
    """(pod as "namespace/name", Kubernetes container name, is the sandbox) from a container name
    that dockershim or cri-dockerd gave a pod's container in Docker: "k8s_<container>_<pod>_<namespace>_<uid>_<attempt>",
    the sandbox's container being "POD" ("k8s_POD_myweb2_default_<uid>_0"). None for any other name.
    (Kubernetes names hold no "_", so the split is exact.) For the sandbox the name returned is the pod's."""
    m = _DOCKER_K8S_NAME.match(name)
    if not m:
        return None
    pod = f"{m['namespace']}/{m['pod']}"
    if m["container"] == "POD":
        return pod, m["pod"], True
    return pod, m["container"], False


# --------------------------------------------------------------- containerd's records
@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task bundle, as containerd's CRI plugin wrote it."""
    id: str
    kind: str                   # "sandbox" or "container"
    sandbox_id: str | None
    pod_name: str | None
    pod_namespace: str | None
    name: str | None            # the Kubernetes container name (None for a sandbox)
    image: str | None           # None for a sandbox (its spec does not say)
    init_pid: int | None        # as runc wrote it, in the pid namespace containerd runs in
    prefix: str                 # "" for this machine's root, or the /proc/PID/root it was read through


class RecordError(Exception):
    """A bundle that is there but could not be understood; the message says which and why."""


def read_record(bundle: str, prefix: str = "") -> TaskRecord | None:
    """The task in *bundle* (a directory), None when it is not a CRI task (no container-type
    annotation: a container that ctr or nerdctl made in the k8s.io namespace). Raises OSError when a
    file cannot be read (PermissionError included), RecordError when config.json is not a spec."""
    with open(os.path.join(bundle, "config.json"), "rb") as f:
        raw = f.read()
    try:
        spec = json.loads(raw)
    except ValueError as exc:
        raise RecordError(_("{file} is not JSON ({error})").format(file=f"{bundle}/config.json", error=exc)) from None
    annotations = spec.get("annotations") if isinstance(spec, dict) else None
    if annotations is None:
        return None
    if not isinstance(annotations, dict):
        raise RecordError(_("{file}: its annotations are not a mapping").format(file=f"{bundle}/config.json"))
    kind = annotations.get(CONTAINER_TYPE)
    if kind not in ("sandbox", "container"):
        return None
    init_pid = None
    try:
        with open(os.path.join(bundle, "init.pid"), "rb") as f:
            text = f.read().strip()
        init_pid = int(text) if text else None
    except FileNotFoundError:
        pass                    # runc has not written it yet (being created): no pid
    except ValueError:
        raise RecordError(_("{file} does not hold a pid").format(file=f"{bundle}/init.pid")) from None
    get = lambda key: annotations.get(key) or None  # noqa: E731 - "" means "not said"
    return TaskRecord(os.path.basename(bundle), kind, get(SANDBOX_ID), get(SANDBOX_NAME), get(SANDBOX_NAMESPACE),
                      get(CONTAINER_NAME), get(IMAGE_NAME), init_pid, prefix)


_SANDBOX_IMAGE = re.compile(r'^\s*(?:sandbox_image|sandbox)\s*=\s*"(?P<image>[^"]+)"', re.MULTILINE)


def sandbox_image(prefix: str = "") -> str:
    """The pause image containerd's config.toml names (v2 config: sandbox_image = "...", v3: the
    pinned image sandbox = "..."), or "" where it does not say (containerd's built-in default applies,
    which only the binary knows)."""
    try:
        with open(f"{prefix}{CONTAINERD_CONFIG}", encoding="utf-8", errors="replace") as f:
            m = _SANDBOX_IMAGE.search(f.read(256 * 1024))
    except OSError:
        return ""
    return m["image"] if m else ""


# --------------------------------------------------------------- the reader
class Reader:
    """containerd's Kubernetes containers: `Reader().read(processes) -> (containers, EngineState)`.

    Keep one Reader for a run of snapshots: it keeps each task's record by container id."""
    engine = ENGINE

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], TaskRecord] = {}   # (prefix, id) -> record
        self._foreign: set[tuple[str, str]] = set()             # (prefix, id) of tasks that are not CRI's
        self._images: dict[str, str] = {}                       # prefix -> the pause image

    def read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]:
        try:
            return self._read(processes)
        except Exception as exc:            # noqa: BLE001 - a snapshot must go on whatever a node holds
            return [], EngineState(ENGINE, "error", _("containerd's records could not be read: {error}").format(
                error=exc))

    # -- the steps
    def _read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]:
        members = self._members(processes)
        problems: list[str] = []
        root_only: list[str] = []           # those of the problems that say a record needs root
        records: dict[str, TaskRecord] = {}
        here = task_dir()
        try:
            names = os.listdir(here)
        except PermissionError:
            return [], EngineState(ENGINE, "denied", _("containerd's records ({path}) can be read only by root: run "
                                                       "nstutor as root (sudo) to see this node's pods").format(path=here))
        except FileNotFoundError:
            names = None
        except OSError as exc:
            return [], EngineState(ENGINE, "error", _("containerd's records ({path}) could not be listed: {error}")
                                   .format(path=here, error=exc.strerror or exc))
        listed = {("", n) for n in names or ()}
        denied = False
        if names is not None:
            self._load("", here, names, records, problems, root_only)
        # Records not on this machine's filesystem: a kind node is a container, and its containerd
        # keeps them under the node's root, which the shim (the container's parent) has as its own.
        missing = {cid for cid, (cg, _procs) in members.items() if cg.runtime == ENGINE and cid not in records}
        tried = {""}
        for cid in sorted(missing):
            for prefix in self._shim_roots(members[cid][1], processes):
                if cid in records or prefix in tried:
                    continue
                tried.add(prefix)
                try:
                    there = os.listdir(task_dir(prefix))
                except PermissionError:
                    denied = True
                    continue
                except OSError:
                    continue                    # not a node's root, or it went away
                listed |= {(prefix, n) for n in there}
                self._load(prefix, task_dir(prefix), there, records, problems, root_only)
        missing -= records.keys()
        self._forget(records, listed)

        containers = self._containers(records, members, processes)
        if names is None and not records:
            if missing and denied:
                return [], EngineState(ENGINE, "denied", _(
                    "{count} containers run in Kubernetes' kubepods cgroups under containerd, whose records can be "
                    "read only by root: run nstutor as root (sudo)").format(count=len(missing)))
            if missing:
                return [], EngineState(ENGINE, "error", _(
                    "{count} containers run in Kubernetes' kubepods cgroups under containerd, but containerd's "
                    "records are neither in {path} nor under their shims' roots").format(count=len(missing), path=here))
            # containerd's task plugin makes its state dir when it starts. /run/containerd alone
            # says nothing: every runc shim puts its socket in /run/containerd/s, dockerd's too.
            tasks = f"{CONTAINERD_STATE}/{TASK_DIR}"
            if not os.path.isdir(tasks):
                return [], EngineState(ENGINE, "absent", _("containerd has not run here (there is no {path}): this "
                                                           "machine is not a Kubernetes node with containerd").format(
                    path=tasks))
        if problems and not containers and len(root_only) == len(problems):
            return [], EngineState(ENGINE, "denied", problems[0])
        if problems:
            more = _(" (and {count} more)").format(count=len(problems) - 3) if len(problems) > 3 else ""
            return containers, EngineState(ENGINE, "error", "; ".join(problems[:3]) + more)
        return containers, EngineState(ENGINE, "running")

    @staticmethod
    def _members(processes: Mapping[int, Process]) -> dict[str, tuple[PodCgroup, list[Process]]]:
        """container id -> (what its cgroup path says, the processes in it), from every process's cgroup."""
        found: dict[str, tuple[PodCgroup, list[Process]]] = {}
        for proc in processes.values():
            cg = parse_pod_cgroup(proc.cgroup)
            if cg is not None:
                found.setdefault(cg.container_id, (cg, []))[1].append(proc)
        return found

    @staticmethod
    def _shim_roots(procs: list[Process], processes: Mapping[int, Process]) -> list[str]:
        """/proc/PID/root of the parents outside the container's cgroup (its shim), to read records through."""
        inside = {p.pid for p in procs}
        shims = sorted({p.ppid for p in procs if p.ppid not in inside and p.ppid in processes})
        return [proc_path(pid, "root") for pid in shims]

    def _load(self, prefix: str, directory: str, names: list[str], records: dict[str, TaskRecord],
              problems: list[str], root_only: list[str]) -> None:
        for name in names:
            if name in records:
                continue
            key = (prefix, name)
            if key in self._foreign:
                continue
            record = self._records.get(key)
            if record is None or record.init_pid is None:
                try:
                    record = read_record(os.path.join(directory, name), prefix)
                except (FileNotFoundError, NotADirectoryError):
                    continue                    # not a bundle, being made, or the task went away meanwhile
                except PermissionError:
                    problems.append(_("{path} can be read only by root: run nstutor as root (sudo)").format(
                        path=f"{directory}/{name}"))
                    root_only.append(problems[-1])
                    continue
                except OSError as exc:
                    problems.append(_("{path} could not be read: {error}").format(path=f"{directory}/{name}",
                                                                                   error=exc.strerror or exc))
                    continue
                except RecordError as exc:
                    problems.append(str(exc))
                    continue
                if record is None:
                    self._foreign.add(key)      # made by ctr or nerdctl, not by the kubelet: not a pod's
                    continue
                self._records[key] = record
            records[name] = record

    def _forget(self, records: dict[str, TaskRecord], listed: set[tuple[str, str]]) -> None:
        """Drop what was kept for tasks that are gone, so a busy node's cache does not grow."""
        alive = {(r.prefix, r.id) for r in records.values()}
        for key in [k for k in self._records if k not in alive]:
            del self._records[key]
        self._foreign &= listed

    def _image_of_sandbox(self, prefix: str) -> str:
        if prefix not in self._images:
            self._images[prefix] = sandbox_image(prefix)
        return self._images[prefix]

    def _containers(self, records: dict[str, TaskRecord], members: dict[str, tuple[PodCgroup, list[Process]]],
                    processes: Mapping[int, Process]) -> list[Container]:
        out = []
        for record in records.values():
            sandbox = records.get(record.sandbox_id or "")
            namespace = record.pod_namespace or (sandbox.pod_namespace if sandbox else None)
            pod_name = record.pod_name or (sandbox.pod_name if sandbox else None)
            pod = f"{namespace}/{pod_name}" if namespace and pod_name else None
            pid = main_pid(record.init_pid, members.get(record.id, (None, []))[1], processes)
            if record.kind == "sandbox":
                name, image, infra = pod_name or record.id[:12], self._image_of_sandbox(record.prefix), True
            else:
                name, image, infra = record.name or record.id[:12], record.image or "", False
            out.append(Container(ENGINE, record.id, name, image, "running" if pid is not None else "exited",
                                 pid, pod, infra))
        # By pod, its sandbox first, then by name: the order a learner reads `crictl ps` in.
        return sorted(out, key=lambda c: (c.pod or "", not c.infra, c.name, c.id))


def main_pid(init_pid: int | None, procs: list[Process], processes: Mapping[int, Process]) -> int | None:
    """The container's main process on this machine: the one init.pid names, among the processes
    in its cgroup. runc wrote that pid in containerd's pid namespace, which is this machine's except on
    a kind node (the node's own), so a process whose NSpid holds it counts too. Without init.pid, the
    oldest process of the cgroup whose parent is outside it."""
    if procs:
        if init_pid is not None:
            for proc in procs:
                if proc.pid == init_pid:
                    return proc.pid
            for proc in procs:
                if init_pid in proc.nspid[1:]:
                    return proc.pid
            return None                     # init.pid names a process that is gone: the task exited
        inside = {p.pid for p in procs}
        roots = [p for p in procs if p.ppid not in inside]
        return min(roots, key=lambda p: (p.start_ticks, p.pid)).pid if roots else None
    if init_pid is not None and init_pid in processes:
        return init_pid                     # a cgroup layout this module does not know: trust runc's record
    return None
