"""The progress store: what it records, that kill -9 and a second writer lose nothing, that it
belongs to the learner under sudo, and that `nstutor check` / `nstutor whoami` use it."""
from __future__ import annotations

import json
import os
import pwd
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import sh
from tutor.checks.base import Verdict
from tutor.checks.runner import StepResult
from tutor.lessons.model import Lesson, Step
from tutor.progress import ProgressStore, ProgressStoreError, StepProgress, record_check
from tutor.progress import store as store_mod
from tutor.progress.paths import DB_NAME, default_location

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------- helpers
def lesson(lesson_id: str = "demo", steps=("made", "up"), content_hash: str = "hash-1") -> Lesson:
    return Lesson(id=lesson_id, title=lesson_id.title(), minutes=5, path=Path(f"99-{lesson_id}.md"), number=99,
                  body="", steps=tuple(Step(s, f"Step {s}", (), (), "", 1) for s in steps),
                  content_hash=content_hash)


def ok(kind: str = "netns", **evidence) -> Verdict:
    return Verdict(kind, True, f"{kind} expected", f"{kind} seen", "", evidence)


def bad(kind: str = "netns", message: str = "there is no netns hello: ip netns add hello") -> Verdict:
    return Verdict(kind, False, f"{kind} expected", f"{kind} missing", message)


def unprobed(kind: str = "reachable") -> Verdict:
    return Verdict(kind, False, "10.0.0.2 reachable", store_mod.NOT_PROBED, "press c to probe")


def result(step: str, *verdicts: Verdict) -> StepResult:
    return StepResult(step, f"Step {step}", all(v.passed for v in verdicts), tuple(verdicts))


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "data" / DB_NAME


@pytest.fixture
def store(db):
    s = ProgressStore.open(db)
    yield s
    s.close()


def count_attempts(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# A child process that records as fast as it can and says on stdout what is committed.
WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tutor.checks.base import Verdict
    from tutor.checks.runner import StepResult
    from tutor.lessons.model import Lesson, Step
    from tutor.progress import ProgressStore

    db, step, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lesson = Lesson(id="stress", title="Stress", minutes=1, path=Path("99-stress.md"), number=99, body="",
                    steps=(Step(step, step, (), (), "", 1),), content_hash="h")
    if sys.stdin.readline().strip() != "go":
        sys.exit(3)
    store = ProgressStore.open(db)
    n = 0
    pid = os.getpid()
    while count < 0 or n < count:
        # Every record is a new state, also across writers of one step: a writer's first record
        # fails with its own pid (a pass right after the last writer's pass would be "still green",
        # not an attempt), and no two failures have the same message.
        passed = n % 3 == 2
        verdict = Verdict("netns", passed, "e", "o", "" if passed else f"failure {{pid}}-{{n}}",
                          {{"n": n, "step": step, "pid": pid}} if passed else {{}})
        # `nstutor check stress --step STEP`, a new state each time: every call is an attempt
        store.record_check(lesson, [StepResult(step, step, passed, (verdict,))], source="cli", in_front=step,
                           named=True)
        store.add_time("stress", 1)
        n += 1
        os.write(1, f"{{n}}\\n".encode())   # only after both commits returned
    store.close()
""").format(repo=str(REPO))


def start_writer(db: Path, step: str, count: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), step, str(count)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc


# --------------------------------------------------------------- recording checks
def test_cli_check_is_an_attempt_at_the_step_in_front(store):
    """`nstutor check LESSON` is the learner's check of the first failing step (and records what
    passes); later failing steps are not reached, and the same state checked twice is one attempt."""
    les = lesson()
    untouched = [result("made", bad()), result("up", bad("link", "lo is DOWN"))]
    # Checked before anything is done: every step is seen for the first time, its baseline.
    assert store.record_check(les, untouched, "cli") == 0
    # Something wrong for 'made', then checked: one failed attempt at 'made'; 'up' is not reached.
    wrong = bad("netns", "there is no netns hello, but there is Hello: ip netns del Hello")
    assert store.record_check(les, [result("made", wrong), result("up", bad("link", "lo is DOWN"))], "cli") == 1
    assert store.record_check(les, [result("made", wrong), result("up", bad("link", "lo is DOWN"))], "cli") == 0
    # Fixed: a pass with its evidence. 'up' comes in front, untouched: checking it is no attempt.
    assert store.record_check(les, [result("made", ok(name="hello", inode=4026532401)),
                                    result("up", bad("link", "lo is DOWN"))], "cli") == 1
    assert store.record_check(les, [result("up", bad("link", "lo is DOWN"))], "cli", in_front="up", named=True) == 0
    rows = store.attempts("demo", "made")
    assert [r["passed"] for r in rows] == [False, True]
    assert rows[0]["failures"] == [{"kind": "netns", "message": wrong.message}]
    assert rows[0]["evidence"] is None and rows[0]["source"] == "cli" and rows[0]["content_hash"] == "hash-1"
    assert rows[1]["failures"] == []
    assert rows[1]["evidence"] == [{"kind": "netns", "observed": "netns seen",
                                    "evidence": {"name": "hello", "inode": 4026532401}}]
    progress = store.lesson_progress(les)
    assert list(progress) == ["made", "up"]
    made, up = progress["made"], progress["up"]
    assert made.passed and made.ever_passed and made.attempts == 2 and made.failed_attempts == 1
    assert made.first_pass == pytest.approx(rows[1]["at"]) and made.last_message is None
    assert not up.passed and not up.ever_passed and up.first_pass is None
    assert up.attempts == 0 and up.failed_attempts == 0 and up.last_message == "lo is DOWN"
    assert store.lesson_summary(les) == (1, 2)
    # `--step S` of a step never seen before: the learner named it, so a failure is an attempt.
    other = lesson("other", steps=("x",))
    assert store.record_check(other, [result("x", bad())], "cli", in_front="x", named=True) == 1


def test_first_pass_is_kept_when_the_step_fails_later(store):
    les = lesson()
    store.record_check(les, [result("made", ok())], "cli")
    first = store.lesson_progress(les)["made"].first_pass
    store.record_check(les, [result("made", bad())], "cli")
    store.record_check(les, [result("made", ok())], "cli")
    made = store.lesson_progress(les)["made"]
    assert made.first_pass == first and made.ever_passed and made.passed and made.attempts == 3


def test_evidence_is_made_json_safe(store):
    les = lesson(steps=("made",))
    store.record_check(les, [result("made", ok(ports={2, 1}, path=Path("/run/netns/x"), pair=("a", "b")))], "cli")
    (row,) = store.attempts("demo")
    assert row["evidence"][0]["evidence"] == {"ports": [1, 2], "path": "/run/netns/x", "pair": ["a", "b"]}


def test_app_records_only_changes(store):
    """Graded once a second, the app writes a row only when the outcome changes, and a step that
    moves forward (half done) is not a failure."""
    les = lesson(steps=("made",))
    missing = result("made", bad())
    # First sight of a failing step: the starting point, not an attempt.
    for _ in range(5):
        assert store.record_check(les, [missing], "app") == 0
    made = store.lesson_progress(les)["made"]
    assert made.attempts == 0 and not made.passed and made.last_message.startswith("there is no netns hello")
    # Half done (another expectation fails now): part of the attempt, not a failed one.
    for _ in range(5):
        assert store.record_check(les, [result("made", ok(), bad("link", "veth0 is DOWN"))], "app") == 0
    assert store.lesson_progress(les)["made"].last_message == "veth0 is DOWN"
    # Pass: recorded once, with its evidence; the same pass again records nothing.
    assert store.record_check(les, [result("made", ok(name="hello"), ok("link", state="UP"))], "app") == 1
    for _ in range(5):
        assert store.record_check(les, [result("made", ok(name="hello"), ok("link", state="UP"))], "app") == 0
    # Broken again: not a failed attempt by itself (the learner may be working on another step).
    assert store.record_check(les, [missing], "app") == 0
    rows = store.attempts("demo", "made")
    assert [r["passed"] for r in rows] == [True]
    assert rows[0]["evidence"][0]["evidence"] == {"name": "hello"} and rows[0]["source"] == "app"
    made = store.lesson_progress(les)["made"]
    assert made.attempts == 1 and made.failed_attempts == 0 and made.ever_passed and not made.passed


def test_app_a_change_the_learner_undoes_is_one_failed_attempt(store):
    les = lesson()
    up_untouched = result("up", bad("link", "lo is DOWN"))
    untouched = [result("made", bad()), up_untouched]
    wrong = [result("made", bad("netns", "there is Hello, not hello: ip netns del Hello")), up_untouched]
    assert store.record_check(les, untouched, "app", in_front="made") == 0
    assert store.record_check(les, wrong, "app", in_front="made") == 0       # could be half done
    assert store.record_check(les, untouched, "app", in_front="made") == 1   # undone: it was a mistake
    (row,) = store.attempts("demo", "made")
    assert not row["passed"] and row["failures"][0]["message"].startswith("there is Hello")
    # A step not in front: its changes and undos never count.
    moved = [result("made", bad()), result("up", bad("link", "lo has no address"))]
    for _ in range(3):
        assert store.record_check(les, moved, "app", in_front="made") == 0
        assert store.record_check(les, untouched, "app", in_front="made") == 0
    # The learner's `c` on a changed state is one failed attempt; on the same state again, none.
    assert store.record_check(les, wrong, "app", in_front="made", explicit=True) == 1
    assert store.record_check(les, wrong, "app", in_front="made", explicit=True) == 0
    # ... and on a state the learner has not touched since (its baseline), none either.
    assert store.record_check(les, untouched, "app", in_front="up", explicit=True) == 0
    progress = store.lesson_progress(les)
    assert progress["made"].failed_attempts == 2 and progress["up"].failed_attempts == 0


def test_a_mistake_checked_and_then_undone_counts_once(store):
    """The learner's `c` counted the mistake; undoing it afterwards is the same mistake, and the
    right way may pass through a state that reads like it (veth0 still in the host)."""
    les = lesson(steps=("cable",))
    untouched = result("cable", bad("veth", "there is no veth0"))
    in_host = result("cable", bad("veth", "veth0 is in the root netns: ip link set veth0 netns RED"))
    store.record_check(les, [untouched], "app", in_front="cable")
    assert store.record_check(les, [in_host], "app", in_front="cable") == 0       # wrong peer name
    assert store.record_check(les, [in_host], "app", in_front="cable", explicit=True) == 1
    assert store.record_check(les, [untouched], "app", in_front="cable") == 0     # taken away again
    assert store.record_check(les, [in_host], "app", in_front="cable") == 0       # the right pair, not moved yet
    assert store.record_check(les, [result("cable", bad("veth", "veth1 is in the root netns"))], "app",
                              in_front="cable") == 0
    assert store.record_check(les, [result("cable", ok())], "app", in_front="cable") == 1
    cable = store.lesson_progress(les)["cable"]
    assert (cable.attempts, cable.failed_attempts) == (2, 1)


def test_a_setup_or_reset_is_not_the_learners_attempt(store, monkeypatch):
    les = lesson()
    clock = [1_000_000.0]
    monkeypatch.setattr(store_mod.time, "time", lambda: clock[0])
    done = [result("made", ok()), result("up", ok("link"))]
    gone = [result("made", bad()), result("up", bad("link", "lo is DOWN"))]
    half = [result("made", bad("netns", "BLUE is missing")), result("up", bad("link", "lo is DOWN"))]
    store.record_check(les, gone, "app", in_front="made")
    store.record_check(les, half, "app", in_front="made")
    assert store.record_check(les, done, "app", in_front="up") == 2
    store.begin_lab_change("demo", "reset")
    clock[0] += 1
    # While the reset removes things, and from a snapshot taken before it ended: not attempts.
    assert store.record_check(les, half, "app", in_front="up") == 0
    assert store.record_check(les, gone, "cli") == 0
    clock[0] += 1
    store.end_lab_change("demo")
    clock[0] += 1
    assert store.record_check(les, half, "app", in_front="made", observed_at=clock[0] - 2) == 0
    # The state after it is the new baseline; redoing the lesson is a pass per step and nothing else.
    assert store.record_check(les, gone, "app", in_front="made") == 0
    assert store.record_check(les, gone, "app", in_front="made", explicit=True) == 0
    assert store.record_check(les, half, "app", in_front="made") == 0
    assert store.record_check(les, done, "app", in_front="made") == 2
    progress = store.lesson_progress(les)
    assert [(p.attempts, p.failed_attempts) for p in progress.values()] == [(2, 0), (2, 0)]
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT kind FROM events WHERE lesson_id = 'demo'").fetchall() == [("reset",)]
    conn.close()
    with pytest.raises(ValueError, match="kind"):
        store.begin_lab_change("demo", "reboot")


def test_a_lab_change_that_never_ended_stops_counting(store, monkeypatch):
    les = lesson(steps=("made",))
    clock = [1_000_000.0]
    monkeypatch.setattr(store_mod.time, "time", lambda: clock[0])
    store.begin_lab_change("demo", "setup")            # then the process was killed
    assert store.record_check(les, [result("made", ok())], "app") == 0
    clock[0] += store_mod.LAB_CHANGE_STALE + 1
    assert store.record_check(les, [result("made", bad())], "app") == 0     # a baseline again
    assert store.record_check(les, [result("made", ok())], "app") == 1


def test_the_app_asks_whether_a_lab_change_ran_while_a_step_broke(store, monkeypatch):
    """lab_change_between(since, until): a step seen passing at *since*, failing at *until*; the
    latest setup/reset answers when it ran in between (the app then raises no "broke" alarm)."""
    clock = [1_000_000.0]
    monkeypatch.setattr(store_mod.time, "time", lambda: clock[0])
    assert store.lab_change_between("demo", 999_990.0, clock[0]) is None          # none ever
    started = store.begin_lab_change("demo", "reset")
    assert started == clock[0]
    running = store.lab_change_between("demo", clock[0] - 1, clock[0] + 0.5)
    assert (running.kind, running.started, running.done) == ("reset", started, None)
    clock[0] += 2
    store.end_lab_change("demo")
    # a reset quicker than the app's interval: passing before it began, failing after it ended
    assert store.lab_change_between("demo", started - 0.5, clock[0] + 0.5).done == clock[0]
    assert store.lab_change_between("demo", started + 1, clock[0] + 0.5) is not None   # seen passing during it
    # a break after it ended (the learner's own) or before it began: not the reset's doing
    assert store.lab_change_between("demo", clock[0] + 1, clock[0] + 2) is None
    assert store.lab_change_between("demo", started - 3, started - 1) is None
    assert store.lab_change_between("other", started - 1, clock[0]) is None
    store.begin_lab_change("demo", "setup")
    assert store.lab_change_between("demo", clock[0] - 1, clock[0] + 1).kind == "setup"
    clock[0] += store_mod.LAB_CHANGE_STALE + 1                                   # it never ended (a crash)
    assert store.lab_change_between("demo", clock[0] - 1, clock[0]) is None


def test_app_records_a_step_that_already_passes_at_first_sight(store):
    les = lesson(steps=("made",))
    assert store.record_check(les, [result("made", ok(name="hello"))], "app") == 1
    assert store.record_check(les, [result("made", ok(name="hello"))], "app") == 0
    assert store.lesson_progress(les)["made"].ever_passed


def test_measured_values_are_not_a_change(store, monkeypatch):
    """CPU use moves by itself: it is not a state the learner changed, however long they sit there."""
    les = lesson(steps=("cpu",))
    clock = [1_000_000.0]
    monkeypatch.setattr(store_mod.time, "time", lambda: clock[0])

    def cpu(used: float, window: float = 1.0, limit: int = 10) -> StepResult:
        return result("cpu", bad("cgroup", f"The members use {used:.1f}% of a CPU, more than the {limit}% limit "
                                           f"(measured over the last {window:.1f} s)"))

    store.record_check(les, [cpu(93.2)], "app")
    for n in range(40):
        clock[0] += 1
        assert store.record_check(les, [cpu(90 + (n * 7) % 10 + 0.1, 1 + n % 3)], "app") == 0
        assert store.record_check(les, [cpu(95.5)], "app", explicit=n % 10 == 0) == 0
    clock[0] += store_mod.MESSAGE_ONLY_INTERVAL
    assert store.record_check(les, [cpu(41.3)], "app") == 0
    cpu_step = store.lesson_progress(les)["cpu"]
    assert cpu_step.attempts == 0 and "41.3%" in cpu_step.last_message      # the wording is kept fresh
    # What the learner sets (the limit the message names) is part of the state.
    assert store.record_check(les, [cpu(41.3, limit=20)], "app", explicit=True) == 1


def test_unprobed_verdicts_are_unknown_not_failed(store):
    les = lesson(steps=("ping",))
    # `c` ran the probe: the step passes.
    assert store.record_check(les, [result("ping", ok("address"), ok("reachable", rtt_ms=0.1))], "cli") == 1
    # The background grade cannot probe: that is not a failure, and not a change.
    for _ in range(3):
        assert store.record_check(les, [result("ping", ok("address"), unprobed())], "app") == 0
    assert store.lesson_progress(les)["ping"].passed
    # A real failure next to the unprobed one is remembered, without the unknown probe in it (the
    # step broke; the learner has not checked it: no attempt yet).
    assert store.record_check(les, [result("ping", bad("address", "no 10.0.0.1 on veth0"), unprobed())], "app") == 0
    ping = store.lesson_progress(les)["ping"]
    assert not ping.passed and ping.last_message == "no 10.0.0.1 on veth0"
    # Probed and failing (the learner checked), then the unprobed background grade of the same
    # state, then a probed one again: no flip-flop.
    assert store.record_check(les, [result("ping", bad("address", "no 10.0.0.1 on veth0"),
                                           bad("reachable", "no reply"))], "cli") == 1
    assert store.attempts("demo", "ping")[-1]["failures"] == [{"kind": "address", "message": "no 10.0.0.1 on veth0"},
                                                               {"kind": "reachable", "message": "no reply"}]
    for _ in range(3):
        assert store.record_check(les, [result("ping", bad("address", "no 10.0.0.1 on veth0"), unprobed())],
                                  "app") == 0
        assert store.record_check(les, [result("ping", bad("address", "no 10.0.0.1 on veth0"),
                                               bad("reachable", "no reply"))], "app") == 0
    # The command line with --no-probe does not count an unknown step as an attempt either.
    before = store.lesson_progress(les)["ping"].attempts
    assert store.record_check(les, [result("ping", ok("address"), unprobed())], "cli") == 0
    assert store.lesson_progress(les)["ping"].attempts == before


def test_runner_marks_an_unprobed_check_the_way_the_store_expects():
    """The store recognises unprobed verdicts by the runner's wording: keep the two in step."""
    from tutor.checks.registry import build
    from tutor.checks.runner import grade_expectation
    exp = build({"reachable": {"from": "RED", "to": "10.0.0.2"}})
    verdict = grade_expectation(exp, None, probes=False)   # no probe: the snapshot is not even looked at
    assert not verdict.passed and verdict.observed == store_mod.NOT_PROBED


def test_two_app_windows_record_one_change_once(db):
    les = lesson(steps=("made",))
    a, b = ProgressStore.open(db), ProgressStore.open(db)
    try:
        a.record_check(les, [result("made", bad())], "app")
        b.record_check(les, [result("made", bad())], "app")
        assert a.record_check(les, [result("made", ok())], "app") == 1
        assert b.record_check(les, [result("made", ok())], "app") == 0   # the other window has it already
        assert a.lesson_progress(les)["made"].attempts == 1
    finally:
        a.close()
        b.close()


def test_store_can_be_used_from_several_threads(store):
    les = lesson(steps=("t0", "t1", "t2", "t3"))
    errors: list[BaseException] = []

    def work(step: str) -> None:
        try:
            for i in range(25):
                # `nstutor check demo --step STEP`, the state changing each time
                store.record_check(les, [result(step, ok() if i % 2 else bad())], "cli", in_front=step, named=True)
                store.add_time("demo", 1)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(step.id,)) for step in les.steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert all(p.attempts == 25 for p in store.lesson_progress(les).values())
    assert store.time_spent("demo") == 100


def test_source_must_be_app_or_cli(store):
    with pytest.raises(ValueError, match="source"):
        store.record_check(lesson(), [], "tui")


# --------------------------------------------------------------- lesson versions
def test_a_changed_lesson_is_noticed(db):
    with ProgressStore.open(db) as s:
        assert not s.lesson_changed(lesson(content_hash="v1"))        # nothing recorded yet
        s.record_check(lesson(content_hash="v1"), [result("made", ok())], "cli")
        assert not s.lesson_changed(lesson(content_hash="v1"))
    with ProgressStore.open(db) as s:
        edited = lesson(content_hash="v2")
        assert s.lesson_changed(edited)                               # before anything is recorded
        s.record_check(edited, [result("made", ok())], "app")           # same outcome: no attempt, hash adopted
        assert s.lesson_changed(edited)                               # still noticed in this session
        assert [r["content_hash"] for r in s.attempts("demo")] == ["v1"]
    with ProgressStore.open(db) as s:
        assert not s.lesson_changed(lesson(content_hash="v2"))        # the learner has worked on v2 since
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT content_hash, previous_hash, hash_changed_at IS NOT NULL FROM lessons").fetchone() \
        == ("v2", "v1", 1)
    conn.close()


# --------------------------------------------------------------- hints, solutions, time, learner
def test_hints_solutions_time_and_learner(store):
    les = lesson()
    for level in (1, 3, 2):
        store.record_hint("demo", "made", level)
    store.record_solution("demo", "up")
    store.record_solution("demo", "up")
    for seconds in (10, 5.5, -3, float("nan"), float("inf"), 0):
        store.add_time("demo", seconds)
    progress = store.lesson_progress(les)
    assert progress["made"] == StepProgress(hints_shown=3)
    assert progress["up"] == StepProgress(solution_viewed=True)
    assert store.time_spent("demo") == 15.5 and store.time_spent("other") == 0
    assert store.last_lesson() is None and store.learner_name() is None
    store.set_last_lesson("netns-veth")
    store.set_learner_name("  Ada \t Lovelace ")
    assert store.last_lesson() == "netns-veth" and store.learner_name() == "Ada Lovelace"
    for bad_name in ("", "   ", "x" * 81, "Ada\x1b[31m"):
        with pytest.raises(ValueError):
            store.set_learner_name(bad_name)
    assert store.learner_name() == "Ada Lovelace"
    # Hints before any check do not invent an outcome.
    assert not progress["made"].passed and progress["made"].last_message is None


def test_state_survives_reopening(db):
    with ProgressStore.open(db) as s:
        s.record_check(lesson(), [result("made", ok())], "cli")
        s.record_hint("demo", "up", 2)
        s.set_learner_name("Grace")
    with ProgressStore.open(db) as s:
        p = s.lesson_progress(lesson())
        assert p["made"].passed and p["up"].hints_shown == 2 and s.learner_name() == "Grace"


# --------------------------------------------------------------- schema
def test_schema_is_versioned_and_wal(store, db):
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == \
        (str(store_mod.SCHEMA_VERSION),)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    assert Path(f"{db}-wal").exists()


def test_a_newer_schema_is_refused_clearly(db):
    ProgressStore.open(db).close()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(ProgressStoreError, match="newer nstutor"):
        ProgressStore.open(db)


def test_migrations_upgrade_an_older_file_and_keep_its_data(db, monkeypatch):
    with ProgressStore.open(db) as s:
        s.record_check(lesson(), [result("made", ok())], "cli")
    extra = ("ALTER TABLE lessons ADD COLUMN note TEXT",)
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS + (extra,))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", len(store_mod.MIGRATIONS))
    with ProgressStore.open(db) as s:
        assert s.lesson_progress(lesson())["made"].passed
    conn = sqlite3.connect(db)
    assert "note" in [row[1] for row in conn.execute("PRAGMA table_info(lessons)")]
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
        == (str(len(store_mod.MIGRATIONS)),)
    conn.close()
    ProgressStore.open(db).close()          # already current: opening again changes nothing


def test_a_version_1_store_gains_trails_and_keeps_its_counts(db):
    """Schema 1 (before honest attempts) upgrades in place: counts kept, and its steps start
    without a trail, so the first state seen after the upgrade is their baseline."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    for statement in store_mod.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO lessons (lesson_id, content_hash, first_seen, last_seen) VALUES ('demo', 'hash-1', 1, 1)")
    conn.execute("INSERT INTO steps (lesson_id, step_id, last_passed, last_failures, last_at) "
                 "VALUES ('demo', 'made', 0, '[[\"netns\", \"old\"]]', 1)")
    conn.execute("INSERT INTO attempts (at, lesson_id, step_id, source, passed) VALUES (1, 'demo', 'made', 'app', 0)")
    conn.commit()
    conn.close()
    with ProgressStore.open(db) as s:
        assert s.lesson_progress(lesson())["made"].failed_attempts == 1
        assert s.record_check(lesson(), [result("made", bad())], "app", in_front="made") == 0
        assert s.record_check(lesson(), [result("made", ok())], "app", in_front="made") == 1
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    assert {"trail"} <= {row[1] for row in conn.execute("PRAGMA table_info(steps)")}
    conn.close()


def test_not_a_database_is_a_clear_error(db):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProgressStoreError, match=r"progress store .*not a database"):
        ProgressStore.open(db)


# --------------------------------------------------------------- crashes and concurrency
def test_kill_9_at_any_moment_loses_nothing_reported(db):
    """A writer killed at random moments (even while creating the file) never loses a committed
    record, and the database stays intact."""
    rng = random.Random(secrets.randbits(32))
    expected_at_least = 0
    reported_total = 0
    for round_no in range(10):
        proc = start_writer(db, "s", -1)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        read_before_kill = 0
        if round_no % 2 == 0:
            time.sleep(rng.uniform(0.0, 0.4))       # a random moment: the kill is the point of the test
        else:
            wanted = rng.randint(1, 40)             # mid-stream: after some records, then a little more
            while read_before_kill < wanted and (line := proc.stdout.readline()):
                read_before_kill = int(line)
            time.sleep(rng.uniform(0.0, 0.02))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        lines = out.split()
        reported = int(lines[-1]) if lines else read_before_kill
        if round_no % 2 == 1:
            assert reported >= 1
        reported_total += reported
        assert integrity(db) == "ok" if db.exists() else reported == 0
        with ProgressStore.open(db) as s:           # reopens cleanly, whatever moment the kill hit
            found = len(s.attempts("stress"))
            assert found >= expected_at_least + reported, f"round {round_no}: lost records"
            assert s.time_spent("stress") >= reported
        expected_at_least = found
    assert reported_total > 0
    assert integrity(db) == "ok"


def test_two_writers_at_once_lose_nothing(db):
    ProgressStore.open(db).close()
    writers = [start_writer(db, f"w{i}", 200) for i in range(2)]
    started = time.monotonic()
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    results = [w.communicate(timeout=120) for w in writers]
    elapsed = time.monotonic() - started
    for w, (out, err) in zip(writers, results):
        assert w.returncode == 0, err
        assert err == ""
        assert out.split()[-1] == "200"
    with ProgressStore.open(db) as s:
        les = lesson("stress", steps=("w0", "w1"), content_hash="h")
        progress = s.lesson_progress(les)
        assert progress["w0"].attempts == 200 and progress["w1"].attempts == 200
        assert s.time_spent("stress") == 400
    assert integrity(db) == "ok"
    print(f"two writers, 800 transactions in {elapsed:.2f}s")


def test_a_locked_store_warns_instead_of_breaking_check(db, monkeypatch, capsys):
    ProgressStore.open(db).close()
    monkeypatch.setenv("NSTUTOR_DATA_DIR", str(db.parent))
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        record_check(lesson(), [result("made", ok())])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning" in err and "locked" in err
    assert count_attempts(db) == 0


def test_an_unwritable_place_warns_instead_of_breaking_check(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NSTUTOR_DATA_DIR", str(blocker / "nstutor"))
    record_check(lesson(), [result("made", ok())])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nstutor: warning:") and str(blocker) in err


@pytest.mark.needs_root
def test_a_store_owned_by_root_tells_the_learner_how_to_take_it_back(db):
    """Left behind by a root run without sudo: the learner's check still works and says how to fix it."""
    ProgressStore.open(db).close()
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        pytest.skip("no system python the unprivileged user can run")
    shared = Path(tempfile.mkdtemp(prefix="nstutor-test-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        (shared / "data").mkdir(mode=0o755)
        (shared / "data" / DB_NAME).write_bytes(db.read_bytes())   # root-owned, 0600
        (shared / "data" / DB_NAME).chmod(0o600)
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from tutor.progress import record_check;"
                "from types import SimpleNamespace as lesson;"   # the system python lacks the lesson parser's deps
                "record_check(lesson(id='demo', content_hash='h', steps=()), []); print('check went on')")
        res = subprocess.run([python, "-c", code, str(REPO)], user=65534, group=65534, extra_groups=[],
                             env={"NSTUTOR_DATA_DIR": str(shared / "data"), "PATH": os.environ.get("PATH", "")},
                             cwd="/", capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and res.stdout == "check went on\n", res.stderr
        assert res.stderr.count("\n") == 1 and "permission denied" in res.stderr
        assert f"sudo chown -R 65534:65534 {shared / 'data'}" in res.stderr
    finally:
        shutil.rmtree(shared)


# --------------------------------------------------------------- location and sudo
def test_default_location_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("NSTUTOR_DATA_DIR", raising=False)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_location().database == tmp_path / ".local/share/nstutor" / DB_NAME
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/invalid")
    assert default_location().database == tmp_path / ".local/share/nstutor" / DB_NAME
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_location().database == tmp_path / "xdg/nstutor" / DB_NAME
    monkeypatch.setenv("NSTUTOR_DATA_DIR", str(tmp_path / "override"))
    assert default_location().database == tmp_path / "override" / DB_NAME


@pytest.fixture
def learner():
    """A real unprivileged user with a home, made for the test and removed after it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as sudo")
    name = f"nstutor-t{secrets.token_hex(3)}"
    made = sh(f"useradd --system --create-home --shell /usr/sbin/nologin {name}", check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot create a test user: {made.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        sh(f"userdel -r {name}", check=False)


def _act_as_sudo_from(monkeypatch, user) -> None:
    monkeypatch.delenv("NSTUTOR_DATA_DIR", raising=False)
    monkeypatch.setenv("SUDO_USER", user.pw_name)
    monkeypatch.setenv("SUDO_UID", str(user.pw_uid))
    monkeypatch.setenv("SUDO_GID", str(user.pw_gid))
    monkeypatch.setenv("HOME", "/root")                       # what sudo -H / sudo -i leave behind
    monkeypatch.setenv("XDG_DATA_HOME", "/root/.local/share")  # root's, leaked by sudo -E: not the learner's


@pytest.mark.needs_root
def test_under_sudo_the_store_belongs_to_the_learner(learner, monkeypatch):
    _act_as_sudo_from(monkeypatch, learner)
    home = Path(learner.pw_dir)
    expected = home / ".local/share/nstutor" / DB_NAME
    with ProgressStore.open() as s:
        assert s.path == expected
        s.record_check(lesson(), [result("made", ok())], "cli")
        s.set_learner_name("Learner")
        # While the store is open its -wal and -shm exist: they must be the learner's too.
        for path in (home / ".local", home / ".local/share", expected.parent, expected,
                     Path(f"{expected}-wal"), Path(f"{expected}-shm")):
            st = os.lstat(path)
            assert (st.st_uid, st.st_gid) == (learner.pw_uid, learner.pw_gid), f"{path} is owned by {st.st_uid}"
        assert expected.stat().st_mode & 0o077 == 0
    # The learner, without sudo, can go on using it. (The store needs only the standard library, so
    # the system python does, whose path the learner can reach unlike a venv under /root.)
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    probe = ("import sys; sys.path.insert(0, sys.argv[1])\n"
             "from tutor.progress import ProgressStore\n"
             "s = ProgressStore.open(); s.record_hint('demo', 'made', 1); print(s.path, s.learner_name())")
    res = subprocess.run([python, "-c", probe, str(REPO)], user=learner.pw_uid, group=learner.pw_gid,
                         extra_groups=[], env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
                         cwd="/", capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [str(expected), "Learner"]


@pytest.mark.needs_root
def test_under_sudo_a_symlinked_database_is_refused(learner, monkeypatch):
    _act_as_sudo_from(monkeypatch, learner)
    data = Path(learner.pw_dir) / ".local/share/nstutor"
    data.mkdir(parents=True)
    target = Path(learner.pw_dir).parent / f"{learner.pw_name}-root-owned"
    target.write_text("root's file")
    try:
        (data / DB_NAME).symlink_to(target)
        with pytest.raises(ProgressStoreError):
            ProgressStore.open()
        assert target.stat().st_uid == 0 and target.read_text() == "root's file"
    finally:
        target.unlink()


def test_sudo_by_root_itself_is_plain_root(tmp_path, monkeypatch):
    monkeypatch.delenv("NSTUTOR_DATA_DIR", raising=False)
    monkeypatch.setenv("SUDO_USER", "root")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    loc = default_location()
    assert loc.owner is None and loc.database == tmp_path / ".local/share/nstutor" / DB_NAME


# --------------------------------------------------------------- the command line
def run_cli(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NSTUTOR_DATA_DIR": str(data_dir), **env}
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=full_env)


def test_nstutor_check_records_passes_and_no_untouched_step(tmp_path):
    from tutor.lessons import load_catalog
    welcome = load_catalog().find("welcome")
    secret = f"secret-{secrets.token_hex(8)}"
    for run in (1, 2):
        res = run_cli("check", "welcome", "--json", data_dir=tmp_path, NSTUTOR_TEST_SECRET=secret)
        assert res.returncode in (0, 1), res.stderr
        assert "warning" not in res.stderr
        passing = {s["id"]: s["passed"] for s in json.loads(res.stdout)["steps"]}   # the JSON output stays clean
        with ProgressStore.open(tmp_path / DB_NAME) as s:
            progress = s.lesson_progress(welcome)
            assert set(progress) == {step.id for step in welcome.steps}
            # A pass is one attempt, checked twice or not; a failing step nobody touched is none.
            assert {sid: (p.attempts, p.failed_attempts) for sid, p in progress.items()} \
                == {sid: (int(ok), 0) for sid, ok in passing.items()}
            assert all(r["source"] == "cli" for r in s.attempts("welcome"))
    # Nothing of the environment ends up in the store.
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret.encode() not in stored


def test_nstutor_check_with_a_broken_store_still_checks(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = run_cli("check", "welcome", "--json", data_dir=blocker / "sub")
    assert res.returncode in (0, 1) and "Traceback" not in res.stderr
    assert json.loads(res.stdout)["lesson"] == "welcome"
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "not saved" in warnings[0]


def test_whoami_prints_and_sets_the_name(tmp_path):
    res = run_cli("whoami", data_dir=tmp_path)
    assert res.returncode == 1 and "nstutor whoami" in res.stderr and res.stdout == ""
    res = run_cli("whoami", "Ada", "Lovelace", data_dir=tmp_path)
    assert res.returncode == 0 and "Ada Lovelace" in res.stdout
    res = run_cli("whoami", data_dir=tmp_path)
    assert res.returncode == 0 and res.stdout == "Ada Lovelace\n"
    res = run_cli("whoami", "", data_dir=tmp_path)
    assert res.returncode == 2 and "name is empty" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("whoami", "bad\x07bell", data_dir=tmp_path)
    assert res.returncode == 2 and "control characters" in res.stderr
    assert run_cli("whoami", data_dir=tmp_path).stdout == "Ada Lovelace\n"
