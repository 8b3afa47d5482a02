"""reachable: when a namespace that routes the packet on the way has IP forwarding off, the
failed probe says so, names that namespace, and gives the sysctl that fixes it (lesson 17's
nodes are routers; forwarding is per network namespace).

A chain of three namespaces made by the test: A -- R -- B, R routing between two subnets.
Packets only travel between them. Forwarding is only ever changed inside R.
"""
from __future__ import annotations

import pytest

from conftest import sh
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root


def grade(item):
    exp = build(item)
    return grade_expectation(exp, take_snapshot(wants=wants_of([exp])))     # the probe is sent as observe reads


@pytest.fixture
def chain(netns, uid):
    a, r, b = netns("A"), netns("R"), netns("B")
    n = 100 + int(uid[2:], 16) % 100                   # a second octet of our own
    left, right = f"10.{n}.1", f"10.{n}.2"
    sh(f"ip link add eth0 netns {a} type veth peer name left netns {r}")
    sh(f"ip link add eth0 netns {b} type veth peer name right netns {r}")
    for ns, dev, cidr in ((a, "eth0", f"{left}.2/24"), (r, "left", f"{left}.1/24"),
                          (r, "right", f"{right}.1/24"), (b, "eth0", f"{right}.2/24")):
        sh(f"ip -n {ns} addr add {cidr} dev {dev}")
        sh(f"ip -n {ns} link set {dev} up")
    sh(f"ip -n {a} route add default via {left}.1")
    sh(f"ip -n {b} route add default via {right}.1")
    sh(f"ip netns exec {r} sysctl -qw net.ipv4.ip_forward=0")
    return a, r, b, f"{right}.2"


def test_a_router_with_forwarding_off_is_named(chain):
    a, r, b, target = chain
    v = grade({"reachable": {"from": a, "to": target}})
    assert not v.passed
    assert f"{r} routes this packet" in v.message and "net.ipv4.ip_forward is 0" in v.message
    assert v.message.endswith(f"ip netns exec {r} sysctl -w net.ipv4.ip_forward=1")

    sh(f"ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1")
    v = grade({"reachable": {"from": a, "to": target}})
    assert v.passed, v.message


def test_forwarding_is_not_blamed_when_the_way_back_is_missing(chain):
    a, r, b, target = chain
    sh(f"ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1")
    sh(f"ip -n {b} route del default")
    v = grade({"reachable": {"from": a, "to": target}})
    assert not v.passed
    assert "forward" not in v.message and f"a route in {b} to {a}'s address" in v.message
