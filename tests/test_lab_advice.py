"""A lesson whose setup builds a lab (`lab:` in its front matter): a missing lab netns is explained
as "build the lab" (press b / nstutor setup), once, never as "ip netns add" by hand."""
from __future__ import annotations

import pytest

from test_lessons import GOOD_STEP, lesson_text, messages, write
from tutor.checks.runner import grade_step
from tutor.lessons import parse_lesson
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root


def lab_lesson(tmp_path, uid, lab):
    step = GOOD_STEP.replace("RED", f"{uid}n1").replace("  - netns:", f"  - netns: {{name: {uid}n2}}\n  - netns:")
    front = (f"id: demo\ntitle: Demo\nminutes: 5\nsetup: |\n  ip netns add {uid}n1\nlab: {lab}\n")
    path = write(tmp_path, "01-demo.md", lesson_text(step, front))
    lesson, problems = parse_lesson(path, trusted=True)
    assert problems == [], problems
    return lesson


def test_missing_lab_namespaces_say_build_the_lab_once(tmp_path, uid, netns):
    lesson = lab_lesson(tmp_path, uid, f"[{uid}n1, {uid}n2]")
    result = grade_step(lesson.steps[0], take_snapshot(), lesson=lesson)
    texts = {v.message for v in result.failures}
    assert texts == {f"the lesson's lab is not built (no {uid}n1, {uid}n2): press b in the app, "
                     "or run: nstutor setup demo"}, texts
    netns("n1"), netns("n2")
    assert grade_step(lesson.steps[0], take_snapshot(), lesson=lesson).passed


def test_namespaces_outside_the_lab_keep_their_own_advice(tmp_path, uid):
    lesson = lab_lesson(tmp_path, uid, f"[{uid}n2]")
    messages_seen = [v.message for v in grade_step(lesson.steps[0], take_snapshot(), lesson=lesson).failures]
    assert any(f"ip netns add {uid}n1" in m for m in messages_seen)
    assert any("lab is not built (no " + f"{uid}n2)" in m for m in messages_seen)


def test_lint_checks_the_lab_key(tmp_path):
    no_setup = write(tmp_path, "01-demo.md", lesson_text(GOOD_STEP, "id: demo\ntitle: Demo\nminutes: 5\nlab: [a]\n"))
    assert any("this lesson has no 'setup'" in m for m in messages(no_setup))
    bad = write(tmp_path, "02-demo.md", lesson_text(
        GOOD_STEP, "id: demo\ntitle: Demo\nminutes: 5\nsetup: 'true'\nlab: {a: 1}\n"))
    assert any("'lab' must be the list" in m for m in messages(bad))


def test_the_flannel_lab_is_declared():
    from tutor.lessons import load_catalog
    assert load_catalog().find("flannel").lab == ("underlay", "node1", "node2", "node3")
