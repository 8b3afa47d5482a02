"""How the live panel lays out text: styles, cell-exact fitting and wrapping, and the table engine.

Data and rendering stay apart, the way rich does it: a table view (one module each in this
package) turns a snapshot into `Section`s of `Row`s (stable keys, plain string cells, a base
style per cell), and `render_table` lays them out in the panel's width and marks what changed
since the previous table of the same view, like `watch -d`: a new row, and a changed cell, are
shown reversed; a row that disappeared is shown once, struck through. Rows of the lesson (its
focus) carry a "▸" in the left gutter and are bold.

A table draws about `Table.max_rows` (300) rows: on a host with 200 containers the rest is summed
up in one line, but the lesson's rows and changed rows always show.

This is not observe/render.format_table's job: that one prints a snapshot as plain lines for
`nstutor snapshot` (no styles, no previous snapshot, no focus, nothing dropped to fit), and its
output is what scripts and the CLI tests read. This one draws a rich Text for a panel that
changes every second. Both measure in cells with tutor.texts.

Nothing here knows a view, a snapshot or a lesson: the views import this module, never the other
way round. The topology and processes views draw their own pictures with `TextBuilder` and the
styles below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

from rich.cells import cell_len
from rich.text import Span, Text

from ...i18n import _
from ...texts import cell_width as text_width, fit, pad

# --------------------------------------------------------------- styles
STATE_STYLES = {"UP": "green", "DOWN": "red", "LOWERLAYERDOWN": "yellow", "NO-CARRIER": "yellow", "DORMANT": "yellow",
                "NOTPRESENT": "red"}
CHANGED = "reverse"              # a new row, or a changed cell (watch -d)
REMOVED = "dim strike"           # a row that was there in the previous snapshot
FOCUS_ROW = "bold"
FOCUS_MARK = "▸ "
TITLE = "bold"
FOCUS_TITLE = "bold cyan"
HEADER = "bold dim"
NOTE = "dim"
GAP = 2                          # spaces between columns


def state_style(state: str) -> str:
    return STATE_STYLES.get(state, "")


# --------------------------------------------------------------- text fitting
def clean(s: str) -> str:
    """Control characters (a command line may hold any byte) shown as '?', so they cannot drive the terminal."""
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else "?" for ch in s)


class TextBuilder:
    """Builds one rich Text from pieces: much faster than Text.append for thousands of cells.

    Pieces are joined once and styles become spans (character offsets), which is what Text keeps
    inside anyway. Callers pass text that is already clean (see `clean`)."""

    __slots__ = ("parts", "spans", "pos")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0

    def add(self, s: str, style: str | None = None) -> None:
        if not s:
            return
        n = len(s)
        if style:
            self.spans.append(Span(self.pos, self.pos + n, style))
        self.parts.append(s)
        self.pos += n

    def newline(self) -> None:
        self.parts.append("\n")
        self.pos += 1

    def text(self) -> Text:
        text = "".join(self.parts)
        stripped = text.rstrip("\n")
        n = len(stripped)
        spans = [sp if sp.end <= n else Span(sp.start, n, sp.style) for sp in self.spans if sp.start < n]
        return Text(stripped, spans=spans, no_wrap=True, overflow="crop")


# --------------------------------------------------------------- rows and sections (data)
@dataclass(frozen=True)
class Row:
    """One table row: `key` identifies it across snapshots; `cells` are compared for changes."""
    key: Hashable
    cells: tuple[str, ...]
    styles: tuple[str, ...] = ()     # base style of each cell ("" for none)
    focus: bool = False              # one of the lesson's objects
    blank: int = 0                   # show the first N cells empty (a continuation line, like brctl)


@dataclass(frozen=True)
class Section:
    """A titled group of rows (one per network namespace, or the whole table)."""
    key: Hashable
    title: str
    rows: tuple[Row, ...]
    focus: bool = False
    empty: str = ""                  # said when there are no rows ("" hides an empty section)
    note: str = ""                   # dim text after the title


@dataclass(frozen=True)
class Table:
    """What a table view produces: headers, alignment and sections."""
    headers: tuple[str, ...]
    align: str                       # one 'l' or 'r' per column
    sections: tuple[Section, ...]
    max_col: Sequence[int] = ()      # widest each column but the last may get (default 40)
    min_col: Sequence[int] = ()      # narrowest a column may be squeezed to (default 3)
    caption: str = ""                # a first line saying what the view is
    footer: str = ""
    wrap: bool = True                # long cells continue on the next lines (else they are cut with '…')
    drop: tuple[int, ...] = ()       # columns left out, in this order, when the panel is too narrow
    min_last: int = 12               # the last column gets at least this many cells, or columns are dropped
    max_rows: int = 300              # about this many lines; the lesson's and changed rows always show


# --------------------------------------------------------------- change detection (generic)
NEW, CHANGED_ROW, SAME, GONE = "new", "changed", "same", "gone"


@dataclass
class Marked:
    row: Row
    status: str
    changed_cells: frozenset[int] = frozenset()


def mark_changes(current: Sequence[Row], previous: Sequence[Row] | None) -> list[Marked]:
    """The rows of *current* with their status against *previous*, then the removed rows.

    With no previous (the first snapshot) nothing counts as new: there is nothing to compare."""
    if previous is None:
        return [Marked(r, SAME) for r in current]
    before = {r.key: r for r in previous}
    out = []
    for row in current:
        old = before.pop(row.key, None)
        if old is None:
            out.append(Marked(row, NEW))
        elif old.cells != row.cells:
            diff = frozenset(i for i, (a, b) in enumerate(zip(row.cells, old.cells)) if a != b)
            out.append(Marked(row, CHANGED_ROW, diff))
        else:
            out.append(Marked(row, SAME))
    out.extend(Marked(r, GONE) for r in before.values())
    return out


def mark_sections(current: Sequence[Section], previous: Sequence[Section] | None
                  ) -> list[tuple[Section, str, list[Marked]]]:
    """Every section with its status and marked rows; sections that disappeared come last, as GONE."""
    before = {s.key: s for s in previous} if previous is not None else None
    out = []
    for section in current:
        old = before.pop(section.key, None) if before is not None else None
        if before is not None and old is None:
            out.append((section, NEW, [Marked(r, NEW) for r in section.rows]))
        else:
            out.append((section, SAME, mark_changes(section.rows, old.rows if old is not None else None)))
    for gone in (before or {}).values():
        out.append((gone, GONE, [Marked(r, GONE) for r in gone.rows]))
    return out


def unique_keys(rows: Iterable[Row]) -> tuple[Row, ...]:
    """Rows with duplicate keys get an occurrence number, so every key is unique."""
    seen: dict[Hashable, int] = {}
    out = []
    for row in rows:
        n = seen.get(row.key, 0)
        seen[row.key] = n + 1
        out.append(row if n == 0 else Row((row.key, n), row.cells, row.styles, row.focus, row.blank))
    return tuple(out)


# --------------------------------------------------------------- table rendering (generic)
def _layout(table: Table, rows: Sequence[Row], width: int) -> tuple[list[int], list[int]]:
    """(visible column indices, widths of the visible columns but the last).

    Columns get their natural width (capped by max_col); when the last column would get fewer than
    min_last cells, the widest columns are squeezed down to min_col, then `drop` columns go."""
    ncols = len(table.headers)
    natural = []
    for i in range(ncols - 1):
        cap = table.max_col[i] if i < len(table.max_col) else 40
        widest = max([text_width(table.headers[i])] + [text_width(r.cells[i]) for r in rows if r.blank <= i])
        natural.append(min(widest, cap))
    floor = [table.min_col[i] if i < len(table.min_col) else 3 for i in range(ncols - 1)]
    visible = list(range(ncols))
    dropping = list(table.drop)
    while True:
        cols = visible[:-1]
        widths = {i: natural[i] for i in cols}
        budget = width - len(FOCUS_MARK) - GAP * len(cols) - min(table.min_last, max(width // 3, 6))
        while sum(widths.values()) > budget:
            i = max(cols, key=lambda j: widths[j] - floor[j])
            if widths[i] <= floor[i]:
                break
            widths[i] -= 1
        if sum(widths.values()) <= budget or not dropping:
            return visible, [widths[i] for i in cols]
        visible.remove(dropping.pop(0))


def _pieces(text: str, width: int, wrap: bool) -> list[str]:
    """A cell's lines: the text itself, cut to *width*, or wrapped onto several lines."""
    if text_width(text) <= width:
        return [text]
    if not wrap or width < 4:
        return [fit(text, width)]
    return [fit(line, width) for line in wrap_words(text, width)]


def wrap_words(text: str, width: int) -> list[str]:
    """Greedy word wrap at spaces, in cells; a word longer than the line is cut into pieces (textwrap is
    5x slower, and counts characters: a line of Korean words would come out twice too wide)."""
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        if not word:
            continue
        while text_width(word) > width:
            if line:
                out.append(line)
                line = ""
            piece = word[:width] if word.isascii() else _cells_prefix(word, width)
            out.append(piece)
            word = word[len(piece):]
        if not line:
            line = word
        elif text_width(line) + 1 + text_width(word) <= width:
            line = f"{line} {word}"
        else:
            out.append(line)
            line = word
    if line or not out:
        out.append(line)
    return out


def _cells_prefix(word: str, width: int) -> str:
    """The longest start of *word* that fits in *width* cells (at least one character)."""
    used = 0
    for i, ch in enumerate(word):
        used += cell_len(ch)
        if used > width:
            return word[:max(i, 1)]
    return word


def render_table(table: Table, previous: Table | None, width: int = 100) -> Text:
    """Lay out *table* in *width* cells, marking changes against *previous* (same view, earlier)."""
    out = TextBuilder()
    if table.caption:
        out.add(fit(table.caption, width), NOTE)
        out.newline()
    marked, hidden_rows, hidden_sections = _within_budget(
        mark_sections(table.sections, previous.sections if previous is not None else None), table.max_rows)
    all_rows = [m.row for _, _, marks in marked for m in marks]
    if not all_rows and not any(s.empty for s, _, _ in marked):
        out.add(fit(_("(nothing to show)"), width), NOTE)
        return out.text()
    visible, widths = _layout(table, all_rows, width)
    last_width = max(width - len(FOCUS_MARK) - sum(w + GAP for w in widths), 1)
    widths = widths + [last_width]
    right = [i < len(table.align) and table.align[i] == "r" for i in visible]
    last_n = len(visible) - 1
    blank_gutter = " " * len(FOCUS_MARK)
    gap = " " * GAP
    wrap = table.wrap
    add = out.add

    def style_of(row_style: str, base: str, changed: bool) -> str | None:
        if not base and not changed:
            return row_style or None
        return " ".join(x for x in (row_style, base, CHANGED if changed else "") if x)

    def cells_line(cells: Sequence[str], styles: Sequence[str], row_style: str, gutter: str,
                   changed: frozenset[int] = frozenset(), blank: int = 0) -> None:
        texts = []
        tall = False
        for n, i in enumerate(visible):
            text = "" if i < blank else cells[i]
            tw = text_width(text)
            if tw > widths[n]:
                if wrap and widths[n] >= 4:
                    tall = True
                else:
                    text = fit(text, widths[n])
                    tw = text_width(text)
            texts.append((text, tw))
        nstyles = len(styles)
        if not tall:                                        # the common case: one line
            add(gutter, row_style or None)
            for n, i in enumerate(visible):
                text, tw = texts[n]
                if n < last_n:
                    fill = " " * (widths[n] - tw)
                    text = fill + text if right[n] else text + fill
                add(text, style_of(row_style, styles[i] if i < nstyles else "", i in changed))
                if n < last_n:
                    add(gap)
            out.newline()
            return
        columns = [_pieces(t, widths[n], wrap) for n, (t, _) in enumerate(texts)]
        for line in range(max(len(c) for c in columns)):
            add(gutter if line == 0 else blank_gutter, row_style or None)
            for n, i in enumerate(visible):
                piece = columns[n][line] if line < len(columns[n]) else ""
                if n < last_n:
                    piece = pad(piece, widths[n], right[n])        # pieces are fitted already
                add(piece, style_of(row_style, styles[i] if i < nstyles else "", i in changed))
                if n < last_n:
                    add(gap)
            out.newline()

    if any(table.headers):
        cells_line(table.headers, (), HEADER, blank_gutter)
    for section, status, marks in marked:
        if section.title:
            title_style = {NEW: f"{TITLE} {CHANGED}", GONE: REMOVED}.get(status, FOCUS_TITLE if section.focus else TITLE)
            gutter = FOCUS_MARK if section.focus else blank_gutter
            room = width - len(gutter)
            title = fit(section.title, room)
            add(gutter, title_style)
            add(title, title_style)
            used = text_width(title)
            note_room = room - used - 2
            if section.note and note_room > 3:
                note = "  " + fit(section.note, note_room)
                add(note, NOTE)
                used += text_width(note)
            if room - used > 2:                      # a rule to the edge sets the title apart from rows
                add(" " + "─" * (room - used - 1), "dim")
            out.newline()
        if not marks and section.empty:
            add(blank_gutter + fit(section.empty, width - len(FOCUS_MARK)), NOTE)
            out.newline()
        for m in marks:
            row = m.row
            # inside a namespace of the lesson every row is the lesson's: the title's mark says it once
            gutter = FOCUS_MARK if row.focus and not section.focus else blank_gutter
            if m.status == NEW:
                cells_line(row.cells, row.styles, f"{FOCUS_ROW if row.focus else ''} {CHANGED}".strip(), gutter,
                           blank=row.blank)
            elif m.status == GONE:
                cells_line(row.cells, (), REMOVED, gutter, blank=row.blank)
            else:
                cells_line(row.cells, row.styles, FOCUS_ROW if row.focus else "", gutter, m.changed_cells,
                           blank=row.blank)
    if hidden_rows or hidden_sections:
        hidden = (_("… {rows} more rows in {sections} more sections not shown (unchanged, not this lesson's)")
                  if hidden_sections else _("… {rows} more rows not shown (unchanged, not this lesson's)"))
        add(fit(hidden.format(rows=hidden_rows, sections=hidden_sections), width), NOTE)
        out.newline()
    if table.footer:
        add(fit(table.footer, width), NOTE)
    return out.text()


def _within_budget(marked: list[tuple[Section, str, list[Marked]]], budget: int
                   ) -> tuple[list[tuple[Section, str, list[Marked]]], int, int]:
    """Keep about *budget* lines: the lesson's rows and changed rows always, the rest while room lasts.

    A machine with 200 containers has 1,000 namespaces; drawing all of them every second costs the
    terminal more than it tells the learner. Returns (kept, hidden rows, hidden sections)."""
    used = hidden_rows = hidden_sections = 0
    kept = []
    for section, status, marks in marked:
        important = section.focus or status != SAME
        keep = []
        for m in marks:
            if used < budget or important or m.status != SAME or m.row.focus:
                keep.append(m)
                used += 1
            else:
                hidden_rows += 1
        if keep or important or used < budget:
            kept.append((section, status, keep))
            used += 1
        else:
            hidden_sections += 1
    return kept, hidden_rows, hidden_sections
