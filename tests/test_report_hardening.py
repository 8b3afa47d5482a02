"""`nstutor report` and the export reader against hostile or broken input (issue 17): a bad file is
named with its reason and skipped, the report for the good files is still written, the exit status
says some were skipped; nothing from an export reaches the terminal or a spreadsheet as a command."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.progress.merge import load_class, load_export, Export, Skipped
from tutor.progress.report import write_csv
from tutor.progress.report_html import render_html

REPO = Path(__file__).resolve().parent.parent


def doc(name="Ada", tool="0.1.0", attempts=1, time_spent=60.0, ident=None):
    return {"format": "nstutor-progress", "format_version": 1, "tool_version": tool,
            "learner": {"name": name, "id": ident or f"id-{abs(hash(name))}"}, "hostname": "vm",
            "exported_at": "2026-11-23T12:00:00Z",
            "lessons": [{"id": "rooms", "number": 1, "title": "Rooms", "time_spent_s": time_spent,
                         "steps_total": 1, "steps_passed": 1,
                         "steps": [{"id": "made", "title": "Made", "status": "passed", "attempts": attempts,
                                    "failed_attempts": 0, "hints_shown": 0, "solution_viewed": False,
                                    "last_activity": "2026-11-23T11:00:00Z"}]}]}


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def report(*args, timeout=30):
    env = dict(os.environ, NSTUTOR_LANG="en", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "tutor.cli", "report", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, timeout=timeout)


def skipped_reason(data, name):
    return next(s.reason for s in data.skipped if Path(s.path).name == name)


# ------------------------------------------------------------- 1. aborting the whole report
def test_deeply_nested_json_is_skipped_not_a_recursion_error(tmp_path):
    write(tmp_path / "in" / "good.json", doc())
    write(tmp_path / "in" / "deep.json", "[" * 100_000 + "]" * 100_000)
    write(tmp_path / "in" / "deep2.json", '{"a":' * 50_000 + "1" + "}" * 50_000)
    mid = doc(name="Mid")
    mid["lessons"][0]["steps"][0]["attempts"] = json.loads("[" * 500 + "]" * 500)   # parses; too deep to walk
    write(tmp_path / "in" / "mid.json", mid)
    data = load_class([tmp_path / "in"])
    assert [l.name for l in data.learners] == ["Ada"]
    assert "nested more than 64 levels" in skipped_reason(data, "mid.json")
    assert "nested more than" in skipped_reason(data, "deep.json")
    assert "nested more than" in skipped_reason(data, "deep2.json")


def test_lone_surrogate_in_a_name_still_writes_the_html(tmp_path):
    write(tmp_path / "in" / "good.json", doc())
    (tmp_path / "in" / "sur.json").write_text(json.dumps(doc(name="Eve\ud800")), encoding="ascii")  # "\ud800" in JSON
    out = tmp_path / "class.html"
    res = report(tmp_path / "in", "--html", out)
    assert res.returncode == 0, res.stderr
    html = out.read_text(encoding="utf-8")
    assert "Eve\\ud800" in html and "Ada" in html
    csv_out = tmp_path / "class.csv"
    assert report(tmp_path / "in", "--csv", csv_out).returncode == 0
    assert "Eve\\ud800" in (tmp_path / "class-summary.csv").read_text(encoding="utf-8")
    res = report(tmp_path / "in")
    assert res.returncode == 0 and b"Eve\\ud800" in res.stdout


def test_a_skipped_file_whose_name_is_not_utf8_is_named(tmp_path):
    folder = tmp_path / "in"
    write(folder / "good.json", doc())
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.json")
    with open(bad, "wb") as f:
        f.write(b"not json")
    out = tmp_path / "class.html"
    res = report(folder, "--html", out)
    assert res.returncode == 1
    assert b"caf\\xe9.json" in res.stderr and b"Traceback" not in res.stderr
    assert "caf\\xe9.json" in out.read_text(encoding="utf-8")


def test_dev_zero_is_not_read(tmp_path):
    skipped = load_export(Path("/dev/zero"))
    assert isinstance(skipped, Skipped) and "not a regular file" in skipped.reason
    write(tmp_path / "good.json", doc())
    res = report(tmp_path / "good.json", "/dev/zero")
    assert res.returncode == 1 and b"/dev/zero: not a regular file" in res.stderr


def test_a_file_bigger_than_stat_says_is_cut_at_the_limit(tmp_path, monkeypatch):
    from tutor.progress import merge
    monkeypatch.setattr(merge, "MAX_FILE_BYTES", 1000)
    big = write(tmp_path / "big.json", json.dumps(doc()) + " " * 2000)
    assert "larger than" in load_export(big).reason


def test_a_fifo_is_skipped_without_hanging(tmp_path):
    folder = tmp_path / "in"
    write(folder / "good.json", doc())
    os.mkfifo(folder / "pipe.json")
    res = report(folder, timeout=20)
    assert res.returncode == 1
    assert b"pipe.json: not a regular file" in res.stderr
    res = report(folder / "pipe.json", folder / "good.json", timeout=20)
    assert res.returncode == 1 and b"Ada" in res.stdout


# ------------------------------------------------------------- 2. injection
def test_escapes_and_bidi_in_names_and_versions_are_not_printed_raw(tmp_path):
    write(tmp_path / "in" / "a.json", doc(name="M\x1b]8;;h\x07y\x1b[2J\u202eevil"))
    future = doc(name="B", tool="\x1b[31m9.0")
    future["format_version"] = 99
    write(tmp_path / "in" / "future.json", future)
    res = report(tmp_path / "in")
    for stream in (res.stdout, res.stderr):
        assert b"\x1b" not in stream and "\u202e".encode() not in stream and b"\x07" not in stream
    assert b"M\\x1b]8;;h\\x07y\\x1b[2J\\u202eevil" in res.stdout
    assert b"\\x1b[31m9.0" in res.stderr


def test_csv_cells_that_a_spreadsheet_would_run_get_an_apostrophe(tmp_path):
    names = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "Ada"]
    files = [write(tmp_path / f"{i}.json", doc(name=n, ident=f"id{i}")) for i, n in enumerate(names)]
    messages = {}
    for i, message in enumerate(["\t=1+2", "\r=1+2", "fine"]):     # names are stripped; a message is not
        d = doc(name=f"M{i}", ident=f"m{i}")
        d["lessons"][0]["steps"][0]["last_message"] = messages[f"M{i}"] = message
        files.append(write(tmp_path / f"m{i}.json", d))
    data = load_class(files)
    steps, summary = write_csv(data, tmp_path / "class.csv")
    with open(summary, newline="", encoding="utf-8") as f:
        cells = {row["learner"] for row in csv.DictReader(f)}
    assert cells == {"'" + n for n in names[:-1]} | {"Ada", "M0", "M1", "M2"}
    with open(steps, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert all(not r["learner"].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows)
    assert {r["attempts"] for r in rows} == {"1"}        # numbers stay numbers
    got = {r["learner"]: r["last_message"] for r in rows if r["learner"] in messages}
    assert got == {"M0": "'\t=1+2", "M1": "'\n=1+2", "M2": "fine"}


def test_html_escapes_script_and_quotes_in_a_name(tmp_path):
    data = load_class([write(tmp_path / "a.json", doc(name='<script>alert("x")</script>\'"&'))])
    html = render_html(data)
    assert "<script>" not in html and 'alert("x")' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&quot;&amp;" in html


# ------------------------------------------------------------- 3. silently ignored or accepted
def test_json_in_any_case_is_read_and_other_files_are_named(tmp_path):
    folder = tmp_path / "in"
    write(folder / "Ada.JSON", doc(name="Ada"))
    write(folder / "ada.json.txt", doc(name="Bob"))
    res = report(folder)
    assert res.returncode == 0, res.stderr
    assert b"Ada" in res.stdout and b"Bob" not in res.stdout
    assert b"not read " in res.stderr and b"ada.json.txt: not read: the name does not end in .json" in res.stderr


def test_a_folder_without_exports_fails_with_a_message(tmp_path):
    write(tmp_path / "in" / "notes.txt", "hello")
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "in", tmp_path / "empty"):
        res = report(folder)
        assert res.returncode == 1
        assert b"no progress export was found" in res.stderr


@pytest.mark.parametrize("text, field", [
    ('{"time_spent_s": Infinity}', "Infinity"),
    ('{"time_spent_s": NaN}', "NaN"),
    ('{"time_spent_s": -Infinity}', "-Infinity"),
])
def test_infinity_and_nan_are_refused(tmp_path, text, field):
    raw = json.dumps(doc()).replace('"time_spent_s": 60.0', text[1:-1])
    loaded = load_export(write(tmp_path / "x.json", raw))
    assert isinstance(loaded, Skipped) and field in loaded.reason and "not a number" in loaded.reason


@pytest.mark.parametrize("change, field", [
    (lambda d: d["lessons"][0]["steps"][0].update(attempts=-3), "attempts"),
    (lambda d: d["lessons"][0]["steps"][0].update(failed_attempts=True), "failed_attempts"),
    (lambda d: d["lessons"][0]["steps"][0].update(hints_shown=1.5), "hints_shown"),
    (lambda d: d["lessons"][0].update(time_spent_s=-10), "time_spent_s"),
    (lambda d: d["lessons"][0].update(time_spent_s=True), "time_spent_s"),
    (lambda d: d["lessons"][0].update(number=False), "number"),
    (lambda d: d["lessons"][0].update(steps_total=-1), "steps_total"),
])
def test_negative_counts_and_booleans_are_refused_with_the_field(tmp_path, change, field):
    d = doc()
    change(d)
    loaded = load_export(write(tmp_path / "x.json", d))
    assert isinstance(loaded, Skipped) and f"{field} is not a" in loaded.reason
    assert isinstance(load_export(write(tmp_path / "ok.json", doc())), Export)


# ------------------------------------------------------------- 4. an unwritable data directory
def test_unwritable_parent_is_the_nearest_existing_one(tmp_path, monkeypatch):
    from tutor.progress import paths
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(paths.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    assert paths.unwritable_parent(locked / "nope" / "nstutor") == locked
    assert paths.unwritable_parent(tmp_path / "free" / "nstutor") is None
    assert paths.unwritable_parent(locked) is None          # it exists: its owner is the question, not a parent


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the store as another user")
def test_a_data_directory_under_an_unwritable_parent_names_the_parent(tmp_path):
    import shutil
    import tempfile
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        pytest.skip("no system python the unprivileged user can run")
    shared = Path(tempfile.mkdtemp(prefix="nstutor-test-", dir="/tmp"))
    try:
        shared.chmod(0o755)                          # root's: user 65534 may look but not write
        target = shared / "nope" / "nstutor"
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from tutor.progress.store import ProgressStore\n"
                "try:\n    ProgressStore.open()\nexcept Exception as exc:\n    print(exc)")
        res = subprocess.run([python, "-c", code, str(REPO)], user=65534, group=65534, extra_groups=[],
                             env={"NSTUTOR_DATA_DIR": str(target), "PATH": os.environ.get("PATH", "")},
                             cwd="/", capture_output=True, text=True, timeout=60)
        out = res.stdout
        assert "permission denied" in out, (out, res.stderr)
        assert f"{shared} (owned by 0:0, mode 755) is not writable by you (uid 65534)" in out
        assert "NSTUTOR_DATA_DIR" in out and "chown" not in out
    finally:
        shutil.rmtree(shared)


# ------------------------------------------------------------- Korean
def test_the_new_refusals_are_in_korean(tmp_path):
    from tutor import i18n
    folder = tmp_path / "in"
    write(folder / "deep.json", "[" * 1000 + "]" * 1000)
    write(folder / "inf.json", json.dumps(doc()).replace('"time_spent_s": 60.0', '"time_spent_s": Infinity'))
    neg = doc()
    neg["lessons"][0]["steps"][0]["attempts"] = -1
    write(folder / "neg.json", neg)
    write(folder / "notes.txt", "x")
    os.mkfifo(folder / "pipe.json")
    i18n.set_language("ko")
    try:
        data = load_class([folder])
    finally:
        i18n.set_language("en")
    assert skipped_reason(data, "deep.json") == "중첩이 64단계보다 깊습니다: 진행 기록 내보내기 파일이 아닙니다"
    assert "JSON의 숫자가 아닌 값 Infinity" in skipped_reason(data, "inf.json")
    assert skipped_reason(data, "neg.json") == ("형식이 잘못되었습니다: 레슨 'rooms'의 단계 'made'에서 attempts 값이 "
                                                "0 이상의 정수가 아닙니다: -1")
    assert skipped_reason(data, "pipe.json").startswith("일반 파일이 아닙니다")
    assert [s.reason for s in data.ignored] == ["읽지 않았습니다: 이름이 .json으로 끝나지 않습니다"]
    (tmp_path / "empty").mkdir()
    res = subprocess.run([sys.executable, "-m", "tutor.cli", "--lang", "ko", "report", str(tmp_path / "empty")],
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 1 and "진행 기록 내보내기 파일을 찾지 못했습니다" in res.stderr
    assert "no progress export was found" not in res.stderr


@pytest.mark.parametrize("field,value,what", [("status", [None], "text"), ("status", 1e308, "text"),
                                              ("passing_now", [], "true or false"), ("last_message", {"a": 1}, "text"),
                                              ("first_pass", 3, "text"), ("solution_viewed", "yes", "true or false")])
def test_a_step_field_of_the_wrong_type_is_refused_and_the_report_still_written(tmp_path, field, value, what):
    # found by tests/test_fuzz_readers.py: a list or a number as a step's status or passing_now raised
    # TypeError/AttributeError in write_csv and render_html. Reject or say, never guess: the file is
    # skipped with the field named, and the report of the others is written
    from tutor.progress.report import summary_lines
    bad = doc("Ada")
    bad["lessons"][0]["steps"][0][field] = value
    write(tmp_path / "in" / "ada.json", bad)
    write(tmp_path / "in" / "grace.json", doc("Grace"))
    data = load_class([tmp_path / "in"])
    assert {l.name for l in data.learners} == {"Grace"}
    reason = skipped_reason(data, "ada.json")
    assert f"{field} is not {what}:" in reason, reason
    write_csv(data, tmp_path / "steps.csv")
    assert "Grace" in render_html(data)
    summary_lines(data)
