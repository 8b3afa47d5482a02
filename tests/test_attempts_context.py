"""The state a step looks at is its own objects, not the listing of what else is on the host.

Walk-through of issue 11 part 5: with lesson bridge open on step `switch` (no nsbr0 yet), a veth
pair made and deleted three times by something else (Docker does it on every `docker run`)
counted 3 failed attempts, because the failing verdict lists the host's interfaces ("the host
has docker0, eth0, lo") and that listing was taken as the step's state. Here the app's record
path is driven with real grades of the real kernel (take_snapshot + grade_step, every step of
the lesson, the way the app grades them) and the store it writes to.

nsbr0 is the lesson's fixed name: run under the shared lock,
`flock /tmp/nstutor-lesson.lock /opt/nstutor/bin/python -m pytest tests/test_attempts_context.py`.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import sh
from tutor.checks.runner import grade_step
from tutor.lessons.catalog import load_catalog
from tutor.observe.snapshot import take_snapshot
from tutor.progress import ProgressStore

STEP = "switch"


@pytest.fixture
def bridge_lesson():
    if Path("/sys/class/net/nsbr0").exists():
        pytest.skip("nsbr0 already exists (another test without the lock?); not touching it")
    lesson = next(l for l in load_catalog().lessons if l.id == "bridge")
    yield lesson
    sh("ip link del nsbr0", check=False)


@pytest.fixture
def store(tmp_path):
    s = ProgressStore.open(tmp_path / "data" / "progress.db")
    yield s
    s.close()


def grade_and_record(store, lesson) -> None:
    """One background round of the app with `switch` selected: grade the real kernel, record."""
    snap = take_snapshot()
    results = [grade_step(step, snap, probes=False, lesson=lesson) for step in lesson.steps]
    store.record_check(lesson, results, "app", in_front=STEP, observed_at=snap.taken_at)


def churn(store, lesson, uid: str, links: list[str], times: int = 3) -> None:
    """Something else adds and deletes a veth pair in the host, graded while it is there and after."""
    for n in range(times):
        name = f"{uid}a{n}"
        sh(f"ip link add {name} type veth peer name {uid}b{n}")
        links.append(name)
        assert Path(f"/sys/class/net/{name}").exists()
        grade_and_record(store, lesson)
        sh(f"ip link del {name}")
        grade_and_record(store, lesson)


def counts(store, lesson) -> tuple[int, int]:
    step = store.lesson_progress(lesson)[STEP]
    return step.attempts, step.failed_attempts


@pytest.mark.needs_root
def test_interfaces_that_come_and_go_elsewhere_are_no_attempt(bridge_lesson, store, uid, links):
    grade_and_record(store, bridge_lesson)             # the app opens: the baseline
    churn(store, bridge_lesson, uid, links)
    assert counts(store, bridge_lesson) == (0, 0), store.attempts("bridge", STEP)


@pytest.mark.needs_root
def test_a_detour_on_the_steps_own_object_still_counts_once(bridge_lesson, store, uid, links):
    grade_and_record(store, bridge_lesson)
    churn(store, bridge_lesson, uid, links, times=1)
    # The learner makes nsbr0 with a typo in its address, then deletes it again: one mistake.
    sh("ip link add nsbr0 type bridge")
    sh("ip addr add 10.22.0.11/24 dev nsbr0")
    grade_and_record(store, bridge_lesson)
    churn(store, bridge_lesson, uid, links, times=1)   # unrelated churn in the middle changes nothing
    sh("ip link del nsbr0")
    grade_and_record(store, bridge_lesson)
    churn(store, bridge_lesson, uid, links, times=1)
    assert counts(store, bridge_lesson) == (1, 1), store.attempts("bridge", STEP)


@pytest.mark.needs_root
def test_network_namespaces_that_come_and_go_elsewhere_are_no_attempt(store, netns, uid):
    """The same for the list of network namespaces ("network namespaces: host, ntab12, ..."): lesson
    netns-veth on step `rooms`, another tool making and deleting named namespaces of its own."""
    if any(Path(f"/run/netns/{n}").exists() for n in ("RED", "BLUE")):
        pytest.skip("RED or BLUE already exists (another test without the lock?)")
    lesson = next(l for l in load_catalog().lessons if l.id == "netns-veth")

    def grade() -> None:
        snap = take_snapshot()
        results = [grade_step(step, snap, probes=False, lesson=lesson) for step in lesson.steps]
        store.record_check(lesson, results, "app", in_front="rooms", observed_at=snap.taken_at)

    grade()
    for n in range(3):
        name = netns(f"x{n}")
        grade()
        sh(f"ip netns del {name}")
        grade()
    rooms = store.lesson_progress(lesson)["rooms"]
    assert (rooms.attempts, rooms.failed_attempts) == (0, 0), store.attempts("netns-veth", "rooms")
