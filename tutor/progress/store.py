"""The learner's progress: one SQLite file that survives crashes, sudo and a second window.

What an *attempt* is
--------------------
An attempt is what the learner does to a step, never what nstutor does: it is **the learner's own
check** of the step in front of them, or **a change to the machine state the step looks at while
it is the step in front of them**. Re-grades of unchanged state, of steps not in front (not yet
reached, or already done), and of anything changed by a setup or a reset are not attempts. A
learner who makes no mistake records 0 failed attempts.

* *In front*: in the app, the step the learner has selected (the app selects the first step not
  passed, and moves on when it passes). ``nstutor check LESSON --step S``: S (the learner named it).
  ``nstutor check LESSON``: the first failing step; later failing steps are not reached yet. The
  command line sees the machine only when asked, so a step that was not in front at the learner's
  previous check starts from its state now (earlier steps' progress moved it): only from the next
  check on can it count a failure.
* *The state the step looks at*: the facts its failing verdicts show (kind, expected, observed,
  message), not the whole snapshot. Measured values (a number with a decimal point followed by
  ``%`` or ``s``: CPU use and its window) are left out: they move without the learner. So is a
  verdict's ``context``, the listing of other objects it shows for orientation ("the host has
  docker0, eth0, lo" beside "no nsbr0", every netns beside "no netns RED"): an interface or
  namespace that something else adds and removes (every ``docker run``) is not the learner changing
  the step; the step's own objects, and near misses of their names, are.
* Each step keeps a *trail*: the states it went through since its current attempt began, the
  first being its *baseline* (the state when nstutor first saw it, when it came in front, or after
  a setup/reset). While a step is not in front, its baseline simply follows the machine.
* A **pass** is always recorded (one passed attempt, with its evidence) when a step turns green,
  wherever it is, unless a setup/reset made it so; a step that stays green records nothing more.
* A **failed attempt** at the step in front is recorded when
  - the learner checks it (the app's ``c``, ``nstutor check``) and it fails in a state that differs
    from its baseline (checking a step the learner has not touched, or checking the same state
    twice, is not a new attempt); or
  - its state goes back to one it was in earlier in the trail: the learner undid a change, so that
    detour was a mistake (one failed attempt per detour, carrying the failures of the state left;
    none when a check already counted part of that detour: it is the same mistake).
  A half-done step (one of two namespaces made, a veth end not yet moved) is not a failure: a
  change that moves the step forward never counts by itself. A step graded for the first time is
  its baseline, except that ``--step S`` of a step never seen is a failed attempt when it fails
  (the learner named it; nothing shows it untouched).
* **Setup and reset** done through nstutor (``nstutor reset``/``setup``, the app's reset and build,
  ``verify-lesson``) call ``begin_lab_change()`` / ``end_lab_change()``: what is graded in between,
  or from a snapshot taken before the end, only updates the latest outcome, and the end clears every
  trail of the lesson, so the first state seen afterwards is the new baseline. A change left open
  (a crash) stops counting after ``LAB_CHANGE_STALE`` seconds. The app asks the same record
  (``lab_change_between()``) before it calls a passed step "broken": a break a lab change made is
  the lesson starting again, no alarm.

The app grades about once a second; a grade that changes none of this writes nothing (a change in
failure wording alone refreshes the latest message at most once a minute).

Probes (the ``reachable`` kind) only run when asked for; a verdict the runner marks "not probed" is
unknown, not failed: it is left out of the failures, a step whose only failures are unprobed is not
recorded at all, and an unprobed kind is ignored when comparing with earlier states (so pressing
"check" and the next background grade do not flip-flop).

The lesson's ``content_hash`` is kept per lesson. When a check is recorded against a different
version of the lesson file, the store adopts the new hash, keeps the old one and the time, and
``lesson_changed()`` says so (before that record, and for the rest of that store's life).

Durability: WAL journal, ``synchronous=FULL`` (a commit is on disk before record_* returns), a busy
timeout, and every record in one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front,
so a second window waits for it instead of failing on a read-to-write upgrade). The schema carries a
version in ``meta``; ``MIGRATIONS`` brings any older file up to date.

Nothing private is stored: no environment, no command lines except what a verdict's evidence holds
(which describes the learner's own lesson objects).
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..i18n import META_KEY as LANGUAGE_KEY
from .settings import LESSON_FOLDERS_KEY, decode_folders
from .attempts import MESSAGE_ONLY_INTERVAL, NOT_PROBED  # noqa: F401 - re-exported for callers and tests
from .attempts import Context, LabChange, Latest, decide, outcome
from .paths import ENV_DATA_DIR, StoreLocation, hand_over, location_for, make_directory, unwritable_parent

BUSY_TIMEOUT = 5.0                 # seconds a writer waits for another nstutor window's transaction
MAX_NAME_LENGTH = 80
SOURCES = ("app", "cli")
LAB_CHANGES = ("reset", "setup", "verify")
LAB_CHANGE_STALE = 900.0           # seconds after which a setup/reset that never ended stops counting

# Each entry brings the schema from version i to i + 1. Never edit a released entry: append one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE meta (
               key   TEXT PRIMARY KEY,
               value TEXT NOT NULL)""",
        """CREATE TABLE lessons (
               lesson_id       TEXT PRIMARY KEY,
               content_hash    TEXT NOT NULL DEFAULT '',   -- version the latest record was made against
               previous_hash   TEXT,                       -- the version before, once it changed
               hash_changed_at REAL,
               seconds_spent   REAL NOT NULL DEFAULT 0,
               first_seen      REAL NOT NULL,
               last_seen       REAL NOT NULL)""",
        """CREATE TABLE steps (
               lesson_id          TEXT NOT NULL,
               step_id            TEXT NOT NULL,
               first_pass         REAL,
               hints_shown        INTEGER NOT NULL DEFAULT 0,  -- highest hint level shown
               solution_viewed_at REAL,
               last_passed        INTEGER,                     -- latest outcome (NULL: none yet)
               last_failures      TEXT NOT NULL DEFAULT '[]',  -- its failures: JSON [[kind, message]...]
               last_message       TEXT,
               last_at            REAL,
               PRIMARY KEY (lesson_id, step_id))""",
        """CREATE TABLE attempts (
               id           INTEGER PRIMARY KEY,
               at           REAL NOT NULL,
               lesson_id    TEXT NOT NULL,
               step_id      TEXT NOT NULL,
               source       TEXT NOT NULL,
               passed       INTEGER NOT NULL,
               failures     TEXT NOT NULL DEFAULT '[]',   -- JSON [{"kind", "message"}]
               evidence     TEXT,                         -- pass: JSON [{"kind", "observed", "evidence"}]
               content_hash TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX attempts_by_step ON attempts (lesson_id, step_id, id)",
        """CREATE TABLE events (
               id        INTEGER PRIMARY KEY,
               at        REAL NOT NULL,
               lesson_id TEXT NOT NULL,
               step_id   TEXT,
               kind      TEXT NOT NULL,                   -- 'hint' | 'solution'
               level     INTEGER)""",
    ),
    (
        # Honest attempts (see the module docstring): the states a step went through since its
        # current attempt began, and the open/closed setup-or-reset window of each lesson.
        "ALTER TABLE steps ADD COLUMN trail TEXT NOT NULL DEFAULT '[]'",   # JSON [[state entry, ...], ...]
        "ALTER TABLE lessons ADD COLUMN lab_change_started REAL",
        "ALTER TABLE lessons ADD COLUMN lab_change_done REAL",
        "ALTER TABLE lessons ADD COLUMN cli_front TEXT",  # the step in front at the latest `nstutor check`
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class ProgressStoreError(Exception):
    """The store cannot be opened or written; the message says where and why, in one line."""


@dataclass(frozen=True)
class StepProgress:
    passed: bool = False               # passing per the latest recorded outcome
    ever_passed: bool = False
    first_pass: float | None = None    # epoch seconds
    attempts: int = 0
    failed_attempts: int = 0
    hints_shown: int = 0               # highest hint level shown (0: none)
    solution_viewed: bool = False
    last_message: str | None = None    # first failure of the latest outcome, None when it passed


def clean_name(name: str) -> str:
    """A display name as stored, or ValueError saying what is wrong with it."""
    name = " ".join(str(name).split())
    if not name:
        raise ValueError("the name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if any(not ch.isprintable() for ch in name):
        raise ValueError("the name contains control characters")
    return name


class ProgressStore:
    """The learner's progress database. Safe to share between threads (one lock) and between
    processes (SQLite locking); open one per process with ProgressStore.open()."""

    def __init__(self, conn: sqlite3.Connection, location: StoreLocation):
        self._conn = conn
        self._lock = threading.RLock()
        self.location = location
        self.path: Path = location.database
        self._changed_lessons: set[str] = set()     # lessons whose new version this store adopted
        self._known_hash: dict[str, str] = {}       # lesson id -> hash known to be stored

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, *, timeout: float | None = None) -> "ProgressStore":
        """Open (creating if needed) the store at *path*, a database file; None: the default place
        (see tutor.progress.paths). *timeout*: seconds to wait for another window's write (default
        BUSY_TIMEOUT). Raises ProgressStoreError with a one-line reason."""
        timeout = BUSY_TIMEOUT if timeout is None else timeout
        location = location_for(path)
        db = location.database
        try:
            make_directory(location)
            _create_file(db, location)
            conn = sqlite3.connect(db, timeout=timeout, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            fix = ""
            blocker = unwritable_parent(location.directory) if isinstance(exc, PermissionError) else None
            if blocker is not None:
                # The directory is not there and cannot be made: the parent is the cause, not an owner.
                try:
                    st = blocker.stat()
                    owned = f" (owned by {st.st_uid}:{st.st_gid}, mode {stat.S_IMODE(st.st_mode):o})"
                except OSError:
                    owned = ""
                fix = (f"; {location.directory} does not exist and cannot be made: {blocker}{owned} is not "
                       f"writable by you (uid {os.geteuid()}); set {ENV_DATA_DIR} to a directory you can write")
            elif isinstance(exc, PermissionError) and os.geteuid() != 0:
                # Typically left behind by an nstutor that ran as root without sudo (su, a root login).
                fix = f"; to take it back: sudo chown -R {os.getuid()}:{os.getgid()} {location.directory}"
            raise ProgressStoreError(f"cannot open the progress store {db}: {_reason(exc)}{fix}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")   # stays rollback-journal where WAL is impossible
            conn.execute("PRAGMA synchronous = FULL")
            _migrate(conn, db)
            # -wal and -shm now exist (the migration check read the file): they are the learner's too.
            for suffix in ("", "-wal", "-shm"):
                hand_over(Path(f"{db}{suffix}"), location.owner)
        except (OSError, sqlite3.Error, ProgressStoreError) as exc:
            conn.close()
            if isinstance(exc, ProgressStoreError):
                raise
            raise ProgressStoreError(f"cannot open the progress store {db}: {_reason(exc)}") from exc
        return cls(conn, location)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "ProgressStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """Serialise threads and turn database trouble into ProgressStoreError."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise ProgressStoreError(f"progress store {self.path}: {_reason(exc)}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything in it is on disk, or none of it is."""
        with self._guard() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _touch_lesson(self, conn: sqlite3.Connection, lesson_id: str, now: float) -> None:
        conn.execute("INSERT INTO lessons (lesson_id, first_seen, last_seen) VALUES (?, ?, ?) "
                     "ON CONFLICT (lesson_id) DO UPDATE SET last_seen = excluded.last_seen",
                     (lesson_id, now, now))

    def _adopt_hash(self, conn: sqlite3.Connection, lesson, now: float) -> None:
        self._touch_lesson(conn, lesson.id, now)
        new = lesson.content_hash or ""
        row = conn.execute("SELECT content_hash FROM lessons WHERE lesson_id = ?", (lesson.id,)).fetchone()
        old = row[0] if row else ""
        if new and old != new:
            if old:
                conn.execute("UPDATE lessons SET previous_hash = ?, hash_changed_at = ? WHERE lesson_id = ?",
                             (old, now, lesson.id))
                self._changed_lessons.add(lesson.id)
            conn.execute("UPDATE lessons SET content_hash = ? WHERE lesson_id = ?", (new, lesson.id))
        self._known_hash[lesson.id] = new or old

    def _hash_settled(self, lesson) -> bool:
        """This store already wrote (or found) the lesson's current hash: nothing to adopt."""
        known = self._known_hash.get(lesson.id)
        return known is not None and (not lesson.content_hash or known == lesson.content_hash)

    def _latest(self, conn: sqlite3.Connection, lesson_id: str) -> dict[str, Latest]:
        rows = conn.execute("SELECT step_id, last_passed, last_failures, last_at, trail FROM steps "
                            "WHERE lesson_id = ? AND last_passed IS NOT NULL", (lesson_id,))
        return {step: Latest(bool(passed), tuple(tuple(f) for f in json.loads(failures)), at or 0.0,
                             tuple(tuple(state) for state in json.loads(trail or "[]")))
                for step, passed, failures, at, trail in rows}

    def _in_lab_change(self, conn: sqlite3.Connection, lesson_id: str, observed_at: float, now: float) -> bool:
        """Was the state graded at *observed_at* made (or being made) by a setup/reset?"""
        row = conn.execute("SELECT lab_change_started, lab_change_done FROM lessons WHERE lesson_id = ?",
                           (lesson_id,)).fetchone()
        if not row or row[0] is None:
            return False
        started, done = row
        if done is None or done < started:
            return now - started < LAB_CHANGE_STALE       # still running (unless it crashed long ago)
        return observed_at < done                          # a snapshot taken before it ended

    def lab_change_between(self, lesson_id: str, since: float | None, until: float) -> LabChange | None:
        """The latest setup/reset/verify-lesson of *lesson_id* if it ran at some moment between *since*
        and *until* (epoch seconds: when a step was last seen passing, and first seen failing), else
        None. The app asks this when a passed step fails, so that a break made by a lab change is
        no alarm, by the same record that makes it no attempt here (LabChange.ran_between)."""
        with self._guard() as conn:
            row = conn.execute("SELECT lab_change_started, lab_change_done FROM lessons WHERE lesson_id = ?",
                               (lesson_id,)).fetchone()
            if not row or row[0] is None:
                return None
            kind = conn.execute("SELECT kind FROM events WHERE lesson_id = ? AND at = ? ORDER BY id DESC LIMIT 1",
                                (lesson_id, row[0])).fetchone()
        change = LabChange(kind[0] if kind else "reset", row[0], row[1])
        return change if change.ran_between(since, until, time.time(), LAB_CHANGE_STALE) else None

    # ------------------------------------------------------------------ recording checks
    def record_check(self, lesson, results: Sequence, source: str = "app", *, in_front: str | None = None,
                     named: bool = False, explicit: bool | None = None,
                     observed_at: float | None = None) -> int:
        """Record graded *results* (StepResult) of *lesson*; returns how many attempts were written.

        *in_front*: the step in front of the learner (the app: the selected step; `check --step S`:
        S, with *named*); None: the first failing step. *explicit*: the learner asked for this grade
        (default: True for source "cli"). *observed_at*: when the graded snapshot was taken (epoch
        seconds; default now). The module docstring says what counts as an attempt."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        now = time.time()
        observed_at = now if observed_at is None else observed_at
        outcomes = [outcome(r) for r in results]
        if in_front is None:
            in_front = next((o.step_id for o in outcomes if o.passed is False), None)
        if explicit is None:
            explicit = source == "cli"

        def decisions(conn):
            arrived = False
            if source == "cli" and not named:
                row = conn.execute("SELECT cli_front FROM lessons WHERE lesson_id = ?", (lesson.id,)).fetchone()
                # NULL: never checked from the command line; '': everything passed at the last check
                # (a step failing now broke after it, in front of the learner).
                arrived = not row or row[0] is None or row[0] not in ("", in_front)
            ctx = Context(in_front, explicit, named=named, arrived=arrived, now=now,
                          lab_change=self._in_lab_change(conn, lesson.id, observed_at, now))
            latest = self._latest(conn, lesson.id)
            return [(o, latest.get(o.step_id), decide(o, latest.get(o.step_id), ctx)) for o in outcomes]

        # Cheap read first: a second-by-second grade that changed nothing writes nothing.
        with self._guard() as conn:
            if source == "app" and self._hash_settled(lesson) and all(d is None for _, _, d in decisions(conn)):
                return 0
        written = 0
        with self._write() as conn:
            self._adopt_hash(conn, lesson, now)
            if source == "cli":
                from_before = decisions(conn)      # decided against the previous check's step in front
                conn.execute("UPDATE lessons SET cli_front = ? WHERE lesson_id = ?", (in_front or "", lesson.id))
            for o, old, d in (from_before if source == "cli" else decisions(conn)):   # inside the transaction
                if d is None:
                    continue
                if d.attempt is not None:
                    conn.execute(
                        "INSERT INTO attempts (at, lesson_id, step_id, source, passed, failures, evidence, "
                        "content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (now, lesson.id, o.step_id, source, int(d.attempt == "pass"),
                         json.dumps([{"kind": k, "message": m} for k, m in d.failures]),
                         json.dumps(list(o.evidence), sort_keys=True) if d.attempt == "pass" else None,
                         lesson.content_hash or ""))
                    written += 1
                trail = d.trail if d.trail is not None else (old.trail if old is not None else ())
                conn.execute(
                    "INSERT INTO steps (lesson_id, step_id, first_pass, last_passed, last_failures, last_message, "
                    "last_at, trail) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (lesson_id, step_id) DO UPDATE SET "
                    "first_pass = COALESCE(steps.first_pass, excluded.first_pass), "
                    "last_passed = excluded.last_passed, last_failures = excluded.last_failures, "
                    "last_message = excluded.last_message, last_at = excluded.last_at, trail = excluded.trail",
                    (lesson.id, o.step_id, now if d.attempt == "pass" else None, int(bool(o.passed)),
                     json.dumps([list(f) for f in o.failures]), o.message, now,
                     json.dumps([list(state) for state in trail])))
        return written

    def begin_lab_change(self, lesson_id: str, kind: str) -> float:
        """A setup, reset or verify-lesson run (*kind*) starts changing *lesson_id*'s objects: what
        is graded until end_lab_change() is not the learner's doing (an event row keeps it).
        Returns when it started (LabChange.started, so the app knows its own)."""
        if kind not in LAB_CHANGES:
            raise ValueError(f"kind must be one of {LAB_CHANGES}, not {kind!r}")
        now = time.time()
        with self._write() as conn:
            self._touch_lesson(conn, lesson_id, now)
            conn.execute("UPDATE lessons SET lab_change_started = ?, lab_change_done = NULL WHERE lesson_id = ?",
                         (now, lesson_id))
            conn.execute("INSERT INTO events (at, lesson_id, step_id, kind) VALUES (?, ?, NULL, ?)",
                         (now, lesson_id, kind))
        return now

    def end_lab_change(self, lesson_id: str) -> None:
        """The change is over: the first state each step shows from now on is its new baseline."""
        now = time.time()
        with self._write() as conn:
            self._touch_lesson(conn, lesson_id, now)
            conn.execute("UPDATE lessons SET lab_change_done = ? WHERE lesson_id = ?", (now, lesson_id))
            conn.execute("UPDATE steps SET trail = '[]' WHERE lesson_id = ?", (lesson_id,))

    def lesson_changed(self, lesson) -> bool:
        """True when the progress kept for *lesson* was recorded against another version of its file
        (until a check against this version is recorded; then for the rest of this store's life)."""
        if lesson.id in self._changed_lessons:
            return True
        if not lesson.content_hash:
            return False
        with self._guard() as conn:
            row = conn.execute("SELECT content_hash FROM lessons WHERE lesson_id = ?", (lesson.id,)).fetchone()
        return bool(row and row[0] and row[0] != lesson.content_hash)

    # ------------------------------------------------------------------ hints, solutions, time
    def record_hint(self, lesson_id: str, step_id: str, level: int) -> None:
        level = max(int(level), 0)
        now = time.time()
        with self._write() as conn:
            self._touch_lesson(conn, lesson_id, now)
            conn.execute("INSERT INTO steps (lesson_id, step_id, hints_shown) VALUES (?, ?, ?) "
                         "ON CONFLICT (lesson_id, step_id) DO UPDATE SET "
                         "hints_shown = MAX(steps.hints_shown, excluded.hints_shown)", (lesson_id, step_id, level))
            conn.execute("INSERT INTO events (at, lesson_id, step_id, kind, level) VALUES (?, ?, ?, 'hint', ?)",
                         (now, lesson_id, step_id, level))

    def record_solution(self, lesson_id: str, step_id: str) -> None:
        now = time.time()
        with self._write() as conn:
            self._touch_lesson(conn, lesson_id, now)
            conn.execute("INSERT INTO steps (lesson_id, step_id, solution_viewed_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (lesson_id, step_id) DO UPDATE SET "
                         "solution_viewed_at = COALESCE(steps.solution_viewed_at, excluded.solution_viewed_at)",
                         (lesson_id, step_id, now))
            conn.execute("INSERT INTO events (at, lesson_id, step_id, kind) VALUES (?, ?, ?, 'solution')",
                         (now, lesson_id, step_id))

    def add_time(self, lesson_id: str, seconds: float) -> None:
        """Add *seconds* spent on a lesson (ignored unless a positive, finite number)."""
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds <= 0:
            return
        now = time.time()
        with self._write() as conn:
            self._touch_lesson(conn, lesson_id, now)
            conn.execute("UPDATE lessons SET seconds_spent = seconds_spent + ? WHERE lesson_id = ?",
                         (seconds, lesson_id))

    def time_spent(self, lesson_id: str) -> float:
        with self._guard() as conn:
            row = conn.execute("SELECT seconds_spent FROM lessons WHERE lesson_id = ?", (lesson_id,)).fetchone()
        return float(row[0]) if row else 0.0

    # ------------------------------------------------------------------ learner and session
    def _get_meta(self, key: str) -> str | None:
        with self._guard() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def language(self) -> str | None:
        """`nstutor lang`'s remembered choice (tutor/i18n.py reads it without opening the store)."""
        return self._get_meta(LANGUAGE_KEY)

    def set_language(self, code: str | None) -> None:
        """Remember *code* (en, ko); None forgets the choice, so the locale decides again."""
        if code is None:
            with self._write() as conn:
                conn.execute("DELETE FROM meta WHERE key = ?", (LANGUAGE_KEY,))
        else:
            self._set_meta(LANGUAGE_KEY, code)

    def lesson_folders(self) -> list[str]:
        """The folders `nstutor packs add` remembered, to read as lesson packs (tutor/lessons/packs.py)."""
        return decode_folders(self._get_meta(LESSON_FOLDERS_KEY))

    def set_lesson_folders(self, folders: list[str]) -> None:
        self._set_meta(LESSON_FOLDERS_KEY, json.dumps(list(dict.fromkeys(folders))))

    def set_last_lesson(self, lesson_id: str) -> None:
        self._set_meta("last_lesson", lesson_id)

    def last_lesson(self) -> str | None:
        return self._get_meta("last_lesson")

    def learner_name(self) -> str | None:
        return self._get_meta("learner_name")

    def set_learner_name(self, name: str) -> None:
        """Store the display name (spaces tidied); ValueError when it is empty, too long or odd."""
        self._set_meta("learner_name", clean_name(name))

    def name_asked(self) -> bool:
        """Whether the app has asked for the display name already (it asks once, even if skipped)."""
        return self._get_meta("name_asked") is not None

    def mark_name_asked(self) -> None:
        self._set_meta("name_asked", str(int(time.time())))

    def learner_id(self) -> str:
        """A random id made once per store, so a class report can tell two learners who chose the
        same name apart, and recognise one learner's exports from several days as one learner."""
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'learner_id'").fetchone()
            if row:
                return row[0]
            value = uuid.uuid4().hex
            conn.execute("INSERT INTO meta (key, value) VALUES ('learner_id', ?)", (value,))
            return value

    # ------------------------------------------------------------------ reading progress
    def lesson_progress(self, lesson) -> dict[str, StepProgress]:
        """Every step of *lesson* (in lesson order), with what is recorded for it."""
        with self._guard() as conn:
            steps = {row[0]: row[1:] for row in conn.execute(
                "SELECT step_id, first_pass, hints_shown, solution_viewed_at, last_passed, last_message "
                "FROM steps WHERE lesson_id = ?", (lesson.id,))}
            counts = {row[0]: row[1:] for row in conn.execute(
                "SELECT step_id, COUNT(*), SUM(passed = 0) FROM attempts WHERE lesson_id = ? GROUP BY step_id",
                (lesson.id,))}
        out: dict[str, StepProgress] = {}
        for step in lesson.steps:
            first_pass, hints, solution_at, last_passed, last_message = steps.get(step.id, (None, 0, None, None, None))
            attempts, failed = counts.get(step.id, (0, 0))
            out[step.id] = StepProgress(
                passed=bool(last_passed), ever_passed=first_pass is not None, first_pass=first_pass,
                attempts=int(attempts), failed_attempts=int(failed or 0), hints_shown=int(hints or 0),
                solution_viewed=solution_at is not None, last_message=None if last_passed else last_message)
        return out

    def lesson_summary(self, lesson) -> tuple[int, int]:
        """(steps ever passed, steps in the lesson): how far the learner got, even if a reboot has
        since removed what they built."""
        progress = self.lesson_progress(lesson)
        return sum(p.ever_passed for p in progress.values()), len(lesson.steps)

    def attempts(self, lesson_id: str, step_id: str | None = None) -> list[dict]:
        """The recorded attempts, oldest first (for export and tests)."""
        sql = ("SELECT at, lesson_id, step_id, source, passed, failures, evidence, content_hash "
               "FROM attempts WHERE lesson_id = ?")
        args: list[Any] = [lesson_id]
        if step_id is not None:
            sql += " AND step_id = ?"
            args.append(step_id)
        with self._guard() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [{"at": at, "lesson": lid, "step": sid, "source": src, "passed": bool(passed),
                 "failures": json.loads(failures), "evidence": json.loads(evidence) if evidence else None,
                 "content_hash": chash}
                for at, lid, sid, src, passed, failures, evidence, chash in rows]


    def dump(self) -> dict[str, dict[str, Any]]:
        """Everything recorded, per lesson id, in plain data (for export): the lesson's hash and
        time spent, and per step its counters, times and the evidence of every pass, oldest first."""
        with self._guard() as conn:
            lessons = {lid: {"content_hash": chash, "previous_hash": prev, "seconds_spent": secs,
                             "first_seen": first, "last_seen": last, "steps": {}}
                       for lid, chash, prev, secs, first, last in conn.execute(
                           "SELECT lesson_id, content_hash, previous_hash, seconds_spent, first_seen, last_seen "
                           "FROM lessons")}
            for lid, sid, first_pass, hints, solution_at, last_passed, last_message, last_at in conn.execute(
                    "SELECT lesson_id, step_id, first_pass, hints_shown, solution_viewed_at, last_passed, "
                    "last_message, last_at FROM steps"):
                lesson = lessons.setdefault(lid, {"content_hash": "", "previous_hash": None, "seconds_spent": 0.0,
                                                  "first_seen": None, "last_seen": None, "steps": {}})
                lesson["steps"][sid] = {
                    "first_pass": first_pass, "hints_shown": int(hints or 0), "solution_viewed_at": solution_at,
                    "passing_now": None if last_passed is None else bool(last_passed),
                    "last_message": None if last_passed else last_message, "last_at": last_at,
                    "attempts": 0, "failed_attempts": 0, "last_attempt_at": None, "passes": []}
            for lid, sid, at, passed, evidence in conn.execute(
                    "SELECT lesson_id, step_id, at, passed, evidence FROM attempts ORDER BY id"):
                step = lessons.get(lid, {}).get("steps", {}).get(sid)
                if step is None:       # an attempt always comes with its steps row; be tolerant anyway
                    continue
                step["attempts"] += 1
                step["failed_attempts"] += 0 if passed else 1
                step["last_attempt_at"] = at
                if passed:
                    step["passes"].append({"at": at, "evidence": json.loads(evidence) if evidence else []})
            for lid, sid, at in conn.execute("SELECT lesson_id, step_id, MAX(at) FROM events GROUP BY lesson_id, step_id"):
                step = lessons.get(lid, {}).get("steps", {}).get(sid)
                if step is not None:
                    step["last_event_at"] = at
        return lessons


# ---------------------------------------------------------------------- helpers
def _create_file(db: Path, location: StoreLocation) -> None:
    """Create the database file ourselves (0600, never through a symlink) so it can be handed to
    the learner before SQLite makes its -wal and -shm files (SQLite running as root gives those
    the database file's owner)."""
    fd = os.open(db, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if location.owner and os.fstat(fd).st_uid != location.owner.uid:
            os.fchown(fd, location.owner.uid, location.owner.gid)
    finally:
        os.close(fd)


def _migrate(conn: sqlite3.Connection, db: Path) -> None:
    version = _schema_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise ProgressStoreError(f"the progress store {db} was written by a newer nstutor (schema {version}; "
                                 f"this one knows up to {SCHEMA_VERSION}): upgrade nstutor")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_version(conn)    # another window may have migrated while we waited
        for steps in MIGRATIONS[version:]:
            for statement in steps:
                conn.execute(statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _schema_version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError:
        return 0


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() + (f" ({exc.filename})" if exc.filename else "")
    return str(exc) or type(exc).__name__
