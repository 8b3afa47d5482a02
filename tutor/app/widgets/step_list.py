"""The step list: one line per step with its state; under a failing step, why it fails.

An OptionList, so arrows, j/k and the mouse all move the selection, and the selected step
is the one h (hint) and s (solution) act on: the step in front of the learner. Its line
starts with a marker (▶) and is drawn in the list's cursor style even when the list does
not have the focus (.tcss), so it is plain which step the keys will act on. Every failing expectation's message is shown
under the selected step and under any step that broke again after passing.
Only the options whose text changed are replaced on each live round.
"""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...i18n import N_, _
from ..keys import InLanguage
from .inline_markdown import inline_text
from ..state import ICONS, LessonState, Status, StepState

STYLES = {Status.UNCHECKED: "dim", Status.PASSED: "bold green", Status.FAILING: "bold red",
          Status.BROKEN: "bold red"}
FRONT_MARK = "▶ "        # the step in front; the other lines start with as many blanks
WHY = "      ↳ "            # a failing expectation's line; its wrapped lines are indented as far


def step_prompt(number: int, state: StepState, detail: bool, width: int = 0, console=None) -> Text:
    """One step's line; *detail*: it is the step in front (marked, and why it fails, one line per
    failing expectation; a step that broke again always says why). With *width* (and the
    *console* that measures cells), a long reason wraps under itself, not at the left edge."""
    status = state.status
    text = Text()
    text.append(FRONT_MARK if detail else " " * len(FRONT_MARK), style="bold")
    text.append(f"{ICONS[status]} ", style=STYLES[status])
    text.append(f"{number}. ", style="dim")
    title = inline_text(state.step.title, base_style="green" if status is Status.PASSED else "")
    extras = []
    if status is Status.BROKEN:
        extras.append(_("broken again"))
    if state.hints_shown:
        extras.append(_("hint {shown}/{total}").format(shown=state.hints_shown, total=len(state.step.hints)))
    if state.solution_viewed:
        extras.append(_("solution viewed"))
    if extras:
        title.append(f"  ({', '.join(extras)})", style="dim italic")
    # a title too long for the line wraps under itself, not under the marker and the number
    text.append_text(_hanging(title, width - text.cell_len, console, text.cell_len))
    if detail or status is Status.BROKEN:
        for message in state.failures:
            text.append("\n" + WHY, style="red")
            text.append_text(_hanging(Text(message, style="yellow"), width - len(WHY), console, len(WHY)))
    return text


def _hanging(text: Text, width: int, console, indent: int) -> Text:
    """*text* wrapped to *width* cells, its continuation lines *indent* cells in: under its first.
    (A failure reason is what the kernel showed: literal, never markdown.)"""
    if console is None or width < 20:
        return text
    lines = text.wrap(console, width)
    return Text("\n" + " " * indent).join(lines)


class StepList(InLanguage, OptionList):
    BINDINGS = [Binding("j", "cursor_down", N_("Next step"), show=False),
                Binding("k", "cursor_up", N_("Previous step"), show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._texts: list[str] = []
        self._shown: tuple[LessonState, str | None] | None = None
        self._width = 0

    def show_state(self, state: LessonState, selected: str | None) -> None:
        self._shown = (state, selected)
        states = state.ordered()
        width = self._width = self.scrollable_content_region.width
        prompts = [step_prompt(i, s, s.step.id == selected, width, self.app.console)
                   for i, s in enumerate(states, 1)]
        texts = [p.markup for p in prompts]
        if len(texts) != len(self._texts):
            highlighted = self.highlighted
            self.set_options(Option(p, id=s.step.id) for p, s in zip(prompts, states))
            if highlighted is not None and highlighted < len(texts):
                self.highlighted = highlighted
        else:
            for i, (old, new) in enumerate(zip(self._texts, texts)):
                if old != new:
                    self.replace_option_prompt_at_index(i, prompts[i])
        self._texts = texts

    def on_resize(self) -> None:
        """The reasons were wrapped for the old width: wrap them again."""
        if self._shown is not None and self.scrollable_content_region.width != self._width:
            self.show_state(*self._shown)

    def select_step(self, step_id: str | None) -> None:
        """Highlight *step_id*; None highlights none (no step is in front)."""
        if step_id is None:
            self.highlighted = None
            return
        try:
            self.highlighted = self.get_option_index(step_id)
        except Exception:  # noqa: BLE001 - an unknown id just leaves the selection alone
            pass

    @property
    def selected_id(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None
