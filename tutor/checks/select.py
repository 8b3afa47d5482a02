"""Process selectors: how a check names "the process I mean".

    process: {comm: pause}                  # exact kernel name (15 chars max)
    process: {cmdline: '^sleep 1001$'}      # regular expression searched in the joined argv
    process: 'sleep 1001'                   # shorthand for {cmdline: ...}
    process: {comm: sleep, cmdline: '1004'} # both must hold

Zombies are skipped unless {zombie: true}. nstutor's own processes (Snapshot.self_pids) never match.
"""
from __future__ import annotations

import re
from typing import Any

from ..observe.model import Process, Snapshot
from ..texts import noun

_KEYS = {"comm", "cmdline", "zombie"}


def selector_problem(value: Any) -> str | None:
    if isinstance(value, str):
        value = {"cmdline": value}
    if not isinstance(value, dict) or not value:
        return "a process is selected with {comm: NAME} and/or {cmdline: REGEX}"
    unknown = set(value) - _KEYS
    if unknown:
        return f"unknown selector {noun(len(unknown), 'key')} {', '.join(sorted(unknown))}; use comm and/or cmdline"
    if "comm" not in value and "cmdline" not in value:
        return "a process selector needs comm or cmdline"
    if "cmdline" in value:
        try:
            re.compile(str(value["cmdline"]))
        except re.error as exc:
            return f"cmdline pattern {value['cmdline']!r} is not a valid regular expression: {exc}"
    return None


def normalise(value: Any) -> dict:
    return {"cmdline": value} if isinstance(value, str) else dict(value)


def describe_selector(value: Any) -> str:
    sel = normalise(value)
    parts = []
    if "comm" in sel:
        parts.append(f"named '{sel['comm']}'")
    if "cmdline" in sel:
        parts.append(f"whose command line matches '{sel['cmdline']}'")
    return "a process " + " and ".join(parts)


def select(snap: Snapshot, value: Any) -> list[Process]:
    """Processes matching the selector, lowest pid first."""
    sel = normalise(value)
    comm = sel.get("comm")
    pattern = re.compile(str(sel["cmdline"])) if "cmdline" in sel else None
    want_zombie = bool(sel.get("zombie", False))
    me = snap.self_pids
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


def name(proc: Process) -> str:
    """How messages name a process: 'sleep 1001' (pid 4242)."""
    cmd = proc.command
    if len(cmd) > 60:
        cmd = cmd[:57] + "..."
    return f"'{cmd}' (pid {proc.pid})"
