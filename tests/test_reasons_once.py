"""A step whose expectations fail for one reason says that reason once (issue 12's walk-through: a fresh
bridge step said "no bridge nsbr0" and "no interface nsbr0"; real-pod's members step said "there is no pod
podweb" with and without "the pause: " in front), while different reasons all stay."""
from __future__ import annotations

import pytest

from tutor.checks.registry import build
from tutor.checks.runner import distinct_reasons, grade_step, wants_of
from tutor.cli import step_lines
from tutor.lessons.model import Step
from tutor.observe import take_snapshot


def test_the_same_missing_object_in_other_words_is_one_reason():
    reasons = ["the root netns has no bridge nsbr0: ip link add nsbr0 type bridge",
               "the root netns has no interface nsbr0; it has eth0, lo",
               "c1 has no interface nsbr0; it has lo"]       # another netns: another reason
    assert distinct_reasons(reasons) == [reasons[0], reasons[2]]


def test_a_reason_under_a_short_label_is_the_same_reason_either_way_round():
    pod = "there is no pod podweb: podman pod create --name podweb"
    assert distinct_reasons([f"the pause: {pod}", pod]) == [f"the pause: {pod}"]
    assert distinct_reasons([pod, f"the pause: {pod}"]) == [pod]


def test_a_reason_said_again_with_more_after_it_is_said_once_the_longer_way():
    short = "`sleep 1008` is not running: start it first, then look for it: pgrep -a -f '^sleep 1008$'."
    longer = short + " If unshare --user printed 'Operation not permitted', this system does not let ..."
    assert distinct_reasons([short, longer]) == [longer]
    assert distinct_reasons([longer, short]) == [longer]


def test_different_reasons_with_the_same_fix_all_stay():
    reasons = ["the container web (docker) cannot be found: dockerd is not running",
               "docker0 is dockerd's own bridge, made when dockerd starts: dockerd is not running",
               "c1 has no route to 10.1.0.0/16: ip -n c1 route add 10.1.0.0/16 via 10.22.0.1",
               "c1 has no route to 10.2.0.0/16: ip -n c1 route add 10.2.0.0/16 via 10.22.0.1",
               "there is no network namespace c1: ip netns add c1",
               "there is no network namespace c2: ip netns add c2"]
    assert distinct_reasons(reasons) == reasons


@pytest.mark.needs_root
def test_a_missing_bridge_is_said_once_by_nstutor_check(uid):
    """Graded against this machine, where no bridge of this name exists: two kinds fail on it, the
    CLI says it once, and both verdicts still say it (the JSON keeps every expectation's own words)."""
    exps = (build({"bridge": {"dev": f"{uid}br"}}),
            build({"address": {"dev": f"{uid}br", "cidr": "10.22.0.1/24"}}))
    step = Step("switch", "a bridge", exps, (), "", 1)
    result = grade_step(step, take_snapshot(wants=wants_of(exps)))
    assert not result.passed and len(result.failures) == 2
    assert f"no interface {uid}br" in result.failures[1].message, result.failures[1]
    lines = step_lines(result)
    assert [line for line in lines if f"{uid}br" in line and line.lstrip().startswith("-")] == [
        f"        - the root netns has no bridge {uid}br: ip link add {uid}br type bridge"], lines
