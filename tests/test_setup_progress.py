"""A lesson's setup script reports progress (`## step N/M: ...` lines) while it runs.

run_setup hands each progress line to a callback as soon as the script prints it (the
scripts below wait, with a deadline, for a file the callback creates on seeing a line, so a
runner that only reports at the end fails them); `verify-lesson` prints the lines; the app
shows them in a dialog with a progress bar, offers to build a missing lab when the lesson
opens, and builds it again with `b`.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import sh
from tutor.lessons.catalog import Catalog
from tutor.lessons.cleanup import run_cleanup
from tutor.lessons.scripts import ActionLog, run_script
from tutor.lessons.setup import progress_fraction, run_setup
from tutor.lessons.parse import parse_lesson
from tutor.verify import verify_lesson

# The script goes on only once the test has seen the previous line: a file appears.
WAIT_FOR = ('for i in $(seq 200); do [ -e "{flag}" ] && break; sleep 0.02; done; '
            '[ -e "{flag}" ] || {{ echo "nobody saw line {n} while the script ran" >&2; exit 3; }}')


def lesson_text(uid: str, setup: str, steps: bool = True) -> str:
    body = "\n".join("  " + line for line in setup.strip().splitlines())
    check = f"""
```check
id: made
title: the lab's netns {uid}
expect:
  - netns: {{name: {uid}x}}
hints:
  - one
  - two
solution: |
  ip netns add {uid}x
```
""" if steps else ""
    return f"""---
id: lab-{uid}
title: A lab for {uid}
minutes: 1
setup: |
{body}
cleanup: {{netns: [{uid}lab, {uid}x]}}
---
# Lab
{check}"""


def make_lesson(tmp_path: Path, uid: str, setup: str, trusted: bool = True, steps: bool = True):
    path = tmp_path / f"90-lab-{uid}.md"
    path.write_text(lesson_text(uid, setup, steps))
    lesson, problems = parse_lesson(path, trusted=trusted)
    assert lesson is not None and not problems, problems
    return dataclasses.replace(lesson, trusted=trusted)


@pytest.fixture
def lab_cleanup():
    """Lessons made by a test: their declared cleanup runs at teardown, whatever happened."""
    made = []
    yield made
    for lesson in made:
        run_cleanup(lesson)


# --------------------------------------------------------------- the runner
def test_progress_fraction_reads_step_n_of_m():
    assert progress_fraction("step 2/5: node2 on the underlay") == (2, 5)
    assert progress_fraction("3 / 4 routes") == (3, 4)
    assert progress_fraction("Step 7/5: overshoot") == (5, 5)
    assert progress_fraction("node2 on the underlay") is None
    assert progress_fraction("step 1/0: nonsense") is None


@pytest.mark.needs_root
def test_run_setup_streams_progress_lines_while_the_script_runs(tmp_path, uid, lab_cleanup):
    flags = [tmp_path / f"seen{n}" for n in (1, 2)]
    setup = "\n".join([
        "set -e",
        'echo "some output that is not progress"',
        'echo "## step 1/3: the namespace"',
        f"ip netns add {uid}lab",
        WAIT_FOR.format(flag=flags[0], n=1),
        'echo "## step 2/3: its loopback"',
        f"ip -n {uid}lab link set lo up",
        WAIT_FOR.format(flag=flags[1], n=2),
        'printf "## step 3/3: done, no newline at the end"',
    ])
    lesson = make_lesson(tmp_path, uid, setup)
    lab_cleanup.append(lesson)
    seen: list[tuple[str, float]] = []

    def progress(line: str) -> None:
        seen.append((line, time.monotonic()))
        if len(seen) <= len(flags):
            flags[len(seen) - 1].touch()

    started = time.monotonic()
    log = run_setup(lesson, progress=progress)
    ended = time.monotonic()
    assert log.ok, log.errors
    assert [line for line, _ in seen] == ["step 1/3: the namespace", "step 2/3: its loopback",
                                          "step 3/3: done, no newline at the end"]
    assert seen[0][1] < ended and started <= seen[0][1]
    assert Path(f"/run/netns/{uid}lab").exists()
    assert "UP" in sh(f"ip -n {uid}lab link show lo").stdout


@pytest.mark.needs_root
def test_a_failing_setup_reports_its_stderr_and_the_lines_so_far(tmp_path, uid, lab_cleanup):
    lesson = make_lesson(tmp_path, uid, 'echo "## step 1/2: about to fail"\necho "boom: no such thing" >&2\nexit 4')
    lab_cleanup.append(lesson)
    lines: list[str] = []
    log = run_setup(lesson, progress=lines.append)
    assert lines == ["step 1/2: about to fail"]
    assert not log.ok and "exited 4" in log.errors[0] and "boom: no such thing" in log.errors[0]


def test_an_untrusted_lesson_runs_no_setup(tmp_path, uid):
    marker = tmp_path / "ran"
    lesson = make_lesson(tmp_path, uid, f'echo "## step 1/1: x"\ntouch "{marker}"', trusted=False)
    lines: list[str] = []
    log = run_setup(lesson, progress=lines.append)
    assert not log.ok and "not run: its setup" in log.errors[0] and "does not run its shell" in log.errors[0]
    assert lines == [] and not marker.exists()


def test_a_background_job_holding_stdout_does_not_hold_up_the_setup(tmp_path):
    """A long-lived process started by the script keeps its stdout (the progress file): the
    runner must return when the script does, not when the job closes it."""
    pid_file = tmp_path / "bg.pid"
    log = ActionLog()
    lines: list[str] = []
    started = time.monotonic()
    run_script(f'sleep 1009 & echo $! > "{pid_file}"\necho "## step 1/1: started a job"', log, "setup",
               timeout=20, progress=lines.append)
    took = time.monotonic() - started
    try:
        assert log.ok, log.errors
        assert lines == ["step 1/1: started a job"]
        assert took < 5, f"the runner waited {took:.1f} s for the background job"
    finally:
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_setup_that_outlives_its_timeout_is_stopped(tmp_path):
    log = ActionLog()
    lines: list[str] = []
    started = time.monotonic()
    run_script('echo "## step 1/2: then hang"\nexec sleep 30', log, "setup", timeout=0.5, progress=lines.append)
    assert time.monotonic() - started < 5
    assert lines == ["step 1/2: then hang"]
    assert log.errors and "did not finish within" in log.errors[0]


@pytest.mark.needs_root
def test_verify_lesson_prints_the_setup_progress_as_it_happens(tmp_path, uid, lab_cleanup):
    lesson = make_lesson(tmp_path, uid, f'echo "## step 1/2: a namespace"\nip netns add {uid}lab\n'
                                        'echo "## step 2/2: nothing else"')
    lab_cleanup.append(lesson)
    out: list[str] = []
    report = verify_lesson(lesson, echo=out.append)
    assert report.ok, out
    setup = [i for i, line in enumerate(out) if line.startswith("  setup: ")]
    assert [out[i] for i in setup] == ["  setup: running the lesson's setup script",
                                       "  setup: step 1/2: a namespace", "  setup: step 2/2: nothing else"]
    assert out[0].startswith("== lab-") and setup == [1, 2, 3]
    assert not Path(f"/run/netns/{uid}lab").exists()


# --------------------------------------------------------------- the app
def _app(lesson, store_path):
    from tutor.app.app import NstutorApp
    return NstutorApp(lesson.id, store_path=store_path, catalog=Catalog((lesson,), ()), probes=False)


async def _wait(pilot, condition, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def _text(widget) -> str:
    content = widget.content
    return content.plain if hasattr(content, "plain") else str(content)


@pytest.mark.needs_root
async def test_the_app_offers_to_build_a_missing_lab_and_shows_each_line(tmp_path, uid, lab_cleanup):
    from textual.widgets import ProgressBar
    from tutor.app.screens.lesson import LessonScreen
    from tutor.app.screens.modals import ConfirmScreen
    from tutor.app.screens.setup import SetupScreen

    flag = tmp_path / "seen"
    setup = "\n".join([
        'echo "## step 1/2: the namespace"',
        f"ip netns add {uid}lab",
        WAIT_FOR.format(flag=flag, n=1),
        'echo "## step 2/2: its loopback"',
        f"ip -n {uid}lab link set lo up",
    ])
    lesson = make_lesson(tmp_path, uid, setup)
    lab_cleanup.append(lesson)
    app = _app(lesson, tmp_path / "progress.db")
    async with app.run_test(size=(110, 34)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer to build the lab")
        assert "Build the lab?" in _text(app.screen.query_one(".dialog-title"))
        await pilot.press("y")
        await _wait(pilot, lambda: isinstance(app.screen, SetupScreen), what="the setup dialog")
        dialog = app.screen
        # The first line is on screen while the script is still waiting for us: streamed, not at the end.
        await _wait(pilot, lambda: "the namespace" in _text(dialog.query_one("#setup-lines")), what="line 1")
        assert not dialog.finished
        assert dialog.query_one(ProgressBar).total == 2
        await pilot.press("escape")                     # cannot close while it builds
        assert app.screen is dialog
        flag.touch()
        await _wait(pilot, lambda: dialog.finished, timeout=10, what="the setup to finish")
        lines = _text(dialog.query_one("#setup-lines"))
        assert "✔ step 1/2: the namespace" in lines and "✔ step 2/2: its loopback" in lines
        assert "The lab is ready" in _text(dialog.query_one("#setup-status"))
        assert dialog.query_one(ProgressBar).percentage == 1.0
        assert Path(f"/run/netns/{uid}lab").exists()
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, LessonScreen), what="back to the lesson")


@pytest.mark.needs_root
async def test_b_builds_again_and_a_failure_is_shown(tmp_path, uid, lab_cleanup):
    from tutor.app.screens.lesson import LessonScreen
    from tutor.app.screens.setup import SetupScreen

    sh(f"ip netns add {uid}lab")                         # the lab is there: no offer on opening
    lesson = make_lesson(tmp_path, uid, 'echo "## step 1/1: checking"\necho "the underlay is broken" >&2\nexit 1')
    lab_cleanup.append(lesson)
    app = _app(lesson, tmp_path / "progress.db")
    async with app.run_test(size=(110, 34)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, what="the lesson")
        assert isinstance(app.screen, LessonScreen)
        await pilot.press("b")
        await _wait(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.finished, timeout=10,
                    what="the setup to fail")
        dialog = app.screen
        assert not dialog.ok
        status = _text(dialog.query_one("#setup-status"))
        assert "did not finish" in status and "the underlay is broken" in status
        assert "✘ step 1/1: checking" in _text(dialog.query_one("#setup-lines"))
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, LessonScreen), what="back to the lesson")


async def test_lessons_without_a_setup_have_no_build_key(tmp_path):
    from tutor.app.app import NstutorApp
    from tutor.app.screens.lesson import LessonScreen
    app = NstutorApp("netns-veth", store_path=tmp_path / "progress.db", probes=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, LessonScreen), what="the lesson")
        assert "b" not in app.screen.active_bindings
        await pilot.press("b")
        assert isinstance(app.screen, LessonScreen)


def test_the_flannel_lesson_reports_its_progress(tmp_path):
    """The shipped lesson's setup says what it builds, step by step (N/M on every line)."""
    from tutor.lessons import load_catalog
    lesson = load_catalog().find("flannel")
    assert lesson is not None and lesson.trusted and lesson.setup
    marks = [line.strip() for line in lesson.setup.splitlines() if line.strip().startswith('echo "## ')]
    assert len(marks) >= 3
    assert all("/5:" in m for m in marks)
