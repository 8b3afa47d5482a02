"""A learner's progress as a file to hand in: `nstutor progress export --format json|csv`.

The JSON document (``FORMAT`` = "nstutor-progress", ``FORMAT_VERSION`` 1)::

    {"format": "nstutor-progress", "format_version": 1, "tool_version": "0.1.0",
     "learner": {"name": "Ada", "id": "3f2c..."},   # id: random, made once per progress store
     "hostname": "lab-vm-07", "exported_at": "2026-11-23T12:00:00Z",
     "lessons": [
       {"id": "netns-veth", "number": 10, "title": "...", "content_hash": "...",
        "pack": null,            # a pack's lesson (id "nat/snat"): {"name": "nat", "version": "1.0.0"}
        "recorded_on_other_version": false,          # progress was made against an older lesson file
        "time_spent_s": 812.4, "steps_total": 5, "steps_passed": 3,
        "steps": [
          {"id": "rooms", "title": "...", "status": "passed",   # passed | started | not started
           "passing_now": true,                                 # latest check (null: never checked)
           "first_pass": "2026-11-23T11:02:10Z", "attempts": 2, "failed_attempts": 1,
           "hints_shown": 1, "solution_viewed": false, "solution_viewed_at": null,
           "last_activity": "2026-11-23T11:02:10Z", "last_message": null,
           "passes": [{"at": "...", "evidence": [{"kind": "netns", "observed": "...", "evidence": {...}}]}]}]}]}

Every lesson of the catalog is listed, started or not, so a class report knows how many steps
each lesson has. Times are UTC in ISO 8601. Nothing private goes in: no environment, and evidence
is stripped of command lines and environment-like keys (evidence describes the lesson's own
objects: netns, links, addresses, namespace inodes, pids).

The CSV export is the same data flat: one row per step (``STEP_COLUMNS``).
"""
from __future__ import annotations

import csv
import io
import socket
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .. import __version__

FORMAT = "nstutor-progress"
FORMAT_VERSION = 1
PRIVATE_KEYS = frozenset({"env", "environ", "environment", "cmdline", "argv", "command_line"})
MAX_PASSES_PER_STEP = 20      # a step passed again and again keeps its latest passes only

STEP_COLUMNS = ("learner", "learner_id", "hostname", "exported_at", "lesson_number", "lesson", "lesson_title",
                "step", "step_title", "status", "passing_now", "first_pass", "attempts", "failed_attempts",
                "hints_shown", "solution_viewed", "lesson_minutes", "last_activity", "last_message")


def iso(epoch: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC string ('2026-11-23T12:00:00Z'); None stays None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: Any) -> float | None:
    """The inverse of iso(), tolerant of a missing 'Z' or fractions; None when not a time."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def scrub(value: Any) -> Any:
    """Evidence without anything that could carry private data (see PRIVATE_KEYS)."""
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in PRIVATE_KEYS}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def _step_status(recorded: Mapping[str, Any] | None) -> str:
    if not recorded:
        return "not started"
    if recorded.get("first_pass") is not None:
        return "passed"
    if recorded.get("attempts") or recorded.get("hints_shown") or recorded.get("solution_viewed_at") \
            or recorded.get("passing_now") is not None:
        return "started"
    return "not started"


def _step_entry(step_id: str, title: str, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    rec = dict(recorded or {})
    times = [rec.get(k) for k in ("first_pass", "last_at", "last_attempt_at", "last_event_at", "solution_viewed_at")]
    last = max((t for t in times if t is not None), default=None)
    passes = rec.get("passes", [])[-MAX_PASSES_PER_STEP:]
    return {
        "id": step_id, "title": title, "status": _step_status(rec),
        "passing_now": rec.get("passing_now"),
        "first_pass": iso(rec.get("first_pass")),
        "attempts": int(rec.get("attempts", 0)), "failed_attempts": int(rec.get("failed_attempts", 0)),
        "hints_shown": int(rec.get("hints_shown", 0)),
        "solution_viewed": rec.get("solution_viewed_at") is not None,
        "solution_viewed_at": iso(rec.get("solution_viewed_at")),
        "last_activity": iso(last), "last_message": rec.get("last_message"),
        "passes": [{"at": iso(p["at"]), "evidence": scrub(p["evidence"])} for p in passes],
    }


def build_export(store, catalog, *, learner_name: str, now: float | None = None) -> dict[str, Any]:
    """The export document for everything *store* holds, lessons in *catalog* order (stored
    lessons the catalog no longer has are kept at the end, so no recorded work is lost)."""
    dumped = store.dump()
    lessons = []
    known = set()
    for lesson in catalog.lessons:
        known.add(lesson.id)
        rec = dumped.get(lesson.id, {})
        steps = [_step_entry(s.id, s.title, rec.get("steps", {}).get(s.id)) for s in lesson.steps]
        # Steps recorded under ids the lesson no longer has are kept too (renamed or removed steps).
        steps += [_step_entry(sid, sid, r) for sid, r in rec.get("steps", {}).items()
                  if lesson.step(sid) is None]
        pack = {"name": lesson.pack.name, "version": lesson.pack.version} if lesson.pack else None
        lessons.append(_lesson_entry(lesson.id, lesson.number, lesson.title, lesson.content_hash, rec, steps,
                                     steps_total=len(lesson.steps), pack=pack))
    for lesson_id, rec in sorted(dumped.items()):
        if lesson_id not in known:
            steps = [_step_entry(sid, sid, r) for sid, r in rec.get("steps", {}).items()]
            pack = {"name": lesson_id.partition("/")[0], "version": None} if "/" in lesson_id else None
            lessons.append(_lesson_entry(lesson_id, None, lesson_id, rec.get("content_hash", ""), rec, steps,
                                         steps_total=len(steps), pack=pack))
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "tool_version": __version__,
        "learner": {"name": learner_name, "id": store.learner_id()},
        "hostname": socket.gethostname(),
        "exported_at": iso(now if now is not None else datetime.now(timezone.utc).timestamp()),
        "lessons": lessons,
    }


def _lesson_entry(lesson_id, number, title, content_hash, rec, steps, *, steps_total, pack=None) -> dict[str, Any]:
    stored_hash = rec.get("content_hash") or ""
    return {
        "id": lesson_id, "number": number, "title": title, "content_hash": content_hash or stored_hash,
        "pack": pack,
        "recorded_on_other_version": bool(stored_hash and content_hash and stored_hash != content_hash),
        "time_spent_s": round(float(rec.get("seconds_spent") or 0.0), 1),
        "steps_total": steps_total,
        "steps_passed": sum(1 for s in steps if s["status"] == "passed"),
        "steps": steps,
    }


# ---------------------------------------------------------------------- flat rows (CSV)
def step_rows(doc: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """One flat row per lesson step of an export document (also used by the class report)."""
    learner = doc.get("learner") or {}
    for lesson in doc.get("lessons", []):
        minutes = round(float(lesson.get("time_spent_s") or 0) / 60, 1)
        for step in lesson.get("steps", []):
            yield {
                "learner": learner.get("name", ""), "learner_id": learner.get("id", ""),
                "hostname": doc.get("hostname", ""), "exported_at": doc.get("exported_at", ""),
                "lesson_number": lesson.get("number") if lesson.get("number") is not None else "",
                "lesson": lesson.get("id", ""), "lesson_title": lesson.get("title", ""),
                "step": step.get("id", ""), "step_title": step.get("title", ""),
                "status": step.get("status", ""),
                "passing_now": {True: "yes", False: "no"}.get(step.get("passing_now"), ""),
                "first_pass": step.get("first_pass") or "", "attempts": step.get("attempts", 0),
                "failed_attempts": step.get("failed_attempts", 0), "hints_shown": step.get("hints_shown", 0),
                "solution_viewed": "yes" if step.get("solution_viewed") else "no",
                "lesson_minutes": minutes, "last_activity": step.get("last_activity") or "",
                "last_message": step.get("last_message") or "",
            }


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Iterable[str] = STEP_COLUMNS,
           header: Iterable[str] | None = None) -> str:
    """*rows* as CSV, *columns* in their order; the header row is the column names, or *header*
    (the class report's, in its language: one label per column, same order). A text cell that a
    spreadsheet would take for a formula gets a leading apostrophe (texts.csv_cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    if header is None:
        writer.writeheader()
    else:
        csv.writer(out, lineterminator="\n").writerow(list(header))
    from ..texts import csv_cell
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return out.getvalue()
