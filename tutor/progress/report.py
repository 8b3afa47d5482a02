"""The class report's numbers and its CSV files (the HTML page is in report_html.py).

`step_stats()` is where the group gets stuck: per lesson step, over all learners, how many failed
attempts, hints and solutions it took, and how many learners passed it. `lesson_times()` is the
time learners spent per lesson. Both feed the HTML charts; the CSV files carry the raw rows.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..i18n import _, ngettext
from ..texts import cell_width, fit, pad, safe_text
from .export import STEP_COLUMNS, to_csv
from .merge import ClassData

SUMMARY_COLUMNS = ("learner", "learner_id", "hostnames", "exported_at", "lessons_completed", "lessons_started",
                   "steps_passed", "steps_total", "percent", "failed_attempts", "hints_shown", "solutions_viewed",
                   "minutes")


@dataclass(frozen=True)
class StepStat:
    lesson: str
    lesson_number: int | None
    step: str
    title: str
    passed: int               # learners who passed it
    tried: int                # learners who did anything on it
    failed_attempts: int
    hints: int                # hint levels shown, summed over learners
    solutions: int            # learners who looked at the solution

    @property
    def label(self) -> str:
        return f"{self.lesson}/{self.step}"

    @property
    def stuck_score(self) -> tuple[int, int, int]:
        return (self.failed_attempts + self.hints + 2 * self.solutions, self.failed_attempts, self.hints)


@dataclass(frozen=True)
class LessonTime:
    lesson: str
    number: int | None
    title: str
    minutes: list[float]      # one per learner who spent any time on it

    @property
    def median(self) -> float:
        return statistics.median(self.minutes) if self.minutes else 0.0


def step_stats(data: ClassData) -> list[StepStat]:
    out = []
    for lesson in data.lessons:
        for step_id, title in lesson.steps:
            records = [l.step(lesson.id, step_id) or {} for l in data.learners]
            out.append(StepStat(
                lesson.id, lesson.number, step_id, title,
                passed=sum(1 for r in records if r.get("status") == "passed"),
                tried=sum(1 for r in records if r.get("status") in ("passed", "started")),
                failed_attempts=sum(_int(r.get("failed_attempts")) for r in records),
                hints=sum(_int(r.get("hints_shown")) for r in records),
                solutions=sum(1 for r in records if r.get("solution_viewed"))))
    return out


def stuck_steps(data: ClassData, limit: int = 12) -> list[StepStat]:
    """The steps that cost the group the most (failed attempts, hints, solutions), worst first."""
    stats = [s for s in step_stats(data) if s.stuck_score[0] > 0]
    return sorted(stats, key=lambda s: s.stuck_score, reverse=True)[:limit]


def lesson_times(data: ClassData) -> list[LessonTime]:
    return [LessonTime(lesson.id, lesson.number, lesson.title,
                       [round(l.time_spent(lesson.id) / 60, 1) for l in data.learners if l.time_spent(lesson.id) > 0])
            for lesson in data.lessons]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# ---------------------------------------------------------------------- CSV
def class_step_rows(data: ClassData) -> Iterable[dict[str, Any]]:
    """One row per learner x lesson step (every step of every lesson, done or not)."""
    for learner in data.learners:
        ident = learner.key.split(":", 1)[1] if learner.key.startswith("id:") else ""
        for lesson in data.lessons:
            minutes = round(learner.time_spent(lesson.id) / 60, 1)
            for step_id, title in lesson.steps:
                step = learner.step(lesson.id, step_id) or {}
                passing = step.get("passing_now")
                yield {"learner": learner.name, "learner_id": ident, "hostname": " ".join(learner.hostnames),
                       "exported_at": learner.exported_at, "lesson_number": lesson.number if lesson.number is not None else "",
                       "lesson": lesson.id, "lesson_title": lesson.title, "step": step_id, "step_title": title,
                       "status": step.get("status") or "not started",
                       "passing_now": {True: "yes", False: "no"}.get(passing, "") if isinstance(passing, bool) else "",
                       "first_pass": step.get("first_pass") or "", "attempts": _int(step.get("attempts")),
                       "failed_attempts": _int(step.get("failed_attempts")), "hints_shown": _int(step.get("hints_shown")),
                       "solution_viewed": "yes" if step.get("solution_viewed") else "no",
                       "lesson_minutes": minutes, "last_activity": step.get("last_activity") or "",
                       "last_message": step.get("last_message") or ""}


def learner_summary(data: ClassData) -> list[dict[str, Any]]:
    rows = []
    for learner in data.learners:
        steps = [(lesson, sid) for lesson in data.lessons for sid, _ in lesson.steps]
        records = [learner.step(lesson.id, sid) or {} for lesson, sid in steps]
        passed = sum(1 for r in records if r.get("status") == "passed")
        rows.append({
            "learner": learner.name,
            "learner_id": learner.key.split(":", 1)[1] if learner.key.startswith("id:") else "",
            "hostnames": " ".join(learner.hostnames), "exported_at": learner.exported_at,
            "lessons_completed": sum(1 for l in data.lessons if l.steps and learner.passed(l) == len(l.steps)),
            "lessons_started": sum(1 for l in data.lessons
                                   if any((learner.step(l.id, sid) or {}).get("status") in ("passed", "started")
                                          for sid, _ in l.steps)),
            "steps_passed": passed, "steps_total": len(steps),
            "percent": round(100 * passed / len(steps)) if steps else 0,
            "failed_attempts": sum(_int(r.get("failed_attempts")) for r in records),
            "hints_shown": sum(_int(r.get("hints_shown")) for r in records),
            "solutions_viewed": sum(1 for r in records if r.get("solution_viewed")),
            "minutes": round(sum(learner.time_spent(l.id) for l in data.lessons) / 60, 1),
        })
    return rows


def summary_lines(data: ClassData, name_cap: int = 40) -> list[str]:
    """`nstutor report` without --csv/--html: one aligned line per learner. Names are measured in
    terminal cells (a Korean or Chinese name takes two per character), so the columns after them
    line up whatever script the names are in."""
    rows = [dict(r, learner=safe_text(r["learner"])) for r in learner_summary(data)]   # a name is printed: no escapes
    width = min(max((cell_width(r["learner"]) for r in rows), default=0), name_cap)
    total = max((len(str(r["steps_total"])) for r in rows), default=1)
    return [f"{pad(fit(r['learner'], width), width)}  "
            + ngettext("{passed}/{total} step", "{passed}/{total} steps", r["steps_total"]).format(
                passed=f"{r['steps_passed']:>{total}}", total=f"{r['steps_total']:<{total}}")
            + f"  {r['percent']:>3}%  " + _("{minutes:>5.0f} min").format(minutes=r["minutes"]) + "  "
            + lessons_complete(r["lessons_completed"]) for r in rows]


def lessons_complete(count: int) -> str:
    """'2 lessons complete' (the text summary and the HTML page's learner lines)."""
    return ngettext("{count} lesson complete", "{count} lessons complete", count).format(count=count)


def csv_header(columns: Iterable[str]) -> list[str]:
    """The CSV files' header row in the report's language: the columns' names, in their order
    (English: the names themselves, so a script reading an English report keeps working)."""
    names = {
        "learner": _("learner"), "learner_id": _("learner_id"), "hostname": _("hostname"),
        "hostnames": _("hostnames"), "exported_at": _("exported_at"), "lesson_number": _("lesson_number"),
        "lesson": _("lesson"), "lesson_title": _("lesson_title"), "step": _("step"),
        "step_title": _("step_title"), "status": _("status"), "passing_now": _("passing_now"),
        "first_pass": _("first_pass"), "attempts": _("attempts"), "failed_attempts": _("failed_attempts"),
        "hints_shown": _("hints_shown"), "solution_viewed": _("solution_viewed"),
        "lesson_minutes": _("lesson_minutes"), "last_activity": _("last_activity"),
        "last_message": _("last_message"), "lessons_completed": _("lessons_completed"),
        "lessons_started": _("lessons_started"), "steps_passed": _("steps_passed"),
        "steps_total": _("steps_total"), "percent": _("percent"), "solutions_viewed": _("solutions_viewed"),
        "minutes": _("minutes"),
    }
    return [names.get(column, column) for column in columns]


def summary_path(csv_path: Path) -> Path:
    """class.csv -> class-summary.csv, next to it."""
    return csv_path.with_name(f"{csv_path.stem}-summary{csv_path.suffix or '.csv'}")


def write_csv(data: ClassData, path: Path) -> list[Path]:
    """The per-step CSV at *path* and the per-learner summary beside it; returns both paths."""
    path.write_text(to_csv(class_step_rows(data), STEP_COLUMNS, header=csv_header(STEP_COLUMNS)), encoding="utf-8",
                    errors="backslashreplace")     # a lone surrogate in a name: \ud800, not a crash
    summary = summary_path(path)
    summary.write_text(to_csv(learner_summary(data), SUMMARY_COLUMNS, header=csv_header(SUMMARY_COLUMNS)),
                       encoding="utf-8", errors="backslashreplace")
    return [path, summary]
