"""`nstutor progress`: the learner's own progress as a plain-text table (from an export document,
so the table and the file a learner hands in can never disagree)."""
from __future__ import annotations

from typing import Any, Mapping

from ..i18n import _, ngettext
from ..texts import cell_width, pad

MARKS = {"passed": "\u2714", "started": "\u2718", "not started": "\u00b7"}


def progress_table(doc: Mapping[str, Any], *, lesson_id: str | None = None, all_steps: bool = False) -> str:
    """Lessons with steps passed / total and minutes; the steps of every started lesson (of every
    lesson with *all_steps*, of one with *lesson_id*) with status, attempts, hints and solution."""
    lessons = [l for l in doc.get("lessons", []) if lesson_id is None or l["id"] == lesson_id]
    width = max((cell_width(l["id"]) for l in lessons), default=4)
    lines = [_("Progress of {name}").format(name=doc["learner"]["name"]), ""]
    total = passed = 0
    shown_pack = None
    for lesson in lessons:
        pack = lesson.get("pack") if isinstance(lesson.get("pack"), dict) else None
        if pack and pack.get("name") != shown_pack:     # a pack's lessons under its name, as `nstutor list`
            shown_pack = pack.get("name")
            lines += ["", _("pack {pack}:").format(pack=f"{shown_pack} {pack.get('version') or ''}".strip())]
        steps = lesson["steps"]
        done = lesson["steps_passed"]
        total += lesson["steps_total"]
        passed += min(done, lesson["steps_total"])
        started = any(s["status"] != "not started" for s in steps)
        state = (_("complete") if lesson["steps_total"] and done >= lesson["steps_total"]
                 else _("in progress") if started else "")
        changed = "  " + _("(lesson changed since)") if lesson.get("recorded_on_other_version") else ""
        number = f"{lesson['number']:>2}" if isinstance(lesson.get("number"), int) else " -"
        minutes = _("{minutes:>4.0f} min").format(minutes=lesson["time_spent_s"] / 60)
        counts = ngettext("{done:>2}/{total:<2} step", "{done:>2}/{total:<2} steps", lesson["steps_total"]).format(
            done=done, total=lesson["steps_total"])
        lines.append(f"{number}  {pad(lesson['id'], width)}  {pad(counts, 11)}  "
                     f"{minutes}  {state}{changed}".rstrip())
        if started or all_steps or lesson_id:
            step_width = max(cell_width(s["id"]) for s in steps) if steps else 0
            for step in steps:
                lines.append(f"      {MARKS.get(step['status'], '?')} {pad(step['id'], step_width)}  {_step_facts(step)}")
    lines += ["", ngettext("{passed} of {total} step passed.", "{passed} of {total} steps passed.", total).format(
        passed=passed, total=total)]
    return "\n".join(lines)


def _step_facts(step: Mapping[str, Any]) -> str:
    facts = []
    if step["status"] == "passed":
        facts.append(_("passed {time} UTC").format(time=step["first_pass"].replace("T", " ").rstrip("Z"))
                     if step.get("first_pass") else _("passed"))
        if step.get("passing_now") is False:
            facts.append(_("not passing now"))
    elif step["status"] == "started":
        facts.append(_("not passed yet"))
    else:
        return _("not started")
    if step["attempts"]:
        facts.append(ngettext("{count} attempt", "{count} attempts", step["attempts"]).format(count=step["attempts"]))
    if step["hints_shown"]:
        facts.append(ngettext("{count} hint", "{count} hints", step["hints_shown"]).format(count=step["hints_shown"]))
    if step["solution_viewed"]:
        facts.append(_("solution viewed"))
    return ", ".join(facts)
