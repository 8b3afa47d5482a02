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
from ...texts import counted, noun
from ..base import Field, Verdict, v_bool, v_int
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..registry import register
from ..select import name


def show(seg: ShmSegment) -> str:
    return f"shmid {seg.shmid}, key {seg.key:#010x}, {seg.size} bytes"


def left_behind(snap: Snapshot, seg: ShmSegment) -> bool:
    """Made by a program that is gone (or by ipcmk): a learner's stray segment, not a live program's."""
    creator = snap.processes.get(seg.cpid)
    return creator is None or creator.comm == "ipcmk"


@register
class ShmIn(ProcessExpectation):
    kind = "shm"
    fields = {
        **SUBJECT_FIELDS,
        "size": Field(v_int, doc="the segment's size in bytes"),
        "key": Field(v_int, doc="the segment's key"),
        "absent_from_host": Field(v_bool, default=False, doc="invisible in the host's ipc namespace"),
    }

    def describe(self) -> str:
        what = "a SysV shared memory segment" + (f" of {self.size} bytes" if self.size is not None else "")
        what += f" with key {self.key:#x}" if self.key is not None else ""
        text = f"{what} in the ipc namespace of {self.subject_words}"
        return text + (", invisible in the host's" if self.absent_from_host else "")

    def _matches(self, seg: ShmSegment) -> bool:
        return (self.size is None or seg.size == self.size) and (self.key is None or seg.key == self.key)

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "ipc")
        if isinstance(found, Verdict):
            return found
        proc, ipc = found
        host_ipc = snap.host_ns.get("ipc")
        shares_host = ipc == host_ipc
        where = f"the host's ipc namespace ({ipc})" if shares_host else f"its own ipc namespace ({ipc})"
        size_opt = self.size if self.size is not None else 4096
        make = f"nsenter --target {proc.pid} --ipc ipcmk -M {size_opt}"
        segments = snap.shm.get(ipc)
        if segments is None:
            return self.fail(f"{name(proc, snap)} is in {where}; its segments could not be read",
                             f"nstutor could not read the shared memory segments of ipc namespace {ipc}"
                             + ("." if snap.is_root else "; run nstutor as root."))
        listed = "; ".join(show(s) for s in segments) or "no segments"
        observed = f"{name(proc, snap)} is in {where}: {listed}"
        if self.absent_from_host and shares_host:
            return self.fail(observed,
                             f"{name(proc, snap)} shares the host's ipc namespace, so its segments are the host's. "
                             f"Start it in its own (kill {proc.pid}; unshare --ipc {proc.command}), then make "
                             f"the segment inside: nsenter --target <its pid> --ipc ipcmk -M {size_opt}")
        found = [s for s in segments if self._matches(s)]
        if not found:
            if not segments:
                msg = f"The ipc namespace of {name(proc, snap)} has no shared memory segment. Make one inside it: {make}"
            else:
                msg = (f"The ipc namespace of {name(proc, snap)} has {len(segments)} "
                       f"{noun(len(segments), 'segment')}, but none of {self._wanted()}. Make one: {make}")
            wanted = self.size is not None or self.key is not None
            strays = self._host_strays(snap) if wanted and not shares_host else []
            if strays:
                msg += (f". The host's ipc namespace has one ({show(strays[0])}): ipcmk ran outside the "
                        f"namespace, where the process cannot see it. Remove that one: ipcrm -m {strays[0].shmid}")
            return self.fail(observed, msg)
        seg = found[0]
        evidence: dict[str, Any] = {"pid": proc.pid, "ipc": ipc, "shmid": seg.shmid, "key": seg.key,
                                    "size": seg.size}
        if self.absent_from_host and (self.size is not None or self.key is not None):
            host_segments = snap.shm.get(host_ipc) if host_ipc is not None else None
            if host_segments is None:
                return self.fail(observed + "; the host's segments could not be read",
                                 "nstutor could not read the host's shared memory segments to compare with.")
            twins = [s for s in host_segments if self._matches(s)]
            strays = [s for s in twins if left_behind(snap, s)]
            if strays:
                return self.fail(observed + f"; the host's ipc namespace has {show(strays[0])} too",
                                 f"The host's ipc namespace has a segment of {self._wanted()} as well, made by "
                                 f"a program that has exited (ipcmk typed without nsenter leaves exactly "
                                 f"this). The host can see that one; the namespace's own segment it cannot. "
                                 f"Remove the host's: ipcrm -m {strays[0].shmid}")
            evidence["host_ipc"] = host_ipc
            if twins:
                users = ", ".join(f"shmid {s.shmid} of pid {s.cpid}" for s in twins[:3])
                observed += (f"; the host has {counted(len(twins), 'segment')} of that size kept by "
                             f"running programs ({users}), not made for this lesson")
            else:
                observed += "; the host's ipc namespace has none like it"
        return self.ok(observed, evidence)

    def _host_strays(self, snap: Snapshot) -> list[ShmSegment]:
        host_ipc = snap.host_ns.get("ipc")
        host_segments = snap.shm.get(host_ipc, ()) if host_ipc is not None else ()
        return [s for s in host_segments if self._matches(s) and left_behind(snap, s)]

    def _wanted(self) -> str:
        parts = []
        if self.size is not None:
            parts.append(f"{self.size} bytes")
        if self.key is not None:
            parts.append(f"key {self.key:#x}")
        return " with ".join(parts)
