"""Lesson parsing and lint: every problem is reported with file:line, and good lessons are clean."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tutor.cli import main
from tutor.lessons import load_catalog, parse_lesson

GOOD_STEP = """\
```check
id: rooms
title: Create RED
expect:
  - netns: {name: RED}
hint: ip netns add RED
solution: |
  ip netns add RED
```
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def lesson_text(steps: str, front: str = "id: demo\ntitle: Demo\nminutes: 5\n") -> str:
    return f"---\n{front}---\n# Demo\n\nSome prose.\n\n{steps}"


def messages(path: Path) -> list[str]:
    _, problems = parse_lesson(path)
    return [str(p) for p in problems]


def test_shipped_lessons_are_lint_clean(capsys):
    assert main(["lint"]) == 0
    catalog = load_catalog()
    assert catalog.problems == ()
    ids = [l.id for l in catalog.lessons]
    assert "welcome" in ids and "netns-veth" in ids
    assert ids == sorted(ids, key=lambda i: catalog.find(i).number)


def test_good_lesson_parses_with_steps_and_lines(tmp_path):
    path = write(tmp_path, "05-demo.md", lesson_text(GOOD_STEP))
    lesson, problems = parse_lesson(path)
    assert problems == []
    assert lesson.id == "demo" and lesson.number == 5 and lesson.minutes == 5
    (step,) = lesson.steps
    assert step.id == "rooms" and step.hints == ("ip netns add RED",)
    assert step.line == 10  # the ```check fence line
    assert step.expectations[0].kind == "netns"
    assert step.solution == "ip netns add RED\n"
    assert len(lesson.content_hash) == 64


def test_bad_yaml_names_the_line(tmp_path):
    bad = GOOD_STEP.replace("title: Create RED", "title: [unclosed")
    path = write(tmp_path, "05-demo.md", lesson_text(bad))
    msgs = messages(path)
    assert any(":12: bad YAML in the check block" in m for m in msgs), msgs


def test_unknown_kind_and_field_and_missing_field(tmp_path):
    bad = GOOD_STEP.replace("  - netns: {name: RED}",
                            "  - teleport: {to: mars}\n  - netns: {name: RED, colour: red}\n  - address: {dev: RED/veth0}")
    path = write(tmp_path, "05-demo.md", lesson_text(bad))
    msgs = messages(path)
    assert any(":14:" in m and "unknown expectation kind 'teleport'" in m for m in msgs), msgs
    assert any(":15:" in m and "no field 'colour'" in m for m in msgs), msgs
    assert any(":16:" in m and "missing the required field 'cidr'" in m for m in msgs), msgs


def test_bad_cidr(tmp_path):
    bad = GOOD_STEP.replace("  - netns: {name: RED}", "  - address: {dev: RED/veth0, cidr: 10.11.11.300/24}")
    msgs = messages(write(tmp_path, "05-demo.md", lesson_text(bad)))
    assert any(":14:" in m and "10.11.11.300/24" in m for m in msgs), msgs


def test_duplicate_step_id_and_missing_solution_and_hint(tmp_path):
    second = GOOD_STEP.replace("hint: ip netns add RED\n", "").replace("solution: |\n  ip netns add RED\n", "")
    msgs = messages(write(tmp_path, "05-demo.md", lesson_text(GOOD_STEP + "\n" + second)))
    assert any("duplicate step id 'rooms'" in m and "first used on line 10" in m for m in msgs), msgs


def test_missing_solution_and_hint(tmp_path):
    step = GOOD_STEP.replace("hint: ip netns add RED\n", "").replace("solution: |\n  ip netns add RED\n", "")
    msgs = messages(write(tmp_path, "05-demo.md", lesson_text(step)))
    assert any(":10:" in m and "has no 'solution'" in m for m in msgs), msgs
    assert any(":10:" in m and "has no hint" in m for m in msgs), msgs


def test_front_matter_problems(tmp_path):
    msgs = messages(write(tmp_path, "05-other.md", lesson_text(GOOD_STEP, "id: demo\ncolour: red\n")))
    assert any("does not match the file name" in m for m in msgs), msgs
    assert any("missing 'title'" in m for m in msgs) and any("missing 'minutes'" in m for m in msgs), msgs
    assert any("unknown front matter key 'colour'" in m for m in msgs), msgs
    msgs = messages(write(tmp_path, "demo.md", "# no front matter\n" + GOOD_STEP))
    assert any("no front matter" in m for m in msgs) and any("NN-<id>.md" in m for m in msgs), msgs


def test_not_utf8_and_unreadable(tmp_path):
    path = tmp_path / "05-demo.md"
    path.write_bytes(b"---\nid: demo\n\xff\xfe\n")
    assert any("not UTF-8" in m for m in messages(path))
    assert any("cannot read" in m for m in messages(tmp_path / "07-missing.md"))


def test_lint_cli_exit_codes(tmp_path, capsys):
    good = write(tmp_path, "05-demo.md", lesson_text(GOOD_STEP))
    assert main(["lint", str(good)]) == 0
    bad = write(tmp_path, "06-demo2.md", lesson_text(GOOD_STEP.replace("netns", "teleport"), "id: demo2\ntitle: D\nminutes: 1\n"))
    assert main(["lint", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:14: step 'rooms': unknown expectation kind 'teleport'" in out
    assert main(["lint", str(tmp_path / "nope.md")]) == 2
