"""What the host's filter table does to a packet (tutor/checks/netfilter.py) and the words the
reachable kind gets for it (tutor/checks/host_firewall.py): pure functions, fed the ruleset a
real dockerd (docker.io 20.10, Debian 12) printed with `iptables -S` on a fresh VM."""
from __future__ import annotations

from tutor.checks.host_firewall import forward_blame, local_blame, unsure
from tutor.checks.netfilter import ACCEPT, DROP, UNKNOWN, Packet, decide
from tutor.observe.firewall import HostFilter, parse_rule, parse_table

DOCKER = """\
-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-ISOLATION-STAGE-2
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
"""
FRESH = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
C1_C2 = Packet("nsbr0", "nsbr0", "10.22.0.2", "10.22.0.3", 1)


def table(text: str, extra: str = "", command: str = "iptables"):
    lines = text.splitlines()
    first_rule = next((i for i, line in enumerate(lines) if line.startswith("-A")), len(lines))   # as -I does
    return parse_table("\n".join(lines[:first_rule] + extra.splitlines() + lines[first_rule:]), "nft", command)


def host(*tables, nf: int | None = 1) -> HostFilter:
    return HostFilter(tuple(tables), nf, nf)


def test_rules_are_split_into_what_can_be_evaluated():
    rule = parse_rule("-A FORWARD -i docker0 ! -o docker0 -m comment --comment \"a b\" -j ACCEPT")
    assert rule.match("in") == ("docker0", False) and rule.match("out") == ("docker0", True)
    assert rule.target == "ACCEPT" and rule.other == ()
    rule = parse_rule("-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    assert rule.other == ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED")
    assert parse_rule("-A INPUT -p tcp -j REJECT --reject-with tcp-reset").target == "REJECT"
    assert parse_rule("-P FORWARD DROP") is None and parse_rule("-A 'unbalanced") is None


def test_dockers_ruleset_drops_another_bridge_and_accepts_docker0():
    docker = table(DOCKER)
    verdict = decide(docker, "FORWARD", C1_C2)
    assert verdict.outcome == DROP and verdict.by is None           # by the policy
    assert decide(docker, "FORWARD", Packet("docker0", "docker0", "172.17.0.2", "172.17.0.3", 1)).outcome == ACCEPT
    assert decide(docker, "INPUT", Packet("nsbr0", None, "10.22.0.2", "10.22.0.1", 1)).outcome == ACCEPT
    assert decide(table(FRESH + "-A INPUT -j ACCEPT"), "FORWARD", C1_C2).outcome == ACCEPT


def test_the_lessons_rule_and_docker_user_accept_it_and_wider_or_narrower_rules_are_judged_right():
    assert decide(table(DOCKER, "-A FORWARD -i nsbr0 -o nsbr0 -j ACCEPT"), "FORWARD", C1_C2).outcome == ACCEPT
    # the same rule in DOCKER-USER (where Docker wants a user's rules) works too
    assert decide(table(DOCKER, "-A DOCKER-USER -i nsbr0 -o nsbr0 -j ACCEPT"), "FORWARD", C1_C2).outcome == ACCEPT
    assert decide(table(DOCKER, "-A FORWARD -i nsbr+ -j ACCEPT"), "FORWARD", C1_C2).outcome == ACCEPT
    assert decide(table(DOCKER, "-A FORWARD -s 10.22.0.0/24 -d 10.22.0.0/24 -j ACCEPT"), "FORWARD",
                  C1_C2).outcome == ACCEPT
    # rules that do not match this packet change nothing
    for miss in ("-A FORWARD -i nsbr1 -o nsbr0 -j ACCEPT", "-A FORWARD -p tcp -j ACCEPT",
                 "-A FORWARD ! -s 10.22.0.2/32 -j ACCEPT", "-A FORWARD -i nsbr0 ! -o nsbr0 -j ACCEPT"):
        assert decide(table(DOCKER, miss), "FORWARD", C1_C2).outcome == DROP, miss


def test_a_rule_nstutor_cannot_evaluate_makes_it_unknown_never_a_guess():
    docker = table(DOCKER, "-A FORWARD -o nsbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    assert decide(docker, "FORWARD", C1_C2).outcome == UNKNOWN
    fresh = table(FRESH, "-A FORWARD -m physdev --physdev-is-bridged -j DROP")
    assert decide(fresh, "FORWARD", C1_C2).outcome == UNKNOWN
    assert decide(table(FRESH, "-A FORWARD -j NFQUEUE --queue-num 1"), "FORWARD", C1_C2).outcome == UNKNOWN


def test_jumps_gotos_returns_and_explicit_drops():
    text = FRESH + "-N MINE\n-N GONE\n"
    assert decide(table(text, "-A FORWARD -j MINE\n-A MINE -i nsbr0 -j DROP"), "FORWARD", C1_C2).by.text == \
        "-A MINE -i nsbr0 -j DROP"
    assert decide(table(text, "-A FORWARD -j MINE\n-A MINE -j RETURN\n-A MINE -j DROP"), "FORWARD",
                  C1_C2).outcome == ACCEPT
    # a goto's RETURN goes back past FORWARD's next rule, to the policy
    rules = "-A FORWARD -g GONE\n-A FORWARD -j DROP\n-A GONE -j RETURN"
    assert decide(table(text, rules), "FORWARD", C1_C2).outcome == ACCEPT
    assert decide(table(text, "-A FORWARD -j LOG --log-prefix x\n-A FORWARD -j REJECT"), "FORWARD",
                  C1_C2).outcome == DROP


def test_forward_blame_words_and_command():
    msg = forward_blame(host(table(DOCKER)), "nsbr0", "10.22.0.2", "10.22.0.3", 1, "c1", "c2")
    assert "policy is DROP and no rule accepts traffic from nsbr0 to nsbr0" in msg
    assert "Docker did this (its DOCKER chains are there)" in msg
    assert msg.endswith("nothing else: iptables -I FORWARD -i nsbr0 -o nsbr0 -j ACCEPT")
    # a DROP policy set by something else: Docker is named as an example, not as the culprit
    assert "Docker, for one" in forward_blame(host(table("-P FORWARD DROP\n-A INPUT -j ACCEPT")), "nsbr0",
                                              "10.22.0.2", "10.22.0.3", 1, "c1", "c2")
    # a legacy table that drops too gets its own tool's command
    legacy = table(DOCKER, command="iptables-legacy")
    assert forward_blame(host(table(DOCKER), legacy), "nsbr0", "10.22.0.2", "10.22.0.3", 1, "c1", "c2").endswith(
        "iptables -I FORWARD -i nsbr0 -o nsbr0 -j ACCEPT; iptables-legacy -I FORWARD -i nsbr0 -o nsbr0 -j ACCEPT")


def test_no_blame_without_bridge_netfilter_or_when_accepted():
    args = ("nsbr0", "10.22.0.2", "10.22.0.3", 1, "c1", "c2")
    assert forward_blame(host(table(DOCKER), nf=None), *args) is None    # br_netfilter not loaded
    assert forward_blame(host(table(DOCKER), nf=0), *args) is None
    assert forward_blame(host(table(DOCKER, "-A FORWARD -i nsbr0 -o nsbr0 -j ACCEPT")), *args) is None
    assert forward_blame(host(table(FRESH)), *args) is None
    # only the answer is dropped: still a drop of the exchange
    answer_dropped = table(FRESH, "-A FORWARD -s 10.22.0.3/32 -j DROP")
    assert forward_blame(host(answer_dropped), *args) is not None


def test_host_to_container_meets_output_and_input_only():
    docker = host(table(DOCKER))
    assert local_blame(docker, "nsbr0", "10.22.0.1", "10.22.0.2", 1) is None
    out = local_blame(host(table(DOCKER, "-A OUTPUT -o nsbr0 -j DROP")), "nsbr0", "10.22.0.1", "10.22.0.2", 1)
    assert "in its OUTPUT chain: there the rule '-A OUTPUT -o nsbr0 -j DROP' drops it" in out
    assert out.endswith("iptables -I OUTPUT -o nsbr0 -j ACCEPT")
    inp = local_blame(host(table(DOCKER.replace("-P INPUT ACCEPT", "-P INPUT DROP"))), "nsbr0", "10.22.0.1",
                      "10.22.0.2", 1)
    assert "INPUT chain: there the policy is DROP" in inp and inp.endswith("iptables -I INPUT -i nsbr0 -j ACCEPT")


def test_unsure_says_what_could_not_be_read_or_evaluated():
    unread = HostFilter((), 1, 1, ("reading the host's firewall needs root: run nstutor as root",))
    assert "needs root" in unsure(unread, "FORWARD", [C1_C2], "x")
    odd = host(table(DOCKER, "-A FORWARD -o nsbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"))
    assert "iptables -S FORWARD" in unsure(odd, "FORWARD", [C1_C2], "the chain sees it")
    assert unsure(host(table(DOCKER)), "FORWARD", [C1_C2], "x") is None
