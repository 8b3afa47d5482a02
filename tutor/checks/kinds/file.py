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

from ...i18n import _, current
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
        raise NotObserved(_("the file {path}").format(path=path))
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
    return _("{path} is on the mount at {target} ({fstype} from {source})").format(
        path=path, target=clean_path(best.target), fstype=best.fstype, source=best.source)


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
        text = _("{path} exists in the mount namespace of {subject}").format(path=self.path,
                                                                            subject=self.subject_words)
        if self.contains:
            text += _(" and contains {pattern}").format(pattern=repr(self.contains))
        if self.absent_in is not None:
            text += _(", but not in the one of {process}").format(process=describe_selector(self.absent_in))
        if self.absent_from_host:
            text += _(", nor in the host's")
        return text

    def wants(self, snap: Snapshot) -> Wants:
        path = clean_path(self.path)
        procs = [pick(snap, self.subject).proc]
        if self.absent_in is not None:
            procs.append(pick(snap, self.absent_in, _("the process that must not see it")).proc)
        files = {(p.pid, path) for p in procs if p is not None}
        if snap.host_ns.get("mnt") is not None:     # a file made in the host by mistake is named
            files.add((None, path))
        return Wants(files=frozenset(files))

    def grade(self, snap: Snapshot) -> Verdict:
        try:
            verdict = self._grade(snap)
        except Gone:
            verdict = self.fail(_("the process exited while nstutor was looking"),
                                _("The process the snapshot saw has exited; start it again and check once more."))
        stray = self._host_stray(snap) if self.absent_from_host else None
        if stray is None:
            return verdict
        path = clean_path(self.path)
        removal = removal_words((stray,))
        told = _("A {path} also exists in the host's mount namespace: it was made by a command run without "
                 "--mount (nsenter --target PID --mount ...), so it landed in the host's {directory}, "
                 "and the step says not there. {removal}.").format(path=path, directory=posix_dir(path),
                                                                  removal=sentence(removal))
        if verdict.passed:
            return self.fail(verdict.observed + _("; the host's mount namespace has a {path} too").format(path=path),
                             told, strays=(stray,))
        # the host's file may be why the learner thinks it is done: say so after the main reason
        return self.fail(verdict.observed, f"{verdict.message} {told}", strays=(stray,))

    def _host_stray(self, snap: Snapshot) -> Stray | None:
        """The path as a regular file in the host's mount namespace, as a stray to remove (else None)."""
        if snap.host_ns.get("mnt") is None:
            return None
        path = clean_path(self.path)
        try:
            state, _detail = look(snap, None, path)
        except Gone:                     # no process of the host's mount namespace could be looked through
            return None
        if state == "file":
            return Stray(_("the file {path} in the host's mount namespace (made without --mount)").format(
                path=show(path)), ("rm", path))
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
        host = _(" (the host's)") if mnt is not None and mnt == snap.host_ns.get("mnt") else ""
        state, value = look(snap, proc, path)
        observed = _("{path} in the mount namespace {mnt}{host} of {process}: ").format(
            path=path, mnt=mnt, host=host, process=name(proc, snap))
        enter = f"nsenter --target {proc.pid} --mount"
        if state == "error":
            return self.fail(observed + _("unreadable ({error})").format(error=value),
                             (_("nstutor could not read {file}: {error}.") if snap.is_root
                              else _("nstutor could not read {file}: {error}; run nstutor as root.")).format(
                                 file=f"/proc/{proc.pid}/root{path}", error=value))
        if state == "other":
            what = other_words(str(value))
            return self.fail(observed + what, _("{path} there is {what}, not a file.").format(path=path, what=what))
        if state == "missing":
            message = _("There is no {path} in the mount namespace of {process}.").format(
                path=path, process=name(proc, snap))
            if self.contains is None:
                message += _(" Create it from inside: {command}").format(
                    command=f"{enter} sh -c 'echo hello > {path}'")
                inside = exec_command(snap, proc, f"echo hello > {path}")
                message += _(" (or with its engine: {command}).").format(command=inside) if inside else "."
            else:
                message += _(" The program writes it when it runs; look at how the lesson starts it.")
            if host == "" and not self.absent_from_host and snap.host_ns.get("mnt") is not None \
                    and self._in_host(snap, path):   # (absent_from_host says it with the rm)
                message += _(" A {path} exists in the host's mount namespace: it was made outside the "
                             "container (a command run without {enter}).").format(path=path, enter=enter)
            return self.fail(observed + _("missing"), message)
        text = str(value)
        if self.contains is not None and not re.search(self.contains, text):
            last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "")
            shown = (_("; its last line: {line}").format(line=repr(last[:120])) if last
                     else _("; it is empty"))
            return self.fail(observed + _("present, without {pattern}{shown}").format(
                                 pattern=repr(self.contains), shown=shown),
                             _("{path} is there but does not contain {pattern}{shown}. "
                               "Read it yourself: {command}").format(path=path, pattern=repr(self.contains),
                                                                     shown=shown, command=f"{enter} cat {path}"))
        evidence: dict[str, Any] = {"pid": proc.pid, "mnt": mnt, "path": path, "bytes": len(text.encode())}
        observed += _("present") + (_(", contains {pattern}").format(pattern=repr(self.contains))
                                    if self.contains else "")
        if self.absent_in is None:
            return self.ok(observed, evidence)

        other_pick = pick(snap, self.absent_in, _("the process that must not see it"))
        if other_pick.proc is None:
            return self.fail(f"{observed}; {other_pick.observed}", other_pick.message)
        other = other_pick.proc
        other_mnt = other.ns.get("mnt")
        if other_mnt is not None and other_mnt == mnt:
            return self.fail(f"{observed}; " + _("{process} is in the same mount namespace ({mnt})").format(
                                 process=name(other, snap), mnt=mnt),
                             _("{process} and {other} share one mount namespace, so they see the same "
                               "files. Each container needs its own: start them with unshare --mount.").format(
                                 process=name(proc, snap), other=name(other, snap)))
        other_state, _detail = look(snap, other, path)
        observed += _("; in the mount namespace {mnt} of {process}: {state}").format(
            mnt=other_mnt, process=name(other, snap),
            state=_("absent") if other_state == "missing" else _("present"))
        if other_state != "missing":
            note = _tmp_note(snap, other, path)
            return self.fail(observed,
                             _("{process} sees {path} too, although it has its own mount namespace: a new "
                               "mount namespace starts as a copy of the old one, so both still use the same "
                               "filesystem there{note}. A container gets a private directory by mounting its "
                               "own filesystem on it, e.g. {command} inside each container.").format(
                                 process=name(other, snap), path=path, note=f" ({note})" if note else "",
                                 command=f"mount -t tmpfs NAME {posix_dir(path)}"))
        evidence["absent_in"] = {"pid": other.pid, "mnt": other_mnt}
        return self.ok(observed, evidence)


def sentence(text: str) -> str:
    """*text* starting a sentence: English gets its capital; Korean has none to add (and a Korean
    phrase may start with a name, which must stay as it is)."""
    return text[:1].upper() + text[1:] if current() == "en" else text


def other_words(what: str) -> str:
    """What observe found instead of a file (observe/inside.py says it in English), in words."""
    if what == "a directory":
        return _("a directory")
    if what == "a symbolic link":
        return _("a symbolic link")
    if what == "not a regular file":
        return _("not a regular file")
    return what


def posix_dir(path: str) -> str:
    return posixpath.dirname(path) or "/"
