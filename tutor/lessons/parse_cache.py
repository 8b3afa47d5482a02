"""A cache of parsed lessons, so `nstutor list`, `check` and the app do not parse every lesson
file again on every start (parsing the catalog costs 60-110 ms; reading it back, a few).

An entry is keyed by the file's path, whether it is trusted, the sha256 of its bytes and a
fingerprint of the parser's own code (the name, size and mtime of every module of tutor/lessons and
tutor/checks): a changed lesson or a changed nstutor is parsed again, never served stale. `lint`
does not use the cache: it always reads afresh.

The cache is a pickle, which runs code when it is read, so it is only ever read from a file that
the effective user owns and nobody else can write, in a directory of that user's own:
``$NSTUTOR_CACHE_DIR`` or ``$XDG_CACHE_HOME/nstutor`` or ``~/.cache/nstutor`` of the *effective*
user (under sudo: root's, never the learner's home, which the learner can write). Anything else,
and a file that is corrupt, truncated, too large or of another nstutor, is ignored (and replaced
on the next write). Failing to write it is silent too: the cache only ever saves time.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .owned import NotOwned, own_directory, owned_by_me, read_owned

ENV_CACHE_DIR = "NSTUTOR_CACHE_DIR"     # a directory, or "off" to disable the cache
STALE_DAYS = 7                          # another nstutor's cache file, unused this long, is removed
MAX_BYTES = 32_000_000                  # the shipped catalog in two languages is ~1 MB
FORMAT = 1                              # bump when the layout below changes
_CODE_DIRS = ("lessons", "checks")      # the modules whose code decides what a parse gives

Entry = tuple[str, Any, list]           # (sha256 of the file, lesson or None, problems)


def cache_dir() -> Path | None:
    """Where the cache lives for the effective user, or None when it is turned off."""
    if os.environ.get(ENV_CACHE_DIR) == "off":
        return None
    return own_directory(ENV_CACHE_DIR, "XDG_CACHE_HOME", ".cache")


def code_fingerprint() -> str:
    """The parser's code, as name, size and mtime of its modules (a stat each, ~0.3 ms)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{FORMAT} {sys.version} {pickle.HIGHEST_PROTOCOL}".encode())
    for sub in _CODE_DIRS:
        for root, dirs, files in os.walk(package / sub):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(root, name))
                    digest.update(f"{root}/{name} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_file_name(fingerprint: str) -> str:
    """One file per nstutor code: two installs (a checkout and a pip install, say) do not take
    turns throwing each other's cache away."""
    return f"lessons-{fingerprint[:16]}.pickle"


class ParseCache:
    """The entries of one catalog load: get() and put() by path, save() once at the end."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory if directory is not None else cache_dir()
        self.fingerprint = code_fingerprint()
        self.file_name = cache_file_name(self.fingerprint)
        self.entries: dict[tuple[str, bool], Entry] = {}
        self.changed = False
        if self.directory is not None:
            self.entries = self._read()

    def get(self, path: Path, digest: str, trusted: bool) -> tuple[Any, list] | None:
        """(lesson, problems) parsed earlier from the bytes whose sha256 is *digest*, or None."""
        entry = self.entries.get((str(path), trusted))
        if entry is None or entry[0] != digest:
            return None
        return entry[1], list(entry[2])

    def put(self, path: Path, digest: str, trusted: bool, lesson: Any, problems: list) -> None:
        self.entries[(str(path), trusted)] = (digest, lesson, list(problems))
        self.changed = True

    def save(self) -> None:
        """Write the entries back if any changed, dropping those of files that are gone."""
        if not self.changed or self.directory is None:
            return
        kept = {key: entry for key, entry in self.entries.items() if os.path.exists(key[0])}
        try:
            data = pickle.dumps((FORMAT, self.fingerprint, kept), protocol=pickle.HIGHEST_PROTOCOL)
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not owned_by_me(self.directory):
                return
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".lessons-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, self.directory / self.file_name)
            except BaseException:
                os.unlink(tmp)
                raise
            self._remove_stale()
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return                      # read-only home, full disk, an unpicklable value: no cache
        self.changed = False

    def _read(self) -> dict:
        try:
            data = read_owned(self.directory / self.file_name, MAX_BYTES)
        except (NotOwned, OSError):
            return {}
        if len(data) > MAX_BYTES:
            return {}
        try:
            form, fingerprint, entries = pickle.loads(data)
        except Exception:               # corrupt, truncated, or the classes of another nstutor
            return {}
        if form != FORMAT or fingerprint != self.fingerprint or not isinstance(entries, dict):
            return {}
        return entries


    def _remove_stale(self) -> None:
        """Cache files of other nstutor code, not used for STALE_DAYS (an upgrade leaves one)."""
        for other in self.directory.glob("lessons-*.pickle"):
            try:
                if other.name != self.file_name and time.time() - other.stat().st_mtime > STALE_DAYS * 86400:
                    other.unlink()
            except OSError:
                pass


