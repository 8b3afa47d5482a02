"""Issue 17: a lesson's cleanup costs only what the lesson made. `nstutor reset` stops, as root,
the processes a cleanup selects, so lint refuses selectors that would also match what the
machine runs anyway, a malformed cleanup is not used at all, and reset never signals init, a
kernel thread or the chain of processes it runs under, whatever the selector says.

The reset tests start their own decoy processes (argv tagged with the test's uid) and run
`nstutor reset` in-process on a catalog of one lesson written to tmp_path."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until
from tutor import cli
from tutor.checks.select import cleanup_selector_problem, selector_problem
from tutor.lessons import load_catalog, parse_lesson
from tutor.lessons.cleanup import _untouchable, kill_processes
from tutor.lessons.scripts import ActionLog
from tutor.observe import take_snapshot

from test_lessons import GOOD_STEP

REPO = Path(__file__).resolve().parents[1]


def lesson_with_cleanup(tmp_path: Path, cleanup: str) -> Path:
    path = tmp_path / "05-demo.md"
    path.write_text(f"---\nid: demo\ntitle: Demo\nminutes: 5\ncleanup: {cleanup}\n---\n# Demo\n\n{GOOD_STEP}")
    return path


def cleanup_problems(tmp_path: Path, cleanup: str) -> list[str]:
    _lesson, problems = parse_lesson(lesson_with_cleanup(tmp_path, cleanup))
    return [p.message for p in problems]


@pytest.mark.parametrize("selector", [
    "''", "'.'", "'.*'", "'sleep'", "'python'", "'tutor'", "'^/usr/bin/'", "'bash'", "'-'",
    "{comm: bash}", "{comm: sshd}", "{comm: dockerd}", "{comm: sh, cmdline: '.'}",
])
def test_lint_refuses_a_cleanup_selector_that_also_matches_the_machines_processes(tmp_path, selector):
    found = cleanup_problems(tmp_path, f"{{processes: [{selector}]}}")
    assert len(found) == 1 and found[0].startswith("cleanup.processes: "), found
    assert ("reset would stop" in found[0] or "would also stop" in found[0]
            or "an empty cmdline pattern matches every process" in found[0]), found


@pytest.mark.parametrize("selector", [
    "'^sleep 1001$'", "' app-b$'", "'^app-a '", "'-m http\\.server 8081 --bind 127\\.0\\.0\\.1$'",
    "{comm: pause, cmdline: '(nstutor pause|-m tutor\\.pause)$'}", "{comm: sleep}", "{container: web}",
])
def test_lint_accepts_a_cleanup_selector_that_names_only_the_lessons_process(tmp_path, selector):
    assert cleanup_problems(tmp_path, f"{{processes: [{selector}]}}") == []


def test_a_step_may_still_select_broadly():
    """Only cleanup is held to this: a check that looks for "some bash" harms nothing."""
    assert selector_problem({"comm": "bash"}) is None and selector_problem(".") is None
    assert cleanup_selector_problem({"comm": "bash"}) is not None


def test_every_shipped_cleanup_passes_the_breadth_rule():
    catalog = load_catalog(language="en")
    selectors = [s for lesson in catalog.lessons for s in lesson.cleanup.get("processes", [])]
    assert len(selectors) >= 15 and not catalog.problems
    assert [s for s in selectors if cleanup_selector_problem(s)] == []


@pytest.mark.parametrize("key, item, words", [
    ("netns", "''", "must be a name"),
    ("netns", "[RED]", "must be a name"),
    ("links", "{a: 1}", "must be a name"),
    ("paths", "/etc", "must contain 'nstutor'"),
    ("paths", "nstutor-root", "must be an absolute path"),
    ("mounts", "relative/nstutor", "must be an absolute path"),
    ("cgroups", "user.slice", "must contain 'nstutor'"),
    ("containers", "{engine: docker}", "must be {engine: docker|podman, name: NAME}"),
    ("containers", "{engine: lxc, name: web}", "must be {engine: docker|podman, name: NAME}"),
    ("pods", "{engine: docker, name: p}", "must be {engine: podman, name: NAME}"),
    ("images", "{engine: docker, name: busybox}", "must contain 'nstutor'"),
    ("images", "{engine: docker, name: '-f'}", "must be {engine: docker|podman, name: NAME}"),
])
def test_every_cleanup_kind_refuses_a_malformed_item_and_then_names_nothing(tmp_path, key, item, words):
    path = lesson_with_cleanup(tmp_path, f"{{{key}: [{item}], netns: [nstutor-kept]}}" if key != "netns"
                               else f"{{netns: [{item}], links: [nstutor-kept]}}")
    lesson, problems = parse_lesson(path)
    assert any(p.message.startswith(f"cleanup.{key}: ") and words in p.message and p.line == 1
               for p in problems), [str(p) for p in problems]
    assert lesson is not None and lesson.cleanup == {}, "a cleanup lint refuses must name nothing"


def reset_in_process(monkeypatch, tmp_path: Path, cleanup: str) -> str:
    lesson_with_cleanup(tmp_path, cleanup)
    monkeypatch.setattr(cli, "_catalog", lambda: load_catalog(tmp_path, "en"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = cli.main(["reset", "demo", "--yes"])
    return f"rc={rc}\n{out.getvalue()}"


@pytest.mark.needs_root
@pytest.mark.parametrize("cleanup", [
    "{processes: [{1: a, b: c}]}",             # mixed keys: once a traceback, then "every process"
    "{processes: [{}]}",
    "{processes: ['sleep']}",                  # too broad: the decoy below would match
    "{processes: ['^sleep 7{uid}$', {{}}]}",   # one good item does not make a bad cleanup usable
])
def test_reset_of_a_lesson_with_a_refused_cleanup_stops_nothing(monkeypatch, tmp_path, spawn, uid, cleanup):
    number = int(uid[2:], 16)
    decoy = spawn(f"sleep 7{number}")
    wait_until(lambda: any(" ".join(p.cmdline) == f"sleep 7{number}" for p in take_snapshot().processes.values()),
               what="the decoy sleep")
    out = reset_in_process(monkeypatch, tmp_path, cleanup.replace("{uid}", str(number)).replace("{{}}", "{}"))
    assert decoy.poll() is None, f"reset stopped a process its lesson's refused cleanup named:\n{out}"
    assert "stopped the process" not in out and "Traceback" not in out, out
    assert out.startswith("rc=1\n"), out
    assert "problem: the cleanup of lesson 5 (demo) is not used, because it is malformed (cleanup.processes: " in out, out
    assert f"nstutor lint {tmp_path / '05-demo.md'}" in out, out


@pytest.mark.needs_root
def test_reset_of_a_good_cleanup_still_stops_its_process(monkeypatch, tmp_path, spawn, uid):
    """The control: the same path with a well-formed cleanup does stop the lesson's process."""
    number = int(uid[2:], 16)
    target = spawn(f"sleep 7{number}")
    wait_until(lambda: any(" ".join(p.cmdline) == f"sleep 7{number}" for p in take_snapshot().processes.values()),
               what="the sleep")
    out = reset_in_process(monkeypatch, tmp_path, f"{{processes: ['^sleep 7{number}$']}}")
    wait_until(lambda: target.poll() is not None, what="the lesson's sleep to be stopped")
    assert f"stopped the process 'sleep 7{number}'" in out, out


@pytest.mark.needs_root
def test_reset_never_signals_the_processes_it_runs_under(uid):
    """A selector that (past lint) matches reset's own parent: the parent survives, and the log
    says why it was left. The parent is a bash of the test's own, so a failure costs only it."""
    tag = f"nstutor-guard-{uid}"
    child = (f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
             "from tutor.lessons.cleanup import kill_processes\n"
             "from tutor.lessons.scripts import ActionLog\n"
             "log = ActionLog()\n"
             f"kill_processes([{tag!r}], log, timeout=1)\n"
             "print('ERRORS', log.errors)\nprint('DONE', log.done)\n")
    script = f"{sys.executable} -c \"$0\"; echo parent-alive {tag}"
    res = subprocess.run(["bash", "-c", script, child], capture_output=True, text=True, timeout=60)
    assert f"parent-alive {tag}" in res.stdout, (res.stdout, res.stderr)
    assert "did not stop" in res.stdout and "this reset runs under it" in res.stdout, res.stdout


def test_init_and_kernel_threads_are_untouchable():
    snap = take_snapshot()
    kernel = next(p for p in snap.processes.values() if not p.cmdline and p.pid != 1 and not p.is_zombie)
    chosen = {1: snap.processes[1], kernel.pid: kernel}
    reasons = _untouchable(snap, chosen)
    assert reasons == {1: "it is the machine's init (pid 1)", kernel.pid: "it is a kernel thread"}

