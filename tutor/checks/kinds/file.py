"""file: a file as a process sees it, in that process's mount namespace (and not in another's).

    - file: {cmdline: '^app-a ', path: /tmp/from-app-a, absent_in: ' app-b$'}
    - file: {cmdline: ' app-b$', path: /tmp/app-b.log, contains: 'Address already in use'}

path       absolute path inside the process's mount namespace (read through /proc/PID/root)
contains   optional regular expression the file's text must contain (its first 64 KiB)
absent_in  optional process selector: the same path must NOT exist in that process's mount namespace
absent_from_host  the path must not exist in the host's mount namespace either: a file there was made
           by a command run without `nsenter --mount`, and is named as the learner's stray (rm PATH)

File contents are not part of the standing snapshot: wants() asks for the path in each process
the check names (and in the host's mount namespace), observe reads them into `snap.files`
(observe/inside.py: regular files only, read-only and non-blocking, through /proc/PID/root, after
making sure the pid still belongs to the process the snapshot saw), and grade() reads only that.
"""
from __future__ import annotations

import posixpath
import re
from typing import Any

from ...observe.model import FileFact, Process, Snapshot, Wants
from ..base import Field, NotObserved, Stray, Verdict, clean_path, v_abspath, v_bool, v_selector
from ..containers import exec_command
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick, v_regex
from ..registry import register
from ..select import describe_selector, name
from ..strays import removal_words, show


class Gone(Exception):
    """The process exited (or its pid was reused) before observe looked at the file."""


def look(snap: Snapshot, proc: Process | None, path: str) -> tuple[str, str | None]:
    """('file', text) / ('missing', None) / ('other', what it is) / ('error', why): *path* inside
    *proc*'s root (None: the host's mount namespace), as the snapshot's `files` part has it."""
    fact: FileFact | None = snap.files.get((proc.pid if proc is not None else None, path))
    if fact is None:
        raise NotObserved(f"the file {path}")
    if fact.state == "gone":
        raise Gone()
    return fact.state, fact.detail


def _tmp_note(snap: Snapshot, proc: Process, path: str) -> str:
    """Which mount the path's directory is on, in that process's mount table (why a file is shared)."""
    table = snap.mounts.get(proc.ns.get("mnt", -1), ())
    best = None
    for m in table:
        target = clean_path(m.target)
        if path == target or path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) >= len(clean_path(best.target)):
                best = m
    if best is None:
        return ""
    return f"{path} is on the mount at {clean_path(best.target)} ({best.fstype} from {best.source})"


@register
class FileIn(ProcessExpectation):
    kind = "file"
    fields = {
        **SUBJECT_FIELDS,
        "path": Field(v_abspath, required=True, doc="the path inside the process's mount namespace"),
        "contains": Field(v_regex, doc="a regular expression the file's text must contain"),
        "absent_in": Field(v_selector, doc="a process in whose mount namespace the path must not exist"),
        "absent_from_host": Field(v_bool, default=False, doc="the path must not exist in the host's mount namespace"),
    }

    def describe(self) -> str:
        text = f"{self.path} exists in the mount namespace of {self.subject_words}"
        if self.contains:
            text += f" and contains {self.contains!r}"
        if self.absent_in is not None:
            text += f", but not in the one of {describe_selector(self.absent_in)}"
        if self.absent_from_host:
            text += ", nor in the host's"
        return text

    def wants(self, snap: Snapshot) -> Wants:
        path = clean_path(self.path)
        procs = [pick(snap, self.subject).proc]
        if self.absent_in is not None:
            procs.append(pick(snap, self.absent_in, "the process that must not see it").proc)
        files = {(p.pid, path) for p in procs if p is not None}
        if snap.host_ns.get("mnt") is not None:     # a file made in the host by mistake is named
            files.add((None, path))
        return Wants(files=frozenset(files))

    def grade(self, snap: Snapshot) -> Verdict:
        try:
            verdict = self._grade(snap)
        except Gone:
            verdict = self.fail("the process exited while nstutor was looking",
                                "The process the snapshot saw has exited; start it again and check once more.")
        stray = self._host_stray(snap) if self.absent_from_host else None
        if stray is None:
            return verdict
        path = clean_path(self.path)
        told = (f"A {path} also exists in the host's mount namespace: it was made by a command run without "
                f"--mount (nsenter --target PID --mount ...), so it landed in the host's {posix_dir(path)}, "
                f"and the step says not there. R{removal_words((stray,))[1:]}.")
        if verdict.passed:
            return self.fail(verdict.observed + f"; the host's mount namespace has a {path} too", told,
                             strays=(stray,))
        # the host's file may be why the learner thinks it is done: say so after the main reason
        return self.fail(verdict.observed, f"{verdict.message} {told}", strays=(stray,))

    def _host_stray(self, snap: Snapshot) -> Stray | None:
        """The path as a regular file in the host's mount namespace, as a stray to remove (else None)."""
        if snap.host_ns.get("mnt") is None:
            return None
        path = clean_path(self.path)
        try:
            state, _ = look(snap, None, path)
        except Gone:                     # no process of the host's mount namespace could be looked through
            return None
        if state == "file":
            return Stray(f"the file {show(path)} in the host's mount namespace (made without --mount)",
                         ("rm", path))
        return None

    def _in_host(self, snap: Snapshot, path: str) -> bool:
        """Does *path* exist in the host's mount namespace (as a file or anything else)?"""
        try:
            return look(snap, None, path)[0] in ("file", "other")
        except Gone:
            return False

    def _grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        path = clean_path(self.path)
        mnt = proc.ns.get("mnt")
        host = " (the host's)" if mnt is not None and mnt == snap.host_ns.get("mnt") else ""
        state, value = look(snap, proc, path)
        observed = f"{path} in the mount namespace {mnt}{host} of {name(proc, snap)}: "
        enter = f"nsenter --target {proc.pid} --mount"
        if state == "error":
            return self.fail(observed + f"unreadable ({value})",
                             f"nstutor could not read /proc/{proc.pid}/root{path}: {value}"
                             + ("" if snap.is_root else "; run nstutor as root") + ".")
        if state == "other":
            return self.fail(observed + str(value), f"{path} there is {value}, not a file.")
        if state == "missing":
            message = f"There is no {path} in the mount namespace of {name(proc, snap)}."
            if self.contains is None:
                message += f" Create it from inside: {enter} sh -c 'echo hello > {path}'"
                inside = exec_command(snap, proc, f"echo hello > {path}")
                message += f" (or with its engine: {inside})." if inside else "."
            else:
                message += " The program writes it when it runs; look at how the lesson starts it."
            if host == "" and not self.absent_from_host and snap.host_ns.get("mnt") is not None \
                    and self._in_host(snap, path):   # (absent_from_host says it with the rm)
                message += (f" A {path} exists in the host's mount namespace: it was made outside the "
                            f"container (a command run without {enter}).")
            return self.fail(observed + "missing", message)
        text = str(value)
        if self.contains is not None and not re.search(self.contains, text):
            last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "")
            shown = f"; its last line: {last[:120]!r}" if last else "; it is empty"
            return self.fail(observed + f"present, without {self.contains!r}{shown}",
                             f"{path} is there but does not contain {self.contains!r}{shown}. "
                             f"Read it yourself: {enter} cat {path}")
        evidence: dict[str, Any] = {"pid": proc.pid, "mnt": mnt, "path": path, "bytes": len(text.encode())}
        observed += "present" + (f", contains {self.contains!r}" if self.contains else "")
        if self.absent_in is None:
            return self.ok(observed, evidence)

        other_pick = pick(snap, self.absent_in, "the process that must not see it")
        if other_pick.proc is None:
            return self.fail(f"{observed}; {other_pick.observed}", other_pick.message)
        other = other_pick.proc
        other_mnt = other.ns.get("mnt")
        if other_mnt is not None and other_mnt == mnt:
            return self.fail(f"{observed}; {name(other, snap)} is in the same mount namespace ({mnt})",
                             f"{name(proc, snap)} and {name(other, snap)} share one mount namespace, so they see the same "
                             f"files. Each container needs its own: start them with unshare --mount.")
        other_state, _ = look(snap, other, path)
        observed += f"; in the mount namespace {other_mnt} of {name(other, snap)}: " + (
            "absent" if other_state == "missing" else "present")
        if other_state != "missing":
            note = _tmp_note(snap, other, path)
            return self.fail(observed,
                             f"{name(other, snap)} sees {path} too, although it has its own mount namespace: a new "
                             f"mount namespace starts as a copy of the old one, so both still use the same "
                             f"filesystem there" + (f" ({note})" if note else "") + ". A container gets a "
                             f"private directory by mounting its own filesystem on it, e.g. "
                             f"mount -t tmpfs NAME {posix_dir(path)} inside each container.")
        evidence["absent_in"] = {"pid": other.pid, "mnt": other_mnt}
        return self.ok(observed, evidence)


def posix_dir(path: str) -> str:
    return posixpath.dirname(path) or "/"
