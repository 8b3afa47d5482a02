"""Learners' progress made the real way, through ProgressStore, for the export and report tests.

`make_export` opens a fresh store, records failed and passed checks, hints, solutions and time
for one learner, and returns the export document `nstutor progress export` would write.
`demo_class` does that for a whole (seeded, reproducible) study group over the shipped lessons.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tutor.checks.base import Verdict
from tutor.checks.runner import StepResult
from tutor.lessons.catalog import Catalog
from tutor.lessons.model import Lesson, Step
from tutor.progress import ProgressStore
from tutor.progress.export import build_export


def demo_lesson(lesson_id: str, steps: tuple[str, ...], number: int) -> Lesson:
    return Lesson(id=lesson_id, title=f"The {lesson_id} lesson", minutes=10, path=Path(f"{number:02}-{lesson_id}.md"),
                  number=number, body="", steps=tuple(Step(s, f"Step {s} of {lesson_id}", (), (), "", 1) for s in steps),
                  content_hash=f"hash-{lesson_id}")


def demo_catalog() -> Catalog:
    return Catalog((demo_lesson("rooms", ("made", "cable", "ping"), 1), demo_lesson("pids", ("pid1", "ps"), 2)), ())


@dataclass
class StepPlan:
    fails: int = 0
    passes: bool = False
    hints: int = 0
    solution: bool = False


def record(store: ProgressStore, lesson: Lesson, step_id: str, plan: StepPlan) -> None:
    """Each failure and the pass as the learner's `nstutor check LESSON --step STEP`, each failure a
    different wrong state (the same state checked twice is one attempt)."""
    for n in range(plan.fails):
        verdict = Verdict("netns", False, "netns RED", "no netns RED", f"there is no netns RED (try {n})")
        store.record_check(lesson, [StepResult(step_id, step_id, False, (verdict,))], source="cli",
                           in_front=step_id, named=True)
    for level in range(1, plan.hints + 1):
        store.record_hint(lesson.id, step_id, level)
    if plan.solution:
        store.record_solution(lesson.id, step_id)
    if plan.passes:
        verdict = Verdict("veth", True, "veth pair", "RED/veth0 <-> BLUE/veth1", "",
                          {"ends": [{"netns": "RED", "name": "veth0"}, {"netns": "BLUE", "name": "veth1"}]})
        store.record_check(lesson, [StepResult(step_id, step_id, True, (verdict,))], source="cli",
                           in_front=step_id, named=True)


def make_export(directory: Path, name: str, plan: dict[tuple[str, str], StepPlan], *, catalog: Catalog | None = None,
                minutes: dict[str, float] | None = None, now: float | None = None,
                store_path: Path | None = None) -> dict:
    """Record *plan* ({(lesson, step): StepPlan}) for learner *name* in a store under *directory*
    (or *store_path*, to export the same learner twice) and return the export document."""
    catalog = catalog or demo_catalog()
    store = ProgressStore.open(store_path or directory / name.replace(" ", "_") / "progress.sqlite3")
    try:
        store.set_learner_name(name)
        for (lesson_id, step_id), step_plan in plan.items():
            record(store, catalog.find(lesson_id), step_id, step_plan)
        for lesson_id, mins in (minutes or {}).items():
            store.add_time(lesson_id, mins * 60)
        return build_export(store, catalog, learner_name=name, now=now)
    finally:
        store.close()


def write_export(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    return path


NAMES = ("Ada", "Brian", "Chen Wei", "Dana", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas", "Kaveh", "Lena")


def demo_class(directory: Path, catalog: Catalog, learners: int = 12, seed: int = 7) -> list[Path]:
    """A study group over *catalog*: the further a lesson, the fewer got there; a few steps are hard."""
    rng = random.Random(seed)
    steps = [(l.id, s.id) for l in catalog.lessons for s in l.steps]
    hard = set(rng.sample(steps, k=min(3, len(steps))))
    paths = []
    for i in range(learners):
        reach = rng.randint(len(steps) // 3, len(steps))
        plan = {}
        for n, key in enumerate(steps[:reach]):
            tough = key in hard
            plan[key] = StepPlan(fails=rng.randint(2, 6) if tough else rng.randint(0, 1),
                                 passes=n < reach - 1 or rng.random() < 0.5,
                                 hints=rng.randint(1, 3) if tough else 0, solution=tough and rng.random() < 0.4)
        minutes = {l.id: round(rng.uniform(5, 30), 1) for l in catalog.lessons
                   if any(k[0] == l.id for k in steps[:reach])}
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i}")
        doc = make_export(directory / "stores", name, plan, catalog=catalog, minutes=minutes)
        paths.append(write_export(directory / "exports" / f"{name.replace(' ', '_').lower()}.json", doc))
    return paths
