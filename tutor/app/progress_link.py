"""The app's handle on the progress store: never lets a storage problem take the app down.

The store (tutor.progress.store.ProgressStore) writes each event in its own transaction.
The app calls it from the UI thread only, and only for things that happen rarely (a step's
result changing, a hint, a solution, a minute of time), so it never stalls a frame.

If the store cannot be opened or a write fails (a read-only home, a locked database), the
learner is told once and the app goes on, keeping progress in memory for this session.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from ..i18n import _

log = logging.getLogger(__name__)


@dataclass
class MemoryStepProgress:
    passed: bool = False
    ever_passed: bool = False
    first_pass: float | None = None
    attempts: int = 0
    hints_shown: int = 0
    solution_viewed: bool = False


class MemoryStore:
    """Same methods as ProgressStore, kept in memory (used when the real store is unavailable)."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, str], MemoryStepProgress] = {}
        self._last: str | None = None
        self.seconds: dict[str, float] = {}
        self._lab: dict[str, tuple[str, float, float | None]] = {}     # lesson -> (kind, started, done)

    def _get(self, lesson_id: str, step_id: str) -> MemoryStepProgress:
        return self._steps.setdefault((lesson_id, step_id), MemoryStepProgress())

    def record_check(self, lesson, results, source: str = "app", **context) -> None:
        # Only what the screen shows (passed, ever passed); a pass is the one attempt it counts.
        for res in results:
            prog = self._get(lesson.id, res.id)
            if res.passed and not prog.passed:
                prog.attempts += 1
            if res.passed and not prog.ever_passed:
                prog.ever_passed, prog.first_pass = True, time.time()
            prog.passed = res.passed

    def begin_lab_change(self, lesson_id: str, kind: str) -> float:
        self._lab[lesson_id] = (kind, time.time(), None)
        return self._lab[lesson_id][1]

    def end_lab_change(self, lesson_id: str) -> None:
        if lesson_id in self._lab:
            kind, started, _ = self._lab[lesson_id]
            self._lab[lesson_id] = (kind, started, time.time())

    def lab_change_between(self, lesson_id: str, since: float | None, until: float):
        """As ProgressStore.lab_change_between, for this app's own changes (others cannot be seen)."""
        if lesson_id not in self._lab:
            return None
        try:
            from ..progress.attempts import LabChange
            from ..progress.store import LAB_CHANGE_STALE
        except ImportError:      # no sqlite3 (tutor.progress needs it): the alarms stay as they were
            return None
        change = LabChange(*self._lab[lesson_id])
        return change if change.ran_between(since, until, time.time(), LAB_CHANGE_STALE) else None

    def record_hint(self, lesson_id: str, step_id: str, level: int) -> None:
        prog = self._get(lesson_id, step_id)
        prog.hints_shown = max(prog.hints_shown, level)

    def record_solution(self, lesson_id: str, step_id: str) -> None:
        self._get(lesson_id, step_id).solution_viewed = True

    def add_time(self, lesson_id: str, seconds: float) -> None:
        self.seconds[lesson_id] = self.seconds.get(lesson_id, 0.0) + seconds

    def set_last_lesson(self, lesson_id: str) -> None:
        self._last = lesson_id

    def last_lesson(self) -> str | None:
        return self._last

    def lesson_progress(self, lesson) -> dict:
        return {s.id: self._steps[(lesson.id, s.id)] for s in lesson.steps if (lesson.id, s.id) in self._steps}

    def close(self) -> None:
        pass


class Progress:
    """Wraps a store; every call is guarded. `problem` holds the first failure, for the UI to show."""

    def __init__(self, store, problem: str | None = None) -> None:
        self.store = store
        self.problem = problem
        self._warned = False
        self._own_lab_changes: set[tuple[str, float]] = set()    # (lesson, started) this app began

    @classmethod
    def open(cls, path: Path | str | None = None) -> "Progress":
        try:
            from ..progress.store import ProgressStore
        except ImportError:
            return cls(MemoryStore(), None)
        try:
            return cls(ProgressStore.open(path))
        except Exception as exc:  # noqa: BLE001 - any storage failure: go on in memory
            return cls(MemoryStore(), _("progress cannot be saved ({error}); it is kept for this session only").format(
                error=exc))

    def _call(self, method: str, *args, default=None):
        try:
            return getattr(self.store, method)(*args)
        except Exception as exc:  # noqa: BLE001
            self._failed(method, exc)
            return default

    def _failed(self, method: str, exc: BaseException) -> None:
        log.warning("progress store %s failed: %r", method, exc)
        if self.problem is None:
            self.problem = _("progress could not be saved ({error})").format(error=exc)

    def take_problem(self) -> str | None:
        """The first storage problem, once (so the UI says it one time)."""
        if self.problem and not self._warned:
            self._warned = True
            return self.problem
        return None

    def record_check(self, lesson, results, *, in_front: str | None = None, explicit: bool = False,
                     observed_at: float | None = None) -> None:
        """Hand every grading round over with what the learner is doing: the step *in_front* of
        them (selected), whether they asked for this grade (*explicit*: `c`), and when the graded
        snapshot was taken. The store decides what is an attempt (source "app")."""
        try:
            self.store.record_check(lesson, list(results), "app", in_front=in_front, explicit=explicit,
                                    observed_at=observed_at)
        except Exception as exc:  # noqa: BLE001 - same as _call
            self._failed("record_check", exc)

    def begin_lab_change(self, lesson_id: str, kind: str) -> None:
        """A reset or build of the lesson starts: what it changes is not the learner's attempt."""
        started = self._call("begin_lab_change", lesson_id, kind)
        if started is not None:
            self._own_lab_changes.add((lesson_id, started))

    def lab_change_between(self, lesson_id: str, since: float | None, until: float):
        """The setup/reset of *lesson_id* that ran between *since* and *until* (a step seen passing,
        then failing), or None: the store's record (ProgressStore.lab_change_between), with
        `by_this_app` set when this app began it (its reset or build, not another shell)."""
        change = self._call("lab_change_between", lesson_id, since, until)
        if change is None:
            return None
        return replace(change, by_this_app=(lesson_id, change.started) in self._own_lab_changes)

    def end_lab_change(self, lesson_id: str) -> None:
        self._call("end_lab_change", lesson_id)

    def record_hint(self, lesson_id: str, step_id: str, level: int) -> None:
        self._call("record_hint", lesson_id, step_id, level)

    def record_solution(self, lesson_id: str, step_id: str) -> None:
        self._call("record_solution", lesson_id, step_id)

    def add_time(self, lesson_id: str, seconds: float) -> None:
        if seconds > 0:
            self._call("add_time", lesson_id, seconds)

    def set_last_lesson(self, lesson_id: str) -> None:
        self._call("set_last_lesson", lesson_id)

    def last_lesson(self) -> str | None:
        return self._call("last_lesson")

    def lesson_progress(self, lesson) -> dict:
        return self._call("lesson_progress", lesson, default={}) or {}

    def steps_passed(self, lesson) -> int:
        progress = self.lesson_progress(lesson)
        return sum(1 for s in lesson.steps if getattr(progress.get(s.id), "ever_passed", False))

    def should_ask_name(self) -> bool:
        """True once: a real store that has no display name and has never asked for one."""
        if isinstance(self.store, MemoryStore):
            return False
        return self._call("learner_name") is None and self._call("name_asked", default=True) is False

    def set_learner_name(self, name: str) -> str | None:
        """Store the display name; the reason it cannot be used, or None."""
        try:
            self.store.set_learner_name(name)
        except ValueError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - a storage problem, said once like the others
            if self.problem is None:
                self.problem = _("progress could not be saved ({error})").format(error=exc)
        return None

    def set_language(self, code: str) -> bool:
        """Remember the app's language (the L key), as `nstutor lang` does; False: not remembered
        (a session without a store, or it failed)."""
        if isinstance(self.store, MemoryStore):
            return False
        try:
            self.store.set_language(code)
        except Exception as exc:  # noqa: BLE001 - the store's trouble is said, never raised
            self._failed("set_language", exc)
            return False
        return True

    def mark_name_asked(self) -> None:
        self._call("mark_name_asked")

    def close(self) -> None:
        self._call("close")
