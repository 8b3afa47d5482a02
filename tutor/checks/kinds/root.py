"""root: the root directory of a process: chroot, or pivot_root in its own mount namespace.

    - root: {cmdline: '^sleep 1002$', dir: /tmp/nstutor-root}                # chroot
    - root: {cmdline: '^sleep 1012$', dir: /tmp/nstutor-root, pivoted: true} # pivot_root, old root gone
    - root: {cmdline: '^sleep 1012$', dir: /tmp/nstutor-root, pivoted: true, old_root: any}

dir       the directory (as the host names it) that is the process's "/"
pivoted   the process is in its own mount namespace whose mount table has the new root as "/"
          and no longer contains the host's root filesystem (the old root was detached)
old_root  with pivoted: "detached" (the default) as above; "any": the old root may still be
          attached (at /old, say), for a lesson step that looks at it before cutting it off

Detaching the old root needs `umount` *inside* the new root, and util-linux's umount reads
/proc/self/mountinfo (without it: "umount failed: No such file or directory"), so the recipes
mount /proc into the new root before the pivot.

What the kernel shows, measured on kernel 6.18 with util-linux 2.38 (tests/test_kinds_process_root.py):

* `readlink /proc/PID/root` from the host is "/tmp/nstutor-root" after `chroot DIR cmd`, after
  `unshare --mount chroot DIR cmd` and after `unshare --mount --root=DIR cmd`.
* After `unshare --mount` + `mount --bind DIR DIR; cd DIR; pivot_root . old` it is "/": the path is
  resolved inside that namespace, whose root is now DIR itself. That stays so after the old root is
  detached. So Process.root tells a chroot, never a pivot_root; the mount table does.
* /proc/PID/mountinfo after the pivot: the "/" mount is the bind mount, with the root field
  "/tmp/nstutor-root" (a directory of the host's root filesystem, same source /dev/vda and fstype);
  the old root sits at /old with root field "/" and every host mount below it (/old/proc, ...).
  After `umount -l /old` only "/" and what was mounted inside the new root (e.g. /proc) remain;
  the parent id of the "/" mount then names a mount that is in no table any more.
* A chrooted process sees only the mounts below its root: /proc/PID/mountinfo of
  `unshare --mount chroot DIR cmd` is empty when DIR is no mount point. So a chroot is recognised
  by its root path first, before any mount table is needed.

So "pivoted" = own mount namespace + its "/" mount is not the host's root mount + no mount in its
table is the host's root filesystem (same source, fstype and root field as the host's "/").
With dir, the "/" mount is mapped back to a host path through the host mount of the same
filesystem (source and fstype) whose root field is a prefix of it.
"""
from __future__ import annotations

import posixpath
from typing import Any

from ...i18n import _, current
from ...observe.model import Mount, Snapshot
from ..base import Field, Verdict, v_abspath, v_bool, v_one_of
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import name


def root_mount(table: tuple[Mount, ...]) -> Mount | None:
    """The visible "/" mount (the last one mounted on "/")."""
    tops = [m for m in table if m.target == "/"]
    return tops[-1] if tops else None


def same_fs_root(a: Mount, b: Mount) -> bool:
    """Same filesystem, same directory of it: the same tree (a bind mount of it counts)."""
    return (a.source, a.fstype, a.root) == (b.source, b.fstype, b.root)


def host_paths(mount: Mount, host_table: tuple[Mount, ...]) -> list[str]:
    """Where the host sees the directory that *mount* shows (its filesystem mounted on the host)."""
    out = []
    for h in host_table:
        if (h.source, h.fstype) != (mount.source, mount.fstype):
            continue
        base = h.root.rstrip("/")
        if mount.root == h.root or mount.root.startswith(base + "/"):
            rest = mount.root[len(base):]
            out.append(posixpath.normpath(h.target.rstrip("/") + rest) if rest else h.target)
    return out


@register
class RootDir(ProcessExpectation):
    kind = "root"
    fields = {
        **SUBJECT_FIELDS,
        "dir": Field(v_abspath, doc="the directory that is the process's root, e.g. /tmp/nstutor-root"),
        "pivoted": Field(v_bool, default=False, doc="the root was changed with pivot_root and the old root detached"),
        "old_root": Field(v_one_of("detached", "any"), default="detached",
                          doc="with pivoted: detached (default), or any: the old root may still be attached"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = super().extra_problems(spec)
        if "dir" not in spec and not spec.get("pivoted"):
            out.append("'root' needs dir (the new root directory) and/or pivoted: true")
        if "old_root" in spec and not spec.get("pivoted"):
            out.append("'root': old_root only means something with pivoted: true")
        return out

    def describe(self) -> str:
        who = self.subject_words
        if self.pivoted:
            if self.dir and self.old_root == "any":
                text = _("{subject} did pivot_root into {dir} in its own mount namespace")
            elif self.dir:
                text = _("{subject} did pivot_root into {dir} in its own mount namespace and detached the old root")
            elif self.old_root == "any":
                text = _("{subject} did pivot_root in its own mount namespace")
            else:
                text = _("{subject} did pivot_root in its own mount namespace and detached the old root")
            text = text.format(subject=who, dir=self.dir)
            # English starts the sentence with a capital; a Korean one may start with a name, kept as it is
            return text[:1].upper() + text[1:] if current() == "en" else text
        return _("the root directory of {subject} is {dir}").format(subject=who, dir=self.dir)

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        if self.pivoted:
            return self._grade_pivot(snap, picked.proc)
        return self._grade_chroot(snap, picked.proc)

    def _grade_chroot(self, snap: Snapshot, proc) -> Verdict:
        want = posixpath.normpath(self.dir)
        if proc.root is None:
            return self.fail(_("{process}: root unreadable").format(process=name(proc, snap)),
                             (_("nstutor could not read {file}.") if snap.is_root
                              else _("nstutor could not read {file}; run nstutor as root.")).format(
                                 file=f"/proc/{proc.pid}/root"))
        observed = _("the root of {process} is {root}").format(process=name(proc, snap), root=proc.root)
        if posixpath.normpath(proc.root) == want:
            return self.ok(observed, {"pid": proc.pid, "root": proc.root})
        own_mnt = proc.ns.get("mnt") not in (None, snap.host_ns.get("mnt"))
        if proc.root == "/" and own_mnt:
            why = _(" It is in its own mount namespace, where the host sees the root of a pivot_root as '/': "
                    "this step asks for a chroot.")
        elif proc.root == "/":
            why = _(" That is the host's root: it was started without chroot.")
        else:
            why = ""
        return self.fail(observed,
                         _("The root of {process} is {root}, expected {want}.{why} "
                           "Start it inside the new root: {command}").format(
                             process=name(proc, snap), root=proc.root, want=want, why=why,
                             command=f"kill {proc.pid}; chroot {want} {proc.command}"))

    def _grade_pivot(self, snap: Snapshot, proc) -> Verdict:
        mnt, host_mnt = proc.ns.get("mnt"), snap.host_ns.get("mnt")
        d = self.dir or "DIR"
        program = posixpath.basename(proc.cmdline[0]) if proc.cmdline else proc.comm
        detach = "" if self.old_root == "any" else "umount -l /old && "
        recipe = _("{command} (the new root needs the directories old and proc, and {programs} and sh, each "
                   "with its libraries)").format(
            command=(f"unshare --mount sh -c 'mount --bind {d} {d} && mount -t proc proc {d}/proc && cd {d} && "
                     f"pivot_root . old && {detach}exec {proc.command}'"),
            programs=program + (", umount" if detach else ""))
        who = name(proc, snap)
        if mnt is None:
            return self.fail_ns_unreadable(snap, proc, "mnt")
        if mnt == host_mnt:
            return self.fail(_("{process} is in the host's mount namespace ({mnt}); its root is {root}").format(
                                 process=who, mnt=mnt, root=proc.root),
                             _("pivot_root changes the root of a whole mount namespace, so the process needs "
                               "one of its own. Start it with: {recipe}").format(recipe=recipe))
        if proc.root not in (None, "/"):
            # The host names the root of a chroot; after pivot_root it sees "/" (module docstring).
            # Checked before the mount table: a chrooted process's mountinfo is empty when its root
            # is no mount point, so the table may well be missing.
            return self.fail(_("{process} is in its own mount namespace ({mnt}); the host sees its root as "
                               "{root}").format(process=who, mnt=mnt, root=proc.root),
                             _("The root of {process} is {root} as the host sees it: that is a chroot "
                               "(after pivot_root the host would see '/'). Its mount namespace still holds the "
                               "whole host filesystem. Start it with: {recipe}").format(
                                 process=who, root=proc.root, recipe=recipe))
        table, host_table = snap.mounts.get(mnt), snap.mounts.get(host_mnt) if host_mnt else None
        if table is None or host_table is None:
            return self.fail(_("{process} is in its own mount namespace ({mnt}); a mount table is unreadable").format(
                                 process=who, mnt=mnt),
                             (_("nstutor could not read the mount tables of {process} and of the host.")
                              if snap.is_root else
                              _("nstutor could not read the mount tables of {process} and of the host; "
                                "run nstutor as root.")).format(process=who))
        new, host_root = root_mount(table), root_mount(host_table)
        if new is None or host_root is None:
            return self.fail((_("{process}: no '/' mount in its mount table") if new is None
                              else _("{process}: no '/' mount in the host mount table")).format(process=who),
                             _("nstutor could not find the '/' mount to compare."))
        observed = _("{process} is in its own mount namespace ({mnt}); its / is {fstype} {source} {root} "
                     "({count} mounts)").format(process=who, mnt=mnt, fstype=new.fstype, source=new.source,
                                                root=new.root, count=len(table))
        if same_fs_root(new, host_root):
            return self.fail(observed + _("; that is the host's root"),
                             _("The / of {process} is still the host's root filesystem: it has not done "
                               "pivot_root. Start it with: {recipe}").format(process=who, recipe=recipe))
        old = [m for m in table if same_fs_root(m, host_root)]
        if old and self.old_root != "any":
            where = old[0].target
            has_proc = any(m.target == "/proc" and m.fstype == "proc" for m in table)
            if has_proc:
                message = _("pivot_root was done, but the old root is still attached at {where}, so the whole "
                            "host filesystem is reachable from inside. Detach it from inside the namespace: "
                            "{command} (the umount that runs is the new root's own copy). Or start again with: "
                            "{recipe}")
            else:
                message = _("pivot_root was done, but the old root is still attached at {where}, so the whole "
                            "host filesystem is reachable from inside. Detach it from inside the namespace: "
                            "{command} (the umount that runs is the new root's own copy). umount reads "
                            "/proc/self/mountinfo, and there is no /proc in that namespace yet: mount it first, "
                            "{mount_proc} (mount, too, must be in the new root), or start again with /proc "
                            "mounted: {recipe}")
            return self.fail(observed + _("; the host's root is still attached at {where}").format(where=where),
                             message.format(where=where, command=f"nsenter --target {proc.pid} --mount umount -l {where}",
                                            mount_proc=f"nsenter --target {proc.pid} --mount mount -t proc proc /proc",
                                            recipe=recipe))
        evidence: dict[str, Any] = {"pid": proc.pid, "mnt": mnt, "root_mount": {
            "source": new.source, "fstype": new.fstype, "root": new.root}, "mounts": len(table)}
        if old:
            evidence["old_root"] = old[0].target
        if self.dir:
            want = posixpath.normpath(self.dir)
            paths = host_paths(new, host_table)
            if paths and want not in paths:
                return self.fail(observed + _("; on the host that is {path}").format(path=paths[0]),
                                 _("pivot_root was done into {path}, expected {want}. Start it with: {recipe}").format(
                                     path=paths[0], want=want, recipe=recipe))
            if paths:
                evidence["dir"] = want
            else:
                observed += _(" (that filesystem is not mounted on the host, so nstutor cannot name its directory)")
        tail = (_("; the old root is still attached at {where}").format(where=old[0].target) if old
                else _("; the old root is detached"))
        return self.ok(observed + tail, evidence)
