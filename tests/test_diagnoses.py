"""Network checks that explain the mistakes learners made in the lessons' walk-throughs: a cable not
plugged into the bridge, a bridge or veth end left down, the host's own uplink never offered for a
move, a wrong address left in place, and a vxlan with several wrong settings."""
from __future__ import annotations

import random

import pytest

from conftest import sh, wait_until
from test_kinds_network import fails

pytestmark = pytest.mark.needs_root


def host_uplink() -> str:
    """The link the host's default route leaves by (the machine's own network card): never to be moved."""
    from tutor.observe import take_snapshot
    snap = take_snapshot()
    host = next(ns for ns in snap.netns.values() if ns.is_host)
    used = next((r.dev for r in host.routes if r.dst == "default" and r.dev), None)
    if used is None:
        pytest.skip("the host has no default route to protect here")
    return used


def subnet() -> str:
    return f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"


def test_a_cable_not_plugged_into_the_bridge_is_named(netns, uid):
    host, c1, c2 = netns("h"), netns("a"), netns("b")
    net = subnet()
    sh(f"ip -n {host} link add {uid}br type bridge && ip -n {host} link set {uid}br up")
    for ns, n in ((c1, 2), (c2, 3)):
        sh(f"ip link add eth0 netns {ns} type veth peer name {uid}v{n} netns {host}")
        sh(f"ip -n {ns} addr add {net}.{n}/24 dev eth0 && ip -n {ns} link set eth0 up")
        sh(f"ip -n {host} link set {uid}v{n} up")
    sh(f"ip -n {host} link set {uid}v2 master {uid}br")         # c2's cable is left unplugged
    verdict = fails({"reachable": {"from": c1, "to": f"{net}.3"}})
    assert f"{uid}v3 in {host}, is not a port of any bridge, while {uid}v2 is a port of {uid}br" in verdict.message
    assert f"ip -n {host} link set {uid}v3 master {uid}br" in verdict.message


def test_a_bridge_that_is_down_is_named_instead_of_the_default_route(netns, links, uid):
    default = sh("ip -4 route show default", check=False).stdout.split()
    if "dev" not in default:
        pytest.skip("the host has no default route, so a down bridge gives a plain 'no route' here")
    c1 = netns("a")
    net = subnet()
    links.append(f"{uid}br")
    sh(f"ip link add {uid}br type bridge && ip addr add {net}.1/24 dev {uid}br")     # left down
    sh(f"ip link add eth0 netns {c1} type veth peer name {uid}v2 && ip link set {uid}v2 master {uid}br")
    links.append(f"{uid}v2")
    sh(f"ip -n {c1} addr add {net}.2/24 dev eth0 && ip -n {c1} link set eth0 up")
    verdict = fails({"reachable": {"from": "host", "to": f"{net}.2"}})
    assert f"{uid}br has {net}.1/24" in verdict.message and "drops its route to that subnet" in verdict.message
    assert f"ip link set {uid}br up" in verdict.message


def test_the_hosts_own_interfaces_are_never_suggested_for_a_move(netns, links, uid):
    """A link of the right name that the host uses (its uplink) is never to be moved into a lesson
    namespace; a fresh, unused veth end in the host is."""
    used = host_uplink()
    c1 = netns("c")
    verdict = fails({"link": {"dev": f"{c1}/{used}"}})
    assert f"link set {used} netns" not in verdict.message, verdict.message
    links.append(f"{uid}h")
    sh(f"ip link add {uid}h type veth peer name {uid}p netns {c1}")
    verdict = fails({"link": {"dev": f"{c1}/{uid}h"}})
    assert f"ip link set {uid}h netns {c1}" in verdict.message


def test_a_down_end_is_named_instead_of_no_route(netns, uid):
    red, blue = netns("r"), netns("b")
    net = subnet()
    sh(f"ip link add veth0 netns {red} type veth peer name veth1 netns {blue}")
    sh(f"ip -n {red} addr add {net}.2/24 dev veth0 && ip -n {blue} addr add {net}.3/24 dev veth1")
    verdict = fails({"reachable": {"from": red, "to": f"{net}.3"}})        # both ends still DOWN
    assert f"veth0 has {net}.2/24, but" in verdict.message and "no route to that subnet" in verdict.message
    assert f"ip -n {red} link set veth0 up" in verdict.message
    sh(f"ip -n {red} link set veth0 up && ip -n {blue} link set veth1 up && ip -n {red} addr del {net}.2/24 dev veth0")
    wait_until(lambda: "fe80::" in sh(f"ip -n {red} addr show dev veth0").stdout, what="veth0's link-local address")
    verdict = fails({"address": {"dev": f"{red}/veth0", "cidr": f"{net}.2/24"}})
    assert "(it has no address)" in verdict.message                       # fe80:: is not counted


def test_a_wrong_address_is_named_for_removal(netns):
    ns = netns("w")
    sh(f"ip -n {ns} link add br0 type bridge && ip -n {ns} addr add 172.16.9.1/24 dev br0")
    verdict = fails({"address": {"dev": f"{ns}/br0", "cidr": "172.16.1.1/24"}})
    assert f"ip -n {ns} addr add 172.16.1.1/24 dev br0" in verdict.message
    assert f"if 172.16.9.1/24 was a mistake, remove it: ip -n {ns} addr del 172.16.9.1/24 dev br0" in verdict.message


def test_vxlan_names_every_wrong_setting_and_keeps_the_mac_when_remade(netns):
    ns = netns("x")
    sh(f"ip -n {ns} link add flannel.1 address 02:f1:00:00:00:09 type vxlan id 1 dstport 4789 local 192.0.2.99 "
       "nolearning")
    verdict = fails({"vxlan": {"dev": f"{ns}/flannel.1", "vni": 1, "port": 8472, "local": "192.0.2.10",
                               "learning": False}})
    assert "destination port 4789, expected 8472; local address 192.0.2.99, expected 192.0.2.10" in verdict.message
    assert "These are set when the device is made" in verdict.message
    assert ("type vxlan id 1 dstport 8472 local 192.0.2.10 nolearning address 02:f1:00:00:00:09"
            in verdict.message), verdict.message


def test_the_hosts_uplink_is_never_offered_as_a_cable_end_or_a_bridge_port(netns, uid):
    """Lesson 11's walk-through on a real VM: with c1 made and its cable not yet, the veth check said
    "eth0 is in the root netns, expected c1: ip link set eth0 netns c1" about the VM's own network
    card, which would cut the machine (and the learner's ssh) off. The bridge kind could say the same
    of a port. Neither may offer a move of a link the host uses."""
    used = host_uplink()
    c1 = netns("c")
    verdict = fails({"veth": {"ends": [f"{uid}v", f"{c1}/{used}"]}})
    assert f"link set {used} netns" not in verdict.message, verdict.message
    assert f"ip link add {uid}v type veth peer name {used} netns {c1}" in verdict.message, verdict.message
    sh(f"ip -n {c1} link add {uid}br type bridge")
    verdict = fails({"bridge": {"dev": f"{c1}/{uid}br", "ports": [used]}})
    assert f"link set {used} netns" not in verdict.message, verdict.message
