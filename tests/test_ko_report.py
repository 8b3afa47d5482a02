"""The class report and the app in Korean (issue 16): `nstutor report --lang ko` writes Korean
headers and words (HTML, CSV header rows, the text summary) with the data as it was exported, and
English stays as it was; the app's panel titles and dialogs speak Korean under Korean."""
from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from progress_support import StepPlan, make_export, write_export
from tutor import i18n
from tutor.progress.export import STEP_COLUMNS
from tutor.progress.merge import load_class
from tutor.progress.report import SUMMARY_COLUMNS, summary_lines, write_csv
from tutor.progress.report_html import render_html

REPO = Path(__file__).resolve().parent.parent
MADE = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)


def report(args, env_lang="en"):
    import os
    env = dict(os.environ, NSTUTOR_LANG=env_lang)
    return subprocess.run([sys.executable, "-m", "tutor.cli", "report", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def a_class(tmp_path) -> Path:
    folder = tmp_path / "in"
    write_export(folder / "ada.json", make_export(tmp_path, "Ada", {
        ("rooms", "made"): StepPlan(passes=True), ("rooms", "cable"): StepPlan(fails=3, hints=2, solution=True)},
        minutes={"rooms": 12}))
    write_export(folder / "kim.json", make_export(tmp_path, "김민준", {("pids", "pid1"): StepPlan(fails=1, passes=True)},
                                                  minutes={"pids": 4}))
    (folder / "broken.json").write_text('{"format": "nstutor-progress"')
    return folder


def in_korean(fn, *args, **kw):
    i18n.set_language("ko")
    try:
        return fn(*args, **kw)
    finally:
        i18n.set_language("en")


# --------------------------------------------------------------- the class report
def test_the_html_report_in_korean_has_korean_headers_and_lang_ko(tmp_path):
    data = in_korean(load_class, [a_class(tmp_path)])          # (a skipped file's reason is said on loading)
    page = in_korean(render_html, data, generated=MADE)
    assert '<html lang="ko">' in page
    for korean in ("<title>nstutor 수업 보고서</title>", "<h1>nstutor 수업 보고서</h1>",
                   "학습자 2명, 레슨 2개, 내보내기 파일 2개에서 읽음. 만든 시각: 2026-01-02 03:04 UTC",
                   "이 보고서에서 뺀 파일:", '<h2 id="matrix">진행: 학습자 &times; 레슨</h2>',
                   '<th class="learner">학습자</th>', "<th>합계</th>", "모든 단계 통과", "시작 안 함",
                   '<h2 id="stuck">그룹이 막히는 곳</h2>', '<h2 id="time">레슨별 시간</h2>', "중앙값 12.0분",
                   '<h2 id="learners">학습자별 기록</h2>', "<summary>Ada: 단계 5개 중 1개 통과, 레슨 0개 완료, 12분</summary>",
                   "<th>레슨</th><th>단계</th><th>상태</th><th>시도</th><th>실패</th><th>힌트</th><th>정답</th>",
                   '<td class="st-passed">통과</td>', '<td class="st-started">진행 중</td>', "<td>봄</td>",
                   "실패한 시도 3번", "실패 3번, 힌트 2개, 정답 1건, 0/1명 통과"):
        assert korean in page, korean
    # the data is as exported: names, lesson and step ids, the reason's file name
    assert "김민준" in page and ">rooms<" in page and ">cable<" in page and "broken.json" in page
    assert "잘린 파일입니다: JSON이 끝나기 전에 멈춥니다" in page
    for english in ("nstutor class report", "Where the group gets stuck", "Time per lesson", "Each learner",
                    "Files left out", "steps passed", "failed attempts", " min", ">passed<", "Still failing"):
        assert english not in page, english


def test_the_english_html_report_is_unchanged(tmp_path):
    data = load_class([a_class(tmp_path)])
    page = render_html(data, generated=MADE)
    assert '<html lang="en">' in page
    for english in ("<title>nstutor class report</title>",
                    '<p class="meta">2 learners, 2 lessons, from 2 export files. Made 2026-01-02 03:04 UTC by nstutor ',
                    "<strong>Files left out of this report:</strong>", "truncated: the JSON stops before it is complete",
                    '<h2 id="matrix">Progress: learners &times; lessons</h2>', '<th class="learner">Learner</th>',
                    "<th>Total</th>", "Each cell: steps passed / steps in the lesson.",
                    "<summary>Ada: 1 of 5 steps, 0 lessons complete, 12 min</summary>",
                    "<th>Lesson</th><th>Step</th><th>Status</th><th>Attempts</th><th>Failed</th><th>Hints</th>"
                    "<th>Solution</th><th>First pass</th><th>Still failing with</th>",
                    '<td class="st-passed">passed</td>', "<title>3 failed attempts</title>",
                    "3 failed, 2 hints, 1 sol., 0/1 passed", "<title>median 12.0 min</title>", "12 min (n=1, 12&#8211;12)"):
        assert english in page, english
    assert "학습자" not in page and "수업" not in page


def test_the_csv_headers_are_translated_and_the_rows_are_the_data(tmp_path):
    data = load_class([a_class(tmp_path)])
    (tmp_path / "en").mkdir()
    (tmp_path / "ko").mkdir()
    english = write_csv(data, tmp_path / "en" / "class.csv")
    korean = in_korean(write_csv, data, tmp_path / "ko" / "class.csv")
    for en_path, ko_path, columns in zip(english, korean, (STEP_COLUMNS, SUMMARY_COLUMNS)):
        en_rows = list(csv.reader(en_path.open(encoding="utf-8")))
        ko_rows = list(csv.reader(ko_path.open(encoding="utf-8")))
        assert en_rows[0] == list(columns)                  # English: the column names, as before
        assert len(ko_rows[0]) == len(columns) and ko_rows[0] != en_rows[0]
        assert all(not h.isascii() for h in ko_rows[0] if h not in ("학습자 ID",)), ko_rows[0]
        assert ko_rows[1:] == en_rows[1:]                   # values: ids, numbers, dates, statuses unchanged
    step_header = list(csv.reader(korean[0].open(encoding="utf-8")))[0]
    assert step_header[:6] == ["학습자", "학습자 ID", "호스트 이름", "내보낸 시각", "레슨 번호", "레슨"]
    summary_header = list(csv.reader(korean[1].open(encoding="utf-8")))[0]
    assert summary_header[SUMMARY_COLUMNS.index("percent")] == "진행률(%)"


def test_the_text_summary_in_korean_and_unchanged_in_english(tmp_path):
    data = load_class([a_class(tmp_path)])
    assert summary_lines(data) == ["Ada     1/5 steps   20%     12 min  0 lessons complete",
                                   "김민준  1/5 steps   20%      4 min  0 lessons complete"]
    assert in_korean(summary_lines, data) == ["Ada     단계 1/5   20%     12분  레슨 0개 완료",
                                              "김민준  단계 1/5   20%      4분  레슨 0개 완료"]


def test_report_lang_ko_on_the_command_line_chooses_korean_and_without_it_the_usual_choice(tmp_path):
    folder = a_class(tmp_path)
    res = report([folder, "--lang", "ko", "--html", tmp_path / "ko.html", "--csv", tmp_path / "ko.csv"])
    assert res.returncode == 1 and "Traceback" not in res.stderr          # 1: broken.json was skipped
    assert '<html lang="ko">' in (tmp_path / "ko.html").read_text()
    assert (tmp_path / "ko.csv").read_text(encoding="utf-8").startswith("학습자,학습자 ID,")
    assert "broken.json: 잘린 파일입니다" in res.stderr
    # without --lang: the usual choice (here NSTUTOR_LANG), English or Korean
    res = report([folder, "--html", tmp_path / "en.html"])
    assert '<html lang="en">' in (tmp_path / "en.html").read_text()
    assert "broken.json: truncated: the JSON stops" in res.stderr
    res = report([folder, "--html", tmp_path / "env-ko.html"], env_lang="ko")
    assert '<html lang="ko">' in (tmp_path / "env-ko.html").read_text()
    # and --lang wins over the environment, wherever it stands on the line
    res = report(["--lang=en", folder, "--html", tmp_path / "flag-en.html"], env_lang="ko")
    assert '<html lang="en">' in (tmp_path / "flag-en.html").read_text()
    assert "--lang LANG" in report(["--help"]).stdout


# --------------------------------------------------------------- the app
from test_app import SIZE, fixed, notices, plain, wait_for          # noqa: E402  (the app tests' helpers)
from test_app_scenes import red_blue_cable                          # noqa: E402



async def test_panel_titles_and_captions_are_korean_under_korean(tmp_path, korean):
    from tutor.app.app import NstutorApp
    from tutor.app.widgets.live_panel import LivePanel
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        panel = app.screen.query_one(LivePanel)
        titles = {}
        for key in ("1", "2", "3", "9"):
            await pilot.press(key)
            await wait_for(pilot, lambda: panel.current == key, what=f"view {key}")
            titles[key] = panel.view_title
        assert titles == {"1": "토폴로지", "2": "네임스페이스", "3": "링크와 주소", "9": "컨테이너"}
        await pilot.press("3")
        await pilot.pause()
        body = plain(panel.query_one("#view-body"))
        # nstutor's words in Korean; what mimics ip (the columns, the names, UP) as the tool says it
        assert "네트워크 네임스페이스별 링크와 주소, ip -br link / ip -br addr처럼" in body
        assert "LINK" in body and "STATE" in body and "veth0" in body and "BLUE/veth1" in body
        assert "Links and addresses per network namespace" not in body


async def test_the_reset_dialog_is_korean_under_korean(tmp_path, korean, monkeypatch):
    from tutor.app.app import NstutorApp
    from tutor.app.screens.lesson import LessonScreen
    from tutor.app.screens.modals import ConfirmScreen
    from tutor.lessons import cleanup
    from textual.widgets import Button, Static
    # what reset would find, without looking at (or touching) this machine
    monkeypatch.setattr(cleanup, "find_strays", lambda lesson: [])
    monkeypatch.setattr(cleanup, "cleanup_present", lambda lesson: {"netns": ["RED", "BLUE"]})
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        dialog = app.screen
        texts = [plain(s) for s in dialog.query(Static) if not isinstance(s, Button)]
        assert texts[0].strip() == "이 레슨을 초기화할까요?"
        body = texts[1]
        assert "에서 만들어 아직 남아 있는 것을 지우고 레슨을 다시 시작할까요?" in body
        assert "진행 기록은 그대로 남습니다." in body and "Your progress record" not in body
        buttons = [str(b.label) for b in dialog.query(Button)]
        assert buttons == ["지우기 (y)", "아니요 (n)"]
        await pilot.press("n")                  # never yes: nothing is removed
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the dialog to close")


async def test_the_language_key_remembers_the_other_language_for_the_next_start(tmp_path):
    from tutor.app.app import NstutorApp
    from tutor.progress.store import ProgressStore
    store = tmp_path / "p.db"
    app = NstutorApp("welcome", store_path=store, snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        await pilot.press("L")
        await wait_for(pilot, lambda: any("한국어" in n for n in notices(app)), what="the notice")
        said = [n for n in notices(app) if "한국어" in n][-1]
        # said in the language read now (an L pressed by mistake is understood), then in the one chosen;
        # this process keeps its own until it starts again
        assert "nstutor를 다음에 시작할 때부터 한국어입니다" in said and "--lang" in said and "NSTUTOR_LANG" in said
        assert said.index("Language: 한국어 from the next start") < said.index("nstutor를 다음에 시작할 때부터"), said
        assert i18n.current() == "en"
        with ProgressStore.open(store) as opened:
            assert opened.language() == "ko"
        await pilot.press("L")                  # and back
        await wait_for(pilot, lambda: any("English from the next start" in n for n in notices(app)),
                       what="the notice in English")
        with ProgressStore.open(store) as opened:
            assert opened.language() == "en"
        await pilot.press("question_mark")      # the key help lists it
        from tutor.app.screens.modals import HelpScreen
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert "L" in {k for _, rows in app.screen.sections for k, _ in rows}
