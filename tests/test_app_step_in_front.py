"""The step in front of the learner: h and s act on it, the step list marks it, and what the
app says (notices, hints) is readable: markdown rendered, never drawn over the help.

Real kernel: a three-step lesson over network namespaces with this test's own unique names
(step 1's namespace is made by the fixture, so step 1 passes from the first round; the test
makes the others as a learner would, in another terminal). The fixture removes them all.
"""
from __future__ import annotations

import os
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import sh
from test_app import SIZE, fixed, wait_for
from test_app_scenes import empty
from tutor.app.app import NstutorApp
from tutor.app.screens.catalog import CatalogScreen
from tutor.app.widgets.inline_markdown import inline_text
from tutor.app.screens.lesson import LessonScreen
from tutor.app.screens.modals import HelpScreen, SolutionScreen
from tutor.app.widgets.notices import NoticeBar
from tutor.app.widgets.step_list import FRONT_MARK, StepList
from tutor.lessons import Catalog, load_catalog, parse_lesson

@pytest.fixture
def names():
    """Three netns names no lesson and no other test uses; all removed whatever happens."""
    uid = "inf" + uuid.uuid4().hex[:6]
    made = [f"{uid}{x}" for x in "abc"]
    for name in made:
        assert not Path(f"/run/netns/{name}").exists()
    sh(f"ip netns add {made[0]}")
    yield made
    for name in made:
        sh(f"ip netns del {name}", check=False)


def three_steps(tmp_path: Path, names: list[str]):
    a, b, c = names
    text = textwrap.dedent(f"""\
        ---
        id: infront
        title: In front
        minutes: 1
        cleanup: {{netns: [{a}, {b}, {c}]}}
        ---
        # In front

        ```check
        id: one
        title: Make `{a}`
        expect:
          - netns: {{name: {a}}}
        hints:
          - "`ip netns add {a}` makes it"
          - "one's second hint"
          - "one's third hint"
        solution: |
          ip netns add {a}
        ```

        ```check
        id: two
        title: Make `{b}`
        expect:
          - netns: {{name: {b}}}
        hints:
          - "`ip netns add {b}` makes it"
          - "two's second hint"
        solution: |
          ip netns add {b}
        ```

        ```check
        id: three
        title: Make {c}
        expect:
          - netns: {{name: {c}}}
        hint: "`ip netns add {c}` makes it"
        solution: |
          ip netns add {c}
        ```
        """)
    path = tmp_path / "01-infront.md"
    path.write_text(text)
    lesson, problems = parse_lesson(path, trusted=True)
    assert problems == [], problems
    return lesson


@pytest.fixture
def app(tmp_path, names):
    lesson = three_steps(tmp_path, names)
    return NstutorApp(lesson.id, store_path=tmp_path / "progress.db", catalog=Catalog((lesson,), ()),
                      probes=False, interval=0.2)


def screen_of(app) -> LessonScreen:
    return app.lesson_screen()


def hints_shown(app) -> dict[str, int]:
    return {sid: st.hints_shown for sid, st in screen_of(app).state.steps.items()}


def notices(app) -> list[str]:
    return [n.plain for n in screen_of(app).query_one(NoticeBar).history]


def step_lines(app) -> list[str]:
    steps = screen_of(app).query_one(StepList)
    return [steps.get_option_at_index(i).prompt.plain.split("\n")[0] for i in range(steps.option_count)]


def drawn(app) -> list[str]:
    """The terminal's lines as the learner sees them now (the top screen, composited)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def first_round(pilot, app):
    await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1
                   and screen_of(app).state.steps["one"].passed, what="step one to pass in the first round")


# --------------------------------------------------------------- h and s act on the step in front
@pytest.mark.needs_root
async def test_h_gives_the_first_failing_step_its_hint_not_a_passed_one(app, names):
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app)
        screen = screen_of(app)
        assert screen.selected == "two"
        lines = step_lines(app)
        assert lines[1].startswith(FRONT_MARK) and not lines[0].startswith(FRONT_MARK.strip())
        assert not lines[2].startswith(FRONT_MARK.strip())

        await pilot.press("h")
        await wait_for(pilot, lambda: hints_shown(app)["two"] == 1, what="two's first hint")
        assert hints_shown(app) == {"one": 0, "two": 1, "three": 0}
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SolutionScreen), what="the solution")
        assert names[1] in app.screen.solution and "step 2" in app.screen.title_text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="back to the lesson")
        assert screen.state.steps["two"].solution_viewed and not screen.state.steps["one"].solution_viewed


@pytest.mark.needs_root
async def test_a_picked_step_is_in_front_until_it_passes(app, names):
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app)
        screen = screen_of(app)
        await pilot.press("j")                              # the learner picks step three
        await wait_for(pilot, lambda: screen.selected == "three", what="three picked")
        await pilot.press("h")
        await wait_for(pilot, lambda: hints_shown(app)["three"] == 1, what="three's hint")
        assert hints_shown(app)["two"] == 0
        assert step_lines(app)[2].startswith(FRONT_MARK)

        sh(f"ip netns add {names[2]}")                      # the picked step passes: the first failing is in front
        await wait_for(pilot, lambda: screen.state.steps["three"].passed, timeout=5, what="three to pass")
        await wait_for(pilot, lambda: screen.selected == "two", what="two back in front")
        await pilot.press("h")
        await wait_for(pilot, lambda: hints_shown(app)["two"] == 1, what="two's hint")


@pytest.mark.needs_root
async def test_when_every_step_passes_h_says_so_and_a_picked_step_gives_its_hint(app, names):
    sh(f"ip netns add {names[1]}")
    sh(f"ip netns add {names[2]}")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: screen_of(app) is not None and screen_of(app).state.complete,
                       what="every step to pass")
        screen = screen_of(app)
        await wait_for(pilot, lambda: screen.selected is None, what="no step in front")
        assert not any(line.startswith(FRONT_MARK.strip()) for line in step_lines(app))
        await pilot.press("h")
        await wait_for(pilot, lambda: any("Every step passes" in n for n in notices(app)), what="the notice")
        assert hints_shown(app) == {"one": 0, "two": 0, "three": 0}

        await pilot.press("j")                              # the learner picks step one, to read it again
        await wait_for(pilot, lambda: screen.selected == "one", what="one picked")
        await pilot.press("h")
        await wait_for(pilot, lambda: hints_shown(app)["one"] == 1, what="one's hint")
        assert "passes already" in notices(app)[-1]


# --------------------------------------------------------------- markdown rendered
@pytest.mark.needs_root
async def test_a_hint_shows_its_command_without_backticks(app, names):
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app)
        await pilot.press("h")
        command = f"ip netns add {names[1]}"
        await wait_for(pilot, lambda: any(command in line for line in drawn(app)), what="the hint on screen")
        hint_rows = [line for line in drawn(app) if command in line]
        assert hint_rows and not any("`" in line for line in hint_rows), hint_rows
        assert not any("`" in line for line in drawn(app)), "a backtick is drawn somewhere"
        card = screen_of(app).query_one("#card-two")
        assert "`" not in "".join(strip.text for strip in card.render_lines(card.region.reset_offset))

        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SolutionScreen), what="the solution")
        await pilot.pause()
        assert any(names[1] in line for line in drawn(app))
        assert not any("`" in line for line in drawn(app))


def test_every_shipped_hint_renders_as_written_less_its_backticks():
    """The renderer only drops markdown's marks: no hint loses a character (a glob's *, a path's _)."""
    for lesson in load_catalog().lessons:
        for step in lesson.steps:
            for text in (*step.hints, step.title, step.explain or ""):
                assert inline_text(text).plain == text.replace("`", ""), (lesson.id, step.id, text)


# --------------------------------------------------------------- where notices go
@pytest.mark.needs_root
@pytest.mark.parametrize("size", [SIZE, (80, 24)], ids=["wide", "80x24"])
async def test_a_notice_covers_neither_the_text_nor_the_panel_nor_the_steps(app, names, size):
    async with app.run_test(size=size) as pilot:
        await first_round(pilot, app)
        screen = screen_of(app)
        screen.notify(f"`ip netns add {names[1]}` is the next command", title="A notice")
        bar = screen.query_one(NoticeBar)
        await wait_for(pilot, lambda: bar.display and bar.region.height > 0, what="the notice line")
        shown = [screen.query_one(other) for other in ("#lesson-scroll", "#live", "#steps")]
        assert any(w.display and w.region.area for w in shown[:2])     # what the learner reads is there
        for widget in shown:
            assert not bar.region.overlaps(widget.region), widget.id
        assert any(f"ip netns add {names[1]} is the next command" in line for line in drawn(app))


@pytest.mark.needs_root
async def test_a_notice_is_not_drawn_over_the_help_and_waits_for_it_to_close(app, names):
    async with app.run_test(size=SIZE, notifications=True) as pilot:      # toasts on, as in a terminal
        await first_round(pilot, app)
        screen = screen_of(app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        help_region = app.screen.query_one(".dialog").region
        help_lines = drawn(app)

        sh(f"ip netns add {names[1]}")                      # step two passes while the learner reads the help
        await wait_for(pilot, lambda: screen.state.steps["two"].passed, what="two to pass")
        await wait_for(pilot, lambda: any("Step passed" in n for n in notices(app)), what="the notice")
        await pilot.pause(0.5)
        now = drawn(app)
        for y in range(help_region.y, help_region.bottom):   # the help's rows, as drawn: unchanged
            assert now[y][help_region.x:help_region.right] == help_lines[y][help_region.x:help_region.right], y
        assert not any("Step passed" in line for line in now)
        from textual.widgets._toast import Toast, ToastRack
        assert not app.screen.get_child_by_type(ToastRack).query(Toast)

        passed = next(n for n in screen.query_one(NoticeBar).history if "Step passed" in n.plain)
        assert passed.left == passed.timeout                # its time did not run behind the help
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="back to the lesson")
        await wait_for(pilot, lambda: any("Step passed" in line for line in drawn(app)), what="the notice shown")


async def test_toasts_elsewhere_are_not_drawn_over_the_help(tmp_path):
    """The catalog still uses Textual's toasts: while the help is open they are not drawn."""
    app = NstutorApp(store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False, resume_last=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:      # toasts on, as in a terminal
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        app.notify("`ip netns add hello` toast text", timeout=30)
        from textual.widgets._toast import Toast, ToastRack
        await wait_for(pilot, lambda: app.screen.get_child_by_type(ToastRack).query(Toast),
                       what="the toast to be mounted on the help screen")
        await pilot.pause(0.3)
        assert not any("toast text" in line for line in drawn(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="back to the catalog")
        await wait_for(pilot, lambda: any("toast text" in line for line in drawn(app)), what="the toast, now shown")


async def test_a_long_reason_in_the_step_list_wraps_under_itself(tmp_path):
    from test_app_scenes import red_blue_cable
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()),
                     probes=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        steps = screen_of(app).query_one(StepList)
        await pilot.pause(0.2)
        rows = drawn(app)[steps.region.y:steps.region.bottom]
        why = [i for i, row in enumerate(rows) if row.lstrip().startswith("↳")]
        assert why, rows
        first = why[0]
        assert len(rows[first].rstrip()) > 60, rows          # long enough to wrap at 80 columns
        assert rows[first + 1].startswith(" " * 8) and rows[first + 1].strip(), rows
