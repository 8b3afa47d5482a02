"""A reset the learner asked for is the lesson starting again, not an alarm (issue 12).

The app calls a passed step that fails "broken" ("✘ A passed step broke", "(broken again)") only
when no setup/reset of the lesson ran while it broke; the progress store's record of lab changes
(tutor/progress/store.py, lab_change_between) decides, the same record that keeps a reset's
outcome from counting as attempts. Three ways a passed step fails, on the real kernel, with a
demo lesson whose netns has a unique name (tests/demo_lesson.py), so no shared lock is needed:
the app's own reset (r, y), `nstutor reset --yes` run from another process while the app is
open, and the learner deleting the netns by hand (still an alarm).
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import sh
from demo_lesson import make_lesson
from test_app import notices, status, wait_for
from tutor.app.app import NstutorApp
from tutor.app.screens.lesson import LessonScreen
from tutor.app.screens.modals import ConfirmScreen
from tutor.app.state import Status
from tutor.app.widgets.step_list import StepList
from tutor.lessons import Catalog
from tutor.progress.paths import DB_NAME

REPO = Path(__file__).resolve().parent.parent
SIZE = (120, 36)
BROKE = "A passed step broke"

# `nstutor reset LESSON --yes` for a lesson file outside the shipped ones: the real command, its
# catalog being that one file (the CLI only knows the shipped lessons).
CLI_RESET = """\
import sys
import time
from pathlib import Path
from tutor import cli
from tutor.lessons import Catalog, parse_lesson
lesson, problems = parse_lesson(Path(sys.argv[1]), trusted=True)
cli._catalog = lambda: Catalog((lesson,), ())
sys.exit(cli.main(["reset", lesson.id, "--yes"]))
"""


@pytest.fixture
def demo(tmp_path, uid):
    """The demo lesson (one step: netns <uid>a, which its cleanup removes); the netns is made
    passing and removed at teardown whatever happens."""
    lesson = make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}a]")
    sh(f"ip netns add {uid}a")
    yield lesson, f"{uid}a"
    sh(f"ip netns del {uid}a", check=False)


def step_list_text(app) -> str:
    steps = app.lesson_screen().query_one(StepList)
    return "\n".join(steps.get_option_at_index(i).prompt.plain for i in range(steps.option_count))


async def open_passing(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1
                   and status(app, "made") is Status.PASSED, timeout=10, what="the step to pass")


async def seen_failing(pilot, app, after: float) -> None:
    """Until the app graded a snapshot taken after *after* and showing the step failing."""
    screen = app.lesson_screen()
    await wait_for(pilot, lambda: screen.snap is not None and screen.snap.taken_at > after
                   and status(app, "made") in (Status.FAILING, Status.BROKEN), timeout=10,
                   what="the app to see the step fail")


def assert_no_alarm(app) -> None:
    said = notices(app)
    assert not [n for n in said if BROKE in n], said
    assert status(app, "made") is Status.FAILING            # not done, not "broken"
    assert "broken again" not in step_list_text(app)


async def app_reset(pilot, app, netns: str) -> None:
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=10, what="the confirmation")
    await pilot.press("y")
    await wait_for(pilot, lambda: not Path(f"/run/netns/{netns}").exists(), timeout=10, what="the reset")


@pytest.mark.needs_root
async def test_the_apps_own_reset_is_one_notice_and_no_broke_alarm(demo, tmp_path):
    lesson, netns = demo
    app = NstutorApp(lesson.id, store_path=tmp_path / DB_NAME, catalog=Catalog((lesson,), ()))
    async with app.run_test(size=SIZE) as pilot:
        await open_passing(pilot, app)
        await app_reset(pilot, app, netns)
        await seen_failing(pilot, app, time.time())
        assert_no_alarm(app)
        assert any("Reset done: the lesson's steps are back to not done" in n for n in notices(app)), notices(app)
        # the header says what passes now, and what the catalog's ✔ 1/1 counts: the step was done before
        assert app.lesson_screen().sub_title == "0/1 step · 1 done before"


@pytest.mark.needs_root
async def test_a_cli_reset_from_another_shell_is_said_once_and_no_broke_alarm(demo, tmp_path):
    lesson, netns = demo
    data = tmp_path / "data"
    data.mkdir()
    app = NstutorApp(lesson.id, store_path=data / DB_NAME, catalog=Catalog((lesson,), ()))
    async with app.run_test(size=SIZE) as pilot:
        await open_passing(pilot, app)
        # another shell: its own process, the same progress store (NSTUTOR_DATA_DIR); the app runs on
        env = dict(os.environ, NSTUTOR_DATA_DIR=str(data))
        res = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", CLI_RESET, str(lesson.path)],
                                      cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert not Path(f"/run/netns/{netns}").exists(), res.stdout
        await seen_failing(pilot, app, time.time())
        assert_no_alarm(app)
        said = [n for n in notices(app) if "from another shell" in n]
        assert said == ["Lesson 1 was reset (from another shell): its steps are back to not done"], notices(app)


@pytest.mark.needs_root
async def test_deleting_it_by_hand_after_a_reset_still_alarms(demo, tmp_path):
    """The reset forgives only the break it made: the step done again and then deleted by the
    learner is "broken" as always."""
    lesson, netns = demo
    app = NstutorApp(lesson.id, store_path=tmp_path / DB_NAME, catalog=Catalog((lesson,), ()))
    async with app.run_test(size=SIZE) as pilot:
        await open_passing(pilot, app)
        await app_reset(pilot, app, netns)
        await seen_failing(pilot, app, time.time())
        assert_no_alarm(app)

        sh(f"ip netns add {netns}")
        await wait_for(pilot, lambda: status(app, "made") is Status.PASSED, timeout=10, what="the step again")
        sh(f"ip netns del {netns}")
        await wait_for(pilot, lambda: status(app, "made") is Status.BROKEN, timeout=10, what="the break")
        assert [n for n in notices(app) if BROKE in n], notices(app)
        assert "broken again" in step_list_text(app)
