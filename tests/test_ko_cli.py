"""The command line in Korean (issue 16): `nstutor check`, `progress`, `reset`, errors and every
command's --help come out Korean under `--lang ko` and under NSTUTOR_LANG=ko, with the commands,
option names, lesson ids and paths in them exact; and English stays what it was.

Run: /opt/nstutor/bin/python -m pytest -q tests/test_ko_cli.py
(one test, needs_root, makes lesson welcome's netns hello and resets it: run the file under
`flock /tmp/nstutor-lesson.lock`; the others only read the machine.)
"""
from __future__ import annotations

import os
import re
import subprocess
from collections import namedtuple
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from progress_support import StepPlan, demo_catalog, make_export
from tutor import i18n
from tutor.cli import main, step_lines
from tutor.lessons.cleanup import cleanup_summary
from tutor.progress.table import progress_table

REPO = Path(__file__).resolve().parent.parent
HANGUL = re.compile(r"[\uac00-\ud7a3]")
Stray = namedtuple("Stray", "what command")       # what step_lines reads of a stray (hashable, as the real one)


def run_cli(*args: str, lang: str | None = "ko", **kw) -> subprocess.CompletedProcess:
    """nstutor from this tree, in *lang* by NSTUTOR_LANG (None: by --lang in *args* alone)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NSTUTOR_LANG", None)
    env.update({"NSTUTOR_LANG": lang} if lang else {"LANG": "C", "LC_ALL": "C", "LANGUAGE": ""})
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL, **kw)



def _no_hello():
    if Path("/run/netns/hello").exists():
        pytest.skip("a netns 'hello' exists on this machine (lesson welcome's object)")


# --------------------------------------------------------------- check
def test_check_welcome_in_korean_says_the_summary_and_keeps_the_status_words_and_ids():
    _no_hello()
    res = run_cli("check", "welcome")
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].endswith("  (welcome)") and HANGUL.search(lines[0]), lines[0]      # the Korean title
    assert re.match(r"^  FAIL  made: \S", lines[1]), res.stdout        # PASS/FAIL and step ids stay
    assert "  FAIL  lo-up: " in res.stdout, res.stdout
    assert lines[-1] == "단계 2개 중 0개 통과", res.stdout
    assert "steps pass" not in res.stdout and "step passes" not in res.stdout


def test_check_step_lines_in_korean(korean):
    stray = Stray(what="네트워크 네임스페이스 Hello", command="ip netns del Hello")
    passed = SimpleNamespace(unprobed=False, passed=True, id="made", title="만들기", reasons=[],
                             verdicts=[SimpleNamespace(passed=True, strays=[stray])])
    assert step_lines(passed) == ["  PASS  made: 만들기",
                                  "        그 옆에 네트워크 네임스페이스 Hello도 있습니다. 지우려면: ip netns del Hello"]
    unprobed = SimpleNamespace(unprobed=True, id="ping", title="핑", passed=False, reasons=[], verdicts=[])
    assert step_lines(unprobed) == ["  ----  ping: 핑 (프로브하지 않음: --no-probe 없이 실행하세요)"]


def test_check_summary_with_no_probe_in_korean():
    res = run_cli("check", "netns-veth", "--no-probe")
    last = res.stdout.splitlines()[-1]
    assert re.fullmatch(r"단계 5개 중 \d개 통과, 1개는 프로브하지 않음 \(--no-probe\)", last), res.stdout


# --------------------------------------------------------------- progress
def test_progress_in_korean(tmp_path):
    env = {"NSTUTOR_DATA_DIR": str(tmp_path / "data")}
    res = subprocess.run([sys.executable, "-m", "tutor", "whoami", "홍길동"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**os.environ, **env, "PYTHONPATH": str(REPO),
                                                     "NSTUTOR_LANG": "ko"})
    assert res.returncode == 0 and res.stdout == "이제 진행 기록 내보내기에 들어가는 이름: 홍길동\n", res
    res = subprocess.run([sys.executable, "-m", "tutor", "--lang", "ko", "progress"], cwd=REPO,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env, "PYTHONPATH": str(REPO), "NSTUTOR_LANG": "en"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "홍길동의 진행 상황", res.stdout
    welcome = next(l for l in lines if " welcome " in l)
    assert re.fullmatch(r" 1  welcome +0/2  단계 +0분", welcome), welcome
    assert re.fullmatch(r"단계 \d+개 중 0개를 통과했습니다\.", lines[-1]), lines[-1]
    assert " min" not in res.stdout and "steps" not in res.stdout and "Progress of" not in res.stdout


def test_progress_table_facts_in_korean(tmp_path, korean):
    doc = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(fails=2, hints=1, passes=True, solution=True),   # 3 attempts
                                        ("rooms", "cable"): StepPlan(fails=1)}, catalog=demo_catalog())
    table = progress_table(doc, all_steps=True)
    made = next(l for l in table.splitlines() if " made " in l)
    cable = next(l for l in table.splitlines() if " cable " in l)
    assert re.search(r"✔ made +통과 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, 시도 3번, 힌트 1개, 정답 봄$", made), made
    assert cable.endswith("✘ cable  아직 통과하지 못함, 시도 1번"), cable
    assert "진행 중" in next(l for l in table.splitlines() if " rooms " in l), table
    assert "시작 안 함" in table and "attempt" not in table and "passed" not in table


# --------------------------------------------------------------- reset
def test_reset_with_nothing_to_remove_in_korean():
    _no_hello()
    res = run_cli("reset", "welcome")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "레슨 1 (welcome)에서 만드는 것이 지금 이 머신에는 없습니다.\n초기화할 것이 없습니다.\n"


@pytest.mark.needs_root
def test_reset_yes_in_korean_says_what_it_removed():
    """Builds lesson welcome's netns hello (a kernel object: run under the lesson lock) and resets it."""
    _no_hello()
    try:
        subprocess.run(["ip", "netns", "add", "hello"], check=True)
        res = run_cli("reset", "welcome", "--yes")
        assert res.returncode == 0, res.stderr
        assert res.stdout == ("레슨 1 (welcome)에서 만든 것 중 이 머신에 아직 남아 있는 다음 항목을 지웁니다:\n"
                              "  - 네트워크 네임스페이스 hello\n"
                              "  네트워크 네임스페이스 hello 삭제\n"), res.stdout
        assert not Path("/run/netns/hello").exists()
    finally:
        subprocess.run(["ip", "netns", "del", "hello"], capture_output=True)


def test_reset_question_in_korean_keeps_names_and_commands(korean):
    lesson = SimpleNamespace(cleanup={"netns": ["c1", "c2"], "links": ["nsbr0"],
                                      "processes": [{"comm": "pause", "cmdline": "(nstutor pause|-m tutor\\.pause)$"}],
                                      "script": "iptables -D FORWARD -i nsbr0 -j ACCEPT 2>/dev/null || true\n"})
    assert cleanup_summary(lesson).splitlines() == [
        "  - 이름이 pause인 프로세스 (`… nstutor pause` 또는 `… -m tutor.pause` 명령으로 시작된 것)",
        "  - 네트워크 네임스페이스 c1, c2",
        "  - 링크 nsbr0",
        "  - 그리고 다음 명령을 실행합니다 (레슨의 정리 스크립트):",
        "      iptables -D FORWARD -i nsbr0 -j ACCEPT",
    ]
    assert cleanup_summary(SimpleNamespace(cleanup={})) == "  (이 레슨은 지울 것을 선언하지 않았습니다)"


# --------------------------------------------------------------- errors
def test_errors_in_korean_keep_the_names(capsys):
    try:
        assert main(["--lang", "ko", "check", "no-such-lesson"]) == 2
        assert capsys.readouterr().err == "nstutor: 알 수 없는 레슨 'no-such-lesson' (레슨 목록: nstutor list)\n"
        assert main(["--lang", "ko", "check", "welcome", "--step", "nope"]) == 2
        assert capsys.readouterr().err == "nstutor: 레슨 'welcome'에 없는 단계 'nope' (단계: made, lo-up)\n"
        assert main(["--lang", "ko", "chekc", "welcome"]) == 2
        assert capsys.readouterr().err == "nstutor: 알 수 없는 명령 'chekc': 'check'의 오타인가요?\n"
        assert main(["--lang", "ko", "check", "welcome", "--stpe", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("사용법: nstutor check ") and \
            err.endswith("nstutor check: 오류: 알 수 없는 옵션 '--stpe': '--step'의 오타인가요?\n"), err
        assert main(["--lang", "ko", "progress", "export", "--format", "jsno"]) == 2
        assert capsys.readouterr().err.endswith(
            "nstutor progress export: 오류: 인자 --format: 잘못된 값 'jsno': 'json'의 오타인가요?\n")
    finally:
        i18n.set_language("en")
    assert main(["check", "no-such-lesson"]) == 2        # and English is back
    assert capsys.readouterr().err == "nstutor: unknown lesson 'no-such-lesson' (nstutor list shows the lessons)\n"


# --------------------------------------------------------------- --help
@pytest.mark.parametrize("how", ["--lang", "NSTUTOR_LANG"])
def test_check_help_in_korean(how):
    res = run_cli("--lang", "ko", "check", "--help", lang=None) if how == "--lang" else run_cli("check", "--help")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("사용법: nstutor check [-h] [--step STEP] [--json] [--no-probe] LESSON\n"), out
    assert "\n레슨의 단계를 지금 이 머신에서 확인합니다 (하나라도 실패하면 종료 코드 1).\n" in out
    assert "\n위치 인자:\n  LESSON       레슨의 id나 번호, 예: bridge 또는 11\n" in out, out
    assert "\n옵션:\n  -h, --help   이 도움말을 보여 주고 끝냅니다\n" in out, out
    assert "  --step STEP  이 단계만: 단계의 id나 레슨 안에서의 번호\n" in out, out
    assert "  --no-probe   도달성 프로브를 보내지 않음\n" in out, out
    assert "usage:" not in out and "options:" not in out and "reachability" not in out


def test_reset_and_report_help_in_korean():
    res = run_cli("reset", "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("사용법: nstutor reset [-h] [--yes] LESSON\n"), res.stdout
    # (wrapped by cells: at 80 columns the description takes two lines)
    assert "레슨이 만든 것과, 여러분이 비슷하지만 조금 다르게 만든 것을 지웁니다 (먼저 묻습니다)." in " ".join(res.stdout.split())
    assert "  --yes       묻지 않음\n" in res.stdout, res.stdout
    report = run_cli("report", "--help").stdout
    assert "학습자들의 JSON 내보내기를 모아 수업 보고서를 만듭니다 (CSV, HTML)." in report, report
    assert "  --html OUT   표와 차트가 든 독립된 페이지 하나\n" in report, report


def test_main_help_in_korean_keeps_the_commands_and_examples():
    out = run_cli("--help").stdout
    assert out.startswith("사용법: nstutor [LESSON]           앱을 엽니다"), out
    assert "\n        nstutor COMMAND [ARGS...]  명령 하나 (자세히: nstutor COMMAND --help)\n" in out
    assert "\n예:\n  nstutor 10                          앱에서 레슨 10 (netns-veth) 열기\n" in out, out
    assert "  nstutor progress export -o me.json  제출할 진행 기록을 파일로 쓰기\n" in out
    assert "\n명령:\n" in out and "    check        레슨의 단계를" in out, out


def test_english_help_is_unchanged():
    res = run_cli("check", "--help", lang="en")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: nstutor check [-h] [--step STEP] [--json] [--no-probe] LESSON\n")
    assert "\npositional arguments:\n  LESSON       the lesson's id or number, e.g. bridge or 11\n" in res.stdout
    assert "\noptions:\n  -h, --help   show this help message and exit\n" in res.stdout
    assert "  --no-probe   do not send reachability probes\n" in res.stdout
    assert not HANGUL.search(res.stdout)
    top = run_cli("--help", lang=None).stdout          # the C locale: English
    assert top.startswith("usage: nstutor [LESSON]           open the app (on LESSON: its id or number)\n"
                          "       nstutor COMMAND [ARGS...]  run one command; nstutor COMMAND --help says more\n")
    assert "\nexamples:\n  nstutor 10                          open lesson 10 (netns-veth) in the app\n" in top


@pytest.mark.parametrize("command", [[], ["check"], ["reset"], ["progress"], ["progress", "export"], ["report"],
                                     ["lang"], ["lint"], ["verify-lesson"], ["setup"], ["whoami"]])
def test_korean_help_fits_an_80_column_terminal(command, monkeypatch):
    """argparse wraps by characters and Hangul takes two cells: the help is wrapped by cells
    (cli.CellWidthHelp), and the hand-laid usage lines are short enough."""
    from rich.cells import cell_len
    monkeypatch.setenv("COLUMNS", "80")
    out = run_cli(*command, "--help").stdout
    wide = [line for line in out.splitlines() if cell_len(line) > 80]
    assert out and not wide, wide
