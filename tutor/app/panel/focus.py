"""What the current lesson is about, so the live panel can pick it out of the whole machine.

A machine may hold 200 network namespaces and 2,000 processes; a learner doing netns-veth
cares about RED, BLUE and one veth pair. A `Focus` names those objects the way a lesson
does (netns names, "RED/veth0" interface references, process selectors), and resolves them
against a snapshot when a view needs inodes and pids.

`lesson_focus(lesson)` derives the focus from the lesson itself: its cleanup declaration
(what it makes) and what its check expectations name (Expectation.refers_to, which each kind
derives from its fields). Nothing here knows a kind's fields, so a new kind is highlighted as
soon as it is registered. Processes are matched by tutor.checks.select, as the grader does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ...checks.base import Expectation, LinkRef, NetnsRef, ProcessRef, SpecError
from ...checks.refs import HOST_NAMES
from ...checks.registry import build
from ...checks.select import select, selector_problem
from ...observe.model import Snapshot


def _freeze(value: Any) -> Any:
    """A hashable, order-independent stand-in for a selector (dicts are not hashable)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


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
        # A selector the lint would refuse (a bad regex) matches nothing here rather than raising.
        object.__setattr__(self, "_selectors", tuple(sel for sel in self.processes if selector_problem(sel) is None))
        object.__setattr__(self, "_hash", hash((self.netns, self.links, _freeze(self.processes))))

    def __hash__(self) -> int:                 # selectors may be dicts: hash a frozen copy
        return self._hash

    @classmethod
    def empty(cls) -> "Focus":
        return cls()

    @property
    def is_empty(self) -> bool:
        return not (self.netns or self.links or self.processes)

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
        for selector in self._selectors:
            for proc in select(snap, selector):          # the grader's matcher (nstutor itself never matches)
                if proc.pid in pids:
                    continue
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

    def add(self, ref: NetnsRef | LinkRef | ProcessRef) -> None:
        """One thing an expectation names (Expectation.refers_to)."""
        if isinstance(ref, NetnsRef):
            self.add_netns(ref.ref)
        elif isinstance(ref, LinkRef):
            self.add_link(ref.dev, ref.netns)
        elif isinstance(ref, ProcessRef):
            self.add_process(ref.selector)

    def add_netns(self, ref: Any) -> None:
        """A netns reference: a name, or {netns_of: selector} (then that process is the lesson's)."""
        if isinstance(ref, dict):
            if "netns_of" in ref:
                self.add_process(ref["netns_of"])
        elif isinstance(ref, str) and ref:
            self.netns.add(ref)

    def add_link(self, dev: Any, netns: Any = None) -> None:
        """An interface *dev* in the netns reference *netns* (None: the host's)."""
        if not isinstance(dev, str) or not dev:
            return
        if isinstance(netns, dict):
            self.add_netns(netns)   # the device's netns is a process's: focus that process
            return
        if isinstance(netns, str) and netns:
            self.add_netns(netns)
        if not isinstance(netns, str) or netns in HOST_NAMES:
            self.links.add(dev)
        else:
            self.links.add(f"{netns}/{dev}")

    def add_process(self, selector: Any) -> None:
        if isinstance(selector, (str, dict)) and selector:
            key = _freeze(selector)
            if key not in self._seen:
                self._seen.add(key)
                self.processes.append(selector)


def focus_from(cleanup: dict | None = None,
               expectations: Iterable[Expectation | tuple[str, Any]] = ()) -> Focus:
    """A Focus from a cleanup declaration and expectations: Expectation objects, or (kind, spec)
    pairs as a lesson writes them. A pair that does not build names nothing (the lint says why)."""
    c = _Collector()
    cleanup = cleanup if isinstance(cleanup, dict) else {}
    for name in _as_list(cleanup.get("netns")):
        c.add_netns(name)
    for ref in _as_list(cleanup.get("links")):
        if isinstance(ref, str):               # "RED/veth0", or "veth0" for the host's
            owner, slash, dev = ref.partition("/")
            if slash:
                c.add_link(dev, owner)
            else:
                c.add_link(ref)
    for sel in _as_list(cleanup.get("processes")):
        c.add_process(sel)
    for exp in expectations:
        if not isinstance(exp, Expectation):
            try:
                kind, spec = exp
                exp = build({kind: spec})
            except (SpecError, TypeError, ValueError):
                continue
        for ref in exp.refers_to():
            c.add(ref)
    return Focus(frozenset(c.netns), frozenset(c.links), tuple(c.processes))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def lesson_focus(lesson: Any) -> Focus:
    """The objects a lesson makes (cleanup) and checks (its steps' expectations)."""
    if lesson is None:
        return Focus.empty()
    expectations = [exp for step in getattr(lesson, "steps", ()) for exp in step.expectations]
    return focus_from(getattr(lesson, "cleanup", None), expectations)
