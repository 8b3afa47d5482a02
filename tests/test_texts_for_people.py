"""Texts people read: reset says in words what it removes, counts have the right plural, and tables
keep their columns with wide characters (Korean names, CJK, emoji take two terminal cells each).

The width tests make real objects with wide names (a netns, a dummy link in it, a uts namespace's
hostname), each under this test's unique tag, and read them back through `nstutor snapshot`.
Run: /opt/nstutor/bin/python -m pytest -q tests/test_texts_for_people.py
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.cells import cell_len

from conftest import sh, wait_until
from progress_support import StepPlan, demo_catalog, demo_lesson, make_export, write_export
from tutor.lessons import load_catalog
from tutor.lessons.catalog import Catalog
from tutor.lessons.cleanup import cleanup_summary, script_commands
from tutor.lessons.cleanup_words import cleanup_phrases, command_words
from tutor.observe.render import format_table
from tutor.progress.table import progress_table
from tutor.texts import cell_width, counted, fit, noun, pad, words, wrap

REPO = Path(__file__).resolve().parent.parent
SHIPPED = load_catalog().lessons
#: what a person should never have to read in a reset question: mappings, regex syntax, reprs
MACHINE_SYNTAX = re.compile(r"[{}\[\]^$\\|]|\(\?|\.\*|'comm'|'cmdline'|cmdline|\bcomm\b")


def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, **kw)


# --------------------------------------------------------------- plurals
@pytest.mark.parametrize("n, one, many, text", [
    (0, "file", None, "0 files"), (1, "learner", None, "1 learner"), (2, "learner", None, "2 learners"),
    (1, "process", None, "1 process"), (2, "process", None, "2 processes"), (2, "match", None, "2 matches"),
    (1, "directory", "directories", "1 directory"), (3, "directory", "directories", "3 directories"),
])
def test_counted_says_the_number_with_its_noun(n, one, many, text):
    assert counted(n, one, many) == text
    assert noun(n, one, many) == text.split(" ", 1)[1]


def test_words_joins_like_a_sentence():
    assert [words([]), words(["a"]), words(["a", "b"]), words(["a", "b", "c"])] == ["", "a", "a and b", "a, b and c"]


def test_progress_table_says_1_attempt_1_hint_1_step_and_2_of_each(tmp_path):
    catalog = Catalog((*demo_catalog().lessons, demo_lesson("solo", ("only",), 3)), ())
    doc = make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(fails=1, hints=1),
                                        ("rooms", "cable"): StepPlan(fails=2, hints=2)}, catalog=catalog)
    table = progress_table(doc, all_steps=True)
    made = next(l for l in table.splitlines() if " made " in l)
    cable = next(l for l in table.splitlines() if " cable " in l)
    solo = next(l for l in table.splitlines() if " solo " in l)
    assert "1 attempt, 1 hint" in made and "1 attempts" not in made and "1 hints" not in made, table
    assert "2 attempts, 2 hints" in cable, table
    assert "0/1  step  " in solo and "steps" not in solo, table
    alone = make_export(tmp_path / "one", "Bo", {}, catalog=Catalog((demo_lesson("solo", ("only",), 1),), ()))
    assert progress_table(alone).endswith("0 of 1 step passed."), progress_table(alone)
    assert progress_table(doc).endswith("0 of 6 steps passed.")


def report(*args) -> subprocess.CompletedProcess:
    return run_cli("report", *map(str, args))


def test_report_counts_1_learner_from_1_file_and_2_learners_from_3_files(tmp_path):
    ada = write_export(tmp_path / "ada.json", make_export(tmp_path, "Ada", {("rooms", "made"): StepPlan(passes=True)}))
    one = report(ada)
    assert one.returncode == 0, one.stderr
    assert "1 learner from 1 file." in one.stderr, one.stderr
    assert "1 lesson complete" not in one.stdout and "0 lessons complete" in one.stdout, one.stdout

    bo = make_export(tmp_path, "Bo", {("pids", "pid1"): StepPlan(passes=True), ("pids", "ps"): StepPlan(passes=True)})
    paths = [ada, write_export(tmp_path / "bo-1.json", bo), write_export(tmp_path / "bo-2.json", bo)]
    two = report(*paths)
    assert "2 learners from 3 files." in two.stderr, two.stderr
    bo_line = next(l for l in two.stdout.splitlines() if l.startswith("Bo"))
    assert "1 lesson complete" in bo_line and "lessons" not in bo_line, two.stdout

    (tmp_path / "broken.json").write_text("{")
    skipped = report(ada, tmp_path / "broken.json")
    assert "1 learner from 1 file; 1 file skipped." in skipped.stderr, skipped.stderr


def test_lint_counts_files_and_problems_in_words(tmp_path):
    res = run_cli("lint")
    # the shipped lessons, and their translations counted apart (lessons/ko/...)
    assert res.returncode == 0 and re.search(rf"^{len(SHIPPED)} lesson files( and \d+ translations?)?, no problems$",
                                             res.stderr, re.M), res.stderr
    bad = tmp_path / "01-bad.md"
    bad.write_text("---\nid: bad\ntitle: Bad\nminutes: 5\n---\n# Bad\n\n```check\nkind: nosuchkind\n```\n")
    res = run_cli("lint", str(bad))
    assert res.returncode == 1 and re.search(r"^1 lesson file, \d+ problems?$", res.stderr, re.M), res.stderr
    assert "(s)" not in res.stderr


# --------------------------------------------------------------- reset in words
@pytest.mark.parametrize("lesson", SHIPPED, ids=lambda l: l.id)
def test_every_shipped_lessons_reset_question_is_in_words(lesson):
    text = cleanup_summary(lesson)
    assert not MACHINE_SYNTAX.search(text), text
    spec = lesson.cleanup or {}
    for key in ("netns", "links", "mounts", "cgroups", "paths"):
        for name in spec.get(key) or ():
            assert str(name) in text, (name, text)      # every object is named as it is called
    for selector in spec.get("processes") or ():
        sel = {"cmdline": selector} if isinstance(selector, str) else selector
        assert sel.get("comm", "") in text
        assert command_words(str(sel["cmdline"])), f"{sel['cmdline']} is not said as a command"


def test_the_cli_reset_question_of_every_shipped_lesson_is_in_words():
    for lesson in SHIPPED:
        res = run_cli("reset", lesson.id, stdin=subprocess.DEVNULL)
        # asked (and nothing done without a terminal), or nothing of it here to ask about
        asked = res.returncode == 2 and "pass --yes" in res.stderr
        assert asked or (res.returncode == 0 and res.stdout.endswith("Nothing to reset.\n")), res.stderr
        assert f"lesson {lesson.label}" in res.stdout.splitlines()[0]
        question = res.stdout.split("\n", 1)[1]
        assert not MACHINE_SYNTAX.search(question), question
        assert "Traceback" not in res.stderr


@pytest.mark.parametrize("key, names, phrase", [
    ("netns", ["hello"], "the network namespace hello"),
    ("netns", ["RED", "BLUE"], "the network namespaces RED and BLUE"),
    ("links", ["nsbr0"], "the link nsbr0"),
    ("links", ["nsbr0", "veth-c1", "veth-c2"], "the links nsbr0, veth-c1 and veth-c2"),
    ("mounts", ["/mnt/nstutor-private"], "what is mounted on /mnt/nstutor-private"),
    ("cgroups", ["nstutor-cpu"], "the cgroup nstutor-cpu"),
    ("cgroups", ["nstutor-a", "nstutor-b"], "the cgroups nstutor-a and nstutor-b"),
    ("paths", ["/nonexistent/nstutor-x"], "the file or directory /nonexistent/nstutor-x"),
    ("processes", ["^sleep 1003$"], "the process `sleep 1003`"),
    ("processes", ["^sleep 1001$", "^sleep 1101$"], "the processes `sleep 1001` and `sleep 1101`"),
    ("processes", ["^(/bin/)?sleep 1002$"], "the process `sleep 1002`"),
    ("processes", ["^app-a ", " app-b$", "-m http\\.server"],
     "the processes `app-a …`, `… app-b` and `… -m http.server …`"),
    ("processes", [{"comm": "pause", "cmdline": "(nstutor pause|-m tutor\\.pause)$"}],
     "processes named pause (started as `… nstutor pause` or `… -m tutor.pause`)"),
    ("processes", [{"comm": "pause"}], "processes named pause"),
    ("processes", ["^sleep [0-9]+$"], "processes whose command line matches the pattern `^sleep [0-9]+$`"),
    ("containers", [{"engine": "docker", "name": "web"}], "the docker container web"),
    ("containers", [{"engine": "docker", "name": "web"}, {"engine": "docker", "name": "nonet"}],
     "the docker containers web and nonet"),
    ("pods", [{"engine": "podman", "name": "podweb"}], "the podman pod podweb (and its containers)"),
    ("images", [{"engine": "docker", "name": "nstutor-box"}], "the docker image nstutor-box"),
])
def test_each_cleanup_entry_type_has_its_phrase(key, names, phrase):
    assert cleanup_phrases({key: names}) == [phrase]
    assert cleanup_summary(SimpleNamespace(cleanup={key: names})) == f"  - {phrase}"


def test_paths_are_called_what_they_are_now(tmp_path):
    folder, file = tmp_path / "nstutor-root", tmp_path / "nstutor-note"
    folder.mkdir()
    file.write_text("x")
    assert cleanup_phrases({"paths": [str(folder)]}) == [f"the directory {folder}"]
    assert cleanup_phrases({"paths": [str(file), str(folder)]}) == [f"the file {file} and the directory {folder}"]


def test_the_script_is_shown_as_its_commands_without_the_quieting():
    script = ("# a comment\nwhile iptables -D INPUT -i nsbr0 -j ACCEPT 2>/dev/null; do :; done\n"
              "kubectl delete pod web >/dev/null 2>&1 || true\ntrue\n")
    assert script_commands(script) == ["iptables -D INPUT -i nsbr0 -j ACCEPT   (repeated, so every copy goes)",
                                       "kubectl delete pod web"]
    text = cleanup_summary(SimpleNamespace(cleanup={"netns": ["x"], "script": script}))
    assert text.splitlines()[1] == "  - and runs these commands (the lesson's cleanup script):"
    assert cleanup_summary(SimpleNamespace(cleanup={})) == "  (this lesson declares nothing to remove)"


# --------------------------------------------------------------- widths in cells
def test_fit_and_pad_count_cells():
    assert cell_width("김철수") == 6 and cell_width("ab") == 2 and cell_width("🐳") == 2
    assert pad("김철수", 8) == "김철수  " and pad("ab", 4, right=True) == "  ab"
    assert cell_width(fit("김철수님입니다", 7)) == 7 and fit("김철수님입니다", 7).endswith("…")
    assert all(cell_width(line) <= 10 for line in wrap("테스트 네임 하나 둘 셋 넷", 10))


def column_offsets(line: str, cells: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each cell in *line*, in terminal cells, searching left to right."""
    out, at = [], 0
    for cell in cells:
        i = line.index(cell, at)
        out.append((cell_len(line[:i]), cell_len(line[:i + len(cell)])))
        at = i + len(cell)
    return out


def assert_aligned(lines: list[str], rows: list[list[str]], align: str) -> None:
    """Every row's left-aligned columns start, and right-aligned ones end, at the same cell offset."""
    offsets = [column_offsets(line, row) for line, row in zip(lines, rows)]
    for col, how in enumerate(align[:len(rows[0])]):
        edge = [o[col][1 if how == "r" else 0] for o in offsets]
        assert len(set(edge)) == 1, (col, edge, "\n".join(lines))


def test_format_table_aligns_korean_cjk_and_emoji_cells():
    rows = [["김철수", "up", "42", "a korean name"], ["ada", "down", "7", "ascii"],
            ["测试", "up", "1234", "chinese"], ["🐳box", "up", "5", "emoji"]]
    lines = format_table(("NAME", "STATE", "N", "NOTE"), rows, "llrl", width=80)
    assert_aligned(lines[1:], rows, "llrl")


@pytest.fixture
def wide_netns(uid):
    """A netns named 테스트<uid> holding a veth pair 한<uid> / 국<uid>; all go with it at teardown."""
    name = f"테스트{uid}"
    sh(f"ip netns add {name}")
    try:
        sh(f"ip -n {name} link add 한{uid} type veth peer name 국{uid}")
        yield name, f"한{uid}"
    finally:
        sh(f"ip netns del {name}", check=False)


def snapshot_section(text: str, title: str) -> list[str]:
    lines = text.split("\n\n")
    section = next(s for s in lines if s.startswith(title))
    return section.splitlines()


def test_cli_snapshot_keeps_columns_with_a_korean_netns_link_and_hostname(wide_netns, uid, spawn):
    ns, link = wide_netns
    host = f"김철수-{uid}"
    # hostname(1) refuses non-ASCII names; the kernel takes any bytes, as sethostname(2) from Python
    spawn(["unshare", "--uts", sys.executable, "-c",
           f"import socket, time; socket.sethostname({host!r}); time.sleep(1000)"])
    wait_until(lambda: host in run_cli("snapshot").stdout, timeout=10, what="the hostname in the snapshot")
    text = run_cli("snapshot").stdout

    netns = snapshot_section(text, f"NETWORK NAMESPACE {ns}")
    link_lines = [l for l in netns[2:] if l.startswith("  ") and not l.startswith("   ")][:3]   # lo and the pair
    rows = [re.split(r"\s{2,}", l.strip()) for l in link_lines]          # cells are two spaces apart
    assert {"lo", link} <= {r[0].split()[0] for r in rows}, netns
    assert_aligned(link_lines, [r[:3] for r in rows], "lll")

    hostnames = snapshot_section(text, "HOSTNAMES")
    pattern = re.compile(r"^  (\d+(?: \(host\))?)\s{2,}(\S+)\s{2,}(\d+|-)(?:\s{2,}(.*))?$")
    matches = [pattern.match(l) for l in hostnames[2:]]
    assert all(matches), hostnames
    assert any(m.group(2) == host for m in matches), hostnames
    assert_aligned([m.string for m in matches], [[m.group(1), m.group(2), m.group(3)] for m in matches], "llr")


def test_report_columns_line_up_with_a_korean_name(tmp_path):
    paths = [write_export(tmp_path / f"{n}.json", make_export(tmp_path, n, plan))
             for n, plan in (("김철수", {("rooms", "made"): StepPlan(passes=True)}),
                             ("Ada Lovelace", {("pids", "pid1"): StepPlan(passes=True)}), ("Bo", {}))]
    res = report(*paths)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    rows = [[l.split("  ")[0].strip(), re.search(r"\d+/\d+", l).group(), re.search(r"\d+%", l).group(),
             re.search(r"\d+ min", l).group()] for l in lines]
    assert {r[0] for r in rows} == {"김철수", "Ada Lovelace", "Bo"}
    assert_aligned(lines, rows, "lrrr")


def test_the_apps_text_tables_align_wide_cells():
    from tutor.app.panel.layout import Row, Section, Table, render_table
    cells = [("김철수", "up", "note"), ("ada", "down", "note"), ("🐳🐳", "up", "note")]
    table = Table(("NAME", "STATE", "NOTE"), "lll", (Section("s", "", tuple(Row(i, c) for i, c in enumerate(cells))),))
    lines = render_table(table, None, width=60).plain.splitlines()
    assert_aligned(lines[1:], [list(c) for c in cells], "lll")


def test_the_apps_process_view_keeps_within_its_width(spawn, uid):
    from tutor.app.panel import processes
    from tutor.observe import take_snapshot
    # in a uts namespace of its own (the view shows processes in namespaces other than the host's),
    # with wide characters early in its command line, where the view has room for them (the ': ' after
    # sleep keeps bash there, rather than exec'ing sleep)
    proc = spawn(["unshare", "--uts", "bash", "-c", f": 김철수김철수김철수김철수김철수김철수 {uid}; sleep 1000; :"])

    def line_of_the_process(width):
        lines = processes.render(take_snapshot(), None, None, width).plain.splitlines()
        return next((l for l in lines if f"bash({proc.pid}," in l), None)
    # the tree's indent is as deep as pytest's own ancestry (a runner under flock, timeout... is deeper):
    # leave the command 30 cells after it, too few for the whole command, so it is cut
    wide = wait_until(lambda: line_of_the_process(300), what="the process in the processes view")
    width = cell_width(wide[: wide.index(f"bash({proc.pid},")]) + 30
    line = line_of_the_process(width)
    assert line is not None and "김" in line and cell_width(line) <= width < cell_width(wide), (line, width)


def test_the_apps_word_wrap_counts_cells():
    from tutor.app.panel.layout import wrap_words
    for text in ("테스트 네임스페이스 하나 둘 셋 넷", "가나다라마바사아자차카타파하", "🐳 whale 🐳🐳🐳🐳🐳🐳", "plain ascii words here"):
        lines = wrap_words(text, 10)
        assert all(cell_width(line) <= 10 for line in lines), lines
        assert "".join(lines).replace(" ", "") == text.replace(" ", ""), lines     # nothing lost


def test_reset_names_the_processes_it_stopped_and_says_nothing_when_none_ran(spawn, uid):
    from tutor.lessons.cleanup import kill_processes
    from tutor.lessons.scripts import ActionLog
    seconds = 2000 + int(uid[2:], 16) % 5000
    proc = spawn(f"sleep {seconds}")
    wait_until(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(b"sleep"), what="sleep to start")
    log = ActionLog()
    kill_processes([f"^sleep {seconds}$"], log)
    assert log.done == [f"stopped the process 'sleep {seconds}' (pid {proc.pid})"], log.done
    wait_until(lambda: proc.poll() is not None, what="the process to go")
    again = ActionLog()
    kill_processes([f"^sleep {seconds}$"], again)
    assert again.done == [] and again.ok


async def test_the_apps_reset_question_is_in_words_too(tmp_path):
    """The app asks with the same words (and answering no removes nothing)."""
    from test_app import wait_for
    from tutor.app.app import NstutorApp
    from tutor.app.screens.lesson import LessonScreen
    from tutor.app.screens.modals import ConfirmScreen
    pause = subprocess.Popen([sys.executable, "-m", "tutor.pause"], cwd=REPO)   # a pod's pause, running
    try:
        comm = Path(f"/proc/{pause.pid}/comm")
        wait_until(lambda: comm.read_text().strip() == "pause", timeout=10, what="the pause program to name itself")
        app = NstutorApp("pod", store_path=tmp_path / "progress.sqlite3")
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, 10,
                           what="the lesson")
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, what="the question")
            body = app.screen.body
            assert body.startswith("Remove what lesson 14 (pod) made and is still here"), body
            assert "processes named pause (started as `… nstutor pause`" in body, body
            assert not MACHINE_SYNTAX.search(body.split("and these strays")[0]), body
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), 10, what="the dialog to close")
        assert pause.poll() is None, "answering no stopped the pause"
    finally:
        pause.terminate()
        pause.wait(timeout=10)


async def test_the_apps_reset_of_a_lesson_with_nothing_here_says_so_without_a_question(tmp_path):
    from test_app import notices, wait_for
    from tutor.app.app import NstutorApp
    from tutor.app.screens.lesson import LessonScreen
    from tutor.app.screens.modals import ConfirmScreen
    if Path("/run/netns/hello").exists():
        pytest.skip("a netns hello exists on this machine")
    app = NstutorApp("welcome", store_path=tmp_path / "progress.sqlite3")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, 10,
                       what="the lesson")
        await pilot.press("r")
        await wait_for(pilot, lambda: any("nothing to reset" in n for n in notices(app)), 10, what="the notice")
        assert not isinstance(app.screen, ConfirmScreen)


def test_no_lesson_assumes_sudo():
    """A lab VM's root shell often has no sudo: a lesson that says how to become root names the
    root shell first, and never tells the learner to put sudo in front of commands."""
    import re
    for path in sorted((REPO / "lessons").glob("*.md")):
        prose = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        for paragraph in prose.split("\n\n"):
            if "sudo -i" in paragraph:
                assert "root shell" in paragraph, f"{path.name}: {paragraph.strip()[:200]}"
            assert "put `sudo` in" not in paragraph, f"{path.name}: {paragraph.strip()[:200]}"


def test_no_lesson_looks_a_pid_up_before_the_process_has_its_name():
    """`cmd &` returns at once: `unshare ... sleep 1001` is still called `unshare ...` until its exec,
    so a `P=$(pgrep -f '^sleep 1001$')` on the very next line may find nothing. Between the two
    there must be a wait (`sleep 1`, as the lessons do, or a loop)."""
    import re
    bad = []
    for path in sorted((REPO / "lessons").glob("*.md")):
        for block in re.findall(r"```sh\n(.*?)```", path.read_text(), flags=re.S):
            lines = [l.split("#", 1)[0].rstrip() for l in block.splitlines()]
            lines = [l for l in lines if l.strip()]
            for before, line in zip(lines, lines[1:]):
                if re.match(r"\s*\w+=\$\(pgrep\b", line) and before.endswith("&"):
                    bad.append(f"{path.name}: {before.strip()!r} then {line.strip()!r}")
    assert bad == []
