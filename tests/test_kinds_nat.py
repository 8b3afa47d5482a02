"""masquerade on the real kernel: rules are added to the host's nat table and read back.

Every rule a test adds has a TEST-NET-2 source (198.51.100.x/32, never a real sender) and the
comment nstutor-test-<uid>; the finalizer deletes every rule carrying that comment (and the test's
own chain), from each iptables backend, whether the test passed or not.
"""
from __future__ import annotations

import ipaddress
import os
import shlex
import shutil

import pytest

from conftest import sh, wait_until
from tutor.checks.base import SpecError
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import Observer, firewall, take_snapshot

pytestmark = [pytest.mark.needs_root,
              pytest.mark.skipif(not shutil.which("iptables"), reason="iptables is not installed")]


def grade(spec: dict):
    exp = build({"masquerade": spec})
    return grade_expectation(exp, take_snapshot(wants=wants_of([exp])))


def passes(spec: dict):
    v = grade(spec)
    assert v.passed, f"expected a pass for {spec}:\nobserved: {v.observed}\nmessage: {v.message}"
    assert v.evidence
    return v


def fails(spec: dict, *fragments: str):
    v = grade(spec)
    assert not v.passed, f"expected a failure for {spec}: {v.observed}"
    for fragment in fragments:
        assert fragment in v.message, f"{fragment!r} not in {v.message!r}"
    return v


@pytest.fixture
def nat(uid):
    """nat('POSTROUTING -s ... -j MASQUERADE', tool='iptables') appends a rule tagged with the test's comment;
    nat.chain(name) creates a chain. Everything is removed at teardown."""
    tag = f"nstutor-test-{uid}"
    tools: set[str] = set()
    chains: list[tuple[str, str]] = []

    class Nat:
        source = f"198.51.100.{int(uid[2:], 16) % 250 + 1}/32"
        bridge = f"{uid}br"

        def __call__(self, rule: str, tool: str = "iptables") -> None:
            tools.add(tool)
            sh(f"{tool} -w 5 -t nat -A {rule} -m comment --comment {tag}")

        def chain(self, name: str, tool: str = "iptables") -> None:
            tools.add(tool)
            sh(f"{tool} -w 5 -t nat -N {name}")
            chains.append((tool, name))

    yield Nat()
    for tool in tools:
        for line in sh(f"{tool} -w 5 -t nat -S", check=False).stdout.splitlines():
            if tag in line and line.startswith("-A "):
                sh(f"{tool} -w 5 -t nat -D {line[3:]}", check=False)
    for tool, name in chains:
        sh(f"{tool} -w 5 -t nat -X {name}", check=False)
    for tool in tools:
        assert tag not in sh(f"{tool} -w 5 -t nat -S", check=False).stdout


def test_docker_style_rule_passes(nat):
    spec = {"source": nat.source, "not_out": nat.bridge}
    fails(spec, f"there is no MASQUERADE rule for {nat.source} in the nat table: "
                f"iptables -t nat -A POSTROUTING -s {nat.source} ! -o {nat.bridge} -j MASQUERADE")
    nat(f"POSTROUTING -s {nat.source} ! -o {nat.bridge} -j MASQUERADE")
    v = passes(spec)
    assert v.evidence["chain"] == "POSTROUTING" and f"! -o {nat.bridge}" in v.evidence["rule"]
    passes({"source": nat.source})                     # no interface condition asked for


def test_wrong_direction_and_no_exclusion(nat):
    spec = {"source": nat.source, "not_out": nat.bridge}
    nat(f"POSTROUTING -s {nat.source} -o {nat.bridge} -j MASQUERADE")
    fails(spec, f"masquerades only packets that leave BY {nat.bridge}", "The '!' goes before -o",
          f"iptables -t nat -D POSTROUTING -s {nat.source} -o {nat.bridge}")
    passes({"source": nat.source})


def test_rule_without_the_bridge_exclusion(nat):
    nat(f"POSTROUTING -s {nat.source} -j MASQUERADE")
    fails({"source": nat.source, "not_out": nat.bridge}, "even those that stay on", "Exclude the bridge")


def test_snat_instead_of_masquerade(nat):
    nat(f"POSTROUTING -s {nat.source} ! -o {nat.bridge} -j SNAT --to-source 198.51.100.254")
    fails({"source": nat.source, "not_out": nat.bridge}, "jumps to SNAT, not MASQUERADE", "to a fixed address")


def test_a_wider_subnet_is_not_the_subnet(nat):
    wide = str(ipaddress.ip_network(nat.source.replace("/32", "/31"), strict=False))
    nat(f"POSTROUTING -s {wide} ! -o {nat.bridge} -j MASQUERADE")
    fails({"source": nat.source, "not_out": nat.bridge}, f"there is a MASQUERADE rule for {wide}",
          f"not for exactly {nat.source}")


def test_rule_in_a_chain_of_its_own(nat, uid):
    chain = f"NSTUTOR-{uid.upper()}"
    nat.chain(chain)
    nat(f"{chain} -s {nat.source} ! -o {nat.bridge} -j MASQUERADE")
    fails({"source": nat.source, "not_out": nat.bridge}, f"is in chain {chain}, which POSTROUTING never jumps to")
    nat(f"POSTROUTING -s {nat.source} -j {chain}")       # as kube-proxy and flannel do
    v = passes({"source": nat.source, "not_out": nat.bridge})
    assert v.evidence["chain"] == chain


def test_legacy_backend_is_read_when_its_table_is_loaded(nat):
    legacy = shutil.which("iptables-legacy")
    if not legacy or not firewall.legacy_table_loaded("nat"):
        pytest.skip("no iptables-legacy nat table here (and loading one would change the machine)")
    nat(f"POSTROUTING -s {nat.source} ! -o {nat.bridge} -j MASQUERADE", tool="iptables-legacy")
    v = passes({"source": nat.source, "not_out": nat.bridge})
    assert v.evidence["backend"] == "legacy"
    assert "iptables-legacy" in v.observed


def test_without_root_or_iptables_a_clear_message(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    fails({"source": "10.22.0.0/24"}, "needs root: run nstutor as root")
    monkeypatch.setattr(firewall, "find_tool", lambda name: None)
    v = fails({"source": "10.22.0.0/24"}, "iptables is not installed", "apt install iptables")
    assert firewall.read_nat().tables == ()
    assert v.observed == "the nat table could not be read"


@pytest.mark.parametrize("spec, problem", [
    ({"source": "10.22.0.1/24"}, "host bits must be zero"),
    ({"source": "fd00::/64"}, "IPv6"),
    ({"source": "10.22.0.0/24", "not_out": "a/b"}, "not an interface name"),
    ({}, "missing the required field 'source'"),
])
def test_bad_specs_are_refused(spec, problem):
    with pytest.raises(SpecError, match=problem):
        build({"masquerade": spec})


def test_reading_changes_nothing(nat):
    legacy_before = firewall.legacy_table_loaded("nat")
    tools = [t for t in ("iptables-nft", "iptables-legacy" if legacy_before else "") if t and shutil.which(t)]

    def tables() -> str:
        return "".join(sh(f"{shlex.quote(t)} -w 5 -t nat -S", check=False).stdout for t in tools)

    before = tables()
    grade({"source": nat.source})
    assert tables() == before and firewall.legacy_table_loaded("nat") == legacy_before


# --------------------------------------------------------------- wrong rules beside the right one: the learner's strays
def test_a_wrong_rule_beside_the_right_one_fails_and_names_its_removal(nat, uid):
    spec = {"source": nat.source, "not_out": nat.bridge}
    nat(f"POSTROUTING -s {nat.source} ! -o {nat.bridge} -j MASQUERADE")
    nat(f"POSTROUTING -s {nat.source} -o {nat.bridge} -j MASQUERADE")      # the '!' forgotten once
    wrong = f"-A POSTROUTING -s {nat.source} -o {nat.bridge} -m comment --comment nstutor-test-{uid} -j MASQUERADE"
    v = fails(spec, "is right, but beside it is the nat rule", f"-o {nat.bridge} where '! -o {nat.bridge}' was meant",
              f"remove the stray: iptables -t nat -D {wrong[3:]}")
    stray, = v.strays
    assert stray.remove == ("iptables", "-t", "nat", "-D", *shlex.split(wrong)[1:])
    sh(stray.command)                                # exactly that rule goes, nothing else
    v = passes(spec)
    assert v.strays == ()


def test_a_wrong_subnet_naming_the_bridge_is_a_stray_and_another_subnet_is_not(nat, uid):
    spec = {"source": nat.source, "not_out": nat.bridge}
    wide = str(ipaddress.ip_network(nat.source.replace("/32", "/31"), strict=False))
    other = f"203.0.113.{int(uid[2:], 16) % 250 + 1}/32"                   # TEST-NET-3: no overlap
    nat(f"POSTROUTING -s {other} ! -o {nat.bridge} -j MASQUERADE")          # decoy
    nat(f"POSTROUTING -s {wide} ! -o {nat.bridge} -j MASQUERADE")
    v = fails(spec, f"there is a MASQUERADE rule for {wide}")
    stray, = v.strays
    assert f"source {wide}, not the containers' subnet {nat.source}" in stray.what
    assert f"remove the stray: {stray.command}" in v.message and stray.remove[5:7] == ("-s", wide)
    nat(f"POSTROUTING -s {nat.source} ! -o {nat.bridge} -j MASQUERADE")
    v = fails(spec, "is right, but beside it")          # the wide one still masquerades the bridge's traffic
    assert [s.remove for s in v.strays] == [stray.remove]
    sh(stray.command)
    assert passes(spec).strays == ()


def test_wrong_rules_alone_carry_their_strays(nat):
    spec = {"source": nat.source, "not_out": nat.bridge}
    nat(f"POSTROUTING -s {nat.source} -j MASQUERADE")
    v = fails(spec, "Exclude the bridge")
    stray, = v.strays
    assert "so it also rewrites traffic between the containers" in stray.what
    assert stray.command in v.message


def test_the_live_observer_reads_the_nat_table_only_when_asked_and_again_only_after_a_change(nat):
    """The app's loop snapshots about once a second; with lesson 11 open it used to run iptables -t nat -S
    each time. Now the Observer reads the table when a check wants it, and keeps it until nftables
    announces a change (RulesetWatch), so a rule the learner adds is still seen at the next round."""
    exp = build({"masquerade": {"source": nat.source, "not_out": nat.bridge}})
    wants = wants_of([exp])
    with Observer() as obs:
        assert obs.snapshot().nat is None and obs.nat_reads == 0          # nobody asked: nothing run
        assert not grade_expectation(exp, obs.snapshot(wants)).passed
        if not (obs._rules.watching and firewall.nat_cacheable(firewall.backends("nat"))):
            pytest.skip("no nftables change events here (iptables-legacy in use): the table is read every round")
        for _ in range(3):
            obs.snapshot(wants)
        assert obs.nat_reads == 1
        nat(f"POSTROUTING -s {nat.source} ! -o {nat.bridge} -j MASQUERADE")
        wait_until(lambda: grade_expectation(exp, obs.snapshot(wants)).passed, timeout=5,
                   what="the live observer to see the new rule")
        assert obs.nat_reads >= 2
