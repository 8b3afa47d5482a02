"""What a newcomer's walk-through of the app found (issue 12, "First contact"), each pinned by a test:

- a solution line longer than the step card was cut at the card's border (`... netns` and no
  `BLUE`): a learner copying it got a failing command;
- wrapped lines in a card and in the step list went back to the left edge, not under their text;
- "Lesson complete" was said twice (the banner and a notice), and the footer did not show `n`;
- the catalog's toasts covered the lesson table;
- the catalog's details pane was cut at 60x24, and Home/End did not move its cursor.

The machine is frozen with hand-made scenes (tests/test_app_scenes.py), so the pictures are exact.
"""
from __future__ import annotations

import os

import pytest
from rich.console import Console

from test_app import fixed, notices, plain, wait_for
from test_app_scenes import empty, welcome_done
from tutor.app.app import NstutorApp
from tutor.app.screens.catalog import CatalogScreen
from tutor.app.screens.lesson import LessonScreen
from tutor.app.state import ICONS
from tutor.app.widgets.step_card import StepCard
from tutor.app.widgets.step_list import StepList
from tutor.lessons import load_catalog

SIZES = [(80, 24), (120, 40), (200, 50)]


def drawn(app) -> list[str]:
    """The terminal's lines as the learner sees them now (the top screen, composited)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def card_lines(card: StepCard) -> list[str]:
    """The card's text as Textual lays it out: rendered at the card's own content width."""
    width = card.content_region.width
    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(card.content)
    lines = console.export_text().splitlines()
    assert all(len(line.rstrip()) <= width for line in lines)
    return lines


async def lesson_open(pilot, app):
    def ready():
        screen = app.lesson_screen()
        return screen is not None and app.updates >= 1 and screen.text_loaded and screen.query(StepCard)
    await wait_for(pilot, ready, timeout=10, what="the lesson, its text and its cards")
    if not isinstance(app.screen, LessonScreen):      # "Build the lab?" (a lesson with a setup): not now
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="the dialog to close")


# --------------------------------------------------------------- 1. solutions are never cut
SHIPPED = [lesson.id for lesson in load_catalog().lessons]


@pytest.mark.parametrize("lesson_id", SHIPPED)
async def test_every_solution_line_is_shown_whole_in_its_card(tmp_path, lesson_id):
    app = NstutorApp(lesson_id, store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=SIZES[0]) as pilot:
        await lesson_open(pilot, app)
        screen = app.lesson_screen()
        for st in screen.state:
            if st.step.solution:
                screen.state.view_solution(st.step.id)
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda: app.screen.size == size or app.size == size, what=f"size {size}")
            await pilot.pause(0.1)
            for card in app.lesson_screen().query(StepCard):
                screen.paint_card(card)
                st = screen.state.steps.get(card.step_id)
                if st is None or not st.step.solution:
                    continue
                # every word of the solution, in order, after the card's "Solution:" (its title and
                # expectations may name the same things: they do not count)
                lines = card_lines(card)
                at = next(i for i, line in enumerate(lines) if line.strip() == "Solution:")
                shown = " ".join(" ".join(lines[at + 1:]).split())
                for line in st.step.solution.strip().splitlines():
                    assert " ".join(line.split()) in shown, (size, card.step_id, line, lines[at:])


async def test_the_cable_solution_is_drawn_to_its_last_word_at_120x40(tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await lesson_open(pilot, app)
        screen = app.lesson_screen()
        await pilot.press("j")
        await wait_for(pilot, lambda: screen.selected == "cable", what="cable in front")
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.steps["cable"].solution_viewed, what="the solution")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen), what="back to the lesson")
        card = screen.query_one("#card-cable", StepCard)
        screen.query_one("#lesson-scroll").scroll_to_widget(card, animate=False, top=True)
        await pilot.pause(0.3)
        # the command's last word is drawn (wrapped onto the next line if need be), inside the card
        inside = [row[card.region.x + 1:card.region.right - 1] for row in drawn(app)[card.region.y:card.region.bottom]]
        assert "veth1 netns BLUE" in " ".join(" ".join(inside).split()), inside


# --------------------------------------------------------------- 2. hanging indents
async def test_a_wrapped_reason_in_a_card_goes_under_its_first_line(tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await lesson_open(pilot, app)
        screen = app.lesson_screen()
        wrapped = 0
        for card in screen.query(StepCard):
            st = screen.state.steps.get(card.step_id)
            lines = card_lines(card)
            for reason in (st.failures if st else []):
                words = reason.split()
                start = next((i for i, line in enumerate(lines) if line.split()[:3] == words[:3]), None)
                assert start is not None, (reason, lines)
                indent = len(lines[start]) - len(lines[start].lstrip())
                seen = lines[start].split()
                j = start
                while len(seen) < len(words):
                    j += 1
                    wrapped += 1
                    assert lines[j].startswith(" " * indent) and lines[j][indent] != " ", (reason, lines)
                    seen += lines[j].split()
        assert wrapped, "no reason long enough to wrap at 80 columns: the test proves nothing"


async def test_a_wrapped_step_title_in_the_list_goes_under_the_title(tmp_path):
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await lesson_open(pilot, app)
        screen = app.lesson_screen()
        screen.state.show_hint("cable")
        screen.state.view_solution("cable")
        steps = screen.query_one(StepList)
        steps.show_state(screen.state, screen.selected)
        await pilot.pause(0.2)
        rows = [r.rstrip() for r in drawn(app)[steps.region.y + 1:steps.region.bottom]]   # under its border
        heads = [i for i, r in enumerate(rows) if "2. Connect RED" in r]
        assert heads, rows
        head = rows[heads[0]]
        assert "solution viewed)" not in head, rows         # it does wrap at 80 columns
        title_at = head.index("Connect")
        assert rows[heads[0] + 1].startswith(" " * title_at) and "solution viewed)" in rows[heads[0] + 1], rows
        for row in rows:                                     # nothing starts under the markers
            assert not row or row.startswith(("▶ ", "  ")), rows
            if row.startswith("  ") and row[2:3] not in ICONS.values():
                assert row.startswith(" " * 5), rows


# --------------------------------------------------------------- 3. "Lesson complete", once
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_lesson_complete_is_said_once_and_the_footer_offers_n(tmp_path, size):
    app = NstutorApp("welcome", store_path=tmp_path / "p.db", snapshot_source=fixed(welcome_done()), probes=False)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1 and app.lesson_screen().state.complete, what="complete")
        await pilot.pause(0.3)
        assert "Lesson complete" in plain(app.screen.query_one("#lesson-banner"))
        assert not any("complete" in n.lower() for n in notices(app)), notices(app)
        rows = drawn(app)
        assert sum(row.count("Lesson complete") for row in rows) == 1, rows
        assert "n Next lesson" in rows[-1], rows[-1]
        nxt = app.catalog.next_after("welcome")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.lesson.id == nxt.id,
                       what="the next lesson")


async def test_n_is_not_in_the_footer_before_the_lesson_is_complete_and_still_works(tmp_path):
    app = NstutorApp("welcome", store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates >= 1, what="first round")
        await pilot.pause(0.2)
        assert "Next lesson" not in drawn(app)[-1]
        nxt = app.catalog.next_after("welcome")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.lesson.id == nxt.id,
                       what="the next lesson")


# --------------------------------------------------------------- 4. no toast over the catalog
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_the_name_saved_notice_covers_nothing_in_the_catalog(tmp_path, size):
    from textual.widgets._toast import Toast, ToastRack
    from tutor.app.screens.modals import NameScreen
    from tutor.app.widgets.notices import NoticeBar
    app = NstutorApp(store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False, ask_name=True)
    async with app.run_test(size=size, notifications=True) as pilot:      # toasts on, as in a terminal
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen), what="the name question")
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        bar = app.screen.query_one(NoticeBar)
        await wait_for(pilot, lambda: any("Saved" in line for line in drawn(app)), what="the notice drawn")
        assert any("will say Ada" in n.plain for n in bar.history)
        assert not app.screen.get_child_by_type(ToastRack).query(Toast)
        for other in ("#catalog", "#lesson-detail"):
            assert not bar.region.overlaps(app.screen.query_one(other).region), other


# --------------------------------------------------------------- 5. the catalog's details, Home/End
async def test_the_details_pane_is_whole_at_60x24_and_home_end_move_the_cursor(tmp_path):
    app = NstutorApp(store_path=tmp_path / "p.db", snapshot_source=fixed(empty()), probes=False)
    async with app.run_test(size=(60, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        screen = app.screen
        await pilot.press("end")
        last = app.catalog.lessons[-1]
        await wait_for(pilot, lambda: screen.selected_lesson() is last, what="End: the last lesson")
        await pilot.pause(0.2)
        detail = screen.query_one("#lesson-detail")
        said = plain(screen.query_one("#lesson-detail-text")).split()
        rows = drawn(app)[detail.region.y:detail.region.bottom]
        assert " ".join(said) in " ".join(" ".join(rows).split()), rows   # every word on screen, in order
        table = screen.query_one("#catalog")
        assert table.cursor_row == table.row_count - 1
        assert table.region.y <= table.region.bottom - 2            # the table keeps rows of its own
        await pilot.press("home")
        await wait_for(pilot, lambda: screen.selected_lesson() is app.catalog.lessons[0], what="Home: the first")


# --------------------------------------------------------------- 6. a solution says what is done already
async def test_the_solution_says_which_parts_are_already_right(tmp_path):
    """RED made, BLUE not yet: the rooms step's solution starts with `ip netns add RED`, which now
    answers "File exists". The dialog says RED is already right and that the error is harmless; with
    nothing made, it says nothing of the kind."""
    from tutor.app.screens.modals import SolutionScreen
    from test_app_scenes import scene, _link, RED
    from tutor.observe.model import NetNS
    red = NetNS(RED, ("RED",), (), False, links=(_link(RED, 1, "lo", up=False),))
    for snap, already in ((scene(red), True), (empty(), False)):
        app = NstutorApp("netns-veth", store_path=tmp_path / f"p{already}.db", snapshot_source=fixed(snap), probes=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await lesson_open(pilot, app)
            screen = app.lesson_screen()
            assert screen.selected == "rooms"
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, SolutionScreen), what="the solution")
            text = "\n".join(drawn(app))
            assert ("Already right on your machine" in text) is already, text
            if already:
                assert "RED" in app.screen.already[0] and not any("BLUE" in a for a in app.screen.already)
                assert "File exists" in text
