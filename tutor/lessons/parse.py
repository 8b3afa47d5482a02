"""Parse a lesson file: YAML front matter, markdown prose, ```check blocks.

markdown-it-py finds the fences (with their line numbers, so every error can
name file:line); PyYAML reads the front matter and each check block. Parsing
never raises on bad input: it returns the problems it found, each located.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from ..checks.base import LinkRef, NetnsRef, SpecError
from ..checks.engine_names import engine_name_problem
from ..checks.registry import build
from . import safe_yaml
from .model import Lesson, Problem, Step
from .parse_cache import ParseCache

FRONT_KEYS = {"id", "title", "minutes", "requires", "cleanup", "setup", "lab", "summary"}
REQUIRED_FRONT = ("id", "title", "minutes")
STEP_KEYS = {"id", "title", "expect", "hint", "hints", "solution", "explain"}
CLEANUP_KEYS = {"netns", "links", "processes", "cgroups", "paths", "mounts", "script", "containers", "pods", "images"}
ENGINE_OBJECTS = {"containers": ("docker", "podman"), "pods": ("podman",), "images": ("docker", "podman")}
FILE_NAME = re.compile(r"^(\d+)-([a-z0-9][a-z0-9-]*)\.md$")
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SHELL_FENCES = ("sh", "bash", "shell", "console")     # the prose's commands (a translation keeps them)
MAX_MINUTES = 600                                    # a lesson is studied in one sitting
MAX_BYTES = 1_000_000                                # a lesson file larger than this is refused, unread


def markdown_parser() -> MarkdownIt:
    """The parser used for lessons (also handed to the app's Markdown widget)."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").use(front_matter_plugin)


_BLOCKS: MarkdownIt | None = None


def _block_parser() -> MarkdownIt:
    """The same parser without its inline pass: the parser needs only the front matter and the
    fences, and inline parsing (emphasis, links, code spans) was 45 % of the markdown time."""
    global _BLOCKS
    if _BLOCKS is None:
        _BLOCKS = markdown_parser().disable("inline")
    return _BLOCKS


def parse_lesson(path: Path, *, trusted: bool = False,
                 cache: ParseCache | None = None) -> tuple[Lesson | None, list[Problem]]:
    """Read one lesson file. Returns (lesson or None if unusable, problems). With *cache*, a file
    whose exact bytes were parsed before (by this code) is not parsed again."""
    path = Path(path)
    raw, why = read_lesson_bytes(path)
    if raw is None:
        return None, [Problem(path, None, why)]
    digest = hashlib.sha256(raw).hexdigest()      # the cache's key, and the lesson's content_hash
    if cache is not None:
        hit = cache.get(path, digest, trusted)
        if hit is not None:
            return hit
    lesson, problems = _parse_bytes(path, raw, trusted, digest)
    if cache is not None:
        cache.put(path, digest, trusted, lesson, problems)
    return lesson, problems


def _parse_bytes(path: Path, raw: bytes, trusted: bool, digest: str) -> tuple[Lesson | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(line: int | None, msg: str) -> None:
        problems.append(Problem(path, line, msg))

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem(line, f"not UTF-8 text: the byte 0x{raw[exc.start]:02x} in column {column} is not UTF-8 "
                      f"(save the file as UTF-8)")
        return None, problems
    if text.startswith("\ufeff"):             # a UTF-8 byte order mark, as some editors write
        text = text[1:]
    _check_characters(text, problem)

    tokens = _block_parser().parse(text)
    front: dict[str, Any] = {}
    front_line = 1
    body_start = 0
    if tokens and tokens[0].type == "front_matter":
        tok = tokens[0]
        body_start = tok.map[1] if tok.map else 0
        front = _load_yaml(tok.content, 2, problem, "front matter") or {}
        if not isinstance(front, dict):
            problem(front_line, "the front matter must be a YAML mapping (id: ..., title: ...)")
            front = {}
    else:
        problem(1, "no front matter: start the file with '---', then id, title and minutes, then '---'")

    _check_front(front, path, problem)

    steps: list[Step] = []
    seen: dict[str, int] = {}
    shell_blocks: list[tuple[int, str]] = []
    check_blocks = 0        # blocks written, parsed or not: a broken one already has its own problem
    for tok in tokens:
        if tok.type == "fence" and tok.info.strip().split(" ")[0] in SHELL_FENCES:
            shell_blocks.append(((tok.map[0] + 1) if tok.map else 0, tok.content))
        if tok.type != "fence" or tok.info.strip().split(" ")[0] != "check":
            continue
        fence_line = tok.map[0] + 1 if tok.map else None
        check_blocks += 1
        step = _parse_step(tok.content, fence_line, problem)
        if step is None:
            continue
        if step.id in seen:
            problem(fence_line, f"duplicate step id '{step.id}' (first used on line {seen[step.id]})")
            continue
        seen[step.id] = fence_line or 0
        steps.append(step)
    if not check_blocks and front:
        problem(None, "the lesson has no ```check blocks: a lesson needs at least one step")

    lines = text.splitlines(keepends=True)
    _check_references(lines, problem)
    body = "".join(lines[body_start:])
    match = FILE_NAME.fullmatch(path.name)
    lesson_id = str(front.get("id") or (match.group(2) if match else path.stem))
    minutes = front.get("minutes")
    requires = front.get("requires") or []
    # A cleanup that lint refuses is not used at all: reset removes (and kills, as root) what a
    # cleanup names, so a malformed one must name nothing rather than something guessed.
    bad_cleanup = tuple(p.message for p in problems
                        if p.message.startswith(("cleanup.", "'cleanup", "unknown cleanup key")))
    lesson = Lesson(
        id=lesson_id,
        title=str(front.get("title") or lesson_id),
        minutes=minutes if isinstance(minutes, int) and not isinstance(minutes, bool) else 0,
        path=path,
        number=int(match.group(1)) if match else 999,
        body=body,
        steps=tuple(steps),
        requires=tuple(str(r) for r in requires) if isinstance(requires, list) else (),
        cleanup=front.get("cleanup") if isinstance(front.get("cleanup"), dict) and not bad_cleanup else {},
        cleanup_refused=bad_cleanup,
        setup=front["setup"] if isinstance(front.get("setup"), str) else "",
        lab=tuple(str(n) for n in front.get("lab") or ()) if isinstance(front.get("lab"), list) else (),
        summary=str(front.get("summary") or ""),
        content_hash=digest,
        trusted=trusted,
        shell_blocks=tuple(shell_blocks),
    )
    netns, links = lesson_names(lesson)
    for step in lesson.steps:
        for expectation in step.expectations:
            expectation.lesson_netns, expectation.lesson_links = netns, links
    return lesson, problems


def lesson_names(lesson: Lesson) -> tuple[frozenset, frozenset]:
    """(every network namespace name the lesson uses: in its checks, its cleanup and its lab;
    every (netns name, interface) its checks name). Each is the lesson's own: none is a typo of
    another, nor a link to move elsewhere (checks/base.py LESSON_NETNS)."""
    names = {str(n) for n in [*(lesson.cleanup or {}).get("netns", []), *lesson.lab]}
    links = set()
    for step in lesson.steps:
        for expectation in step.expectations:
            for ref in expectation.refers_to():
                if isinstance(ref, NetnsRef) and isinstance(ref.ref, str):
                    names.add(ref.ref)
                elif isinstance(ref, LinkRef) and isinstance(ref.netns, str):
                    names.add(ref.netns)
                    links.add((ref.netns, ref.dev))
    return frozenset(names), frozenset(links)


# --------------------------------------------------------------- pieces
#: "lesson 5", "Lessons 14 and 15", "lessons 2 to 12": a lesson named by its number; in Korean
#: "레슨 5", "5번 레슨", "5번째 레슨", "13강" (a translation must not bring the numbers back)
NUMBERED_REFERENCE = re.compile(r"\b[Ll]essons? +\d+\b|레슨\s*\d+|\d+\s*번째?\s*레슨|\d+강")


def _check_references(lines: list[str], problem) -> None:
    """Lessons are renumbered as the curriculum grows, and a number then points at another
    lesson: refer to one by its title or id."""
    if not NUMBERED_REFERENCE.search("".join(lines)):      # one scan of the text; most lessons have none
        return
    for number, line in enumerate(lines, 1):
        for match in NUMBERED_REFERENCE.finditer(line):
            problem(number, f"'{match.group(0)}' names a lesson by its number, which changes when lessons are "
                            f"added: name it by its title or id instead (e.g. 'the lesson *PID namespaces*', "
                            f"or `nstutor pid`)")


def _load_yaml(text: str, first_line: int, problem, what: str) -> Any:
    """The data of *text* (safe_yaml: bounded), turning a YAML error into a located problem.
    first_line: file line of text's line 0."""
    return _compose_yaml(text, first_line, problem, what)[0]


def _compose_yaml(text: str, first_line: int, problem, what: str) -> tuple[Any, Any]:
    """(data, composed node), or (None, None) after a located problem."""
    try:
        return safe_yaml.load(text, first_line)
    except yaml.YAMLError as exc:
        # PyYAML notices an unclosed bracket or quote on a later line (problem_mark); the line where
        # the construct began (context_mark) is where the author has to look, so report that one.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        problem(line, f"bad YAML in the {what}: {context + ', ' if context else ''}{reason}")
    except RecursionError:                  # safe_yaml bounds the nesting; this is the last resort
        problem(first_line, f"bad YAML in the {what}: nested too deep")
    return None, None


def read_lesson_bytes(path: Path) -> tuple[bytes | None, str]:
    """(the file's bytes, "") or (None, why not). Only a regular file is read, and at most MAX_BYTES:
    a FIFO or a device would block or never end (opened non-blocking, so a FIFO cannot hang us)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "a symlink loop: the link points (through other links, perhaps) back at itself"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return None, f"a dangling symlink: it points at {os.readlink(path)}, which does not exist"
        return None, f"cannot read the file: {exc.strerror or exc}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else \
                   "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket or other"
            return None, f"not a regular file ({what}): a lesson is a regular file"
        if info.st_size > MAX_BYTES:
            return None, f"the file is {info.st_size} bytes, larger than a lesson may be ({MAX_BYTES // 1_000_000} MB)"
        chunks, size = [], 0
        while size <= MAX_BYTES:           # st_size may lie (a file still growing): read no more than allowed
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:
            return None, f"the file is larger than a lesson may be ({MAX_BYTES // 1_000_000} MB)"
        return b"".join(chunks), ""
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}"
    finally:
        os.close(fd)


def _check_characters(text: str, problem) -> None:
    """A control character (NUL, an escape, ...) in the file: invisible in an editor, and the
    learner's terminal may act on it. One problem per line that has one."""
    if not safe_yaml.CONTROL.search(text):
        return
    for number, line in enumerate(text.splitlines(), 1):
        bad = safe_yaml.CONTROL.search(line)
        if bad:
            problem(number, f"{safe_yaml.control_words(bad.group(0))} in column {bad.start() + 1}: remove it")


def _text_or_none(value: Any) -> str:
    """A step's optional text as written, or "" when it is not a text or only blanks (no paragraph)."""
    return value if isinstance(value, str) and value.strip() else ""


def _not_one_line(text: str) -> bool:
    return any(c in text for c in "\n\r\t")


def _check_front(front: dict, path: Path, problem) -> None:
    match = FILE_NAME.fullmatch(path.name)
    if not match:
        problem(None, "the file name must be NN-<id>.md, e.g. 10-netns-veth.md")
    if not front:
        return
    for key in front:
        if key not in FRONT_KEYS:
            problem(1, f"unknown front matter key '{key}' (known: {', '.join(sorted(FRONT_KEYS))})")
    for key in REQUIRED_FRONT:
        if key not in front:
            problem(1, f"the front matter is missing '{key}'")
    if "minutes" in front and not (isinstance(front["minutes"], int) and not isinstance(front["minutes"], bool)
                                   and 0 < front["minutes"] <= MAX_MINUTES):
        problem(1, f"'minutes' must be a whole number from 1 to {MAX_MINUTES}")
    for key in ("title", "summary"):
        # a YAML number, true, a list or bytes would be shown as a Python value ('True', "[1, 2]")
        if key in front and not (isinstance(front[key], str) and (front[key].strip() or key == "summary")):
            problem(1, f"'{key}' must be a text (put it in quotes if YAML reads it as something else)")
    if isinstance(front.get("title"), str) and _not_one_line(front["title"]):
        problem(1, "'title' must be one line (list and check print it on one)")
    setup = front.get("setup")
    if setup not in (None, "") and not (isinstance(setup, str) and setup.strip()):
        # `nstutor setup` runs it as root: true would be run as the command 'True' (null or '': none)
        problem(1, "'setup' must be the shell commands that build the lesson's lab, as a text (a '|' block)")
    if "requires" in front and not (isinstance(front["requires"], list)
                                    and all(isinstance(r, str) for r in front["requires"])):
        problem(1, "'requires' must be a list of command names (or 'root'), e.g. [ip, unshare]")
    if match and "id" in front and str(front["id"]) != match.group(2):
        problem(1, f"the id '{front['id']}' does not match the file name (expected '{match.group(2)}')")
    if "lab" in front:
        if not (isinstance(front["lab"], list) and all(isinstance(n, str) for n in front["lab"])):
            problem(1, "'lab' must be the list of network namespaces the setup builds, e.g. [node1, node2]")
        elif not front.get("setup"):
            problem(1, "'lab' names what the setup builds, but this lesson has no 'setup'")
    cleanup = front.get("cleanup")
    if cleanup is not None:
        if not isinstance(cleanup, dict):
            problem(1, "'cleanup' must be a mapping, e.g. {netns: [RED, BLUE]}")
        else:
            for key, value in cleanup.items():
                if key not in CLEANUP_KEYS:
                    problem(1, f"unknown cleanup key '{key}' (known: {', '.join(sorted(CLEANUP_KEYS))})")
                elif key == "script":
                    if not isinstance(value, str):
                        problem(1, "'cleanup.script' must be a shell script (a string)")
                elif not isinstance(value, list):
                    problem(1, f"'cleanup.{key}' must be a list")
                else:
                    _check_cleanup_items(key, value, problem)


def _check_cleanup_items(key: str, items: list, problem) -> None:
    from ..checks.select import cleanup_selector_problem
    for item in items:
        if key == "processes":
            err = cleanup_selector_problem(item)
            if err:
                problem(1, f"cleanup.processes: {err}")
        elif key in ENGINE_OBJECTS:
            engines = ENGINE_OBJECTS[key]
            if not (isinstance(item, dict) and set(item) == {"engine", "name"} and item["engine"] in engines
                    and isinstance(item["name"], str) and item["name"].strip() == item["name"] != ""
                    and not item["name"].startswith("-") and " " not in item["name"]):
                problem(1, f"cleanup.{key}: {item!r} must be {{engine: {'|'.join(engines)}, name: NAME}}")
            elif key in ("containers", "pods") and (bad := engine_name_problem(item["name"], key[:-1])):
                problem(1, f"cleanup.{key}: {item['name']!r} {bad}")
            elif key == "images" and "nstutor" not in item["name"]:
                problem(1, f"cleanup.images: {item['name']!r} must contain 'nstutor' (e.g. nstutor-box)")
        elif not isinstance(item, str) or not item:
            problem(1, f"cleanup.{key}: {item!r} must be a name")
        elif key in ("paths", "cgroups") and "nstutor" not in item:
            # cleanup removes these: the marker makes it impossible to delete a learner's own files by a typo
            problem(1, f"cleanup.{key}: {item!r} must contain 'nstutor' (e.g. /tmp/nstutor-root, nstutor-cpu)")
        elif key in ("paths", "mounts") and not item.startswith("/"):
            problem(1, f"cleanup.{key}: {item!r} must be an absolute path")


def _parse_step(content: str, fence_line: int | None, problem) -> Step | None:
    body_line = (fence_line or 0) + 1          # file line of the block's first YAML line
    data, node = _compose_yaml(content, body_line, problem, "check block")
    if data is None:
        if content.strip() == "":
            problem(fence_line, "empty check block")
        return None
    if not isinstance(data, dict):
        problem(fence_line, "a check block must be a YAML mapping with id, title, expect, hint and solution")
        return None
    key_lines = _key_lines(node, body_line)

    def at(key: str) -> int | None:
        """The file line of *key* in this block (the fence's line when the key is missing)."""
        return key_lines.get(key, fence_line)

    for key in data:
        if key not in STEP_KEYS:
            problem(at(key), f"unknown check key '{key}' (known: {', '.join(sorted(STEP_KEYS))})")
    step_id = data.get("id")
    if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):     # fullmatch: '$' allows a trailing newline
        problem(at("id"), "the check needs an 'id' of lowercase letters, digits and dashes, e.g. 'linked'")
        return None
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problem(at("title"), f"step '{step_id}' needs a 'title'")
    elif _not_one_line(title):
        problem(at("title"), f"step '{step_id}': 'title' must be one line (the step list shows it on one)")
    hints = data.get("hints", data.get("hint", []))
    if isinstance(hints, str):
        hints = [hints]
    hint_key = "hints" if "hints" in data else "hint"
    if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
        problem(at(hint_key), f"step '{step_id}': 'hint' must be text, or 'hints' a list of texts")
        hints = []
    elif any(not h.strip() for h in hints):
        problem(at(hint_key), f"step '{step_id}': a hint is empty: write what would get a stuck learner going")
        hints = [h for h in hints if h.strip()]
    if not hints:
        problem(fence_line, f"step '{step_id}' has no hint: a stuck learner needs one")
    solution = data.get("solution")
    if not isinstance(solution, str) or not solution.strip():
        problem(at("solution"), f"step '{step_id}' has no 'solution' (the commands that make it pass)")
        solution = ""
    if data.get("explain") is not None and not isinstance(data["explain"], str):
        problem(at("explain"), f"step '{step_id}': 'explain' must be a text (the paragraph shown once the step "
                               f"passes), or left out")

    expect = data.get("expect")
    item_lines = _item_lines(node, body_line)
    expectations = []
    if not isinstance(expect, list) or not expect:
        problem(at("expect"), f"step '{step_id}' needs 'expect:', a list of expectations")
    else:
        for index, item in enumerate(expect):
            line = item_lines[index] if index < len(item_lines) else fence_line
            try:
                expectations.append(build(item, line))
            except SpecError as err:
                for msg in err.problems:
                    problem(line, f"step '{step_id}': {msg}")
    return Step(
        id=step_id,
        title=str(title or step_id),
        expectations=tuple(expectations),
        hints=tuple(hints),
        solution=solution.strip() + "\n" if solution.strip() else "",
        line=fence_line or 0,
        explain=_text_or_none(data.get("explain")),
    )


def _key_lines(node, body_line: int) -> dict:
    """File line of each top-level key of a check block, so a problem with a key points at it."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: body_line + key.start_mark.line for key, _ in node.value
            if isinstance(getattr(key, "value", None), str)}


def _item_lines(node, body_line: int) -> list[int]:
    """File lines of each item under `expect:` (for precise error locations), from the block's node."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "expect" and isinstance(value, yaml.SequenceNode):
            return [body_line + item.start_mark.line for item in value.value]
    return []
