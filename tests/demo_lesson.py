"""A one-step demo lesson written to a temporary folder, for tests of verify-lesson and cleanup.

Its one step wants a netns `<uid>a`; the test chooses the solution (what it makes, and any
leftover it wants verify-lesson to catch) and the cleanup the front matter declares.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from tutor.lessons import parse_lesson


def make_lesson(tmp_path: Path, uid: str, step_extra: str = "", cleanup: str = "", solution: str = "",
                lesson_id: str = "demo") -> object:
    text = textwrap.dedent(f"""\
        ---
        id: {lesson_id}
        title: Demo
        minutes: 1
        cleanup: {{{cleanup}}}
        ---
        # Demo

        ```check
        id: made
        title: make it
        expect:
          - netns: {{name: {uid}a}}
        {step_extra}
        hint: ip netns add {uid}a
        solution: |
          {solution or f"ip netns add {uid}a"}
        ```
        """)
    path = tmp_path / f"01-{lesson_id}.md"
    path.write_text(text)
    lesson, problems = parse_lesson(path, trusted=True)
    assert problems == [], problems
    return lesson
