"""Translated lessons: a sibling file per lesson and language, held to the English one's checks.

    lessons/10-netns-veth.md         the lesson, in English (the source)
    lessons/ko/10-netns-veth.md      the same lesson in Korean

A translation is a whole lesson file. What a learner reads is translated: the title and summary in
the front matter, the prose, and in each check block its title, hints and explain. What a learner
types or the grader runs is not, and must be exactly the English file's: every other front matter
key (id, minutes, requires, cleanup, setup, lab), each check block's id, expectations and solution,
in the same order, and every shell block (```sh) of the prose, line for line; only a shell block's
whole-line `# comments` may be translated. `parity_problems` says where a translation differs,
located in the translated file; `load_catalog` shows a translation only when it has none, and the
English lesson otherwise, so a stale translation never teaches other commands than the lesson checks.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..i18n import LANGUAGES, SOURCE
from .model import Lesson, Problem

FREE_FRONT_KEYS = ("title", "summary")      # everything else in the front matter is the English one's


def translation_path(english: Path, language: str) -> Path:
    """lessons/10-netns-veth.md -> lessons/ko/10-netns-veth.md"""
    return english.parent / language / english.name


def source_path(translated: Path) -> Path | None:
    """The English file a translated one mirrors (lessons/ko/X.md -> lessons/X.md), or None when
    *translated* is not in a language directory."""
    if translated.parent.name in LANGUAGES and translated.parent.name != SOURCE:
        return translated.parent.parent / translated.name
    return None


def _commands(content: str) -> list[str]:
    """A shell block without its whole-line comments and blank lines: what the learner types."""
    return [line.rstrip() for line in content.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _expectations(step) -> list[tuple[str, dict]]:
    return [(e.kind, e.spec) for e in step.expectations]


def parity_problems(english: Lesson, translated: Lesson) -> list[Problem]:
    """Where *translated* differs from *english* in what must not be translated (module docstring)."""
    problems: list[Problem] = []

    def problem(line: int | None, message: str) -> None:
        problems.append(Problem(translated.path, line, message))

    eng_name = english.path.name
    for field in ("id", "minutes", "requires", "cleanup", "setup", "lab"):
        if getattr(english, field) != getattr(translated, field):
            problem(1, f"front matter '{field}' differs from {eng_name}'s: only {' and '.join(FREE_FRONT_KEYS)} "
                       f"are translated; copy '{field}' from {eng_name}")
    eng_steps = {s.id: s for s in english.steps}
    ids = [s.id for s in translated.steps]
    missing = [s.id for s in english.steps if s.id not in ids]
    extra = [i for i in ids if i not in eng_steps]
    if missing:
        problem(None, f"missing the step{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {eng_name}")
    for step in translated.steps:
        if step.id in extra:
            problem(step.line, f"step '{step.id}' is not in {eng_name} (its steps: {', '.join(eng_steps)})")
            continue
        source = eng_steps[step.id]
        if _expectations(step) != _expectations(source):
            problem(step.line, f"step '{step.id}': 'expect' differs from {eng_name}'s (line {source.line}); "
                               "expectations are never translated: copy them")
        if step.solution != source.solution:
            problem(step.line, f"step '{step.id}': 'solution' differs from {eng_name}'s (line {source.line}); "
                               "solutions are commands: copy them as they are")
        if len(step.hints) != len(source.hints):
            problem(step.line, f"step '{step.id}' has {len(step.hints)} hints, {eng_name} {len(source.hints)}: "
                               "translate each hint, one for one")
    if not missing and not extra and ids != [s.id for s in english.steps]:
        problem(None, f"the steps are in another order than in {eng_name}: {', '.join(eng_steps)}")
    eng_shell, our_shell = english.shell_blocks, translated.shell_blocks
    for (line, content), (eng_line, eng_content) in zip(our_shell, eng_shell):
        if _commands(content) != _commands(eng_content):
            problem(line, f"this shell block differs from the one on line {eng_line} of {eng_name}: commands are "
                          "never translated (only whole-line # comments may be)")
    if len(our_shell) != len(eng_shell):
        problem(None, f"{len(our_shell)} shell blocks, {eng_name} has {len(eng_shell)}: translate the prose "
                      "around each, and keep every block")
    return problems


def translated_lesson(english: Lesson, translated: Lesson, language: str) -> Lesson:
    """The lesson as a learner of *language* sees it: *translated*'s texts, *english*'s identity.
    The content hash stays the English file's: progress is kept per version of the checks, and a
    learner who switches language keeps their steps."""
    return dataclasses.replace(translated, number=english.number, content_hash=english.content_hash,
                               trusted=english.trusted, language=language)
