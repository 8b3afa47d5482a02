"""View 8, "Isolation": what the non-network namespaces and cgroups give each process.

The lessons of part 1 (uts, mount, ipc, user, chroot, cgroups) build things that `ip` cannot
show. This view puts them in one table, a section per topic, in the same row format as the
other views (so changes are marked the same way):

  HOSTNAMES     each uts namespace and its hostname            (hostname inside vs outside)
  ROOTS         processes whose root is not the host's /       (chroot, pivot_root)
  MOUNTS        mount namespaces with mounts the host lacks    (findmnt -l, the difference only)
  SHARED MEMORY System V segments per ipc namespace           (ipcs -m, per namespace)
  USER IDS      user namespaces and their uid/gid maps        (cat /proc/PID/uid_map)
  CPU LIMITS    cgroups with a CPU limit, members, CPU used    (cpu.max / cfs_quota_us, top)

Rows of the lesson's processes and namespaces are marked, as everywhere else.
"""
from __future__ import annotations

from ...i18n import _
from ...observe import render as textview
from ...observe.model import Snapshot
from ...texts import counted
from .focus import Focus, Resolved
from .layout import NOTE, Row, Section, Table
from .view import table_view

MOUNTS_PER_NS = 6


def isolation_table(snap: Snapshot, res: Resolved, focus: Focus) -> Table:
    mine = res.namespaces

    def ns_focus(nstype: str, inode: int) -> bool:
        return (nstype, inode) in mine

    sections = []

    rows = []
    for h in textview.hostname_rows(snap):
        who = "host" if h.is_host else (f"pid {h.pid} {h.command}" if h.pid is not None else "no process")
        rows.append(Row(("uts", h.inode), (f"uts {h.inode}", f"{h.hostname}   ({who})"),
                        ("", "bold" if not h.is_host else ""), focus=ns_focus("uts", h.inode)))
    sections.append(Section("hostnames", _("HOSTNAMES (one per uts namespace)"), tuple(rows), empty=_("(none readable)")))

    rows = []
    shown = res.pids | _roots_worth_showing(snap)
    for proc in sorted(snap.processes.values(), key=lambda p: p.pid):
        if proc.root not in (None, "/") and not proc.is_zombie and proc.pid in shown:
            rows.append(Row(("root", proc.pid), (f"pid {proc.pid}", f"{proc.comm}: / is {proc.root}"),
                            focus=proc.pid in res.pids))
    # pivot_root: inside its own mount namespace the process's / is "/", so readlink shows nothing;
    # the mount table tells: its "/" mount is another directory than the host's.
    host_root = _root_mount(snap, snap.host_ns.get("mnt"))
    for m in textview.mount_rows(snap):
        root = _root_mount(snap, m.inode)
        if (m.is_host or root is None or host_root is None or root == host_root or m.pid is None
                or _kernel_thread(m.command)):
            continue
        rows.append(Row(("pivot", m.inode), (f"pid {m.pid}", f"{m.command}: / is {root[1]} of {root[0]} "
                                                                f"(pivot_root, mnt {m.inode})"),
                        focus=ns_focus("mnt", m.inode) or m.pid in res.pids))
    sections.append(Section("roots", _("ROOTS (processes whose / is not the host's: chroot, pivot_root)"),
                            tuple(rows[:20]), empty=_("(every process sees the host's /)")))

    rows = []
    for m in textview.mount_rows(snap):
        if m.is_host or not (m.added or ns_focus("mnt", m.inode)) or _kernel_thread(m.command):
            continue
        focused = ns_focus("mnt", m.inode)
        who = f"pid {m.pid} {m.command}" if m.pid is not None else "no process"
        rows.append(Row(("mnt", m.inode), (f"mnt {m.inode}", f"{counted(len(m.added), 'mount')} the host has not; {who}"),
                        ("", NOTE), focus=focused))
        for mount in m.added[:MOUNTS_PER_NS]:
            rows.append(Row(("mnt", m.inode, mount.target, mount.fstype, mount.source),
                            ("", textview.mount_text(mount)), focus=focused, blank=1))
        if len(m.added) > MOUNTS_PER_NS:
            rows.append(Row(("mnt", m.inode, "more"), ("", f"... and {len(m.added) - MOUNTS_PER_NS} more"),
                            ("", NOTE), focus=focused, blank=1))
    sections.append(Section("mounts", _("MOUNTS (mount namespaces with mounts the host's table lacks)"),
                            tuple(rows), empty=_("(no mount namespace differs from the host's by an added mount)")))

    rows = [Row(("shm", s.inode, s.shmid), (f"ipc {s.inode}{' (host)' if s.is_host else ''}",
                                           f"key {s.key:#010x}  shmid {s.shmid}  {s.size} bytes  owner {s.owner}  "
                                           f"made by pid {s.cpid}"), focus=ns_focus("ipc", s.inode))
            for s in textview.shm_rows(snap)]
    sections.append(Section("shm", _("SHARED MEMORY (System V segments, per ipc namespace)"), tuple(rows),
                            empty=_("(no segments)")))

    rows = []
    for u in textview.userns_rows(snap):
        if u.is_host:
            continue
        who = f"pid {u.pid} {u.command}" if u.pid is not None else "no process"
        rows.append(Row(("user", u.inode), (f"user {u.inode}", f"uid map {u.uid_map}  gid map {u.gid_map}  ({who})"),
                        focus=ns_focus("user", u.inode)))
    sections.append(Section("userns", _("USER IDS (user namespaces: INSIDE OUTSIDE COUNT)"), tuple(rows),
                            empty=_("(only the host's user namespace)")))

    used: dict[str, float] = {}
    for proc in snap.processes.values():
        if proc.cgroup is not None and proc.cpu_percent is not None:
            used[proc.cgroup] = used.get(proc.cgroup, 0.0) + proc.cpu_percent
    rows = []
    for c in textview.cgroup_rows(snap):
        cpu = f"; {used[c.path]:.0f}% of a CPU in the last sample" if c.path in used else ""
        focused = any(p.cgroup == c.path for pid in res.pids if (p := snap.processes.get(pid)))
        rows.append(Row(("cg", c.path), (c.path, f"{c.limit}; {counted(c.nprocs, 'process')}{cpu}"), focus=focused))
    mode = snap.cgroups.mode if snap.cgroups else "?"
    sections.append(Section("cgroups", _("CPU LIMITS (cgroups, {mode})").format(mode=mode), tuple(rows),
                            empty=_("(no CPU limits set)")))

    return Table(("", ""), "ll", tuple(sections), max_col=(24,), min_col=(8,),
                 caption=_("What each process is given besides the network: hostname, root, mounts, IPC, ids, CPU"))


def _kernel_thread(command: str) -> bool:
    """kdevtmpfs and friends run in a mount namespace of their own: not a container, not shown."""
    return command.startswith("[")


def _root_mount(snap: Snapshot, mnt_inode) -> tuple[str, str] | None:
    """(source, directory) of the mount at / in a mount namespace's table."""
    for mount in snap.mounts.get(mnt_inode, ()):
        if mount.target == "/":
            return mount.source, mount.root or "/"
    return None


def _roots_worth_showing(snap: Snapshot) -> set[int]:
    """Processes whose root differs from their parent's: the chroot or pivot_root itself, not every child."""
    out = set()
    for proc in snap.processes.values():
        parent = snap.processes.get(proc.ppid)
        if proc.root not in (None, "/") and (parent is None or parent.root != proc.root):
            out.add(proc.pid)
    return out


render = table_view("isolation", isolation_table)
