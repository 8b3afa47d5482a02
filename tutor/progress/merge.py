"""Read a pile of learners' exports and merge them into one class: the input of `nstutor report`.

Files are read one by one; a file that cannot be used (unreadable, not JSON, cut short, another
program's JSON, a newer format, a malformed lesson list) is *skipped* with its name and the reason,
and the rest still make a report.

Merging: exports are grouped by learner (the export's learner id, made once per progress store;
failing that, the name). For each step, the record with the most recent activity wins (ties: the
newer export), so a learner who exported on Monday and again on Friday, or from two VMs, shows
their latest state of every step. A lesson's time is the largest any of the learner's exports
reports (exports of one store only ever grow; two VMs' times are not added up, which would count
a re-export twice).
"""
from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..i18n import _
from .export import FORMAT, FORMAT_VERSION, parse_iso

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 64          # an export nests 6 deep; deeper is not an export (and would blow the recursion limit)


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class Export:
    path: str
    doc: dict[str, Any]

    @property
    def exported_at(self) -> float:
        return parse_iso(self.doc.get("exported_at")) or 0.0


@dataclass
class LessonInfo:
    id: str
    number: int | None
    title: str
    steps: list[tuple[str, str]]            # (step id, title), in lesson order
    pack_version: str = ""                  # a pack's lesson (nat/snat): the version of the newest export

    @property
    def pack(self) -> str:
        """'' for a lesson shipped with nstutor, else its pack's name (the part before '/')."""
        return self.id.partition("/")[0] if "/" in self.id else ""


@dataclass
class Learner:
    key: str
    name: str
    hostnames: list[str]
    exported_at: str                         # of the newest export
    files: list[str]
    lessons: dict[str, dict[str, Any]]       # lesson id -> {"time_spent_s", "steps": {step id: step}}

    def step(self, lesson_id: str, step_id: str) -> dict[str, Any] | None:
        return self.lessons.get(lesson_id, {}).get("steps", {}).get(step_id)

    def passed(self, lesson: LessonInfo) -> int:
        return sum(1 for sid, _ in lesson.steps if (self.step(lesson.id, sid) or {}).get("status") == "passed")

    def time_spent(self, lesson_id: str) -> float:
        return float(self.lessons.get(lesson_id, {}).get("time_spent_s") or 0.0)


@dataclass
class ClassData:
    learners: list[Learner] = field(default_factory=list)
    lessons: list[LessonInfo] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files_read: int = 0
    ignored: list[Skipped] = field(default_factory=list)   # files in a folder that were not read, and why


def display_path(path: str | os.PathLike) -> str:
    """A path as it can be printed: bytes that are not UTF-8 (a file name is bytes) as \\xff,
    and control and bidi characters as escapes (see safe_text)."""
    from ..texts import safe_text
    return safe_text(os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace"))


# ---------------------------------------------------------------------- reading
def expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped], list[Skipped]]:
    """Files named, and the files named *.json (any case: Ada.JSON too) under directories named
    (recursively), sorted; the files not named, the other files found in the folders (with why they were
    not read)."""
    files: list[Path] = []
    missing: list[Skipped] = []
    ignored: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found += [Path(root, name) for name in names]
            for file in sorted(found):
                if file.name.lower().endswith(".json"):
                    files.append(file)
                else:
                    ignored.append(Skipped(str(file), _("not read: the name does not end in .json")))
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            missing.append(Skipped(str(path), _("no such file or directory")))
    return files, missing, ignored


def _read_limited(path: Path) -> bytes | str:
    """The bytes of *path*, or why it is not read: only a regular file, checked before it is opened
    (a FIFO would block the open, a device never ends), and at most MAX_FILE_BYTES + 1 bytes read,
    whatever stat said (/proc files and devices say 0)."""
    too_big = _("larger than {size} MiB: not a progress export").format(size=MAX_FILE_BYTES // 2**20)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return _("not a regular file (a device, a pipe or a socket): not a progress export")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return _("cannot be read: {error}").format(error=exc.strerror or exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):      # swapped between the stat and the open
            return _("not a regular file (a device, a pipe or a socket): not a progress export")
        if info.st_size > MAX_FILE_BYTES:
            return too_big
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            return too_big
        return b"".join(chunks)
    except OSError as exc:
        return _("cannot be read: {error}").format(error=exc.strerror or exc)
    finally:
        os.close(fd)


class _Constant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether *value* nests deeper than *limit* (walked without recursion). The parser itself
    stops with a RecursionError near Python's recursion limit; this keeps anything walking the
    result (json.dumps in a message, the report) far from it."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values() if isinstance(v, (dict, list))]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item if isinstance(v, (dict, list))]
    return False


def load_export(path: Path) -> Export | Skipped:
    raw = _read_limited(path)
    if isinstance(raw, str):
        return Skipped(str(path), raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Skipped(str(path), _("not a text file (binary data): not a progress export"))
    if not text.strip():
        return Skipped(str(path), _("empty file"))
    too_deep = Skipped(str(path), _("nested more than {depth} levels deep: not a progress export").format(depth=MAX_DEPTH))
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except _Constant as exc:
        return Skipped(str(path), _("not a progress export: it holds {value}, which is not a number in JSON").format(
            value=str(exc)))
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1:
            return Skipped(str(path), _("truncated: the JSON stops before it is complete (line {line})").format(line=exc.lineno))
        return Skipped(str(path), _("not an nstutor progress export: it is not JSON (from line {line}, column {column} on)")
                       .format(line=exc.lineno, column=exc.colno))
    except RecursionError:
        return too_deep
    except ValueError:      # e.g. a number of thousands of digits
        return Skipped(str(path), _("not an nstutor progress export: it is not JSON that nstutor reads"))
    if _too_deep(doc):
        return too_deep
    problem = validate(doc)
    if problem:
        return Skipped(str(path), problem)
    return Export(str(path), doc)


def validate(doc: Any) -> str | None:
    """Why *doc* is not a usable nstutor export, or None."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        return (_("not an nstutor progress export (format is {found}, expected {expected})").format(
                    found=repr(found), expected=repr(FORMAT)) if found
                else _("not an nstutor progress export (no \"format\": \"nstutor-progress\" field)"))
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return _("no valid format_version")
    if version > FORMAT_VERSION:
        return _("written by a newer nstutor ({tool}, format version {version}; this one reads up to "
                 "{supported}): upgrade nstutor to include it").format(
                     tool=doc.get("tool_version", "?"), version=version, supported=FORMAT_VERSION)
    if version < 1:
        return _("unknown format version {version}").format(version=version)
    learner = doc.get("learner")
    if not isinstance(learner, dict) or not isinstance(learner.get("name"), str) or not learner["name"].strip():
        return _("malformed: no learner name")
    lessons = doc.get("lessons")
    if not isinstance(lessons, list):
        return _("malformed: \"lessons\" is not a list")
    for i, lesson in enumerate(lessons):
        if not isinstance(lesson, dict) or not isinstance(lesson.get("id"), str):
            return _("malformed: lessons[{index}] has no id").format(index=i)
        steps = lesson.get("steps")
        if not isinstance(steps, list):
            return _("malformed: lesson {lesson} has no step list").format(lesson=repr(lesson["id"]))
        for j, step in enumerate(steps):
            if not isinstance(step, dict) or not isinstance(step.get("id"), str):
                return _("malformed: lesson {lesson} steps[{index}] has no id").format(lesson=repr(lesson["id"]), index=j)
            for key in ("attempts", "failed_attempts", "hints_shown"):
                value = step.get(key, 0)
                if type(value) is not int or value < 0:      # bool is an int in Python: True is not a count
                    return _("malformed: lesson {lesson} step {step}: {key} is not a number (a whole number, 0 or "
                             "more): {value}").format(lesson=repr(lesson["id"]), step=repr(step["id"]), key=key,
                                                      value=json.dumps(value))
            for key in _STEP_TEXTS + _STEP_FLAGS:               # null: not given (never passed, say)
                value = step.get(key)
                wanted = str if key in _STEP_TEXTS else bool
                if value is not None and type(value) is not wanted:
                    shown = json.dumps(value)
                    message = (_("malformed: lesson {lesson} step {step}: {key} is not text: {value}") if wanted is str
                               else _("malformed: lesson {lesson} step {step}: {key} is not true or false: {value}"))
                    return message.format(lesson=repr(lesson["id"]), step=repr(step["id"]), key=key,
                                          value=shown if len(shown) <= 40 else shown[:39] + "…")
        for key in ("time_spent_s", "steps_total", "steps_passed"):
            value = lesson.get(key, 0)
            if value is None and key == "time_spent_s":
                continue
            if type(value) not in (int, float) or not math.isfinite(value) or value < 0 \
                    or (key != "time_spent_s" and type(value) is not int):
                return _("malformed: lesson {lesson}: {key} is not a number of 0 or more: {value}").format(
                    lesson=repr(lesson["id"]), key=key, value=json.dumps(value))
        number = lesson.get("number")
        if number is not None and (type(number) is not int or number < 0):
            return _("malformed: lesson {lesson}: {key} is not a number of 0 or more: {value}").format(
                lesson=repr(lesson["id"]), key="number", value=json.dumps(number))
    return None


# ---------------------------------------------------------------------- merging
def _learner_key(doc: Mapping[str, Any]) -> str:
    learner = doc["learner"]
    ident = learner.get("id")
    return f"id:{ident}" if isinstance(ident, str) and ident else f"name:{learner['name'].strip().lower()}"


def _activity(step: Mapping[str, Any]) -> float:
    return parse_iso(step.get("last_activity")) or parse_iso(step.get("first_pass")) or 0.0


def merge(exports: list[Export]) -> ClassData:
    data = ClassData(files_read=len(exports))
    by_learner: dict[str, list[Export]] = {}
    for export in sorted(exports, key=lambda e: e.exported_at):
        by_learner.setdefault(_learner_key(export.doc), []).append(export)

    lesson_info: dict[str, LessonInfo] = {}
    for export in sorted(exports, key=lambda e: e.exported_at):     # newest export's titles win
        for lesson in export.doc["lessons"]:
            info = lesson_info.get(lesson["id"])
            steps = [(s["id"], str(s.get("title") or s["id"])) for s in lesson["steps"]]
            if info is not None:    # keep steps that only an older export knows, in their place at the end
                steps += [s for s in info.steps if s[0] not in {sid for sid, _ in steps}]
            number = lesson.get("number") if isinstance(lesson.get("number"), int) else None
            pack = lesson.get("pack") if isinstance(lesson.get("pack"), dict) else {}
            version = pack.get("version") if isinstance(pack.get("version"), str) else ""
            lesson_info[lesson["id"]] = LessonInfo(lesson["id"], number, str(lesson.get("title") or lesson["id"]),
                                                   steps, version)
    # the shipped lessons by number, then each pack's (numbered within the pack), packs by name
    data.lessons = sorted(lesson_info.values(), key=lambda l: (l.pack, l.number is None, l.number or 0, l.id))

    for key, group in by_learner.items():
        newest = group[-1]
        lessons: dict[str, dict[str, Any]] = {}
        for export in group:                       # oldest first: later exports win ties
            for lesson in export.doc["lessons"]:
                merged = lessons.setdefault(lesson["id"], {"time_spent_s": 0.0, "steps": {}})
                merged["time_spent_s"] = max(merged["time_spent_s"], _number(lesson.get("time_spent_s")))
                for step in lesson["steps"]:
                    old = merged["steps"].get(step["id"])
                    if old is None or _activity(step) >= _activity(old):
                        merged["steps"][step["id"]] = _clean_step(step)
        hostnames = sorted({str(e.doc.get("hostname") or "?") for e in group})
        data.learners.append(Learner(key, newest.doc["learner"]["name"].strip(), hostnames,
                                     str(newest.doc.get("exported_at") or ""), [e.path for e in group], lessons))
    data.learners.sort(key=lambda l: (l.name.lower(), l.key))
    return data


#: A step's fields the report prints as text or reads as yes/no: a value of another type (a list, a
#: number where the status should be) is left out, read as not given, rather than breaking the report.
_STEP_TEXTS = ("status", "title", "last_message", "first_pass", "last_activity")
_STEP_FLAGS = ("passing_now", "solution_viewed")


def _clean_step(step: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items()
            if not ((k in _STEP_TEXTS and not isinstance(v, str)) or (k in _STEP_FLAGS and not isinstance(v, bool)))}


def _number(value: Any) -> float:
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return 0.0


def load_class(paths: Iterable[str | Path]) -> ClassData:
    """Read every export under *paths* and merge them (skipped files are listed in the result)."""
    files, skipped, ignored = expand(paths)
    exports = []
    for path in files:
        loaded = load_export(path)
        (exports if isinstance(loaded, Export) else skipped).append(loaded)
    data = merge(exports)
    data.skipped = skipped
    data.ignored = ignored
    return data
