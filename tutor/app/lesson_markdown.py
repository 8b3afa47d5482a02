"""The lesson text: Textual's Markdown widget, with ```check fences drawn as step cards.

Markdown builds its blocks from the `BLOCKS` mapping; every fence goes through one class,
so `LessonFence` looks at the fence's info string: ```check becomes a `StepCard` (the
step's title, what is checked, its live state, hints shown, the solution once viewed),
any other fence stays highlighted code. The card's child gets its own id (not
`code-content`), so the stock fence restyling never overwrites it.
"""
from __future__ import annotations

import yaml
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownFence

from ..lessons.parse import markdown_parser
from .step_card import StepCard


def check_step_id(code: str) -> str | None:
    """The `id:` of a check block's YAML (None when it is not readable)."""
    try:
        data = yaml.safe_load(code)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and isinstance(data.get("id"), (str, int)):
        return str(data["id"])
    return None


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
        info = (token.info or "").strip().split(" ")[0]
        self.step_id = check_step_id(code) if info == "check" else None
        if info == "check":
            self.add_class("check-fence")

    def compose(self) -> ComposeResult:
        if self.step_id is not None:
            yield StepCard(self.step_id)
        else:
            yield from super().compose()


class LessonMarkdown(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": LessonFence}

    def __init__(self, markdown: str | None = None, **kwargs) -> None:
        super().__init__(markdown, parser_factory=markdown_parser, open_links=False, **kwargs)
