"""The network kinds' grader messages in Korean, graded against the real kernel (issue 16).

reachable, listening, masquerade, fdb, neighbour and vxlan are graded on objects these tests make
(names start with `kon`, removed by the conftest fixtures even on failure) with the language set to
Korean, and each Korean sentence is checked whole where it is nstutor's own, with the command in it
exact and the old English sentence gone. Probes go only between the two namespaces a test made
(one packet, one-second timeout: observe/probes.py). The masquerade test reads and changes the nat
table of a netns of its own (graded by a child process inside it): the root netns's firewall is
never touched.

Parts that come from shared helpers (where(), why_not_up(), missing_device()...) are another
module's translation: only their commands are asserted here, so these tests hold whether or not
those helpers are in Korean yet. The probe's own detail ("answered", "no answer within 1 second")
is observe's text and is not asserted either.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sh
from test_kinds_network import MAC1, MAC2, free_port, grade, listener, make_pair, overlay  # noqa: F401 (overlay: fixture)

pytestmark = pytest.mark.needs_root

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def uid() -> str:
    """This file's own prefix (the conftest's netns fixture names everything after it)."""
    return "kon" + secrets.token_hex(2)





def fails(item, snap=None):
    v = grade(item, snap)
    assert not v.passed, f"{item} passed but should not: {v.observed!r}"
    return v


def passes(item, snap=None):
    v = grade(item, snap)
    assert v.passed, f"{item} failed: observed={v.observed!r} message={v.message!r}"
    return v


def subnet() -> str:
    """A /24 of 10.0.0.0/8 that nothing else here is likely to use ('10.77.N')."""
    return f"10.77.{secrets.randbelow(200) + 20}"


# --------------------------------------------------------------- reachable (and a learned neighbour)
@pytest.fixture
def red_blue(netns):
    red, blue = netns("R"), netns("B")
    make_pair(red, blue)
    net = subnet()
    sh(f"ip -n {red} addr add {net}.2/24 dev veth0 && ip -n {red} link set veth0 up")
    sh(f"ip -n {blue} addr add {net}.3/24 dev veth1 && ip -n {blue} link set veth1 up")
    return red, blue, net


def test_reachable_in_korean(red_blue, korean):
    red, blue, net = red_blue
    to = f"{net}.3"

    # not resolved yet: the neighbour kind's advice is the one ping that would resolve it
    v = fails({"neighbour": {"netns": red, "ip": to}})
    assert v.expected == f"{red}의 이웃 항목 {to}"
    assert v.observed == f"{red}의 이웃 항목: {to} 항목 없음"
    assert v.message == (f"{red}에서 아직 {to} 주소의 MAC을 알아내지 못했습니다. 그 주소로 패킷을 처음 보낼 때 "
                         f"MAC을 배웁니다 (ip netns exec {red} ping -c 1 -W 1 {to})")

    v = passes({"reachable": {"from": red, "to": to}})
    assert v.expected == f"{red}에서 {to}에 닿음"
    assert v.observed.startswith(f"{red}에서 {to} 주소로 ping 한 번: ") and v.observed.endswith(" ms")
    assert "one ping" not in v.observed

    sh(f"ip -n {blue} link set veth1 down")
    v = fails({"reachable": {"from": red, "to": to}})
    assert v.observed.startswith(f"{red}에서 {to} 주소로 ping 한 번: ")
    assert v.message.startswith(f"{red}에서 보낸 요청에 {to} 주소가 답하지 않았습니다 (")
    assert f"ip -n {blue} link set veth1 up" in v.message          # why_not_up's command, exact
    assert "did not answer" not in v.message

    # another subnet without a route: failed before any probe is sent
    head, third = net.rsplit(".", 1)
    other = f"{head}.{int(third) + 1}.3"
    sh(f"ip -n {blue} link set veth1 up && ip -n {blue} addr add {other}/24 dev veth1")
    v = fails({"reachable": {"from": red, "to": other}})
    assert v.observed == f"{red}에 {other} 주소로 가는 라우트가 없습니다"
    assert v.message == (f"{red}에 {other} 주소로 가는 라우트가 없습니다 ({other}/24 주소는 {blue}의 veth1 장치에 "
                         f"있습니다): {red}에 그 서브넷의 주소를 주거나, 그 서브넷으로 가는 라우트를 추가하세요")

    # an address no interface here has: nothing is sent at all (TEST-NET-2)
    v = fails({"reachable": {"from": red, "to": "198.51.100.77", "port": 80}})
    assert v.expected == f"{red}에서 198.51.100.77의 TCP 포트 80에 닿음"
    assert v.observed == "이 머신의 어떤 인터페이스에도 198.51.100.77 주소가 없습니다"
    assert v.message == ("198.51.100.77 주소는 이 머신의 어느 네트워크 네임스페이스의 어느 인터페이스에도 없습니다. "
                         "nstutor는 이 머신에 있는 주소로만 프로브합니다. 먼저 주소를 추가하세요 "
                         "(ip -n NS addr add 198.51.100.77/PREFIX dev DEV).")
    assert "only probes" not in v.message


def test_reachable_refused_port_in_korean(red_blue, korean):
    red, blue, net = red_blue
    port = free_port()
    v = fails({"reachable": {"from": red, "to": f"{net}.3", "port": port}})
    assert v.observed.startswith(f"{red}에서 {net}.3:{port} 주소로 TCP 연결 한 번: ")
    assert v.message.endswith(f": {blue}에서 {port} 포트를 여는 서버를 시작하거나, 다른 곳의 서버로 포트를 포워딩하세요 "
                              f"({blue} nat 테이블의 DNAT 규칙)")
    assert "start a server" not in v.message


# --------------------------------------------------------------- listening
def test_listening_in_korean(netns, spawn, korean):
    c1 = netns("c1")
    port = free_port()
    v = fails({"listening": {"netns": c1, "port": port}})
    assert v.expected == f"{c1}에서 tcp 포트 {port} 열림"
    assert v.observed == f"{c1}의 소켓: 포트 {port}에 아무것도 없음"
    assert v.message == (f"{c1}에서 tcp 포트 {port}에 리슨하는 것이 없습니다: 그곳에서 서버를 시작하세요. "
                         f"예: ip netns exec {c1} python3 -m http.server {port}")

    proc = listener(spawn, c1, port, kind="DGRAM")
    v = fails({"listening": {"netns": c1, "port": port}})
    assert v.message == f"{c1}에서 {port} 포트는 tcp 프로토콜이 아니라 udp 프로토콜로 열려 있습니다"
    assert "is open for" not in v.message
    v = passes({"listening": {"netns": c1, "port": port, "proto": "udp"}})
    assert v.observed == f"{c1}에 udp 0.0.0.0:{port} 소켓이 열려 있습니다"
    # bound to every address where the lesson wants the loopback only
    v = fails({"listening": {"netns": c1, "port": port, "proto": "udp", "ip": "127.0.0.1"}})
    assert v.expected == f"{c1}에서 127.0.0.1 주소의 udp 포트 {port} 열림"
    assert v.message == (f"{c1}에서 {port} 포트가 열려 있지만 0.0.0.0 주소, 곧 {c1}의 모든 주소에 열려 있어서 다른 "
                         f"머신에서도 닿을 수 있습니다. 레슨은 이 포트를 루프백에만 둡니다: 서버를 멈추고 "
                         f"(kill {proc.pid}) 127.0.0.1 주소에 바인드해서 다시 시작하세요 "
                         f"(python3 -m http.server ... --bind 127.0.0.1)")
    assert "every address" not in v.message


# --------------------------------------------------------------- masquerade (in a netns of our own)
GRADE_IN_NETNS = """
import json, sys
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import take_snapshot
exp = build({"masquerade": json.loads(sys.argv[1])})
v = grade_expectation(exp, take_snapshot(wants=wants_of([exp])))
print(json.dumps({"passed": v.passed, "expected": v.expected, "observed": v.observed, "message": v.message}))
"""


def grade_masquerade_in(ns: str, spec: dict, language: str = "ko") -> dict:
    """Grade a masquerade check in a child process inside *ns*: the nat table it reads is that netns's."""
    env = {**os.environ, "NSTUTOR_LANG": language, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", GRADE_IN_NETNS, json.dumps(spec)],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.skipif(not os.path.exists("/usr/sbin/iptables") and not os.path.exists("/sbin/iptables"),
                    reason="iptables is not installed")
def test_masquerade_in_korean_in_a_netns_of_our_own(netns, uid):
    ns = netns("nat")
    source, bridge = f"{subnet()}.0/24", f"{uid}br"
    add = f"iptables -t nat -A POSTROUTING -s {source} ! -o {bridge} -j MASQUERADE"
    spec = {"source": source, "not_out": bridge}

    v = grade_masquerade_in(ns, spec)
    assert not v["passed"]
    assert v["expected"] == f"{source} 서브넷에서 {bridge} 외의 인터페이스로 나가는 패킷의 MASQUERADE 규칙 (nat POSTROUTING)"
    assert v["observed"].startswith("nat 규칙 (") and v["observed"].endswith("): POSTROUTING에 없음")
    assert v["message"] == f"nat 테이블에 {source} 서브넷의 MASQUERADE 규칙이 없습니다: {add}"
    english = grade_masquerade_in(ns, spec, language="en")           # the same state, in English as before
    assert english["message"] == f"there is no MASQUERADE rule for {source} in the nat table: {add}"

    # the rule the other way round (-o without "!"), added to this netns's own nat table only
    sh(f"ip netns exec {ns} iptables -w 5 -t nat -A POSTROUTING -s {source} -o {bridge} -j MASQUERADE")
    v = grade_masquerade_in(ns, spec)
    assert not v["passed"]
    rule = f"-A POSTROUTING -s {source} -o {bridge} -j MASQUERADE"
    assert rule in v["observed"]
    assert v["message"].startswith(f"'{rule}' 규칙은 {bridge} 브리지로 나가는 패킷, 곧 컨테이너 쪽으로 가는 패킷만 "
                                   f"masquerade합니다. 원하는 것과 정반대입니다. '!'는 -o 앞에 옵니다: ")
    assert v["message"].endswith(f"-t nat -D POSTROUTING -s {source} -o {bridge} -j MASQUERADE; {add}")
    assert "masquerades only" not in v["message"]

    sh(f"ip netns exec {ns} iptables -w 5 -t nat -D POSTROUTING -s {source} -o {bridge} -j MASQUERADE")
    sh(f"ip netns exec {ns} {add.replace('iptables', 'iptables -w 5', 1)}")
    v = grade_masquerade_in(ns, spec)
    assert v["passed"], v


# --------------------------------------------------------------- vxlan, fdb, neighbour (the overlay)
def test_vxlan_in_korean(overlay, korean):
    n1, _ = overlay
    v = fails({"vxlan": {"dev": f"{n1}/flannel.1", "vni": 2}})
    assert v.expected == f"vxlan 장치 {n1}/flannel.1 (vni 2)"
    assert v.observed.startswith(f"{n1}의 flannel.1: vxlan id 1 dstport 8472 local 192.168.100.10 dev eth0 "
                                 f"nolearning, mtu 1450, ")
    assert v.message == (f"{n1}의 flannel.1 장치: VNI 1 (기대한 값 2). 이 설정은 장치를 만들 때 정해지므로 "
                         f"다시 만드세요: ip -n {n1} link del flannel.1; ip -n {n1} link add flannel.1 type vxlan "
                         f"id 2 dstport 8472 local 192.168.100.10 dev eth0 nolearning address {MAC1}")
    v = fails({"vxlan": {"dev": f"{n1}/flannel.1", "port": 4789, "learning": True}})
    assert v.message.startswith(f"{n1}의 flannel.1 장치: 목적지 포트 8472 (기대한 값 4789); nolearning (기대한 값 "
                                f"learning; nolearning이면 fdb를 직접 채웁니다. flannel이 그렇게 합니다). "
                                f"이 설정은 장치를 만들 때 정해지므로 다시 만드세요: ")
    v = fails({"vxlan": {"dev": f"{n1}/flannel.1", "mtu": 1400}})
    assert v.message == (f"{n1}의 flannel.1 장치의 MTU는 1450이고, 1400이어야 합니다: "
                         f"ip -n {n1} link set flannel.1 mtu 1400")
    v = fails({"vxlan": {"dev": f"{n1}/eth0", "vni": 1}})
    assert v.message.startswith(f"{n1}의 eth0 장치는 vxlan이 아니라 veth입니다. 다시 만드세요: ip -n {n1} link del eth0; ")
    # a device that is not there: the shared missing_device() sentence, with our noun and the exact command
    v = fails({"vxlan": {"dev": f"{n1}/vx9", "vni": 9, "port": 4789}})
    assert "vxlan 장치 vx9" in v.message and v.message.endswith(f": ip -n {n1} link add vx9 type vxlan id 9 dstport 4789")
    assert "vxlan device" not in v.message
    assert "expected" not in v.message


def test_fdb_and_neighbour_in_korean(overlay, korean):
    n1, _ = overlay
    v = passes({"fdb": {"netns": n1, "dev": "flannel.1", "mac": MAC2, "dst": "192.168.100.11"}})
    assert v.expected == f"{n1}의 flannel.1 장치에 있는 fdb 항목 {MAC2} (원격 192.168.100.11)"
    assert v.observed.startswith(f"{n1}에 있음: {MAC2} dev flannel.1 dst 192.168.100.11")
    v = fails({"fdb": {"netns": n1, "dev": "flannel.1", "mac": MAC2, "dst": "192.168.100.12"}})
    assert v.message == (f"{n1}의 flannel.1 장치에 있는 {MAC2} 항목의 원격 주소: 192.168.100.11, 기대한 값: "
                         f"192.168.100.12. 이렇게 고치세요: bridge -n {n1} fdb replace {MAC2} dev flannel.1 "
                         f"dst 192.168.100.12")
    missing = "0a:58:ac:10:02:00"
    v = fails({"fdb": {"netns": n1, "dev": "flannel.1", "mac": missing, "dst": "192.168.100.12"}})
    assert v.observed == f"{n1}의 fdb: {missing} 항목 없음"
    assert v.message == (f"{n1}의 flannel.1 장치에 {missing}의 fdb 항목이 없습니다: "
                         f"bridge -n {n1} fdb append {missing} dev flannel.1 dst 192.168.100.12")
    assert "has no fdb entry" not in v.message

    v = passes({"neighbour": {"netns": n1, "dev": "flannel.1", "ip": "172.16.1.0", "mac": MAC2, "permanent": True}})
    assert v.expected == f"{n1}의 이웃 항목 172.16.1.0 -> {MAC2} (flannel.1 장치) (직접 추가, permanent)"
    v = fails({"neighbour": {"netns": n1, "dev": "flannel.1", "ip": "172.16.1.0", "mac": "0a:58:ac:10:01:99"}})
    assert v.message == (f"{n1}에서 172.16.1.0 주소의 MAC은 {MAC2}입니다. 0a:58:ac:10:01:99이어야 합니다: "
                         f"ip -n {n1} neigh replace 172.16.1.0 lladdr 0a:58:ac:10:01:99 dev flannel.1 nud permanent")
    v = fails({"neighbour": {"netns": n1, "dev": "flannel.1", "ip": "172.16.2.0", "mac": MAC2}})
    assert v.message == (f"{n1}에 172.16.2.0 주소의 이웃 항목이 없습니다: "
                         f"ip -n {n1} neigh add 172.16.2.0 lladdr {MAC2} dev flannel.1 nud permanent")
    v = fails({"neighbour": {"netns": n1, "dev": "eth0", "ip": "172.16.1.0"}})
    assert v.message.startswith(f"{n1}에서 172.16.1.0 항목이 flannel.1 장치에 있습니다. eth0 장치에 있어야 합니다: ")
    assert "resolves to" not in v.message and "expected" not in v.message
