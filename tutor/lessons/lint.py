"""`nstutor lint`: every problem of the lesson files given, located, and what is not translated yet.

A directory means its NN-*.md lessons and their translations in its language directories (ko/...).
A translated file is parsed like any lesson and then held to its English original
(translation.parity_problems). A lesson with no translation is not a problem: lint counts those,
per language, so a translator sees what is left.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import LANGUAGES, SOURCE
from .model import Problem
from .packs import lesson_files
from .parse import parse_lesson
from .translation import parity_problems, source_path, translation_path


@dataclass
class LintReport:
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    untranslated: dict[str, list[str]] = field(default_factory=dict)   # language -> English file names


def lint(paths: list[Path]) -> LintReport:
    report = LintReport()
    for path in paths:
        if path.is_dir():
            english = lesson_files(path)
            report.files.extend(english)
            for language in LANGUAGES:
                if language == SOURCE:
                    continue
                report.files.extend(lesson_files(path / language) if (path / language).is_dir() else [])
                # Only a missing file is "not translated yet": one that is there but unreadable
                # (a FIFO, a dangling link) is a problem, which parse_lesson reports.
                report.untranslated[language] = [p.name for p in english
                                                 if not os.path.lexists(translation_path(p, language))]
        else:
            report.files.append(path)
    for path in report.files:
        lesson, problems = parse_lesson(path)
        report.problems.extend(problems)
        source = source_path(path)
        if source is not None and not source.is_file():
            report.problems.append(Problem(path, None, f"a translation of {source.name}, which does not exist in "
                                                       f"{source.parent}: name it as the English lesson's file"))
            continue
        if lesson is None or problems or source is None:
            continue
        english, english_problems = parse_lesson(source)
        if english is not None and not english_problems:
            report.problems.extend(parity_problems(english, lesson))
    return report
