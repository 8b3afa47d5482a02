"""Files that decide what nstutor runs or loads (the parse cache's pickle, the packs' trust
records) are read only when the effective user alone can have written them: a file of that user's,
not writable by group or others, not a symlink, in a directory of the same kind. Both live in a
directory of the effective user (under sudo: root's, never the learner's home)."""
from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path


class NotOwned(Exception):
    """The file, or its directory, is not the effective user's alone."""


def owned_by_me(directory: Path) -> bool:
    """A directory of the effective user's own that nobody else can write."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def own_directory(override_env: str, xdg_env: str, fallback: str) -> Path | None:
    """$override_env, else $xdg_env/nstutor when that directory is the effective user's, else
    ~/fallback/nstutor of the effective user (None: the user has no password entry)."""
    chosen = os.environ.get(override_env)
    if chosen:
        return Path(chosen)
    try:
        home = Path(pwd.getpwuid(os.geteuid()).pw_dir)
    except KeyError:
        return None
    xdg = os.environ.get(xdg_env)
    if xdg and os.path.isabs(xdg) and owned_by_me(Path(xdg)):
        return Path(xdg) / "nstutor"
    return home / fallback / "nstutor"


def read_owned(path: Path, max_bytes: int) -> bytes:
    """The bytes of *path* (at most max_bytes + 1, so a caller sees a file too large). Raises
    NotOwned when it or its directory is not the effective user's alone, OSError when it cannot be
    read (FileNotFoundError when it is not there)."""
    if not owned_by_me(path.parent):
        raise NotOwned(path.parent)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022):
            raise NotOwned(path)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read(max_bytes + 1)
    finally:
        os.close(fd)
