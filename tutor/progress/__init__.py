"""The learner's progress: a crash-safe SQLite store (store.py) in the learner's XDG data directory,
owned by the learner even under sudo (paths.py)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from .store import ProgressStore, ProgressStoreError, StepProgress

__all__ = ["ProgressStore", "ProgressStoreError", "StepProgress", "begin_lab_change", "end_lab_change",
           "lab_change", "record_check"]


def record_check(lesson, results, *, step: str | None = None, observed_at: float | None = None) -> None:
    """Record an `nstutor check` run in the default store: the learner's own check of the step in
    front of them (*step* when they named it with --step, else the first failing step).

    Progress is a side matter for the command line: whatever goes wrong with the store (an
    unwritable home, a database locked past the busy timeout, a damaged file) becomes one warning
    line on stderr, never an error of `nstutor check` itself.
    """
    try:
        store = ProgressStore.open()
        try:
            store.record_check(lesson, results, source="cli", in_front=step, named=step is not None,
                               explicit=True, observed_at=observed_at)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - see the docstring: the check result matters more
        _warn("this check was not saved to your progress", exc)


def begin_lab_change(lesson_id: str, kind: str, store=None) -> None:
    """A setup, reset or verify-lesson run of a lesson starts: what it changes is never counted as
    the learner's attempts (see ProgressStore.begin_lab_change). *store*: one already open, else the
    default store. A store problem is a warning: the reset itself matters more."""
    _lab_call("begin_lab_change", (lesson_id, kind), kind, store)


def end_lab_change(lesson_id: str, kind: str, store=None) -> None:
    _lab_call("end_lab_change", (lesson_id,), kind, store)


@contextmanager
def lab_change(lesson_id: str, kind: str, store=None) -> Iterator[None]:
    """begin_lab_change() ... end_lab_change() around a block, whatever happens in it."""
    begin_lab_change(lesson_id, kind, store)
    try:
        yield
    finally:
        end_lab_change(lesson_id, kind, store)


def _lab_call(method: str, args: tuple, kind: str, store) -> None:
    try:
        if store is not None:
            getattr(store, method)(*args)
            return
        own = ProgressStore.open()
        try:
            getattr(own, method)(*args)
        finally:
            own.close()
    except Exception as exc:  # noqa: BLE001 - see begin_lab_change
        _warn(f"the {kind} was not noted in your progress", exc)


def _warn(what: str, exc: BaseException) -> None:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    print(f"nstutor: warning: {what}: {reason}", file=sys.stderr)
