"""The veth kind must not offer another pair's end as the missing end of this pair.

Found on lesson 11 (bridge): with veth-c1 <-> c1/eth0 made and c2's pair not yet, the check
`veth: {ends: [veth-c2, c2/eth0]}` said "eth0 is in c1, expected c2: ip -n c1 link set eth0 netns c2",
which would have moved c1's (correct) cable into c2 and broken step 1. A link of the missing end's
name elsewhere is only offered for a move when it is an end of THIS pair: its peer is the pair's
other end (the one found, or, when that is missing too, one of the other end's name).

Every name carries a `vfx` tag; namespaces and host links are removed by finalizers, even on failure.
"""
from __future__ import annotations

import secrets

import pytest

from conftest import sh

pytestmark = pytest.mark.needs_root


@pytest.fixture
def vfx(request):
    """A unique `vfx` tag, and factories for namespaces and host links that are removed at teardown."""
    tag = "vfx" + secrets.token_hex(2)

    class Made:
        def __init__(self):
            self.tag = tag

        def netns(self, suffix: str) -> str:
            name = f"{tag}{suffix}"
            sh(f"ip netns add {name}")
            request.addfinalizer(lambda: sh(f"ip netns del {name}", check=False))
            return name

        def host_link(self, suffix: str) -> str:
            name = f"{tag}{suffix}"
            request.addfinalizer(lambda: sh(f"ip link del {name}", check=False))
            return name

    return Made()


from test_kinds_network import grade  # noqa: E402  (the same helper: build, snapshot, grade)


def bridge_lesson_step1(vfx):
    """c1 and c2, and c1's cable made as lesson 11 makes it: host end <-> c1/eth0."""
    c1, c2 = vfx.netns("a"), vfx.netns("b")
    h1 = vfx.host_link("h1")
    sh(f"ip link add {h1} type veth peer name eth0 netns {c1}")
    assert grade({"veth": {"ends": [h1, f"{c1}/eth0"]}}).passed
    return c1, c2, h1


def test_the_other_pairs_eth0_is_not_offered_when_this_pair_does_not_exist(vfx):
    c1, c2, h1 = bridge_lesson_step1(vfx)
    h2 = vfx.host_link("h2")
    v = grade({"veth": {"ends": [h2, f"{c2}/eth0"]}})
    assert not v.passed
    assert f"link set eth0 netns" not in v.message, v.message
    assert v.message == f"the pair does not exist yet: ip link add {h2} type veth peer name eth0 netns {c2}"
    assert v.strays == ()
    # the advice works, and leaves step 1 as it was
    sh(f"ip link add {h2} type veth peer name eth0 netns {c2}")
    assert grade({"veth": {"ends": [h2, f"{c2}/eth0"]}}).passed
    assert grade({"veth": {"ends": [h1, f"{c1}/eth0"]}}).passed


def test_the_other_pairs_eth0_is_not_offered_when_this_pairs_far_end_has_another_name(vfx):
    """The host end exists, its peer went into c2 under another name: rename it, do not move c1's eth0."""
    c1, c2, h1 = bridge_lesson_step1(vfx)
    h2 = vfx.host_link("h2")
    sh(f"ip link add {h2} type veth peer name eth1 netns {c2}")
    v = grade({"veth": {"ends": [h2, f"{c2}/eth0"]}})
    assert not v.passed
    assert f"link set eth0 netns" not in v.message, v.message
    assert v.message == (f"{h2}'s peer is eth1 in {c2}, expected eth0 in {c2}: "
                         f"ip -n {c2} link set eth1 down; ip -n {c2} link set eth1 name eth0")


def test_the_other_pairs_eth0_is_not_offered_when_this_pairs_far_end_is_in_the_host(vfx):
    c1, c2, h1 = bridge_lesson_step1(vfx)
    h2, p2 = vfx.host_link("h2"), vfx.host_link("p2")
    sh(f"ip link add {h2} type veth peer name {p2}")
    v = grade({"veth": {"ends": [h2, f"{c2}/eth0"]}})
    assert not v.passed
    assert f"link set eth0 netns" not in v.message, v.message
    assert v.message.startswith(f"{h2}'s peer is {p2} in the root netns, expected eth0 in {c2}: "
                                f"ip link set {p2} netns {c2}"), v.message


def test_this_pairs_end_made_in_a_wrong_netns_is_found_beside_the_other_pairs_eth0(vfx):
    """c2's eth0 really was made in a third netns (which sorts after c1): that one is to be moved."""
    c1, c2, h1 = bridge_lesson_step1(vfx)
    c3 = vfx.netns("c")
    h2 = vfx.host_link("h2")
    sh(f"ip link add {h2} type veth peer name eth0 netns {c3}")
    v = grade({"veth": {"ends": [h2, f"{c2}/eth0"]}})
    assert not v.passed
    assert v.message == f"eth0 is in {c3}, expected {c2}: ip -n {c3} link set eth0 netns {c2}"
    sh(f"ip -n {c3} link set eth0 netns {c2}")
    assert grade({"veth": {"ends": [h2, f"{c2}/eth0"]}}).passed
    assert grade({"veth": {"ends": [h1, f"{c1}/eth0"]}}).passed


def test_a_whole_pair_made_in_the_wrong_netns_is_still_offered_for_a_move(vfx):
    """Both ends missing where the check wants them, the pair itself made elsewhere: move it, not the
    veth0 of another pair in a netns that sorts first."""
    other, made, far = vfx.netns("a"), vfx.netns("z"), vfx.netns("b")
    red, blue = vfx.netns("c"), vfx.netns("d")
    sh(f"ip link add veth0 netns {other} type veth peer name veth9 netns {far}")   # another pair's veth0
    sh(f"ip link add veth0 netns {made} type veth peer name veth1 netns {far}")
    v = grade({"veth": {"ends": [f"{red}/veth0", f"{blue}/veth1"]}})
    assert not v.passed
    assert v.message == f"veth0 is in {made}, expected {red}: ip -n {made} link set veth0 netns {red}"


def test_a_pair_made_in_the_host_with_the_wrong_peer_name_is_still_the_learners_attempt(vfx):
    """The netns-veth slip `ip link add veth0 type veth peer name veth2` (no netns, wrong peer): both
    ends are in the root netns, so veth0 is this pair's end made in the wrong place, not another
    pair's cable. It is offered for the move and named as the learner's stray (reset removes it),
    not hidden behind "the pair does not exist yet" (tests/test_attempts_live.py counts it as a
    failed attempt)."""
    red, blue = vfx.netns("r"), vfx.netns("b")
    end, wrong = vfx.host_link("v0"), vfx.host_link("v2")
    sh(f"ip link add {end} type veth peer name {wrong}")
    v = grade({"veth": {"ends": [f"{red}/{end}", f"{blue}/{vfx.tag}v1"]}})
    assert not v.passed
    assert f"ip link set {end} netns {red}" in v.message, v.message
    assert [s.remove for s in v.strays] == [("ip", "link", "del", end)], v.strays
