"""A learner's first start: no progress, no name yet. The name dialog, driven with Pilot.

The dialog is the first thing a new learner sees, over the catalog or the lesson. It must be
friendly to someone who does not know it is there: every key typed goes into the name (q too,
which elsewhere quits), Enter saves, Esc skips for good, and the dialog says all of that.
"""
from __future__ import annotations

import os
import time

import pytest

from conftest import sh
from fresh_vm import RUN_NETNS, is_mount_point, lesson_lock, unmount_empty_run_netns
from test_app import SIZE, fixed, plain, wait_for
from test_app_scenes import empty
from tutor.app.app import NstutorApp
from tutor.app.screens.catalog import CatalogScreen
from tutor.app.screens.lesson import LessonScreen
from tutor.app.screens.modals import NameScreen
from tutor.progress.store import ProgressStore
from textual.widgets import Input, Static


def dialog_text(screen: NameScreen) -> str:
    return " ".join(" ".join(plain(w).split()) for w in screen.query(Static))


async def test_in_the_name_dialog_q_is_typed_enter_saves(tmp_path):
    store = tmp_path / "progress.sqlite3"
    app = NstutorApp(store_path=store, snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.press("q")
        await pilot.pause(0.2)
        assert app.is_running and app.return_code is None, "q in the name dialog quit the app"
        assert isinstance(app.screen, NameScreen)
        assert app.screen.query_one(Input).value == "q"
        await pilot.press(*"uinn", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NameScreen), what="the dialog to close")
        assert app.is_running
    with ProgressStore.open(store) as s:
        assert s.learner_name() == "quinn" and s.name_asked()


async def test_esc_skips_the_name_for_good_and_the_app_goes_on(tmp_path):
    store = tmp_path / "progress.sqlite3"
    app = NstutorApp(store_path=store, snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.press(*"Ada", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        assert app.is_running
    with ProgressStore.open(store) as s:
        assert s.learner_name() is None and s.name_asked()
    again = NstutorApp(store_path=store, snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, CatalogScreen), what="the catalog")
        await pilot.pause(0.2)
        assert not isinstance(again.screen, NameScreen)


async def test_the_live_loop_starts_however_fast_the_name_dialog_is_answered(tmp_path):
    """The live loop waits for the first frame. It must not wait on the dialog's frame: a learner who
    answers at once (Esc before the dialog was drawn) would get a lesson that never turns green."""
    app = NstutorApp(store_path=tmp_path / "p.sqlite3", snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        await wait_for(pilot, lambda: app.live.running, timeout=3, what="the live loop to start")
        assert app.open_lesson("welcome")
        await wait_for(pilot, lambda: app.updates >= 1, timeout=3, what="a live round for the lesson")


async def test_the_name_dialog_says_which_keys_do_what(tmp_path):
    app = NstutorApp(store_path=tmp_path / "p.sqlite3", snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        text = dialog_text(app.screen)
        buttons = [str(b.label) for b in app.screen.query("Button")]
    assert buttons == ["Save (Enter)", "Skip (Esc)"]
    assert "Enter saves it" in text, text
    assert "Esc skips it: you will not be asked again" in text, text
    assert "nstutor whoami NAME" in text, text
    assert "Every key you type here is part of the name, q too; Ctrl+C quits nstutor" in text, text


async def test_ctrl_c_quits_from_the_name_dialog_as_it_says(tmp_path):
    app = NstutorApp(store_path=tmp_path / "p.sqlite3", snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.pause(0.2)
        for part in ("#name-keys", "#name-input", "#save", "#skip"):
            region = app.screen.query_one(part).region
            assert region.height > 0 and region.bottom <= 24, f"{part} is cut off at 80x24: {region}"
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running, timeout=3, what="the app to quit")


@pytest.fixture
def fresh_data_dir(tmp_path, monkeypatch):
    """A first start as `nstutor` makes it: the store's default place, under an empty XDG_DATA_HOME."""
    data = tmp_path / "xdg-data"
    data.mkdir()
    monkeypatch.delenv("NSTUTOR_DATA_DIR", raising=False)
    monkeypatch.delenv("SUDO_USER", raising=False)      # else the store goes to that user's home
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data


@pytest.mark.needs_root
async def test_first_start_on_a_fresh_vm_asks_the_name_then_shows_the_catalog_and_sees_the_first_netns(
        fresh_data_dir):
    """No store, no name, no /run/netns mount: the real app on the real kernel. The name dialog
    first, the catalog after Esc, and the learner's very first `ip netns add` (which makes
    /run/netns a mount point under the running app) turns welcome's first step green."""
    with lesson_lock():
        if os.path.lexists(f"{RUN_NETNS}/hello"):
            pytest.skip("a netns 'hello' exists on this machine; not touching a learner's lab")
        unmount_empty_run_netns()
        assert not is_mount_point(RUN_NETNS)
        try:
            app = NstutorApp(probes=False, ask_name=True)
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), timeout=10, what="the name question")
                assert (fresh_data_dir / "nstutor" / "progress.sqlite3").exists()
                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
                catalog = app.screen.query_one("#catalog")
                assert catalog.row_count == len(app.catalog.lessons)
                await pilot.press("enter")                  # the cursor starts on lesson 1, welcome
                await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the welcome lesson")
                await wait_for(pilot, lambda: app.updates >= 1, timeout=10, what="a first live round")
                started = time.monotonic()
                sh("ip netns add hello")
                await wait_for(pilot, lambda: app.lesson_screen().state.steps["made"].status.name == "PASSED",
                               timeout=5, what="step 'made' to turn green after the first ip netns add")
                assert time.monotonic() - started < 5
        finally:
            sh("ip netns del hello", check=False)


async def test_on_a_lesson_the_saved_name_is_said_on_the_notice_line_not_in_a_toast(tmp_path):
    """`nstutor 10` on a first start: the confirmation must not cover the lesson or the panel."""
    from test_app import notices
    store = tmp_path / "progress.sqlite3"
    app = NstutorApp("welcome", store_path=store, snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the lesson")
        await wait_for(pilot, lambda: any("exports will say Ada" in n for n in notices(app)),
                       what="the confirmation on the notice line")
        assert not app._notifications, [n.message for n in app._notifications]
