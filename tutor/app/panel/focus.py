"""What the current lesson is about, so the live panel can pick it out of the whole machine.

A machine may hold 200 network namespaces and 2,000 processes; a learner doing lesson 10
cares about RED, BLUE and one veth pair. A `Focus` names those objects the way a lesson
does (netns names, "RED/veth0" interface references, process selectors), and resolves them
against a snapshot when a view needs inodes and pids.

`lesson_focus(lesson)` derives the focus from the lesson itself: its cleanup declaration
(what it makes) and the fields of its check expectations (what it looks at). It reads the
YAML fields by name, so a new expectation kind that uses the usual field names (netns, dev,
ends, ports, comm, cmdline, process, members...) is picked up without changes here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ...observe.model import Process, Snapshot

HOST_NAMES = ("host", "root")


def _freeze(value: Any) -> Any:
    """A hashable, order-independent stand-in for a selector (dicts are not hashable)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


class _Matcher:
    """One compiled process selector ({comm, cmdline, zombie} or a cmdline string)."""

    __slots__ = ("comm", "pattern", "zombie")

    def __init__(self, selector: Any):
        sel = {"cmdline": selector} if isinstance(selector, str) else dict(selector or {})
        self.comm = sel.get("comm")
        try:
            self.pattern = re.compile(str(sel["cmdline"])) if "cmdline" in sel else None
        except re.error:
            # A bad pattern is the lint's business; here it simply matches nothing.
            self.pattern = re.compile(r"(?!)")
        self.zombie = bool(sel.get("zombie", False))
        if self.comm is None and self.pattern is None:
            self.pattern = re.compile(r"(?!)")

    def __call__(self, proc: Process) -> bool:
        if proc.is_zombie and not self.zombie:
            return False
        if self.comm is not None and proc.comm != self.comm:
            return False
        return self.pattern is None or bool(self.pattern.search(" ".join(proc.cmdline)))


_MATCHERS: dict[Any, _Matcher] = {}


def _matcher(selector: Any) -> _Matcher:
    key = _freeze(selector)
    found = _MATCHERS.get(key)
    if found is None:
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        found = _MATCHERS[key] = _Matcher(selector)
    return found


@dataclass(frozen=True)
class Resolved:
    """A focus resolved against one snapshot: inodes and pids the views can test quickly."""
    netns: frozenset[int]                      # netns inodes of the lesson (named, owning a focus link, of a focus process)
    named_netns: frozenset[int]                # netns the lesson names outright (all their links count)
    links: frozenset[tuple[int, str]]          # (netns inode, link name)
    pids: frozenset[int]                       # processes matching a focus selector
    namespaces: frozenset[tuple[str, int]]     # (type, inode) of the lesson: focus netns + non-host ns of focus processes


@dataclass(frozen=True)
class Focus:
    """The lesson's objects, named as a lesson names them."""
    netns: frozenset[str] = frozenset()        # "RED", "host", "net:[4026532401]"
    links: frozenset[str] = frozenset()        # "RED/veth0", or "veth0" for the host's
    processes: tuple = ()                      # selectors as in tutor.checks.select

    def __post_init__(self) -> None:
        # compiled once per Focus: matches_process runs for every process of every snapshot
        object.__setattr__(self, "_matchers", tuple(_matcher(sel) for sel in self.processes))
        object.__setattr__(self, "_hash", hash((self.netns, self.links, _freeze(self.processes))))

    def __hash__(self) -> int:                 # selectors may be dicts: hash a frozen copy
        return self._hash

    @classmethod
    def empty(cls) -> "Focus":
        return cls()

    @property
    def is_empty(self) -> bool:
        return not (self.netns or self.links or self.processes)

    def matches_process(self, proc: Process) -> bool:
        """True when *proc* is one of the lesson's processes (nstutor itself never is)."""
        if not self._matchers or proc.pid == os.getpid():
            return False
        for match in self._matchers:
            if match(proc):
                return True
        return False

    def resolve(self, snap: Snapshot) -> Resolved:
        """Inodes and pids of the lesson's objects in *snap* (cached for the last few snapshots)."""
        key = (id(snap), self)
        hit = _RESOLVED.get(key)
        if hit is not None and hit[0] is snap:
            return hit[1]
        resolved = self._resolve(snap)
        if len(_RESOLVED) >= 16:
            _RESOLVED.pop(next(iter(_RESOLVED)))
        _RESOLVED[key] = (snap, resolved)
        return resolved

    def _resolve(self, snap: Snapshot) -> Resolved:
        host_net = snap.host_ns.get("net")
        named: set[int] = set()
        for name in self.netns:
            ns = snap.netns_by_name(name)
            if ns is not None:
                named.add(ns.inode)
        links: set[tuple[int, str]] = set()
        for ref in self.links:
            owner, _, dev = ref.rpartition("/")
            ns = snap.netns_by_name(owner or "host")
            if ns is not None:
                links.add((ns.inode, dev))
        pids: set[int] = set()
        spaces: set[tuple[str, int]] = {("net", inode) for inode in named}
        proc_netns: set[int] = set()
        if self._matchers:
            me = os.getpid()
            matchers = self._matchers
            for proc in snap.processes.values():
                if proc.pid != me and any(match(proc) for match in matchers):
                    pids.add(proc.pid)
                    for nstype, inode in proc.ns.items():
                        # A process shares most namespaces with the host; those are not the lesson's.
                        if snap.host_ns.get(nstype) != inode:
                            spaces.add((nstype, inode))
                            if nstype == "net":
                                proc_netns.add(inode)
        netns = named | proc_netns | {inode for inode, _ in links}
        spaces |= {("net", inode) for inode in netns if inode != host_net or inode in named}
        return Resolved(frozenset(netns), frozenset(named | proc_netns), frozenset(links), frozenset(pids),
                        frozenset(spaces))


_RESOLVED: dict[tuple[int, Focus], tuple[Snapshot, Resolved]] = {}


# --------------------------------------------------------------- from a lesson
class _Collector:
    def __init__(self) -> None:
        self.netns: set[str] = set()
        self.links: set[str] = set()
        self.processes: list[Any] = []
        self._seen: set[Any] = set()

    def add_netns(self, ref: Any) -> str | None:
        """A netns reference: a name, or {netns_of: selector}. Returns the name (None for netns_of)."""
        if isinstance(ref, dict):
            if "netns_of" in ref:
                self.add_process(ref["netns_of"])
            return None
        if isinstance(ref, str) and ref:
            self.netns.add(ref)
            return ref
        return None

    def add_link(self, ref: Any, netns: Any = None) -> None:
        """An interface reference "RED/veth0" or "veth0" (in *netns*, default the host)."""
        if not isinstance(ref, str) or not ref:
            return
        if "/" in ref:
            owner, dev = ref.split("/", 1)
            self.add_netns(owner)
        else:
            owner, dev = (netns if isinstance(netns, str) else None), ref
            if isinstance(netns, dict):
                self.add_netns(netns)   # the device's netns is a process's: focus that process
                return
        if owner is None or owner in HOST_NAMES:
            self.links.add(dev)
        else:
            self.links.add(f"{owner}/{dev}")

    def add_process(self, selector: Any) -> None:
        if isinstance(selector, (str, dict)) and selector:
            key = _freeze(selector)
            if key not in self._seen:
                self._seen.add(key)
                self.processes.append(selector)

    def add_spec(self, kind: str, spec: dict) -> None:
        netns = spec.get("netns")
        if kind == "netns":
            self.add_netns(spec.get("name"))
        elif netns is not None:
            self.add_netns(netns)
        if "from" in spec:
            self.add_netns(spec["from"])
        if "netns_of" in spec:
            self.add_process(spec["netns_of"])
        dev = spec.get("dev")
        if isinstance(dev, str):
            self.add_link(dev, netns)
            owner = dev.split("/", 1)[0] if "/" in dev else netns
            for port in spec.get("ports") or ():
                self.add_link(port, owner)
            if isinstance(spec.get("underlay"), str):
                self.add_link(spec["underlay"], owner)
        for end in spec.get("ends") or ():
            self.add_link(end)
        # the process kinds: the subject is {comm, cmdline} at the top level
        subject = {k: spec[k] for k in ("comm", "cmdline") if k in spec}
        if subject:
            self.add_process(subject)
        if "process" in spec:
            self.add_process(spec["process"])
        for rel in ("shared_with", "private_from"):
            if isinstance(spec.get(rel), dict):
                self.add_process(spec[rel].get("process"))
        if "pause" in spec:
            self.add_process(spec["pause"])
        for member in spec.get("members") or ():
            self.add_process(member)


def focus_from(cleanup: dict | None = None, specs: Iterable[tuple[str, dict]] = ()) -> Focus:
    """A Focus from a cleanup declaration and (kind, spec) pairs of expectations."""
    c = _Collector()
    cleanup = cleanup if isinstance(cleanup, dict) else {}
    for name in _as_list(cleanup.get("netns")):
        c.add_netns(name)
    for name in _as_list(cleanup.get("links")):
        c.add_link(name)
    for sel in _as_list(cleanup.get("processes")):
        c.add_process(sel)
    for kind, spec in specs:
        if isinstance(spec, dict):
            c.add_spec(kind, spec)
    return Focus(frozenset(c.netns), frozenset(c.links), tuple(c.processes))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def lesson_focus(lesson: Any) -> Focus:
    """The objects a lesson makes (cleanup) and checks (its steps' expectations)."""
    if lesson is None:
        return Focus.empty()
    specs = [(exp.kind, exp.spec) for step in getattr(lesson, "steps", ()) for exp in step.expectations]
    return focus_from(getattr(lesson, "cleanup", None), specs)
