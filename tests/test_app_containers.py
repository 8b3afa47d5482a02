"""The Containers view in the running app (issue 14): key 9 shows it, the key help lists it, and the view bar
names it only on a machine with a container engine (the frozen scenes of the screenshots have none, so
their pictures do not change). The machine is the made-up scene of tests/test_containers_view.py.
"""
from __future__ import annotations

import dataclasses

from test_app import fixed, plain, wait_for
from test_app_scenes import red_blue_cable
from test_containers_view import engines_scene
from tutor.app.app import NstutorApp
from tutor.app.screens.modals import HelpScreen
from tutor.app.widgets.live_panel import LivePanel
from tutor.observe.model import EngineState


async def test_key_9_shows_the_containers_and_the_bar_names_them(tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(engines_scene()), probes=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        panel = app.screen.query_one(LivePanel)
        await wait_for(pilot, lambda: " 9 " in plain(panel.query_one("#view-bar")), what="the bar to name view 9")
        await pilot.press("9")
        await wait_for(pilot, lambda: panel.current == "9", what="view 9")
        assert panel.view_title == "Containers"
        body = plain(panel.query_one("#view-body"))
        assert "web-side" in body and "pod podweb" in body and "veth1a2b3c4" in body
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        views = dict(row for _, rows in app.screen.sections for row in rows)
        assert "Containers" in views["1-9"]


async def test_without_an_engine_the_bar_leaves_view_9_out_but_its_key_works(tmp_path):
    snap = red_blue_cable()
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(snap), probes=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        panel = app.screen.query_one(LivePanel)
        bar = plain(panel.query_one("#view-bar"))
        assert " 8 " in bar and " 9 " not in bar, bar
        await pilot.press("9")
        await wait_for(pilot, lambda: panel.current == "9", what="view 9")
        assert " 9 " in plain(panel.query_one("#view-bar"))          # the current view is always named
        body = plain(panel.query_one("#view-body"))
        assert "No container on this machine." in body and "No container engine was read" in body


async def test_the_bar_names_view_9_when_an_engine_turns_up(tmp_path):
    snaps = {"now": red_blue_cable()}
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=lambda: snaps["now"], probes=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        panel = app.screen.query_one(LivePanel)
        assert " 9 " not in plain(panel.query_one("#view-bar"))
        snaps["now"] = dataclasses.replace(red_blue_cable(), engines=(
            EngineState("docker", "stopped", "dockerd is not running"),))
        await wait_for(pilot, lambda: " 9 " in plain(panel.query_one("#view-bar")), timeout=10,
                       what="the bar to name view 9 once dockerd is installed")
