"""mount: something is mounted at a path in the mount namespace of a process.

    - mount: {cmdline: '^sleep 1006$', target: /mnt/nstutor-private, fstype: tmpfs, absent_from_host: true}

    - mount: {container: web, engine: docker, target: /proc/sys, read_only: true}
    - mount: {container: web, engine: docker, target: /etc/hosts, source_path: '/[0-9a-f]{64}/(userdata/)?hosts$'}

target            the mount point, as seen inside that mount namespace (its /proc/PID/mountinfo)
fstype            optional: tmpfs, proc, ext4...
read_only         optional: true, the mount is read-only (mount option ro); false, it is writable
source_path       optional regular expression: the path, inside its filesystem, that the mount shows (mountinfo's
                  fourth field, "/" for a whole filesystem): a bind mount of /var/lib/docker/containers/ID/hosts
                  shows that path, a file masked with /dev/null shows /null
absent_from_host  nothing is mounted at target in the host's mount namespace (the mount stayed private)

An engine hides parts of /proc and /sys from a container (masked paths: /dev/null or an empty
tmpfs mounted over them) and makes others read-only, and it bind-mounts the container's own
/etc/hosts, /etc/hostname and /etc/resolv.conf from files it keeps for it: read_only and
source_path prove each of these from the container's own mount table.
"""
from __future__ import annotations

import re
from typing import Any

from ...i18n import _
from ...observe.model import Mount, Snapshot
from ..base import Field, Verdict, clean_path, v_abspath, v_bool, v_word
from ..containers import inspect_hint, kubelet_made, pod_spec_fix, pod_yaml_command, q, recreate_with
from ..procs import SUBJECT_FIELDS, ProcessExpectation, v_regex
from ..registry import register
from ..select import name


def mounts_at(table: tuple[Mount, ...], target: str) -> list[Mount]:
    return [m for m in table if clean_path(m.target) == target]


def show(m: Mount) -> str:
    return _("{fstype} from {source}").format(fstype=m.fstype, source=m.source)


def is_read_only(m: Mount) -> bool:
    """The mount's own options (mountinfo's sixth field) say ro."""
    return "ro" in m.options.split(",")


def show_fully(m: Mount) -> str:
    """show(), with what read_only and source_path look at."""
    root = _(", showing {root} of it").format(root=m.root) if m.root != "/" else ""
    access = _("read-only") if is_read_only(m) else _("writable")
    return f"{show(m)}{root}, {access}"


@register
class MountIn(ProcessExpectation):
    kind = "mount"
    fields = {
        **SUBJECT_FIELDS,
        "target": Field(v_abspath, required=True, doc="the mount point inside the process's mount namespace"),
        "fstype": Field(v_word("tmpfs", "a filesystem type as /proc/mounts shows it"), doc="the filesystem type, e.g. tmpfs"),
        "read_only": Field(v_bool, doc="true: mounted read-only (ro); false: writable"),
        "source_path": Field(v_regex, doc="a regular expression: the path inside its filesystem that the mount shows"),
        "absent_from_host": Field(v_bool, default=False, doc="not mounted there in the host's mount namespace"),
    }

    def describe(self) -> str:
        if self.read_only is None:
            what = _("a {fstype} mount") if self.fstype else _("a mount")
        elif self.read_only:
            what = _("a read-only {fstype} mount") if self.fstype else _("a read-only mount")
        else:
            what = _("a writable {fstype} mount") if self.fstype else _("a writable mount")
        text = _("{mount} at {target} in the mount namespace of {subject}").format(
            mount=what.format(fstype=self.fstype), target=self.target, subject=self.subject_words)
        if self.source_path:
            text += _(", showing a path that matches {pattern}").format(pattern=repr(self.source_path))
        return text + (_(", not in the host's") if self.absent_from_host else "")

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "mnt")
        if isinstance(found, Verdict):
            return found
        proc, mnt = found
        target = clean_path(self.target)
        host_mnt = snap.host_ns.get("mnt")
        shares_host = mnt == host_mnt
        table = snap.mounts.get(mnt)
        where = (_("the host's mount namespace ({mnt})") if shares_host
                 else _("its own mount namespace ({mnt})")).format(mnt=mnt)
        who = name(proc, snap)
        mount_cmd = (f"nsenter --target {proc.pid} --mount mount -t {self.fstype or 'tmpfs'} "
                     f"{self.fstype or 'tmpfs'} {target}")
        if table is None:
            return self.fail(_("{process} is in {where}; its mount table could not be read").format(
                                 process=who, where=where),
                             (_("nstutor could not read {file}.") if snap.is_root
                              else _("nstutor could not read {file}; run nstutor as root.")).format(
                                 file=f"/proc/{proc.pid}/mountinfo"))
        here = mounts_at(table, target)
        if self.absent_from_host and shares_host:
            seen = (_("{mount} is mounted at {target}").format(mount=show(here[-1]), target=target) if here
                    else _("nothing is mounted at {target}").format(target=target))
            fs, its_pid = self.fstype or "tmpfs", _("<its pid>")
            return self.fail(_("{process} is in {where}; {seen}").format(process=who, where=where, seen=seen),
                             _("{process} shares the host's mount namespace, so anything mounted there is "
                               "mounted for the whole machine. Start it in its own ({restart}), then mount "
                               "inside it: {mount_command}").format(
                                 process=who, restart=f"kill {proc.pid}; unshare --mount {proc.command}",
                                 mount_command=f"nsenter --target {its_pid} --mount mount -t {fs} {fs} {target}")
                             + (_("; and unmount the host's: {command}").format(command=f"umount {target}")
                                if here else ""))
        if not here:
            host_table = snap.mounts.get(host_mnt) if host_mnt is not None and not shares_host else None
            on_host = mounts_at(host_table, target) if host_table else []
            # The host's own mount at a system path (/proc, /tmp) is the machine's, not a misplaced
            # lesson mount: "umount" is advised only for a path the lesson owns (named nstutor, as
            # cleanup paths are) or one the check says the host must not have.
            if on_host and (self.absent_from_host or "nstutor" in target):
                return self.fail(_("{process} is in {where}; nothing is mounted at {target} there, but the "
                                   "host has {mount} at {target}").format(
                                     process=who, where=where, target=target, mount=show(on_host[-1])),
                                 _("{target} was mounted in the host's mount namespace, not in the one of "
                                   "{process} (mount without nsenter runs on the host). Undo it on the host: "
                                   "{umount}; then mount inside: {mount_command}").format(
                                     target=target, process=who, umount=f"umount {target}",
                                     mount_command=mount_cmd))
            recreate = (recreate_with(snap, proc, f"--tmpfs {q(target)}",
                                      _("an emptyDir volume with medium: Memory, mounted at {target}").format(
                                          target=target))
                        if (self.fstype or "tmpfs") == "tmpfs" else None)
            return self.fail(_("{process} is in {where}; nothing is mounted at {target} there "
                               "({count} mounts)").format(process=who, where=where, target=target, count=len(table)),
                             _("Nothing is mounted at {target} inside the mount namespace of {process}. "
                               "Mount it from inside: {mount_command} (the directory must exist: {mkdir})").format(
                                 target=target, process=who, mount_command=mount_cmd, mkdir=f"mkdir -p {target}")
                             + (_(". That lasts until its container restarts; to create it with one: {command}")
                                .format(command=recreate) if recreate else ""))
        if self.fstype and not any(m.fstype == self.fstype for m in here):
            return self.fail(_("{process} is in {where}; at {target}: {mounts}").format(
                                 process=who, where=where, target=target, mounts=", ".join(show(m) for m in here)),
                             _("{target} is mounted, but as {fstype}, not {wanted}. Unmount it and mount a "
                               "{wanted}: {commands}").format(
                                 target=target, fstype=here[-1].fstype, wanted=self.fstype,
                                 commands=f"nsenter --target {proc.pid} --mount umount {target}; {mount_cmd}"))
        typed = [m for m in here if not self.fstype or m.fstype == self.fstype]
        # The one on top is what a path lookup finds: an engine's masks and read-only binds are
        # mounted over whatever was there, and a learner's remount over those.
        good = typed[-1]
        if self.source_path is not None and not re.search(self.source_path, good.root):
            return self.fail(_("{process} is in {where}; at {target}: {mounts}").format(
                                 process=who, where=where, target=target, mounts=show_fully(good)),
                             _("{target} there shows {root} of its filesystem, not a path matching "
                               "{pattern}. {advice}").format(target=target, root=good.root,
                                                              pattern=repr(self.source_path),
                                                              advice=self._source_advice(snap, proc, target)))
        if self.read_only is not None and is_read_only(good) != self.read_only:
            return self.fail(_("{process} is in {where}; at {target}: {mounts}").format(
                                 process=who, where=where, target=target, mounts=show_fully(good)),
                             self._read_only_advice(snap, proc, target))
        observed = _("{process} is in {where}; {mount} is mounted at {target}").format(
            process=who, where=where, mount=show(good), target=target)
        if self.source_path is not None:
            observed += _(", showing {root}").format(root=good.root)
        if self.read_only is not None:
            observed += _(", read-only") if is_read_only(good) else _(", writable")
        evidence: dict[str, Any] = {"pid": proc.pid, "mnt": mnt, "target": target, "fstype": good.fstype,
                                    "source": good.source, "mount_id": good.mount_id, "root": good.root,
                                    "options": good.options}
        if self.absent_from_host:
            host_table = snap.mounts.get(host_mnt) if host_mnt is not None else None
            if host_table is None:
                return self.fail(observed + _("; the host's mount table could not be read"),
                                 _("nstutor could not read the host's mount table to compare with."))
            leaked = mounts_at(host_table, target)
            if leaked:
                return self.fail(observed + _("; the host has {mount} at {target} too").format(
                                     mount=show(leaked[-1]), target=target),
                                 _("{target} is also mounted in the host's mount namespace: it was mounted on "
                                   "the host as well, or before unshare --mount copied the host's table, or "
                                   "the namespace was made with --propagation shared/unchanged so the mount "
                                   "propagated out. Unmount the host's: {umount} (with shared "
                                   "propagation that unmounts both: start again with plain unshare --mount, "
                                   "which makes every mount private)").format(target=target,
                                                                              umount=f"umount {target}"))
            evidence["host_mnt"] = host_mnt
            observed += _("; nothing there in the host's")
        return self.ok(observed, evidence)

    def _source_advice(self, snap: Snapshot, proc, target: str) -> str:
        c = snap.container_of_pid(proc.pid)
        if c is not None and kubelet_made(c):
            # the kubelet and the runtime mount it from the pod's own files; only the Pod spec changes that
            return _("The kubelet and its runtime mount {target} for each container of a pod, unless the Pod spec "
                     "replaces it (a volumeMount onto {target}, privileged: true or procMount: Unmasked in the "
                     "container's securityContext; {command} shows the spec): {fix}.").format(
                target=target, command=pod_yaml_command(c),
                fix=pod_spec_fix(c, _("take that out of the Pod spec")))
        if c is not None:
            return _("The engine mounts {target} for each container it starts, unless the run options replace "
                     "it (a -v or --mount onto {target}, --security-opt systempaths=unconfined, --privileged): "
                     "{command} shows its mounts; make it again without them.").format(
                target=target, command=f"{c.engine} inspect {c.name}")
        return _("Bind the right file over it from inside: {command}").format(
            command=f"nsenter --target {proc.pid} --mount mount --bind SOURCE {target}")

    def _read_only_advice(self, snap: Snapshot, proc, target: str) -> str:
        c = snap.container_of_pid(proc.pid)
        want = _("read-only") if self.read_only else _("writable")
        if c is not None and self.read_only:
            hint = inspect_hint(c, ("Privileged", "SecurityOpt"))
            if kubelet_made(c):
                return _("{target} is writable inside {container}, so root in there can change the machine's "
                         "kernel settings through it. The runtime mounts it read-only unless the container's "
                         "securityContext says privileged: true or procMount: Unmasked ({hint} tells); "
                         "{fix}.").format(target=target, container=c.name, hint=hint,
                                          fix=pod_spec_fix(c, _("take them out of the Pod spec")))
            return _("{target} is writable inside {container}, so root in there can change the machine's "
                     "kernel settings through it. Engines mount it read-only unless the container was started "
                     "with --privileged or --security-opt systempaths=unconfined ({hint} tells); make it again "
                     "without them: {remove}, then {engine} run it as the lesson does.").format(
                target=target, container=c.name, hint=hint, remove=f"{c.engine} rm -f {c.name}", engine=c.engine)
        option = "ro" if self.read_only else "rw"
        return _("{target} should be {access}. Remount it from inside: {command}").format(
            target=target, access=want,
            command=f"nsenter --target {proc.pid} --mount mount -o remount,bind,{option} {target}")
