"""`nstutor progress` and `nstutor progress export`: the learner's table and the file they hand in."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from progress_support import StepPlan, demo_catalog, demo_lesson, make_export
from tutor.checks.base import Verdict
from tutor.checks.runner import StepResult
from tutor.lessons.catalog import Catalog
from tutor.progress import ProgressStore
from tutor.progress.export import FORMAT, FORMAT_VERSION, build_export, parse_iso, step_rows, to_csv
from tutor.progress.table import progress_table

REPO = Path(__file__).resolve().parent.parent


def steps_of(doc, lesson_id):
    return {s["id"]: s for l in doc["lessons"] if l["id"] == lesson_id for s in l["steps"]}


def test_export_carries_every_field_the_report_needs(tmp_path):
    before = time.time()
    doc = make_export(tmp_path, "Ada Lovelace", {
        ("rooms", "made"): StepPlan(fails=2, passes=True, hints=2),
        ("rooms", "cable"): StepPlan(fails=1, solution=True),
    }, minutes={"rooms": 12.5})
    assert doc["format"] == FORMAT and doc["format_version"] == FORMAT_VERSION
    assert doc["tool_version"] and doc["hostname"] == socket.gethostname()
    assert doc["learner"]["name"] == "Ada Lovelace" and len(doc["learner"]["id"]) == 32
    assert parse_iso(doc["exported_at"]) >= int(before)
    rooms = next(l for l in doc["lessons"] if l["id"] == "rooms")
    assert rooms["time_spent_s"] == 750.0 and rooms["steps_total"] == 3 and rooms["steps_passed"] == 1
    made, cable, ping = (steps_of(doc, "rooms")[s] for s in ("made", "cable", "ping"))
    assert (made["status"], made["attempts"], made["failed_attempts"], made["hints_shown"]) == ("passed", 3, 2, 2)
    assert made["passing_now"] is True and parse_iso(made["first_pass"]) >= int(before)
    assert made["passes"][0]["evidence"][0]["evidence"]["ends"][0] == {"netns": "RED", "name": "veth0"}
    assert (cable["status"], cable["solution_viewed"], cable["passing_now"]) == ("started", True, False)
    assert cable["last_message"] == "there is no netns RED (try 0)"
    assert (ping["status"], ping["attempts"], ping["first_pass"]) == ("not started", 0, None)
    # Lessons nobody opened are listed too, so the report knows their size.
    assert steps_of(doc, "pids").keys() == {"pid1", "ps"}


def test_export_leaks_no_environment_and_no_command_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTUTOR_TEST_SECRET", "hunter2-secret")
    lesson = demo_lesson("rooms", ("made",), 1)
    store = ProgressStore.open(tmp_path / "p.sqlite3")
    verdict = Verdict("process", True, "sleep 1001", "seen", "",
                      {"pid": 42, "cmdline": "mysql -psecretpassword", "environ": {"TOKEN": "hunter2-secret"},
                       "ns": {"uts": 4026531838}})
    store.record_check(lesson, [StepResult("made", "made", True, (verdict,))], source="cli")
    doc = build_export(store, Catalog((lesson,), ()), learner_name="Ada")
    store.close()
    text = json.dumps(doc)
    assert "hunter2" not in text and "secretpassword" not in text and "TOKEN" not in text
    assert doc["lessons"][0]["steps"][0]["passes"][0]["evidence"][0]["evidence"] == {"pid": 42, "ns": {"uts": 4026531838}}


def test_work_on_a_lesson_or_step_that_no_longer_exists_is_kept(tmp_path):
    old = Catalog((demo_lesson("rooms", ("made", "renamed-away"), 1), demo_lesson("gone", ("x",), 5)), ())
    store_path = tmp_path / "p.sqlite3"
    make_export(tmp_path, "Ada", {("rooms", "renamed-away"): StepPlan(passes=True),
                                  ("gone", "x"): StepPlan(fails=1)}, catalog=old, store_path=store_path)
    store = ProgressStore.open(store_path)
    doc = build_export(store, demo_catalog(), learner_name="Ada")
    store.close()
    assert steps_of(doc, "rooms")["renamed-away"]["status"] == "passed"
    gone = next(l for l in doc["lessons"] if l["id"] == "gone")
    assert gone["number"] is None and gone["steps"][0]["failed_attempts"] == 1


def test_csv_export_is_one_row_per_step(tmp_path):
    doc = make_export(tmp_path, "Brian, \"the\" learner", {("pids", "pid1"): StepPlan(fails=3, passes=True)})
    rows = list(csv.DictReader(io.StringIO(to_csv(step_rows(doc)))))
    assert len(rows) == 5                       # 3 + 2 steps in the demo catalog
    pid1 = next(r for r in rows if r["step"] == "pid1")
    assert pid1["learner"] == "Brian, \"the\" learner" and pid1["status"] == "passed"
    assert (pid1["attempts"], pid1["failed_attempts"], pid1["lesson_number"]) == ("4", "3", "2")
    assert next(r for r in rows if r["step"] == "ps")["status"] == "not started"


def test_progress_table_marks_each_step(tmp_path):
    doc = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(passes=True),
                                        ("rooms", "cable"): StepPlan(fails=2, hints=1)})
    table = progress_table(doc)
    assert "Progress of Ada" in table and "1 of 5 steps passed." in table
    assert "\u2714 made" in table and "\u2718 cable" in table and "2 attempts, 1 hint" in table
    assert "pid1" not in table                    # an unstarted lesson shows only its line
    assert "\u00b7 pid1" in progress_table(doc, all_steps=True)


# --------------------------------------------------------------- through the command line
def nstutor(args, data_dir, stdin=subprocess.DEVNULL, env_extra=None):
    env = dict(os.environ, NSTUTOR_DATA_DIR=str(data_dir), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], cwd=REPO, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=60)


def test_cli_progress_and_export(tmp_path, uid):
    data = tmp_path / "data"
    assert nstutor(["whoami", "Grace", "Hopper"], data).returncode == 0
    # The learner names the step (no hello yet): a failed attempt. The whole lesson checked
    # first would only be the steps' starting point (tests/test_attempts_live.py).
    nstutor(["check", "welcome", "--step", "made", "--no-probe"], data)
    shown = nstutor(["progress"], data)
    assert shown.returncode == 0, shown.stderr
    assert "Progress of Grace Hopper" in shown.stdout and "\u2718 made" in shown.stdout
    out = tmp_path / "grace.json"
    res = nstutor(["progress", "export", "-o", str(out)], data)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["learner"]["name"] == "Grace Hopper"
    assert steps_of(doc, "welcome")["made"]["failed_attempts"] == 1
    res = nstutor(["progress", "export", "--format", "csv"], data)
    assert res.returncode == 0 and res.stdout.startswith("learner,learner_id,hostname")
    assert nstutor(["progress", "--lesson", f"no-such-{uid}"], data).returncode == 2


def test_export_without_a_name_and_no_terminal_uses_the_login_name(tmp_path):
    res = nstutor(["progress", "export"], tmp_path / "data", env_extra={"SUDO_USER": ""})
    assert res.returncode == 0, res.stderr
    import pwd
    assert json.loads(res.stdout)["learner"]["name"] == pwd.getpwuid(os.getuid()).pw_name
    assert "nstutor whoami" in res.stderr


def test_export_to_an_unwritable_place_is_one_clear_line(tmp_path):
    res = nstutor(["progress", "export", "-o", str(tmp_path / "no" / "such" / "dir" / "x.json")], tmp_path / "d")
    assert res.returncode == 2 and "cannot write" in res.stderr and "Traceback" not in res.stderr
