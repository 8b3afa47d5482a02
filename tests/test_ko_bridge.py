"""The bridge lesson's grader kinds in Korean (issue 16), on the real kernel: bridge, veth, netns,
address, route and link, each in a failing state a learner of lessons/ko/11-bridge.md meets (a
bridge missing or switched off, a veth not plugged into it, an address or a route not there yet,
lo left DOWN...) and one passing state. The Korean sentence is the kind's own; the commands in it
are exactly the ones the English says, and no English sentence of the kind leaks through.

Names carry the prefix `kob` (this file's own), and everything is removed at teardown. Where a
namespace's phrase comes from the shared helpers (where() for the host), the test checks only
the kind's own words around it.
"""
from __future__ import annotations

import random
import secrets

import pytest

from conftest import sh
from test_kinds_network import grade

pytestmark = pytest.mark.needs_root


@pytest.fixture
def kob() -> str:
    """A unique prefix for this file's objects (interface names are at most 15 characters)."""
    return "kob" + secrets.token_hex(2)



@pytest.fixture
def made():
    """Host links and namespaces to delete at teardown."""
    things: dict[str, list[str]] = {"links": [], "netns": []}
    yield things
    for name in reversed(things["links"]):
        sh(f"ip link del {name}", check=False)
    for name in reversed(things["netns"]):
        sh(f"ip netns del {name}", check=False)




def fails(item):
    v = grade(item)
    assert not v.passed, f"{item} passed: {v.observed!r}"
    assert v.expected and v.observed and v.message
    return v


def hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def no_english(text: str, *phrases: str) -> None:
    for phrase in phrases:
        assert phrase not in text, f"English {phrase!r} leaked into {text!r}"


def netns(made, name: str) -> str:
    sh(f"ip netns add {name}")
    made["netns"].append(name)
    return name


def bridge(made, name: str, up: bool = True) -> str:
    sh(f"ip link add {name} type bridge")
    made["links"].append(name)
    if up:
        sh(f"ip link set {name} up")
    return name


def host_veth(made, name: str, peer: str) -> str:
    sh(f"ip link add {name} type veth peer name {peer}")
    made["links"].append(name)
    return name


def subnet() -> str:
    return f"10.{random.randint(100, 250)}.{random.randint(1, 250)}"


# --------------------------------------------------------------- bridge
def test_a_missing_bridge_in_korean(korean, kob):
    v = fails({"bridge": {"dev": f"{kob}br", "up": True}})
    assert v.expected == f"브리지 {kob}br, 켜짐"
    assert f"ip link add {kob}br type bridge" in v.message
    assert "브리지" in v.message                       # the noun the kind hands the shared helper


def test_a_bridge_switched_off_in_korean(korean, kob, made):
    bridge(made, f"{kob}br", up=False)
    v = fails({"bridge": {"dev": f"{kob}br", "up": True}})
    assert f"{kob}br: bridge, DOWN, 포트: 없음" in v.observed
    assert v.message.endswith(f"{kob}br 브리지가 있지만 DOWN 상태입니다: ip link set {kob}br up")
    no_english(v.message, "but DOWN", " is in ")
    no_english(v.observed, "ports:", "none")


def test_a_veth_not_plugged_into_the_bridge_in_korean(korean, kob, made):
    bridge(made, f"{kob}br")
    host_veth(made, f"{kob}a", f"{kob}b")
    v = fails({"bridge": {"dev": f"{kob}br", "ports": [f"{kob}a"], "ports_up": True}})
    assert v.expected == f"브리지 {kob}br, 포트 {kob}a (모두 켜짐)"
    assert v.message == (f"{kob}a 인터페이스는 어느 브리지의 포트도 아닙니다. {kob}br 브리지의 포트여야 합니다: "
                         f"ip link set {kob}a master {kob}br")
    no_english(v.message, "is not a port", "expected a port")


def test_a_port_the_lesson_does_not_plug_in_and_a_passing_bridge_in_korean(korean, kob, made):
    bridge(made, f"{kob}br")
    for end in ("a", "c"):
        host_veth(made, f"{kob}{end}", f"{kob}{end}p")
        sh(f"ip link set {kob}{end} master {kob}br")
        sh(f"ip link set {kob}{end} up")
    v = fails({"bridge": {"dev": f"{kob}br", "ports": [f"{kob}a"]}})
    assert (f"{kob}br 브리지에는 레슨이 꽂지 않는 포트 {kob}c도 있습니다(레슨이 원하는 포트는 {kob}a뿐입니다). "
            f"빼세요: ip link set {kob}c nomaster (또는 지우세요: ip link del {kob}c)") in v.message
    no_english(v.message, "also has the port", "unplug it", "or delete it")

    sh(f"ip link set {kob}c nomaster")
    v = grade({"bridge": {"dev": f"{kob}br", "ports": [f"{kob}a"], "ports_up": True, "up": True}})
    assert v.passed, v
    assert f"{kob}br: bridge," in v.observed and f"포트: {kob}a" in v.observed
    no_english(v.observed, "ports:")


def test_hairpin_off_in_korean(korean, kob, made):
    bridge(made, f"{kob}br")
    host_veth(made, f"{kob}a", f"{kob}b")
    sh(f"ip link set {kob}a master {kob}br")
    v = fails({"bridge": {"dev": f"{kob}br", "hairpin": [f"{kob}a"]}})
    assert v.expected == f"브리지 {kob}br, {kob}a에 hairpin 켜짐"
    assert f"hairpin 켜진 포트: 없음" in v.observed
    assert f"{kob}br 브리지의 포트 {kob}a에 hairpin이 꺼져 있습니다." in v.message
    assert v.message.endswith(f": bridge link set dev {kob}a hairpin on")
    no_english(v.message, "hairpin off", "never sends")


# --------------------------------------------------------------- veth
def test_a_veth_pair_not_made_yet_and_both_ends_down_in_korean(korean, kob, made):
    a, b = netns(made, f"{kob}a"), netns(made, f"{kob}b")
    item = {"veth": {"ends": [f"{a}/veth0", f"{b}/veth1"], "up": True}}
    v = fails(item)
    assert v.expected == f"veth 페어 {a}/veth0 <-> {b}/veth1, 양쪽 끝 모두 켜짐"
    assert v.observed == f"{a}에 veth0 인터페이스가 없고, {b}에도 veth1 인터페이스가 없습니다"
    assert v.message == f"페어가 아직 없습니다: ip -n {a} link add veth0 type veth peer name veth1 netns {b}"

    sh(f"ip -n {a} link add veth0 type veth peer name veth1 netns {b}")
    v = fails(item)
    assert v.observed.startswith(f"{a}의 veth0 (veth, DOWN, 피어 {b}의 veth1); {b}의 veth1 (veth, DOWN, 피어 {a}의 veth0)")
    assert v.message == f"양쪽 끝 모두 DOWN 상태입니다: ip -n {a} link set veth0 up; ip -n {b} link set veth1 up"
    no_english(v.observed + v.message, " in ", "peer ", "both ends")


def test_a_veth_end_left_in_the_wrong_netns_in_korean(korean, kob, made):
    a, b = netns(made, f"{kob}a"), netns(made, f"{kob}b")
    sh(f"ip -n {a} link add veth0 type veth peer name veth1")       # veth1 never moved to b
    v = fails({"veth": {"ends": [f"{a}/veth0", f"{b}/veth1"]}})
    assert v.observed.startswith("veth1 인터페이스가 ") and f"{a}에 있습니다" in v.observed
    assert v.message == f"veth1 인터페이스가 {a}에 있습니다. {b}에 있어야 합니다: ip -n {a} link set veth1 netns {b}"
    no_english(v.message, "expected", " is in ")


# --------------------------------------------------------------- netns
def test_lo_down_and_a_passing_netns_in_korean(korean, kob, made):
    ns = netns(made, f"{kob}n")
    v = fails({"netns": {"name": ns, "lo_up": True}})
    assert v.expected == f"네트워크 네임스페이스 {ns}, lo 켜짐"
    assert v.observed == f"{ns}의 lo는 DOWN 상태입니다"
    assert v.message == f"{ns}의 lo는 DOWN 상태입니다: ip -n {ns} link set lo up"

    sh(f"ip -n {ns} link set lo up")
    v = grade({"netns": {"name": ns, "lo_up": True, "only_lo": True}})
    assert v.passed, v
    assert v.observed.startswith(f"{ns}이(가) 있습니다(net:[") and v.observed.endswith("]), 인터페이스: lo")
    no_english(v.observed, "exists", " with ")


def test_more_than_lo_and_a_netns_still_there_in_korean(korean, kob, made):
    ns = netns(made, f"{kob}n")
    sh(f"ip -n {ns} link add d0 type veth peer name d1")      # one delete takes both ends
    v = fails({"netns": {"name": ns, "only_lo": True}})
    assert v.expected == f"네트워크 네임스페이스 {ns}, lo만 있음"
    assert v.observed == f"{ns}의 인터페이스: lo, d0, d1"
    assert v.message == f"{ns}에는 lo만 있어야 하는데 d0, d1도 있습니다: ip -n {ns} link del d0"

    v = fails({"netns": {"name": ns, "absent": True}})
    assert v.expected == f"네트워크 네임스페이스 {ns} 없음"
    assert v.observed.startswith(f"{ns}이(가) 있습니다(net:[") and v.observed.endswith("], 안에 프로세스 0개)")
    assert v.message == f"{ns}이(가) 아직 있습니다: ip netns del {ns}"
    no_english(v.observed + v.message, "exists", "process")


# --------------------------------------------------------------- address
def test_an_address_missing_and_one_with_the_wrong_prefix_in_korean(korean, kob, made):
    ns = netns(made, f"{kob}n")
    sh(f"ip -n {ns} link add eth0 type veth peer name eth1")
    net = subnet()
    v = fails({"address": {"dev": f"{ns}/eth0", "cidr": f"{net}.2/24"}})
    assert v.expected == f"{ns}/eth0의 주소 {net}.2/24"
    assert v.observed == f"{ns}의 eth0에 있는 주소: 없음"
    assert v.message == (f"{ns}의 eth0에 {net}.2/24 주소가 없습니다(지금 있는 주소: 없음): "
                         f"ip -n {ns} addr add {net}.2/24 dev eth0")
    no_english(v.observed + v.message, "does not have", "no address", " has ")

    sh(f"ip -n {ns} addr add {net}.2/16 dev eth0")
    v = fails({"address": {"dev": f"{ns}/eth0", "cidr": f"{net}.2/24"}})
    assert v.message.startswith(f"{net}.2/16 주소가 있지만, 기대하는 프리픽스 길이는 /24입니다.")
    assert v.message.endswith(f"ip -n {ns} addr del {net}.2/16 dev eth0; ip -n {ns} addr add {net}.2/24 dev eth0")
    assert any(hangul(s.what) and f"{net}.2/16" in s.what for s in v.strays)
    no_english(v.message, "is there", "prefix length decides")


# --------------------------------------------------------------- route
def test_a_default_route_missing_in_korean(korean, kob, made):
    ns = netns(made, f"{kob}n")
    net = subnet()
    item = {"route": {"netns": ns, "dst": "default", "via": f"{net}.1"}}
    v = fails(item)
    assert v.expected == f"{ns}의 기본 라우트 via {net}.1"
    assert v.observed == f"{ns}의 라우트: 라우트 없음"
    assert v.message.startswith(f"{ns}에 기본 라우트가 없습니다: ip -n {ns} route add default via {net}.1 (먼저 ")
    assert "'Nexthop has invalid gateway'" in v.message

    sh(f"ip -n {ns} link add eth0 type veth peer name eth1")
    sh(f"ip -n {ns} addr add {net}.2/24 dev eth0")
    sh(f"ip -n {ns} link set eth0 up")
    sh(f"ip -n {ns} link set eth1 up")
    v = fails(item)
    assert v.observed.startswith(f"{ns}의 라우트: {net}.0/24 dev eth0")
    assert v.message == f"{ns}에 기본 라우트가 없습니다: ip -n {ns} route add default via {net}.1"
    no_english(v.observed + v.message, "has no", "routes in")

    sh(f"ip -n {ns} route add default via {net}.9")
    v = fails(item)
    assert v.message == (f"{ns}의 기본 라우트는 {net}.9 경유로 나갑니다. 기대하는 라우트는 default via {net}.1입니다: "
                         f"ip -n {ns} route replace default via {net}.1")

    sh(f"ip -n {ns} route replace default via {net}.1")
    v = grade(item)
    assert v.passed, v
    assert v.observed == f"{ns}의 default via {net}.1 dev eth0"


# --------------------------------------------------------------- link
def test_link_facts_in_korean(korean, kob, made):
    ns = netns(made, f"{kob}n")
    sh(f"ip -n {ns} link add eth0 type veth peer name eth1")
    v = fails({"link": {"dev": f"{ns}/eth0", "kind": "veth", "mtu": 1400}})
    assert v.expected == f"인터페이스 {ns}/eth0 (종류 veth, MTU 1400)"
    assert v.observed.startswith(f"{ns}의 eth0: veth, DOWN, mtu 1500")
    assert v.message == f"{ns}의 eth0 인터페이스의 MTU가 1500입니다(기대한 값: 1400): ip -n {ns} link set eth0 mtu 1400"

    v = fails({"link": {"dev": f"{ns}/eth0", "master": "nsbr0"}})
    assert v.message == (f"{ns}의 eth0 인터페이스는 어느 브리지의 포트도 아닙니다. nsbr0 브리지의 포트여야 합니다: "
                         f"ip -n {ns} link set eth0 master nsbr0")

    v = fails({"link": {"dev": f"{ns}/eth0", "absent": True}})
    assert v.expected == f"인터페이스 {ns}/eth0 없음"
    assert v.observed == f"eth0 인터페이스가 {ns}에 있습니다(veth, DOWN)"
    assert v.message == f"{ns}에서 eth0 인터페이스를 없애야 합니다: ip -n {ns} link del eth0"
    no_english(v.observed + v.message, "should be gone", " is in ", "has MTU", "not a port")


def test_english_is_unchanged_outside_korean(kob, made):
    """The same states read as before in English (the language the rest of the suite runs in)."""
    ns = netns(made, f"{kob}n")
    v = fails({"netns": {"name": ns, "lo_up": True}})
    assert v.message == f"lo in {ns} is DOWN: ip -n {ns} link set lo up"
    v = fails({"route": {"netns": ns, "dst": "default", "via": "10.99.0.1"}})
    assert v.expected == f"a default route via 10.99.0.1 in {ns}"
    assert not hangul(v.expected + v.observed + v.message)
