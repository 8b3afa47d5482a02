"""What the app knows about one lesson while it is open: each step's latest result and history.

Pure data and rules, no Textual: the lesson screen feeds it grading results and learner
actions (hints, solution), and draws the step list and the step cards from it. Keeping the
rules here (what counts as "broken", when the lesson is "complete") makes them testable
without a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..i18n import _
from ..checks.runner import StepResult, distinct_reasons
from ..lessons import Lesson, Step


class Status(Enum):
    UNCHECKED = "unchecked"   # no grading result yet (the first snapshot is on its way)
    PASSED = "passed"
    FAILING = "failing"       # not done yet
    BROKEN = "broken"         # passed earlier while the lesson was open, fails now


ICONS = {Status.UNCHECKED: "…", Status.PASSED: "✔", Status.FAILING: "✘", Status.BROKEN: "✘"}


def failure_text(verdict) -> str:
    """What a failing expectation says to the learner: its message, else what was seen vs wanted."""
    if verdict.message:
        return verdict.message
    return _("saw {observed}; expected {expected}").format(observed=verdict.observed, expected=verdict.expected)


@dataclass
class StepState:
    step: Step
    result: StepResult | None = None
    passed_before: bool = False       # passed at some point since the lesson was opened
    ever_passed: bool = False         # passed at some point, per the progress store
    hints_shown: int = 0
    solution_viewed: bool = False
    attempts: int = 0

    @property
    def status(self) -> Status:
        if self.result is None:
            return Status.UNCHECKED
        if self.result.passed:
            return Status.PASSED
        return Status.BROKEN if self.passed_before else Status.FAILING

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed

    @property
    def failures(self) -> list[str]:
        if self.result is None or self.result.passed:
            return []
        # several expectations can fail for one reason (the same missing netns): say it once
        return distinct_reasons(failure_text(v) for v in self.result.failures)

    @property
    def hints(self) -> tuple[str, ...]:
        return self.step.hints[: self.hints_shown]

    @property
    def hints_left(self) -> int:
        return max(len(self.step.hints) - self.hints_shown, 0)


@dataclass
class Changes:
    """What one grading round changed, so the screen can say it (toasts) and redraw only that."""
    newly_passed: list[str] = field(default_factory=list)
    newly_broken: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)       # passed steps a setup/reset took back (no alarm)
    changed: list[str] = field(default_factory=list)      # step ids whose result text changed
    completed: bool = False                               # the lesson became complete this round


class LessonState:
    def __init__(self, lesson: Lesson, stored: dict | None = None) -> None:
        self.lesson = lesson
        self.steps: dict[str, StepState] = {s.id: StepState(s) for s in lesson.steps}
        self.rounds = 0
        self.was_complete = False
        for step_id, prog in (stored or {}).items():
            state = self.steps.get(step_id)
            if state is None:
                continue
            state.ever_passed = bool(getattr(prog, "ever_passed", getattr(prog, "passed", False)))
            state.hints_shown = min(int(getattr(prog, "hints_shown", 0) or 0), len(state.step.hints))
            state.solution_viewed = bool(getattr(prog, "solution_viewed", False))
            state.attempts = int(getattr(prog, "attempts", 0) or 0)

    def __iter__(self):
        return iter(self.steps.values())

    def ordered(self) -> list[StepState]:
        return list(self.steps.values())

    @property
    def npassed(self) -> int:
        return sum(s.passed for s in self.steps.values())

    @property
    def complete(self) -> bool:
        return bool(self.steps) and all(s.passed for s in self.steps.values())

    def current(self) -> StepState | None:
        """The step to work on: the first one not passing (None when all pass)."""
        return next((s for s in self.steps.values() if not s.passed), None)

    def apply(self, results) -> Changes:
        """Take one round of results (StepResult per step, in any order)."""
        changes = Changes()
        for res in results:
            state = self.steps.get(res.id)
            if state is None:
                continue
            before = state.result
            if before is None or _result_key(before) != _result_key(res):
                changes.changed.append(res.id)
            if res.passed and not (before is not None and before.passed):
                changes.newly_passed.append(res.id)
            if not res.passed and before is not None and before.passed:
                changes.newly_broken.append(res.id)
            state.result = res
            if res.passed:
                state.passed_before = True
                state.ever_passed = True
        self.rounds += 1
        complete = self.complete
        changes.completed = complete and not self.was_complete
        self.was_complete = complete
        return changes

    def lab_changed(self, changes: Changes) -> None:
        """This round's breaks were made by a setup/reset (the progress store says one ran while
        they happened): the lesson starts again, so they are no alarm, and a step failing now is
        simply not done (not "broken again"), the way the store takes it as a new baseline."""
        changes.undone, changes.newly_broken = changes.newly_broken, []
        for step_id, state in self.steps.items():
            if not state.passed and state.passed_before:
                state.passed_before = False
                if step_id not in changes.changed:      # its card drops "broken again" too
                    changes.changed.append(step_id)

    def show_hint(self, step_id: str) -> str | None:
        """Reveal the next hint of a step; returns it, or None when there are no more."""
        state = self.steps[step_id]
        if state.hints_left == 0:
            return None
        state.hints_shown += 1
        return state.step.hints[state.hints_shown - 1]

    def view_solution(self, step_id: str) -> str:
        state = self.steps[step_id]
        state.solution_viewed = True
        return state.step.solution


def _result_key(res: StepResult) -> tuple:
    return (res.passed, tuple((v.passed, v.message, v.observed) for v in res.verdicts))
