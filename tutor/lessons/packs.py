"""Lesson packs: lessons from outside nstutor, found without running any of their code.

A pack is a directory of lesson files (NN-id.md, translations in ko/...) with a name, which
prefixes its lesson ids: pack `nat`'s `snat` is `nat/snat` everywhere (list, check, progress,
export, the report). Packs come from two places:

* **installed**: a Python distribution that declares the entry point group ``nstutor.lessons``,
  each entry naming a package that holds lesson files::

      [project.entry-points."nstutor.lessons"]
      nat = "nstutor_pack_nat"

  The package is located with the import system's finders (``importlib.util.find_spec`` for its
  top level, which runs no module code, then the path finder inside it): nothing of the pack is
  ever imported or run, so installing a pack is not trusting it (tutor/lessons/trust.py).
* **folders** given with ``nstutor --lessons DIR`` (any number), ``NSTUTOR_LESSONS`` (a
  ``:``-separated list), or remembered by ``nstutor packs add DIR`` (a class's shared folder). A folder with a ``pyproject.toml`` that declares the entry
  point is read as that pack's source tree (the same names as once installed, so progress made
  while writing it carries over); any other folder is one pack named after the folder.

A pack that cannot be read (a missing package, no lessons, a bad name, a second pack of a name
already taken) is reported with its problems and loads nothing: the rest of nstutor works.
A folder comes before an installed pack of the same name (its author is working on it).
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

ENTRY_POINT_GROUP = "nstutor.lessons"
ENV_FOLDERS = "NSTUTOR_LESSONS"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_FILES = 2000                # a pack is a handful of lessons: a tree larger than this is refused
MAX_BYTES = 50_000_000          # (hashing it would take long, and it is surely not a lesson pack)
_SKIPPED_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".pytest_cache", ".mypy_cache"}

#: Folders named on the command line (cli.main takes --lessons off argv and puts them here).
_command_line_folders: list[Path] = []


@dataclass(frozen=True)
class PackRef:
    """What a lesson of a pack carries about it (small and picklable: the parse cache keeps lessons)."""
    name: str
    version: str
    source: str                 # how it got here, said to the learner: "pip: nstutor-pack-nat", "folder"
    directory: Path
    content_hash: str           # of every file in the directory when the lessons were read (see content_digest)


@dataclass(frozen=True)
class Pack:
    """A pack as found: where its lessons are, or why it cannot be read."""
    name: str
    version: str = ""
    kind: str = "pip"           # "pip" (an installed distribution) or "folder"
    source: str = ""
    directory: Path | None = None
    problems: tuple[str, ...] = ()
    shadowed_by: str = ""       # the source of the pack of the same name that is loaded instead

    @property
    def usable(self) -> bool:
        return self.directory is not None and not self.problems and not self.shadowed_by

    def described(self) -> str:
        """'nat 1.0.0 (pip: nstutor-pack-nat)' """
        version = f" {self.version}" if self.version else ""
        return f"{self.name}{version} ({self.source})"


@dataclass(frozen=True)
class Digest:
    """The exact content of a pack: one sha256 over (path, sha256 of the bytes) of every file."""
    value: str
    files: dict[str, str] = field(default_factory=dict)     # relative path -> sha256
    problem: str = ""           # why it could not be hashed (then value is "")


# --------------------------------------------------------------- where packs come from
def set_command_line_folders(folders: list[str]) -> None:
    """`nstutor --lessons DIR`: kept as absolute paths, and put in the environment too, so what
    nstutor starts (the shell of `!`, a rerun through sudo's env) sees the same packs."""
    global _command_line_folders
    _command_line_folders = [Path(f).expanduser().absolute() for f in folders]
    named = [str(p) for p in _command_line_folders]
    before = [f for f in os.environ.get(ENV_FOLDERS, "").split(os.pathsep) if f and f not in named]
    os.environ[ENV_FOLDERS] = os.pathsep.join(named + before)


def configured_folders() -> list[Path]:
    """The folders to read as packs: the command line's, NSTUTOR_LESSONS's, then those `nstutor
    packs add` remembered in the learner's progress store (each once)."""
    from ..progress.settings import remembered_folders
    seen: dict[str, Path] = {}
    for folder in [*_command_line_folders,
                   *(Path(f).expanduser() for f in os.environ.get(ENV_FOLDERS, "").split(os.pathsep) if f),
                   *(Path(f) for f in remembered_folders())]:
        seen.setdefault(str(folder.absolute()), folder.absolute())
    return list(seen.values())


def discover_packs(folders: list[Path] | None = None) -> list[Pack]:
    """Every pack: the folders first (configured_folders() when None), then the installed ones
    by name. Two packs of one name: the first is loaded, the second is listed as shadowed."""
    found = [pack for folder in (configured_folders() if folders is None else folders)
             for pack in folder_packs(folder)]
    found += installed_packs()
    taken: dict[str, Pack] = {}
    result = []
    for pack in found:
        first = taken.get(pack.name)
        if first is not None and pack.directory is not None and first.directory is not None \
                and _same_dir(pack.directory, first.directory):
            continue                                # a folder and its own editable install
        if first is not None:
            pack = Pack(pack.name, pack.version, pack.kind, pack.source, pack.directory, pack.problems,
                        shadowed_by=first.source)
        elif pack.usable:
            taken[pack.name] = pack
        result.append(pack)
    return result


def installed_packs() -> list[Pack]:
    """The packs of the distributions installed where this Python looks (entry points)."""
    from importlib import metadata
    try:
        entries = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as err:                # a distribution with broken metadata breaks no one else
        return [Pack("?", source="pip", problems=(f"the installed packages' metadata cannot be read: {err}",))]
    packs = []
    for entry in sorted(entries, key=lambda e: (e.name, e.value)):
        dist = getattr(entry, "dist", None)
        dist_name = (getattr(dist, "name", None) or "?") if dist else "?"
        version = (getattr(dist, "version", None) or "") if dist else ""
        source = f"pip: {dist_name}"
        problems = list(_name_problems(entry.name))
        directory = None
        if not problems:
            directory, why = _package_directory(entry.value)
            if why:
                problems.append(f"its entry point {entry.name} = {entry.value!r}: {why}")
        if directory is not None and not problems:
            problems += _directory_problems(directory)
        packs.append(Pack(entry.name, version, "pip", source, directory, tuple(problems)))
    return packs


def folder_packs(folder: Path) -> list[Pack]:
    """The pack(s) of one folder given with --lessons: a source tree whose pyproject.toml declares
    the entry point (its packs, by their entry point names), else the folder itself."""
    folder = Path(folder)
    source = f"folder: {folder}"
    if not folder.is_dir():
        return [Pack(_folder_name(folder), kind="folder", source=source,
                     problems=(f"{folder} is not a directory" if folder.exists() else f"{folder} does not exist",))]
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        declared, version, problem = _declared_in_pyproject(pyproject)
        if problem:
            return [Pack(_folder_name(folder), kind="folder", source=source, problems=(problem,))]
        if declared:
            packs = []
            for name, package in declared:
                problems = list(_name_problems(name))
                directory = _source_package_dir(folder, package) if not problems else None
                if directory is None and not problems:
                    problems.append(f"pyproject.toml's entry point {name} = {package!r} names a package that is "
                                    f"not in {folder} (nor in {folder / 'src'})")
                if directory is not None:
                    problems += _directory_problems(directory)
                packs.append(Pack(name, version, "folder", source, directory, tuple(problems)))
            return packs
    name = _folder_name(folder)
    problems = list(_name_problems(name, f"the folder's name {folder.name!r}"))
    return [Pack(name, "", "folder", source, folder, tuple(problems + _directory_problems(folder)))]


def _name_problems(name: str, what: str = "") -> list[str]:
    if NAME.fullmatch(name):
        return []
    what = what or f"the pack name {name!r}"
    return [f"{what} cannot name a pack: a pack's name is its lessons' prefix (nat/snat), so it is "
            f"1 to 32 lower-case letters, digits and '-', starting with a letter"]


def _folder_name(folder: Path) -> str:
    """A folder's pack name: its name in lower case (`NAT-Lab` is pack `nat-lab`)."""
    return folder.name.lower()


def lesson_files(directory: Path) -> list[Path]:
    """The lesson files of a directory (its README.md is for people)."""
    return sorted(p for p in directory.glob("*.md") if p.name.lower() != "readme.md")


def _directory_problems(directory: Path) -> list[str]:
    try:
        if not lesson_files(directory):
            return [f"{directory} holds no lesson files (NN-id.md)"]
    except OSError as err:
        return [f"{directory} cannot be read: {err.strerror or err}"]
    return []


def _package_directory(value: str) -> tuple[Path | None, str]:
    """The directory of the package an entry point names, found by the import system's finders
    without importing anything: (directory, "") or (None, why)."""
    import importlib.machinery
    import importlib.util
    if ":" in value or not PACKAGE.fullmatch(value.strip()):
        return None, "an nstutor.lessons entry point names a package holding lesson files (nstutor_pack_nat), " \
                     "not an object or a path"
    parts = value.strip().split(".")
    try:
        spec = importlib.util.find_spec(parts[0])        # a top-level name: finders only, no code runs
        for depth in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                break
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth + 1]),
                                                            list(spec.submodule_search_locations))
    except (ImportError, ValueError, OSError) as err:
        return None, f"cannot be located: {err}"
    if spec is None:
        return None, "no such package is installed"
    locations = list(spec.submodule_search_locations or [])
    if not locations:
        return None, "it is a module, not a package directory holding lesson files"
    return Path(locations[0]), ""


def _source_package_dir(folder: Path, package: str) -> Path | None:
    relative = Path(*package.split("."))
    for base in (folder, folder / "src"):
        if (base / relative).is_dir():
            return base / relative
    return None


def _declared_in_pyproject(pyproject: Path) -> tuple[list[tuple[str, str]], str, str]:
    """([(pack name, package)], version, problem) from a source tree's pyproject.toml."""
    try:
        import tomllib
    except ImportError:                     # Python 3.10
        return [], "", f"{pyproject}: reading it needs Python 3.11 (tomllib); point --lessons at the package folder"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return [], "", f"{pyproject} cannot be read: {err}"
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    entries = project.get("entry-points", {}) if isinstance(project.get("entry-points"), dict) else {}
    group = entries.get(ENTRY_POINT_GROUP) or {}
    if not isinstance(group, dict):
        return [], "", f"{pyproject}: [project.entry-points.\"{ENTRY_POINT_GROUP}\"] is not a table"
    version = project.get("version") if isinstance(project.get("version"), str) else ""
    declared = [(str(name), str(value)) for name, value in group.items()]
    for name, value in declared:
        if not PACKAGE.fullmatch(value):
            return [], "", f"{pyproject}: the entry point {name} = {value!r} must name a package (nstutor_pack_nat)"
    return declared, version, ""


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --------------------------------------------------------------- what a pack is made of, exactly
def content_digest(directory: Path) -> Digest:
    """The sha256 of everything in *directory* (caches aside): the relative path and the sha256 of
    each regular file, in order. A changed, added or removed file changes it (trust is for this)."""
    files: dict[str, str] = {}
    total = 0
    try:
        for root, dirs, names in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            for name in sorted(names):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(root, name)
                relative = os.path.relpath(path, directory)
                if len(files) >= MAX_FILES:
                    return Digest("", {}, f"{directory} has more than {MAX_FILES} files: too many for a lesson pack")
                try:                                # through a symlink: what a read of it gives
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                    try:
                        kind = os.fstat(fd).st_mode
                        if not stat.S_ISREG(kind):      # a FIFO would block a read forever
                            files[relative] = f"not a regular file ({stat.filemode(kind)[0]})"
                            continue
                        with os.fdopen(fd, "rb", closefd=False) as stream:
                            data = stream.read(MAX_BYTES + 1 - total)
                    finally:
                        os.close(fd)
                except OSError as err:
                    files[relative] = f"unreadable: {err.strerror or err}"
                    continue
                total += len(data)
                if total > MAX_BYTES:
                    return Digest("", {}, f"{directory} holds more than {MAX_BYTES // 1_000_000} MB: too much "
                                          f"for a lesson pack")
                files[relative] = hashlib.sha256(data).hexdigest()
    except OSError as err:
        return Digest("", {}, f"{directory} cannot be read: {err.strerror or err}")
    whole = hashlib.sha256()
    for relative, digest in files.items():
        whole.update(f"{relative}\0{digest}\n".encode("utf-8", "surrogateescape"))
    return Digest(whole.hexdigest(), files)


def changed_files(before: dict[str, str], now: dict[str, str]) -> list[tuple[str, str]]:
    """[(path, "changed" | "added" | "removed")] between two Digest.files, in path order."""
    changes = []
    for path in sorted(set(before) | set(now)):
        if path not in before:
            changes.append((path, "added"))
        elif path not in now:
            changes.append((path, "removed"))
        elif before[path] != now[path]:
            changes.append((path, "changed"))
    return changes
