"""Docker's containers, from dockerd's own API on its unix socket (read-only, never the CLI).

`GET /containers/json?all=1` lists every container with its name, image, state and network mode.
The main pid is not in that list. The process table has it: each running container has a
`containerd-shim-runc-v2 -namespace moby -id <id>` whose first child is the container's main
process. Only a running container without such a shim (another runtime, an older shim) costs a
`GET /containers/<id>/json`, asked again only when its state changed or its pid left the table.

The list itself costs dockerd about 5 ms with 50 containers, too much for every live snapshot.
So a reader read more than once (the app's Observer keeps it) also holds `GET /events` open,
filtered to container events, and lists again only when dockerd sent something on it (a
container created, started, died, renamed, removed...), when it closed it (dockerd stopping),
when a main pid it knows has left the process table, or after REFRESH_S anyway. Reading that
stream is one non-blocking recv: a steady machine costs almost nothing, however many containers.

The socket is DOCKER_HOST's (unix://PATH) when set, else /run/docker.sock. Every request has a
short timeout: a dockerd that hangs or restarts makes the snapshot say so, not wait.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import time
from typing import Mapping

from ...i18n import _
from ..model import Container, EngineState, Process
from .cri import pod_of_docker_name

ENGINE = "docker"
DEFAULT_SOCKET = "/run/docker.sock"
TIMEOUT_S = 0.5
REFRESH_S = 10.0             # list again at least this often, events or not
EVENTS_URL = '/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D'   # {"type":["container"]}


def socket_path(environ: Mapping[str, str] = os.environ) -> str | None:
    """Where dockerd listens: DOCKER_HOST's unix path, else the default. None: DOCKER_HOST is not a
    unix socket (tcp://...), which this reader does not follow (a remote daemon's pids are not ours)."""
    host = environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return None


def start_hint() -> str:
    """How to start dockerd on this machine, for a sentence that says it is not running."""
    if os.path.isdir("/run/systemd/system"):
        return _("start it with {command}").format(command="`systemctl start docker`")
    return _("start it with {command} (or, as root, {fallback})").format(command="`service docker start`",
                                                                         fallback="`dockerd &`")


class _UnixConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket (what the docker CLI speaks to dockerd)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _Trouble(Exception):
    """Why dockerd could not be read: carries the EngineState to report."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(detail)
        self.engine_state = EngineState(ENGINE, state, detail)


class Reader:
    """Docker's containers for each snapshot; keeps one connection and what each container's
    inspect said (by id), and once read twice the event stream that says when to list again."""
    engine = ENGINE

    def __init__(self, path: str | None = None, timeout: float = TIMEOUT_S) -> None:
        """*path*: dockerd's socket (default: from DOCKER_HOST, else /run/docker.sock)."""
        self._path = path
        self._timeout = timeout
        self._conn: _UnixConnection | None = None
        self._inspected: dict[str, tuple[str, dict]] = {}   # id -> (list state it was read under, inspect)
        self._reads = 0
        self._events: socket.socket | None = None   # GET /events, held open once read twice
        self._kept: tuple[float, list[Container]] | None = None   # (when listed, what it gave)
        self.lists = 0                              # how often it listed (for tests and the bench)

    # ------------------------------------------------------------------ the one entry point
    def read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]:
        try:
            return self._read(processes), EngineState(ENGINE, "running")
        except _Trouble as trouble:
            self.close()
            return [], trouble.engine_state
        except Exception as exc:      # never a traceback in a snapshot: say what it was
            self.close()
            return [], EngineState(ENGINE, "error", _("dockerd's answer could not be read: {error}").format(error=exc))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._stop_watching()

    # ------------------------------------------------------------------ is the last list still true?
    def _stop_watching(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        self._kept = None

    def _watch(self, path: str) -> None:
        """Open GET /events (before the list it guards is taken: nothing falls between)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self._timeout)
            sock.connect(path)
            sock.sendall(f"GET {EVENTS_URL} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
            # dockerd answers with its headers once it has subscribed us: from then on no change is missed
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise OSError("dockerd closed the events stream")
                head += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                raise OSError(head.split(b"\r\n")[0].decode(errors="replace"))
            sock.setblocking(False)
        except (socket.timeout, BlockingIOError):   # BlockingIOError: its backlog is full
            sock.close()             # a hanging dockerd: say so now rather than wait once more for the list
            raise _Trouble("error", _silent(self._timeout, path))
        except OSError:
            sock.close()
            return                   # no stream: list on every read, as a one-shot reader does
        self._events = sock

    def _events_arrived(self) -> bool:
        """Whether dockerd sent anything on the events stream (or closed it) since the last call."""
        if self._events is None:
            return True
        arrived = False
        while True:
            try:
                data = self._events.recv(65536)
            except (BlockingIOError, InterruptedError):
                return arrived
            except OSError:
                data = b""
            if not data:             # closed: dockerd stopped or restarted
                self._stop_watching()
                return True
            arrived = True

    def _still_true(self, processes: Mapping[int, Process]) -> list[Container] | None:
        if self._kept is None:
            return None
        when, containers = self._kept
        if self._events_arrived() or time.monotonic() - when > REFRESH_S:
            return None
        if processes and any(c.pid is not None and c.pid not in processes for c in containers):
            return None
        return containers

    # ------------------------------------------------------------------ reading
    def _read(self, processes: Mapping[int, Process]) -> list[Container]:
        self._reads += 1
        kept = self._still_true(processes)
        if kept is not None:
            return kept
        path = self._path if self._path is not None else socket_path()
        if self._reads > 1 and self._events is None and path is not None:
            self._watch(path)
        listed = self._get("/containers/json?all=1")
        self.lists += 1
        if not isinstance(listed, list):
            raise _Trouble("error", _("dockerd answered {url} with something that is not a list").format(
                url="/containers/json"))
        names = {entry.get("Id", ""): _name(entry.get("Names")) for entry in listed}
        shims = shim_children(processes)
        seen = set()
        out = []
        for entry in listed:
            cid = entry.get("Id", "")
            state = entry.get("State", "") or ""
            seen.add(cid)
            pid = None
            inspect: dict = {}
            if state in ("running", "paused", "restarting"):
                pid = shims.get(cid)
                if pid is None:
                    inspect = self._inspect(cid, state, processes)
                    pid = (inspect.get("State") or {}).get("Pid") or None
            pod, infra = kubernetes_pod(names[cid])
            out.append(Container(
                engine=ENGINE, id=cid, name=names[cid], image=entry.get("Image", "") or "",
                state=state, pid=pid, pod=pod, infra=infra, network=_network(entry, inspect, names)))
        for gone in set(self._inspected) - seen:
            del self._inspected[gone]
        if self._events is not None:
            self._kept = (time.monotonic(), out)
        return out

    def _inspect(self, cid: str, state: str, processes: Mapping[int, Process]) -> dict:
        kept = self._inspected.get(cid)
        if kept is not None and kept[0] == state:
            pid = (kept[1].get("State") or {}).get("Pid") or 0
            if not pid or pid in processes or not processes:
                return kept[1]
        try:
            found = self._get(f"/containers/{cid}/json")
        except _Trouble as trouble:
            if trouble.engine_state.state != "gone":
                raise
            found = {}
        found = found if isinstance(found, dict) else {}
        self._inspected[cid] = (state, found)
        return found

    def _get(self, url: str):
        path = self._path if self._path is not None else socket_path()
        if path is None:
            raise _Trouble("error", _("DOCKER_HOST is {value}: nstutor reads a local dockerd through its unix "
                                      "socket only ({socket})").format(value=repr(os.environ.get('DOCKER_HOST')),
                                                                       socket="unix:///run/docker.sock"))
        for attempt in (1, 2):           # a kept connection dockerd closed meanwhile: once more, afresh
            fresh = self._conn is None
            try:
                if self._conn is None:
                    self._conn = _UnixConnection(path, self._timeout)
                self._conn.request("GET", url, headers={"Host": "docker"})
                response = self._conn.getresponse()
                body = response.read()
                break
            except FileNotFoundError:
                self.close()
                raise _Trouble(*_not_listening(path))
            except ConnectionRefusedError:
                self.close()
                raise _Trouble("stopped", _("dockerd is not running: {hint}").format(hint=start_hint()))
            except PermissionError:
                self.close()
                raise _Trouble("denied", _("{path} is dockerd's socket, and only root and the docker group may use "
                                           "it: run nstutor with sudo, or add yourself to the docker group").format(
                    path=path))
            except (socket.timeout, BlockingIOError):   # BlockingIOError: its backlog is full
                self.close()
                raise _Trouble("error", _silent(self._timeout, path))
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                self.close()
                if fresh or attempt == 2:
                    raise _Trouble("error", _("dockerd's socket {path} did not answer: {error}").format(
                        path=path, error=exc))
        if response.status == 404 and url != "/containers/json?all=1":
            raise _Trouble("gone", _("the container went away meanwhile"))
        if response.status != 200:
            raise _Trouble("error", _("dockerd answered {url} with HTTP {status}: {body}").format(
                url=url, status=response.status, body=body[:200].decode(errors='replace').strip()))
        return json.loads(body)


def shim_children(processes: Mapping[int, Process]) -> dict[str, int]:
    """container id -> its main process: the first-started child of `containerd-shim-runc-v2
    -namespace moby -id <id>` (a later child is a `docker exec`)."""
    shims: dict[int, str] = {}
    for p in processes.values():
        if p.comm.startswith("containerd-shim") and "moby" in p.cmdline:
            argv = p.cmdline
            for i, arg in enumerate(argv[:-1]):
                if arg == "-id":
                    shims[p.pid] = argv[i + 1]
                    break
    if not shims:
        return {}
    first: dict[str, Process] = {}
    for p in processes.values():
        cid = shims.get(p.ppid)
        if cid is not None and (cid not in first or (p.start_ticks, p.pid) < (first[cid].start_ticks, first[cid].pid)):
            first[cid] = p
    return {cid: p.pid for cid, p in first.items()}


def _not_listening(path: str) -> tuple[str, str]:
    if shutil.which("dockerd") or os.path.exists("/usr/bin/dockerd") or os.path.exists("/usr/sbin/dockerd"):
        return "stopped", _("dockerd is not running: {hint}").format(hint=start_hint())
    return "absent", _("docker is not installed (Debian/Ubuntu: {command})").format(
        command="apt-get install docker.io")


def _silent(timeout: float, path: str) -> str:
    return _("dockerd did not answer within {seconds:g} s on {path} (starting or restarting?): nstutor looks "
             "again next time").format(seconds=timeout, path=path)


def _name(names) -> str:
    """Docker lists names with a leading '/' ("/web"); the first is the container's own."""
    if not names:
        return ""
    return str(names[0]).lstrip("/")


def _network(entry: dict, inspect: dict, names: Mapping[str, str]) -> str | None:
    """HostConfig.NetworkMode, with container:<id> named as a learner typed it: container:<name>.
    "default" (no --network given) is Docker's bridge network on Linux: named so."""
    mode = (entry.get("HostConfig") or {}).get("NetworkMode") or \
        (inspect.get("HostConfig") or {}).get("NetworkMode")
    if not mode:
        return None
    if mode == "default":
        return "bridge"
    if mode.startswith("container:"):
        ref = mode[len("container:"):]
        for cid, name in names.items():
            if cid == ref or (len(ref) >= 12 and cid.startswith(ref)) or name == ref:
                return f"container:{name}"
    return mode


def kubernetes_pod(name: str) -> tuple[str | None, bool]:
    """(the Kubernetes pod as "namespace/name", is it the pod's sandbox) of a container that
    cri-dockerd (or dockershim before it) made in Docker for the kubelet, known by the name it
    gives: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>, the sandbox's container being POD
    (see cri.py); (None, False) for any other container."""
    found = pod_of_docker_name(name)
    return (found[0], found[2]) if found else (None, False)
