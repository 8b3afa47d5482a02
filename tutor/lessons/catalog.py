"""The catalog: every lesson shipped with nstutor, in order, then every lesson pack's
(tutor/lessons/packs.py: `nat/snat`), in the learner's language where a translation exists
(tutor/lessons/translation.py) and in English where none does."""
from __future__ import annotations

import dataclasses
import os

from dataclasses import dataclass
from pathlib import Path

from ..paths import lessons_dir
from .. import i18n
from .model import Lesson, Problem
from .packs import Pack, PackRef, content_digest, discover_packs, lesson_files
from .parse import parse_lesson
from .parse_cache import ParseCache
from .translation import parity_problems, translated_lesson, translation_path


@dataclass(frozen=True)
class LoadedPack:
    """A pack as the catalog read it: its lessons' ids (qualified) and its problems."""
    pack: Pack
    lesson_ids: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()      # its own (Pack.problems) and its lesson files'
    ref: PackRef | None = None              # what its lessons carry (None: nothing was loaded)

    @property
    def name(self) -> str:
        return self.pack.name


@dataclass(frozen=True)
class Catalog:
    lessons: tuple[Lesson, ...]
    problems: tuple[Problem, ...]           # the shipped lessons' (a pack's are in its LoadedPack)
    language: str = i18n.SOURCE
    untranslated: tuple[str, ...] = ()      # ids of lessons shown in English for want of a translation
    packs: tuple[LoadedPack, ...] = ()

    def find(self, lesson_id: str) -> Lesson | None:
        return next((l for l in self.lessons if l.id == lesson_id), None)

    def next_after(self, lesson_id: str) -> Lesson | None:
        """The lesson after it in the same pack (or among the shipped ones)."""
        ids = [l.id for l in self.lessons]
        if lesson_id in ids and ids.index(lesson_id) + 1 < len(ids):
            here, after = self.lessons[ids.index(lesson_id)], self.lessons[ids.index(lesson_id) + 1]
            if _pack_name(here) == _pack_name(after):
                return after
        return None

    def pack(self, name: str) -> LoadedPack | None:
        """The pack of that name whose lessons are loaded, else one of that name that is not."""
        named = [p for p in self.packs if p.name == name and not p.pack.shadowed_by]
        return next((p for p in named if p.pack.usable), named[0] if named else None)


def _pack_name(lesson: Lesson) -> str | None:
    return lesson.pack.name if lesson.pack is not None else None


def load_catalog(directory: Path | None = None, language: str | None = None,
                 packs: list[Pack] | None = None) -> Catalog:
    """Parse every NN-*.md in the lessons directory. Shipped lessons are trusted (may run shell).
    *language* (default: i18n.current()) other than English puts each lesson's translation in its
    place, when it has one that keeps the English checks (a translation that does not is a problem
    of the catalog, and the English lesson is shown).
    *packs* (default: packs.discover_packs() when *directory* is the shipped one, else none) add
    their lessons after the shipped ones, qualified by the pack's name; a pack that cannot be read
    adds only its problems."""
    shipped_dir = lessons_dir()
    directory = directory or shipped_dir
    language = i18n.normalise(language) or i18n.current()
    shipped = directory.resolve() == shipped_dir.resolve()
    cache = ParseCache()
    lessons, problems, untranslated = _load_directory(directory, language, shipped, cache)
    if packs is None:
        packs = discover_packs() if shipped else []
    loaded_packs = []
    for pack in packs:
        loaded, pack_lessons, pack_untranslated = _load_pack(pack, language, cache)
        loaded_packs.append(loaded)
        lessons.extend(pack_lessons)
        untranslated.extend(pack_untranslated)
    cache.save()
    return Catalog(tuple(lessons), tuple(problems), language, tuple(untranslated), tuple(loaded_packs))


def _load_directory(directory: Path, language: str, trusted: bool, cache: ParseCache, strict: bool = False,
                    read: dict[Path, str] | None = None) -> tuple[list[Lesson], list[Problem], list[str]]:
    """(lessons in order, problems, ids shown in English) of one directory of lesson files.
    *strict*: a lesson file with a problem is left out (a pack's: lint never vouched for it, and a
    half-read lesson could grade wrong); the shipped lessons are linted by the test suite.
    *read* gets the sha256 of the bytes each lesson in use was parsed from (translations too)."""
    lessons, problems, untranslated = [], [], []
    read = {} if read is None else read
    for path in lesson_files(directory):
        lesson, found = parse_lesson(path, trusted=trusted, cache=cache)
        problems.extend(found)
        if lesson is None or (strict and found):
            continue
        read[path] = lesson.content_hash
        if language != i18n.SOURCE:
            lesson, found = _translated(lesson, language, trusted, cache, read)
            problems.extend(found)
            if lesson.language != language:
                untranslated.append(lesson.id)
        lessons.append(lesson)
    lessons.sort(key=lambda l: (l.number, l.id))
    return lessons, problems, untranslated


def _load_pack(pack: Pack, language: str, cache: ParseCache) -> tuple[LoadedPack, list[Lesson], list[str]]:
    """A pack's lessons, their ids qualified (nat/snat) and untrusted: a pack's shell runs only
    once trusted, which lessons/trust.py decides when it would run."""
    if not pack.usable:
        # located at its directory, or its folder, or (an installed one with none) its distribution
        where = pack.directory or Path(pack.source.partition(": ")[2] if pack.kind == "folder" else pack.source)
        return LoadedPack(pack, problems=tuple(Problem(where, None, f"pack {pack.name}: {text}")
                                                for text in pack.problems)), [], []
    digest = content_digest(pack.directory)
    read: dict[Path, str] = {}
    lessons, problems, untranslated = _load_directory(pack.directory, language, False, cache, strict=True, read=read)
    if digest.problem:
        problems.append(Problem(pack.directory, None, f"pack {pack.name}: {digest.problem}"))
    # Trust is given to a digest, and shell runs from the lessons in memory: they must be the bytes
    # digested. A file changed between the two reads leaves the pack untrustable until read again.
    same = all(digest.files.get(str(path.relative_to(pack.directory))) == sha for path, sha in read.items())
    ref = PackRef(pack.name, pack.version, pack.source, pack.directory, digest.value if same else "")
    qualified = [dataclasses.replace(lesson, id=f"{pack.name}/{lesson.id}", trusted=False, pack=ref)
                 for lesson in lessons]
    loaded = LoadedPack(pack, tuple(l.id for l in qualified), tuple(problems), ref)
    return loaded, qualified, [f"{pack.name}/{lesson_id}" for lesson_id in untranslated]


def _translated(english: Lesson, language: str, trusted: bool, cache: ParseCache | None = None,
                read: dict[Path, str] | None = None) -> tuple[Lesson, list[Problem]]:
    """(the lesson in *language*, or *english* when it has no usable translation; the problems)"""
    path = translation_path(english.path, language)
    if not os.path.lexists(path):       # a FIFO or a dangling link there is a broken translation, said so
        return english, []
    lesson, problems = parse_lesson(path, trusted=trusted, cache=cache)
    if lesson is None or problems:
        return english, problems
    problems = parity_problems(english, lesson)
    if problems:
        return english, problems
    if read is not None:
        read[path] = lesson.content_hash
    return translated_lesson(english, lesson, language), []
