"""Find a lesson the way a learner names it, and what to suggest when nothing matches.

A lesson can be named by its id (`bridge`), its number (`11`, `011`) or its file name without
`.md` (`11-bridge`); the case does not matter as long as only one lesson fits (`Bridge`). A
lesson of a pack is named with the pack's name first, the same ways (`nat/snat`, `nat/1`,
`nat/01-snat`); a bare `snat` is only a near miss of it (two packs may both have one). A step
is named by its id or its number in the lesson (as the app lists them). A near miss is never
taken for a lesson (`nstutor reset brige --yes` must not reset anything): it gets a "did you
mean" instead, from difflib.
"""
from __future__ import annotations

import difflib
from typing import Iterable

from ..i18n import _
from .catalog import Catalog
from .model import Lesson, Step
from .parse import FILE_NAME

CUTOFF = 0.6        # difflib's default: 'brige' -> 'bridge' (0.91), 'chekc' -> 'check' (0.8), 'xyz' -> nothing


def find_lesson(catalog: Catalog, name: str) -> Lesson | None:
    """The one lesson *name* means, or None (no lesson, or more than one would fit)."""
    fits = _fits(catalog, name)
    return fits[0] if len(fits) == 1 else None


def _fits(catalog: Catalog, name: str) -> list[Lesson]:
    text = name.strip()
    exact = catalog.find(text)
    if exact is not None:
        return [exact]
    pack, slash, rest = text.rpartition("/")
    if slash:                                   # nat/1, nat/01-snat, NAT/SNAT
        lessons = [l for l in catalog.lessons if l.pack is not None and l.pack.name.casefold() == pack.casefold()]
    else:
        lessons = [l for l in catalog.lessons if l.pack is None]
    if rest.isdigit():
        return [l for l in lessons if _numbered(l) and l.number == int(rest)]
    key = rest.casefold()
    return [l for l in lessons if key in (l.local_id.casefold(), l.path.stem.casefold())]


def unknown_lesson(catalog: Catalog, name: str) -> str:
    """One line for a name that is no lesson: the near misses, or where the lessons are listed."""
    fits = _fits(catalog, name)
    if len(fits) > 1:           # two files numbered 03, or ids that differ only in case
        return _("'{name}' fits more than one lesson: say which, {lessons}").format(
            name=name, lessons=either([l.id for l in fits]))
    near = suggest_lessons(catalog, name)
    if near:
        return _("unknown lesson '{name}': did you mean {lessons}?").format(name=name, lessons=either(near))
    numbers = [l.number for l in catalog.lessons if _numbered(l) and l.pack is None]
    if name.strip().isdigit() and numbers:
        return _("unknown lesson '{name}': the lessons are numbered {first} to {last}").format(
            name=name, first=min(numbers), last=max(numbers))
    return _("unknown lesson '{name}' ({command} shows the lessons)").format(name=name, command="nstutor list")


def find_step(lesson: Lesson, name: str) -> Step | None:
    """The step *name* means: its id, the id in another case if only one fits, or its number as
    the app's step list shows it (1 is the first)."""
    text = name.strip()
    exact = lesson.step(text)
    if exact is not None:
        return exact
    if text.isdigit():
        return lesson.steps[int(text) - 1] if 1 <= int(text) <= len(lesson.steps) else None
    fits = [s for s in lesson.steps if s.id.casefold() == text.casefold()]
    return fits[0] if len(fits) == 1 else None


def unknown_step(lesson: Lesson, name: str) -> str:
    near = close_matches(name, [s.id for s in lesson.steps])
    if near:
        return _("lesson '{lesson}' has no step '{name}': did you mean {steps}?").format(
            lesson=lesson.id, name=name, steps=either(near))
    return _("lesson '{lesson}' has no step '{name}' (steps: {steps})").format(
        lesson=lesson.id, name=name, steps=", ".join(s.id for s in lesson.steps))


def suggest_lessons(catalog: Catalog, name: str) -> list[str]:
    """Ids of the lessons close to *name* (by id or file name), closest first; else those whose id
    it begins (`k8s` for k8s-node: too short a part for difflib). A pack's lesson is near both as
    `nat/snat` and as `snat`."""
    by_key: dict[str, str] = {}
    for lesson in catalog.lessons:
        by_key.setdefault(lesson.id, lesson.id)
        by_key.setdefault(lesson.path.stem, lesson.id)
        if lesson.pack is not None:
            by_key.setdefault(lesson.local_id, lesson.id)
            by_key.setdefault(f"{lesson.pack.name}/{lesson.path.stem}", lesson.id)
    near = list(dict.fromkeys(by_key[k] for k in close_matches(name, by_key)))
    start = name.strip().casefold()
    return near or [l.id for l in catalog.lessons
                    if len(start) >= 2 and (l.id.casefold().startswith(start) or l.local_id.casefold().startswith(start))]


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The choices that *word* is a likely slip of (case ignored), the closest first; only those as
    close as the closest, so one clear match is not muddied by a distant second."""
    scored = sorted(((similarity(word, c), c) for c in choices), key=lambda sc: -sc[0])
    scored = [(s, c) for s, c in scored if s >= CUTOFF]
    return [c for s, c in scored if s >= scored[0][0] - 0.05] if scored else []


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def either(names: list[str]) -> str:
    """'a', or 'a' or 'b', or 'a', 'b' or 'c'."""
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else _("{items} or {last}").format(items=", ".join(quoted[:-1]),
                                                                           last=quoted[-1])


def _numbered(lesson: Lesson) -> bool:
    """Only a lesson whose file is named NN-id.md has a number (the others sort last, as 999)."""
    return FILE_NAME.fullmatch(lesson.path.name) is not None
