"""What an expectation names (Expectation.refers_to), and the live panel's focus built from it.

The panel highlights a lesson's objects: its focus (tutor/app/panel/focus.py) is what the lesson's
cleanup declares and what its expectations name. An expectation says what it names through its
fields (a field that takes a netns reference, an interface or a process selector says so), so the
focus sees every selector a kind takes, a new kind's included, without knowing its fields.
Pure logic on made-up snapshots: no root, no kernel.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import sys

import pytest

import test_views as tv          # the snapshot builders (a module import, so its tests are not collected twice)
from test_lessons import lesson_text
from tutor.app.panel.focus import focus_from, lesson_focus
from tutor.checks.base import (LINK, PROCESS, Field, LinkRef, NetnsRef, ProcessRef, naming, v_ifref, v_list_of,
                               v_str)
from tutor.checks.registry import KINDS, build, load_kinds
from tutor.checks.runner import grade_step
from tutor.cli import main
from tutor.lessons import parse_lesson
from tutor.observe.model import frozen_map


def test_the_parent_and_absent_in_selectors_are_highlighted(tmp_path):
    """Lesson 15's `parent: {comm: pause}` and lesson 14's `absent_in: ' app-b$'` name processes:
    the panel highlights them as it does a pod's members."""
    focus = focus_from(None, [
        ("parent", {"cmdline": "^sleep 1001$", "parent": {"comm": "pause"}}),
        ("file", {"cmdline": "app-a$", "path": "/tmp/from-app-a", "absent_in": "app-b$"}),
    ])
    pids = focus.resolve(tv.pod_snapshot()).pids
    assert pids == {611, 700, 710, 720}      # sleep 1001, its parent the pause, app-a, and app-b it must not see


# =============================================================== every shipped kind says what it names
def exps(*items):
    return [build(item) for item in items]


def test_a_kind_names_what_its_fields_take():
    veth, bridge, address, listening, pod, masquerade = exps(
        {"veth": {"ends": ["RED/veth0", "veth1"]}},                       # a bare end is the host's
        {"bridge": {"dev": "node2/cni0", "ports": ["veth-pod1"]}},        # ports are beside the bridge
        {"address": {"dev": "veth0", "netns": "c1", "cidr": "10.22.0.2/24"}},
        {"listening": {"netns": {"netns_of": {"comm": "pause"}}, "port": 80, "process": "app-a"}},
        {"pod": {"pause": {"comm": "pause"}, "members": ["app-a", {"cmdline": "app-b"}]}},
        {"masquerade": {"source": "10.22.0.0/24", "not_out": "nsbr0"}})
    assert list(veth.refers_to()) == [LinkRef("veth0", "RED"), LinkRef("veth1", None)]
    assert list(bridge.refers_to()) == [LinkRef("cni0", "node2"), LinkRef("veth-pod1", "node2")]
    assert list(address.refers_to()) == [LinkRef("veth0", "c1"), NetnsRef("c1")]
    assert list(listening.refers_to()) == [NetnsRef({"netns_of": {"comm": "pause"}}), ProcessRef("app-a")]
    assert list(pod.refers_to()) == [ProcessRef({"comm": "pause"}), ProcessRef("app-a"), ProcessRef({"cmdline": "app-b"})]
    assert list(masquerade.refers_to()) == [LinkRef("nsbr0", None)]
    (route,) = exps({"route": {"netns": {"netns_of": {"comm": "pause"}}, "dst": "default", "dev": "eth0"}})
    assert list(route.refers_to()) == [NetnsRef({"netns_of": {"comm": "pause"}}),
                                       LinkRef("eth0", {"netns_of": {"comm": "pause"}})]
    focus = focus_from(None, [route])          # a process's netns: the panel follows the process
    assert focus.processes == ({"comm": "pause"},) and not focus.links
    assert focus.resolve(tv.pod_snapshot()).named_netns == {tv.POD_NET}


def test_process_kinds_name_their_subject_and_the_processes_inside_their_fields():
    parent, file, process = exps(
        {"parent": {"cmdline": "^sleep 1014$", "parent": {"comm": "pause"}}},
        {"file": {"cmdline": "^app-a ", "path": "/tmp/x", "absent_in": " app-b$"}},
        {"process": {"comm": "sleep", "shared_with": {"process": {"comm": "init"}, "types": ["net"]}}})
    assert list(parent.refers_to()) == [ProcessRef({"cmdline": "^sleep 1014$"}), ProcessRef({"comm": "pause"})]
    assert list(file.refers_to()) == [ProcessRef({"cmdline": "^app-a "}), ProcessRef(" app-b$")]
    assert list(process.refers_to()) == [ProcessRef({"comm": "sleep"}), ProcessRef({"comm": "init"})]


def test_a_field_declares_only_what_can_be_named():
    with pytest.raises(ValueError, match="names one of netns, link, process"):
        Field(v_str, names="cgroup")
    with pytest.raises(ValueError, match="names one of"):
        naming("cgroup")
    assert Field(v_list_of(v_ifref)).names == LINK and Field(v_str).names is None
    assert Field(v_str, names=PROCESS).names == PROCESS


# =============================================================== a new kind is one file
NEW_KIND = '''\
"""nt_wide_link: an interface whose MTU is at least a size (a kind made by tests/test_kind_names.py)."""
from tutor.checks.base import Expectation, Field, v_ifref, v_int, v_selector
from tutor.checks.refs import Missing, netns_ref_problem, resolve_link
from tutor.checks.registry import register
from tutor.checks.select import select


@register
class WideLink(Expectation):
    kind = "nt_wide_link"
    fields = {
        "dev": Field(v_ifref, required=True, doc="RED/veth0"),
        "netns": Field(netns_ref_problem, doc="the netns, if dev does not say it"),
        "mtu_at_least": Field(v_int, required=True),
        "used_by": Field(v_selector, doc="a process that must be running beside it"),
    }

    def grade(self, snap):
        found = resolve_link(snap, self.dev, self.netns)
        if isinstance(found, Missing):
            return self.fail(*found)
        ns, link = found
        if self.used_by is not None and not select(snap, self.used_by):
            return self.fail(f"mtu {link.mtu}; no process {self.used_by}", "start it")
        if link.mtu < self.mtu_at_least:
            return self.fail(f"mtu {link.mtu}", f"raise it: ip link set {link.name} mtu {self.mtu_at_least}")
        return self.ok(f"mtu {link.mtu}")
'''

NEW_KIND_STEP = """\
```check
id: wide
title: A wide veth0
expect:
  - nt_wide_link: {{dev: RED/veth0, mtu_at_least: {size}, used_by: {{comm: pause}}}}
hint: ip -n RED link set veth0 mtu {size}
solution: |
  ip -n RED link set veth0 mtu {size}
```
"""


@pytest.fixture
def new_kind(tmp_path):
    """The kind of NEW_KIND, from a file of its own in tmp_path: importing it runs its @register, as
    for the shipped kinds. Afterwards the registry is as it was."""
    before = dict(load_kinds())
    path = tmp_path / "nt_wide_link_kind.py"
    path.write_text(NEW_KIND)
    spec = importlib.util.spec_from_file_location("nt_wide_link_kind", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module.WideLink
    finally:
        sys.modules.pop(spec.name, None)
        KINDS.clear()
        KINDS.update(before)
    assert "nt_wide_link" not in load_kinds()


def test_a_new_kind_in_a_file_of_its_own_is_linted_graded_and_focused(new_kind, tmp_path, capsys):
    assert KINDS["nt_wide_link"] is new_kind
    # linted: a wrong field is the lesson lint's error, at its line
    bad = tmp_path / "05-wide.md"
    bad.write_text(lesson_text(NEW_KIND_STEP.format(size="wide")))
    assert main(["lint", str(bad)]) == 1
    assert f"{bad}:14: step 'wide': 'nt_wide_link.mtu_at_least': must be a whole number" in capsys.readouterr().out
    good = tmp_path / "06-wide.md"
    good.write_text(lesson_text(NEW_KIND_STEP.format(size=1400), "id: wide\ntitle: Wide\nminutes: 1\n"))
    assert main(["lint", str(good)]) == 0
    lesson, problems = parse_lesson(good)
    assert problems == [] and isinstance(lesson.steps[0].expectations[0], new_kind)

    # graded, on a made-up snapshot: veth0 in RED has MTU 1500, and the pause runs
    snap = tv.pod_snapshot()
    assert grade_step(lesson.steps[0], snap).passed
    narrow = dataclasses.replace(snap, netns=frozen_map({**snap.netns, tv.RED: tv.netns(
        tv.RED, ["RED"], [tv.lo(tv.RED), tv.link(tv.RED, 5, "veth0", "veth", mtu=1280)])}))
    failed = grade_step(lesson.steps[0], narrow)
    assert not failed.passed and failed.verdicts[0].message == "raise it: ip link set veth0 mtu 1400"

    # focused: the panel highlights the netns, the interface and the process it names
    focus = lesson_focus(lesson)
    assert focus.netns == {"RED"} and focus.links == {"RED/veth0"} and focus.processes == ({"comm": "pause"},)
    res = focus.resolve(snap)
    assert res.pids == {700} and (tv.RED, "veth0") in res.links and tv.RED in res.named_netns
