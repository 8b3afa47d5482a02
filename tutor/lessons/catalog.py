"""The catalog: every lesson shipped with nstutor, in order."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..paths import lessons_dir
from .model import Lesson, Problem
from .parse import parse_lesson


@dataclass(frozen=True)
class Catalog:
    lessons: tuple[Lesson, ...]
    problems: tuple[Problem, ...]

    def find(self, lesson_id: str) -> Lesson | None:
        return next((l for l in self.lessons if l.id == lesson_id), None)

    def next_after(self, lesson_id: str) -> Lesson | None:
        ids = [l.id for l in self.lessons]
        if lesson_id in ids and ids.index(lesson_id) + 1 < len(ids):
            return self.lessons[ids.index(lesson_id) + 1]
        return None


def load_catalog(directory: Path | None = None) -> Catalog:
    """Parse every NN-*.md in the lessons directory. Shipped lessons are trusted (may run shell)."""
    directory = directory or lessons_dir()
    shipped = directory.resolve() == lessons_dir().resolve()
    lessons, problems = [], []
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        lesson, found = parse_lesson(path, trusted=shipped)
        problems.extend(found)
        if lesson is not None:
            lessons.append(lesson)
    lessons.sort(key=lambda l: (l.number, l.id))
    return Catalog(tuple(lessons), tuple(problems))
