"""Lint rejects a lesson named by its number: numbers change whenever the curriculum grows."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tutor.paths import lessons_dir
from tutor.lessons.parse import parse_lesson

STEP = "```check\nid: a\ntitle: A\nexpect:\n  - netns: {name: x}\nhint: h\nsolution: ip netns add x\n```\n"


def lesson_with(tmp_path: Path, prose: str) -> Path:
    path = tmp_path / "01-demo.md"
    path.write_text(f"---\nid: demo\ntitle: Demo\nminutes: 1\n---\n# Demo\n\n{prose}\n\n{STEP}")
    return path


@pytest.mark.parametrize("prose, named", [
    ("As lesson 5 showed, a pid namespace starts at 1.", "lesson 5"),
    ("Lessons 14 and 15 build a pod by hand.", "Lessons 14"),
    ("| by hand (lessons 2 to 12) | Docker |", "lessons 2"),
    ("레슨 5에서 보았듯이 pid 네임스페이스는 1부터 시작합니다.", "레슨 5"),
    ("이 내용은 14번 레슨에서 다룹니다.", "14번 레슨"),
    ("13강의 브리지를 다시 씁니다.", "13강"),
])
def test_a_lesson_named_by_its_number_is_a_problem_on_its_line(tmp_path, prose, named):
    _, problems = parse_lesson(lesson_with(tmp_path, prose))
    found = [p for p in problems if "names a lesson by its number" in p.message]
    assert len(found) == 1 and found[0].line == 8 and f"'{named}'" in found[0].message, problems


def test_a_lesson_named_by_its_title_or_id_is_fine(tmp_path):
    _, problems = parse_lesson(lesson_with(tmp_path, "The lesson *PID namespaces* (`nstutor pid`) shows it; "
                                                     "it takes 5 minutes, a lesson of 12 steps."))
    assert problems == []
    _, problems = parse_lesson(lesson_with(tmp_path, "레슨 *PID 네임스페이스*(`nstutor pid`)에서 봅니다. 5분짜리, "
                                                     "12단계 레슨이고 강한 격리는 아닙니다."))
    assert problems == []


def test_no_shipped_lesson_names_another_by_number():
    for path in sorted(lessons_dir().glob("*.md")) + sorted(lessons_dir().glob("*/*.md")):
        _, problems = parse_lesson(path, trusted=True)
        assert not [p for p in problems if "by its number" in p.message], (path, problems)


#: "the lesson *PID namespaces*", "lessons *A pod by hand*": a lesson named by (the start of) its title
TITLED_REFERENCE = re.compile(r"\b[Ll]essons?\s+\*([^*]+)\*")


def test_every_lesson_named_by_its_title_exists():
    """A reference by title must lead somewhere: the title of a shipped lesson starts with it."""
    from tutor.lessons import load_catalog
    lessons = load_catalog().lessons
    titles = [lesson.title for lesson in lessons]
    unknown = []
    for lesson in lessons:
        for match in TITLED_REFERENCE.finditer(lesson.path.read_text()):
            named = " ".join(match.group(1).split())
            if not any(title.startswith(named) for title in titles):
                unknown.append(f"{lesson.id}: *{named}*")
    assert unknown == [], f"no lesson has these titles: {unknown}"
