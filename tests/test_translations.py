"""Korean lessons (issue 16, part 1): sibling files held to the English checks, and the language choice.

- a translation that keeps every check, solution, shell block and front matter key is shown in place
  of the English lesson; one that changes any of them is a located lint problem, and the catalog
  shows the English lesson instead (a learner is never taught other commands than those checked);
- --lang, NSTUTOR_LANG, `nstutor lang`, the locale, in that order;
- the progress of a lesson is the same whichever language it was read in.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tutor import i18n
from tutor.cli import main
from tutor.lessons import load_catalog
from tutor.lessons.lint import lint
from tutor.paths import lessons_dir

REPO = Path(__file__).resolve().parent.parent
KO_WELCOME = lessons_dir() / "ko" / "01-welcome.md"


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=env)


# --------------------------------------------------------------- what lint and the catalog make of a translation
@pytest.fixture
def lessons(tmp_path):
    """A lessons directory with welcome in English and its Korean translation, to break."""
    directory = tmp_path / "lessons"
    (directory / "ko").mkdir(parents=True)
    shutil.copy(lessons_dir() / "01-welcome.md", directory / "01-welcome.md")
    shutil.copy(KO_WELCOME, directory / "ko" / "01-welcome.md")
    return directory


def edit(path: Path, old: str, new: str) -> int:
    """Replace *old* (once) in *path*; return the 1-based line it was on."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def test_the_shipped_translations_keep_the_english_checks():
    report = lint([lessons_dir()])
    assert KO_WELCOME in report.files and not report.problems, [str(p) for p in report.problems]
    assert "01-welcome.md" not in report.untranslated["ko"]
    english, korean = load_catalog(language="en"), load_catalog(language="ko")
    en, ko = english.find("welcome"), korean.find("welcome")
    assert ko.language == "ko" and en.language == "en" and ko.title != en.title
    assert [s.id for s in ko.steps] == [s.id for s in en.steps]
    assert [s.solution for s in ko.steps] == [s.solution for s in en.steps]
    # progress is kept per version of the checks, whichever language the learner reads
    assert ko.content_hash == en.content_hash and ko.number == en.number
    assert not korean.untranslated, korean.untranslated          # every shipped lesson has its Korean
    assert all(lesson.language == "ko" for lesson in korean.lessons)


def test_a_lesson_without_its_translation_is_shown_in_english_and_listed(lessons):
    """A lesson added in English only: the Korean catalog shows it in English, and lint names it."""
    shutil.copy(lessons_dir() / "02-processes.md", lessons / "02-processes.md")
    korean = load_catalog(lessons, "ko")
    assert korean.find("processes").language == "en" and korean.find("welcome").language == "ko"
    assert "processes" in korean.untranslated and "welcome" not in korean.untranslated
    report = lint([lessons])
    assert not report.problems and "02-processes.md" in report.untranslated["ko"]


def test_a_good_translation_is_shown_and_lint_is_clean(lessons):
    assert not lint([lessons]).problems
    assert load_catalog(lessons, "ko").find("welcome").language == "ko"


@pytest.mark.parametrize("old, new, says", [
    ("  - netns: {name: hello, only_lo: true, lo_up: true}", "  - netns: {name: hello, lo_up: true}",
     "step 'lo-up': 'expect' differs from 01-welcome.md's"),
    ("solution: |\n  ip netns add hello", "solution: |\n  ip netns add hallo",
     "step 'made': 'solution' differs"),
    ("ip -n hello link\nip netns exec hello ip addr", "ip -n hello link\nip netns exec hello ip a",
     "this shell block differs from the one on line"),
    ("minutes: 10", "minutes: 12", "front matter 'minutes' differs"),
    ("  - \"실행: ip netns add hello\"\n", "", "step 'made' has 1 hints, 01-welcome.md 2"),
])
def test_a_translation_that_changes_what_is_checked_or_typed_is_refused(lessons, old, new, says):
    korean = lessons / "ko" / "01-welcome.md"
    line = edit(korean, old, new)
    problems = lint([lessons]).problems
    assert problems and all(p.path == korean for p in problems), [str(p) for p in problems]
    assert any(says in p.message for p in problems), [str(p) for p in problems]
    located = [p for p in problems if says in p.message][0]
    # located: the front matter's first line, the check block's fence, or the shell block's fence
    assert located.line is not None and located.line <= line, (located, line)
    catalog = load_catalog(lessons, "ko")
    assert catalog.find("welcome").language == "en"            # the English lesson, not the stale one
    assert any(says in p.message for p in catalog.problems)
    assert main(["lint", str(lessons)]) == 1


def test_translated_comments_in_a_shell_block_are_allowed(lessons):
    korean = lessons / "ko" / "01-welcome.md"
    edit(korean, "ip netns add hello\nip netns list", "# 네임스페이스를 만들고 목록을 봅니다\nip netns add hello\nip netns list")
    assert not lint([lessons]).problems


def test_a_missing_step_and_an_orphan_translation_are_named(lessons):
    korean = lessons / "ko" / "01-welcome.md"
    text = korean.read_text(encoding="utf-8")
    start = text.index("```check\nid: lo-up")
    korean.write_text(text[:start] + text[text.index("```\n", start + 8) + 4:], encoding="utf-8")
    assert any("missing the step lo-up" in p.message for p in lint([lessons]).problems)
    orphan = lessons / "ko" / "99-nothing.md"
    shutil.copy(KO_WELCOME, orphan)
    problems = lint([lessons]).problems
    assert any(p.path == orphan and "does not exist" in p.message for p in problems), [str(p) for p in problems]


# --------------------------------------------------------------- the language choice
@pytest.mark.parametrize("environ, expected", [
    ({"LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LC_MESSAGES": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),
    ({"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),     # LC_ALL set wins, and C is English
    ({"LANGUAGE": "ko:en", "LANG": "en_US.UTF-8"}, "ko"),
    ({"LANG": "de_DE.UTF-8"}, "en"),                          # no German: English, never an error
    ({"LANG": "ko_KR.UTF-8", "NSTUTOR_LANG": "en"}, "en"),
    ({}, "en"),
])
def test_the_locale_and_nstutor_lang_choose_the_language(tmp_path, environ, expected):
    env = dict(environ, NSTUTOR_DATA_DIR=str(tmp_path))       # an empty store: no remembered choice
    assert i18n.choose(environ=env) == expected
    assert i18n.choose("ko", environ=env) == "ko" and i18n.choose("en", environ=env) == "en"


def test_nstutor_lang_is_remembered_and_overridden_by_the_flag(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("NSTUTOR_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.update(NSTUTOR_DATA_DIR=str(tmp_path / "data"), LANG="C.UTF-8")
    first = run_cli("lang", env=env)
    assert first.returncode == 0 and first.stdout.startswith("en"), first
    assert not (tmp_path / "data").exists()                   # asking changes nothing
    assert run_cli("lang", "ko", env=env).returncode == 0
    listed = run_cli("list", env=env)
    assert "시작하기 - 첫 번째 네임스페이스" in listed.stdout, listed.stdout
    assert "Welcome - your first namespace" in run_cli("list", "--lang", "en", env=env).stdout
    assert "Welcome - your first namespace" in run_cli("--lang=en", "list", env=env).stdout
    assert run_cli("lang", "auto", env=env).returncode == 0
    assert "Welcome - your first namespace" in run_cli("list", env=env).stdout
    assert "시작하기" in run_cli("list", env=dict(env, LANG="ko_KR.UTF-8")).stdout
    bad = run_cli("list", "--lang", "kr", env=env)
    assert bad.returncode == 2 and "unknown language 'kr'" in bad.stderr and "Traceback" not in bad.stderr


def test_check_in_korean_speaks_korean_and_keeps_the_commands(capsys):
    """`nstutor check --lang ko`: the steps, the grader's reasons and the summary are Korean; the
    commands in them are exactly the English ones (learners copy them)."""
    try:
        assert main(["check", "welcome", "--no-probe", "--lang", "ko"]) in (0, 1)
    finally:
        i18n.set_language("en")
    out = capsys.readouterr().out
    assert "시작하기 - 첫 번째 네임스페이스  (welcome)" in out and "네트워크 네임스페이스 hello 만들기" in out
    if "FAIL  made" in out:              # a machine with no netns hello (the usual one): the reason, in Korean
        assert "네트워크 네임스페이스 hello이(가) 없습니다: ip netns add hello" in out, out
        assert "there is no network namespace" not in out, out
    assert re.search(r"단계 \d+개 중 \d+개 통과", out) and "steps pass" not in out, out


# --------------------------------------------------------------- wide characters in the app
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_korean_titles_keep_the_catalog_and_the_step_list_aligned(tmp_path, size):
    """Hangul takes two cells: the catalog's columns line up by cell width, and the step list's
    Korean titles fit the screen."""
    from rich.cells import cell_len
    from test_app import fixed, wait_for
    from test_app_scenes import empty
    from test_app_walkthrough_fixes import drawn, lesson_open
    from tutor.app.app import NstutorApp
    i18n.set_language("ko")
    try:
        app = NstutorApp(store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False,
                         catalog=load_catalog(language="ko"))
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: any("시작하기" in line for line in drawn(app)), what="the Korean catalog")
            lines = drawn(app)
            rows = [line for line in lines if "░" in line]
            assert len(rows) >= 5 and any("시작하기 - 첫 번째 네임스페이스" in line for line in rows), lines
            column = lambda line: cell_len(line[: line.index("░")])          # where the progress bar starts
            assert len({column(line) for line in rows}) == 1, rows
            assert all(cell_len(line) <= size[0] for line in lines)
        app = NstutorApp("welcome", store_path=tmp_path / "q.db", snapshot_source=fixed(empty()), probes=False,
                         catalog=load_catalog(language="ko"))
        async with app.run_test(size=size) as pilot:
            await lesson_open(pilot, app)
            await wait_for(pilot, lambda: any("✘ 2. hello 안의 루프백 올리기" in line for line in drawn(app)),
                           what="the Korean step list")
            lines = drawn(app)
            assert all(cell_len(line) <= size[0] for line in lines)
    finally:
        i18n.set_language("en")


# --------------------------------------------------------------- our own words
SEEDS = REPO.parent / "shared" / "seeds"
SHINGLE = 6           # words in a row: a run this long shared with a seed is a copied phrase


def _prose_words(text: str) -> list[str]:
    """The words of a lesson's prose: no fenced blocks, no inline code, no front matter, no tables'
    bars; punctuation kept on its word (a copied sentence keeps it too)."""
    import re
    text = re.sub(r"^---\n.*?\n---\n", "", text, flags=re.S)
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", " ", text)
    return [w for w in re.split(r"[\s|*_]+", text) if w]


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def _is_korean(run: tuple[str, ...]) -> bool:
    """A run of mostly Hangul words: English runs shared with a seed are commands and names."""
    hangul = sum(1 for w in run if any("\uac00" <= ch <= "\ud7a3" for ch in w))
    return hangul * 2 > len(run)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seeds (../shared/seeds) are not beside this checkout")
def test_korean_lessons_copy_no_phrase_of_the_seeds():
    """The seeds are Korean study notes: their facts are ours to use, their sentences are not. No run
    of six Hangul words of a Korean lesson's prose may appear in a seed."""
    seeds = set()
    for path in SEEDS.glob("*.txt"):
        seeds |= _shingles(_prose_words(path.read_text(encoding="utf-8", errors="replace")))
    copied = {}
    for path in sorted((lessons_dir() / "ko").glob("*.md")):
        found = [" ".join(run) for run in _shingles(_prose_words(path.read_text(encoding="utf-8")))
                 if run in seeds and _is_korean(run)]
        if found:
            copied[path.name] = found[:3]
    assert not copied, f"phrases copied from the seeds: {copied}"


def test_the_copy_guard_finds_a_copied_sentence(tmp_path):
    """The guard can fail: a seed's own sentence, pasted into prose, is found."""
    if not SEEDS.is_dir():
        pytest.skip("the seeds are not beside this checkout")
    seed = (SEEDS / "003_bea9fbb99e1c0094.txt").read_text(encoding="utf-8", errors="replace")
    runs = [run for run in _shingles(_prose_words(seed)) if _is_korean(run)]
    assert runs, "the seed has no Korean prose to copy"
    lesson = "# 제목\n\n" + " ".join(runs[len(runs) // 2]) + " 그리고 끝.\n"
    assert _shingles(_prose_words(lesson)) & set(runs)


# --------------------------------------------------------------- the real app, started in Korean
@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_nstutor_lang_ko_in_a_real_terminal_speaks_korean(tmp_path):
    """`nstutor --lang ko welcome` as a learner starts it (tmux, as tests/test_app_tmux.py): the
    lesson, its steps and the footer's keys are Korean; the key names and commands are not."""
    import secrets
    from test_app_tmux import Terminal, tmux
    session = "nstutor-ko-" + secrets.token_hex(3)
    command = (f"env -u COLUMNS -u LINES NSTUTOR_DATA_DIR={tmp_path} TERM=xterm-256color "
               f"{sys.executable} -m tutor --lang ko welcome; echo nstutor-exit=$?; sleep 600")
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(REPO), command)
    try:
        term = Terminal(session)
        term.wait_screen(lambda s: "건너뛰기 (Esc)" in s and "진행 기록" in s, timeout=30, what="the name question, in Korean")
        term.keys("Escape")
        # the steps show behind the dialog at once: wait for the dialog to be gone, or the q below
        # lands in the name field (or arrives inside the Escape delay and reads as alt+q)
        screen = term.wait_screen(lambda s: "✘ 1. 네트워크 네임스페이스 hello 만들기" in s and "건너뛰기 (Esc)" not in s,
                                  timeout=20, what="the Korean steps, the name question gone")
        assert "h 힌트" in screen and "s 정답" in screen and "q 종료" in screen, screen
        assert "ip netns add hello" in screen or "hello" in screen
        term.keys("q")
        term.wait_screen(lambda s: "nstutor-exit=0" in s, what="nstutor to quit")
    finally:
        tmux("kill-session", "-t", session, check=False)
