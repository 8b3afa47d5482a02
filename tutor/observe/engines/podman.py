"""Podman's containers, from what Podman leaves on the machine (read-only, never `podman`).

Podman has no daemon to ask. What it leaves, as measured with Podman 4.3.1 (rootful):

* one `conmon` process per running container, whose argv carries `-c <id>`, `-n <name>` and
  `-b <bundle>`; the container's main process is conmon's child;
* the bundle's config.json: the OCI spec runc was given. Its annotations say, for a pod's
  member, `io.kubernetes.cri-o.ContainerType: container` and `io.kubernetes.cri-o.SandboxID:
  <the infra's id>`; the infra has neither (nor any io.podman.annotations.infra). The infra runs
  `/catatonit -P`, is named `<pod id, 12 digits>-infra`, and its spec's hostname is the pod's
  name (unless `--hostname` said otherwise); the members join its namespaces by
  `/proc/<infra pid>/ns/...` paths;
* containers/storage's containers.json: every container, running or not, with its names and
  image name (so stopped ones are listed too: state "exited" once started, else "created");
* libpod's bolt_state.db, in which each pod's config is a JSON value `{"id":"<pod id>","name":
  "<pod name>",...}`: read (cached by its mtime) only to name a pod exactly.

Everything read is kept by container id or by the file's mtime: a steady machine re-reads
nothing but the process table, which the snapshot has already.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from typing import Mapping

from ...i18n import _
from ..model import Container, EngineState, Process

ENGINE = "podman"
STORAGE = "/var/lib/containers/storage"
CONTAINERS_JSON = "overlay-containers/containers.json"
BOLT_DB = "libpod/bolt_state.db"
INFRA_NAME = re.compile(r"^([0-9a-f]{12})-infra$")
POD_CONFIG = re.compile(rb'\{"id":"([0-9a-f]{64})","name":"([^"\\]{1,253})","labels"')
SANDBOX_ID = "io.kubernetes.cri-o.SandboxID"


def conmon_args(argv: tuple[str, ...]) -> dict[str, str]:
    """conmon's options that matter here: -c id, -n name, -b bundle, -p pidfile (and long forms)."""
    wanted = {"-c": "id", "--cid": "id", "-n": "name", "--name": "name", "-b": "bundle", "--bundle": "bundle",
              "-p": "pidfile", "--container-pidfile": "pidfile", "--exit-dir": "exit_dir"}
    out: dict[str, str] = {}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in wanted and i + 1 < len(argv):
            out.setdefault(wanted[arg], argv[i + 1])
            i += 2
            continue
        if "=" in arg and arg.split("=", 1)[0] in wanted:
            key, value = arg.split("=", 1)
            out.setdefault(wanted[key], value)
        i += 1
    return out


class _Cached:
    """A file's parse, kept while its (mtime, size) stays the same."""

    def __init__(self, parse) -> None:
        self._parse = parse
        self._key = None
        self._value = None

    def get(self, path: str):
        """The parse of *path*; raises OSError (PermissionError too) as os.stat does."""
        st = os.stat(path)
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key != self._key:
            with open(path, "rb") as f:
                self._value = self._parse(f.read())
            self._key = key
        return self._value


def _parse_storage(raw: bytes) -> dict[str, tuple[str, str]]:
    """containers.json -> id -> (name, image name)."""
    out = {}
    for entry in json.loads(raw or b"[]") or []:
        try:
            meta = json.loads(entry.get("metadata") or "{}")
        except ValueError:
            meta = {}
        names = entry.get("names") or [meta.get("name", "")]
        out[entry.get("id", "")] = (names[0] if names else "", meta.get("image-name", "") or "")
    return out


def _parse_pods(raw: bytes) -> dict[str, str]:
    """bolt_state.db -> pod id -> pod name (each pod's config is one contiguous JSON value)."""
    return {m.group(1).decode(): m.group(2).decode(errors="replace") for m in POD_CONFIG.finditer(raw)}


def _parse_spec(raw: bytes) -> dict:
    spec = json.loads(raw)
    return spec if isinstance(spec, dict) else {}


class Reader:
    engine = ENGINE

    def __init__(self, storage: str = STORAGE) -> None:
        self._storage = storage
        self._list = _Cached(_parse_storage)
        self._pods = _Cached(_parse_pods)
        self._specs: dict[str, dict] = {}          # id -> the bundle's config.json (it does not change)
        self._installed: bool | None = None

    def read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]:
        try:
            return self._read(processes)
        except Exception as exc:          # never a traceback in a snapshot: say what it was
            return [], EngineState(ENGINE, "error", _("Podman's records could not be read: {error}").format(error=exc))

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ reading
    def _read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]:
        conmons = {p.pid: conmon_args(p.cmdline) for p in processes.values() if p.comm == "conmon"}
        conmons = {pid: args for pid, args in conmons.items() if "id" in args}
        children: dict[int, int] = {}
        if conmons:
            for p in processes.values():
                if p.ppid in conmons and p.ppid not in children:
                    children[p.ppid] = p.pid
        denied = None
        try:
            listed = self._list.get(os.path.join(self._storage, CONTAINERS_JSON))
        except FileNotFoundError:
            listed = {}
        except PermissionError:
            listed, denied = {}, _("Podman's records under {path} need root: run nstutor with sudo to see stopped "
                                   "containers and pod names").format(path=self._storage)
        if not conmons and not listed and denied is None and not self._podman_installed():
            return [], EngineState(ENGINE, "absent", _("podman is not installed (Debian/Ubuntu: {command})").format(
                command="apt-get install podman"))

        running: dict[str, tuple[dict, int | None]] = {}
        for pid, args in conmons.items():
            running[args["id"]] = (args, children.get(pid))
        specs = {cid: self._spec(cid, args.get("bundle")) for cid, (args, _pid) in running.items()}
        names = {cid: args.get("name", "") for cid, (args, _pid) in running.items()}
        for cid, (name, _image) in listed.items():
            names.setdefault(cid, name)
        pod_of_infra = self._pod_names(names, specs)
        pid_names = {pid: names[cid] for cid, (_args, pid) in running.items() if pid}

        out = []
        for cid in sorted(set(running) | set(listed), key=lambda c: names.get(c, "")):
            args, pid = running.get(cid, ({}, None))
            spec = specs.get(cid) or {}
            annotations = spec.get("annotations") or {}
            image = listed.get(cid, ("", ""))[1]
            infra = cid in pod_of_infra
            sandbox = annotations.get(SANDBOX_ID)
            pod = pod_of_infra.get(cid) if infra else pod_of_infra.get(sandbox) if sandbox else None
            if cid in running:
                state = "running" if pid else "stopping"
            else:
                state = "exited" if self._was_started(cid) else "created"
            out.append(Container(ENGINE, cid, names.get(cid, ""), image, state, pid if cid in running else None,
                                 pod=pod, infra=infra, network=_network(spec, pid_names) if spec else None))
        for gone in set(self._specs) - set(running):
            del self._specs[gone]
        if denied:
            return out, EngineState(ENGINE, "denied", denied)
        return out, EngineState(ENGINE, "running")

    def _spec(self, cid: str, bundle: str | None) -> dict:
        if cid in self._specs:
            return self._specs[cid]
        bundle = bundle or os.path.join(self._storage, "overlay-containers", cid, "userdata")
        try:
            with open(os.path.join(bundle, "config.json"), "rb") as f:
                spec = _parse_spec(f.read())
        except (OSError, ValueError):
            return {}            # not written yet, or not ours to read: asked again next snapshot
        self._specs[cid] = spec
        return spec

    def _was_started(self, cid: str) -> bool:
        """Podman writes the OCI spec when it first starts a container: a created one has none."""
        return os.path.exists(os.path.join(self._storage, "overlay-containers", cid, "userdata", "config.json"))

    def _pod_names(self, names: Mapping[str, str], specs: Mapping[str, dict]) -> dict[str, str]:
        """infra id -> its pod's name. An infra is named '<pod id[:12]>-infra' and runs catatonit -P;
        its pod's name is in libpod's database, else (unreadable) the hostname Podman gave the pod."""
        infras = {}
        for cid, name in names.items():
            spec = specs.get(cid) or {}
            args = tuple((spec.get("process") or {}).get("args") or ())
            match = INFRA_NAME.match(name)
            if match or (args and args[0].endswith("catatonit") and "-P" in args):
                infras[cid] = (match.group(1) if match else None, spec.get("hostname"))
        if not infras:
            return {}
        try:
            pods = self._pods.get(os.path.join(self._storage, BOLT_DB))
        except OSError:
            pods = {}
        out = {}
        for cid, (prefix, hostname) in infras.items():
            exact = [name for pod_id, name in pods.items() if prefix and pod_id.startswith(prefix)]
            out[cid] = exact[0] if len(set(exact)) == 1 else (hostname or names.get(cid, ""))
        return out

    def _podman_installed(self) -> bool:
        if self._installed is None:
            self._installed = bool(shutil.which("podman")) or os.path.isdir(self._storage)
        return self._installed


def _network(spec: dict, pid_names: Mapping[int, str]) -> str | None:
    """How the spec gives the container its netns: none listed -> host; /proc/<pid>/ns/net ->
    another container's (container:<name>); a /run/netns path -> Podman's own netns (bridge)."""
    namespaces = (spec.get("linux") or {}).get("namespaces") or []
    net = next((ns for ns in namespaces if ns.get("type") == "network"), None)
    if net is None:
        return "host"
    path = net.get("path") or ""
    match = re.match(r"^/proc/(\d+)/ns/net$", path)
    if match:
        name = pid_names.get(int(match.group(1)))
        return f"container:{name}" if name else "container"
    return "bridge" if path else "none"
