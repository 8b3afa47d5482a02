"""The catalog: every lesson in order, with its length, your progress, and whether it can run here.
The lessons of a pack (tutor/lessons/packs.py) follow the shipped ones under a row naming the pack,
its version and where it comes from; the details pane says whether it is trusted to run shell.

The table never cuts a cell and never puts a column off-screen. As the terminal narrows it gives
things up in this order (`catalog_layout`), each still said in full in the details pane below:

1. "Here" shows only ✔ or ✘ (not "ready" or what is missing),
2. the minutes column goes,
3. the progress bar goes (the steps done, "2/3", stay),
4. titles wrap at word boundaries (a row gets taller).

So 120 columns show everything; 80 show number, title, progress bar and ✔/✘; 60 show number,
title (some on two lines), steps done and ✔/✘.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ...lessons import Lesson
from ...lessons.requirements import short_unmet
from ...elevate import how_to_run_as_root
from ...i18n import N_, _, ngettext
from ..keys import InLanguage
from ..widgets.notices import NoticeBar


PACK_ROW = "pack:"      # the key of a pack's row (a lesson id never has a ':')


def short_missing(lesson: Lesson) -> list[str]:
    """What is missing, in a word or two per item (the details pane says it in full)."""
    return [short_unmet(req) for req in lesson.unmet_requirements()]


def progress_cell(passed: int, total: int, bar: bool = True) -> Text:
    if total == 0:
        return Text("-", style="dim")
    if passed >= total:
        return Text(f"✔ {passed}/{total}", style="bold green")
    if not bar:
        return Text(f"{passed}/{total}")
    bar_len = 6
    filled = round(bar_len * passed / total)
    return Text.assemble(("█" * filled, "green"), ("░" * (bar_len - filled), "dim"), f" {passed}/{total}")


def ready_cell(missing: list[str], full: bool = True) -> Text:
    if not missing:
        return Text("✔ " + _("ready") if full else "✔", style="green")
    return Text("✘ " + ", ".join(missing) if full else "✘", style="red")


def wrap_words(text: str, width: int) -> list[str]:
    """*text* in lines of at most *width* cells, broken between words (a word longer than a line
    gets a line of its own, cut only if it is longer than *width* itself)."""
    lines: list[str] = []
    for word in text.split():
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


@dataclass(frozen=True)
class CatalogLayout:
    here_in_words: bool       # "✔ ready" / "✘ not root" rather than ✔ / ✘
    minutes: bool
    bar: bool                 # the progress bar before "2/3"
    title_width: int          # titles longer than this wrap

    def columns(self) -> list[tuple[str, str]]:
        """(key, header) of the columns shown."""
        cols = [("num", "#"), ("title", _("Lesson"))]
        if self.minutes:
            cols.append(("minutes", _("Min")))
        cols += [("progress", _("Progress") if self.bar else _("Steps")), ("ready", _("Here"))]
        return cols


def catalog_layout(lessons: list[tuple[str, int, Text, Text]], width: int, padding: int = 1) -> CatalogLayout:
    """The richest layout whose columns fit *width* cells: *lessons* are (title, minutes,
    progress cell with the bar, ready cell in words), to measure what each column needs."""
    def need(header: str, cells: list[str]) -> int:
        return max([cell_len(header)] + [cell_len(c) for c in cells]) + 2 * padding

    titles = [t for t, _m, _p, _r in lessons]
    num = need("#", ["00"])
    title = need(_("Lesson"), titles)
    minutes = need(_("Min"), [str(m) for _t, m, _p, _r in lessons])
    bar = need(_("Progress"), [p.plain for _t, _m, p, _r in lessons])
    steps = need(_("Steps"), [p.plain.split(" ")[-1] if not p.plain.startswith("✔") else p.plain
                              for _t, _m, p, _r in lessons])
    words = need(_("Here"), [r.plain for _t, _m, _p, r in lessons])
    mark = need(_("Here"), ["✔"])
    longest = title - 2 * padding
    for layout, rest in ((CatalogLayout(True, True, True, longest), num + minutes + bar + words),
                         (CatalogLayout(False, True, True, longest), num + minutes + bar + mark),
                         (CatalogLayout(False, False, True, longest), num + bar + mark),
                         (CatalogLayout(False, False, False, longest), num + steps + mark)):
        if rest + title <= width:
            return layout
    room = max(width - num - steps - mark - 2 * padding, cell_len(_("Lesson")), 12)
    return CatalogLayout(False, False, False, room)


class CatalogTable(InLanguage, DataTable):
    """The lessons' table, which keeps the selected row in view when it gets shorter (the details
    pane below grows for a lesson with more to say). Home and End go to the first and last lesson
    (the stock table scrolls sideways on them)."""

    BINDINGS = [Binding("home", "scroll_top", N_("First lesson"), show=False),
                Binding("end", "scroll_bottom", N_("Last lesson"), show=False)]

    def on_resize(self, event) -> None:
        if self.row_count:
            self.move_cursor(row=self.cursor_row, scroll=True)


class CatalogScreen(InLanguage, Screen):
    BINDINGS = [
        Binding("enter", "open", N_("Open"), priority=True, tooltip=N_("open the selected lesson (or click it)")),
        Binding("j", "cursor(1)", N_("Down"), show=False),
        Binding("k", "cursor(-1)", N_("Up"), show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Vertical(id="catalog-body"):
            yield Static(id="catalog-banner", markup=False)
            yield CatalogTable(id="catalog", cursor_type="row", zebra_stripes=False)
            yield NoticeBar(id="notices")          # notices take rows of their own: no toast over the table
            with VerticalScroll(id="lesson-detail"):     # scrolls when a lesson says more than its room
                yield Static(id="lesson-detail-text")
        yield Footer()

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """The catalog's notices go to its notice line under the table, as the lesson screen's do
        (widgets/notices.py): a toast would be drawn over the lessons' table. *markup* is ignored."""
        bars = self.query(NoticeBar)
        if not bars:            # being built or taken down: a toast is better than nothing
            self.app.notify(message, title=title, severity=severity, timeout=timeout or 5.0, markup=False)
            return
        bars.first().post(message, title=title, severity=severity, timeout=timeout or 5.0)

    columns_shown: CatalogLayout | None = None       # the layout the table is built for

    def on_mount(self) -> None:
        self.title = "nstutor"
        table = self.query_one("#catalog", DataTable)
        self._fill(self.app.size.width)
        self._banner()
        table.focus()
        last = self.app.progress.last_lesson()
        if last:
            self.select_lesson(last)
        self._detail()

    def on_screen_resume(self) -> None:
        self.refresh_progress()

    def on_resize(self, event) -> None:
        self._fill(event.size.width)

    def _fill(self, screen_width: int) -> None:
        """(Re)build the table's columns and rows for the layout that fits *screen_width*."""
        table = self.query_one("#catalog", DataTable)
        lessons = self.app.catalog.lessons
        measures = [(l.title, l.minutes, self._progress(l, bar=True), ready_cell(short_missing(l))) for l in lessons]
        # the vertical scrollbar's room is kept even when all rows fit: a banner can take rows later
        width = screen_width - table.styles.scrollbar_size_vertical
        layout = catalog_layout(measures, width, table.cell_padding)
        if layout == self.columns_shown:
            return
        selected = self.selected_lesson() if self.columns_shown is not None else None
        self.columns_shown = layout
        table.clear(columns=True)
        for key, header in layout.columns():
            table.add_column(header, key=key)
        shown_pack = None
        for lesson in lessons:
            if lesson.pack is not None and lesson.pack.name != shown_pack:
                shown_pack = lesson.pack.name
                self._pack_row(table, lesson.pack, layout)
            cells = self._cells(lesson, layout)
            title = cells[1]
            table.add_row(*cells, key=lesson.id, height=len(title.plain.splitlines()) or 1)
        if selected is not None:
            self.select_lesson(selected.id)

    def _pack_row(self, table: DataTable, pack, layout: CatalogLayout) -> None:
        """The row above a pack's lessons: its name, version and source (not a lesson: enter does nothing)."""
        version = f" {pack.version}" if pack.version else ""
        words = _("pack {pack}").format(pack=f"{pack.name}{version}") + f" · {pack.source}"
        title = "\n".join(wrap_words(words, layout.title_width))
        cells = [Text("▸", style="bold"), Text(title, style="bold")]
        cells += [Text("")] * (len(layout.columns()) - 2)
        table.add_row(*cells, key=PACK_ROW + pack.name, height=len(title.splitlines()) or 1)

    def refresh_progress(self) -> None:
        table = self.query_one("#catalog", DataTable)
        for lesson in self.app.catalog.lessons:
            table.update_cell(lesson.id, "progress", self._progress(lesson, self.columns_shown.bar))
        self._banner()
        self._detail()

    def _progress(self, lesson: Lesson, bar: bool) -> Text:
        return progress_cell(self.app.progress.steps_passed(lesson), len(lesson.steps), bar)

    def _cells(self, lesson: Lesson, layout: CatalogLayout) -> tuple:
        title = "\n".join(wrap_words(lesson.title, layout.title_width))
        cells = [Text(f"{lesson.number:02d}", style="dim"), Text(title)]
        if layout.minutes:
            cells.append(Text(str(lesson.minutes), justify="right"))
        cells += [self._progress(lesson, layout.bar), ready_cell(short_missing(lesson), layout.here_in_words)]
        return tuple(cells)

    def _banner(self) -> None:
        catalog = self.app.catalog
        done = sum(1 for l in catalog.lessons if l.steps and self.app.progress.steps_passed(l) >= len(l.steps))
        self.sub_title = ngettext("{count} lesson · {done} done", "{count} lessons · {done} done",
                                  len(catalog.lessons)).format(count=len(catalog.lessons), done=done)
        lines = []
        if os.geteuid() != 0:
            lines.append(_("Not running as root: you can read every lesson, but most checks cannot see inside "
                           "namespaces. Quit (q) and rerun: {command}").format(command=how_to_run_as_root("nstutor")))
        for problem in catalog.problems[:3]:
            lines.append(_("Lesson file problem: {problem}").format(problem=problem))
        broken = [p.name for p in catalog.packs if p.problems]
        if broken:
            lines.append(ngettext("Pack {packs} has problems: see {command}", "Packs {packs} have problems: see {command}",
                                  len(broken)).format(packs=", ".join(broken), command="nstutor packs"))
        banner = self.query_one("#catalog-banner", Static)
        banner.update("\n".join(lines))
        banner.display = bool(lines)

    def selected_lesson(self) -> Lesson | None:
        table = self.query_one("#catalog", DataTable)
        if not table.row_count:
            return None
        row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.app.catalog.find(row.value)

    def select_lesson(self, lesson_id: str) -> None:
        table = self.query_one("#catalog", DataTable)
        try:
            table.move_cursor(row=table.get_row_index(lesson_id))
        except Exception:  # noqa: BLE001 - a lesson that is gone: leave the cursor
            pass

    def _selected_pack(self):
        table = self.query_one("#catalog", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        return self.app.catalog.pack(key[len(PACK_ROW):]) if key.startswith(PACK_ROW) else None

    def _pack_detail(self, loaded) -> Text:
        from ...lessons.trust import pack_state
        pack = loaded.pack
        text = Text()
        text.append(_("Pack {pack}").format(pack=pack.described()), style="bold")
        text.append("  " + ngettext("({count} lesson)", "({count} lessons)", len(loaded.lesson_ids)).format(
            count=len(loaded.lesson_ids)) + "\n", style="dim")
        text.append(f"{pack.directory}\n", style="dim")
        state = pack_state(pack)
        if state.trusted:
            text.append(_("Trusted: its setup and cleanup scripts run when you ask for them.") + "\n", style="green")
        else:
            text.append(_("Its checks run; its shell (setup, cleanup scripts) does not: {state}. To trust it, "
                          "quit and run: {command}").format(state=state.words(), command=f"nstutor trust {pack.name}")
                        + "\n", style="yellow")
        return text

    def _detail(self) -> None:
        lesson = self.selected_lesson()
        detail = self.query_one("#lesson-detail-text", Static)
        if lesson is None:
            loaded = self._selected_pack()
            detail.update(self._pack_detail(loaded) if loaded is not None else _("No lessons found."))
            return
        text = Text()
        text.append(f"{lesson.title}", style="bold")
        text.append("   ({id}, {minutes}, {steps})\n".format(
            id=lesson.id, minutes=_("{minutes} min").format(minutes=lesson.minutes),
            steps=ngettext("{count} step", "{count} steps", len(lesson.steps)).format(count=len(lesson.steps))),
            style="dim")
        if lesson.summary:
            text.append(lesson.summary + "\n")
        if lesson.pack is not None:
            from ...lessons.trust import pack_state
            text.append(_("From pack {pack} ({state})").format(
                pack=f"{lesson.pack.name} {lesson.pack.version}".strip(), state=pack_state(lesson.pack).words())
                + "\n", style="dim")
        missing = lesson.missing_requirements()
        if missing:
            text.append(_("Cannot be fully checked here: {what}").format(what="; ".join(missing)) + "\n", style="red")
        text.append(_("enter: open this lesson"), style="dim")
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        lesson = self.app.catalog.find(event.row_key.value)
        if lesson is not None:
            self.app.open_lesson(lesson.id)

    def action_open(self) -> None:
        lesson = self.selected_lesson()
        if lesson is not None:
            self.app.open_lesson(lesson.id)

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#catalog", DataTable)
        if delta > 0:
            table.action_cursor_down()
        else:
            table.action_cursor_up()
