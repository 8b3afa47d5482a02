"""Trust: which packs may run shell. A pack's check blocks are data and always run; its shell
(setup, a cleanup script, the solutions verify-lesson runs) runs only once the learner has trusted
that pack's exact content (`nstutor trust PACK`). Lessons shipped with nstutor are trusted.

A trust is recorded for a pack's content digest (packs.content_digest: every file's sha256), with
the digest of each file, so a pack that changed since is untrusted again and the refusal says
which files changed. The record is decided at the moment shell would run, from the file on disk,
not from what a long-running app read at its start.

The record lives with the user whose privileges the shell runs with, the *effective* user:
``$NSTUTOR_TRUST_DIR`` or ``$XDG_CONFIG_HOME/nstutor`` (only if that user owns it) or
``~/.config/nstutor`` of the effective user, in ``trusted-packs.json``. Under sudo that is root's,
never the learner's home: a file the learner's account can write must not decide what runs as
root. A record in a directory or file that someone else owns or can write is ignored (nothing is
trusted) and said so.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..i18n import _
from .model import Lesson
from .owned import NotOwned, own_directory, owned_by_me, read_owned
from .packs import Digest, Pack, PackRef, changed_files, content_digest

ENV_TRUST_DIR = "NSTUTOR_TRUST_DIR"
FILE_NAME = "trusted-packs.json"
FORMAT = "nstutor-trusted-packs"
MAX_BYTES = 5_000_000

TRUSTED, UNTRUSTED, CHANGED, UNHASHABLE = "trusted", "untrusted", "changed", "unhashable"


def trust_dir() -> Path | None:
    return own_directory(ENV_TRUST_DIR, "XDG_CONFIG_HOME", ".config")


@dataclass(frozen=True)
class Record:
    digest: str
    files: dict[str, str]
    version: str
    source: str
    trusted_at: float


@dataclass(frozen=True)
class TrustState:
    state: str                              # TRUSTED, UNTRUSTED, CHANGED or UNHASHABLE
    changes: tuple[tuple[str, str], ...] = ()   # for CHANGED: (path, "changed" | "added" | "removed")
    record: Record | None = None
    problem: str = ""                       # why the content cannot be hashed, or the record read

    @property
    def trusted(self) -> bool:
        return self.state == TRUSTED

    def words(self) -> str:
        """'trusted', 'not trusted', 'changed since trusted (02-dnat.md changed)'."""
        if self.state == TRUSTED:
            return _("trusted")
        if self.state == CHANGED:
            return _("changed since you trusted it ({changes})").format(changes=describe_changes(self.changes))
        return _("not trusted")


def describe_changes(changes: tuple[tuple[str, str], ...] | list[tuple[str, str]], most: int = 4) -> str:
    words = {"changed": _("{path} changed"), "added": _("{path} added"), "removed": _("{path} removed")}
    said = [words[how].format(path=path) for path, how in changes[:most]]
    if len(changes) > most:
        said.append(_("{count} more").format(count=len(changes) - most))
    return ", ".join(said) or _("its files changed")


class TrustStore:
    """The trust records of the effective user (see the module docstring)."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory if directory is not None else trust_dir()
        self.records: dict[str, Record] = {}
        self.problem = ""                   # why the records were ignored ("" when read, or none yet)
        if self.directory is not None:
            self._read()

    @property
    def path(self) -> Path | None:
        return self.directory / FILE_NAME if self.directory is not None else None

    def state_of(self, name: str, digest: Digest) -> TrustState:
        record = self.records.get(name)
        if digest.problem:
            return TrustState(UNHASHABLE, record=record, problem=digest.problem)
        if record is None:
            return TrustState(UNTRUSTED, problem=self.problem)
        if record.digest == digest.value:
            return TrustState(TRUSTED, record=record)
        return TrustState(CHANGED, tuple(changed_files(record.files, digest.files)), record)

    def trust(self, pack: Pack, digest: Digest) -> None:
        self.records[pack.name] = Record(digest.value, dict(digest.files), pack.version, pack.source, time.time())
        self._write()

    def untrust(self, name: str) -> bool:
        if name not in self.records:
            return False
        del self.records[name]
        self._write()
        return True

    # ---------------------------------------------------------- the file
    def _read(self) -> None:
        path = self.path
        if not os.path.lexists(path):
            return
        try:
            data = read_owned(path, MAX_BYTES)
        except NotOwned as where:
            self.problem = (_("{path} is ignored: its directory is not yours alone (another user owns it or "
                              "can write to it), so no pack is trusted") if where.args[0] != path else
                            _("{path} is ignored: it is not a file of yours alone (another user owns it or "
                              "can write to it), so no pack is trusted")).format(path=path)
            return
        except OSError as err:
            self.problem = _("{path} cannot be read ({error}), so no pack is trusted").format(
                path=path, error=err.strerror or err)
            return
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError("not a trust file")
            self.records = {str(name): Record(str(r["digest"]), {str(k): str(v) for k, v in r["files"].items()},
                                              str(r.get("version", "")), str(r.get("source", "")),
                                              float(r.get("trusted_at", 0)))
                            for name, r in doc["packs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            self.records = {}
            self.problem = _("{path} is not a trust file nstutor can read, so no pack is trusted (trusting a "
                             "pack again writes a new one)").format(path=path)

    def _write(self) -> None:
        if self.directory is None:
            raise PermissionError(_("this user has no home directory to keep trust records in"))
        doc = {"format": FORMAT, "version": 1,
               "packs": {name: {"digest": r.digest, "files": r.files, "version": r.version, "source": r.source,
                                "trusted_at": r.trusted_at} for name, r in sorted(self.records.items())}}
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not owned_by_me(self.directory):
            raise PermissionError(_("{directory} is not yours alone (another user owns it or can write to it): "
                                    "nstutor will not keep trust records there").format(directory=self.directory))
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".trusted-packs-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(doc, out, indent=1, sort_keys=True)
                out.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.problem = ""


# --------------------------------------------------------------- the one question shell asks
def pack_state(pack: PackRef | Pack, store: TrustStore | None = None) -> TrustState:
    """Is this pack, as it is on disk now, trusted?"""
    store = store if store is not None else TrustStore()
    return store.state_of(pack.name, content_digest(pack.directory))


def shell_refusal(lesson: Lesson, what: str) -> str | None:
    """None when *lesson*'s shell may run now; else the sentence that says it was refused and how
    to trust the pack. *what* names the shell refused ("its setup", "its solutions")."""
    if lesson.trusted:                      # shipped with nstutor
        return None
    pack = lesson.pack
    if pack is None:
        return _("not run: {what}. This lesson file is neither shipped with nstutor nor part of a pack, so "
                 "nstutor does not run its shell").format(what=what)
    state = pack_state(pack)
    if state.trusted and state.record is not None and state.record.digest == pack.content_hash:
        return None
    command = f"nstutor trust {pack.name}"
    if state.trusted:       # trusted as it is now, but the lesson in use was read from other content
        return _("not run: {what}. Pack '{pack}' changed since this lesson was loaded: open it again").format(
            what=what, pack=pack.name)
    if state.state == CHANGED:
        return _("not run: {what}. Pack '{pack}' changed since you trusted it ({changes}); {command} shows "
                 "what it would run now and asks again").format(
                     what=what, pack=pack.name, changes=describe_changes(state.changes), command=command)
    if state.state == UNHASHABLE:
        return _("not run: {what}. Pack '{pack}' cannot be checked ({problem})").format(
            what=what, pack=pack.name, problem=state.problem)
    return _("not run: {what}. Pack '{pack}' is not trusted to run shell commands; {command} shows what it "
             "would run and asks").format(what=what, pack=pack.name, command=command)


@dataclass(frozen=True)
class ShellItem:
    """One piece of shell a pack would run: where it comes from, and its text."""
    lesson: str
    what: str
    text: str


def shell_of(lessons: list[Lesson]) -> list[ShellItem]:
    """Every piece of shell these lessons hold, in the order a learner meets them."""
    items = []
    for lesson in lessons:
        if lesson.setup.strip():
            items.append(ShellItem(lesson.id, _("setup (nstutor setup, the app's b)"), lesson.setup))
        script = lesson.cleanup.get("script") if isinstance(lesson.cleanup, dict) else None
        if isinstance(script, str) and script.strip():
            items.append(ShellItem(lesson.id, _("cleanup script (nstutor reset, the app's r, verify-lesson)"),
                                   script))
        for step in lesson.steps:
            if step.solution.strip():
                items.append(ShellItem(lesson.id, _("solution of step '{step}' (verify-lesson)").format(
                    step=step.id), step.solution))
    return items
