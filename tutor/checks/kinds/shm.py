"""shm: a System V shared memory segment in the ipc namespace of a process.

    - shm: {cmdline: '^sleep 1007$', size: 4096, absent_from_host: true}

size              optional: the segment's size in bytes (ipcmk -M 4096)
key               optional: its key (ipcmk prints it; ipcs -m lists it)
absent_from_host  the process has its own ipc namespace and the host's has no segment like it
                  (same size/key; with neither given, only the namespace is compared, so an
                  unrelated segment of some host program never fails the check)

A host segment "like it" counts only when its creator (cpid) is no longer running, or is ipcmk:
that is what `ipcmk -M 4096` typed without nsenter leaves behind (ipcmk exits at once). A
segment that a running program made and keeps (a desktop or a database often has some) is that
program's, so it is named in the verdict but never fails the check, and nstutor never suggests
removing it.
"""
from __future__ import annotations

from typing import Any

from ...observe.model import ShmSegment, Snapshot
from ...i18n import _, ngettext
from ..base import Field, Verdict, v_bool, v_int, v_int_range
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..registry import register
from ..select import name


def show(seg: ShmSegment) -> str:
    return _("shmid {shmid}, key {key:#010x}, {size} bytes").format(shmid=seg.shmid, key=seg.key, size=seg.size)


def left_behind(snap: Snapshot, seg: ShmSegment) -> bool:
    """Made by a program that is gone (or by ipcmk): a learner's stray segment, not a live program's."""
    creator = snap.processes.get(seg.cpid)
    return creator is None or creator.comm == "ipcmk"


@register
class ShmIn(ProcessExpectation):
    kind = "shm"
    fields = {
        **SUBJECT_FIELDS,
        "size": Field(v_int_range(1, example=4096, what=" (bytes: shmget refuses 0)"), doc="the segment's size in bytes"),
        "key": Field(v_int, doc="the segment's key"),
        "absent_from_host": Field(v_bool, default=False, doc="invisible in the host's ipc namespace"),
    }

    def describe(self) -> str:
        if self.size is not None and self.key is not None:
            what = _("a SysV shared memory segment of {size} bytes with key {key:#x}")
        elif self.size is not None:
            what = _("a SysV shared memory segment of {size} bytes")
        elif self.key is not None:
            what = _("a SysV shared memory segment with key {key:#x}")
        else:
            what = _("a SysV shared memory segment")
        what = what.format(size=self.size, key=self.key)
        if self.absent_from_host:
            text = _("{segment} in the ipc namespace of {process}, invisible in the host's")
        else:
            text = _("{segment} in the ipc namespace of {process}")
        return text.format(segment=what, process=self.subject_words)

    def _matches(self, seg: ShmSegment) -> bool:
        return (self.size is None or seg.size == self.size) and (self.key is None or seg.key == self.key)

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "ipc")
        if isinstance(found, Verdict):
            return found
        proc, ipc = found
        host_ipc = snap.host_ns.get("ipc")
        shares_host = ipc == host_ipc
        where = (_("the host's ipc namespace ({ipc})") if shares_host else _("its own ipc namespace ({ipc})")
                 ).format(ipc=ipc)
        size_opt = self.size if self.size is not None else 4096
        make = f"nsenter --target {proc.pid} --ipc ipcmk -M {size_opt}"
        segments = snap.shm.get(ipc)
        if segments is None:
            return self.fail(_("{process} is in {where}; its segments could not be read").format(
                                 process=name(proc, snap), where=where),
                             (_("nstutor could not read the shared memory segments of ipc namespace {ipc}.")
                              if snap.is_root else
                              _("nstutor could not read the shared memory segments of ipc namespace {ipc}; "
                                "run nstutor as root.")).format(ipc=ipc))
        listed = "; ".join(show(s) for s in segments) or _("no segments")
        observed = _("{process} is in {where}: {segments}").format(process=name(proc, snap), where=where,
                                                                   segments=listed)
        if self.absent_from_host and shares_host:
            return self.fail(observed,
                             _("{process} shares the host's ipc namespace, so its segments are the host's. "
                               "Start it in its own (kill {pid}; {unshare}), then make "
                               "the segment inside: {command}")
                             .format(process=name(proc, snap), pid=proc.pid, unshare=f"unshare --ipc {proc.command}",
                                     command=f"nsenter --target <its pid> --ipc ipcmk -M {size_opt}"))
        found = [s for s in segments if self._matches(s)]
        if not found:
            if not segments:
                msg = _("The ipc namespace of {process} has no shared memory segment. Make one inside it: "
                        "{command}").format(process=name(proc, snap), command=make)
            else:
                msg = ngettext("The ipc namespace of {process} has {n} segment, but none of {wanted}. "
                               "Make one: {command}",
                               "The ipc namespace of {process} has {n} segments, but none of {wanted}. "
                               "Make one: {command}", len(segments)).format(
                                   process=name(proc, snap), n=len(segments), wanted=self._wanted(), command=make)
            wanted = self.size is not None or self.key is not None
            strays = self._host_strays(snap) if wanted and not shares_host else []
            if strays:
                msg = _("{message}. The host's ipc namespace has one ({segment}): ipcmk ran outside the "
                        "namespace, where the process cannot see it. Remove that one: {command}").format(
                            message=msg, segment=show(strays[0]), command=f"ipcrm -m {strays[0].shmid}")
            return self.fail(observed, msg)
        seg = found[0]
        evidence: dict[str, Any] = {"pid": proc.pid, "ipc": ipc, "shmid": seg.shmid, "key": seg.key,
                                    "size": seg.size}
        if self.absent_from_host and (self.size is not None or self.key is not None):
            host_segments = snap.shm.get(host_ipc) if host_ipc is not None else None
            if host_segments is None:
                return self.fail(_("{observed}; the host's segments could not be read").format(observed=observed),
                                 _("nstutor could not read the host's shared memory segments to compare with."))
            twins = [s for s in host_segments if self._matches(s)]
            strays = [s for s in twins if left_behind(snap, s)]
            if strays:
                return self.fail(_("{observed}; the host's ipc namespace has {segment} too").format(
                                     observed=observed, segment=show(strays[0])),
                                 _("The host's ipc namespace has a segment of {wanted} as well, made by "
                                   "a program that has exited (ipcmk typed without nsenter leaves exactly "
                                   "this). The host can see that one; the namespace's own segment it cannot. "
                                   "Remove the host's: {command}").format(wanted=self._wanted(),
                                                                        command=f"ipcrm -m {strays[0].shmid}"))
            evidence["host_ipc"] = host_ipc
            if twins:
                users = ", ".join(_("shmid {shmid} of pid {pid}").format(shmid=s.shmid, pid=s.cpid) for s in twins[:3])
                observed = ngettext("{observed}; the host has {n} segment of that size kept by running programs "
                                    "({users}), not made for this lesson",
                                    "{observed}; the host has {n} segments of that size kept by running programs "
                                    "({users}), not made for this lesson", len(twins)).format(
                                        observed=observed, n=len(twins), users=users)
            else:
                observed = _("{observed}; the host's ipc namespace has none like it").format(observed=observed)
        return self.ok(observed, evidence)

    def _host_strays(self, snap: Snapshot) -> list[ShmSegment]:
        host_ipc = snap.host_ns.get("ipc")
        host_segments = snap.shm.get(host_ipc, ()) if host_ipc is not None else ()
        return [s for s in host_segments if self._matches(s) and left_behind(snap, s)]

    def _wanted(self) -> str:
        if self.size is not None and self.key is not None:
            text = _("{size} bytes with key {key:#x}")
        elif self.size is not None:
            text = _("{size} bytes")
        elif self.key is not None:
            text = _("key {key:#x}")
        else:
            return ""
        return text.format(size=self.size, key=self.key)
