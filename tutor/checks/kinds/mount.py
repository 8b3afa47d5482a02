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

from ...observe.model import Mount, Snapshot
from ..base import Field, Verdict, clean_path, v_abspath, v_bool, v_str
from ..containers import inspect_hint, kubelet_made, pod_spec_fix, pod_yaml_command, q, recreate_with
from ..procs import SUBJECT_FIELDS, ProcessExpectation, v_regex
from ..registry import register
from ..select import name


def mounts_at(table: tuple[Mount, ...], target: str) -> list[Mount]:
    return [m for m in table if clean_path(m.target) == target]


def show(m: Mount) -> str:
    return f"{m.fstype} from {m.source}"


def is_read_only(m: Mount) -> bool:
    """The mount's own options (mountinfo's sixth field) say ro."""
    return "ro" in m.options.split(",")


def show_fully(m: Mount) -> str:
    """show(), with what read_only and source_path look at."""
    root = f", showing {m.root} of it" if m.root != "/" else ""
    return f"{show(m)}{root}, {'read-only' if is_read_only(m) else 'writable'}"


@register
class MountIn(ProcessExpectation):
    kind = "mount"
    fields = {
        **SUBJECT_FIELDS,
        "target": Field(v_abspath, required=True, doc="the mount point inside the process's mount namespace"),
        "fstype": Field(v_str, doc="the filesystem type, e.g. tmpfs"),
        "read_only": Field(v_bool, doc="true: mounted read-only (ro); false: writable"),
        "source_path": Field(v_regex, doc="a regular expression: the path inside its filesystem that the mount shows"),
        "absent_from_host": Field(v_bool, default=False, doc="not mounted there in the host's mount namespace"),
    }

    def describe(self) -> str:
        what = f"a {self.fstype} mount" if self.fstype else "a mount"
        if self.read_only is not None:
            what = ("a read-only " if self.read_only else "a writable ") + what[2:]
        text = f"{what} at {self.target} in the mount namespace of {self.subject_words}"
        if self.source_path:
            text += f", showing a path that matches {self.source_path!r}"
        return text + (", not in the host's" if self.absent_from_host else "")

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "mnt")
        if isinstance(found, Verdict):
            return found
        proc, mnt = found
        target = clean_path(self.target)
        host_mnt = snap.host_ns.get("mnt")
        shares_host = mnt == host_mnt
        table = snap.mounts.get(mnt)
        where = f"the host's mount namespace ({mnt})" if shares_host else f"its own mount namespace ({mnt})"
        mount_cmd = (f"nsenter --target {proc.pid} --mount mount -t {self.fstype or 'tmpfs'} "
                     f"{self.fstype or 'tmpfs'} {target}")
        if table is None:
            return self.fail(f"{name(proc, snap)} is in {where}; its mount table could not be read",
                             f"nstutor could not read /proc/{proc.pid}/mountinfo"
                             + ("." if snap.is_root else "; run nstutor as root."))
        here = mounts_at(table, target)
        if self.absent_from_host and shares_host:
            seen = f"{show(here[-1])} is mounted at {target}" if here else f"nothing is mounted at {target}"
            return self.fail(f"{name(proc, snap)} is in {where}; {seen}",
                             f"{name(proc, snap)} shares the host's mount namespace, so anything mounted there is "
                             f"mounted for the whole machine. Start it in its own (kill {proc.pid}; "
                             f"unshare --mount {proc.command}), then mount inside it: "
                             f"nsenter --target <its pid> --mount mount -t {self.fstype or 'tmpfs'} "
                             f"{self.fstype or 'tmpfs'} {target}"
                             + (f"; and unmount the host's: umount {target}" if here else ""))
        if not here:
            host_table = snap.mounts.get(host_mnt) if host_mnt is not None and not shares_host else None
            on_host = mounts_at(host_table, target) if host_table else []
            # The host's own mount at a system path (/proc, /tmp) is the machine's, not a misplaced
            # lesson mount: "umount" is advised only for a path the lesson owns (named nstutor, as
            # cleanup paths are) or one the check says the host must not have.
            if on_host and (self.absent_from_host or "nstutor" in target):
                return self.fail(f"{name(proc, snap)} is in {where}; nothing is mounted at {target} there, but the "
                                 f"host has {show(on_host[-1])} at {target}",
                                 f"{target} was mounted in the host's mount namespace, not in the one of "
                                 f"{name(proc, snap)} (mount without nsenter runs on the host). Undo it on the host: "
                                 f"umount {target}; then mount inside: {mount_cmd}")
            recreate = (recreate_with(snap, proc, f"--tmpfs {q(target)}",
                                      f"an emptyDir volume with medium: Memory, mounted at {target}")
                        if (self.fstype or "tmpfs") == "tmpfs" else None)
            return self.fail(f"{name(proc, snap)} is in {where}; nothing is mounted at {target} there "
                             f"({len(table)} mounts)",
                             f"Nothing is mounted at {target} inside the mount namespace of {name(proc, snap)}. "
                             f"Mount it from inside: {mount_cmd} (the directory must exist: mkdir -p {target})"
                             + (f". That lasts until its container restarts; to create it with one: {recreate}"
                                if recreate else ""))
        if self.fstype and not any(m.fstype == self.fstype for m in here):
            return self.fail(f"{name(proc, snap)} is in {where}; at {target}: {', '.join(show(m) for m in here)}",
                             f"{target} is mounted, but as {here[-1].fstype}, not {self.fstype}. "
                             f"Unmount it and mount a {self.fstype}: nsenter --target {proc.pid} --mount "
                             f"umount {target}; {mount_cmd}")
        typed = [m for m in here if not self.fstype or m.fstype == self.fstype]
        # The one on top is what a path lookup finds: an engine's masks and read-only binds are
        # mounted over whatever was there, and a learner's remount over those.
        good = typed[-1]
        if self.source_path is not None and not re.search(self.source_path, good.root):
            return self.fail(f"{name(proc, snap)} is in {where}; at {target}: {show_fully(good)}",
                             f"{target} there shows {good.root} of its filesystem, not a path matching "
                             f"{self.source_path!r}. "
                             + self._source_advice(snap, proc, target))
        if self.read_only is not None and is_read_only(good) != self.read_only:
            return self.fail(f"{name(proc, snap)} is in {where}; at {target}: {show_fully(good)}",
                             self._read_only_advice(snap, proc, target))
        observed = f"{name(proc, snap)} is in {where}; {show(good)} is mounted at {target}"
        if self.source_path is not None:
            observed += f", showing {good.root}"
        if self.read_only is not None:
            observed += ", read-only" if is_read_only(good) else ", writable"
        evidence: dict[str, Any] = {"pid": proc.pid, "mnt": mnt, "target": target, "fstype": good.fstype,
                                    "source": good.source, "mount_id": good.mount_id, "root": good.root,
                                    "options": good.options}
        if self.absent_from_host:
            host_table = snap.mounts.get(host_mnt) if host_mnt is not None else None
            if host_table is None:
                return self.fail(observed + "; the host's mount table could not be read",
                                 "nstutor could not read the host's mount table to compare with.")
            leaked = mounts_at(host_table, target)
            if leaked:
                return self.fail(observed + f"; the host has {show(leaked[-1])} at {target} too",
                                 f"{target} is also mounted in the host's mount namespace: it was mounted on "
                                 f"the host as well, or before unshare --mount copied the host's table, or "
                                 f"the namespace was made with --propagation shared/unchanged so the mount "
                                 f"propagated out. Unmount the host's: umount {target} (with shared "
                                 f"propagation that unmounts both: start again with plain unshare --mount, "
                                 f"which makes every mount private)")
            evidence["host_mnt"] = host_mnt
            observed += "; nothing there in the host's"
        return self.ok(observed, evidence)

    def _source_advice(self, snap: Snapshot, proc, target: str) -> str:
        c = snap.container_of_pid(proc.pid)
        if c is not None and kubelet_made(c):
            # the kubelet and the runtime mount it from the pod's own files; only the Pod spec changes that
            return (f"The kubelet and its runtime mount {target} for each container of a pod, unless the Pod spec "
                    f"replaces it (a volumeMount onto {target}, privileged: true or procMount: Unmasked in the "
                    f"container's securityContext; {pod_yaml_command(c)} shows the spec): "
                    + pod_spec_fix(c, "take that out of the Pod spec") + ".")
        if c is not None:
            return (f"The engine mounts {target} for each container it starts, unless the run options replace "
                    f"it (a -v or --mount onto {target}, --security-opt systempaths=unconfined, --privileged): "
                    f"{c.engine} inspect {c.name} shows its mounts; make it again without them.")
        return (f"Bind the right file over it from inside: nsenter --target {proc.pid} --mount "
                f"mount --bind SOURCE {target}")

    def _read_only_advice(self, snap: Snapshot, proc, target: str) -> str:
        c = snap.container_of_pid(proc.pid)
        want = "read-only" if self.read_only else "writable"
        if c is not None and self.read_only:
            lead = (f"{target} is writable inside {c.name}, so root in there can change the machine's kernel "
                    f"settings through it. ")
            hint = inspect_hint(c, ("Privileged", "SecurityOpt"))
            if kubelet_made(c):
                return (lead + f"The runtime mounts it read-only unless the container's securityContext says "
                        f"privileged: true or procMount: Unmasked ({hint} tells); "
                        + pod_spec_fix(c, "take them out of the Pod spec") + ".")
            return (lead + f"Engines mount it read-only unless the container was started with "
                    f"--privileged or --security-opt systempaths=unconfined ({hint} tells); make it "
                    f"again without them: {c.engine} rm -f {c.name}, then {c.engine} run it as the lesson does.")
        option = "ro" if self.read_only else "rw"
        return (f"{target} should be {want}. Remount it from inside: nsenter --target {proc.pid} --mount "
                f"mount -o remount,bind,{option} {target}")
