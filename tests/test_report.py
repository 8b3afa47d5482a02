"""`nstutor report`: merging learners' exports, skipping bad files with reasons, the CSV files, and
the HTML page, which headless Chromium renders (DOM and screenshot)."""
from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from progress_support import StepPlan, demo_class, make_export, write_export
from tutor.progress.merge import load_class
from tutor.progress.report import stuck_steps
from tutor.progress.report_html import render_html

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def report(args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "tutor.cli", "report", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def learner(data, name):
    return next(l for l in data.learners if l.name == name)


# --------------------------------------------------------------- merging
def test_newest_record_of_each_step_wins_across_exports_of_one_learner(tmp_path):
    store = tmp_path / "ada.sqlite3"
    monday = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(fails=1)}, store_path=store,
                         minutes={"rooms": 10})
    time.sleep(1.1)     # export times have one-second resolution; the second export must be newer
    friday = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(passes=True)}, store_path=store,
                         minutes={"rooms": 5})
    other_vm = copy.deepcopy(monday)        # the same learner's older copy, exported later by mistake
    other_vm["exported_at"] = "2099-01-01T00:00:00Z"
    write_export(tmp_path / "in" / "1.json", monday)
    write_export(tmp_path / "in" / "2.json", friday)
    write_export(tmp_path / "in" / "3.json", other_vm)
    data = load_class([tmp_path / "in"])
    assert not data.skipped and len(data.learners) == 1
    ada = data.learners[0]
    # Per step the most recent *activity* wins, not the newest file: the pass on Friday stands.
    assert ada.step("rooms", "made")["status"] == "passed"
    assert ada.time_spent("rooms") == 15 * 60
    assert len(ada.files) == 3


def test_two_learners_with_one_name_stay_two(tmp_path):
    a = make_export(tmp_path / "a", "Sam", {("rooms", "made"): StepPlan(passes=True)})
    b = make_export(tmp_path / "b", "Sam", {("pids", "pid1"): StepPlan(passes=True)})
    data = load_class([write_export(tmp_path / "a.json", a), write_export(tmp_path / "b.json", b)])
    assert len(data.learners) == 2
    assert sorted(l.passed(next(x for x in data.lessons if x.id == "rooms")) for l in data.learners) == [0, 1]


def test_stuck_steps_rank_failures_hints_and_solutions(tmp_path):
    docs = [make_export(tmp_path, n, {("rooms", "cable"): StepPlan(fails=4, hints=2, solution=True),
                                      ("rooms", "made"): StepPlan(fails=1, passes=True)}) for n in ("A", "B")]
    data = load_class([write_export(tmp_path / f"{i}.json", d) for i, d in enumerate(docs)])
    worst = stuck_steps(data)
    assert [s.label for s in worst] == ["rooms/cable", "rooms/made"]
    assert (worst[0].failed_attempts, worst[0].hints, worst[0].solutions, worst[0].passed) == (8, 4, 2, 0)


# --------------------------------------------------------------- bad input
def test_bad_files_are_named_with_the_reason_and_the_rest_still_builds(tmp_path):
    good = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(passes=True)})
    folder = tmp_path / "in"
    write_export(folder / "ada.json", good)
    text = json.dumps(good, indent=2)
    (folder / "truncated.json").write_text(text[: len(text) // 2])
    (folder / "foreign.json").write_text(json.dumps({"name": "package.json of something"}))
    (folder / "future.json").write_text(json.dumps(dict(good, format_version=99, tool_version="9.0")))
    (folder / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    (folder / "lab-env.json").write_text("export X=1\n")           # a text file, but no JSON at all
    bad_steps = copy.deepcopy(good)
    bad_steps["lessons"][0]["steps"][1]["attempts"] = "many"
    write_export(folder / "malformed.json", bad_steps)
    os.symlink(folder / "vanished.json", folder / "dangling.json")
    html, out_csv = tmp_path / "class.html", tmp_path / "class.csv"
    res = report([folder, tmp_path / "missing-dir", "--html", html, "--csv", out_csv])
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    reasons = {line.split(":", 1)[0].removeprefix("skipped ").rsplit("/", 1)[-1]: line
               for line in res.stderr.splitlines() if line.startswith("skipped ")}
    assert "truncated" in reasons["truncated.json"]
    assert "not an nstutor progress export" in reasons["foreign.json"]
    assert "newer nstutor" in reasons["future.json"] and "9.0" in reasons["future.json"]
    assert "not a text file" in reasons["binary.json"]
    assert reasons["lab-env.json"].endswith("not an nstutor progress export: it is not JSON (from line 1, column 1 on)")
    assert "attempts is not a number" in reasons["malformed.json"]
    assert "cannot be read" in reasons["dangling.json"]
    assert "no such file" in reasons["missing-dir"]
    page = html.read_text()
    assert "Ada" in page and "truncated.json" in page and "Files left out" in page
    assert list(csv.DictReader(out_csv.open()))[0]["learner"] == "Ada"


def test_all_good_input_exits_zero_and_prints_a_summary(tmp_path):
    doc = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(passes=True)})
    res = report([write_export(tmp_path / "ada.json", doc)])
    assert res.returncode == 0, res.stderr
    assert "Ada" in res.stdout and "1/5" in res.stdout and "1 learner from 1 file." in res.stderr


def test_csv_has_a_row_per_learner_and_step_and_a_summary(tmp_path):
    paths = [write_export(tmp_path / f"{n}.json", make_export(tmp_path, n, {("rooms", "made"): StepPlan(passes=True)},
                                                              minutes={"rooms": 3}))
             for n in ("Ada", "Brian", "Chen")]
    res = report([*paths, "--csv", tmp_path / "class.csv"])
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader((tmp_path / "class.csv").open()))
    assert len(rows) == 3 * 5 and {r["learner"] for r in rows} == {"Ada", "Brian", "Chen"}
    summary = list(csv.DictReader((tmp_path / "class-summary.csv").open()))
    assert [(r["learner"], r["steps_passed"], r["steps_total"], r["percent"], r["minutes"]) for r in summary] == \
        [(n, "1", "5", "20", "3.0") for n in ("Ada", "Brian", "Chen")]


# --------------------------------------------------------------- the HTML page
def test_html_escapes_learner_data_and_loads_nothing_from_outside(tmp_path):
    doc = make_export(tmp_path, "<script>alert(1)</script>", {("rooms", "made"): StepPlan(fails=2)})
    doc["hostname"] = "<img src=x onerror=alert(2)>"
    data = load_class([write_export(tmp_path / "x.json", doc)])
    page = render_html(data)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    plain = render_html(load_class([write_export(tmp_path / "y.json", make_export(tmp_path, "Ada", {}))]))
    for outside in ("http://", "https://", "<link", "<script", " src=", "@import", "url("):
        assert outside not in plain, outside


def test_html_of_an_empty_class_says_so(tmp_path):
    page = render_html(load_class([tmp_path / "nothing-here"]))
    assert "nothing to show" in page and "no such file" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (sudo ./install.sh --test)")
def test_chromium_renders_the_matrix_and_the_charts(tmp_path):
    from tutor.lessons import load_catalog
    catalog = load_catalog()
    paths = demo_class(tmp_path, catalog, learners=12)
    html = tmp_path / "class.html"
    res = report([tmp_path / "exports", "--html", html])
    assert res.returncode == 0, res.stderr
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--no-first-run", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('<tr><td class="learner"') == len(paths) == 12
    assert dom.count("<th title=") == len(catalog.lessons)
    assert 'id="stuck-chart"' in dom and dom.count('class="bar"') >= 3
    assert 'id="time-chart"' in dom and dom.count("<details") == 12
    png = tmp_path / "class.png"
    subprocess.run([*common, "--window-size=1400,1800", f"--screenshot={png}", html.as_uri()],
                   capture_output=True, timeout=120, cwd=tmp_path)
    from PIL import Image
    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 1800)
    colours = image.getcolors(maxcolors=1 << 20)
    counts = {rgb: n for n, rgb in colours}

    def area(rgb):   # pixels of one of the report's colours (completion green, failure red, time blue)
        return sum(n for c, n in counts.items() if all(abs(a - b) <= 12 for a, b in zip(c, rgb)))
    assert area((0x1a, 0x7f, 0x37)) > 2000, "no completed cells in the matrix"
    assert area((0xcf, 0x22, 0x2e)) > 500, "no failed-attempt bars in the chart"
    assert area((0x09, 0x69, 0xda)) > 500, "no time bars in the chart"
