"""Small dialogs: confirm (reset), the solution of a step, the key help (?), and the learner's name."""
from __future__ import annotations

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ...i18n import N_, _
from ..keys import InLanguage
from ..widgets.inline_markdown import inline_text


class ConfirmScreen(InLanguage, ModalScreen[bool]):
    """Yes / no. Dismisses with True only on an explicit yes (y, or the Yes button)."""

    BINDINGS = [Binding("y", "answer(True)", N_("Yes")), Binding("n,escape", "answer(False)", N_("No"))]

    def __init__(self, title: str, body: str, yes: str | None = None, yes_variant: str = "error") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.body, self.yes, self.yes_variant = title, body, yes or _("Yes"), yes_variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant=self.yes_variant, id="yes")
                yield Button(_("No (n)"), variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ReadOnlyDialog(InLanguage, ModalScreen[None]):
    """A dialog that only shows something: its one button, and its close binding, dismiss it."""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class SolutionScreen(ReadOnlyDialog):
    """A step's solution. The solution is shell (verify-lesson runs it), so it is shown as
    highlighted shell, never as markdown: its `# comment` lines are comments, not headings.
    The title is the step's markdown title, rendered."""

    BINDINGS = [Binding("escape,enter,s,q", "close", N_("Close"))]

    def __init__(self, title: str, solution: str, dark: bool = True, already: tuple[str, ...] = ()) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.solution, self.dark = title, solution, dark
        # what this step asks that the machine already shows: the solution's line that makes it again
        # answers "File exists" (a learner who made the bridge, then mistyped its address, stops there)
        self.already = already

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(_("Solution: ")).append_text(inline_text(self.title_text)), classes="dialog-title",
                         markup=False)
            code = self.solution.rstrip() or _("(this step has no solution text)")
            yield Static(Syntax(code, "bash", theme="ansi_dark" if self.dark else "ansi_light",
                                background_color="default", word_wrap=True), classes="dialog-body")
            if self.already:
                yield Static(already_note(self.already), classes="dialog-note", markup=False)
            yield Static(_("Type these in your shell (! opens one). Viewing the solution is recorded in "
                           "your progress."), classes="dialog-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Close (esc)"), variant="primary", id="close")


def already_note(already: tuple[str, ...]) -> Text:
    """The note under a solution that says which parts of the step are already right."""
    note = Text(_("Already right on your machine: "), style="bold")
    note.append("; ".join(already))
    note.append(_(". A line that makes one of these again says \"File exists\": harmless, go on with the next one."))
    return note


class HelpScreen(ReadOnlyDialog):
    """The keys of the screen underneath, grouped: this screen's, then the app's."""

    BINDINGS = [Binding("escape,question_mark,q", "close", N_("Close"))]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]], about: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.sections, self.about = sections, about

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(_("Keys"), classes="dialog-title")
            with VerticalScroll(classes="help-scroll"):
                for title, keys in self.sections:
                    table = Table.grid(padding=(0, 2))
                    table.add_column(style="bold cyan", no_wrap=True)
                    table.add_column()
                    for key, what in keys:
                        table.add_row(key, what)
                    yield Static(Text(title, style="bold underline"), classes="help-section")
                    yield Static(table)
                if self.about:
                    yield Static(self.about, classes="dialog-note", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Close (esc)"), variant="primary", id="close")


class NameScreen(InLanguage, ModalScreen["str | None"]):
    """Asks once for the name the learner's progress exports carry. Enter keeps it (after the
    *check* callable, which returns why a name cannot be used, or None); Escape skips. The input
    has the focus, so every printable key (q included, the app's quit key elsewhere) is typed."""

    BINDINGS = [Binding("escape", "skip", N_("Skip"))]

    def __init__(self, check) -> None:
        super().__init__(classes="dialog-screen")
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(_("Your name"), classes="dialog-title")
            yield Static(_("nstutor keeps your progress on this machine. When your study group or instructor "
                           "collects progress exports, this name is how they will know yours. "
                           "You can change it later with: {command}").format(command="nstutor whoami NAME"),
                         classes="dialog-body")
            yield Input(placeholder=_("e.g. Ada Lovelace"), id="name-input", max_length=80)
            # A learner who does not expect a dialog presses q to quit, and sees it typed: say so.
            yield Static(_("Enter saves it. Esc skips it: you will not be asked again. Every key you type "
                           "here is part of the name, q too; Ctrl+C quits nstutor."), id="name-keys",
                         classes="dialog-note")
            yield Static("", id="name-problem", classes="dialog-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save (Enter)"), variant="primary", id="save")
                yield Button(_("Skip (Esc)"), id="skip")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        name = self.query_one(Input).value
        problem = self.check(name)
        if problem:
            self.query_one("#name-problem", Static).update(_("Cannot use that name: {problem}.").format(problem=problem))
            return
        self.dismiss(name)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._submit()
        else:
            self.dismiss(None)

    def action_skip(self) -> None:
        self.dismiss(None)
