"""Docker's containers, from dockerd's own API on its unix socket (read-only, never the CLI).

One `GET /containers/json?all=1` per snapshot lists every container with its name, image, state
and network mode. The main pid is only in `GET /containers/<id>/json`, so that is asked only for
a container not seen before, or whose state changed, or whose pid has left the process table:
a steady machine costs one short request per snapshot, whatever the number of containers.

The socket is DOCKER_HOST's (unix://PATH) when set, else /run/docker.sock. Every request has a
short timeout: a dockerd that hangs or restarts makes the snapshot say so, not wait.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
from typing import Mapping

from ..model import Container, EngineState, Process

ENGINE = "docker"
DEFAULT_SOCKET = "/run/docker.sock"
TIMEOUT_S = 0.5
START_HINT = "start it with `systemctl start docker` (or `dockerd &` where there is no systemd)"


def socket_path(environ: Mapping[str, str] = os.environ) -> str | None:
    """Where dockerd listens: DOCKER_HOST's unix path, else the default. None: DOCKER_HOST is not a
    unix socket (tcp://...), which this reader does not follow (a remote daemon's pids are not ours)."""
    host = environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return None


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
    inspect said (by id), so a warm snapshot is one request."""
    engine = ENGINE

    def __init__(self, path: str | None = None, timeout: float = TIMEOUT_S) -> None:
        """*path*: dockerd's socket (default: from DOCKER_HOST, else /run/docker.sock)."""
        self._path = path
        self._timeout = timeout
        self._conn: _UnixConnection | None = None
        self._inspected: dict[str, tuple[str, dict]] = {}   # id -> (list state it was read under, inspect)

    # ------------------------------------------------------------------ the one entry point
    def read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]:
        try:
            return self._read(processes), EngineState(ENGINE, "running")
        except _Trouble as trouble:
            self.close()
            return [], trouble.engine_state
        except Exception as exc:      # never a traceback in a snapshot: say what it was
            self.close()
            return [], EngineState(ENGINE, "error", f"dockerd's answer could not be read: {exc}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ reading
    def _read(self, processes: Mapping[int, Process]) -> list[Container]:
        listed = self._get("/containers/json?all=1")
        if not isinstance(listed, list):
            raise _Trouble("error", "dockerd answered /containers/json with something that is not a list")
        names = {entry.get("Id", ""): _name(entry.get("Names")) for entry in listed}
        seen = set()
        out = []
        for entry in listed:
            cid = entry.get("Id", "")
            state = entry.get("State", "") or ""
            seen.add(cid)
            inspect = self._inspect(cid, state, processes)
            pid = (inspect.get("State") or {}).get("Pid") or None
            out.append(Container(
                engine=ENGINE, id=cid, name=names[cid], image=entry.get("Image", "") or "",
                state=state, pid=pid if pid and state in ("running", "paused", "restarting") else None,
                network=_network(entry, inspect, names)))
        for gone in set(self._inspected) - seen:
            del self._inspected[gone]
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
            raise _Trouble("error", f"DOCKER_HOST is {os.environ.get('DOCKER_HOST')!r}: nstutor reads a local "
                                    "dockerd through its unix socket only (unix:///run/docker.sock)")
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
                raise _Trouble("stopped", f"dockerd is not running: {START_HINT}")
            except PermissionError:
                self.close()
                raise _Trouble("denied", f"{path} is dockerd's socket, and only root and the docker group may "
                                         "use it: run nstutor with sudo, or add yourself to the docker group")
            except socket.timeout:
                self.close()
                raise _Trouble("error", f"dockerd did not answer within {self._timeout:g} s on {path} "
                                        "(starting or restarting?): nstutor looks again next time")
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                self.close()
                if fresh or attempt == 2:
                    raise _Trouble("error", f"dockerd's socket {path} did not answer: {exc}")
        if response.status == 404 and url != "/containers/json?all=1":
            raise _Trouble("gone", "the container went away meanwhile")
        if response.status != 200:
            raise _Trouble("error", f"dockerd answered {url} with HTTP {response.status}: "
                                    f"{body[:200].decode(errors='replace').strip()}")
        return json.loads(body)


def _not_listening(path: str) -> tuple[str, str]:
    if shutil.which("dockerd") or os.path.exists("/usr/bin/dockerd") or os.path.exists("/usr/sbin/dockerd"):
        return "stopped", f"dockerd is not running: {START_HINT}"
    return "absent", ("docker is not installed (Debian/Ubuntu: apt-get install docker.io)")


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
