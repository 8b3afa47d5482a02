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

import importlib
from typing import Iterable, Mapping, Protocol

from ...i18n import _
from ..model import ENGINES, Container, EngineState, Process

#: engine name -> the module of this package that reads it
MODULES = {"docker": "docker", "podman": "podman", "containerd": "cri"}


class Reader(Protocol):
    engine: str

    def read(self, processes: Mapping[int, Process]) -> tuple[list[Container], EngineState]: ...


def readers() -> list[Reader]:
    """One Reader per engine in ENGINES whose module is there, in that order."""
    out = []
    for engine in ENGINES:
        try:
            module = importlib.import_module(f".{MODULES[engine]}", __name__)
        except ImportError:
            continue
        out.append(module.Reader())
    return out


def read_all(engine_readers: Iterable[Reader], processes: Mapping[int, Process]
             ) -> tuple[tuple[Container, ...], tuple[EngineState, ...]]:
    """Every reader's containers and state, for one snapshot. A reader that breaks its promise
    never to raise is reported as that engine's error, and the snapshot goes on."""
    containers: list[Container] = []
    states: list[EngineState] = []
    for reader in engine_readers:
        try:
            found, state = reader.read(processes)
        except Exception as exc:
            found, state = [], EngineState(reader.engine, "error", _("nstutor could not read {engine}: {error}").format(
                engine=reader.engine, error=exc))
        containers.extend(found)
        states.append(state)
    return tuple(containers), tuple(states)


def close_all(engine_readers: Iterable[Reader]) -> None:
    for reader in engine_readers:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
