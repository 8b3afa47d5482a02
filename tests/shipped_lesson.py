"""A shipped lesson with its fixed names made unique, so a test can run its real solutions and
grade its real check blocks on the kernel while other people run the same lesson.

    lab = ShippedLesson("bridge", tmp_path, {"c1": f"{uid}c1", "10.22.0.": "10.201.7."})
    lab.solve("switch", "containers")          # the solutions of these steps, renamed
    assert not lab.grade("addresses").passed   # the step's check block exactly as shipped, renamed

A name is replaced where it stands as a word of its own (`c1`, `-n c1`, `c1/eth0`; not the c1
of veth-c1); a key ending in "." or "-" is a prefix (an address's first octets, `pod-` of
pod-$k) and `node`-style keys given as "node$" also match before a digit or `$`. `literal`
replacements (done first, as plain text) handle the rest: {comm: pause} selectors, a program
name. Teardown removes the renamed lesson's cleanup netns and host links, and kills every
process whose command line carries the test's tag, by pid.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

from conftest import sh
from kinds_process_support import pids_matching
from tutor.checks.runner import grade_step, wants_of_steps
from tutor.lessons import parse_lesson
from tutor.observe import take_snapshot

REPO = Path(__file__).resolve().parents[1]


def rename(text: str, names: dict[str, str], literal: dict[str, str] | None = None) -> str:
    for old, new in (literal or {}).items():
        text = text.replace(old, new)
    for old, new in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if old.endswith("$"):                 # a stem used as node1 and node$k
            stem = re.escape(old[:-1])
            text = re.sub(rf"(?<![\w.-]){stem}(?=\d|\$)", new, text)
        elif old.endswith((".", "-")):        # a prefix: 10.22.0.x, pod-1 and pod-$k
            text = re.sub(rf"(?<![\w.-]){re.escape(old)}", new, text)
        else:
            text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w:-])", new, text)   # not a YAML key
    return text


def bash(script: str) -> None:
    """Run a lesson snippet as verify-lesson does: bash, its own session, output to files (a
    background job it starts must not hold a pipe of ours open)."""
    with tempfile.TemporaryFile("w+") as out:
        res = subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True, cwd=REPO, timeout=90)
        out.seek(0)
        assert res.returncode == 0, f"snippet failed ({res.returncode}):\n{script}\n{out.read()[-2000:]}"


class ShippedLesson:
    def __init__(self, lesson_id: str, tmp_path: Path, names: dict[str, str], tag: str,
                 literal: dict[str, str] | None = None):
        source = next((REPO / "lessons").glob(f"*-{lesson_id}.md"))
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / source.name
        path.write_text(rename(source.read_text(), names, literal))
        self.unique = [tag, *names.values(), *(literal or {}).values()]
        self.lesson, problems = parse_lesson(path, trusted=True)
        assert problems == [], problems
        self.tag = tag

    def step(self, step_id: str):
        step = self.lesson.step(step_id)
        assert step is not None, step_id
        return step

    def setup(self) -> None:
        bash(self.lesson.setup)

    def solve(self, *step_ids: str) -> None:
        for step_id in step_ids:
            bash(self.step(step_id).solution)

    def grade(self, step_id: str, snap=None):
        step = self.step(step_id)
        return grade_step(step, snap or take_snapshot(wants=wants_of_steps([step])), lesson=self.lesson)

    def messages(self, step_id: str) -> str:
        return " | ".join(v.observed + " :: " + v.message for v in self.grade(step_id).failures)

    def teardown(self) -> None:
        cleanup = self.lesson.cleanup
        patterns = [re.escape(self.tag)]
        for sel in cleanup.get("processes", []):
            pattern = sel if isinstance(sel, str) else sel.get("cmdline", "")
            # only a renamed selector: one that can match nothing but this test's processes
            if pattern and any(u.strip("^$ ") in pattern for u in self.unique if len(u.strip("^$ ")) >= 5):
                patterns.append(pattern)
        for pattern in patterns:
            for pid in pids_matching(pattern):
                if pid != os.getpid():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for name in cleanup.get("netns", []):
            sh(f"ip netns del {name}", check=False)
        for name in cleanup.get("links", []):
            sh(f"ip link del {name}", check=False)
