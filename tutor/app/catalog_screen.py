"""The catalog: every lesson in order, with its length, your progress, and whether it can run here."""
from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..lessons import Lesson
from ..texts import counted
from ..lessons.requirements import short_unmet
from ..elevate import how_to_run_as_root


def short_missing(lesson: Lesson) -> list[str]:
    """What is missing, in a word or two per item (the details pane says it in full)."""
    return [short_unmet(req) for req in lesson.unmet_requirements()]


def progress_cell(passed: int, total: int) -> Text:
    if total == 0:
        return Text("-", style="dim")
    if passed >= total:
        return Text(f"✔ {passed}/{total}", style="bold green")
    bar_len = 6
    filled = round(bar_len * passed / total)
    return Text.assemble(("█" * filled, "green"), ("░" * (bar_len - filled), "dim"), f" {passed}/{total}")


class CatalogScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", priority=True, tooltip="open the selected lesson (or click it)"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Vertical(id="catalog-body"):
            yield Static(id="catalog-banner", markup=False)
            yield DataTable(id="catalog", cursor_type="row", zebra_stripes=False)
            yield Static(id="lesson-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "nstutor"
        table = self.query_one("#catalog", DataTable)
        table.add_column("#", key="num")
        table.add_column("Lesson", key="title")
        table.add_column("Min", key="minutes")
        table.add_column("Progress", key="progress")
        table.add_column("Here", key="ready")
        for lesson in self.app.catalog.lessons:
            table.add_row(*self._cells(lesson), key=lesson.id)
        self._banner()
        table.focus()
        last = self.app.progress.last_lesson()
        if last:
            self.select_lesson(last)
        self._detail()

    def on_screen_resume(self) -> None:
        self.refresh_progress()

    def refresh_progress(self) -> None:
        table = self.query_one("#catalog", DataTable)
        for lesson in self.app.catalog.lessons:
            passed = self.app.progress.steps_passed(lesson)
            table.update_cell(lesson.id, "progress", progress_cell(passed, len(lesson.steps)))
        self._banner()
        self._detail()

    def _cells(self, lesson: Lesson) -> tuple:
        missing = short_missing(lesson)
        ready = Text("✔ ready", style="green") if not missing else Text("✘ " + ", ".join(missing), style="red")
        passed = self.app.progress.steps_passed(lesson)
        return (Text(f"{lesson.number:02d}", style="dim"), lesson.title, Text(str(lesson.minutes), justify="right"),
                progress_cell(passed, len(lesson.steps)), ready)

    def _banner(self) -> None:
        catalog = self.app.catalog
        done = sum(1 for l in catalog.lessons if l.steps and self.app.progress.steps_passed(l) >= len(l.steps))
        self.sub_title = f"{counted(len(catalog.lessons), 'lesson')} · {done} done"
        lines = []
        if os.geteuid() != 0:
            lines.append("Not running as root: you can read every lesson, but most checks cannot see inside "
                         "namespaces. Quit (q) and rerun: " + how_to_run_as_root("nstutor"))
        for problem in catalog.problems[:3]:
            lines.append(f"Lesson file problem: {problem}")
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

    def _detail(self) -> None:
        lesson = self.selected_lesson()
        detail = self.query_one("#lesson-detail", Static)
        if lesson is None:
            detail.update("No lessons found.")
            return
        text = Text()
        text.append(f"{lesson.title}", style="bold")
        text.append(f"   ({lesson.id}, {lesson.minutes} min, {counted(len(lesson.steps), 'step')})\n", style="dim")
        if lesson.summary:
            text.append(lesson.summary + "\n")
        missing = lesson.missing_requirements()
        if missing:
            text.append("Cannot be fully checked here: " + "; ".join(missing) + "\n", style="red")
        text.append("enter: open this lesson", style="dim")
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
