"""Small helpers for text people read: counts with the right plural, lists in words, and widths
measured in terminal cells.

A terminal shows East Asian wide characters (Korean, Chinese, Japanese) and most emoji in two
cells, so a column padded with str.ljust() by len() is one cell too wide per such character and
every column after it shifts. Tables for people pad with `pad()`, which counts cells (rich's own
measure, the one the app's tables use too).
"""
from __future__ import annotations

from typing import Iterable

from rich.cells import cell_len, set_cell_size

_ES = ("s", "x", "z", "ch", "sh")


def noun(n: int, one: str, many: str | None = None) -> str:
    """The noun for *n* things: noun(1, 'file') == 'file', noun(2, 'file') == 'files',
    noun(2, 'process') == 'processes'; *many* for the irregular ones."""
    if n == 1:
        return one
    return many or (one + "es" if one.endswith(_ES) else one + "s")


def counted(n: int, one: str, many: str | None = None) -> str:
    """'1 learner', '2 learners', '0 files': the number and its noun."""
    return f"{n} {noun(n, one, many)}"


def words(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------- widths in cells
def cell_width(s: str) -> int:
    """How many terminal cells *s* takes (len() for ASCII, which is the common case and faster)."""
    return len(s) if s.isascii() else cell_len(s)


def fit(s: str, width: int) -> str:
    """*s* cut to at most *width* cells, ending in '…' when cut."""
    if width <= 0:
        return ""
    if cell_width(s) <= width:
        return s
    if s.isascii():
        return s[: width - 1] + "…"
    return set_cell_size(s, width - 1) + "…"      # (a wide character cut in half becomes a space)


def pad(s: str, width: int, right: bool = False) -> str:
    """*s* padded with spaces to *width* cells (left-aligned, or right-aligned with *right*);
    never cut: a longer *s* is returned as it is."""
    fill = " " * max(width - cell_width(s), 0)
    return fill + s if right else s + fill


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap at spaces, measured in cells; a word longer than a line stays whole
    (like textwrap.wrap with break_long_words=False, which counts characters, not cells)."""
    out: list[str] = []
    line, used = "", 0
    for word in text.split():
        w = cell_width(word)
        if line and used + 1 + w > width:
            out.append(line)
            line, used = "", 0
        line, used = (f"{line} {word}", used + 1 + w) if line else (word, w)
    if line:
        out.append(line)
    return out
