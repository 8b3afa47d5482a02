"""Small helpers for text people read: counts with the right plural, lists in words, widths
measured in terminal cells, and a command-line pattern said as the command it stands for
(`^sleep 1013$` is `sleep 1013`: regex syntax is the lesson author's, not the learner's).

A terminal shows East Asian wide characters (Korean, Chinese, Japanese) and most emoji in two
cells, so a column padded with str.ljust() by len() is one cell too wide per such character and
every column after it shifts. Tables for people pad with `pad()`, which counts cells (rich's own
measure, the one the app's tables use too).
"""
from __future__ import annotations

from typing import Iterable

from rich.cells import cell_len, set_cell_size

try:                                    # Python 3.11+
    from re import _constants as _sre_c, _parser as _sre_p
except ImportError:                     # pragma: no cover - Python 3.10
    import sre_constants as _sre_c      # type: ignore[no-redef]
    import sre_parse as _sre_p          # type: ignore[no-redef]

_ES = ("s", "x", "z", "ch", "sh")


def noun(n: int, one: str, many: str | None = None) -> str:
    """The noun for *n* things: noun(1, 'file') == 'file', noun(2, 'file') == 'files',
    noun(2, 'process') == 'processes'; *many* for the irregular ones."""
    if n == 1:
        return one
    return many or (one + "es" if one.endswith(_ES) else one + "s")


def counted(n: int, one: str, many: str | None = None) -> str:
    """'1 learner', '2 learners', '0 files': the number and its noun. English only: a text that is
    translated counts with i18n.ngettext("{n} file", "{n} files", n).format(n=n) instead."""
    return f"{n} {noun(n, one, many)}"


def words(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c' (in Korean 'a, b, c': a particle after a name would depend on
    how the name ends, so the translation lists without one)."""
    from .i18n import _
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def or_words(items: Iterable[str]) -> str:
    """'a', 'a or b', 'a or b or c': alternatives, each of which would do."""
    from .i18n import _
    return _(" or ").join(items)


# --------------------------------------------------------------- widths in cells
# Bidi controls (embeddings, overrides, isolates, marks): they reorder what follows on screen, so a
# name holding one can make a line say something it does not (Trojan Source).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe_text(s: str, keep: str = "") -> str:
    """*s* (text someone else wrote: a learner's export) made harmless to print: control characters
    (ANSI/OSC escapes start with ESC), bidi controls and lone surrogates (which no terminal or file
    can encode) are shown as Python-style escapes (\\x1b, \\u202e, \\ud800); characters in *keep*
    (e.g. newline, in a page) stay. Text without any is returned as it is."""
    if s.isprintable() and s.isascii():
        return s
    out = []
    for char in s:
        code = ord(char)
        if char in keep or not (code < 0x20 or 0x7f <= code < 0xa0 or char in _BIDI or 0xd800 <= code < 0xe000):
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def csv_cell(value):
    """A cell for a CSV file a spreadsheet will open: text starting with = + - @, a tab or a carriage
    return is a formula there (=HYPERLINK(...)), so it gets a leading apostrophe (as OWASP advises on
    CSV injection). A carriage return inside becomes a newline: Python's csv writer quotes a cell with
    a newline but not one with a lone CR, which a reader then takes for the end of the row. Numbers
    and other values stay as they are."""
    if not isinstance(value, str):
        return value
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


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


# --------------------------------------------------------------- a pattern as the command it stands for
MORE = "…"
_MAX_CHOICES = 4
_BEGIN = {_sre_c.AT_BEGINNING, _sre_c.AT_BEGINNING_STRING}
_END = {_sre_c.AT_END, _sre_c.AT_END_STRING}


def command_words(pattern: str) -> str | None:
    """A cmdline pattern as the command(s) it stands for: "`sleep 1001`", "`app-a …`",
    "`… nstutor pause` or `… -m tutor.pause`"; None for a pattern that is more than that."""
    choices = _commands(pattern)
    return or_words(f"`{c}`" for c in choices) if choices else None


def _commands(pattern: str) -> list[str] | None:
    try:
        items = list(_sre_p.parse(pattern))
    except Exception:  # noqa: BLE001 - an invalid pattern is lint's business; here it is just shown
        return None
    begins = bool(items) and items[0][0] == _sre_c.AT and items[0][1] in _BEGIN
    ends = bool(items) and items[-1][0] == _sre_c.AT and items[-1][1] in _END
    middle = items[int(begins):len(items) - int(ends)]
    texts = _texts(middle)
    if not texts:
        return None
    out = []
    for text in texts:
        text = text.strip()
        if not text:
            return None
        out.append(("" if begins else f"{MORE} ") + text + ("" if ends else f" {MORE}"))
    return list(dict.fromkeys(out))


def _texts(items) -> list[str] | None:
    """The literal strings a sequence of parsed regex items stands for (optional parts left out),
    or None when it holds anything but literals, groups, alternations and optional parts."""
    out = [""]
    for op, arg in items:
        if op == _sre_c.LITERAL:
            choices = [chr(arg)]
        elif op == _sre_c.SUBPATTERN:
            choices = _texts(arg[-1])
        elif op == _sre_c.BRANCH:
            choices = []
            for alternative in arg[1]:
                sub = _texts(alternative)
                if sub is None:
                    return None
                choices += sub
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and arg[0] == 0 and arg[1] == 1:
            choices = [""]                  # an optional part: the command without it
        else:
            return None
        if choices is None:
            return None
        out = [a + b for a in out for b in choices]
        if len(out) > _MAX_CHOICES:
            return None
    return out
