"""View 9, "Containers": every container the engines record, with what the kernel says about it.

    ENGINE  NAME      POD  PID   STATE    VETH → PORT                  SHARES
    docker  web       -    4242  running  eth0 ═ veth1a2b3c → docker0  net+pid: web-side; own: ipc uts mnt
    docker  web-side  -    4301  running  eth0 ═ veth1a2b3c → docker0  net+pid: web; own: ipc uts mnt

Names, pods and states are the engines' (Snapshot.containers); everything after them is the
kernel's: which namespaces a container shares with which other containers is decided by the
inodes of their main processes' namespaces (the host's ones are said as "host"), and its veth is
followed to the other end in the host (or wherever that end is) and to the bridge that end is a
port of (docker0, podman0, cni0). A narrow panel (below 120 cells) folds engine and pod into one
CONTAINER column ("web (docker)"), says a stopped container's state where its pid would be and,
at the narrowest, leaves the veth out.

With no container, the view says why from each engine's state ("docker: dockerd is not running
..."). The lesson's containers (their main process is one of the focus's) are marked.
"""
from __future__ import annotations

import re

from rich.console import RenderableType
from rich.text import Text

from ...i18n import _
from ...observe.model import ENGINES, Container, Snapshot
from ...texts import fit
from .container_names import by_namespace, infra_word
from .focus import Focus, Resolved
from .layout import NOTE, Row, Section, Table, TextBuilder, clean, wrap_words
from .view import BuildFn, render_cached_table

WIDE_FROM = 120                  # the panel width from which engine, pod and state have columns of their own
#: the namespace types in the order a container lesson meets them: the three a pod shares (net, ipc, uts) first
NS_ORDER = ("net", "ipc", "uts", "mnt", "pid", "cgroup", "user", "time")
#: the types a container is told to share with the host (--network host, --pid host, ...): said when it does.
#: user, cgroup and time are the host's in many containers, so saying it would only be noise.
HOST_TYPES = ("net", "ipc", "uts", "mnt", "pid")
STATE_STYLES = {"running": "green", "paused": "yellow", "restarting": "yellow", "created": "yellow",
                "exited": "red", "dead": "red", "stopped": "red"}
def caption() -> str:
    return _("Containers from their engines' records; what they share, by namespace inode")


# --------------------------------------------------------------- what a row says
def _partner_name(c: Container) -> str:
    return clean(f"pod {c.pod} {infra_word(c)}" if c.infra and c.pod else c.name)


def shares_text(snap: Snapshot, c: Container) -> str:
    """Which namespaces *c* shares with which containers, by inode: 'net+pid: web; own: mnt ipc uts'."""
    proc = snap.processes.get(c.pid) if c.pid is not None else None
    if proc is None:
        return "-" if c.pid is None else "(its process is not seen)"
    mine = proc.ns
    index = by_namespace(snap)           # built once per snapshot: 200 containers cost no more than 2
    groups: dict[tuple[str, ...], list[str]] = {}       # partners -> types shared with exactly them
    own: list[str] = []
    host: list[str] = []
    for nstype in NS_ORDER:
        inode = mine.get(nstype)
        if inode is None:
            continue
        if snap.host_ns.get(nstype) == inode:
            if nstype in HOST_TYPES:
                host.append(nstype)
            continue
        partners = tuple(dict.fromkeys(_partner_name(o) for o in index.get((nstype, inode), ())
                                       if o is not c and o.pid != c.pid))
        if partners:
            groups.setdefault(partners, []).append(nstype)
        else:
            own.append(nstype)
    parts = [f"{'+'.join(types)}: {', '.join(partners)}" for partners, types in groups.items()]
    if host:
        parts.append(f"{'+'.join(host)}: host")
    if own:
        parts.append("own: " + " ".join(own))
    return "; ".join(parts)


def veth_text(snap: Snapshot, c: Container) -> str:
    """The container's veth and the port at its other end: 'eth0 ═ veth1a2b3c → docker0'."""
    proc = snap.processes.get(c.pid) if c.pid is not None else None
    if proc is None or "net" not in proc.ns:
        return "-"
    inode = proc.ns["net"]
    if inode == snap.host_ns.get("net"):
        return "the host's network"
    ns = snap.netns.get(inode)
    if ns is None:
        return "(netns not read)"
    veths = [l for l in ns.links if l.kind == "veth"]
    if not veths:
        others = [l.name for l in ns.links if l.name != "lo"]
        return ", ".join(others) + " (no veth)" if others else "lo only"
    veths.sort(key=lambda l: (l.name != "eth0", l.ifindex))      # eth0 first: the one engines hand out
    out = []
    for link in veths[:2]:
        peer_ns = snap.netns.get(link.peer_netns) if link.peer_netns is not None else None
        peer = None
        if peer_ns is not None:
            peer = next((l for l in peer_ns.links if l.ifindex == link.peer_ifindex), None)
            if peer is None and link.peer_name:
                peer = peer_ns.link(link.peer_name)
        name = peer.name if peer is not None else (link.peer_name or "?")
        where = "" if peer_ns is None or peer_ns.is_host else f"{peer_ns.label}/"
        if peer is not None and peer.master:
            out.append(f"{link.name} ═ {where}{name} → {peer.master}")
        else:
            out.append(f"{link.name} ═ {where}{name} (no bridge)")
    if len(veths) > 2:
        out.append(f"+{len(veths) - 2} more")
    return "; ".join(out)


def _sort_key(c: Container, res: Resolved) -> tuple:
    engine = ENGINES.index(c.engine) if c.engine in ENGINES else len(ENGINES)
    return (c.pid not in res.pids, engine, _natural(c.pod or ""), not c.infra, _natural(c.name), c.id)


def _natural(name: str) -> list:
    """c2 before c10."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]


def _pod_cell(c: Container) -> str:
    if not c.pod:
        return "-"
    return f"{c.pod} ({infra_word(c)})" if c.infra else c.pod


def _container_cell(c: Container) -> str:
    """Engine, pod and name in one cell, for the narrow layout."""
    bits = [c.engine] + ([f"pod {c.pod}"] if c.pod else []) + ([infra_word(c)] if c.infra else [])
    return f"{clean(c.name)} ({', '.join(bits)})"


# --------------------------------------------------------------- the table
def containers_table_for(width: int) -> BuildFn:
    wide = width >= WIDE_FROM

    def build(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
        rows = []
        for c in sorted(snap.containers, key=lambda c: _sort_key(c, res)):
            mine = c.pid is not None and c.pid in res.pids
            pid = "-" if c.pid is None else str(c.pid)
            state_style = STATE_STYLES.get(c.state, "")
            if wide:
                cells = (c.engine, clean(c.name), clean(_pod_cell(c)), pid, clean(c.state), veth_text(snap, c),
                         shares_text(snap, c))
                styles = ("", "", NOTE if not c.pod else "", "", state_style, "", "")
            else:
                # not running: the engine's word stands where the pid would
                cells = (_container_cell(c), pid if c.pid is not None else clean(c.state), veth_text(snap, c),
                         shares_text(snap, c))
                styles = ("", "" if c.pid is not None else state_style, "", "")
            rows.append(Row((c.engine, c.id), cells, styles, focus=mine))
        section = Section("containers", "", tuple(rows), empty=_("(no containers)"))
        if wide:
            return Table(("ENGINE", "NAME", "POD", "PID", "STATE", "VETH → PORT", "SHARES"), "lllrlll", (section,),
                         max_col=(10, 24, 24, 7, 10, 34), min_col=(6, 8, 6, 3, 5, 12), min_last=16,
                         caption=caption())
        return Table(("CONTAINER", "PID", "VETH → PORT", "SHARES"), "lrll", (section,),
                     max_col=(30, 7, 22), min_col=(10, 3, 12), min_last=24, drop=(2,), caption=caption())
    return build


def engine_notes(snap: Snapshot) -> list[str]:
    """One sentence per engine that could not be read (all of them when no container was found)."""
    if not snap.engines:
        return [_("No container engine was read in this snapshot.")]
    notes = []
    for e in sorted(snap.engines, key=lambda e: ENGINES.index(e.engine) if e.engine in ENGINES else len(ENGINES)):
        if e.state == "running" or (e.state == "absent" and snap.containers):
            continue
        notes.append(f"{e.engine}: {clean(e.detail or e.state)}")
    return notes


def _notes_text(notes: list[str], width: int) -> Text:
    out = TextBuilder()
    for note in notes:
        for i, line in enumerate(wrap_words(note, max(width - 4, 8))):
            out.add(fit(("  " if i == 0 else "    ") + line, width), NOTE)
            out.newline()
    return out.text()


def render(snap: Snapshot, previous: Snapshot | None, focus: Focus | None, width: int) -> RenderableType:
    notes = engine_notes(snap)
    if not snap.containers and not (previous is not None and previous.containers):
        out = TextBuilder()
        out.add(fit(caption(), width), NOTE)
        out.newline()
        out.add(fit(_("No container on this machine."), width))
        text = out.text()
    else:
        # the columns change with the width, so the rows are cached per kind of layout
        kind = "containers-wide" if width >= WIDE_FROM else "containers"
        text = render_cached_table(kind, containers_table_for(width), snap, previous, focus, width)
    if notes:
        text.append("\n")
        text.append_text(_notes_text(notes, width))
        text.rstrip()
    return text


def shown(snap: Snapshot | None, focus: Focus | None) -> bool:
    """Whether the view bar offers this view: on a machine with containers or an engine, or in a lesson that
    names containers. (On others it would only say there are none; its key still works.)"""
    if snap is not None and (snap.containers or any(e.state != "absent" for e in snap.engines)):
        return True
    return focus is not None and any(isinstance(sel, dict) and ("container" in sel or "pod" in sel)
                                     for sel in focus.processes)
