"""reachable graded against made-up snapshots with made-up probe results (no root, no packet).

The kind asks for its probe in wants() and grades the result observe put in the snapshot
(Snapshot.probes); here observe's answer_probes is handed a fake sender, so what is asked, what is
never asked (an unsafe target) and every verdict are seen without touching the machine.
tests/test_kinds_network.py, tests/test_diagnoses.py and tests/test_reachable_forwarding.py send the
same probes through the real kernel.
"""
from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from tutor.checks.host_firewall import forward_blame
from tutor.checks.registry import build
from tutor.checks.runner import NOT_PROBED, grade_expectation, wants_of
from tutor.observe import NOTHING, Wants, answer_probes
from tutor.observe.firewall import HostFilter, parse_table
from tutor.observe.model import Address, NetNS, Probe, ProbeResult, Route, frozen_map

from test_kinds_net_unit import BLUE, HOST, RED, host, link, red_blue, snap

C1, C2, ROUTER = 900011, 900012, 900013
ANSWERED = ProbeResult(True, "answered", 0.25)
SILENCE = ProbeResult(False, "no answer within 1 second")


class Machine:
    """The fakes handed to answer_probes: a sender that answers from a table, and a filter and
    forwarding switches that count how often they were read."""

    def __init__(self, results=None, filt=None, forwarding=None):
        self.results = results or {}
        self.filt = filt or HostFilter((), None, None)
        self.switches = forwarding or {}
        self.sent: list[Probe] = []
        self.filter_reads = 0
        self.forwarding_reads: list[tuple[int, int]] = []

    def send(self, _snap, probe: Probe) -> ProbeResult:
        self.sent.append(probe)
        return self.results.get(probe, SILENCE)

    def read_filter(self) -> HostFilter:
        self.filter_reads += 1
        return self.filt

    def read_forwarding(self, ns: NetNS, version: int) -> bool | None:
        self.forwarding_reads.append((ns.inode, version))
        return self.switches.get(ns.inode)

    def answer(self, s, exp):
        return answer_probes(s, wants_of([exp]), send=self.send, read_filter=self.read_filter,
                             read_forwarding=self.read_forwarding)


def graded(item: dict, s, machine: Machine):
    exp = build(item)
    return grade_expectation(exp, machine.answer(s, exp))


def text(v) -> str:
    return v.observed + " | " + (v.message or "")


# --------------------------------------------------------------- what is asked
def test_a_safe_probe_is_asked_for_and_its_answer_passes():
    s = red_blue()
    exp = build({"reachable": {"from": "RED", "to": "10.11.11.3"}})
    assert exp.wants(s) == Wants(probes=frozenset({Probe(RED, "10.11.11.3")}))
    machine = Machine({Probe(RED, "10.11.11.3"): ANSWERED})
    v = graded({"reachable": {"from": "RED", "to": "10.11.11.3"}}, s, machine)
    assert v.passed, text(v)
    assert v.observed == "one ping to 10.11.11.3 from RED: answered in 0.2 ms"
    assert v.evidence["rtt_ms"] == 0.25 and v.evidence["route"].startswith("10.11.11.0/24 dev veth0")
    assert machine.sent == [Probe(RED, "10.11.11.3")] and machine.filter_reads == 0    # no failure: no filter


def test_a_tcp_probe_names_its_port():
    s = red_blue()
    probe = Probe(RED, "10.11.11.3", 8080)
    assert build({"reachable": {"from": "RED", "to": "10.11.11.3", "port": 8080}}).wants(s).probes == {probe}
    v = graded({"reachable": {"from": "RED", "to": "10.11.11.3", "port": 8080}}, s,
               Machine({probe: ProbeResult(False, "10.11.11.3 answered, but refused the connection: "
                                                  "nothing listens on port 8080")}))
    assert not v.passed
    assert v.message == ("10.11.11.3 answered, but refused the connection: nothing listens on port 8080: "
                         "start a server on port 8080 in BLUE, or forward the port to a server elsewhere (a DNAT rule "
                         "in the nat table of BLUE)")


@pytest.mark.parametrize("item, words", [
    ({"from": "RED", "to": "8.8.8.8"}, "only probes addresses on this machine"),
    ({"from": "GREEN", "to": "10.11.11.3"}, "there is no network namespace GREEN"),
])
def test_nothing_is_asked_when_the_verdict_needs_no_probe(item, words):
    exp = build({"reachable": item})
    assert exp.wants(red_blue()) == NOTHING
    machine = Machine()
    v = graded({"reachable": item}, red_blue(), machine)
    assert not v.passed and words in text(v) and machine.sent == []


def test_a_target_whose_route_leaves_by_a_real_nic_is_never_asked_for():
    s = red_blue()
    h = replace(s.netns[HOST], routes=(Route("default", socket.AF_INET, dev="eth0", via="192.0.2.1"),))
    s2 = replace(s, netns=frozen_map({**s.netns, HOST: h}))
    exp = build({"reachable": {"from": "host", "to": "10.11.11.3"}})
    assert exp.wants(s2) == NOTHING
    machine = Machine()
    v = graded({"reachable": {"from": "host", "to": "10.11.11.3"}}, s2, machine)
    assert not v.passed and "did not probe" in v.message and "eth0" in v.message
    assert machine.sent == []


def test_an_address_the_source_has_itself_is_never_asked_for():
    s = red_blue(red_addrs=("10.11.11.2/24", "10.11.11.3/24"))
    assert build({"reachable": {"from": "RED", "to": "10.11.11.3"}}).wants(s) == NOTHING
    v = graded({"reachable": {"from": "RED", "to": "10.11.11.3"}}, s, Machine())
    assert not v.passed and "RED has 10.11.11.3 itself (on veth0)" in v.message


# --------------------------------------------------------------- probes not allowed, or not asked
def test_without_probes_nothing_is_asked_and_the_verdict_says_not_probed():
    s = red_blue()
    exp = build({"reachable": {"from": "RED", "to": "10.11.11.3"}})
    assert wants_of([exp], probes=False)(s) == NOTHING
    machine = Machine()
    s2 = answer_probes(s, wants_of([exp], probes=False), send=machine.send)
    assert machine.sent == [] and s2.probes == {}
    v = grade_expectation(exp, s2, probes=False)
    assert not v.passed and v.observed == NOT_PROBED


def test_a_snapshot_taken_without_the_probe_says_so():
    v = grade_expectation(build({"reachable": {"from": "RED", "to": "10.11.11.3"}}), red_blue())
    assert not v.passed and v.observed == "not observed" and "the probe from RED to 10.11.11.3" in v.message


def test_a_probe_already_in_the_snapshot_is_not_sent_again():
    exp = build({"reachable": {"from": "RED", "to": "10.11.11.3"}})
    machine = Machine({Probe(RED, "10.11.11.3"): ANSWERED})
    once = machine.answer(red_blue(), exp)
    twice = machine.answer(once, exp)
    assert twice.probes == once.probes and machine.sent == [Probe(RED, "10.11.11.3")]


# --------------------------------------------------------------- a failed probe, diagnosed
def test_a_failed_probe_with_a_link_down_names_it_and_the_result_words_the_netns():
    s = red_blue(b_up=False)
    v = graded({"reachable": {"from": "RED", "to": "10.11.11.3"}}, s, Machine())
    assert not v.passed
    assert v.observed == "one ping to 10.11.11.3 from RED: no answer within 1 second"
    assert v.message.startswith("10.11.11.3 did not answer from RED (no answer within 1 second): ")
    gone = Machine({Probe(RED, "10.11.11.3"): ProbeResult(False, "the netns is gone", trouble="gone")})
    v = graded({"reachable": {"from": "RED", "to": "10.11.11.3"}}, s, gone)
    assert v.observed == "one ping to 10.11.11.3 from RED: RED is gone (nothing names it any more)"


def test_needing_root_is_the_whole_message_and_reads_nothing_more():
    machine = Machine({Probe(RED, "10.11.11.3"): ProbeResult(
        False, "sending a ping needs root (a raw ICMP socket): run nstutor as root")})
    v = graded({"reachable": {"from": "RED", "to": "10.11.11.3"}}, red_blue(), machine)
    assert v.message == "sending a ping needs root (a raw ICMP socket): run nstutor as root"
    assert machine.filter_reads == 0 and machine.forwarding_reads == []


def bridged():
    """Lesson 11's shape: C1 and C2 cabled to nsbr0 in the root netns."""
    h_links = (link(HOST, 1, "lo", operstate="UNKNOWN"), link(HOST, 2, "eth0"),
               link(HOST, 3, "nsbr0", "bridge"),
               link(HOST, 4, "vc1", "veth", master="nsbr0", peer_netns=C1, peer_ifindex=2, peer_name="eth0"),
               link(HOST, 5, "vc2", "veth", master="nsbr0", peer_netns=C2, peer_ifindex=2, peer_name="eth0"))
    h = host(links=h_links, addresses=(Address("nsbr0", socket.AF_INET, "10.22.0.1/24"),))

    def container(inode, name, n, peer):
        return NetNS(inode, (name,), (), False,
                     links=(link(inode, 1, "lo"), link(inode, 2, "eth0", "veth", peer_netns=HOST,
                                                       peer_ifindex=peer, peer_name=f"vc{n - 1}")),
                     addresses=(Address("eth0", socket.AF_INET, f"10.22.0.{n}/24"),),
                     routes=(Route("10.22.0.0/24", socket.AF_INET, dev="eth0", proto="kernel"),))
    return snap(h, container(C1, "C1", 2, 4), container(C2, "C2", 3, 5))


DOCKERISH = HostFilter((parse_table("-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n", "nft", "iptables"),),
                       1, 1)


def test_a_failure_across_the_hosts_bridge_reads_the_filter_once_and_blames_it():
    s = bridged()
    exp = build({"reachable": {"from": "C1", "to": "10.22.0.3"}})
    assert exp.wants(s) == Wants(probes=frozenset({Probe(C1, "10.22.0.3")}))    # the filter only after a failure
    machine = Machine(filt=DOCKERISH)
    answered = machine.answer(s, exp)
    assert machine.sent == [Probe(C1, "10.22.0.3")] and machine.filter_reads == 1
    assert answered.host_filter is DOCKERISH
    v = grade_expectation(exp, answered)
    blame = forward_blame(DOCKERISH, "nsbr0", "10.22.0.2", "10.22.0.3", 1, "C1", "C2")
    assert blame and v.message == f"10.22.0.3 did not answer from C1 (no answer within 1 second): {blame}"


def test_a_passing_probe_across_the_bridge_reads_no_filter():
    machine = Machine({Probe(C1, "10.22.0.3"): ANSWERED}, filt=DOCKERISH)
    v = graded({"reachable": {"from": "C1", "to": "10.22.0.3"}}, bridged(), machine)
    assert v.passed and machine.filter_reads == 0


def routed_chain():
    """A -- R -- B: R routes between 10.50.1.0/24 and 10.50.2.0/24."""
    a_end = link(RED, 2, "eth0", "veth", peer_netns=ROUTER, peer_ifindex=2, peer_name="left")
    b_end = link(BLUE, 2, "eth0", "veth", peer_netns=ROUTER, peer_ifindex=3, peer_name="right")
    a = NetNS(RED, ("A",), (), False, links=(link(RED, 1, "lo"), a_end),
              addresses=(Address("eth0", socket.AF_INET, "10.50.1.2/24"),),
              routes=(Route("10.50.1.0/24", socket.AF_INET, dev="eth0", proto="kernel"),
                      Route("default", socket.AF_INET, dev="eth0", via="10.50.1.1")))
    r = NetNS(ROUTER, ("R",), (), False,
              links=(link(ROUTER, 1, "lo"),
                     link(ROUTER, 2, "left", "veth", peer_netns=RED, peer_ifindex=2, peer_name="eth0"),
                     link(ROUTER, 3, "right", "veth", peer_netns=BLUE, peer_ifindex=2, peer_name="eth0")),
              addresses=(Address("left", socket.AF_INET, "10.50.1.1/24"),
                         Address("right", socket.AF_INET, "10.50.2.1/24")),
              routes=(Route("10.50.1.0/24", socket.AF_INET, dev="left", proto="kernel"),
                      Route("10.50.2.0/24", socket.AF_INET, dev="right", proto="kernel")))
    b = NetNS(BLUE, ("B",), (), False, links=(link(BLUE, 1, "lo"), b_end),
              addresses=(Address("eth0", socket.AF_INET, "10.50.2.2/24"),),
              routes=(Route("10.50.2.0/24", socket.AF_INET, dev="eth0", proto="kernel"),
                      Route("default", socket.AF_INET, dev="eth0", via="10.50.2.1")))
    return snap(host(), a, r, b)


def test_a_router_with_forwarding_off_is_read_after_the_failure_and_named():
    machine = Machine(forwarding={ROUTER: False})
    v = graded({"reachable": {"from": "A", "to": "10.50.2.2"}}, routed_chain(), machine)
    assert machine.forwarding_reads == [(ROUTER, 4)] and machine.filter_reads == 0    # no host on the way
    assert not v.passed
    assert v.message == ("10.50.2.2 did not answer from A (no answer within 1 second): R routes this packet "
                         "(it owns a gateway on the way) but does not forward packets (net.ipv4.ip_forward is 0 "
                         "there), so it drops them: ip netns exec R sysctl -w net.ipv4.ip_forward=1")


def test_a_router_that_forwards_is_not_blamed():
    v = graded({"reachable": {"from": "A", "to": "10.50.2.2"}}, routed_chain(), Machine(forwarding={ROUTER: True}))
    assert "The links on the way are up" in v.message and "ip_forward" not in v.message


# --------------------------------------------------------------- observe's own guard
def test_observe_sends_nothing_to_an_address_no_netns_has_nor_from_a_netns_it_cannot_see():
    from tutor.observe.probes import send
    s = red_blue()
    refused = send(s, Probe(RED, "192.0.2.7"))
    assert not refused.ok and refused.trouble is None and "did not send it" in refused.detail
    gone = send(s, Probe(424242, "10.11.11.3"))
    assert not gone.ok and gone.trouble == "gone"
