"""The live loop (tutor.app.live_checker) and the lesson state (tutor.app.state), without a terminal.

The loop is fed a snapshot source the test controls, so what it does each round (grade,
probe or not, report a failure, stop) can be counted exactly; a counting `active`
expectation stands in for the reachable probe, so no packet is sent.
"""
from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest

from test_app_scenes import empty, welcome_done
from tutor.app.live_checker import LiveChecker
from tutor.app.state import LessonState, Status
from tutor.checks.base import Expectation, Verdict
from tutor.checks.runner import grade_step
from tutor.lessons import Lesson, Step, load_catalog


class CountingProbe(Expectation):
    """An `active` expectation that passes when told to, and counts how often it really probed."""
    kind = "counting-probe"
    active = True

    def __init__(self, passes: bool = True) -> None:
        super().__init__({})
        self.passes = passes
        self.probes = 0

    def grade(self, snap) -> Verdict:
        self.probes += 1
        return Verdict(self.kind, self.passes, "a probe answers", "answered" if self.passes else "silence",
                       "" if self.passes else "no answer: check the earlier steps")


def lesson_with(*expectations) -> Lesson:
    step = Step("probe", "Probe something", tuple(expectations), ("a hint",), "do it", line=1)
    return Lesson("fake", "A fake lesson", 1, Path("/nonexistent/99-fake.md"), 99, "", (step,))


class Updates:
    """Collects what the loop delivers; `next()` waits (with a deadline) for the next one."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()

    def __call__(self, update) -> None:
        self.q.put(update)

    def next(self, timeout: float = 3.0):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no live update within {timeout}s")


@pytest.fixture
def loop():
    made = []

    def make(source, **kw):
        updates = Updates()
        checker = LiveChecker(updates, source, **kw)
        made.append(checker)
        return checker, updates

    yield make
    for checker in made:
        checker.stop()
        assert not checker.running


def test_grades_the_lesson_every_interval_without_being_asked(loop):
    welcome = load_catalog().find("welcome")
    checker, updates = loop(lambda: welcome_done(), interval=0.05)
    checker.set_lesson(welcome)
    checker.start()
    first, second = updates.next(), updates.next()
    assert second.seq == first.seq + 1 and second.previous is first.snap
    assert [r.id for r in first.results] == ["made", "lo-up"] and all(r.passed for r in first.results)
    assert first.lesson_id == "welcome" and not first.explicit


def test_no_lesson_means_no_snapshots(loop):
    calls = []
    checker, updates = loop(lambda: calls.append(1) or empty(), interval=0.02)
    checker.start()
    checker.request()
    with pytest.raises(queue.Empty):
        updates.q.get(timeout=0.3)
    assert calls == []


def test_probes_run_on_request_or_at_most_every_probe_interval(loop):
    probe = CountingProbe()
    checker, updates = loop(lambda: empty(), interval=0.02, probe_interval=3600)
    checker.set_lesson(lesson_with(probe))
    checker.start()
    first = updates.next()
    assert first.probed and probe.probes == 1            # a newly opened lesson is probed once
    for _ in range(5):
        later = updates.next()
        assert not later.probed and later.results[0].passed  # the last probe's verdict is reused
    assert probe.probes == 1
    checker.request(explicit=True)
    while not (upd := updates.next()).explicit:
        pass
    assert upd.probed and probe.probes == 2


def test_probes_can_be_switched_off_for_frozen_scenes(loop):
    probe = CountingProbe()
    checker, updates = loop(lambda: empty(), interval=0.02, probes=False)
    checker.set_lesson(lesson_with(probe))
    checker.start()
    checker.request(explicit=True)
    for _ in range(3):
        upd = updates.next()
    assert probe.probes == 0
    assert not upd.results[0].passed and "not probed" in upd.results[0].verdicts[0].observed


def test_a_failing_snapshot_is_reported_and_the_loop_goes_on(loop):
    calls = []

    def source():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("simulated: /proc went away")
        return empty()

    checker, updates = loop(source, interval=0.02)
    checker.set_lesson(load_catalog().find("welcome"))
    checker.start()
    bad = updates.next()
    assert bad.snap is None and "simulated" in bad.error
    good = updates.next()
    assert good.snap is not None and good.error is None


def test_pause_stops_observing_and_resume_rechecks_at_once(loop):
    calls = []
    checker, updates = loop(lambda: calls.append(1) or empty(), interval=0.05)
    checker.set_lesson(load_catalog().find("welcome"))
    checker.start()
    updates.next()
    checker.pause()
    time.sleep(0.1)                     # a round already under way may still deliver: let it, then drain
    while not updates.q.empty():
        updates.q.get()
    before = len(calls)
    with pytest.raises(queue.Empty):
        updates.q.get(timeout=0.3)      # paused: nothing for several intervals
    assert len(calls) == before
    checker.resume()
    assert updates.next().explicit


def test_wakeups_in_a_burst_are_collapsed(loop):
    calls = []
    checker, updates = loop(lambda: calls.append(time.monotonic()) or empty(), interval=10)
    checker.set_lesson(load_catalog().find("welcome"))
    checker.start()
    updates.next()
    for _ in range(50):
        checker.request()
    time.sleep(0.35)                    # the measurement window, not a wait for a condition
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert len(calls) <= 5 and all(g >= 0.09 for g in gaps)


def test_stop_from_another_thread_ends_the_loop(loop):
    checker, updates = loop(lambda: empty(), interval=0.02)
    checker.set_lesson(load_catalog().find("welcome"))
    checker.start()
    updates.next()
    t = threading.Thread(target=checker.stop)
    t.start()
    t.join(5)
    assert not checker.running


# --------------------------------------------------------------- the lesson state
def results(lesson, snap):
    return [grade_step(s, snap, probes=False) for s in lesson.steps]


def test_state_turns_green_then_broken_and_knows_when_complete():
    welcome = load_catalog().find("welcome")
    state = LessonState(welcome)
    assert [s.status for s in state] == [Status.UNCHECKED, Status.UNCHECKED]
    changes = state.apply(results(welcome, empty()))
    assert [s.status for s in state] == [Status.FAILING, Status.FAILING] and not changes.completed
    assert state.current().step.id == "made"
    changes = state.apply(results(welcome, welcome_done()))
    assert changes.newly_passed == ["made", "lo-up"] and changes.completed and state.complete
    assert state.apply(results(welcome, welcome_done())).changed == []       # nothing new: nothing to redraw
    changes = state.apply(results(welcome, empty()))
    assert changes.newly_broken == ["made", "lo-up"] and not state.complete
    assert state.steps["made"].status is Status.BROKEN
    assert "ip netns add hello" in state.steps["made"].failures[0]


def test_state_reads_hints_and_solution_back_from_the_store():
    welcome = load_catalog().find("welcome")

    class Stored:
        passed = False
        ever_passed = True
        hints_shown = 5            # more than the step has: clamped
        solution_viewed = True
        attempts = 3

    state = LessonState(welcome, {"made": Stored()})
    made = state.steps["made"]
    assert made.hints_shown == len(made.step.hints) and made.hints_left == 0 and made.solution_viewed
    assert made.ever_passed and made.status is Status.UNCHECKED
    assert state.show_hint("made") is None
    assert state.show_hint("lo-up") == state.steps["lo-up"].step.hints[0]


# --------------------------------------------------------------- storage trouble never stops the app
def test_a_failing_store_is_reported_once_and_never_raises():
    from tutor.app.progress_link import Progress

    class Broken:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise OSError("database is locked")
            return fail

    progress = Progress(Broken())
    welcome = load_catalog().find("welcome")
    progress.record_check(welcome, results(welcome, empty()))
    progress.record_hint("welcome", "made", 1)
    assert progress.lesson_progress(welcome) == {} and progress.last_lesson() is None
    assert progress.steps_passed(welcome) == 0
    problem = progress.take_problem()
    assert "database is locked" in problem
    assert progress.take_problem() is None


def test_the_app_needs_a_terminal_and_says_so():
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "tutor", "welcome"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert res.returncode == 2
    assert "needs a terminal" in res.stderr and "nstutor check" in res.stderr
    assert "Traceback" not in res.stderr
