"""Lesson authors write hints, explanations and messages in markdown (`code`, **bold**, *italic*):
this turns one such line into a rich Text, so a hint in a notice or a step card shows
`ip netns add hello` as a styled command, not with its backticks.

Only inline markdown: hints are a sentence or two. Block syntax (a leading `#`, a list
dash) is left as it is written, because a hint that starts with `# ` is more likely a shell
comment than a heading. Styles are rich style strings, chosen by the caller for its theme.
"""
from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from rich.style import Style
from rich.text import Text

CODE_STYLE = "bold cyan"
CODE_STYLE_LIGHT = "bold dark_cyan"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # commonmark without raw HTML: a `<dev>` in a hint is text, not a tag to drop
    return MarkdownIt("commonmark", {"html": False})


def inline_text(source: str, code_style: str = CODE_STYLE, base_style: str = "") -> Text:
    """*source* (inline markdown) as a Text: code spans in *code_style*, bold, italic, links as
    their text. Newlines in *source* are kept (a softbreak is a line break to the learner)."""
    text = Text(style=base_style)
    for n, line in enumerate(source.split("\n")):
        if n:
            text.append("\n")
        _append_line(text, line, code_style)
    return text


def _append_line(text: Text, line: str, code_style: str) -> None:
    if not line.strip():
        text.append(line)
        return
    lead = line[: len(line) - len(line.lstrip())]       # the parser drops leading blanks: keep them
    text.append(lead)
    tokens = _parser().parseInline(line.strip())
    children = tokens[0].children if tokens and tokens[0].children else []
    styles: list[Style | str] = []
    for token in children:
        kind = token.type
        if kind == "text":
            text.append(token.content, style=_combined(styles))
        elif kind == "code_inline":
            text.append(token.content, style=_combined(styles + [code_style]))
        elif kind in ("softbreak", "hardbreak"):
            text.append("\n")
        elif kind == "strong_open":
            styles.append("bold")
        elif kind == "em_open":
            styles.append("italic")
        elif kind == "link_open":
            styles.append("underline")
        elif kind in ("strong_close", "em_close", "link_close"):
            if styles:
                styles.pop()
        elif kind == "image":
            text.append(token.content, style=_combined(styles))
        else:                                             # html_inline (off), anything new: as written
            text.append(token.content, style=_combined(styles))
    trail = line[len(line.rstrip()):]
    text.append(trail)


def _combined(styles: list) -> str:
    return " ".join(str(s) for s in styles)
