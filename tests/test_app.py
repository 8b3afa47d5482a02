"""The Textual app, driven with Pilot (App.run_test).

The first tests run against the real kernel: the learner's commands are run by the test
(as a learner would in another terminal) and the app must notice on its own, with no key
pressed. The others freeze the machine with a hand-made snapshot (tests/test_app_scenes.py)
to test the screens and keys exactly.

Every wait is a poll with a deadline (`wait_for`), never a sleep used as an assertion. Each
test keeps its progress in a temporary store, never the learner's.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import sh
from test_app_scenes import empty, red_blue_cable, red_blue_up, welcome_done
from tutor.app.app import DARK, LIGHT, NstutorApp
from tutor.app.screens.catalog import CatalogScreen
from tutor.app.screens.lesson import LessonScreen
from tutor.app.widgets.live_panel import LivePanel
from tutor.app.screens.modals import ConfirmScreen, HelpScreen, NameScreen, SolutionScreen
from tutor.app.state import Status
from tutor.app.widgets.step_card import StepCard
from tutor.app.widgets.step_list import StepList
from tutor.progress.store import ProgressStore
from tutor.elevate import how_to_run_as_root

SIZE = (120, 36)


async def wait_for(pilot, condition, timeout: float = 5.0, what: str = "condition"):
    """Let the app run until *condition()* is truthy; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def status(app, step_id: str) -> Status:
    return app.lesson_screen().state.steps[step_id].status


def card(app, step_id: str) -> StepCard:
    return app.screen.query_one(f"#card-{step_id}", StepCard)


def plain(widget) -> str:
    """The text a Static shows (its content rendered without styles)."""
    from rich.console import Console
    console = Console(width=200, record=True, file=open(os.devnull, "w"))
    console.print(widget.content)
    return console.export_text()


def notices(app) -> list[str]:
    """What the lesson screen said in its notice line (it has no toasts), markdown rendered."""
    from tutor.app.widgets.notices import NoticeBar
    return [n.plain for n in app.lesson_screen().query_one(NoticeBar).history]


def fixed(snap):
    return lambda: snap


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "progress.db"


@pytest.fixture
def no_hello():
    """The welcome lesson's netns `hello`: the test makes it, and removes it whatever happens."""
    if Path("/run/netns/hello").exists():
        pytest.skip("a netns 'hello' already exists on this machine; not touching it")
    yield
    sh("ip netns del hello", check=False)


# --------------------------------------------------------------- real kernel
@pytest.mark.needs_root
async def test_welcome_step_turns_green_then_red_without_a_key(store_path, no_hello):
    app = NstutorApp("welcome", store_path=store_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, what="first round")
        assert status(app, "made") is Status.FAILING
        assert "ip netns add hello" in " ".join(app.lesson_screen().state.steps["made"].failures)

        sh("ip netns add hello")
        await wait_for(pilot, lambda: status(app, "made") is Status.PASSED, timeout=3, what="made to pass")
        assert card(app, "made").has_class("-passed")
        assert status(app, "lo-up") is Status.FAILING
        # the step list says why the next step fails: lo is DOWN, and the command to fix it
        assert "ip -n hello link set lo up" in " ".join(app.lesson_screen().state.steps["lo-up"].failures)
        assert app.lesson_screen().selected == "lo-up"

        sh("ip -n hello link set lo up")
        await wait_for(pilot, lambda: app.lesson_screen().state.complete, timeout=3, what="the lesson to complete")
        banner = plain(app.screen.query_one("#lesson-banner"))
        assert "Lesson complete" in banner and "press n" in banner.lower()

        sh("ip netns del hello")
        await wait_for(pilot, lambda: status(app, "made") is Status.BROKEN, timeout=3, what="made to break")
        assert status(app, "lo-up") is Status.BROKEN
        assert card(app, "made").has_class("-broken")
        assert "ip netns add hello" in " ".join(app.lesson_screen().state.steps["made"].failures)

    with ProgressStore.open(store_path) as store:
        lesson = app.catalog.find("welcome")
        progress = store.lesson_progress(lesson)
        assert progress["made"].ever_passed and progress["lo-up"].ever_passed
        assert not progress["made"].passed            # the latest outcome: broken again
        assert store.last_lesson() == "welcome"
        assert store.time_spent("welcome") > 0


@pytest.mark.needs_root
async def test_reset_asks_first_and_only_then_removes(store_path, no_hello):
    sh("ip netns add hello")
    app = NstutorApp("welcome", store_path=store_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1 and status(app, "made") is Status.PASSED, what="made")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the dialog to close")
        assert Path("/run/netns/hello").exists()

        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not Path("/run/netns/hello").exists(), timeout=10, what="hello to be removed")
        # back to not done, not "broken": the learner asked for it (tests/test_app_lab_change.py)
        await wait_for(pilot, lambda: status(app, "made") is Status.FAILING, timeout=3, what="made to turn red")


@pytest.mark.needs_root
async def test_shell_key_survives_a_terminal_that_cannot_suspend(store_path):
    app = NstutorApp("welcome", store_path=store_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        before = app.updates
        await pilot.press("exclamation_mark")
        # run_test cannot suspend: the app says so, and the live loop carries on (re-checked at once)
        await wait_for(pilot, lambda: app.updates > before, timeout=3, what="a re-check after the shell")
        assert any("cannot suspend" in n for n in notices(app))
        assert app.live.running


# --------------------------------------------------------------- the learner's name, asked once
async def test_first_start_asks_for_the_name_once_and_explains_a_bad_one(store_path):
    app = NstutorApp(store_path=store_path, snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.press("space", "enter")                 # blank: refused, with the reason
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        assert "the name is empty" in str(app.screen.query_one("#name-problem").render())
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NameScreen), what="the dialog to close")
    with ProgressStore.open(store_path) as store:
        assert store.learner_name() == "Ada" and store.name_asked()
    again = NstutorApp(store_path=store_path, snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, CatalogScreen), what="the catalog")
        await pilot.pause(0.2)
        assert not isinstance(again.screen, NameScreen)


# --------------------------------------------------------------- catalog and navigation
async def test_catalog_lists_lessons_with_progress_and_readiness(store_path):
    app = NstutorApp(store_path=store_path, snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        table = app.screen.query_one("#catalog")
        assert table.row_count == len(app.catalog.lessons) >= 2
        row = [str(c) for c in table.get_row("welcome")]
        assert "Welcome" in row[1] and row[2].strip() == "10" and "0/2" in row[3]
        ready = row[4]
        assert ("ready" in ready) == (os.geteuid() == 0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the lesson")
        assert app.screen.lesson.id == app.catalog.lessons[0].id
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="back to the catalog")


async def test_catalog_progress_comes_from_the_store(store_path):
    catalog_app = NstutorApp(store_path=store_path, snapshot_source=fixed(welcome_done()), probes=False)
    async with catalog_app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")   # welcome, which the frozen machine has finished
        await wait_for(pilot, lambda: isinstance(catalog_app.screen, LessonScreen)
                       and catalog_app.lesson_screen().state.complete, what="welcome complete")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(catalog_app.screen, CatalogScreen), what="the catalog")
        row = [str(c) for c in catalog_app.screen.query_one("#catalog").get_row("welcome")]
        assert "2/2" in row[3]
    # a new start reads it back, and lands where the learner left off
    app = NstutorApp(store_path=store_path, snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the last lesson to reopen")
        assert app.screen.lesson.id == "welcome"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        row = [str(c) for c in app.screen.query_one("#catalog").get_row("welcome")]
        assert "2/2" in row[3]


async def test_clicking_a_lesson_opens_it(store_path):
    app = NstutorApp(store_path=store_path, snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        table = app.screen.query_one("#catalog")
        # rows start under the header line of the table; click the second lesson twice (select, open)
        await pilot.click("#catalog", offset=(10, 2))
        await pilot.click("#catalog", offset=(10, 2))
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the clicked lesson")
        assert app.screen.lesson.id == app.catalog.lessons[1].id
        assert table is not None


# --------------------------------------------------------------- lesson keys (frozen machine)
async def test_hints_come_one_at_a_time_and_the_solution_is_recorded(store_path):
    app = NstutorApp("welcome", store_path=store_path, snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        screen = app.lesson_screen()
        assert screen.selected == "made"
        assert screen.state.steps["made"].hints_shown == 0
        await pilot.press("h")
        await wait_for(pilot, lambda: screen.state.steps["made"].hints_shown == 1, what="hint 1")
        first = screen.lesson.step("made").hints[0].replace("`", "")      # its markdown rendered
        assert first in plain(card(app, "made"))
        assert any(first in n for n in notices(app))
        await pilot.press("h")
        await wait_for(pilot, lambda: screen.state.steps["made"].hints_shown == 2, what="hint 2")
        await pilot.press("h")                       # no third hint: it says so, and points at s
        await wait_for(pilot, lambda: any("No more hints" in n for n in notices(app)),
                       what="no more hints")
        assert screen.state.steps["made"].hints_shown == 2

        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SolutionScreen), what="the solution")
        assert "ip netns add hello" in app.screen.solution
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="back to the lesson")
        assert screen.state.steps["made"].solution_viewed

    with ProgressStore.open(store_path) as store:
        progress = store.lesson_progress(app.catalog.find("welcome"))
        assert progress["made"].hints_shown == 2 and progress["made"].solution_viewed
        assert progress["lo-up"].hints_shown == 0 and not progress["lo-up"].solution_viewed


async def test_hint_follows_the_selected_step(store_path):
    app = NstutorApp("welcome", store_path=store_path, snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        screen = app.lesson_screen()
        await pilot.press("j")
        await wait_for(pilot, lambda: screen.selected == "lo-up", what="the second step selected")
        await pilot.press("h")
        await wait_for(pilot, lambda: screen.state.steps["lo-up"].hints_shown == 1, what="a hint for lo-up")
        assert screen.state.steps["made"].hints_shown == 0


async def test_view_keys_switch_the_live_panel(store_path):
    app = NstutorApp("netns-veth", store_path=store_path, snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        panel = app.screen.query_one(LivePanel)
        seen = []
        for key in panel.views:
            await pilot.press(key)
            await wait_for(pilot, lambda: panel.current == key, what=f"view {key}")
            seen.append(panel.view_title)
        assert len(set(seen)) == len(panel.views) >= 6
        # the network view resolves the veth peer across namespaces
        for key, view in panel.views.items():
            if "link" in view.title.lower() or getattr(view, "name", "") == "network":
                await pilot.press(key)
                await pilot.pause()
                body = plain(panel.query_one("#view-body"))
                assert "veth0" in body and "BLUE/veth1" in body
                break
        else:
            pytest.fail("no network view")


async def test_narrow_terminal_switches_between_text_and_panel(store_path):
    app = NstutorApp("welcome", store_path=store_path, snapshot_source=fixed(welcome_done()), probes=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        screen = app.screen
        assert screen.has_class("-narrow")
        assert screen.query_one("#lesson-scroll").display and not screen.query_one("#live").display
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.query_one("#live").display, what="the panel")
        assert not screen.query_one("#lesson-scroll").display
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.query_one("#lesson-scroll").display, what="the text")
        await pilot.press("2")                     # a view key shows the panel
        await wait_for(pilot, lambda: screen.query_one("#live").display, what="the panel on a view key")


async def test_completed_lesson_offers_the_next_one(store_path):
    app = NstutorApp("welcome", store_path=store_path, snapshot_source=fixed(welcome_done()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1 and app.lesson_screen().state.complete, what="complete")
        banner = plain(app.screen.query_one("#lesson-banner"))
        nxt = app.catalog.next_after("welcome")
        assert "Lesson complete" in banner and nxt.title in banner
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.lesson.id == nxt.id,
                       what="the next lesson")
        # the live loop now grades the next lesson
        await wait_for(pilot, lambda: app.last_update.lesson_id == nxt.id, what="grades of the next lesson")


async def test_failing_step_lists_every_failing_expectation(store_path):
    app = NstutorApp("netns-veth", store_path=store_path, snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        screen = app.lesson_screen()
        assert screen.selected == "addresses"
        failures = screen.state.steps["addresses"].failures
        assert len(failures) == 2 and "10.11.11.2/24" in failures[0] and "10.11.11.3/24" in failures[1]
        listed = str(screen.query_one(StepList).get_option("addresses").prompt)
        assert all(f in listed for f in failures)


async def test_help_lists_the_keys_and_theme_toggles(store_path):
    app = NstutorApp("welcome", store_path=store_path, snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        keys = {k for _, rows in app.screen.sections for k, _ in rows}
        assert {"h", "s", "c", "!", "r", "esc", "?", "q", "t"} <= keys
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="help closed")
        assert app.theme == DARK
        await pilot.press("t")
        await wait_for(pilot, lambda: app.theme == LIGHT, what="light theme")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.theme == DARK, what="dark theme")


async def test_not_root_still_opens_and_says_how_to_rerun(store_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    not_root = empty().__class__(**{**{f: getattr(empty(), f) for f in empty().__slots__}, "is_root": False})
    app = NstutorApp("welcome", store_path=store_path, snapshot_source=fixed(not_root), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        banner = plain(app.screen.query_one("#lesson-banner"))
        # the way to become root that works in this shell: sudo, or (no sudo here) a root login
        assert "Not root" in banner and how_to_run_as_root("nstutor welcome") in banner and "made" in banner
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        assert how_to_run_as_root("nstutor") in plain(app.screen.query_one("#catalog-banner"))
        row = [str(c) for c in app.screen.query_one("#catalog").get_row("welcome")]
        assert "not root" in row[4]


async def test_unprobed_step_is_not_failed_by_a_probe_in_a_frozen_scene(store_path):
    app = NstutorApp("netns-veth", store_path=store_path, snapshot_source=fixed(red_blue_up()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        st = app.lesson_screen().state
        assert [s.step.id for s in st if s.passed] == ["rooms", "cable", "addresses", "up"]
        assert "probe" in " ".join(st.steps["ping"].failures)


async def test_clicking_a_view_name_switches_the_view(store_path):
    app = NstutorApp("netns-veth", store_path=store_path, snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        panel = app.screen.query_one(LivePanel)
        bar = panel.query_one("#view-bar")
        target = list(panel.views)[1]
        label = f" {target} "                     # "2 namespaces", or just "2" when the names do not fit
        text = plain(bar).splitlines()[0]
        assert label in text, text
        column = text.index(label) + 1 + 1        # on the key; +1 for the bar's left padding
        await pilot.click("#view-bar", offset=(column, 0))
        await wait_for(pilot, lambda: panel.current == target, what="the clicked view")


async def test_clicking_a_step_selects_it_and_shows_its_card(store_path):
    app = NstutorApp("netns-veth", store_path=store_path, snapshot_source=fixed(red_blue_cable()), probes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        screen = app.lesson_screen()
        await wait_for(pilot, lambda: screen.text_loaded, what="the lesson text")
        scroll = screen.query_one("#lesson-scroll")
        assert scroll.scroll_y == 0
        steps = screen.query_one("#steps", StepList)
        await wait_for(pilot, lambda: steps.option_count == 5 and steps.size.height > 0, what="the step list")
        await pilot.pause()                                  # let the layout settle before clicking
        await pilot.click("#steps", offset=(5, 1))          # under its top border: step 1
        await wait_for(pilot, lambda: screen.selected == "rooms", timeout=10, what="step 1 selected")
        await wait_for(pilot, lambda: scroll.scroll_y > 0, what="the text to scroll to step 1's card")
