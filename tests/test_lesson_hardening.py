"""Issue 17, the lesson parser and lint: a malformed lesson file gets `file:line: message`, a non-zero
exit from `nstutor lint`, and never a traceback or a hang (the same parser feeds `list`, the
catalog and the app). Each case writes the bad file to tmp_path."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tutor.cli import main
from tutor.lessons import load_catalog, parse_lesson
from tutor.lessons.lint import lint

from test_lessons import GOOD_STEP

ROOT = Path(__file__).resolve().parent.parent

FRONT = "id: demo\ntitle: Demo\nminutes: 5\n"
CHECK = GOOD_STEP  # the good step of tests/test_lessons.py, broken one way per test


def lesson_text(front: str = FRONT, check: str = CHECK, body: str = "Some prose.\n") -> str:
    return f"---\n{front}---\n# Demo\n\n{body}\n{check}"


def write(tmp_path: Path, text: str | bytes, name: str = "05-demo.md") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def problems(path: Path) -> list[tuple[int | None, str]]:
    _lesson, found = parse_lesson(path)
    for problem in found:
        str(problem).encode("utf-8")            # printable: no lone surrogate reaches the terminal
    return [(p.line, p.message) for p in found]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))     # an expanding bomb fails, not the machine


def in_child(code: str, timeout: float = 30) -> list:
    """Run *code* (which prints JSON) in a fresh interpreter with bounded memory: a hang is a failed
    test, not a stuck run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=ROOT, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {timeout} s (a hang)")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def problems_in_child(path: Path) -> list:
    return in_child("import json, sys\nfrom tutor.lessons import parse_lesson\n"
                    f"_, found = parse_lesson({str(path)!r})\n"
                    "print(json.dumps([[p.line, p.message] for p in found]))")


def bomb(indent: str = "") -> str:
    """A "billion laughs": 9 levels of 9 aliases, 9**9 strings once expanded."""
    lines = [f'{indent}l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        lines.append(f"{indent}l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------- hangs
def test_alias_bomb_in_the_front_matter_is_refused_before_it_expands(tmp_path):
    path = write(tmp_path, lesson_text(front=FRONT + "summary:\n" + bomb("  ")))
    found = problems_in_child(path)
    assert any("aliases are expanded" in msg for _line, msg in found), found
    assert all(line for line, msg in found if "aliases" in msg)
    rc, out = in_child("import contextlib, io, json\nfrom tutor.cli import main\nout = io.StringIO()\n"
                       f"with contextlib.redirect_stdout(out): rc = main(['lint', {str(path)!r}])\n"
                       "print(json.dumps([rc, out.getvalue()]))")
    assert rc == 1 and out.startswith(f"{path}:")


def test_alias_bomb_in_a_check_block_is_refused_before_it_expands(tmp_path):
    check = CHECK.replace("solution: |\n  ip netns add RED\n", "solution: |\n  ip netns add RED\nexplain:\n" + bomb("  "))
    path = write(tmp_path, lesson_text(check=check))
    found = problems_in_child(path)
    assert any("aliases are expanded" in msg and line and line > 10 for line, msg in found), found


def test_more_aliases_than_the_budget_are_refused(tmp_path):
    front = FRONT + "summary: &s x\nlab: [" + ", ".join(["*s"] * 101) + "]\n"
    found = problems(write(tmp_path, lesson_text(front=front)))
    assert any(line == 6 and "more than 100 aliases" in msg for line, msg in found), found


def test_a_fifo_given_as_the_file_is_not_read(tmp_path):
    path = tmp_path / "05-demo.md"
    os.mkfifo(path)
    found = problems_in_child(path)
    assert found == [[None, "not a regular file (a FIFO): a lesson is a regular file"]]


def test_a_fifo_inside_a_lessons_directory_is_named_and_the_rest_linted(tmp_path):
    os.mkfifo(tmp_path / "05-demo.md")
    write(tmp_path, lesson_text(front=FRONT.replace("demo", "good")), "06-good.md")
    found = in_child("import json\nfrom pathlib import Path\nfrom tutor.lessons.lint import lint\n"
                     f"r = lint([Path({str(tmp_path)!r})])\n"
                     "print(json.dumps([str(p) for p in r.problems]))")
    assert found == [f"{tmp_path}/05-demo.md: not a regular file (a FIFO): a lesson is a regular file"]


def test_the_catalog_skips_a_fifo_in_its_directory(tmp_path):
    os.mkfifo(tmp_path / "05-demo.md")
    found = in_child("import json\nfrom pathlib import Path\nfrom tutor.lessons import load_catalog\n"
                     f"c = load_catalog(Path({str(tmp_path)!r}), 'en')\n"
                     "print(json.dumps([len(c.lessons), [p.message for p in c.problems]]))")
    assert found == [0, ["not a regular file (a FIFO): a lesson is a regular file"]]


def test_a_fifo_translation_is_a_problem_not_an_untranslated_lesson(tmp_path):
    """A translation that is there but cannot be read is broken, not missing: lint names it once
    and does not also count its lesson as "not translated yet"; the catalog shows the English
    lesson and carries the problem."""
    write(tmp_path, lesson_text())
    (tmp_path / "ko").mkdir()
    os.mkfifo(tmp_path / "ko" / "05-demo.md")
    found = in_child("import json\nfrom pathlib import Path\nfrom tutor.lessons.lint import lint\n"
                     "from tutor.lessons import load_catalog\n"
                     f"r = lint([Path({str(tmp_path)!r})])\n"
                     f"c = load_catalog(Path({str(tmp_path)!r}), 'ko')\n"
                     "print(json.dumps([[str(p) for p in r.problems], r.untranslated,\n"
                     "                  [l.language for l in c.lessons], [str(p) for p in c.problems]]))")
    fifo = f"{tmp_path}/ko/05-demo.md: not a regular file (a FIFO): a lesson is a regular file"
    assert found == [[fifo], {"ko": []}, ["en"], [fifo]]


def test_a_missing_translation_is_still_only_untranslated(tmp_path):
    write(tmp_path, lesson_text())
    (tmp_path / "ko").mkdir()
    report = lint([tmp_path])
    assert report.problems == [] and report.untranslated == {"ko": ["05-demo.md"]}


def test_a_broken_check_block_is_not_also_reported_as_no_check_blocks(tmp_path):
    found = problems(write(tmp_path, lesson_text(check=CHECK.replace("title: Create RED", "title: [unclosed"))))
    assert len(found) == 1 and found[0][0] == 12 and "bad YAML in the check block" in found[0][1], found


def test_a_lesson_with_no_check_block_at_all_still_says_so(tmp_path):
    assert problems(write(tmp_path, lesson_text(check=""))) == [
        (None, "the lesson has no ```check blocks: a lesson needs at least one step")]


@pytest.mark.parametrize("where, text, line", [
    ("front matter", lesson_text(front=FRONT.replace("title: Demo", "title: De\0mo")), 3),
    ("check block", lesson_text(check=CHECK.replace("title: Create RED", "title: Create\0 RED")), 12),
    ("quoted in a check block", lesson_text(check=CHECK.replace("{name: RED}", '{name: "R\0ED"}')), 14),
    ("prose", lesson_text(body="Some \0 prose.\n"), 8),
], ids=["front", "check", "quoted", "prose"])
def test_a_raw_control_character_is_reported_once_on_its_line(tmp_path, where, text, line):
    found = problems(write(tmp_path, text))
    assert len(found) == 1 and found[0][0] == line and "U+0000" in found[0][1], (where, found)


def test_a_device_is_not_a_lesson():
    assert problems_in_child(Path("/dev/zero")) == [[None, "not a regular file (a device): a lesson is a regular file"]]


# --------------------------------------------------------------- tracebacks
# (these three already passed before the hardening: selector_problem names keys with map(str, ...);
# kept as guards of the case the issue names)
@pytest.mark.parametrize("cleanup, words", [
    ("{processes: [{1: a, b: c}]}", "unknown selector keys 1, b"),
    ("{netns: [{1: a, b: c}]}", "must be a name"),
])
def test_mapping_keys_of_mixed_types_in_cleanup(tmp_path, cleanup, words):
    found = problems(write(tmp_path, lesson_text(front=FRONT + f"cleanup: {cleanup}\n")))
    assert any(line == 1 and words in msg for line, msg in found), found


def test_mapping_keys_of_mixed_types_in_shared_with(tmp_path):
    check = CHECK.replace("  - netns: {name: RED}\n",
                          "  - process: {comm: a, shared_with: {process: {1: a, b: c}, types: [net]}}\n")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert any(line == 14 and "unknown selector keys 1, b" in msg for line, msg in found), found


def test_deep_nesting_in_the_front_matter_is_located(tmp_path):
    path = write(tmp_path, lesson_text(front=FRONT + "summary: " + "[" * 5000 + "]" * 5000 + "\n"))
    assert problems(path) == [(5, "bad YAML in the front matter: nested more than 50 levels deep")]


def test_deep_nesting_in_a_check_block_is_located(tmp_path):
    check = CHECK.replace("  - netns: {name: RED}\n", "  - " + "[" * 5000 + "]" * 5000 + "\n")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert (14, "bad YAML in the check block: nested more than 50 levels deep") in found


def test_nesting_a_little_deep_is_still_fine_but_past_the_limit_is_not(tmp_path):
    fine = problems(write(tmp_path, lesson_text(front=FRONT + "summary: " + "[" * 40 + "]" * 40 + "\n")))
    # read fine; only its type is wrong (a summary is a text)
    assert fine == [(1, "'summary' must be a text (put it in quotes if YAML reads it as something else)")]
    deep = problems(write(tmp_path, lesson_text(front=FRONT + "summary: " + "[" * 51 + "]" * 51 + "\n")))
    assert deep == [(5, "bad YAML in the front matter: nested more than 50 levels deep")]


def test_a_lone_surrogate_in_the_front_matter_is_located_and_printable(tmp_path, capsys):
    path = write(tmp_path, lesson_text(front=FRONT + '"\\ud800": 1\n'))
    assert problems(path) == [(5, "bad YAML in the front matter: a lone surrogate (U+D800) in a text: remove it, "
                                  "or write what it stands for in words")]
    assert main(["lint", str(path)]) == 1
    capsys.readouterr().out.encode("utf-8")


def test_a_file_name_that_is_not_utf8_is_printed_escaped(tmp_path, capsys):
    name = os.fsdecode(b"05-d\xffmo.md")
    path = write(tmp_path, lesson_text(), name)
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert "05-d\\udcffmo.md: the file name must be NN-<id>.md" in out


def test_a_terminal_escape_in_a_key_is_not_printed_raw(tmp_path, capsys):
    path = write(tmp_path, lesson_text(front=FRONT + '"\\e]8;;http://x\\a": 1\n'))
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "05-demo.md:5:" in out


# --------------------------------------------------------------- silently accepted
def test_expect_given_twice_is_a_problem_at_the_second(tmp_path):
    check = CHECK.replace("hint:", "expect:\n  - netns: {name: BLUE}\nhint:")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert (15, "bad YAML in the check block: the key 'expect' is given twice (first on line 13): the second "
                "would silently replace the first") in found


def test_a_front_matter_key_given_twice_is_a_problem_at_the_second(tmp_path):
    found = problems(write(tmp_path, lesson_text(front=FRONT + "id: other\n")))
    assert found == [(5, "bad YAML in the front matter: the key 'id' is given twice (first on line 2): the second "
                         "would silently replace the first")]


def test_a_merge_key_is_not_a_duplicate(tmp_path):
    """(a guard: merged keys may be overridden, as YAML means them)"""
    front = FRONT + "cleanup: {<<: {netns: [RED], links: [a]}, links: [veth0]}\n"
    assert problems(write(tmp_path, lesson_text(front=front))) == []
    lesson, _ = parse_lesson(tmp_path / "05-demo.md")
    assert lesson.cleanup == {"netns": ["RED"], "links": ["veth0"]}


def test_minutes_true_is_not_a_number(tmp_path):
    found = problems(write(tmp_path, lesson_text(front=FRONT.replace("5", "true"))))
    assert found == [(1, "'minutes' must be a whole number from 1 to 600")]
    lesson, _ = parse_lesson(tmp_path / "05-demo.md")
    assert lesson.minutes == 0


@pytest.mark.parametrize("value", ["0", "-5", "601", "0x7fffffffffffffff", "5.5", "'5'"])
def test_minutes_out_of_range_or_not_whole_is_refused(tmp_path, value):
    found = problems(write(tmp_path, lesson_text(front=FRONT.replace("minutes: 5", f"minutes: {value}"))))
    assert found == [(1, "'minutes' must be a whole number from 1 to 600")], value


def test_minutes_at_the_edges_of_the_range_pass(tmp_path):
    for value in ("1", "600"):
        assert problems(write(tmp_path, lesson_text(front=FRONT.replace("minutes: 5", f"minutes: {value}")))) == []


@pytest.mark.parametrize("key, value", [
    ("title", "true"), ("title", ".inf"), ("title", "[a, b]"), ("title", "!!binary aGk="), ("title", "''"),
    ("title", "2026-12-04"), ("summary", "true"), ("summary", "{a: 1}"),
])
def test_a_title_or_summary_that_yaml_reads_as_something_else_is_refused(tmp_path, key, value):
    front = FRONT.replace("title: Demo\n", "") + f"{key}: {value}\n"
    if key == "summary":
        front = FRONT + f"summary: {value}\n"
    found = problems(write(tmp_path, lesson_text(front=front)))
    assert (1, f"'{key}' must be a text (put it in quotes if YAML reads it as something else)") in found, found


def test_a_quoted_title_and_an_empty_summary_pass(tmp_path):
    front = FRONT.replace("title: Demo", "title: 'true'") + "summary: ''\n"
    assert problems(write(tmp_path, lesson_text(front=front))) == []


def test_a_step_id_with_a_trailing_newline_is_refused(tmp_path):
    # a '|' block keeps its newline: 'rooms\n' matched ^...$ before fullmatch
    check = CHECK.replace("id: rooms", "id: |\n  rooms")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert (11, "the check needs an 'id' of lowercase letters, digits and dashes, e.g. 'linked'") in found, found


def test_an_explain_that_is_not_a_text_is_refused(tmp_path):
    check = CHECK.replace("hint: ip netns add RED", "hint: ip netns add RED\nexplain: true")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert found == [(16, "step 'rooms': 'explain' must be a text (the paragraph shown once the step passes), "
                          "or left out")]


@pytest.mark.parametrize("name", ["'---'", "'.'", "'..'", "'-n'", "'RED BLUE'", "\"RED\\tX\""])
def test_a_netns_name_ip_would_refuse_or_misread_is_refused(tmp_path, name):
    check = CHECK.replace("netns: {name: RED}", f"netns: {{name: {name}}}")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert any(line == 14 and "is not a network namespace name like RED" in msg for line, msg in found), found


def test_a_file_name_with_a_trailing_newline_is_not_numbered(tmp_path):
    found = problems(write(tmp_path, lesson_text(), name="05-demo.md\n"))
    assert (None, "the file name must be NN-<id>.md, e.g. 10-netns-veth.md") in found


@pytest.mark.parametrize("spec, field", [
    ("neighbour: {dev: RED/veth0, ip: true}", "'neighbour.ip'"),
    ("route: {netns: RED, dst: default, via: true}", "'route.via'"),
    ("route: {netns: RED, dst: true}", "'route.dst'"),
])
def test_true_is_not_an_address(tmp_path, spec, field):
    check = CHECK.replace("netns: {name: RED}", spec)
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert any(line == 14 and field in msg and "True" in msg for line, msg in found), found


def test_an_empty_netns_name_in_an_interface_reference(tmp_path):
    check = CHECK.replace("netns: {name: RED}", "link: {dev: /veth0}")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert found == [(14, "step 'rooms': 'link.dev': '/veth0' is not an interface reference like RED/veth0 "
                          "(or veth0 for the host)")]


def test_a_nul_in_the_prose_is_located(tmp_path):
    found = problems(write(tmp_path, lesson_text(body="Some \x00prose.\n")))
    assert found == [(8, "a control character (U+0000) in column 6: remove it")]


def test_a_nul_written_as_an_escape_in_a_check_block_is_located(tmp_path):
    check = CHECK.replace("title: Create RED", 'title: "Create\\0 RED"')
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert (12, "bad YAML in the check block: a control character (U+0000) in a text: remove it, or write what "
                "it stands for in words") in found


# --------------------------------------------------------------- misleading
def test_a_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + lesson_text().encode())
    assert problems(path) == []
    lesson, _ = parse_lesson(path)
    assert lesson.id == "demo" and len(lesson.steps) == 1


def test_a_symlink_loop_is_called_a_loop(tmp_path, capsys):
    path = tmp_path / "05-demo.md"
    path.symlink_to(path.name)
    assert problems(path) == [(None, "a symlink loop: the link points (through other links, perhaps) back at "
                                     "itself")]
    assert main(["lint", str(path)]) == 1
    assert "symlink loop" in capsys.readouterr().out


def test_a_dangling_symlink_says_where_it_points(tmp_path):
    path = tmp_path / "05-demo.md"
    path.symlink_to("gone.md")
    assert problems(path) == [(None, "a dangling symlink: it points at gone.md, which does not exist")]


def test_bytes_that_are_not_utf8_give_their_line(tmp_path):
    path = write(tmp_path, lesson_text(body="Caf\xe9 prose.\n").encode("latin-1"))
    assert problems(path) == [(8, "not UTF-8 text: the byte 0xe9 in column 4 is not UTF-8 (save the file as UTF-8)")]


# --------------------------------------------------------------- bounds
def test_a_file_over_the_size_limit_is_refused_unparsed(tmp_path):
    path = write(tmp_path, lesson_text(body="prose\n" * 200_000))
    found = problems(path)
    assert len(found) == 1 and found[0][0] is None and "larger than a lesson may be (1 MB)" in found[0][1]


# --------------------------------------------------------------- every case: lint fails, located
BAD = {                 # (the bomb is linted in a child above: unbounded, it would eat the memory)
    "deep": lesson_text(front=FRONT + "summary: " + "[" * 5000 + "]" * 5000 + "\n"),
    "surrogate": lesson_text(front=FRONT + '"\\ud800": 1\n'),
    "twice": lesson_text(check=CHECK.replace("hint:", "expect:\n  - netns: {name: BLUE}\nhint:")),
    "minutes": lesson_text(front=FRONT.replace("5", "true")),
    "nul": lesson_text(body="Some \x00prose.\n"),
    "latin1": lesson_text(body="Caf\xe9 prose.\n").encode("latin-1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_lint_exits_non_zero_with_a_located_problem(tmp_path, capsys, case):
    path = write(tmp_path, BAD[case])
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:") and out.count("\n") >= 1
    report = lint([path])
    assert report.problems and report.problems[0].line


def test_the_shipped_catalog_still_loads_clean():
    assert load_catalog(language="en").problems == ()


def test_the_app_reads_a_check_block_id_bounded_too():
    from tutor.app.widgets.lesson_markdown import check_step_id
    assert check_step_id("id: rooms\nexplain: " + "[" * 5000 + "]" * 5000 + "\n") is None
    assert check_step_id("id: rooms\ntitle: T\n") == "rooms"


# --------------------------------------------------------------- a malformed cleanup names nothing
def test_a_cleanup_that_lint_refuses_is_not_used(tmp_path):
    """cleanup.processes [{1: a, b: c}] is a located problem, and the lesson (still listed, with its
    problem) carries no cleanup: reset must not act on a guess of what it meant."""
    path = tmp_path / "01-demo.md"
    path.write_text("---\nid: demo\ntitle: Demo\nminutes: 5\ncleanup:\n  processes: [{1: a, b: c}]\n  netns: [RED]\n---\n"
                    "# Demo\n\n```check\nid: rooms\ntitle: Create RED\nexpect:\n  - netns: {name: RED}\n"
                    "hint: ip netns add RED\nsolution: ip netns add RED\n```\n", encoding="utf-8")
    lesson, problems = parse_lesson(path)
    assert [p.line for p in problems if "cleanup.processes" in p.message] == [1], problems
    assert lesson is not None and lesson.cleanup == {}


def test_a_process_selector_that_names_nothing_selects_no_process():
    """reset SIGKILLs what a cleanup selects, as root: a selector with neither comm nor cmdline
    (nor container/pod) must select nothing. Before, {} and {1: 'a'} selected every process."""
    from tutor.checks.select import select
    from tutor.observe import take_snapshot
    snap = take_snapshot()
    assert select(snap, {"comm": snap.processes[min(snap.processes)].comm})      # a real one still selects
    assert select(snap, {}) == [] and select(snap, {1: "a", "b": "c"}) == [] and select(snap, {"zombie": True}) == []


# --------------------------------------------------------------- the second audit's finds (issue 17)
@pytest.mark.parametrize("comm", ["[]", "{}", "[1, 2]", "{a: 1}"])
def test_a_cleanup_comm_that_is_a_list_or_a_mapping_is_refused_not_a_traceback(tmp_path, comm):
    """These raised TypeError (unhashable) in the cleanup's safety check."""
    front = FRONT + f"cleanup:\n  processes:\n    - {{comm: {comm}, cmdline: '^sleep 1001$'}}\n"
    found = problems(write(tmp_path, lesson_text(front=front)))
    assert any("comm must be a process's name, like sleep" in msg for _line, msg in found), found


@pytest.mark.parametrize("comm, words", [
    ("true", "must be a process's name, like sleep"), ("'  '", "must be a process's name, like sleep"),
    ('"a\\tb"', "cannot be a process's name"), ("sixteen-letters-", "at most 15 bytes"),
])
def test_a_selector_comm_that_no_process_can_have_is_refused(tmp_path, comm, words):
    check = CHECK.replace("netns: {name: RED}", f"process: {{comm: {comm}}}")
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert any(line == 14 and words in msg for line, msg in found), found


@pytest.mark.parametrize("selector", ["''", "{cmdline: ''}", "{comm: sleep, cmdline: ''}", "{cmdline: true}"])
def test_a_cmdline_pattern_that_matches_everything_or_is_not_a_text_is_refused(tmp_path, selector):
    check = CHECK.replace("netns: {name: RED}", f"process: {selector}")
    found = problems(write(tmp_path, lesson_text(check=check)))
    # the kind's own field says it (a pattern that is not a text, or empty, is no pattern)
    assert any(line == 14 and "'process.cmdline': must be a regular expression" in msg for line, msg in found), found


@pytest.mark.parametrize("selector", ["''", "{cmdline: ''}", "{comm: sleep, cmdline: ''}", "{cmdline: true}"])
def test_a_nested_selector_with_an_empty_or_non_text_pattern_is_refused(selector):
    from tutor.checks.select import selector_problem
    problem = selector_problem(yaml.safe_load(selector))
    assert problem and ("empty cmdline pattern matches every process" in problem
                        or "cmdline must be a regular expression in quotes" in problem), problem


def test_a_cleanup_of_pause_with_an_empty_pattern_would_stop_a_real_pods_pause(tmp_path):
    for selector, words in (("{comm: pause, cmdline: ''}", "empty cmdline pattern"),
                            ("{comm: pause}", "would also stop the machine's own pause processes"),
                            ("{comm: pause, cmdline: pause}", "also matches '/pause'")):
        front = FRONT + f"cleanup:\n  processes:\n    - {selector}\n"
        found = problems(write(tmp_path, lesson_text(front=front)))
        assert any(words in msg for _line, msg in found), (selector, found)
    front = FRONT + "cleanup:\n  processes:\n    - {comm: pause, cmdline: '(nstutor pause|-m tutor\\.pause)$'}\n"
    assert problems(write(tmp_path, lesson_text(front=front))) == []


@pytest.mark.parametrize("setup", ["true", "[1, 2]", "'   '", "{a: 1}"])
def test_a_setup_that_is_not_shell_text_is_refused_and_never_run(tmp_path, setup):
    found = problems(write(tmp_path, lesson_text(front=FRONT + f"setup: {setup}\n")))
    assert (1, "'setup' must be the shell commands that build the lesson's lab, as a text (a '|' block)") in found
    lesson, _ = parse_lesson(tmp_path / "05-demo.md")
    assert lesson.setup in ("", "   ") and "True" not in lesson.setup


@pytest.mark.parametrize("setup", ["null", "~", "''"])
def test_no_setup_may_be_written_as_null_or_empty(tmp_path, setup):
    assert problems(write(tmp_path, lesson_text(front=FRONT + f"setup: {setup}\n"))) == []


@pytest.mark.parametrize("hint", ["hint: ''", "hint: '   '", "hints: ['ok', '  ']"])
def test_an_empty_hint_is_refused(tmp_path, hint):
    check = CHECK.replace("hint: ip netns add RED", hint)
    found = problems(write(tmp_path, lesson_text(check=check)))
    assert any("a hint is empty" in msg for _line, msg in found), found


@pytest.mark.parametrize("explain", ["''", "'   '"])
def test_a_blank_explain_is_no_explain_not_a_blank_paragraph(tmp_path, explain):
    check = CHECK.replace("hint: ip netns add RED", f"hint: ip netns add RED\nexplain: {explain}")
    assert problems(write(tmp_path, lesson_text(check=check))) == []
    lesson, _ = parse_lesson(tmp_path / "05-demo.md")
    assert lesson.steps[0].explain == ""


@pytest.mark.parametrize("where", ["front", "step"])
def test_a_title_on_two_lines_is_refused(tmp_path, where):
    if where == "front":
        text = lesson_text(front=FRONT.replace("title: Demo", 'title: "De\\nmo"'))
        words = "'title' must be one line"
    else:
        text = lesson_text(check=CHECK.replace("title: Create RED", 'title: "Create\\nRED"'))
        words = "step 'rooms': 'title' must be one line"
    found = problems(write(tmp_path, text))
    assert any(words in msg for _line, msg in found), found


@pytest.mark.parametrize("name", ['"a\\nb"', "'-x'", "'.'", "'/'", "'RED/'", "'   '", "true"])
def test_a_container_or_pod_name_no_engine_takes_is_refused_in_selectors_and_cleanup(tmp_path, name):
    for spec in (f"netns: {{name: {{netns_of: {{container: {name}, engine: docker}}}}}}",
                 f"process: {{container: {name}, engine: docker}}", f"process: {{pod: {name}}}"):
        check = CHECK.replace("netns: {name: RED}", spec)
        found = problems(write(tmp_path, lesson_text(check=check)))
        assert any(line == 14 and ("container's name like web" in msg or "pod's name like podweb" in msg)
                   for line, msg in found), (spec, found)
    for key, engine in (("containers", "docker"), ("pods", "podman")):
        front = FRONT + f"cleanup:\n  {key}:\n    - {{engine: {engine}, name: {name}}}\n"
        found = problems(write(tmp_path, lesson_text(front=front)))
        assert any(msg.startswith(f"cleanup.{key}: ") for _line, msg in found), (key, found)


def test_a_kubernetes_pod_name_is_a_pods_name():
    from tutor.checks.engine_names import engine_name_problem
    assert engine_name_problem("default/myweb2", "pod") is None
    assert engine_name_problem("default/myweb2", "container") is not None
    assert engine_name_problem("web-side", "container") is None
