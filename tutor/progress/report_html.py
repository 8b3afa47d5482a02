"""The class report as one self-contained HTML page: no script, no network, no external files.

Sections: a learners x lessons matrix (steps passed per lesson, coloured by completion), an inline
SVG chart of the steps where the group got stuck (failed attempts, hints, solutions viewed), an
SVG chart of time per lesson (median, and the fastest and slowest learner), and each learner's
detail in a <details> block. Type is large and contrast high, for a projector as well as a laptop.
Every string that came from an export is escaped: a learner's name is data, never markup.
"""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape as _html_escape
from typing import Iterable

from .. import __version__, i18n
from ..i18n import _, ngettext
from ..texts import safe_text
from .merge import ClassData, display_path, Learner, LessonInfo
from .report import LessonTime, StepStat, lesson_times, learner_summary, lessons_complete, stuck_steps

def escape(text: str, quote: bool = True) -> str:
    """HTML-escaped, after control and bidi characters and lone surrogates (a name can hold them; a
    lone surrogate cannot even be written as UTF-8) are made visible escapes (texts.safe_text)."""
    return _html_escape(safe_text(text, keep="\n\t"), quote)


CSS = """
:root { --ink:#1b1f24; --muted:#57606a; --line:#d0d7de; --done:#1a7f37; --part:#bf8700; --none:#eaeef2;
        --fail:#cf222e; --hint:#bf8700; --sol:#8250df; --time:#0969da; }
* { box-sizing: border-box; }
body { font: 18px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       margin: 0 auto; padding: 24px 32px 64px; max-width: 1400px; background: #fff; }
h1 { font-size: 1.8em; margin: 0 0 4px; } h2 { font-size: 1.35em; margin: 40px 0 8px; border-bottom: 2px solid var(--line); }
p.meta, .muted { color: var(--muted); }
.skipped { border-left: 6px solid var(--fail); background: #fff5f5; padding: 8px 16px; margin: 16px 0; }
.skipped li code { font-size: .9em; }
table { border-collapse: collapse; }
.scroll { overflow-x: auto; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: 6px 10px; text-align: center; }
table.matrix th.learner, table.matrix td.learner { text-align: left; white-space: nowrap; }
table.matrix thead th { background: #f6f8fa; font-size: .85em; vertical-align: bottom; }
td.c-done { background: var(--done); color: #fff; font-weight: 600; }
td.c-part { background: #fff1c2; }
td.c-none { background: var(--none); color: var(--muted); }
td.total { font-weight: 700; }
.legend span { display: inline-block; padding: 2px 10px; margin-right: 8px; border-radius: 4px; }
svg text { font-family: inherit; fill: var(--ink); }
svg .label { font-size: 17px; } svg .value { font-size: 15px; fill: var(--muted); }
details { border: 1px solid var(--line); border-radius: 6px; margin: 10px 0; padding: 6px 14px; }
details summary { cursor: pointer; font-weight: 600; font-size: 1.05em; }
table.detail td, table.detail th { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
table.detail td.num { text-align: right; }
.st-passed { color: var(--done); font-weight: 600; } .st-started { color: var(--part); font-weight: 600; }
.st-not { color: var(--muted); }
@media print { body { max-width: none; } details { break-inside: avoid; } }
"""


def render_html(data: ClassData, *, generated: datetime | None = None) -> str:
    generated = generated or datetime.now(timezone.utc)
    title = escape(_("nstutor class report"))
    meta = _("{learners}, {lessons}, from {files}. Made {time} by nstutor {version}.").format(
        learners=ngettext("{count} learner", "{count} learners", len(data.learners)).format(count=len(data.learners)),
        lessons=ngettext("{count} lesson", "{count} lessons", len(data.lessons)).format(count=len(data.lessons)),
        files=ngettext("{count} export file", "{count} export files", data.files_read).format(count=data.files_read),
        time=generated.strftime('%Y-%m-%d %H:%M UTC'), version=__version__)
    parts = [
        "<!DOCTYPE html>", f'<html lang="{i18n.current()}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>", f"<style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{escape(meta)}</p>',
    ]
    if data.skipped:
        parts.append('<div class="skipped" id="skipped"><strong>' + escape(_("Files left out of this report:"))
                     + "</strong><ul>")
        parts += [f"<li><code>{escape(display_path(s.path))}</code>: {escape(s.reason)}</li>" for s in data.skipped]
        parts.append("</ul></div>")
    if not data.learners:
        parts.append("<p>" + escape(_("No usable progress exports were given, so there is nothing to show."))
                     + "</p></body></html>")
        return "\n".join(parts)
    parts += _matrix(data)
    parts += ['<h2 id="stuck">' + escape(_("Where the group gets stuck")) + "</h2>",
              '<p class="muted">' + escape(_("Steps that cost the most: failed check attempts, hints asked for and "
                                             "solutions viewed, summed over all learners. Worst first."))
              + "</p>", _stuck_chart(stuck_steps(data))]
    parts += ['<h2 id="time">' + escape(_("Time per lesson")) + "</h2>",
              '<p class="muted">' + escape(_("Minutes with the lesson open, per learner who opened it: the bar is the "
                                             "median, the thin line runs from the quickest to the slowest learner."))
              + "</p>", _time_chart(lesson_times(data))]
    parts += _details(data)
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------- matrix
def _matrix(data: ClassData) -> list[str]:
    summary = {row["learner_id"] or row["learner"]: row for row in learner_summary(data)}
    out = ['<h2 id="matrix">' + _("Progress: learners &times; lessons") + "</h2>",
           '<p class="legend"><span style="background:var(--done);color:#fff">' + escape(_("all steps passed"))
           + '</span><span style="background:#fff1c2">' + escape(_("some steps"))
           + '</span><span style="background:var(--none)">' + escape(_("not started")) + "</span> "
           + escape(_("Each cell: steps passed / steps in the lesson.")) + "</p>",
           '<div class="scroll"><table class="matrix"><thead><tr><th class="learner">' + escape(_("Learner")) + "</th>"]
    for lesson in data.lessons:
        number = f"{lesson.number}. " if lesson.number is not None and not lesson.pack else ""
        title = lesson.title
        if lesson.pack:             # the pack and the version its learners had
            title += " (" + _("pack {pack}").format(pack=f"{lesson.pack} {lesson.pack_version}".strip()) + ")"
        out.append(f'<th title="{escape(title)}">{escape(number)}{escape(lesson.id)}</th>')
    out.append("<th>" + escape(_("Total")) + "</th></tr></thead><tbody>")
    for learner in data.learners:
        key = learner.key.split(":", 1)[1] if learner.key.startswith("id:") else learner.name
        total = summary.get(key, {})
        out.append(f'<tr><td class="learner" title="{escape(", ".join(learner.hostnames))}">'
                   f"{escape(learner.name)}</td>")
        for lesson in data.lessons:
            out.append(_matrix_cell(learner, lesson))
        out.append(f'<td class="total">{total.get("percent", 0)}%</td></tr>')
    out.append("</tbody></table></div>")
    return out


def _matrix_cell(learner: Learner, lesson: LessonInfo) -> str:
    passed, total = learner.passed(lesson), len(lesson.steps)
    started = any((learner.step(lesson.id, sid) or {}).get("status") in ("passed", "started") for sid, _ in lesson.steps)
    css = "c-done" if total and passed == total else ("c-part" if started else "c-none")
    minutes = learner.time_spent(lesson.id) / 60
    tip = _("{learner}, {lesson}: {passed} of {total} steps passed, {minutes:.0f} min").format(
        learner=learner.name, lesson=lesson.title, passed=passed, total=total, minutes=minutes)
    return f'<td class="{css}" title="{escape(tip)}">{passed}/{total}</td>'


# ---------------------------------------------------------------------- charts (inline SVG)
LABEL_W, BAR_W, VALUES_W = 300, 520, 380      # label column, bars, the numbers after the bars


def _svg_open(ident: str, label: str, height: int) -> str:
    width = LABEL_W + BAR_W + VALUES_W
    return (f'<svg class="chart" id="{ident}" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px">')


def _stuck_chart(stats: list[StepStat]) -> str:
    if not stats:
        return '<p class="muted">' + escape(_("Nobody failed a check, asked for a hint or viewed a solution yet.")) + "</p>"
    label_w, bar_w, row_h = LABEL_W, BAR_W, 34
    biggest = max(s.failed_attempts + s.hints + s.solutions for s in stats) or 1
    scale = bar_w / biggest
    height = row_h * len(stats) + 40
    out = [_svg_open("stuck-chart", _("Where the group gets stuck"), height)]
    for i, s in enumerate(stats):
        y = 10 + i * row_h
        out.append(f'<text class="label" x="{label_w - 10}" y="{y + 20}" text-anchor="end">'
                   f"<title>{escape(s.title)}</title>{escape(_short(s.label, 38))}</text>")
        x = label_w
        for value, colour, what in ((s.failed_attempts, "var(--fail)", _("{count} failed attempts")),
                                    (s.hints, "var(--hint)", _("{count} hints")),
                                    (s.solutions, "var(--sol)", _("{count} solutions viewed"))):
            if value:
                w = value * scale
                out.append(f'<rect class="bar" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}" '
                           f'fill="{colour}"><title>{escape(what.format(count=value))}</title></rect>')
                x += w
        values = _("{failed} failed, {hints}, {solutions} sol., {passed}/{tried} passed").format(
            failed=s.failed_attempts, hints=ngettext("{count} hint", "{count} hints", s.hints).format(count=s.hints),
            solutions=s.solutions, passed=s.passed, tried=s.tried or 0)
        out.append(f'<text class="value" x="{x + 8:.1f}" y="{y + 20}">{escape(values)}</text>')
    y = height - 14
    failed, hints, solutions = escape(_("failed attempts")), escape(_("hints")), escape(_("solutions viewed"))
    out.append(f'<rect x="{label_w}" y="{y - 11}" width="14" height="14" fill="var(--fail)"/>'
               f'<text class="value" x="{label_w + 20}" y="{y}">{failed}</text>'
               f'<rect x="{label_w + 160}" y="{y - 11}" width="14" height="14" fill="var(--hint)"/>'
               f'<text class="value" x="{label_w + 180}" y="{y}">{hints}</text>'
               f'<rect x="{label_w + 250}" y="{y - 11}" width="14" height="14" fill="var(--sol)"/>'
               f'<text class="value" x="{label_w + 270}" y="{y}">{solutions}</text>')
    out.append("</svg>")
    return "".join(out)


def _time_chart(times: list[LessonTime]) -> str:
    times = [t for t in times if t.minutes]
    if not times:
        return '<p class="muted">' + escape(_("No time recorded yet (time counts while a lesson is open in the app).")) + "</p>"
    label_w, bar_w, row_h = LABEL_W, BAR_W, 30
    biggest = max(max(t.minutes) for t in times) or 1
    scale = bar_w / biggest
    height = row_h * len(times) + 16
    out = [_svg_open("time-chart", _("Time per lesson"), height)]
    for i, t in enumerate(times):
        y = 8 + i * row_h
        median = escape(_("median {minutes:.1f} min").format(minutes=t.median))
        name = f"{t.number}. {t.lesson}" if t.number is not None else t.lesson
        lo, hi = min(t.minutes), max(t.minutes)
        out.append(f'<text class="label" x="{label_w - 10}" y="{y + 18}" text-anchor="end">'
                   f"<title>{escape(t.title)}</title>{escape(_short(name, 38))}</text>"
                   f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{max(t.median * scale, 2):.1f}" '
                   f'height="{row_h - 10}" fill="var(--time)"><title>{median}</title></rect>'
                   f'<line x1="{label_w + lo * scale:.1f}" x2="{label_w + hi * scale:.1f}" y1="{y + row_h / 2}" '
                   f'y2="{y + row_h / 2}" stroke="var(--ink)" stroke-width="2"/>'
                   f'<text class="value" x="{label_w + hi * scale + 8:.1f}" y="{y + 18}">'
                   + _("{median:.0f} min (n={count}, {fastest:.0f}&#8211;{slowest:.0f})").format(
                       median=t.median, count=len(t.minutes), fastest=lo, slowest=hi) + "</text>")
    out.append("</svg>")
    return "".join(out)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "\u2026"


# ---------------------------------------------------------------------- per learner
STATUS_CSS = {"passed": "st-passed", "started": "st-started"}


def _details(data: ClassData) -> list[str]:
    out = ['<h2 id="learners">' + escape(_("Each learner")) + "</h2>"]
    summary = {row["learner_id"] or row["learner"]: row for row in learner_summary(data)}
    for learner in data.learners:
        key = learner.key.split(":", 1)[1] if learner.key.startswith("id:") else learner.name
        row = summary.get(key, {})
        total = row.get("steps_total", 0)
        line = _("{learner}: {passed} of {steps}, {complete}, {minutes:.0f} min").format(
            learner=learner.name, passed=row.get("steps_passed", 0),
            steps=ngettext("{count} step", "{count} steps", total).format(count=total),
            complete=lessons_complete(row.get("lessons_completed", 0)), minutes=row.get("minutes", 0))
        out.append(f'<details class="learner"><summary>{escape(line)}</summary>')
        files = len(learner.files)
        machines = ngettext("Machine: {hostnames}; latest export {exported}; {files}.",
                            "Machines: {hostnames}; latest export {exported}; {files}.", len(learner.hostnames)).format(
            hostnames=", ".join(learner.hostnames), exported=learner.exported_at,
            files=ngettext("{count} file", "{count} files", files).format(count=files))
        out.append(f'<p class="muted">{escape(machines)}</p>')
        heads = (_("Lesson"), _("Step"), _("Status"), _("Attempts"), _("Failed"), _("Hints"), _("Solution"),
                 _("First pass"), _("Still failing with"))
        out.append('<div class="scroll"><table class="detail"><thead><tr>'
                   + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>")
        out += list(_detail_rows(learner, data.lessons))
        out.append("</tbody></table></div></details>")
    return out


def _detail_rows(learner: Learner, lessons: list[LessonInfo]) -> Iterable[str]:
    for lesson in lessons:
        if not any(learner.step(lesson.id, sid) for sid, _ in lesson.steps):
            continue
        for sid, title in lesson.steps:
            step = learner.step(lesson.id, sid) or {}
            status = step.get("status") or "not started"
            css = STATUS_CSS.get(status, "st-not")
            message = step.get("last_message") if status != "passed" else ""
            viewed = _("viewed") if step.get("solution_viewed") else ""
            yield (f"<tr><td>{escape(lesson.id)}</td><td title=\"{escape(title)}\">{escape(sid)}</td>"
                   f'<td class="{css}">{escape(_status_words(status))}</td><td class="num">{_num(step.get("attempts"))}</td>'
                   f'<td class="num">{_num(step.get("failed_attempts"))}</td>'
                   f'<td class="num">{_num(step.get("hints_shown"))}</td>'
                   f'<td>{escape(viewed)}</td>'
                   f'<td>{escape(str(step.get("first_pass") or ""))}</td><td>{escape(str(message or ""))}</td></tr>')



def _status_words(status: str) -> str:
    """A step's status as the page says it (the export's value itself, in English)."""
    words = {"passed": _("passed"), "started": _("started"), "not started": _("not started")}
    return words.get(status, status)


def _num(value) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"
