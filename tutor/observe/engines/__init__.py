"""Containers as their engines record them: Docker, Podman, containerd (Kubernetes' CRI).

Read-only, and without running an engine's CLI on every snapshot: each engine module reads what
the engine itself keeps (Docker's API on its unix socket, Podman's state and conmon's arguments,
containerd's task state and the kubepods cgroup paths) and keeps what it learnt by container id,
so a steady machine costs almost nothing.

Each engine module has one `Reader` class: `Reader().read(processes) -> (containers, EngineState)`,
called once per snapshot with the snapshot's process table (pid -> model.Process). It must never
raise and never wait long: an engine that is absent, stopped, restarting or denies access gives
no containers and an EngineState that says why, in words a learner can act on.
"""
from __future__ import annotations

from typing import Mapping, Protocol

from ..model import Container, EngineState, Process


class Reader(Protocol):
    engine: str

    def read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]: ...
