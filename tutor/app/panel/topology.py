"""The topology view: network namespaces as boxes and the cables between them, drawn from live state.

    ┌─ RED ──────────────────────┐
    │ veth0 UP 10.11.11.2/24     │
    └─┬──────────────────────────┘
      └── veth0 ═════ veth1
        ┌─ BLUE ─────────────────┐
        │ veth1 UP 10.11.11.3/24 │
        └────────────────────────┘

The picture is an outline: one namespace at the top (the host, or whichever namespace has
the most veth cables: a bridge's netns, an underlay), the namespaces cabled to it below it,
each below the line that names the cable's two ends, and so on. That shape fits any panel
width, from 40 to 200 columns, and it is exactly the shape of the curriculum's labs: a veth
pair, a bridge with containers hanging off it, an underlay with nodes and their pods.

Inside a box: each link with its state and addresses; a bridge lists its ports under it; a
vxlan device says where its forwarding entries send packets ("→ node2, node3"). VXLAN tunnels
between boxes are drawn as a dashed rail on the right that ties the tunnel ends together.

A container's netns is titled by its containers ("web (docker)", "pod podweb (podman)") rather than
net:[inode] (container_names.py says how that is decided), so containers show by name on the
bridges their engines plug them into: docker0, podman0, cni0.

Which namespaces: with a lesson focus, the lesson's namespaces and those cabled (or tunnelled)
to them directly; without one, every namespace with a link other than lo, capped.
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

from rich.text import Text

from ...i18n import _, ngettext
from ...observe.model import Link, NetNS, Snapshot
from ...observe.render import link_state, panel_state
from ...texts import cell_width as text_width, fit
from .container_names import in_namespace, infra_word, netns_label
from .focus import Focus
from .layout import CHANGED, FOCUS_TITLE, NOTE, TITLE, TextBuilder, clean, state_style, wrap_words
from .view import NO_FOCUS

MAX_BOXES = 12               # namespaces drawn at most; the rest is "+N more"
MAX_LINK_LINES = 10          # links listed in one box at most
MAX_PORTS = 8                # ports listed under one bridge at most
STEP = 4                     # indentation of a child box
CABLE = "magenta"
TUNNEL = "blue"
ADDRESS = "cyan"


# =============================================================== the graph
@dataclass(frozen=True)
class Cable:
    """A veth pair whose ends are in two different network namespaces."""
    a: int
    a_dev: str
    b: int
    b_dev: str

    def other(self, inode: int) -> tuple[int, str, str]:
        """(other netns, this end's name, other end's name) seen from *inode*."""
        return (self.b, self.a_dev, self.b_dev) if inode == self.a else (self.a, self.b_dev, self.a_dev)


@dataclass(frozen=True)
class Tunnel:
    """A vxlan device's forwarding entry towards a remote VTEP (fdb dst), resolved when it is local."""
    a: int
    a_dev: str
    dst: str
    b: int | None              # the netns that owns the dst address (None: not on this machine)
    b_dev: str | None          # the vxlan device there with the same VNI, when there is one


def cables(snap: Snapshot) -> list[Cable]:
    """Every veth pair across two namespaces, once."""
    seen: set[tuple[int, int]] = set()
    out = []
    for ns in snap.netns.values():
        for link in ns.links:
            if link.kind != "veth" or link.peer_netns is None or link.peer_netns == ns.inode:
                continue
            me = (ns.inode, link.ifindex)
            if me in seen:
                continue
            peer_name = link.peer_name or (f"if{link.peer_ifindex}" if link.peer_ifindex is not None else "?")
            seen.add(me)
            if link.peer_ifindex is not None:
                seen.add((link.peer_netns, link.peer_ifindex))
            out.append(Cable(ns.inode, link.name, link.peer_netns, peer_name))
    return out


def _address_owners(snap: Snapshot) -> dict[str, list[tuple[int, str]]]:
    owners: dict[str, list[tuple[int, str]]] = {}
    for ns in snap.netns.values():
        for addr in ns.addresses:
            owners.setdefault(addr.ip, []).append((ns.inode, addr.dev))
    return owners


def tunnels(snap: Snapshot) -> list[Tunnel]:
    """Where each vxlan device sends: one Tunnel per (device, remote VTEP) from the fdb."""
    owners: dict[str, list[tuple[int, str]]] | None = None
    out = []
    for ns in snap.netns.values():
        vxlans = {l.name: l for l in ns.links if l.kind == "vxlan"}
        if not vxlans:
            continue
        dsts: dict[str, list[str]] = {}
        for e in ns.fdb:
            if e.dev in vxlans and e.dst and e.dst not in dsts.setdefault(e.dev, []):
                dsts[e.dev].append(e.dst)
        for dev, ips in dsts.items():
            vni = vxlans[dev].vxlan.vni if vxlans[dev].vxlan else None
            for ip in ips:
                if owners is None:
                    owners = _address_owners(snap)
                b, b_dev = _vtep_at(snap, owners.get(ip, []), ip, vni, ns.inode)
                out.append(Tunnel(ns.inode, dev, ip, b, b_dev))
    return out


def _vtep_at(snap: Snapshot, owners: list[tuple[int, str]], ip: str, vni: int | None,
             me: int) -> tuple[int | None, str | None]:
    """The netns (and its vxlan device) that answers for VTEP address *ip*."""
    best: tuple[int | None, str | None] = (None, None)
    for inode, _dev in owners:
        if inode == me:
            continue
        ns = snap.netns.get(inode)
        if ns is None:
            continue
        for link in ns.links:
            if link.kind == "vxlan" and link.vxlan is not None and (vni is None or link.vxlan.vni == vni):
                if link.vxlan.local in (ip, None):
                    return inode, link.name
        if best[0] is None:
            best = (inode, None)
    return best


# =============================================================== which namespaces
def _natural(label: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


def _has_links(ns: NetNS) -> bool:
    return any(l.name != "lo" for l in ns.links)


@dataclass
class Plan:
    boxes: list[int]                                  # netns inodes to draw
    core: set[int]                                    # the lesson's (or all, without a focus)
    full: set[int]                                    # boxes that list all their links
    focus_links: set[tuple[int, str]]
    more: int = 0                                     # namespaces left out
    cables: list[Cable] = field(default_factory=list)
    tunnels: list[Tunnel] = field(default_factory=list)


def plan(snap: Snapshot, focus: Focus) -> Plan:
    all_cables = cables(snap)
    all_tunnels = tunnels(snap)
    host = snap.host_ns.get("net")
    if not focus.is_empty:
        res = focus.resolve(snap)
        core = {i for i in res.netns if i in snap.netns}
        near = set()
        for c in all_cables:
            if c.a in core and c.b in snap.netns:
                near.add(c.b)
            if c.b in core and c.a in snap.netns:
                near.add(c.a)
        for t in all_tunnels:
            if t.a in core and t.b is not None:
                near.add(t.b)
        wanted = core | near
        full = set(res.named_netns) | (core - {host})
        focus_links = set(res.links)
    else:
        wanted = {ns.inode for ns in snap.netns.values() if _has_links(ns)}
        core = set(wanted)
        full = set(wanted)
        focus_links = set()
    degree: dict[int, int] = {}
    for c in all_cables:
        if c.a in wanted and c.b in wanted:
            degree[c.a] = degree.get(c.a, 0) + 1
            degree[c.b] = degree.get(c.b, 0) + 1

    def rank(inode: int):
        ns = snap.netns[inode]
        return (inode not in core, inode != host, -degree.get(inode, 0), not ns.names,
                _natural(netns_label(snap, inode)))

    ordered = sorted(wanted, key=rank)
    boxes = ordered[:MAX_BOXES]
    kept = set(boxes)
    return Plan(boxes, core & kept, full & kept, focus_links, len(ordered) - len(boxes),
                [c for c in all_cables if c.a in kept and c.b in kept],
                [t for t in all_tunnels if t.a in kept])


# =============================================================== the tree
def build_tree(snap: Snapshot, p: Plan) -> tuple[list[int], dict[int, list[tuple[int, Cable]]], list[Cable]]:
    """(roots, children with the cable to each, cables that are not tree edges)."""
    adjacent: dict[int, list[Cable]] = {}
    for c in p.cables:
        adjacent.setdefault(c.a, []).append(c)
        adjacent.setdefault(c.b, []).append(c)
    host = snap.host_ns.get("net")

    def root_rank(inode: int):
        return (-len(adjacent.get(inode, [])), inode != host, inode not in p.core, inode)

    placed: set[int] = set()
    used: set[int] = set()
    roots: list[int] = []
    children: dict[int, list[tuple[int, Cable]]] = {}
    for start in sorted(p.boxes, key=root_rank):
        if start in placed:
            continue
        roots.append(start)
        placed.add(start)
        queue = [start]
        while queue:
            here = queue.pop(0)
            kids = []
            for c in adjacent.get(here, []):
                there = c.other(here)[0]
                if there not in placed:
                    placed.add(there)
                    used.add(id(c))
                    kids.append((there, c))
            kids.sort(key=lambda kc: _natural(netns_label(snap, kc[0])))
            children[here] = kids
            queue.extend(k for k, _ in kids)
    # cabled groups first (the busiest hub on top); lone namespaces after, in the plan's order (lesson first)
    order = {inode: i for i, inode in enumerate(p.boxes)}
    roots.sort(key=lambda r: (-len(adjacent.get(r, [])), order[r]))
    extra = [c for c in p.cables if id(c) not in used]
    return roots, children, extra


# =============================================================== boxes
@dataclass
class Line:
    """One line of the picture: pieces of (text, style), and whether it is a tunnel end."""
    parts: list[tuple[str, str]]
    tunnel_key: tuple[int, str] | None = None

    def width(self) -> int:
        return sum(text_width(t) for t, _ in self.parts)


def _addresses(ns: NetNS) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in sorted(ns.addresses, key=lambda a: a.family != socket.AF_INET):
        if a.scope == "link" or (a.family == socket.AF_INET6 and a.ip.startswith("fe80:")):
            continue
        out.setdefault(a.dev, []).append(a.cidr)
    return out


class BoxMaker:
    """Turns one netns into the content lines of its box (without the frame)."""

    def __init__(self, snap: Snapshot, p: Plan, drawn_peers: set[tuple[int, str]],
                 previous: Snapshot | None, tunnel_targets: dict[tuple[int, str], list[str]]):
        self.snap = snap
        self.plan = p
        self.drawn_peers = drawn_peers           # (netns, dev) ends whose cable is drawn as a connector
        self.previous = previous
        self.targets = tunnel_targets
        # both ends of every tunnel between drawn boxes: a neighbour box shows its vxlan device too
        self.tunnel_ends = {(t.a, t.a_dev) for t in p.tunnels} | {(t.b, t.b_dev) for t in p.tunnels
                                                                   if t.b is not None and t.b_dev is not None}

    # ---- which links
    def shown_links(self, ns: NetNS) -> tuple[list[Link], int]:
        links = sorted(ns.links, key=lambda l: l.ifindex)
        if ns.inode in self.plan.full:
            shown = [l for l in links if l.name != "lo"] or [l for l in links if l.name == "lo"]
        else:
            names = {name for inode, name in self.plan.focus_links if inode == ns.inode}
            names |= {dev for inode, dev in self.drawn_peers if inode == ns.inode}
            names |= {dev for inode, dev in self.tunnel_ends if inode == ns.inode}
            by_name = {l.name: l for l in links}
            for name in list(names):
                link = by_name.get(name)
                if link is not None and link.master:
                    names.add(link.master)
                if link is not None and link.vxlan is not None and link.vxlan.dev:
                    names.add(link.vxlan.dev)
            bridges = {n for n in names if n in by_name and by_name[n].kind == "bridge"}
            names |= {l.name for l in links if l.master in bridges}
            shown = [l for l in links if l.name in names]
        hidden = len([l for l in links if l.name != "lo"]) - len([l for l in shown if l.name != "lo"])
        return shown, max(hidden, 0)

    # ---- change marks
    def _changed(self, ns: NetNS, link: Link, addrs: list[str]) -> bool:
        if self.previous is None:
            return False
        old_ns = self.previous.netns.get(ns.inode)
        if old_ns is None:
            return True
        old = old_ns.link(link.name)
        if old is None:
            return True
        old_addrs = _addresses(old_ns).get(link.name, [])
        return link_state(old) != link_state(link) or old_addrs != addrs or old.master != link.master

    def is_new(self, ns: NetNS) -> bool:
        return self.previous is not None and ns.inode not in self.previous.netns

    # ---- content
    def lines(self, ns: NetNS, inner: int) -> list[Line]:
        out: list[Line] = []
        if ns.error and not ns.links:
            return [Line([(fit(ns.error, inner), NOTE)])]
        addrs = _addresses(ns)
        shown, hidden = self.shown_links(ns)
        shown_names = {l.name for l in shown}
        count = 0
        for link in shown:
            if link.master and link.master in shown_names:
                continue                      # drawn under its bridge
            if count >= MAX_LINK_LINES:
                hidden += 1
                continue
            count += 1
            out.extend(self.link_lines(ns, link, addrs, inner, ""))
            if link.kind == "bridge":
                ports = [l for l in shown if l.master == link.name]
                # ports cabled to a drawn box first: those are the ones the picture explains
                ports.sort(key=lambda l: ((ns.inode, l.name) not in self.drawn_peers, l.ifindex))
                extra = len(ports) - MAX_PORTS if len(ports) > MAX_PORTS + 1 else 0
                for i, port in enumerate(ports[:len(ports) - extra]):
                    branch = "└ " if i == len(ports) - 1 else "├ "
                    out.extend(self.link_lines(ns, port, addrs, inner, branch))
                if extra:
                    out.append(Line([(fit(f" └ +{extra} more ports", inner), NOTE)]))
                if not ports:
                    out.append(Line([("  " + _("(no ports yet)"), NOTE)]))
        if hidden:
            out.append(Line([(fit(ngettext("(+{count} other link)", "(+{count} other links)", hidden).format(
                count=hidden), inner), NOTE)]))
        if not ns.is_host:
            out.extend(self.container_lines(ns, inner))
        if not ns.is_host and ns.pids:
            out.append(self.process_line(ns, inner))
        return out or [Line([(_("(no links)"), NOTE)])]

    def container_lines(self, ns: NetNS, inner: int) -> list[Line]:
        """A pod's box is titled by the pod: its containers are named inside."""
        containers = in_namespace(self.snap, "net", ns.inode)
        if len(containers) < 2 or not all(c.pod for c in containers):
            return []
        names = [clean(c.name) for c in containers if not c.infra]
        infra = next((f" + {infra_word(c)}" for c in containers if c.infra), "")
        return [Line([(fit(f"containers: {', '.join(names)}{infra}", inner), NOTE)])]

    def process_line(self, ns: NetNS, inner: int) -> Line:
        """The processes in this netns (a pod's pause and containers), as many as fit."""
        procs = [self.snap.processes[p] for p in sorted(ns.pids) if p in self.snap.processes]
        words = [f"{p.comm}({p.pid})" for p in procs]
        text = "in it: " + " ".join(words)
        k = len(words)
        while k > 1 and text_width(text) > inner:
            k -= 1
            text = "in it: " + " ".join(words[:k]) + f" +{len(words) - k} more"
        return Line([(fit(text, inner), NOTE)])

    def link_lines(self, ns: NetNS, link: Link, addrs: dict[str, list[str]], inner: int, branch: str) -> list[Line]:
        state = panel_state(link)
        mine = addrs.get(link.name, [])
        tag = ""
        if link.kind == "bridge":
            tag = "bridge"
        elif link.kind == "vxlan":
            vni = link.vxlan.vni if link.vxlan else None
            tag = f"vxlan {vni}" if vni is not None else "vxlan"
        elif link.kind not in (None, "veth"):
            tag = link.kind
        if link.mtu not in (1500, 65536):      # the overlay's 1450 is part of the lesson
            tag = f"{tag} mtu {link.mtu}".strip()
        peer = ""
        if link.kind == "veth" and (ns.inode, link.name) not in self.drawn_peers:
            if link.peer_netns == ns.inode:
                peer = f"═ {link.peer_name or '?'}"
            elif link.peer_netns is not None:
                peer = f"═ {netns_label(self.snap, link.peer_netns)}/{link.peer_name or '?'}"
        name_style = CHANGED if self._changed(ns, link, mine) else "bold"
        head: list[tuple[str, str]] = []
        if branch:
            head.append((" " + branch, "dim"))
        head.append((link.name, name_style))
        if tag:
            head.append((" " + tag, NOTE))
        head.append((" " + state, state_style(state)))
        full = head + [(" " + a, ADDRESS) for a in mine] + ([(" " + peer, CABLE)] if peer else [])
        lines = []
        if sum(text_width(t) for t, _ in full) <= inner:
            lines.append(Line(full))
        else:
            indent = "   " if branch else "  "
            if tag and sum(text_width(t) for t, _ in head) > inner:
                # too narrow for name, kind and state on one line: the kind goes below
                head = [part for part in head if part != (" " + tag, NOTE)]
                lines.append(Line(_fit_parts(head, inner)))
                lines.append(Line([(indent, ""), (fit(tag, inner - len(indent)), NOTE)]))
            else:
                lines.append(Line(_fit_parts(head, inner)))
            for a in mine:
                lines.append(Line([(indent, ""), (fit(a, inner - len(indent)), ADDRESS)]))
            if peer:
                lines.append(Line([(indent, ""), (fit(peer, inner - len(indent)), CABLE)]))
        if link.kind == "vxlan":
            lines.extend(self.vxlan_lines(ns, link, inner, "   " if branch else "  "))
        return lines

    def vxlan_lines(self, ns: NetNS, link: Link, inner: int, indent: str) -> list[Line]:
        vx = link.vxlan
        facts = []
        if vx is not None:
            if vx.local:
                facts.append(f"local {vx.local}")
            if vx.dev:
                facts.append(f"dev {vx.dev}")
            if vx.port is not None:
                facts.append(f"port {vx.port}")
        out = []
        room = inner - len(indent)
        text = ""
        for fact in facts:                     # as many facts per line as fit
            if text and text_width(text + " " + fact) > room:
                out.append(Line([(indent, ""), (fit(text, room), NOTE)]))
                text = fact
            else:
                text = f"{text} {fact}".strip()
        if text:
            out.append(Line([(indent, ""), (fit(text, room), NOTE)]))
        targets = self.targets.get((ns.inode, link.name), [])
        text = "┄→ " + (", ".join(targets) if targets else _("no remote VTEP in the fdb yet"))
        out.append(Line([(indent, ""), (fit(text, inner - len(indent)), TUNNEL if targets else NOTE)],
                        tunnel_key=(ns.inode, link.name)))
        return out

    def natural_width(self, ns: NetNS) -> int:
        return max((l.width() for l in self.lines(ns, 10_000)), default=0)


def _fit_parts(parts: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    out, used = [], 0
    for text, style in parts:
        w = text_width(text)
        if used + w <= width:
            out.append((text, style))
            used += w
        else:
            out.append((fit(text, width - used), style))
            break
    return out


# =============================================================== drawing
def render_topology(snap: Snapshot, focus: Focus, width: int, previous: Snapshot | None = None) -> Text:
    """The topology as rich Text, fitted to *width* cells (see the module docstring)."""
    width = max(width, 20)
    focus = focus or Focus.empty()
    p = plan(snap, focus)
    if not p.boxes:
        out = TextBuilder()
        note = (_("Nothing to draw: no network namespace has a link other than lo.") if focus.is_empty
                else _("Nothing to draw yet: none of this lesson's network namespaces exist."))
        for i, line in enumerate(wrap_words(note, width)):     # wrapped, never cut: a narrow panel shows it all
            if i:
                out.newline()
            out.add(line, NOTE)
        return out.text()
    roots, children, extra = build_tree(snap, p)
    drawn_peers = set()
    for kids in children.values():
        for _kid, c in kids:
            drawn_peers |= {(c.a, c.a_dev), (c.b, c.b_dev)}
    for c in extra:
        drawn_peers |= {(c.a, c.a_dev), (c.b, c.b_dev)}
    targets: dict[tuple[int, str], list[str]] = {}
    for t in p.tunnels:
        where = netns_label(snap, t.b) if t.b is not None else t.dst
        targets.setdefault((t.a, t.a_dev), []).append(where)
    maker = BoxMaker(snap, p, drawn_peers, previous, targets)

    # Rails tie together tunnel ends drawn in different boxes (one rail per connected group).
    drawn = set(p.boxes)
    groups = _tunnel_groups([t for t in p.tunnels if t.b in drawn and t.b_dev is not None])
    rails = min(len(groups), 3)
    reserve = 2 * rails + 1 if rails else 0

    depth: dict[int, int] = {}

    def set_depth(inode: int, d: int) -> None:
        depth[inode] = d
        for kid, _cable in children.get(inode, []):
            set_depth(kid, d + 1)

    for r in roots:
        set_depth(r, 0)
    natural = max(depth[i] * STEP + maker.natural_width(snap.netns[i]) + 4 for i in p.boxes)
    title_need = max(depth[i] * STEP + text_width(netns_label(snap, i)) + 7 for i in p.boxes)
    right = max(min(max(natural, title_need), width - reserve), min(width - reserve, 16))
    lines: list[Line] = []

    def draw(inode: int, prefix: str) -> None:
        ns = snap.netns[inode]
        indent = text_width(prefix)
        inner = max(right - indent - 4, 4)
        kids = children.get(inode, [])
        lines.extend(_frame(ns, maker, inner, prefix, inode in p.core and not focus.is_empty, bool(kids)))
        for i, (kid, c) in enumerate(kids):
            last = i == len(kids) - 1
            _end, mine, theirs = c.other(inode)
            label = [(prefix + "  " + ("└── " if last else "├── "), "dim"), (mine, "bold"), (" ═════ ", CABLE),
                     (theirs, "bold")]
            lines.append(Line(_fit_parts(label, right if rails else width)))   # never across the rail
            draw(kid, prefix + ("    " if last else "  │ "))

    for i, r in enumerate(roots):
        if i:
            lines.append(Line([("", "")]))
        draw(r, "")
    if extra:
        lines.append(Line([("", "")]))
        for c in extra:
            text = [(_("also cabled: "), NOTE), (f"{netns_label(snap, c.a)}/{c.a_dev}", "bold"), (" ═════ ", CABLE),
                     (f"{netns_label(snap, c.b)}/{c.b_dev}", "bold")]
            lines.append(Line(_fit_parts(text, width)))
    rail_rows = _draw_rails(lines, groups[:rails], right, width) if rails else []
    # (no legend without a rail: a tunnel to a machine elsewhere is said in its box, "┄→ 203.0.113.9")
    out = TextBuilder()
    for line in lines:
        for text, style in line.parts:
            out.add(text, style or None)
        out.newline()
    for text in rail_rows:
        out.add(fit(text, width) + "\n", TUNNEL)
    if p.more:
        more = (_("+{count} more network namespaces of this lesson's neighbours (view 3 lists them all)")
                if not focus.is_empty else _("+{count} more network namespaces with links (view 3 lists them all)"))
        out.add(fit(more.format(count=p.more), width) + "\n", NOTE)
    return out.text()


def _frame(ns: NetNS, maker: BoxMaker, inner: int, prefix: str, focused: bool, has_kids: bool) -> list[Line]:
    """The box of one netns: top border with its name, content lines, bottom border."""
    title_style = f"{TITLE} {CHANGED}" if maker.is_new(ns) else (FOCUS_TITLE if focused else TITLE)
    label = fit(netns_label(maker.snap, ns.inode), max(inner - 2, 1))
    top_fill = max(inner - text_width(label), 1)          # the space after the name, then ─ up to the corner
    lines = [Line([(prefix, "dim"), ("┌─ ", "dim"), (label, title_style), (" " + "─" * (top_fill - 1), "dim"),
                   ("┐", "dim")])]
    for content in maker.lines(ns, inner):
        used = content.width()
        parts = [(prefix, "dim"), ("│ ", "dim")] + (content.parts if used <= inner else _fit_parts(content.parts, inner))
        parts.append((" " * max(inner - min(used, inner), 0) + " │", "dim"))
        lines.append(Line(parts, content.tunnel_key))
    bottom = "└─┬" + "─" * inner + "┘" if has_kids else "└" + "─" * (inner + 2) + "┘"
    lines.append(Line([(prefix, "dim"), (bottom, "dim")]))
    return lines


def _tunnel_groups(ts: list[Tunnel]) -> list[set[tuple[int, str]]]:
    """Connected groups of vxlan devices (by (netns, dev)), biggest first."""
    parent: dict[tuple[int, str], tuple[int, str]] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for t in ts:
        parent[find((t.a, t.a_dev))] = find((t.b, t.b_dev))
    groups: dict[tuple[int, str], set[tuple[int, str]]] = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), sorted(g)))


def _draw_rails(lines: list[Line], groups: list[set[tuple[int, str]]], right: int, width: int) -> list[str]:
    """Append dashed rails right of the boxes joining each group's tunnel lines; return legend lines."""
    cols = [right + 1 + 2 * k for k in range(len(groups))]
    if not cols or cols[-1] >= width:
        return []
    spans = []
    for g in groups:
        rows = [i for i, l in enumerate(lines) if l.tunnel_key in g]
        spans.append((rows[0], rows[-1], set(rows)) if len(rows) > 1 else None)
    if not any(spans):
        return []
    for i, line in enumerate(lines):
        cur = line.width()
        suffix = ""
        ticks = [k for k, s in enumerate(spans) if s and i in s[2]]
        last_tick = max(ticks) if ticks else -1
        for k, s in enumerate(spans):
            if s is None:
                continue
            first, last, rows = s
            gap = max(cols[k] - cur - len(suffix), 0)
            if i in rows:
                corner = "┐" if i == first else "┘" if i == last else "┤"
                suffix += "┄" * gap + corner
            elif first < i < last:
                suffix += ("┄" if k < last_tick else " ") * gap + ("┼" if k < last_tick else "┆")
            elif k < last_tick:
                suffix += "┄" * (gap + 1)
        if suffix.strip():
            line.parts.append((suffix, TUNNEL))
    return ["┄┄ vxlan tunnel (inside UDP, over the underlay)"]


def render(snap: Snapshot, previous: Snapshot | None, focus: Focus | None, width: int) -> Text:
    """The view's render function (see view.py)."""
    return render_topology(snap, focus or NO_FOCUS, width, previous=previous)
