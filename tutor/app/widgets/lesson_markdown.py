"""The lesson text: Textual's Markdown widget, with ```check fences drawn as step cards.

Markdown builds its blocks from the `BLOCKS` mapping; every fence goes through one class,
so `LessonFence` looks at the fence's info string: ```check becomes a `StepCard` (the
step's title, what is checked, its live state, hints shown, the solution once viewed),
any other fence stays highlighted code. The card's child gets its own id (not
`code-content`), so the stock fence restyling never overwrites it.

A code block (a diagram, a command) is never cut: a line is not wrapped or truncated, so the
lesson pane is made as wide as the lesson's widest block when the screen has the room
(`lesson_pane_width`), and a block still wider than the pane scrolls sideways: it shows a
scrollbar, and left/right in the lesson text slide the wide blocks in view (`LessonScroll`).
"""
from __future__ import annotations

import yaml
from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownFence

from ...lessons import safe_yaml
from ...lessons.parse import markdown_parser
from .step_card import StepCard


def check_step_id(code: str) -> str | None:
    """The `id:` of a check block's YAML (None when it is not readable)."""
    try:
        data, _node = safe_yaml.load(code)      # bounded, as the parser reads it (a bomb, deep nesting)
    except (yaml.YAMLError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("id"), (str, int)):
        return str(data["id"])
    return None


#: Cells the lesson pane needs beyond a block's widest line: its vertical scrollbar (1), the lesson
#: text's padding (1 + 1) and the code's own padding (1 + 1); keep in step with app.tcss.
PANE_OVERHEAD = 5
#: The lesson pane's share of a wide screen when no block needs more, and the live panel's least
#: width (the larger of the two numbers) when one does: the panel is what the learner watches.
PANE_SHARE = 0.55
PANEL_MIN_CELLS, PANEL_MIN_SHARE = 48, 0.40


def is_check(info: str | None) -> bool:
    return (info or "").strip().split(" ")[0] == "check"


def widest_block(markdown: str) -> int:
    """The widest line (in terminal cells) of the lesson's code blocks, step cards aside."""
    widest = 0
    for token in markdown_parser().parse(markdown or ""):
        if token.type in ("fence", "code_block") and not is_check(token.info):
            widest = max([widest] + [cell_len(line) for line in token.content.splitlines()])
    return widest


def lesson_pane_width(screen_width: int, widest: int) -> int:
    """The lesson pane's width beside the live panel: its usual share, more when a code block needs
    it, but never so much that the panel gets less than its minimum (then the block scrolls)."""
    usual = round(screen_width * PANE_SHARE)
    most = screen_width - max(PANEL_MIN_CELLS, round(screen_width * PANEL_MIN_SHARE))
    return max(usual, min(widest + PANE_OVERHEAD, most))


class LessonScroll(VerticalScroll):
    """The lesson text's scroll area: up/down move the text, left/right slide the code blocks in
    view that are wider than the pane (each keeps its own scroll position)."""

    def wide_blocks_in_view(self) -> list["LessonFence"]:
        view = self.scrollable_content_region
        return [fence for fence in self.query(LessonFence)
                if fence.max_scroll_x > 0 and fence.region.overlaps(view)]

    def _slide(self, direction: int) -> None:
        blocks = self.wide_blocks_in_view()
        for fence in blocks:
            step = max(8, fence.scrollable_content_region.width // 2)
            fence.scroll_relative(x=direction * step, animate=False)

    def action_scroll_left(self) -> None:
        self._slide(-1)

    def action_scroll_right(self) -> None:
        self._slide(+1)


class LessonFence(MarkdownFence):
    """A fence: a step card for ```check, highlighted code otherwise."""

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        # A check block is never shown as code: skip the (costly, repeated on restyle) highlighting.
        if (language or "").strip().startswith("check"):
            return Content(code)
        return super().highlight(code, language, ansi=ansi, dark=dark)

    def __init__(self, markdown, token, code: str) -> None:
        super().__init__(markdown, token, code)
        self.step_id = check_step_id(code) if is_check(token.info) else None
        if is_check(token.info):
            self.add_class("check-fence")

    def compose(self) -> ComposeResult:
        if self.step_id is not None:
            yield StepCard(self.step_id)
        else:
            yield from super().compose()


class LessonMarkdown(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": LessonFence, "code_block": LessonFence}

    def __init__(self, markdown: str | None = None, **kwargs) -> None:
        super().__init__(markdown, parser_factory=markdown_parser, open_links=False, **kwargs)
