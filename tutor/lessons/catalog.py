"""The catalog: every lesson shipped with nstutor, in order, in the learner's language where a
translation exists (tutor/lessons/translation.py) and in English where none does."""
from __future__ import annotations

import os

from dataclasses import dataclass
from pathlib import Path

from ..paths import lessons_dir
from .. import i18n
from .model import Lesson, Problem
from .parse import parse_lesson
from .parse_cache import ParseCache
from .translation import parity_problems, translated_lesson, translation_path


@dataclass(frozen=True)
class Catalog:
    lessons: tuple[Lesson, ...]
    problems: tuple[Problem, ...]
    language: str = i18n.SOURCE
    untranslated: tuple[str, ...] = ()      # ids of lessons shown in English for want of a translation

    def find(self, lesson_id: str) -> Lesson | None:
        return next((l for l in self.lessons if l.id == lesson_id), None)

    def next_after(self, lesson_id: str) -> Lesson | None:
        ids = [l.id for l in self.lessons]
        if lesson_id in ids and ids.index(lesson_id) + 1 < len(ids):
            return self.lessons[ids.index(lesson_id) + 1]
        return None


def load_catalog(directory: Path | None = None, language: str | None = None) -> Catalog:
    """Parse every NN-*.md in the lessons directory. Shipped lessons are trusted (may run shell).
    *language* (default: i18n.current()) other than English puts each lesson's translation in its
    place, when it has one that keeps the English checks (a translation that does not is a problem
    of the catalog, and the English lesson is shown)."""
    directory = directory or lessons_dir()
    language = i18n.normalise(language) or i18n.current()
    shipped = directory.resolve() == lessons_dir().resolve()
    lessons, problems, untranslated = [], [], []
    cache = ParseCache()
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        lesson, found = parse_lesson(path, trusted=shipped, cache=cache)
        problems.extend(found)
        if lesson is None:
            continue
        if language != i18n.SOURCE:
            lesson, found = _translated(lesson, language, shipped, cache)
            problems.extend(found)
            if lesson.language != language:
                untranslated.append(lesson.id)
        lessons.append(lesson)
    cache.save()
    lessons.sort(key=lambda l: (l.number, l.id))
    return Catalog(tuple(lessons), tuple(problems), language, tuple(untranslated))


def _translated(english: Lesson, language: str, trusted: bool,
                cache: ParseCache | None = None) -> tuple[Lesson, list[Problem]]:
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
    return translated_lesson(english, lesson, language), []
