"""The command line forgives slips: a lesson by its number wherever an id is taken, a "did you
mean" for a mistyped lesson, step or command, and a --help that shows the forms with examples.

Every test here runs the real CLI (`python -m tutor.cli`) except the parser walk and the lookup
of a hand-made catalog; none of them builds or removes anything on the machine.
"""
from __future__ import annotations

import argparse
import json
import secrets
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tutor.cli import build_parser, command_names
from tutor.lessons import load_catalog
from tutor.lessons.lookup import find_lesson, find_step, unknown_lesson

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "tutor.cli", *args], cwd=REPO, capture_output=True, text=True,
                         timeout=60, stdin=stdin)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def usage_error(*args: str) -> str:
    """Run a slip: it must exit 2 with one line on stderr and nothing done (nothing on stdout)."""
    res = run_cli(*args)
    assert res.returncode == 2, (args, res.returncode, res.stdout, res.stderr)
    assert res.stdout == "", (args, res.stdout)
    return res.stderr.strip()


# --------------------------------------------------------------- a lesson by its number
@pytest.mark.parametrize("name", ["10", "010", "10-netns-veth", "netns-veth", "NetNS-Veth"])
def test_check_takes_a_lesson_by_id_number_or_file_name(name):
    res = run_cli("check", name, "--no-probe", "--json")
    assert res.returncode in (0, 1), res.stderr
    assert json.loads(res.stdout)["lesson"] == "netns-veth"


def test_check_takes_a_step_by_its_number_as_the_app_lists_it():
    res = run_cli("check", "10", "--step", "2", "--no-probe", "--json")
    assert res.returncode in (0, 1), res.stderr
    assert [s["id"] for s in json.loads(res.stdout)["steps"]] == ["cable"]


def test_reset_setup_progress_and_lint_take_a_number():
    reset = run_cli("reset", "11")                  # no terminal and no --yes: it only says what it would do
    assert reset.returncode == 2 and "pass --yes" in reset.stderr, reset.stderr
    assert "lesson 11 (bridge)" in reset.stdout and "unknown lesson" not in reset.stderr
    setup = run_cli("setup", "10")                  # lesson 10 has no lab: nothing is built
    assert setup.returncode == 0 and "'netns-veth' has no lab" in setup.stdout, setup.stdout + setup.stderr
    progress = run_cli("progress", "--lesson", "10")
    assert progress.returncode == 0 and "netns-veth" in progress.stdout, progress.stderr
    assert "bridge" not in progress.stdout          # only that lesson
    lint = run_cli("lint", "10", "bridge")
    assert lint.returncode == 0 and lint.stderr.startswith("2 lesson file"), lint.stderr


def test_verify_lesson_looks_every_lesson_up_before_building_anything():
    # '10' resolves (the error is about the second name), and nothing is verified: stdout is empty.
    assert usage_error("verify-lesson", "10", "brige") == "nstutor: unknown lesson 'brige': did you mean 'bridge'?"


def test_nstutor_number_without_a_terminal_is_the_app_not_an_unknown_lesson():
    res = run_cli("10")
    assert res.returncode == 2 and "the app needs a terminal" in res.stderr, res.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_nstutor_number_opens_the_app_on_that_lesson(tmp_path):
    session = "nstutor-slips-" + secrets.token_hex(3)
    command = (f"env -u COLUMNS -u LINES NSTUTOR_DATA_DIR={shlex.quote(str(tmp_path))} TERM=xterm-256color "
               f"{shlex.quote(sys.executable)} -m tutor.cli 10; sleep 600")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "130", "-y", "44", "-c", str(REPO), command],
                   check=True, timeout=10)
    try:
        title = load_catalog().find("netns-veth").title
        deadline = time.monotonic() + 20
        while True:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", f"{session}:0.0"], capture_output=True,
                                    text=True, timeout=10).stdout
            if title in screen:
                break
            assert time.monotonic() < deadline, f"lesson 10 did not open; the screen was:\n{screen}"
            time.sleep(0.1)    # polling interval of a wait with a deadline
        assert "No lesson" not in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)


# --------------------------------------------------------------- near misses
def test_a_lesson_in_another_case_is_taken_as_it_is_unambiguous():
    res = run_cli("check", "Bridge", "--no-probe", "--json")
    assert res.returncode in (0, 1) and json.loads(res.stdout)["lesson"] == "bridge", res.stderr


def test_a_mistyped_lesson_gets_a_suggestion_and_nothing_runs():
    assert usage_error("check", "brige") == "nstutor: unknown lesson 'brige': did you mean 'bridge'?"
    assert usage_error("brige") == "nstutor: unknown lesson 'brige': did you mean 'bridge'?"
    # a typo is never taken for the lesson, above all where it removes things
    assert usage_error("reset", "brige", "--yes") == "nstutor: unknown lesson 'brige': did you mean 'bridge'?"
    assert usage_error("progress", "--lesson", "netns-vet") == \
        "nstutor: unknown lesson 'netns-vet': did you mean 'netns-veth'?"


def test_a_mistyped_command_is_named_a_command():
    assert usage_error("chekc", "bridge") == "nstutor: unknown command 'chekc': did you mean 'check'?"
    assert usage_error("rest", "11") == "nstutor: unknown command 'rest': did you mean 'reset'?"
    assert usage_error("lits") == "nstutor: unknown command 'lits': did you mean 'list' or 'lint'?"


def test_nothing_close_says_where_lessons_and_commands_are_listed():
    assert usage_error("xyzzy") == ("nstutor: unknown lesson or command 'xyzzy': nstutor list shows the lessons; "
                                    "nstutor --help the commands")
    last = max(l.number for l in load_catalog().lessons)
    assert usage_error("check", str(last + 1)) == \
        f"nstutor: unknown lesson '{last + 1}': the lessons are numbered 1 to {last}"


def test_words_after_a_lesson_are_a_slip_with_the_command_that_was_meant():
    assert usage_error("bridge", "check") == "nstutor: the command comes first: nstutor check bridge"
    assert usage_error("bridge", "--step", "ports") == ("nstutor: 'nstutor bridge' opens the app and takes nothing "
                                                        "after the lesson; to check it: nstutor check bridge --step ports")


def test_a_mistyped_step_or_choice_gets_a_suggestion():
    assert usage_error("check", "10", "--step", "cabel") == \
        "nstutor: lesson 'netns-veth' has no step 'cabel': did you mean 'cable'?"
    assert "invalid choice 'exprot': did you mean 'export'?" in usage_error("progress", "exprot")
    assert "invalid choice 'jsno': did you mean 'json'?" in usage_error("progress", "export", "--format", "jsno")


def test_a_mistyped_option_gets_a_suggestion_from_its_own_command():
    err = usage_error("check", "bridge", "--stpe", "ports")
    assert err.endswith("nstutor check: error: unknown option '--stpe': did you mean '--step'?")
    assert err.startswith("usage: nstutor check ")         # that command's usage, not the top level's
    assert "did you mean '--format'?" in usage_error("progress", "export", "--fromat", "csv")
    assert "did you mean '--json'?" in usage_error("list", "--jsn")
    assert "unknown option '--zzzzzz' (see nstutor list --help)" in usage_error("list", "--zzzzzz")
    assert "unexpected 'extra' (see nstutor list --help)" in usage_error("list", "extra")


def test_lookup_refuses_a_number_or_case_that_fits_two_lessons(tmp_path):
    def lesson(name: str, lesson_id: str) -> None:
        (tmp_path / name).write_text(textwrap.dedent(f"""\
            ---
            id: {lesson_id}
            title: {lesson_id}
            minutes: 1
            ---
            ```check
            id: made
            title: make it
            expect:
              - netns: {{name: x}}
            hint: ip netns add x
            solution: ip netns add x
            ```
            """))
    lesson("03-alpha.md", "alpha")
    lesson("03-beta.md", "beta")
    lesson("extra.md", "Gamma")       # no NN- in its name: it has no number (it sorts last as 999)
    catalog = load_catalog(tmp_path)
    assert find_lesson(catalog, "3") is None
    assert unknown_lesson(catalog, "3") == "'3' fits more than one lesson: say which, 'alpha' or 'beta'"
    assert find_lesson(catalog, "999") is None
    assert find_lesson(catalog, "gamma").id == "Gamma" and find_lesson(catalog, "03-Beta").id == "beta"
    alpha = find_lesson(catalog, "alpha")
    assert find_step(alpha, "1").id == "made" and find_step(alpha, "MADE").id == "made"
    assert find_step(alpha, "0") is None and find_step(alpha, "2") is None


# --------------------------------------------------------------- --help
def _subcommands(parser: argparse.ArgumentParser, prefix: str = ""):
    """(name, its line in the parent's help, its parser) for every subcommand, nested ones too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            lines = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield prefix + name, lines.get(name), sub
                yield from _subcommands(sub, prefix + name + " ")


def test_every_command_says_what_it_does_in_one_line():
    found = list(_subcommands(build_parser()))
    assert {"check", "reset", "progress export"} <= {name for name, _, _ in found}
    for name, line, sub in found:
        assert line and line.strip(), f"`nstutor {name}` has no line in its parent's --help (add help=...)"
        assert sub.description and sub.description.strip(), f"`nstutor {name} --help` has no description"
        assert "\n" not in line and "\n" not in sub.description, name


def test_help_shows_the_lesson_form_every_command_and_examples():
    res = run_cli("--help")
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())            # argparse wraps lines
    assert "nstutor [LESSON]" in text and "id or number" in text
    for name, line, _ in _subcommands(build_parser()):
        if " " not in name:
            assert name in text and " ".join(line.split()) in text, name
    assert "examples:" in res.stdout and "exit codes:" in res.stdout


def test_the_help_examples_are_real_commands():
    """Each example in --help parses, and the lessons and steps it names exist."""
    parser = build_parser()
    catalog = load_catalog()
    examples = [line.split("  ")[1].strip() for line in parser.epilog.splitlines() if line.startswith("  nstutor ")]
    assert 4 <= len(examples) <= 6, examples
    for example in examples:
        words = shlex.split(example)[1:]
        if words[0] not in command_names(parser):
            assert len(words) == 1 and find_lesson(catalog, words[0]), example
            continue
        args = parser.parse_args(words)
        lesson = find_lesson(catalog, args.lesson) if getattr(args, "lesson", None) else None
        assert lesson or not getattr(args, "lesson", None), example
        if getattr(args, "step", None):
            assert find_step(lesson, args.step), example


@pytest.mark.parametrize("name", sorted(n for n, _, _ in _subcommands(build_parser())))
def test_each_command_help_runs_and_says_what_it_does(name):
    res = run_cli(*name.split(), "--help")
    assert res.returncode == 0 and res.stdout.strip(), (name, res.stderr)
    if name != "pause":          # pause reads its own arguments (it may run as PID 1); it prints its own help
        description = next(sub for n, _, sub in _subcommands(build_parser()) if n == name).description
        assert " ".join(description.split()) in " ".join(res.stdout.split()), res.stdout
