"""`nstutor progress`: the learner's own progress as a plain-text table (from an export document,
so the table and the file a learner hands in can never disagree)."""
from __future__ import annotations

from typing import Any, Mapping

from ..texts import cell_width, counted, noun, pad

MARKS = {"passed": "\u2714", "started": "\u2718", "not started": "\u00b7"}


def progress_table(doc: Mapping[str, Any], *, lesson_id: str | None = None, all_steps: bool = False) -> str:
    """Lessons with steps passed / total and minutes; the steps of every started lesson (of every
    lesson with *all_steps*, of one with *lesson_id*) with status, attempts, hints and solution."""
    lessons = [l for l in doc.get("lessons", []) if lesson_id is None or l["id"] == lesson_id]
    width = max((cell_width(l["id"]) for l in lessons), default=4)
    lines = [f"Progress of {doc['learner']['name']}", ""]
    total = passed = 0
    for lesson in lessons:
        steps = lesson["steps"]
        done = lesson["steps_passed"]
        total += lesson["steps_total"]
        passed += min(done, lesson["steps_total"])
        started = any(s["status"] != "not started" for s in steps)
        state = ("complete" if lesson["steps_total"] and done >= lesson["steps_total"]
                 else "in progress" if started else "")
        changed = "  (lesson changed since)" if lesson.get("recorded_on_other_version") else ""
        number = f"{lesson['number']:>2}" if isinstance(lesson.get("number"), int) else " -"
        lines.append(f"{number}  {pad(lesson['id'], width)}  {done:>2}/{lesson['steps_total']:<2} "
                     f"{pad(noun(lesson['steps_total'], 'step'), 5)}  "
                     f"{lesson['time_spent_s'] / 60:>4.0f} min  {state}{changed}".rstrip())
        if started or all_steps or lesson_id:
            step_width = max(cell_width(s["id"]) for s in steps) if steps else 0
            for step in steps:
                lines.append(f"      {MARKS.get(step['status'], '?')} {pad(step['id'], step_width)}  {_step_facts(step)}")
    lines += ["", f"{passed} of {counted(total, 'step')} passed."]
    return "\n".join(lines)


def _step_facts(step: Mapping[str, Any]) -> str:
    facts = []
    if step["status"] == "passed":
        facts.append(f"passed {step['first_pass'].replace('T', ' ').rstrip('Z')} UTC" if step.get("first_pass")
                     else "passed")
        if step.get("passing_now") is False:
            facts.append("not passing now")
    elif step["status"] == "started":
        facts.append("not passed yet")
    else:
        return "not started"
    if step["attempts"]:
        facts.append(counted(step["attempts"], "attempt"))
    if step["hints_shown"]:
        facts.append(counted(step["hints_shown"], "hint"))
    if step["solution_viewed"]:
        facts.append("solution viewed")
    return ", ".join(facts)
