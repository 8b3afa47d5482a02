"""The app's layout at 80x24, 120x40 and 200x50: nothing the learner must read is cut.

* Every code block (diagram, command) of every shipped lesson can be read whole: it fits the
  lesson pane, or it shows a scrollbar and left/right slide it until its last cell was on screen.
* `p` (panel only) gives the live panel the whole width, so its lines are no longer cut.
* The catalog drops or shortens columns on purpose as the screen narrows: every cell it shows
  is complete and no column is off-screen.

What is checked is what the terminal would show: the rendered screen (the compositor's strips),
cut and compared in terminal cells (Strip.crop, rich.cells.cell_len), never in characters.
"""
from __future__ import annotations

import dataclasses

import pytest
from rich.cells import cell_len
from rich.segment import Segment
from textual.strip import Strip

from test_app import fixed, wait_for
from test_app_scenes import RED, _proc, red_blue_cable
from tutor.app.app import NstutorApp
from tutor.app.widgets.lesson_markdown import LessonFence
from tutor.app.screens.lesson import LessonScreen
from tutor.app.widgets.live_panel import LivePanel
from tutor.lessons import load_catalog
from tutor.observe.model import frozen_map

SIZES = [(80, 24), (120, 40), (200, 50)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]
CATALOG = load_catalog()           # once: each app would read and check every lesson file again
LESSONS = [lesson.id for lesson in CATALOG.lessons]


def screen_rows(app) -> list[Strip]:
    """The screen as the terminal gets it, one Strip per row."""
    return list(app.screen._compositor.render_strips())


def cells(row: Strip, x: int, width: int) -> str:
    """The text of *width* cells of *row* from cell *x*."""
    return row.crop(x, x + width).text


async def open_lesson(pilot, app, lesson_id: str) -> LessonScreen:
    """The lesson screen of *lesson_id* with its text drawn, one live round painted, and no dialog
    on top (the offer to build an absent lab is declined)."""
    def ready():
        screen = app.lesson_screen()
        return (screen is not None and screen.lesson.id == lesson_id and getattr(screen, "text_loaded", False)
                and screen.state.rounds >= 1)
    await wait_for(pilot, ready, timeout=10, what=f"lesson {lesson_id} drawn")
    while not isinstance(app.screen, LessonScreen):
        await pilot.press("escape")          # "Build the lab?": not now
        await pilot.pause()
    await pilot.pause()
    return app.screen


def widest_line(fence: LessonFence) -> tuple[int, str]:
    lines = fence.code.splitlines()
    index = max(range(len(lines)), key=lambda i: cell_len(lines[i]))
    return index, lines[index]


def line_row(screen: LessonScreen, fence: LessonFence, index: int) -> int:
    """The screen row of line *index* of *fence* (the code's top padding is 1 row)."""
    y = fence.region.y + 1 + index
    view = screen.query_one("#lesson-scroll").scrollable_content_region
    assert view.y <= y < view.bottom, f"line {index} of a block is not in view"
    return y


async def show_line(pilot, screen: LessonScreen, fence: LessonFence, index: int) -> None:
    """Scroll the lesson text so that line *index* of *fence* is on screen."""
    scroll = screen.query_one("#lesson-scroll")
    top = fence.region.y - scroll.region.y + round(scroll.scroll_y)
    scroll.scroll_to(y=max(top + index, 0), animate=False)
    await pilot.pause()


def assert_reachable(lesson_id: str, fence: LessonFence) -> None:
    """From the layout: the block's widest line fits its pane, or the block scrolls (with a
    scrollbar) far enough to bring the line's last cell into view."""
    _, widest = widest_line(fence)
    need = cell_len(widest) + 1                 # 1 cell of padding before the code (app.tcss)
    view = fence.scrollable_content_region.width
    what = f"{lesson_id}: a block whose widest line is {cell_len(widest)} cells, in a pane of {view}"
    if need <= view:
        return
    assert fence.show_horizontal_scrollbar, f"{what} shows no scrollbar"
    assert fence.virtual_size.width >= need and fence.max_scroll_x >= need - view, f"{what} cannot scroll to its end"


async def assert_readable_on_screen(pilot, app, screen: LessonScreen, fence: LessonFence) -> None:
    """On the rendered screen: the block's widest line shows whole, or the right arrow slides it,
    a piece at a time, until its last cell was shown (and left slides it back)."""
    lesson_id = screen.lesson.id
    index, widest = widest_line(fence)
    await show_line(pilot, screen, fence, index)
    view = fence.scrollable_content_region
    laid_out = Strip([Segment(" " + widest)])      # the block's row as laid out: padding, then the line

    def shown() -> str:
        return cells(screen_rows(app)[line_row(screen, fence, index)], view.x, view.width).rstrip()

    if fence.max_scroll_x == 0:
        assert shown() == " " + widest.rstrip(), f"{lesson_id}: a block's widest line is cut"
        return
    shown_up_to = 0
    while True:
        x = round(fence.scroll_x)
        assert shown() == cells(laid_out, x, view.width).rstrip(), (
            f"{lesson_id}: the block scrolled to {x} does not show its line there")
        shown_up_to = x + view.width
        if x >= fence.max_scroll_x:
            break
        await pilot.press("right")
        await wait_for(pilot, lambda: round(fence.scroll_x) > x, what=f"{lesson_id}: right to slide the block")
    assert shown_up_to >= cell_len(widest) + 1, f"{lesson_id}: the end of a block never showed"
    await pilot.press("left")
    await wait_for(pilot, lambda: fence.scroll_x < fence.max_scroll_x, what=f"{lesson_id}: left to slide it back")


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_every_code_block_of_every_lesson_can_be_read_whole(size, tmp_path):
    """Every block of every lesson, from the layout; on the rendered screen, each lesson's widest
    block (slid with the arrow keys when it is wider than the pane) and its widest block that fits."""
    app = NstutorApp(LESSONS[0], store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()),
                     probes=False, catalog=CATALOG)
    async with app.run_test(size=size) as pilot:
        for lesson_id in LESSONS:
            if app.lesson_screen().lesson.id != lesson_id:
                app.open_lesson(lesson_id)
            screen = await open_lesson(pilot, app, lesson_id)
            screen.query_one("#lesson-scroll").focus()
            fences = [f for f in screen.query(LessonFence) if f.step_id is None]
            assert fences, f"{lesson_id} has no code block"
            for fence in fences:
                assert_reachable(lesson_id, fence)
            by_width = sorted(fences, key=lambda f: cell_len(widest_line(f)[1]))
            fitting = [f for f in by_width if f.max_scroll_x == 0]
            for fence in {by_width[-1], *fitting[-1:]}:
                await assert_readable_on_screen(pilot, app, screen, fence)


async def test_the_panes_follow_a_resized_terminal(tmp_path):
    """A lesson with a 108-cell diagram: the pane takes what it needs where there is room, one pane at
    a time on a narrow terminal, and back."""
    from tutor.app.widgets.lesson_markdown import lesson_pane_width, widest_block
    app = NstutorApp("bridge", store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()),
                     probes=False, catalog=CATALOG)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_lesson(pilot, app, "bridge")
        pane, panel = screen.query_one("#lesson-scroll"), screen.query_one("#live")
        widest = widest_block(screen.lesson.body)
        assert widest == 108
        assert pane.size.width == lesson_pane_width(200, widest) == 113 and panel.outer_size.width == 200 - 113
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: pane.size.width == 80 and not panel.display, what="the text alone, full width")
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: pane.size.width == 72 and panel.display, what="side by side again")
        assert panel.outer_size.width == 120 - 72          # the panel keeps its least width (48), the diagram scrolls


# --------------------------------------------------------------- p: the panel gets the room
LONG_COMMAND = ("python3 -m http.server 8080 --bind 10.11.11.2 --directory /srv/lesson-netns-veth/static/"
                "files")
SHOWN = LONG_COMMAND.removeprefix("python3 ")    # the tree says python3(4242,net), then the arguments


def red_with_a_server():
    """netns-veth half done, and a web server with a long command line in RED (the processes view shows it)."""
    snap = red_blue_cable()
    server = _proc(4242, 311, "python3", LONG_COMMAND.split(" "), net=RED)
    return dataclasses.replace(snap, processes=frozen_map({**snap.processes, 4242: server}))


def view_key(panel: LivePanel, name: str) -> str:
    return next(key for key, view in panel.views.items() if getattr(view, "name", "") == name)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_panel_only_gives_the_panel_the_whole_width(size, tmp_path):
    width = size[0]
    app = NstutorApp("netns-veth", store_path=tmp_path / "p.db", snapshot_source=fixed(red_with_a_server()),
                     probes=False, catalog=CATALOG)
    async with app.run_test(size=size) as pilot:
        screen = await open_lesson(pilot, app, "netns-veth")
        panel = screen.query_one(LivePanel)
        await pilot.press(view_key(panel, "processes"))
        if not screen.query_one("#live").display:       # narrow: the view key showed the panel already
            pytest.fail("a view key did not show the panel")
        if width >= 110:
            assert panel.size.width < width * 0.6       # beside the text first
            await pilot.press("p")
        await wait_for(pilot, lambda: not screen.query_one("#lesson-scroll").display, what="the text hidden")
        await wait_for(pilot, lambda: panel.size.width >= width - 1, what="the panel to take the width")
        body = screen.query_one("#view-body")
        await wait_for(pilot, lambda: SHOWN[:20] in "".join(s.text for s in screen_rows(app)),
                       what="the command line drawn")
        line = next(s.text for s in screen_rows(app) if SHOWN[:20] in s.text)
        if cell_len(LONG_COMMAND) + 20 < body.size.width:     # the tree and "(4242,net)" come before it
            assert SHOWN in line, f"the command line is cut although the panel has the room: {line!r}"
        else:
            assert line.rstrip().endswith("…"), "a line too long for the screen is cut, and says so"
        # and p again brings the text back beside it
        if width >= 110:
            await pilot.press("p")
            await wait_for(pilot, lambda: screen.query_one("#lesson-scroll").display, what="the text back")
            await wait_for(pilot, lambda: panel.size.width < width * 0.6, what="the panel beside it again")


# --------------------------------------------------------------- the catalog: columns that fit
CATALOG_SIZES = [(60, 24), (80, 24), (120, 40)]


@pytest.mark.parametrize("size", CATALOG_SIZES, ids=[f"{w}x{h}" for w, h in CATALOG_SIZES])
async def test_catalog_shows_only_whole_cells_and_every_column_on_screen(size, tmp_path, monkeypatch):
    # the Here column frozen: a lab VM with every tool but no Kubernetes node (lesson 18 is not ready)
    monkeypatch.setattr("tutor.lessons.model.is_met", lambda req: req != "k8s-node")
    width = size[0]
    app = NstutorApp(store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()), probes=False,
                     resume_last=False, catalog=CATALOG)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.screen.id == "catalog-screen" and app.screen.query("#catalog"),
                       what="the catalog")
        await pilot.pause()
        table = app.screen.query_one("#catalog")
        # no column off-screen: nothing to scroll sideways, the last column ends inside the table
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0
        headers = [col.label.plain for col in table.ordered_columns]
        header_row = screen_rows(app)[table.region.y].crop(table.region.x, table.region.right).text
        assert header_row.split() == headers
        # what each width gives up, on purpose (tutor/app/screens/catalog.py says why)
        expect = {60: ["#", "Lesson", "Steps", "Here"], 80: ["#", "Lesson", "Progress", "Here"],
                  120: ["#", "Lesson", "Min", "Progress", "Here"]}[width]
        assert headers == expect
        expected_here = {"k8s-node": "✘ not a k8s node"} if width >= 120 else {"k8s-node": "✘"}
        for index, lesson in enumerate(app.catalog.lessons):
            table.move_cursor(row=index)
            await pilot.pause()          # the details pane follows the cursor: the table's height settles
            await wait_for(pilot, lambda: row_in_view(table, index), what=f"row {index} scrolled into view")
            cells_shown = row_cells(table, lesson_rows_now(app, table, index))
            # every cell whole: the title's words over one or more lines, the others on one line
            assert " ".join(cells_shown["title"]) == lesson.title, f"title of {lesson.id} cut"
            assert cells_shown["num"] == [f"{lesson.number:02d}"]
            if width >= 120:
                assert cells_shown["minutes"] == [str(lesson.minutes)]
            progress = cells_shown["progress"][0]
            assert progress.endswith(f"0/{len(lesson.steps)}") and len(cells_shown["progress"]) == 1
            assert ("░" in progress) == (width >= 80), "the progress bar is shown from 80 columns on"
            ready = "✔ ready" if width >= 120 else "✔"
            assert cells_shown["ready"] == [expected_here.get(lesson.id, ready)]
        # the details pane says in full what a narrow table leaves out
        if width < 120:
            table.move_cursor(row=app.catalog.lessons.index(app.catalog.find("k8s-node")))
            await pilot.pause()
            detail = " ".join(s.text for s in screen_rows(app)[app.screen.query_one("#lesson-detail").region.y:])
            assert "Kubernetes node" in " ".join(detail.split())
            assert "min" in detail


def row_span(table, index: int) -> tuple[int, int]:
    """The screen rows (first, end) of table row *index* (under the header row, which stays)."""
    keys = list(table.rows)
    y0 = table.scrollable_content_region.y + 1 + sum(table.rows[k].height for k in keys[:index]) - round(table.scroll_y)
    return y0, y0 + table.rows[keys[index]].height


def row_in_view(table, index: int) -> bool:
    y0, end = row_span(table, index)
    region = table.scrollable_content_region
    return region.y < y0 and end <= region.bottom


def lesson_rows_now(app, table, index: int) -> list[Strip]:
    """Row *index* of the catalog as the screen shows it now (it must be in view): one Strip per line."""
    region = table.scrollable_content_region
    y0, end = row_span(table, index)
    assert row_in_view(table, index), f"row {index} is not in view"
    rows = screen_rows(app)
    return [rows[y].crop(region.x, region.right) for y in range(y0, end)]


def row_cells(table, lines: list[Strip]) -> dict[str, list[str]]:
    """Each column's text in a row's lines (cut at the columns' rendered widths, padding stripped);
    blank lines of a cell left out."""
    out, x = {}, 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        texts = [line.crop(x, x + width).text.strip() for line in lines]
        out[column.key.value] = [t for t in texts if t]
        x += width
    return out


async def test_catalog_changes_columns_when_the_terminal_is_resized(tmp_path):
    app = NstutorApp(store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()), probes=False,
                     resume_last=False, catalog=CATALOG)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.id == "catalog-screen" and app.screen.query("#catalog"),
                       what="the catalog")
        table = app.screen.query_one("#catalog")
        table.move_cursor(row=4)
        await pilot.resize_terminal(60, 24)
        await wait_for(pilot, lambda: [c.label.plain for c in table.ordered_columns] == ["#", "Lesson", "Steps", "Here"],
                       what="the narrow columns")
        assert app.screen.selected_lesson().id == app.catalog.lessons[4].id      # the cursor stays on its lesson
        await pilot.resize_terminal(120, 30)
        await wait_for(pilot, lambda: len(table.ordered_columns) == 5, what="every column back")


async def test_the_opening_diagrams_fit_whole_at_120_columns(tmp_path):
    """The first picture of lessons 1, 10, 11, 13, 14 and 16 (cut at 120x40 before) fits its pane with no
    sliding: a learner sees the whole diagram at the most common laptop terminal size."""
    app = NstutorApp("welcome", store_path=tmp_path / "p.db", snapshot_source=fixed(red_blue_cable()),
                     probes=False, catalog=CATALOG)
    async with app.run_test(size=(120, 40)) as pilot:
        for lesson_id in ("welcome", "netns-veth", "bridge", "docker", "pod", "real-pod"):
            if app.lesson_screen().lesson.id != lesson_id:
                app.open_lesson(lesson_id)
            screen = await open_lesson(pilot, app, lesson_id)
            first = next(f for f in screen.query(LessonFence) if f.step_id is None)
            need = cell_len(widest_line(first)[1]) + 1
            assert need <= first.scrollable_content_region.width and first.max_scroll_x == 0, \
                f"{lesson_id}: its first diagram needs {need} cells, the pane has {first.scrollable_content_region.width}"
