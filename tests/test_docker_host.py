"""On a Docker host: a real dockerd (tests/docker_host.py) sets the FORWARD policy to DROP and
loads br_netfilter, so two namespaces on a bridge of our own cannot ping each other. The
`reachable` kind must name the host's FORWARD chain as the reason, with the one command that lets
only that bridge's traffic through, and must not blame it once the traffic is accepted.

The bridge tests use names of their own (conftest's uid), on a subnet of their own; every host
firewall rule they add names their own bridge and is deleted in a finally. Lesson 11 itself is
run with its fixed names, so this file runs under /tmp/nstutor-lesson.lock (as every test that
starts dockerd or changes the host's firewall must).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sh
from docker_host import missing_reason, ruleset, started_for_a_module
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.lessons import load_catalog
from tutor.lessons.scripts import ActionLog, run_script
from tutor.observe import take_snapshot

pytestmark = [pytest.mark.needs_root, pytest.mark.skipif(bool(missing_reason()), reason=missing_reason() or "")]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def docker():
    yield from started_for_a_module()


def reach(src: str, dst: str, port: int | None = None):
    spec = {"from": src, "to": dst} | ({"port": port} if port else {})
    exp = build({"reachable": spec})
    return grade_expectation(exp, take_snapshot(wants=wants_of([exp])))


@pytest.fixture
def bridged(netns, links, uid):
    """Lesson 11's shape with our own names: bridge <uid>br with .1 in the root netns, and two
    namespaces <uid>a (.2) and <uid>b (.3) plugged into it."""
    h = int(uid[2:], 16)
    net = f"10.{150 + (h >> 8) % 100}.{h & 0xFF}"
    br, a, b = f"{uid}br", netns("a"), netns("b")
    links.extend([br])
    sh(f"ip link add {br} type bridge && ip addr add {net}.1/24 dev {br} && ip link set {br} up")
    for ns, host_end, ip in ((a, f"{uid}va", f"{net}.2"), (b, f"{uid}vb", f"{net}.3")):
        sh(f"ip link add {host_end} type veth peer name eth0 netns {ns}")
        links.append(host_end)
        sh(f"ip link set {host_end} master {br} up")
        sh(f"ip -n {ns} addr add {ip}/24 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up")
    return br, a, b, net


def test_docker_sets_the_host_up_as_the_lesson_says(docker):
    """What lesson 11 tells the learner about a Docker host, seen on this one."""
    forward = sh("iptables -S FORWARD").stdout
    assert forward.splitlines()[0] == "-P FORWARD DROP"
    for rule in ("-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
                 "-A FORWARD -i docker0 -o docker0 -j ACCEPT", "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT"):
        assert rule in forward
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in sh("iptables -t nat -S").stdout
    assert Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"


def test_bridged_ping_names_the_hosts_forward_chain_and_its_command_works(docker, bridged):
    br, a, b, net = bridged
    v = reach(a, f"{net}.3")
    assert not v.passed
    command = f"iptables -I FORWARD -i {br} -o {br} -j ACCEPT"
    assert "iptables FORWARD chain" in v.message and "policy is DROP" in v.message, v.message
    assert "bridge-nf-call-iptables = 1" in v.message and "Docker did this" in v.message, v.message
    assert v.message.endswith(f"nothing else: {command}"), v.message
    assert "iptables -S" not in v.message, v.message
    try:
        sh(v.message.rsplit(": ", 1)[1])                     # the command exactly as the learner reads it
        v = reach(a, f"{net}.3")
        assert v.passed, v.message
        assert reach(b, f"{net}.2").passed
        # Accepted by the host, dropped by b itself: the host's FORWARD chain is not blamed now.
        sh(f"ip netns exec {b} iptables -A INPUT -p icmp -j DROP")
        v = reach(a, f"{net}.3")
        assert not v.passed
        assert "host's firewall" not in v.message and "-I FORWARD" not in v.message, v.message
        # where to look: both namespaces' own tables, and the host's FORWARD and nat POSTROUTING, which
        # see what the bridge switches (issue 12's walk-through looked only inside the namespaces)
        assert f"ip netns exec {a} iptables -S and ip netns exec {b} iptables -S" in v.message, v.message
        assert "iptables -S FORWARD; iptables -t nat -S POSTROUTING" in v.message, v.message
    finally:
        sh(f"while iptables -D FORWARD -i {br} -o {br} -j ACCEPT 2>/dev/null; do :; done")


def test_a_drop_rule_is_named_and_a_tcp_probe_is_diagnosed_too(docker, bridged):
    br, a, b, net = bridged
    sh(f"iptables -I FORWARD -i {br} -o {br} -j ACCEPT")
    sh(f"iptables -I FORWARD -i {br} -o {br} -p tcp -j DROP")
    try:
        assert reach(a, f"{net}.3").passed                    # ping: the ACCEPT rule lets it through
        v = reach(a, f"{net}.3", port=80)
        assert not v.passed
        assert f"the rule '-A FORWARD -i {br} -o {br} -p tcp -j DROP' drops it" in v.message, v.message
        assert "Docker did this" not in v.message, v.message  # the learner's own rule, not Docker's policy
    finally:
        sh(f"while iptables -D FORWARD -i {br} -o {br} -p tcp -j DROP 2>/dev/null; do :; done")
        sh(f"while iptables -D FORWARD -i {br} -o {br} -j ACCEPT 2>/dev/null; do :; done")


def test_host_and_namespace_meet_input_and_output_never_forward(docker, bridged):
    br, a, b, net = bridged
    assert reach("host", f"{net}.2").passed                 # Docker leaves INPUT and OUTPUT at ACCEPT
    assert reach(a, f"{net}.1").passed
    sh(f"ip netns exec {a} iptables -A INPUT -p icmp -j DROP")
    v = reach("host", f"{net}.2")
    assert not v.passed and "FORWARD" not in v.message, v.message
    sh(f"ip netns exec {a} iptables -F INPUT")
    sh(f"iptables -I OUTPUT -o {br} -p icmp -j DROP")
    try:
        v = reach("host", f"{net}.2")
        assert not v.passed
        assert f"in its OUTPUT chain: there the rule '-A OUTPUT -o {br} -p icmp -j DROP' drops it" in v.message, \
            v.message
        assert "FORWARD)" in v.message and "-I FORWARD" not in v.message, v.message
        assert v.message.endswith(f"iptables -I OUTPUT -o {br} -j ACCEPT"), v.message
    finally:
        sh(f"while iptables -D OUTPUT -o {br} -p icmp -j DROP 2>/dev/null; do :; done")


def _lesson(lesson_id: str):
    return next(lesson for lesson in load_catalog().lessons if lesson.id == lesson_id)


def test_lesson_bridge_on_a_docker_host_and_its_reset_leaves_the_firewall_as_found(docker, tmp_path):
    """Lesson 11 with its own names: its solutions (with the FORWARD rule, added twice, and the
    MASQUERADE rule, added twice) pass on a Docker host, and `nstutor reset bridge --yes` then
    leaves `iptables-save` exactly as before the lesson."""
    for name in ("c1", "c2"):
        if Path(f"/run/netns/{name}").exists():
            pytest.skip(f"netns {name} exists already; not touching a learner's lab")
    lesson = _lesson("bridge")
    before = ruleset()
    try:
        for step in lesson.steps:
            log = ActionLog()
            run_script(step.solution, log, step.id)
            assert log.ok, log.errors
        sh("iptables -I FORWARD -i nsbr0 -o nsbr0 -j ACCEPT")          # a learner who pasted it twice
        sh("iptables -t nat -A POSTROUTING -s 10.22.0.0/24 ! -o nsbr0 -j MASQUERADE")
        step = next(s for s in lesson.steps if s.id == "c1-c2")
        v = reach("c1", "10.22.0.3")
        assert v.passed, v.message
        assert step.expectations and ruleset() != before
    finally:
        res = subprocess.run([sys.executable, "-m", "tutor.cli", "reset", "bridge", "--yes"], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert ruleset() == before


def test_lesson_bridge_cleanup_touches_no_rule_of_docker_or_of_anyone(docker, uid):
    """Docker's own docker0 rules, and a rule for another bridge, survive the lesson's cleanup."""
    lesson = _lesson("bridge")
    other = f"{uid}br"
    sh(f"iptables -I FORWARD -i {other} -o {other} -j ACCEPT")
    try:
        before = ruleset()
        log = ActionLog()
        run_script(lesson.cleanup["script"], log, "cleanup")
        assert log.ok, log.errors
        assert ruleset() == before
    finally:
        sh(f"while iptables -D FORWARD -i {other} -o {other} -j ACCEPT 2>/dev/null; do :; done")


def test_verify_lesson_names_a_firewall_rule_its_cleanup_left(docker, tmp_path, uid):
    """verify-lesson compares the firewall too: a lesson whose cleanup forgets its rule fails, by name."""
    from demo_lesson import make_lesson
    from tutor.verify import verify_lesson
    rule = f"FORWARD -i {uid}br -o {uid}br -j ACCEPT"
    lesson = make_lesson(tmp_path, uid, cleanup=f"netns: [{uid}a]", solution=f"ip netns add {uid}a; iptables -I {rule}")
    try:
        report = verify_lesson(lesson, echo=lambda *_: None)
        assert any(f.startswith("cleanup left firewall rules behind") and f"-A {rule}" in f
                   for f in report.failures), report.failures
    finally:
        sh(f"while iptables -D {rule} 2>/dev/null; do :; done")
        sh(f"ip netns del {uid}a", check=False)
