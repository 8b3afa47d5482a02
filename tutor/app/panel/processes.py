"""The processes view: a process tree like `pstree -pS`, cut down to what matters.

`pstree -S` marks where a process's namespaces differ from its parent's: `sleep(4242,ipc,uts)`.
A lab VM runs hundreds of processes, so the tree keeps only:

* the lesson's processes (its `Focus`), with their ancestors and descendants;
* every process with a namespace other than the host's (it is in a container, or a lab
  namespace), with its ancestors so that the tree stays connected;

everything else is summed up in one line. Kernel threads never show. A container's main process
says which container it is (`httpd(4242,ipc,mnt,net,pid,uts) [web (docker)] -f`), from its engine's
records.
"""
from __future__ import annotations

from rich.text import Text

from ...i18n import _, ngettext
from ...observe.model import Process, Snapshot
from ...texts import cell_width as text_width, fit
from .focus import Focus
from .layout import CHANGED, FOCUS_MARK, FOCUS_ROW, NOTE, TextBuilder, clean
from .view import NO_FOCUS

#: the order pstree prints namespace types in
PSTREE_NS_ORDER = ("ipc", "mnt", "net", "pid", "user", "uts", "cgroup", "time")
NS_STYLE = "yellow"
CONTAINER_STYLE = "magenta"
MAX_LINES = 400


def ns_changes(proc: Process, reference: dict | None) -> list[str]:
    """The namespace types in which *proc* differs from *reference* (its parent's, or the host's)."""
    if not reference:
        return []
    return [t for t in PSTREE_NS_ORDER
            if t in proc.ns and t in reference and proc.ns[t] != reference[t]]


def _is_kernel_thread(proc: Process) -> bool:
    return proc.pid == 2 or proc.ppid == 2 or (not proc.cmdline and proc.state == "I")


def interesting_pids(snap: Snapshot, focus: Focus) -> tuple[set[int], set[int]]:
    """(pids to show, pids of the lesson)."""
    procs = snap.processes
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    host = snap.host_ns
    mine = set(focus.resolve(snap).pids) if not focus.is_empty else set()
    keep: set[int] = set()
    seeds = set(mine)
    for p in procs.values():
        if _is_kernel_thread(p):
            continue
        for t, inode in p.ns.items():
            if host.get(t) is not None and host[t] != inode:
                seeds.add(p.pid)
                break
    # descendants of the lesson's processes
    stack = list(mine)
    while stack:
        pid = stack.pop()
        if pid in keep:
            continue
        keep.add(pid)
        stack.extend(children.get(pid, ()))
    # every seed, and its ancestors up to PID 1, so that the tree stays connected
    climbed: set[int] = set()
    for pid in seeds:
        keep.add(pid)
        while pid in procs and pid not in climbed:
            climbed.add(pid)
            pid = procs[pid].ppid
            if pid in procs:
                keep.add(pid)
    return {pid for pid in keep if pid in procs}, mine


def render_pstree(snap: Snapshot, focus: Focus, width: int, previous: Snapshot | None = None) -> Text:
    """The tree as rich Text, fitted to *width* cells. New processes (since *previous*) are reversed."""
    out = TextBuilder()
    focus = focus or Focus.empty()
    procs = snap.processes
    show, mine = interesting_pids(snap, focus)
    out.add(fit(_("Processes like pstree -pS: (types) = namespaces that differ from the parent's"), width) + "\n",
               NOTE)
    if not show:
        out.add(fit(_("No process in a namespace of its own, and none of this lesson's yet."), width) + "\n", NOTE)
        return out.text()
    before = set(previous.processes) if previous is not None else None
    container_of = {c.pid: c for c in snap.containers if c.pid is not None}
    children: dict[int, list[Process]] = {}
    roots = []
    for pid in show:
        p = procs[pid]
        if p.ppid in show and p.ppid != pid:
            children.setdefault(p.ppid, []).append(p)
        else:
            roots.append(p)
    for kids in children.values():
        kids.sort(key=lambda p: p.pid)
    roots.sort(key=lambda p: p.pid)
    lines = 0

    def line(p: Process, prefix: str, branch: str, reference: dict | None) -> None:
        nonlocal lines
        lines += 1
        if lines > MAX_LINES:
            return
        focused = p.pid in mine
        gutter = FOCUS_MARK if focused else " " * len(FOCUS_MARK)
        changes = ns_changes(p, reference)
        label = f"{clean(p.comm)}({p.pid}"
        nstext = "," + ",".join(changes) if changes else ""
        args = clean(" ".join(p.cmdline[1:])) if len(p.cmdline) > 1 else ""
        if p.is_zombie:
            args = "<defunct>"
        base = FOCUS_ROW if focused else ""
        if before is not None and p.pid not in before:
            base = f"{base} {CHANGED}".strip()
        if text_width(prefix + branch) > width // 2:      # very deep: keep the nearest part of the rails
            keep_cells = max(width // 2 - 1, 0)
            prefix = "…" + (prefix + branch)[-keep_cells:] if keep_cells else ""
            branch = ""
        room = width - len(gutter) - text_width(prefix + branch)
        out.add(gutter + prefix + branch, "dim")
        head = label + nstext + ")"
        container = container_of.get(p.pid)
        tag = f" [{clean(container.label)}]" if container is not None else ""
        if text_width(head) >= room:
            out.add(fit(head, room), base or None)
        else:
            out.add(label, base or None)
            if nstext:
                out.add(nstext, f"{base} {NS_STYLE}".strip())
            out.add(")", base or None)
            rest = room - text_width(head)
            if tag and rest > 4:
                tag = fit(tag, rest)
                out.add(tag, f"{base} {CONTAINER_STYLE}".strip())
                rest -= text_width(tag)
            if args and rest > 4:
                out.add(" " + fit(args, rest - 1), NOTE)
        out.newline()

    def walk(p: Process, prefix: str, branch: str, child_prefix: str, reference: dict | None) -> None:
        line(p, prefix, branch, reference)
        kids = children.get(p.pid, [])
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            walk(kid, child_prefix, "└─" if last else "├─", child_prefix + ("  " if last else "│ "), dict(p.ns))

    host = dict(snap.host_ns)
    for root in roots:
        parent = procs.get(root.ppid)
        walk(root, "", "", "", dict(parent.ns) if parent is not None else host)
    if lines > MAX_LINES:
        out.add(fit(_("... and {count} more processes").format(count=lines - MAX_LINES), width) + "\n", NOTE)
    hidden = sum(1 for p in procs.values() if not _is_kernel_thread(p)) - len(show)
    if hidden > 0:
        out.add(fit(ngettext("({count} other process, all in the host's namespaces, not shown)",
                             "({count} other processes, all in the host's namespaces, not shown)", hidden).format(
                                 count=hidden), width) + "\n", NOTE)
    return out.text()


def render(snap: Snapshot, previous: Snapshot | None, focus: Focus | None, width: int) -> Text:
    """The view's render function (see view.py)."""
    return render_pstree(snap, focus or NO_FOCUS, width, previous=previous)
