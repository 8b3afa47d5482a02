"""A lesson's own names are never each other's mistakes (found by a walk-through of the NAT pack).

natlan and natwan differ by one letter, and both are the lesson's: neither may be called a typo
of the other (a stray, which reset would offer to delete). And natlan/eth0, which the lesson
wants where it is, must not be offered as the eth0 to move into natwan. Names here: olan, owan,
ortr (one letter apart, as in the lesson), with a test-unique suffix.
"""
from __future__ import annotations

import subprocess
import uuid

import pytest

from conftest import sh
from tutor.checks.runner import grade_step
from tutor.lessons.parse import parse_lesson
from tutor.observe import take_snapshot

LESSON = """\
---
id: own-names
title: Two namespaces one letter apart
minutes: 5
cleanup: {{netns: [{rtr}, {lan}, {wan}]}}
---
# Own names

```check
id: rooms
title: Both namespaces
expect:
  - netns: {lan}
  - netns: {wan}
hint: ip netns add {lan}
solution: ip netns add {lan}; ip netns add {wan}
```

```check
id: lan
title: The inside cable
expect:
  - veth: {{ends: [{rtr}/lan0, {lan}/eth0]}}
hint: ip -n {rtr} link add lan0 type veth peer name eth0 netns {lan}
solution: ip -n {rtr} link add lan0 type veth peer name eth0 netns {lan}
```

```check
id: wan
title: The outside cable
expect:
  - veth: {{ends: [{rtr}/wan0, {wan}/eth0]}}
  - address: {{dev: {wan}/eth0, cidr: 192.0.2.9/24}}
hint: ip -n {rtr} link add wan0 type veth peer name eth0 netns {wan}
solution: ip -n {rtr} link add wan0 type veth peer name eth0 netns {wan}
```
"""


@pytest.fixture
def lesson(tmp_path):
    tag = uuid.uuid4().hex[:4]
    names = {"lan": f"olan{tag}", "wan": f"owan{tag}", "rtr": f"ortr{tag}"}
    path = tmp_path / "01-own-names.md"
    path.write_text(LESSON.format(**names))
    parsed, problems = parse_lesson(path)
    assert parsed is not None and not problems, problems
    yield parsed, names
    for netns in names.values():
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)


def _step(lesson, step_id):
    step = lesson.step(step_id)
    return grade_step(step, take_snapshot(), probes=False, lesson=lesson)


@pytest.mark.needs_root
def test_two_names_of_the_lesson_are_not_typos_of_each_other(lesson):
    parsed, names = lesson
    sh(f"ip netns add {names['lan']}")
    only_lan = _step(parsed, "rooms")
    assert not only_lan.passed
    text = " ".join(v.message for v in only_lan.verdicts)
    assert f"ip netns add {names['wan']}" in text and "typo" not in text and "ip netns del" not in text
    sh(f"ip netns add {names['wan']}")
    both = _step(parsed, "rooms")
    assert both.passed and not [s for v in both.verdicts for s in v.strays]
    assert "beside it" not in " ".join(v.observed for v in both.verdicts)


@pytest.mark.needs_root
def test_a_link_the_lesson_wants_where_it_is_is_not_offered_to_move(lesson):
    parsed, names = lesson
    for netns in names.values():
        sh(f"ip netns add {netns}")
    sh(f"ip -n {names['rtr']} link add lan0 type veth peer name eth0 netns {names['lan']}")
    assert _step(parsed, "lan").passed
    wan = _step(parsed, "wan")
    text = " ".join(v.message for v in wan.verdicts)
    assert not wan.passed
    assert f"link set eth0 netns {names['wan']}" not in text, text
    assert f"ip -n {names['rtr']} link add wan0 type veth peer name eth0 netns {names['wan']}" in text
