"""Screenshot tests (pytest-textual-snapshot): the catalog, a lesson with a failing step, the topology.

The machine is frozen with hand-made scenes (tests/test_app_scenes.py) and progress lives in a
temporary store, so the pictures only change when the app's look changes. After a deliberate
change of look, review the new pictures and accept them with:

    /opt/nstutor/bin/python -m pytest tests/test_app_snapshots.py --snapshot-update
"""
from __future__ import annotations

import time

import pytest

from test_app_scenes import red_blue_cable, red_blue_up, welcome_done
from tutor.app.app import NstutorApp
from tutor.checks.runner import grade_step
from tutor.lessons import load_catalog
from tutor.progress.store import ProgressStore


@pytest.fixture
def snapshot(request):
    """syrupy's `snapshot` (which snap_compare uses): tests/conftest.py gives that name to
    take_snapshot, so it is brought back here for this module only."""
    import syrupy
    return syrupy.snapshot.__wrapped__(request)


def until_live(*keys: str):
    """run_before: wait (with a deadline) for the first live round and the lesson text, then press *keys*."""
    async def run_before(pilot) -> None:
        deadline = time.monotonic() + 10
        while pilot.app.updates < 1 or not getattr(pilot.app.lesson_screen(), "text_loaded", False):
            if time.monotonic() > deadline:
                pytest.fail("the app never received a live round, or the lesson text never came")
            await pilot.pause(0.05)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
    return run_before


def until_catalog():
    async def run_before(pilot) -> None:
        deadline = time.monotonic() + 10
        while pilot.app.screen.id != "catalog-screen" or not pilot.app.screen.is_mounted:
            if time.monotonic() > deadline:
                pytest.fail("the catalog never showed")
            await pilot.pause(0.05)
        await pilot.pause()
    return run_before


@pytest.fixture
def store_with_welcome_done(tmp_path):
    """A progress store where the learner finished welcome and started netns-veth."""
    path = tmp_path / "progress.db"
    catalog = load_catalog()
    with ProgressStore.open(path) as store:
        welcome = catalog.find("welcome")
        store.record_check(welcome, [grade_step(s, welcome_done(), probes=False) for s in welcome.steps], "app")
        veth = catalog.find("netns-veth")
        store.record_check(veth, [grade_step(s, red_blue_cable(), probes=False) for s in veth.steps], "app")
    return path


def test_catalog(snap_compare, store_with_welcome_done, monkeypatch):
    # The "Here" column, frozen too: a lab VM with every tool but no Kubernetes node.
    monkeypatch.setattr("tutor.lessons.model.is_met", lambda req: req != "k8s-node")
    app = NstutorApp(store_path=store_with_welcome_done, snapshot_source=lambda: welcome_done(), probes=False,
                     resume_last=False)
    assert snap_compare(app, terminal_size=(100, 28), run_before=until_catalog())


def test_lesson_with_a_failing_step(snap_compare, tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=lambda: red_blue_cable(),
                     probes=False)
    # k, j: the learner moves to the failing step, and the text scrolls to its card
    assert snap_compare(app, terminal_size=(140, 40), run_before=until_live("3", "k", "j"))


def test_lesson_at_80x24(snap_compare, tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=lambda: red_blue_cable(),
                     probes=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=until_live())


def test_topology_view(snap_compare, tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=lambda: red_blue_up(),
                     probes=False)
    assert snap_compare(app, terminal_size=(160, 40), run_before=until_live("1"))


# --------------------------------------------------------------- the same screens in Korean (issue 16)
@pytest.fixture
def korean():
    """The process speaks Korean for one test, and the Korean lessons are loaded."""
    from tutor import i18n
    i18n.set_language("ko")
    try:
        yield load_catalog(language="ko")
    finally:
        i18n.set_language("en")


def test_catalog_in_korean(snap_compare, store_with_welcome_done, monkeypatch, korean):
    monkeypatch.setattr("tutor.lessons.model.is_met", lambda req: req != "k8s-node")
    app = NstutorApp(store_path=store_with_welcome_done, snapshot_source=lambda: welcome_done(), probes=False,
                     resume_last=False, catalog=korean)
    assert snap_compare(app, terminal_size=(100, 28), run_before=until_catalog())


def test_lesson_with_a_failing_step_in_korean(snap_compare, tmp_path, korean):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=lambda: red_blue_cable(),
                     probes=False, catalog=korean)
    assert snap_compare(app, terminal_size=(140, 40), run_before=until_live("3", "k", "j"))


def test_lesson_at_80x24_in_korean(snap_compare, tmp_path, korean):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=lambda: red_blue_cable(),
                     probes=False, catalog=korean)
    assert snap_compare(app, terminal_size=(80, 24), run_before=until_live())
