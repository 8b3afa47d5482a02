"""The learner's strays, recognised by the kinds (Verdict.strays) and named with their removal.

Every object here carries the test's unique prefix, so these tests need no lock; the reset of the
shipped lessons (their fixed names) is in tests/test_reset_strays.py. The NAT rule strays are in
tests/test_kinds_nat.py, beside the rule fixture.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import sh, wait_until
from kinds_process_support import assert_fail, assert_pass, number, wait_proc
from tutor.checks.base import Stray
from tutor.checks.registry import build
from tutor.checks.runner import wants_of, wants_of_steps
from tutor.checks.strays import typo_of
from tutor.observe import take_snapshot


def grade(item: dict):
    exp = build(item)
    return exp.grade(take_snapshot(wants=wants_of([exp])))


# --------------------------------------------------------------- what counts as a typo
@pytest.mark.parametrize("candidate,wanted,kind", [
    ("Hello", "hello", "a case typo"), ("red", "RED", "a case typo"), ("Red", "RED", "a case typo"),
    ("hellp", "hello", "a one-letter typo"), ("helo", "hello", "a one-letter typo"),
    ("hlelo", "hello", "a one-letter typo"), ("Hellp", "hello", "a one-letter typo"),
    ("BLU", "BLUE", "a one-letter typo"),
])
def test_typos(candidate, wanted, kind):
    assert typo_of(candidate, wanted) == kind


@pytest.mark.parametrize("candidate,wanted", [
    ("hello", "hello"), ("hello2", "hello"), ("Helloworld", "hello"), ("redis", "RED"), ("REF", "RED"),
    ("blue-team", "BLUE"), ("c2", "c1"), ("node4", "node1"), ("pod-3", "pod-1"), ("helloo", "hello"),
])
def test_names_of_their_own_are_not_typos(candidate, wanted):
    assert typo_of(candidate, wanted) is None


def test_a_stray_shows_its_command_quoted_and_keeps_the_argv():
    stray = Stray("netns x", ("ip", "netns", "del", "a b;c"))
    assert stray.command == "ip netns del 'a b;c'"
    assert stray.as_dict() == {"what": "netns x", "remove": ["ip", "netns", "del", "a b;c"],
                               "command": "ip netns del 'a b;c'"}


# --------------------------------------------------------------- netns
@pytest.mark.needs_root
def test_netns_typos_are_named_with_their_removal_and_decoys_are_not(netns, uid):
    case, edit = netns("Hello"), netns("hellp")
    netns("hello2"), netns("Helloworld"), netns("Hell0")            # decoys: names of their own
    want = f"{uid}hello"
    v = grade({"netns": want})
    assert not v.passed
    assert f"there is no network namespace {want}, but there is {case}: names are case-sensitive" in v.message
    assert f"ip netns add {want}" in v.message and f"ip netns del {case}" in v.message
    assert {s.remove for s in v.strays} == {("ip", "netns", "del", case), ("ip", "netns", "del", edit)}
    assert any(s.what == f"netns {edit} (a one-letter typo of {want})" for s in v.strays)

    netns("hello")                                  # the right one beside them: a pass that still names them
    v = grade({"netns": {"name": want, "only_lo": True}})
    assert v.passed
    assert {s.remove[-1] for s in v.strays} == {case, edit}
    assert f"; beside it netns {case} (a case typo of {want}): ip netns del {case}" in v.observed


@pytest.mark.needs_root
def test_one_letter_typo_message_and_other_kinds_name_the_removal(netns, uid):
    edit = netns("hellp")
    want = f"{uid}hello"
    v = grade({"veth": {"ends": [f"{want}/veth0", "veth1"]}})
    assert not v.passed
    assert f"but there is {edit}: a one-letter typo of {want}" in v.message
    assert f"ip netns add {want}; remove the stray: ip netns del {edit}" in v.message


@pytest.mark.needs_root
def test_a_name_with_shell_characters_is_shown_quoted_and_removed_as_is(uid):
    odd = f"{uid}hel o"                              # one letter (l -> space) off; iproute2 accepts it
    sh(f"ip netns add '{odd}'")
    try:
        v = grade({"netns": f"{uid}hello"})
        assert v.strays == (Stray(f"netns '{odd}' (a one-letter typo of {uid}hello)", ("ip", "netns", "del", odd)),)
        assert f"ip netns del '{odd}'" in v.message
        subprocess.run(list(v.strays[0].remove), check=True)
        assert not os.path.exists(f"/run/netns/{odd}")
    finally:
        sh(f"ip netns del '{odd}'", check=False)


# --------------------------------------------------------------- a veth end left in the host
@pytest.mark.needs_root
def test_a_veth_end_left_in_the_host_is_a_stray(netns, links, uid):
    red, blue = netns("RED"), netns("BLUE")
    end = f"{uid}v0"
    sh(f"ip link add {end} type veth peer name {uid}v1 netns {blue}")
    links.append(end)
    v = grade({"veth": {"ends": [f"{red}/{end}", f"{blue}/{uid}v1"]}})
    assert not v.passed
    assert f"ip link set {end} netns {red}" in v.message
    assert f"(or, to start over, remove the stray: ip link del {end})" in v.message
    assert v.strays == (Stray(f"the veth {end} in the root netns (meant for {red})", ("ip", "link", "del", end)),)

    sh(f"ip link set {end} netns {red}")           # where it belongs: no stray
    assert grade({"veth": {"ends": [f"{red}/{end}", f"{blue}/{uid}v1"]}}).strays == ()


@pytest.mark.needs_root
def test_a_host_link_with_an_address_is_never_a_stray(netns, links, uid):
    red, blue = netns("RED"), netns("BLUE")
    end = f"{uid}v0"
    sh(f"ip link add {end} type veth peer name {uid}v1 netns {blue}")
    links.append(end)
    sh(f"ip addr add 198.51.100.{int(uid[2:], 16) % 250 + 1}/32 dev {end}")   # the host uses it now
    v = grade({"veth": {"ends": [f"{red}/{end}", f"{blue}/{uid}v1"]}})
    assert not v.passed and v.strays == ()


# --------------------------------------------------------------- a file made in the host's mount namespace
def container(spawn, n: str) -> int:
    """`sleep N` in its own mount namespace with its own tmpfs on /tmp (like lesson 14's app-a)."""
    spawn(f"unshare --mount --propagation private sh -c 'mount -t tmpfs nstutor-{n} /tmp && exec sleep {n}'")
    pid, = wait_proc(f"^sleep {n}$")
    return pid


@pytest.mark.needs_root
def test_a_file_made_in_the_host_fails_the_step_and_is_a_stray(spawn, uid):
    n = number(uid, 8013)
    pid = container(spawn, n)
    path, keep = f"/tmp/{uid}-from-a", f"/tmp/{uid}-from-a-keep"
    item = {"file": {"cmdline": f"^sleep {n}$", "path": path, "absent_from_host": True}}
    try:
        subprocess.run(["nsenter", f"--target={pid}", "--mount", "sh", "-c", f"echo hi > {path}"], check=True)
        assert_pass(item)
        with open(path, "w") as f:                  # the learner forgot --mount once
            f.write("hi\n")
        with open(keep, "w") as f:                  # a decoy: another name
            f.write("mine\n")
        v = assert_fail(item, f"A {path} also exists in the host's mount namespace",
                        f"Remove the stray: rm {path}")
        assert v.strays == (Stray(f"the file {path} in the host's mount namespace (made without --mount)",
                                  ("rm", path)),)
        subprocess.run(list(v.strays[0].remove), check=True)
        assert_pass(item)
        assert os.path.exists(keep)
    finally:
        for p in (path, keep):
            if os.path.exists(p):
                os.unlink(p)


@pytest.mark.needs_root
def test_the_host_file_is_a_stray_even_when_the_container_is_gone(uid):
    path = f"/tmp/{uid}-from-a"
    item = {"file": {"cmdline": f"^sleep {number(uid, 9013)}$", "path": path, "absent_from_host": True}}
    try:
        with open(path, "w") as f:
            f.write("hi\n")
        v = grade(item)
        assert not v.passed and v.strays and v.strays[0].remove == ("rm", path)
        os.unlink(path)
        os.mkdir(path)                              # not a regular file: never offered for removal
        assert grade(item).strays == ()
    finally:
        if os.path.isdir(path):
            os.rmdir(path)
        elif os.path.exists(path):
            os.unlink(path)
    wait_until(lambda: not os.path.exists(path), what="cleanup")


# --------------------------------------------------------------- wrong addresses on the lesson's device
@pytest.mark.needs_root
def test_wrong_addresses_on_the_lesson_device_are_strays(netns, uid):
    red, blue = netns("R"), netns("B")
    sh(f"ip link add veth0 netns {red} type veth peer name veth1 netns {blue}")
    sh(f"ip -n {red} link add other0 type veth peer name other1")         # a second link in RED
    item = {"address": {"dev": f"{red}/veth0", "cidr": "10.11.11.2/24"}}
    sh(f"ip -n {red} addr add 10.11.11.2/16 dev veth0")                 # the prefix length mistyped
    sh(f"ip -n {blue} addr add 10.11.11.2/24 dev veth1")                # another netns: never a stray
    v = grade(item)
    assert not v.passed
    assert v.strays == (Stray(f"the address 10.11.11.2/16 on veth0 in {red} (the lesson's IP with another prefix "
                              "length)", ("ip", "-n", red, "addr", "del", "10.11.11.2/16", "dev", "veth0")),)
    assert f"ip -n {red} addr del 10.11.11.2/16 dev veth0" in v.message
    subprocess.run(list(v.strays[0].remove), check=True)

    sh(f"ip -n {red} addr add 10.11.11.2/24 dev other0")                # the right IP on the wrong device
    v = grade(item)
    assert [s.remove for s in v.strays] == [("ip", "-n", red, "addr", "del", "10.11.11.2/24", "dev", "other0")]
    assert "the IP meant for veth0" in v.strays[0].what
    subprocess.run(list(v.strays[0].remove), check=True)
    sh(f"ip -n {red} addr add 10.11.11.2/24 dev veth0")
    sh(f"ip -n {blue} addr del 10.11.11.2/24 dev veth1")
    v = grade(item)
    assert v.passed and v.strays == ()


@pytest.mark.needs_root
def test_a_lesson_never_calls_one_of_its_own_names_a_stray(netns, uid, tmp_path):
    from tutor.checks.strays import lesson_strays
    from tutor.lessons.parse import parse_lesson
    a, b = f"{uid}nodea", f"{uid}nodeb"           # one letter apart, both the lesson's own
    text = (f"---\nid: demo\ntitle: Demo\nminutes: 5\ncleanup: {{netns: [{a}, {b}]}}\n---\n# Demo\n\n"
            "```check\nid: one\ntitle: One\nexpect:\n"
            f"  - netns: {a}\n  - netns: {b}\nhint: x\nsolution: |\n  true\n```\n")
    path = tmp_path / "demo.md"
    path.write_text(text)
    lesson, problems = parse_lesson(path)
    assert lesson is not None, problems
    netns("nodea"), netns("nodeb"), netns("nodeA")
    assert grade({"netns": a}).strays != ()      # the kind alone cannot know nodeb is the lesson's
    assert [s.remove[-1] for s in lesson_strays(lesson, take_snapshot(wants=wants_of_steps(lesson.steps)))] == [f"{uid}nodeA"]


def test_a_stray_beside_a_right_object_is_shown_where_the_learner_looks(netns, uid, tmp_path):
    """A green step with the learner's near miss beside it (hello made, and Hello too): the step
    stays green, and `nstutor check` and the app's step card both say what sits beside it and the
    command that removes it (the walk-through found it only in --json)."""
    from rich.console import Console
    from tutor.app.state import StepState
    from tutor.app.widgets.step_card import card_body
    from tutor.cli import step_lines
    from tutor.checks.runner import grade_step
    from tutor.lessons import parse_lesson
    right = netns("hello")
    typo = netns("Hello")
    path = tmp_path / "01-typo.md"
    path.write_text(f"---\nid: typo\ntitle: Typo\n---\n# Typo\n\n```check\nid: made\ntitle: make it\n"
                    f"expect:\n  - netns: {{name: {right}}}\n```\n")
    lesson, problems = parse_lesson(path)
    assert lesson is not None, problems
    result = grade_step(lesson.steps[0], take_snapshot(), lesson=lesson)
    assert result.passed
    state = StepState(lesson.steps[0])
    state.result = result
    console = Console(width=200, record=True, file=open(os.devnull, "w"))
    console.print(card_body(state, selected=True))
    card = console.export_text()
    assert f"beside it: netns {typo}" in card and f"ip netns del {typo}" in card, card
    cli = "\n".join(step_lines(result))
    assert cli.startswith("  PASS") and f"beside it: netns {typo}" in cli and f"ip netns del {typo}" in cli, cli
