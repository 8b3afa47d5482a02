"""A step card: what a ```check block looks like in the lesson text.

Instead of the YAML, the learner sees the step as a card: its number and title, each
expectation in words with a live tick or cross, why a failing one fails (and what to
try), the hints revealed so far, the solution once viewed, and the step's closing
explanation once it passes. The card's border colour follows the step's state.
"""
from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Static

from ...i18n import _
from .inline_markdown import CODE_STYLE, CODE_STYLE_LIGHT, inline_text
from ...checks.runner import Reasons
from ..state import Status, StepState, failure_text

def status_words(status: Status) -> str:
    """A card's status line, in the app's language."""
    return {Status.UNCHECKED: _("checking…"), Status.PASSED: _("✔ passed"), Status.FAILING: _("✘ not yet"),
            Status.BROKEN: _("✘ broken again")}[status]
STATE_CLASSES = {s: f"-{s.value}" for s in Status}
SOLUTION_INDENT = 4       # a solution's commands; a command too long for the card goes on 2 further in
REASON_INDENT = 6         # why an expectation fails, under it


class Hanging:
    """*prefix* then *body*, wrapped to the card's width with every continuation line *indent*
    cells in (default: under the body's first character), so a wrapped line stays under the
    text it continues and nothing is cut at the card's border."""

    def __init__(self, prefix: Text | str, body: Text, indent: int | None = None) -> None:
        self.prefix = Text(prefix) if isinstance(prefix, str) else prefix
        self.body = body
        self.indent = cell_len(self.prefix.plain) if indent is None else indent

    def __rich_console__(self, console, options):
        first = cell_len(self.prefix.plain)
        room = max(options.max_width - max(first, self.indent), 8)
        # wrapped whatever the body says (a highlighted command comes marked no_wrap), long words folded
        lines = self.body.wrap(console, room, no_wrap=False, overflow="fold") if self.body.plain else [Text()]
        out = [self.prefix + lines[0]] + [Text(" " * self.indent) + line for line in lines[1:]]
        yield Text("\n").join(out)


class StepCard(Static):
    """Painted by the lesson screen (paint_card) when mounted and whenever its step changes."""

    def __init__(self, step_id: str) -> None:
        super().__init__("", id=f"card-{step_id}", classes="step-card", markup=False)
        self.step_id = step_id
        self.border_title = _("step {step}").format(step=step_id)

    def on_mount(self) -> None:
        painter = getattr(self.screen, "paint_card", None)
        if painter is not None:
            painter(self)

    def paint(self, state: StepState | None, number: int, selected: bool, dark: bool = True) -> None:
        """Draw the card for *state*; *selected*: the step the keys (h, s) act on."""
        for cls in STATE_CLASSES.values():
            self.remove_class(cls)
        if state is None:
            self.border_title = _("step {step}").format(step=self.step_id)
            self.update(Text(_("(no step '{step}' in this lesson: a check block nstutor could not read)").format(
                step=self.step_id), style="italic"))
            return
        self.add_class(STATE_CLASSES[state.status])
        self.set_class(selected, "-current")
        self.border_title = _("Step {number}").format(number=number)
        self.border_subtitle = status_words(state.status)
        self.update(card_body(state, selected, dark))


def card_body(state: StepState, selected: bool, dark: bool = True) -> Group:
    step = state.step
    code = CODE_STYLE if dark else CODE_STYLE_LIGHT       # the author's `code` in hints, titles, explanations
    parts: list = [inline_text(step.title, code_style=code, base_style="bold")]
    verdicts = state.result.verdicts if state.result else ()
    said = Reasons()              # several expectations can fail for one reason: say it once
    for i, exp in enumerate(step.expectations):
        verdict = verdicts[i] if i < len(verdicts) else None
        mark = Text("  ")
        if verdict is None:
            mark.append("… ", style="dim")
        elif verdict.passed:
            mark.append("✔ ", style="green")
        else:
            mark.append("✘ ", style="red")
        parts.append(Hanging(mark, Text(verdict.expected if verdict else exp.describe())))
        warn = "yellow" if dark else "dark_orange3"
        if verdict is not None and not verdict.passed:
            reason = failure_text(verdict)
            parts.append(Hanging(" " * REASON_INDENT, Text(_("(the same reason as above)"), style="dim")
                                 if said.repeats(reason) else Text(reason, style=warn)))
        elif verdict is not None:
            # right, but a near miss of the learner's sits beside it: say so, with its removal
            for stray in verdict.strays:
                parts.append(Hanging(" " * REASON_INDENT,
                                     Text(_("beside it: {what}; remove it with: {command}").format(
                                         what=stray.what, command=stray.command), style=warn)))
    for n, hint in enumerate(state.hints, 1):
        parts.append(Hanging(Text.assemble(("  " + _("Hint") + " ", "bold cyan"), (f"{n}: ", "bold cyan")),
                             inline_text(hint, code_style=code)))
    if state.solution_viewed and step.solution:
        parts.append(Text("  " + _("Solution:"), style="bold magenta"))
        parts += solution_lines(step.solution, dark)
    if state.passed and step.explain:
        parts.append(Hanging("  ", inline_text(step.explain, code_style=code, base_style="italic green")))
    if selected and not state.passed:
        keys = [_("h hint")] if state.hints_left else []
        if step.solution and not state.solution_viewed:
            keys.append(_("s solution"))
        keys.append(_("c check now"))
        parts.append(Text("  " + " · ".join(keys), style="dim"))
    return Group(*parts)


def solution_lines(solution: str, dark: bool = True) -> list[Hanging]:
    """The solution's commands, highlighted, one per line: a command wider than the card wraps
    (never cut: a learner copies it), its continuation 2 cells further in than the commands."""
    syntax = Syntax("", "bash", theme="ansi_dark" if dark else "ansi_light", background_color="default")
    highlighted = syntax.highlight(solution.rstrip())
    highlighted.rstrip()
    lines = highlighted.split("\n")
    return [Hanging(" " * SOLUTION_INDENT, line, indent=SOLUTION_INDENT + 2) for line in lines]

