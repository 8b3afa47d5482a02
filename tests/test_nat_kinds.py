"""masquerade (netns), dnat, conntrack and forwarding on the real kernel, in a lab of their own.

Every test builds the NAT lab of the nat pack's lessons with its own names: a router netns
<uid>r with a bridge <uid>br (10.78.0.1/24) and a host <uid>l (10.78.0.2/24) on it, and an
"outside" netns <uid>w (203.0.113.2/24, the router's side 203.0.113.1/24). The rules and the
forwarding switch live in the router's netns and go with it: the host's firewall, routes and
sysctls are never touched. The netns fixture deletes the namespaces, the spawn fixture kills
the servers and clients, whether the test passed or not.
"""
from __future__ import annotations

import os
import shlex
import shutil

import pytest

from conftest import sh, wait_until
from tutor.checks.base import SpecError
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import take_snapshot
from tutor.observe.conntrack import parse_line

pytestmark = [pytest.mark.needs_root,
              pytest.mark.skipif(not shutil.which("iptables"), reason="iptables is not installed")]

LAN, ROUTER_LAN, HOST = "10.78.0.0/24", "10.78.0.1", "10.78.0.2"
ROUTER_WAN, OUTSIDE = "203.0.113.1", "203.0.113.2"


def grade(kind: str, spec: dict):
    exp = build({kind: spec})
    return grade_expectation(exp, take_snapshot(wants=wants_of([exp])))


def passes(kind: str, spec: dict):
    v = grade(kind, spec)
    assert v.passed, f"expected a pass for {kind} {spec}:\nobserved: {v.observed}\nmessage: {v.message}"
    return v


def fails(kind: str, spec: dict, *fragments: str):
    v = grade(kind, spec)
    assert not v.passed, f"expected a failure for {kind} {spec}: {v.observed}"
    for fragment in fragments:
        assert fragment in v.message, f"{fragment!r} not in {v.message!r}"
    return v


@pytest.fixture
def lab(uid, netns):
    """The lab, built; lab.r / lab.l / lab.w are the netns names, lab.br the bridge, lab.wan the router's
    outside interface; lab.rule('...') adds a nat rule in the router; lab.forwarding(0/1)."""
    r, l, w = netns("r"), netns("l"), netns("w")
    br, port, wan = f"{uid}br", f"{uid}p", f"{uid}wan"
    for cmd in (f"ip -n {r} link add {br} type bridge", f"ip -n {r} addr add {ROUTER_LAN}/24 dev {br}",
                f"ip -n {r} link set {br} up", f"ip -n {r} link add {port} type veth peer name eth0 netns {l}",
                f"ip -n {r} link set {port} master {br}", f"ip -n {r} link set {port} up",
                f"ip -n {l} addr add {HOST}/24 dev eth0", f"ip -n {l} link set eth0 up",
                f"ip -n {l} route add default via {ROUTER_LAN}",
                f"ip -n {r} link add {wan} type veth peer name eth0 netns {w}",
                f"ip -n {r} addr add {ROUTER_WAN}/24 dev {wan}", f"ip -n {r} link set {wan} up",
                f"ip -n {w} addr add {OUTSIDE}/24 dev eth0", f"ip -n {w} link set eth0 up",
                f"ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1"):
        sh(cmd)

    class Lab:
        pass
    lab = Lab()
    lab.r, lab.l, lab.w, lab.br, lab.wan = r, l, w, br, wan
    lab.rule = lambda rule: sh(f"ip netns exec {r} iptables -w 5 -t nat {rule}")
    lab.forwarding = lambda on: sh(f"ip netns exec {r} sysctl -qw net.ipv4.ip_forward={on}")
    return lab


def masq_spec(lab) -> dict:
    return {"netns": lab.r, "source": LAN, "not_out": lab.br}


# --------------------------------------------------------------- masquerade in a netns
def test_masquerade_reads_the_routers_table_and_names_its_commands(lab):
    add = f"ip netns exec {lab.r} iptables -t nat -A POSTROUTING -s {LAN} ! -o {lab.br} -j MASQUERADE"
    v = fails("masquerade", masq_spec(lab), f"there is no MASQUERADE rule for {LAN} in the nat table of {lab.r}: {add}")
    assert v.observed.startswith(f"nat rules of {lab.r} (")
    lab.rule(f"-A POSTROUTING -s {LAN} ! -o {lab.br} -j MASQUERADE")
    v = passes("masquerade", masq_spec(lab))
    assert v.evidence["rule"] == f"-A POSTROUTING -s {LAN} ! -o {lab.br} -j MASQUERADE"
    # the host's table has no such rule: the same check without netns still fails there
    fails("masquerade", {"source": LAN, "not_out": lab.br}, "in the nat table: iptables -t nat -A POSTROUTING")


def test_a_wrong_rule_in_the_router_is_a_stray_removed_inside_it(lab):
    lab.rule(f"-A POSTROUTING -s {LAN} -o {lab.br} -j MASQUERADE")
    v = fails("masquerade", masq_spec(lab), f"masquerades only packets that leave BY {lab.br}",
              f"ip netns exec {lab.r} iptables -t nat -D POSTROUTING -s {LAN} -o {lab.br} -j MASQUERADE")
    assert v.strays and v.strays[0].remove[:4] == ("ip", "netns", "exec", lab.r)
    lab.rule(f"-A POSTROUTING -s {LAN} ! -o {lab.br} -j MASQUERADE")
    v = fails("masquerade", masq_spec(lab), "is right, but beside it is")
    sh(shlex.join(v.strays[0].remove))               # the removal the message gives works
    passes("masquerade", masq_spec(lab))


def test_masquerade_in_a_netns_that_is_not_there():
    fails("masquerade", {"netns": "ntnonexistent", "source": LAN}, "there is no network namespace ntnonexistent")


def test_reading_the_routers_nat_table_loads_no_legacy_table(lab):
    names = f"ip netns exec {lab.r} cat /proc/net/ip_tables_names"
    before = sh(names, check=False).stdout
    grade("masquerade", masq_spec(lab))
    grade("dnat", {"netns": lab.r, "dport": 8080, "to": f"{HOST}:8080"})
    assert sh(names, check=False).stdout == before


# --------------------------------------------------------------- forwarding
def test_forwarding_in_the_router(lab):
    lab.forwarding(0)
    fails("forwarding", {"netns": lab.r},
          f"forwarding is off in {lab.r}", f"ip netns exec {lab.r} sysctl -w net.ipv4.ip_forward=1")
    passes("forwarding", {"netns": lab.r, "on": False})
    lab.forwarding(1)
    v = passes("forwarding", {"netns": lab.r})
    assert v.observed == f"net.ipv4.ip_forward = 1 ({lab.r})"
    fails("forwarding", {"netns": lab.r, "on": False}, f"ip netns exec {lab.r} sysctl -w net.ipv4.ip_forward=0")


def test_forwarding_of_the_host_is_refused_by_lint():
    with pytest.raises(SpecError, match="never the host's"):
        build({"forwarding": {"netns": "host"}})


# --------------------------------------------------------------- reachable through the router
def test_a_routed_probe_without_nat_is_not_told_to_join_a_bridge(lab):
    """Before MASQUERADE the outside has no way back: the diagnosis says so, and does not take the
    router's two cables for two ports that should share its bridge."""
    v = fails("reachable", {"from": lab.l, "to": OUTSIDE}, f"a route in {lab.w} to {lab.l}'s address, or a router on the way that masquerades it")
    assert "is not a port of any bridge" not in v.message
    lab.rule(f"-A POSTROUTING -s {LAN} ! -o {lab.br} -j MASQUERADE")
    wait_until(lambda: grade("reachable", {"from": lab.l, "to": OUTSIDE}).passed, timeout=5, what="the masqueraded ping")


# --------------------------------------------------------------- dnat
def dnat_spec(lab, **more) -> dict:
    return {"netns": lab.r, "dport": 8080, "to": f"{HOST}:8080", "in": lab.wan, **more}


def test_dnat_missing_then_right(lab):
    add = (f"ip netns exec {lab.r} iptables -t nat -A PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT "
           f"--to-destination {HOST}:8080")
    fails("dnat", dnat_spec(lab), f"there is no DNAT rule for tcp port 8080 in the nat table of {lab.r}: {add}")
    lab.rule(f"-A PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    v = passes("dnat", dnat_spec(lab))
    assert "-m tcp --dport 8080" in v.evidence["rule"] and v.evidence["chain"] == "PREROUTING"
    passes("dnat", {"netns": lab.r, "dport": 8080, "to": f"{HOST}:8080"})        # no interface asked for
    fails("dnat", dnat_spec(lab, proto="udp"), "but for tcp port 8080, not udp port 8080")
    fails("dnat", dnat_spec(lab, dport=8443, to="10.78.0.3:443"), "there is no DNAT rule for tcp port 8443")


def test_dnat_near_misses_say_what_differs(lab):
    lab.rule(f"-A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    fails("dnat", dnat_spec(lab), "applies to packets arriving by any interface",
          f"ip netns exec {lab.r} iptables -t nat -D PREROUTING -p tcp -m tcp --dport 8080 -j DNAT")
    lab.rule(f"-F PREROUTING")
    lab.rule(f"-A PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination 10.78.0.9:8080")
    fails("dnat", dnat_spec(lab), "forwards port 8080 to 10.78.0.9:8080, not to 10.78.0.2:8080")
    lab.rule(f"-F PREROUTING")
    lab.rule(f"-A PREROUTING -i {lab.wan} -p tcp --dport 8081 -j DNAT --to-destination {HOST}:8080")
    fails("dnat", dnat_spec(lab), f"forwards to {HOST}:8080, but for tcp port 8081, not tcp port 8080")
    lab.rule(f"-F PREROUTING")
    lab.rule("-N NTFWD")
    lab.rule(f"-A NTFWD -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    fails("dnat", dnat_spec(lab), "is in chain NTFWD, which PREROUTING never jumps to")
    lab.rule("-A PREROUTING -j NTFWD")                                           # as docker's DOCKER chain
    assert passes("dnat", dnat_spec(lab)).evidence["chain"] == "NTFWD"


def test_dnat_a_wrong_rule_beside_the_right_one(lab):
    lab.rule(f"-A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.78.0.9")
    lab.rule(f"-A PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    v = fails("dnat", dnat_spec(lab), "is right, but beside it is the nat rule",
              "to 10.78.0.9 instead of 10.78.0.2:8080")
    sh(shlex.join(v.strays[0].remove))
    passes("dnat", dnat_spec(lab))


def test_dnat_absent(lab):
    passes("dnat", dnat_spec(lab, absent=True))
    lab.rule(f"-A PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    v = fails("dnat", dnat_spec(lab, absent=True), "the port forward is still there (1 rule): delete it: "
              f"ip netns exec {lab.r} iptables -t nat -D PREROUTING -i {lab.wan} -p tcp -m tcp --dport 8080")
    sh(v.message.split("delete it: ", 1)[1])
    passes("dnat", dnat_spec(lab, absent=True))


# --------------------------------------------------------------- conntrack
def serve(spawn, ns: str, ip: str, port: int) -> None:
    spawn(["ip", "netns", "exec", ns, "python3", "-m", "http.server", str(port), "--bind", ip])
    wait_until(lambda: f"{ip}:{port}" in sh(f"ip netns exec {ns} ss -Hltn").stdout, timeout=10,
               what=f"a server on {ip}:{port} in {ns}")


def hold(spawn, ns: str, ip: str, port: int) -> None:
    """A client in *ns* that opens one TCP connection to ip:port and keeps it open (killed at teardown)."""
    spawn(["ip", "netns", "exec", ns, "python3", "-c",
           f"import socket, time; c = socket.create_connection(({ip!r}, {port})); time.sleep(600)"])


def snat_spec(lab, **more) -> dict:
    return {"netns": lab.r, "src": HOST, "dst": OUTSIDE, "dport": 8000, "reply_dst": ROUTER_WAN, **more}


def test_conntrack_shows_the_source_nat(lab, spawn):
    look = f"ip netns exec {lab.r} cat /proc/net/nf_conntrack"
    lab.rule(f"-A POSTROUTING -s {LAN} ! -o {lab.br} -j MASQUERADE")
    fails("conntrack", snat_spec(lab), f"holds no tcp connection from {HOST} to {OUTSIDE} port 8000", look)
    serve(spawn, lab.w, OUTSIDE, 8000)
    hold(spawn, lab.l, OUTSIDE, 8000)
    wait_until(lambda: grade("conntrack", snat_spec(lab)).passed, timeout=10, what="the tracked connection")
    v = passes("conntrack", snat_spec(lab))
    assert v.evidence["reply"].startswith(f"{OUTSIDE}:8000 -> {ROUTER_WAN}:") and "ESTABLISHED" in v.observed
    fails("conntrack", snat_spec(lab, reply_dst="203.0.113.9"),
          f"the answers of this connection go to {ROUTER_WAN}, not to 203.0.113.9",
          "NAT is decided on a connection's first packet")


def test_conntrack_without_nat_says_no_rule_rewrote_it(lab, spawn):
    """No MASQUERADE: the first packet passes unrewritten, the entry's answers go back to the host itself."""
    lab.rule(f"-A PREROUTING -p udp --dport 9 -j DNAT --to-destination {HOST}")    # conntrack on in the router
    serve(spawn, lab.w, OUTSIDE, 8000)
    hold(spawn, lab.l, OUTSIDE, 8000)                     # the SYN goes out; no answer finds its way back
    wait_until(lambda: "its answers go back to" in grade("conntrack", snat_spec(lab)).message, timeout=10,
               what="the unrewritten entry")
    fails("conntrack", snat_spec(lab), f"its answers go back to {HOST} itself: no source NAT rewrote it")


def test_conntrack_shows_the_destination_nat(lab, spawn):
    spec = {"netns": lab.r, "src": OUTSIDE, "dst": ROUTER_WAN, "dport": 8080, "reply_src": HOST}
    lab.rule(f"-A PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    serve(spawn, lab.l, HOST, 8080)
    hold(spawn, lab.w, ROUTER_WAN, 8080)
    wait_until(lambda: grade("conntrack", spec).passed, timeout=10, what="the tracked port forward")
    assert passes("conntrack", spec).evidence["reply"].startswith(f"{HOST}:8080 -> {OUTSIDE}:")
    fails("conntrack", {**spec, "reply_src": "10.78.0.9"},
          f"the answers of this connection come from {HOST}, not from 10.78.0.9")
    lab.rule(f"-D PREROUTING -i {lab.wan} -p tcp --dport 8080 -j DNAT --to-destination {HOST}:8080")
    passes("conntrack", spec)                             # the tracked connection keeps its NAT


def test_conntrack_lint():
    with pytest.raises(SpecError, match="needs reply_src"):
        build({"conntrack": {"netns": "x", "src": HOST, "dst": OUTSIDE}})
    with pytest.raises(SpecError, match="an icmp connection has no port"):
        build({"conntrack": {"netns": "x", "proto": "icmp", "src": HOST, "dst": OUTSIDE, "dport": 1,
                             "reply_dst": ROUTER_WAN}})


def test_parse_conntrack_lines():
    e = parse_line("ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.0.2 dst=203.0.113.2 sport=41218 dport=8000 "
                   "src=203.0.113.2 dst=203.0.113.1 sport=8000 dport=41218 [ASSURED] mark=0 zone=0 use=2")
    assert (e.proto, e.state, e.flags) == ("tcp", "ESTABLISHED", ("ASSURED",))
    assert (e.original.src, e.original.dport, e.reply.dst, e.reply.dport) == ("10.77.0.2", 8000, "203.0.113.1", 41218)
    assert e.source_nat and not e.destination_nat
    e = parse_line("ipv4     2 icmp     1 29 src=10.77.0.2 dst=203.0.113.2 type=8 code=0 id=2871 [UNREPLIED] "
                   "src=203.0.113.2 dst=203.0.113.1 type=0 code=0 id=2871 mark=0 zone=0 use=2")
    assert e.flags == ("UNREPLIED",) and e.original.sport == 2871 and e.words().startswith("icmp 10.77.0.2 -> ")
    assert parse_line("ipv4 2 tcp 6 10 src=1.2.3.4") is None
    assert parse_line("") is None


def test_korean_messages(lab, korean):
    v = fails("dnat", dnat_spec(lab))
    assert "DNAT" in v.message and any("\uac00" <= ch <= "\ud7a3" for ch in v.message), v.message
    v = fails("conntrack", snat_spec(lab))
    assert any("\uac00" <= ch <= "\ud7a3" for ch in v.message), v.message


def test_reading_conntrack_opens_no_netlink_socket_that_would_load_a_module(lab):
    """The table is read from /proc: nf_conntrack_netlink, were it a module not loaded yet, stays unloaded."""
    loaded = lambda: os.path.exists("/sys/module/nf_conntrack_netlink")
    before = loaded()
    v = grade("conntrack", snat_spec(lab))
    assert "could not be read" not in v.observed and loaded() == before
