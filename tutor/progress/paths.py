"""Where the learner's progress lives, and who owns it.

The store is ``$XDG_DATA_HOME/nstutor/progress.sqlite3`` (``~/.local/share/nstutor/...`` by default).

Learners run nstutor through sudo, so the process is root but the progress is theirs: when the
effective uid is 0 and ``SUDO_USER`` names a real user, the home directory comes from that user's
password entry (``$HOME`` may well be /root), and every directory nstutor creates, the nstutor data
directory and the database files are handed to that user. Otherwise the learner's next run without
sudo would find a root-owned, read-only database in their own home.

``NSTUTOR_DATA_DIR`` overrides the directory (tests, the tmux end-to-end test, a lab that wants the
progress somewhere else).
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DB_NAME = "progress.sqlite3"
ENV_DATA_DIR = "NSTUTOR_DATA_DIR"


@dataclass(frozen=True)
class Owner:
    """The user the progress files are handed to (the one who ran sudo)."""
    name: str
    uid: int
    gid: int
    home: Path


@dataclass(frozen=True)
class StoreLocation:
    database: Path              # the SQLite file
    owner: Owner | None         # chown what nstutor makes to this user (under sudo); None: leave as is
    default: bool               # the standard XDG place (nstutor's own directory: safe to chown)

    @property
    def directory(self) -> Path:
        return self.database.parent


def sudo_owner(env: Mapping[str, str] | None = None) -> Owner | None:
    """The invoking user when running as root through sudo, else None.

    The password entry is the authority for the home directory; SUDO_UID/SUDO_GID are only a
    fallback when SUDO_USER has no entry (and SUDO_GID wins for the group, as sudo set it).
    """
    env = os.environ if env is None else env
    if os.geteuid() != 0:
        return None
    name = env.get("SUDO_USER", "")
    if not name or name == "root":
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        try:
            entry = pwd.getpwuid(int(env.get("SUDO_UID", "")))
        except (KeyError, ValueError):
            return None           # a SUDO_USER that does not exist: nobody to hand the files to
    if entry.pw_uid == 0:
        return None
    try:
        gid = int(env["SUDO_GID"])
    except (KeyError, ValueError):
        gid = entry.pw_gid
    return Owner(entry.pw_name, entry.pw_uid, gid, Path(entry.pw_dir))


def _own_home() -> Path:
    home = os.environ.get("HOME")
    if home and os.path.isabs(home):
        return Path(home)
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def _xdg_data_home(home: Path, env: Mapping[str, str], *, under_sudo: bool) -> Path:
    xdg = env.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        # Under sudo the variable, if it survived at all (sudo -E), may be root's: only trust it when
        # it points into the learner's own home.
        if not under_sudo or Path(xdg).resolve().is_relative_to(home.resolve()):
            return Path(xdg)
    return home / ".local" / "share"


def default_location(env: Mapping[str, str] | None = None) -> StoreLocation:
    env = os.environ if env is None else env
    owner = sudo_owner(env)
    override = env.get(ENV_DATA_DIR, "")
    if override:
        return StoreLocation(Path(override).expanduser() / DB_NAME, owner, default=False)
    home = owner.home if owner else _own_home()
    data_home = _xdg_data_home(home, env, under_sudo=owner is not None)
    return StoreLocation(data_home / "nstutor" / DB_NAME, owner, default=True)


def location_for(path: str | os.PathLike | None) -> StoreLocation:
    """Where ProgressStore.open(path) puts the database: *path* is the database file, None the default."""
    if path is None:
        return default_location()
    return StoreLocation(Path(path).expanduser(), sudo_owner(), default=False)


def hand_over(path: Path, owner: Owner | None) -> None:
    """chown *path* to *owner* without following a symlink (root must never be tricked into
    chowning some other file the path was swapped for)."""
    if owner is None:
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if (st.st_uid, st.st_gid) != (owner.uid, owner.gid):
        os.chown(path, owner.uid, owner.gid, follow_symlinks=False)


def unwritable_parent(directory: Path) -> Path | None:
    """When *directory* does not exist yet: its nearest existing parent, if this user cannot create
    anything in it (the real cause of a "permission denied" for a data directory that is not there;
    chown-ing the directory itself is no advice then). None when the directory exists or its parent
    is writable."""
    probe = Path(os.path.abspath(directory))
    if probe.exists():
        return None
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
        return probe
    return None


def make_directory(location: StoreLocation) -> None:
    """Create the data directory (0700) and any missing parents; hand what was created, and
    nstutor's own default directory, to the invoking user under sudo."""
    directory = location.directory
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass                  # another nstutor window made it a moment ago
        hand_over(path, location.owner)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
    if location.default:
        hand_over(directory, location.owner)
