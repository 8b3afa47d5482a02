"""The observe layer's own words in Korean (issue 16): probe results, the firewall read problems,
the engines' trouble texts.

The probe tests send real packets, only between two namespaces they make (names start with `kop`,
removed by the conftest fixtures even on failure): one ICMP echo or one TCP connection attempt,
one-second timeout (observe/probes.py). The firewall and engine tests touch nothing: the tool
lookup and the uid are monkeypatched, the way tests/test_kinds_nat.py does.

Each result is also checked in English (same words as before, so the grader's English matching
still holds) and for its code, which is what a check should decide on once it no longer matches
the English words (probes.is_refused(), needs_root(), no_answer(); HostFilter/NatRead.trouble).
"""
from __future__ import annotations

import os
import secrets

import pytest

from conftest import sh
from test_kinds_network import free_port, make_pair
from tutor import i18n
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import firewall, probes, take_snapshot
from tutor.observe.engines import docker, podman
from tutor.observe.model import Probe, ProbeResult

ICMP_RANGE = "10.46.46"


@pytest.fixture
def uid() -> str:
    """This file's own prefix (the conftest's netns fixture names everything after it)."""
    return "kop" + secrets.token_hex(2)



def in_language(code: str, fn):
    """fn() in language *code*, then the language it was before."""
    before = i18n.current()
    i18n.set_language(code)
    try:
        return fn()
    finally:
        i18n.set_language(before)


@pytest.fixture
def red_blue(netns):
    red, blue = netns("R"), netns("B")
    make_pair(red, blue)
    sh(f"ip -n {red} addr add {ICMP_RANGE}.2/24 dev veth0 && ip -n {red} link set veth0 up")
    sh(f"ip -n {blue} addr add {ICMP_RANGE}.3/24 dev veth1 && ip -n {blue} link set veth1 up")
    return red, blue


def send_from(name: str, ip: str, port: int | None = None) -> ProbeResult:
    snap = take_snapshot()
    ns = next(n for n in snap.netns.values() if name in n.names)
    return probes.send(snap, Probe(ns.inode, ip, port))


def grade(item):
    exp = build(item)
    verdict = grade_expectation(exp, take_snapshot(wants=wants_of([exp])))
    assert "internal error" not in verdict.observed, verdict
    return verdict


# --------------------------------------------------------------- probes (real packets, between our two netns)
@pytest.mark.needs_root
def test_an_answered_ping_in_korean(red_blue, korean):
    red, _blue = red_blue
    result = send_from(red, f"{ICMP_RANGE}.3")
    assert result.ok and result.code is None and result.detail == "응답했습니다"
    v = grade({"reachable": {"from": red, "to": f"{ICMP_RANGE}.3"}})
    assert v.passed and "응답했습니다" in v.observed and "answered" not in v.observed


@pytest.mark.needs_root
def test_a_ping_nobody_answers_in_korean(red_blue, korean):
    red, blue = red_blue
    sh(f"ip netns exec {blue} sysctl -qw net.ipv4.icmp_echo_ignore_all=1")   # that netns's own switch
    result = send_from(red, f"{ICMP_RANGE}.3")
    assert not result.ok and result.code == probes.NO_ANSWER and result.trouble is None
    assert probes.no_answer(result) and not probes.is_refused(result) and not probes.needs_root(result)
    assert result.detail == "1초 안에 응답이 없었습니다"
    v = grade({"reachable": {"from": red, "to": f"{ICMP_RANGE}.3"}})
    assert not v.passed and "1초 안에 응답이 없었습니다" in v.observed
    assert "no answer within" not in v.observed and "no answer within" not in (v.message or "")

    english = in_language("en", lambda: send_from(red, f"{ICMP_RANGE}.3"))
    assert english.detail == "no answer within 1 second" and english.code == probes.NO_ANSWER


@pytest.mark.needs_root
def test_a_refused_tcp_connection_in_korean(red_blue, korean):
    red, _blue = red_blue
    port = free_port()
    result = send_from(red, f"{ICMP_RANGE}.3", port)
    assert not result.ok and result.code == probes.REFUSED and probes.is_refused(result)
    assert not probes.no_answer(result) and not probes.needs_root(result)
    assert result.detail == (f"{ICMP_RANGE}.3 주소가 응답했지만 연결을 거부했습니다: "
                             f"{port} 포트에서 리슨하는 것이 없습니다")
    v = grade({"reachable": {"from": red, "to": f"{ICMP_RANGE}.3", "port": port}})
    assert not v.passed and result.detail in v.observed
    assert "refused the connection" not in v.observed + (v.message or "")

    english = in_language("en", lambda: send_from(red, f"{ICMP_RANGE}.3", port))
    assert english.detail == (f"{ICMP_RANGE}.3 answered, but refused the connection: nothing listens on port {port}")
    assert probes.is_refused(english)


def test_codes_without_a_packet(korean):
    """Results made without a code (older snapshots, tests) are still told by their English words."""
    assert probes.is_refused(ProbeResult(False, "10.0.0.1 answered, but refused the connection: nothing listens"))
    assert probes.needs_root(ProbeResult(False, "sending a ping needs root (a raw ICMP socket): run nstutor as root"))
    assert probes.no_answer(ProbeResult(False, "no answer within 1 second"))
    assert not probes.is_refused(ProbeResult(True, "connected", 0.1))
    gone = probes.send(_made_up_snapshot(), Probe(424242, "10.11.11.3"))
    assert gone.trouble == probes.GONE and gone.code == probes.GONE
    assert gone.detail == "netns가 사라졌습니다 (이제 그것을 가리키는 이름이 없습니다)"


def _made_up_snapshot():
    from test_kinds_net_unit import red_blue as made_up
    return made_up()


# --------------------------------------------------------------- the firewall read problems (nothing run)
def test_firewall_without_iptables_in_korean(monkeypatch, korean):
    monkeypatch.setattr(firewall, "find_tool", lambda name: None)
    filt = firewall.read_host_filter()
    assert filt.tables == () and filt.trouble == firewall.NO_TOOL and filt.no_tool and not filt.needs_root
    assert filt.problems == ("iptables가 설치되어 있지 않아서 nstutor가 호스트의 방화벽을 읽을 수 없습니다",)
    nat = firewall.read_nat()
    assert nat.tables == () and nat.trouble == firewall.NO_TOOL and nat.no_tool
    assert nat.problem == ("iptables가 설치되어 있지 않아서 nstutor가 NAT 규칙을 읽을 수 없습니다 "
                           "(Debian/Ubuntu: apt install iptables)")
    assert "not installed" not in nat.problem and "not installed" not in filt.problems[0]

    english = in_language("en", firewall.read_nat)
    assert english.problem == firewall.NAT_NO_TOOL and english.no_tool
    english_filter = in_language("en", firewall.read_host_filter)
    assert english_filter.problems == ("iptables is not installed, so nstutor cannot read the host's firewall",)


def test_firewall_without_root_in_korean(monkeypatch, korean):
    tool = [("nft", "/usr/sbin/iptables-nft", "iptables")]
    monkeypatch.setattr(firewall, "backends", lambda table="filter": tool)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    filt = firewall.read_host_filter()
    assert filt.trouble == firewall.NEEDS_ROOT and filt.needs_root
    assert filt.problems == ("호스트의 방화벽을 읽으려면 root 권한이 필요합니다: nstutor를 root로 실행하세요",)
    nat = firewall.read_nat(tool)
    assert nat.trouble == firewall.NEEDS_ROOT and nat.needs_root
    assert nat.problem == "방화벽 규칙을 읽으려면 root 권한이 필요합니다: nstutor를 root로 실행하세요"
    english = in_language("en", lambda: firewall.read_nat(tool))
    assert english.problem == firewall.NAT_NEEDS_ROOT and english.needs_root
    # a NatRead made from the English constant alone (older code, tests) is still told apart
    assert firewall.NatRead((), firewall.NAT_NEEDS_ROOT).needs_root


# --------------------------------------------------------------- engines (nothing run)
def test_engines_absent_in_korean(monkeypatch, korean):
    monkeypatch.setattr(docker.shutil, "which", lambda name: None)
    real_exists = os.path.exists
    monkeypatch.setattr(docker.os.path, "exists",
                        lambda p: False if str(p).endswith("dockerd") else real_exists(p))
    state, text = docker._not_listening("/nonexistent/docker.sock")
    assert state == "absent"
    assert text == "docker가 설치되어 있지 않습니다 (Debian/Ubuntu: apt-get install docker.io)"
    assert in_language("en", lambda: docker._not_listening("/x"))[1] == \
        "docker is not installed (Debian/Ubuntu: apt-get install docker.io)"
    hint = docker.start_hint()
    assert hint.startswith("이 명령으로 시작하세요: `") and ("`systemctl start docker`" in hint
                                                        or "`service docker start`" in hint)
    reader = podman.Reader(storage="/nonexistent/kop-storage")
    monkeypatch.setattr(reader, "_podman_installed", lambda: False)
    _found, pstate = reader.read({})
    assert pstate.state == "absent"
    assert pstate.detail == "podman이 설치되어 있지 않습니다 (Debian/Ubuntu: apt-get install podman)"
