"""The network expectation kinds graded against the real kernel.

Each test builds real namespaces, veths, bridges, vxlan tunnels, addresses, routes,
neighbour/fdb entries and listeners (names carry the `uid` prefix; everything is removed by
the conftest fixtures, even on failure), takes a snapshot and checks that the right
expectation passes and that wrong ones fail with the message a learner needs.
Packets only travel between namespaces these tests made.
"""
from __future__ import annotations

import json
import os
import random
import time

import pytest

from conftest import sh, wait_until
from tutor.checks.base import SpecError
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root


def grade(item, snap=None):
    """Build one expectation and grade it the way the app does (a grader bug becomes a failed verdict)."""
    exp = build(item)
    verdict = grade_expectation(exp, snap or take_snapshot(wants=wants_of([exp])))
    assert "internal error" not in verdict.observed, verdict
    return verdict


def passes(item, snap=None):
    v = grade(item, snap)
    assert v.passed, f"{item} failed: observed={v.observed!r} message={v.message!r}"
    assert v.evidence, "a passing verdict carries evidence"
    json.dumps(v.evidence)          # progress export stores it as JSON
    return v


def fails(item, snap=None):
    v = grade(item, snap)
    assert not v.passed, f"{item} passed but should not: {v.observed!r}"
    assert v.expected and v.observed and v.message
    return v


def make_pair(a: str, b: str, a_end="veth0", b_end="veth1"):
    sh(f"ip link add {a_end} netns {a} type veth peer name {b_end} netns {b}")


def free_port() -> int:
    return random.randint(20000, 40000)


# --------------------------------------------------------------- netns
def test_netns_exists_only_lo_and_lo_up(netns, uid):
    hello = netns("h")
    passes({"netns": hello})
    passes({"netns": {"name": hello, "only_lo": True}})
    v = fails({"netns": {"name": hello, "lo_up": True}})
    assert v.message == f"lo in {hello} is DOWN: ip -n {hello} link set lo up"
    sh(f"ip -n {hello} link set lo up")
    v = passes({"netns": {"name": hello, "only_lo": True, "lo_up": True}})
    assert v.evidence["links"] == ["lo"] and v.evidence["lo"] == "UP"
    sh(f"ip -n {hello} link add br7 type bridge")   # (this kernel has no dummy driver)
    v = fails({"netns": {"name": hello, "only_lo": True}})
    assert "br7" in v.message and f"ip -n {hello} link del br7" in v.message


def test_missing_netns_and_absent(uid):
    v = fails({"netns": f"{uid}none"})
    assert v.message == f"there is no network namespace {uid}none: ip netns add {uid}none"
    passes({"netns": {"name": f"{uid}none", "absent": True}})


def test_netns_of_a_process_in_an_unnamed_netns(spawn, uid):
    marker = f"sleep {random.randint(100000, 999999)}"
    proc = spawn(f"unshare --net {marker}")
    wait_until(lambda: proc.pid in take_snapshot().processes, what="the unshare'd sleep")
    v = passes({"netns": {"name": {"netns_of": {"cmdline": f"^{marker}$"}}, "only_lo": True}})
    assert v.evidence["netns"].startswith(f"the netns of pid {proc.pid}")
    v = fails({"netns": {"name": {"netns_of": {"cmdline": f"^{marker}$"}}, "lo_up": True}})
    assert f"nsenter --net=/proc/{proc.pid}/ns/net ip link set lo up" in v.message


def test_netns_pinned_by_ip_netns_add_and_held_only_by_a_process(netns, spawn, uid):
    """`ip netns add` bind-mounts the new netns on /run/netns/NAME: pinned. `unshare --net` makes one
    that only its process holds: not pinned, until `ip netns attach` (the failure's advice) pins it."""
    named = netns("pin")
    v = passes({"netns": {"name": named, "pinned": True}})
    assert v.evidence["pinned_by"] == [f"/run/netns/{named}"]
    v = fails({"netns": {"name": named, "pinned": False}})
    assert v.observed.startswith(f"/run/netns/{named} holds net:[")
    marker = f"sleep {random.randint(100000, 999999)}"
    proc = spawn(f"unshare --net {marker}")
    wait_until(lambda: proc.pid in take_snapshot().processes, what="the unshare'd sleep")
    ref = {"netns_of": {"cmdline": f"^{marker}$"}}
    v = passes({"netns": {"name": ref, "pinned": False}})
    assert v.evidence["pinned_by"] == []
    inode = os.stat(f"/proc/{proc.pid}/ns/net").st_ino
    v = fails({"netns": {"name": ref, "pinned": True}})
    assert v.observed == f"no file in /run/netns holds net:[{inode}], and no nsfs mount elsewhere"
    assert f"held only by its processes (1 process: pid {proc.pid})" in v.message
    attached = f"{uid}att"
    try:
        sh(f"ip netns attach {attached} {proc.pid}")
        v = passes({"netns": {"name": ref, "pinned": True}})
        assert v.evidence["pinned_by"] == [f"/run/netns/{attached}"]
    finally:
        sh(f"ip netns del {attached}", check=False)


# --------------------------------------------------------------- veth
def test_veth_pair_across_netns_and_up(netns):
    red, blue = netns("R"), netns("B")
    v = fails({"veth": {"ends": [f"{red}/veth0", f"{blue}/veth1"]}})
    assert "the pair does not exist yet" in v.message
    assert f"ip -n {red} link add veth0 type veth peer name veth1 netns {blue}" in v.message
    make_pair(red, blue)
    v = passes({"veth": {"ends": [f"{red}/veth0", f"{blue}/veth1"]}})
    assert [e["netns"] for e in v.evidence["ends"]] == [red, blue]

    v = fails({"veth": {"ends": [f"{red}/veth0", f"{blue}/veth1"], "up": True}})
    assert v.message.startswith("both ends are DOWN")
    sh(f"ip -n {red} link set veth0 up")
    v = fails({"veth": {"ends": [f"{red}/veth0", f"{blue}/veth1"], "up": True}})
    assert v.message.startswith(f"veth1 is in {blue} but DOWN: ip -n {blue} link set veth1 up")
    # the up end has no carrier until its peer is on: NO-CARRIER, state DOWN (6.x) or LOWERLAYERDOWN
    assert "the other end shows NO-CARRIER until then" in v.message and "switched on but" in v.observed
    sh(f"ip -n {blue} link set veth1 up")
    passes({"veth": {"ends": [f"{red}/veth0", f"{blue}/veth1"], "up": True}})
    passes({"veth": {"ends": [f"{blue}/veth1", f"{red}/veth0"], "up": True}})   # order does not matter


def test_veth_end_in_the_wrong_netns(netns, links, uid):
    red, blue, green = netns("R"), netns("B"), netns("G")
    make_pair(red, blue)
    v = fails({"veth": {"ends": [f"{red}/veth0", f"{green}/veth1"]}})
    assert v.message == f"veth1 is in {blue}, expected {green}: ip -n {blue} link set veth1 netns {green}"
    # One end left in the host: the message names the root netns.
    host_end = f"{uid}h"
    sh(f"ip link add {host_end} type veth peer name eth0 netns {green}")
    links.append(host_end)
    passes({"veth": {"ends": [host_end, f"{green}/eth0"]}})
    v = fails({"veth": {"ends": [f"{blue}/{host_end}", f"{green}/eth0"]}})
    assert v.message == (f"{host_end} is in the root netns, expected {blue}: ip link set {host_end} netns {blue}"
                         f" (or, to start over, remove the stray: ip link del {host_end})")


def test_veth_ends_of_two_different_pairs(netns):
    red, blue = netns("R"), netns("B")
    make_pair(red, blue)
    make_pair(red, blue, "vethx", "vethy")
    v = fails({"veth": {"ends": [f"{red}/veth0", f"{blue}/vethy"]}})
    assert f"its peer is veth1 in {blue}, not vethy in {blue}" in v.message and "two different pairs" in v.message
    sh(f"ip -n {red} link add br0 type bridge")
    v = fails({"veth": {"ends": [f"{red}/br0", f"{blue}/veth1"]}})
    assert f"br0 in {red} is a bridge, not a veth" in v.message


# --------------------------------------------------------------- link
def test_link_facts(netns):
    ns = netns("L")
    sh(f"ip -n {ns} link add br0 type bridge")
    sh(f"ip -n {ns} link add veth0 type veth peer name veth1")
    sh(f"ip -n {ns} link set veth0 mtu 1400 address 0a:58:0a:00:00:07 master br0")
    passes({"link": {"dev": f"{ns}/veth0", "kind": "veth", "mtu": 1400, "master": "br0",
                     "mac": "0A:58:0A:00:00:07", "up": False}})
    passes({"link": {"netns": ns, "dev": "br0", "kind": "bridge"}})
    v = fails({"link": {"dev": f"{ns}/veth0", "mtu": 1450}})
    assert v.message == f"veth0 in {ns} has MTU 1400, expected 1450: ip -n {ns} link set veth0 mtu 1450"
    v = fails({"link": {"dev": f"{ns}/veth1", "master": "br0"}})
    assert "is not a port of any bridge" in v.message and f"ip -n {ns} link set veth1 master br0" in v.message
    v = fails({"link": {"dev": f"{ns}/veth0", "up": True}})
    assert v.message == f"veth0 is in {ns} but DOWN: ip -n {ns} link set veth0 up"
    sh(f"ip -n {ns} link set veth0 up")
    v = fails({"link": {"dev": f"{ns}/veth0", "up": True}})           # its peer is still down
    assert f"ip -n {ns} link set veth1 up" in v.message
    # the state named is the one `ip link` shows on this kernel, read back here
    shown = "LOWERLAYERDOWN" if "LOWERLAYERDOWN" in sh(f"ip -n {ns} link show veth0").stdout else "DOWN"
    assert f"shows NO-CARRIER and {shown} (a cable plugged in at one end only)" in v.message
    v = fails({"link": {"dev": f"{ns}/br0", "kind": "vxlan"}})
    assert "is a bridge, not a vxlan" in v.message
    passes({"link": {"dev": f"{ns}/nothere", "absent": True}})
    v = fails({"link": {"dev": f"{ns}/veth1", "absent": True}})
    assert f"ip -n {ns} link del veth1" in v.message


# --------------------------------------------------------------- bridge
def hub_with_two_cables(netns) -> tuple[str, str, str]:
    """netns H with a bridge br0 (down) and veth ends vethc1, vethc2 whose peers are eth0 in c1 and c2."""
    hub, c1, c2 = netns("H"), netns("c1"), netns("c2")
    sh(f"ip -n {hub} link add br0 type bridge")
    make_pair(hub, c1, "vethc1", "eth0")
    make_pair(hub, c2, "vethc2", "eth0")
    return hub, c1, c2


def test_bridge_with_ports(netns):
    hub, c1, c2 = hub_with_two_cables(netns)
    sh(f"ip -n {hub} link set vethc1 master br0")
    v = fails({"bridge": {"dev": f"{hub}/br0", "ports": ["vethc1", "vethc2"], "up": True}})
    assert v.message == f"br0 is in {hub} but DOWN: ip -n {hub} link set br0 up"
    sh(f"ip -n {hub} link set br0 up")
    v = fails({"bridge": {"dev": f"{hub}/br0", "ports": ["vethc1", "vethc2"], "up": True}})
    assert v.message == (f"vethc2 is not a port of any bridge, expected a port of br0: "
                         f"ip -n {hub} link set vethc2 master br0")
    sh(f"ip -n {hub} link set vethc2 master br0")
    v = passes({"bridge": {"dev": f"{hub}/br0", "ports": ["vethc1", f"{hub}/vethc2"], "up": True}})
    assert v.evidence["ports"] == ["vethc1", "vethc2"]
    v = fails({"bridge": {"netns": hub, "dev": "br0", "ports": ["vethc1"], "ports_up": True}})
    assert f"port vethc1 of br0 is in {hub} but DOWN" in v.message
    v = fails({"bridge": {"dev": f"{hub}/br0", "ports": ["eth0"]}})      # eth0 lives in c1/c2
    assert "must be in" in v.message and f"netns {hub}" in v.message
    v = fails({"bridge": {"dev": f"{hub}/nsbr9"}})
    assert v.message == f"{hub} has no bridge nsbr9: ip -n {hub} link add nsbr9 type bridge"
    with pytest.raises(SpecError, match="ports of a bridge live in the bridge's netns"):
        build({"bridge": {"dev": f"{hub}/br0", "ports": [f"{c1}/eth0"]}})


def host_bridge_with_a_port(links, uid) -> tuple[str, str]:
    """A bridge <uid>br in the host's netns with one port <uid>p (a veth whose peer <uid>q is no port)."""
    br, port = f"{uid}br", f"{uid}p"
    sh(f"ip link add {br} type bridge")
    links.append(br)
    sh(f"ip link add {port} type veth peer name {uid}q")
    links.append(port)
    sh(f"ip link set {port} master {br}")
    return br, port


def test_bridge_in_the_host_netns(links, uid):
    br, port = host_bridge_with_a_port(links, uid)
    passes({"bridge": {"dev": br, "ports": [port]}})
    v = fails({"bridge": {"dev": br, "ports": [f"{uid}q"]}})
    assert v.message == f"{uid}q is not a port of any bridge, expected a port of {br}: ip link set {uid}q master {br}"


def test_bridge_hairpin_ports(netns):
    """hairpin: [PORT...]: those ports of the bridge must have hairpin on (CNI's hairpinMode: true)."""
    hub, c1, c2 = hub_with_two_cables(netns)
    sh(f"ip -n {hub} link set vethc1 master br0 && ip -n {hub} link set vethc2 master br0")
    sh(f"bridge -n {hub} link set dev vethc1 hairpin on")
    v = passes({"bridge": {"dev": f"{hub}/br0", "ports": ["vethc1", "vethc2"], "hairpin": ["vethc1"]}})
    assert v.evidence["hairpin"] == ["vethc1"]
    assert v.observed.endswith("ports: vethc1, vethc2, hairpin on: vethc1")
    v = fails({"bridge": {"dev": f"{hub}/br0", "ports": ["vethc1", "vethc2"], "hairpin": ["vethc1", "vethc2"]}})
    assert v.message == (f"port vethc2 of br0 in {hub} has hairpin off, so the bridge never sends a frame back "
                         f"out of vethc2, the port it came in by: bridge -n {hub} link set dev vethc2 hairpin on")
    assert v.observed.endswith("hairpin on: vethc1")
    assert v.expected.endswith("with ports vethc1, vethc2, hairpin on vethc1, vethc2")
    sh(f"bridge -n {hub} link set dev vethc2 hairpin on")
    passes({"bridge": {"dev": f"{hub}/br0", "hairpin": ["vethc1", f"{hub}/vethc2"]}})
    sh(f"ip -n {hub} link set vethc2 nomaster")         # no longer a port: its hairpin means nothing
    v = fails({"bridge": {"dev": f"{hub}/br0", "hairpin": ["vethc2"]}})
    assert v.message == (f"vethc2 is not a port of any bridge, expected a port of br0: "
                         f"ip -n {hub} link set vethc2 master br0")


def test_bridge_hairpin_in_the_host_netns(links, uid):
    br, port = host_bridge_with_a_port(links, uid)
    v = fails({"bridge": {"dev": br, "ports": [port], "hairpin": [port]}})
    assert v.message.endswith(f": bridge link set dev {port} hairpin on")
    sh(f"bridge link set dev {port} hairpin on")
    passes({"bridge": {"dev": br, "ports": [port], "hairpin": [port]}})


# --------------------------------------------------------------- vxlan overlay: vxlan, route, neighbour, fdb, reachable
MAC1, MAC2 = "0a:58:ac:10:00:00", "0a:58:ac:10:01:00"


@pytest.fixture
def overlay(netns):
    """Two 'nodes' on an underlay veth (192.168.100.10/.11), each with a flannel-style vxlan,
    onlink routes, neighbour and fdb entries for the other's VTEP MAC."""
    n1, n2 = netns("n1"), netns("n2")
    make_pair(n1, n2, "eth0", "eth0")
    for ns, ip, mac, net, peer_ip, peer_mac, peer_net in (
            (n1, "192.168.100.10", MAC1, "172.16.0.0", "192.168.100.11", MAC2, "172.16.1.0"),
            (n2, "192.168.100.11", MAC2, "172.16.1.0", "192.168.100.10", MAC1, "172.16.0.0")):
        sh(f"ip -n {ns} addr add {ip}/24 dev eth0 && ip -n {ns} link set eth0 up")
        sh(f"ip -n {ns} link add flannel.1 address {mac} type vxlan id 1 dstport 8472 local {ip} dev eth0 nolearning")
        sh(f"ip -n {ns} addr add {net}/32 dev flannel.1 && ip -n {ns} link set flannel.1 up")
        sh(f"ip -n {ns} route add {peer_net}/24 via {peer_net} dev flannel.1 onlink")
        sh(f"ip -n {ns} neigh add {peer_net} lladdr {peer_mac} dev flannel.1 nud permanent")
        sh(f"bridge -n {ns} fdb append {peer_mac} dev flannel.1 dst {peer_ip}")
    return n1, n2


def test_vxlan_device(overlay):
    n1, _ = overlay
    v = passes({"vxlan": {"dev": f"{n1}/flannel.1", "vni": 1, "port": 8472, "local": "192.168.100.10",
                          "underlay": "eth0", "learning": False, "mtu": 1450}})
    assert v.evidence["vni"] == 1 and v.evidence["underlay"] == "eth0"
    v = fails({"vxlan": {"dev": f"{n1}/flannel.1", "vni": 2}})
    assert "has VNI 1, expected 2" in v.message
    assert (f"ip -n {n1} link del flannel.1; ip -n {n1} link add flannel.1 type vxlan id 2 dstport 8472 "
            f"local 192.168.100.10 dev eth0 nolearning") in v.message
    v = fails({"vxlan": {"dev": f"{n1}/flannel.1", "learning": True}})
    assert "has nolearning, expected learning" in v.message
    v = fails({"vxlan": {"dev": f"{n1}/flannel.1", "mtu": 1400}})
    assert f"ip -n {n1} link set flannel.1 mtu 1400" in v.message
    v = fails({"vxlan": {"dev": f"{n1}/eth0", "vni": 1}})
    assert "is a veth, not a vxlan" in v.message


def test_route_onlink_and_default(overlay):
    n1, _ = overlay
    passes({"route": {"netns": n1, "dst": "172.16.1.0/24", "via": "172.16.1.0", "dev": "flannel.1", "onlink": True}})
    passes({"route": {"dst": "192.168.100.0/24", "dev": f"{n1}/eth0"}})
    v = fails({"route": {"netns": n1, "dst": "172.16.1.0/24", "via": "172.16.1.9"}})
    assert v.message == (f"the route to 172.16.1.0/24 in {n1} goes via 172.16.1.0, expected 172.16.1.0/24 via "
                         f"172.16.1.9: ip -n {n1} route replace 172.16.1.0/24 via 172.16.1.9")
    v = fails({"route": {"netns": n1, "dst": "default", "via": "192.168.100.1"}})
    assert v.message == f"{n1} has no default route: ip -n {n1} route add default via 192.168.100.1"
    sh(f"ip -n {n1} route add 172.16.5.0/24 via 192.168.100.11")
    v = fails({"route": {"netns": n1, "dst": "172.16.5.0/24", "via": "192.168.100.11", "onlink": True}})
    assert "is not onlink" in v.message
    v = fails({"route": {"netns": n1, "dst": "172.16.1.0/24", "dev": "flannel.9"}})
    assert f"{n1} has no interface flannel.9" in v.message


def test_neighbour_and_fdb(overlay):
    n1, _ = overlay
    passes({"neighbour": {"netns": n1, "dev": "flannel.1", "ip": "172.16.1.0", "mac": MAC2, "permanent": True}})
    v = fails({"neighbour": {"netns": n1, "dev": "flannel.1", "ip": "172.16.1.0", "mac": "0a:58:ac:10:01:99"}})
    assert v.message.startswith(f"172.16.1.0 in {n1} resolves to {MAC2}, expected 0a:58:ac:10:01:99")
    assert f"ip -n {n1} neigh replace 172.16.1.0 lladdr 0a:58:ac:10:01:99 dev flannel.1 nud permanent" in v.message
    v = fails({"neighbour": {"netns": n1, "dev": "flannel.1", "ip": "172.16.2.0", "mac": MAC2}})
    assert f"ip -n {n1} neigh add 172.16.2.0 lladdr {MAC2} dev flannel.1" in v.message
    v = fails({"neighbour": {"netns": n1, "dev": "eth0", "ip": "172.16.1.0"}})
    assert "is on flannel.1, expected eth0" in v.message

    passes({"fdb": {"netns": n1, "dev": "flannel.1", "mac": MAC2, "dst": "192.168.100.11"}})
    v = fails({"fdb": {"netns": n1, "dev": "flannel.1", "mac": MAC2, "dst": "192.168.100.12"}})
    assert v.message == (f"{MAC2} on flannel.1 in {n1} points to 192.168.100.11, expected 192.168.100.12: "
                         f"bridge -n {n1} fdb replace {MAC2} dev flannel.1 dst 192.168.100.12")
    v = fails({"fdb": {"netns": n1, "dev": "flannel.1", "mac": "0a:58:ac:10:02:00", "dst": "192.168.100.12"}})
    assert f"bridge -n {n1} fdb append 0a:58:ac:10:02:00 dev flannel.1 dst 192.168.100.12" in v.message


def test_neighbour_learned_by_a_real_ping(netns):
    red, blue = netns("R"), netns("B")
    make_pair(red, blue)
    sh(f"ip -n {red} addr add 10.11.11.2/24 dev veth0 && ip -n {red} link set veth0 up")
    sh(f"ip -n {blue} addr add 10.11.11.3/24 dev veth1 && ip -n {blue} link set veth1 up")
    v = fails({"neighbour": {"netns": red, "ip": "10.11.11.3"}})
    assert f"ip netns exec {red} ping -c 1 -W 1 10.11.11.3" in v.message
    passes({"reachable": {"from": red, "to": "10.11.11.3"}})          # the probe's ARP fills the table
    blue_mac = take_snapshot().netns_by_name(blue).link("veth1").mac
    passes({"neighbour": {"netns": red, "dev": "veth0", "ip": "10.11.11.3", "mac": blue_mac, "permanent": False}})
    v = fails({"neighbour": {"netns": red, "ip": "10.11.11.3", "permanent": True}})
    assert "was learned" in v.message and "nud permanent" in v.message


def test_reachable_across_the_vxlan_overlay(overlay):
    n1, n2 = overlay
    v = passes({"reachable": {"from": n1, "to": "172.16.1.0"}})
    assert v.evidence["owner"]["netns"] == n2 and v.evidence["route"].startswith("172.16.1.0/24 via 172.16.1.0")


# --------------------------------------------------------------- address
def test_address_variants(netns):
    red, blue = netns("R"), netns("B")
    make_pair(red, blue)
    v = fails({"address": {"dev": f"{red}/veth0", "cidr": "10.11.11.2/24"}})
    assert v.message == f"veth0 in {red} does not have 10.11.11.2/24 (it has no address): " \
                        f"ip -n {red} addr add 10.11.11.2/24 dev veth0"
    sh(f"ip -n {red} addr add 10.11.11.2/32 dev veth0")
    v = fails({"address": {"dev": f"{red}/veth0", "cidr": "10.11.11.2/24"}})
    assert v.message.startswith("10.11.11.2/32 is there, expected /24")
    assert f"ip -n {red} addr del 10.11.11.2/32 dev veth0; ip -n {red} addr add 10.11.11.2/24 dev veth0" in v.message
    sh(f"ip -n {red} addr del 10.11.11.2/32 dev veth0 && ip -n {red} addr add 10.11.11.2/24 dev veth0")
    v = passes({"address": {"netns": red, "dev": "veth0", "cidr": "10.11.11.2/24"}})
    assert v.evidence["cidr"] == "10.11.11.2/24"
    # Put BLUE's address in RED by mistake.
    sh(f"ip -n {red} addr add 10.11.11.3/24 dev veth0")
    v = fails({"address": {"dev": f"{blue}/veth1", "cidr": "10.11.11.3/24"}})
    assert v.message.startswith(f"10.11.11.3/24 is on veth0 in {red}, not on veth1 in {blue}")
    v = fails({"address": {"dev": f"{blue}/veth9", "cidr": "10.11.11.3/24"}})
    assert v.message == f"{blue} has no interface veth9; it has lo, veth1"
    sh(f"ip -n {red} link add br0 type bridge && ip -n {red} addr add 10.11.11.9/24 dev br0")
    v = fails({"address": {"dev": f"{red}/veth0", "cidr": "10.11.11.9/24"}})
    assert v.message.startswith("10.11.11.9/24 is on br0, not on veth0")


# --------------------------------------------------------------- reachable
@pytest.fixture
def red_blue(netns):
    red, blue = netns("R"), netns("B")
    make_pair(red, blue)
    sh(f"ip -n {red} addr add 10.11.11.2/24 dev veth0 && ip -n {red} link set veth0 up")
    sh(f"ip -n {blue} addr add 10.11.11.3/24 dev veth1 && ip -n {blue} link set veth1 up")
    return red, blue


def test_reachable_ping_and_its_failures(red_blue):
    red, blue = red_blue
    home = os.stat("/proc/thread-self/ns/net").st_ino
    v = passes({"reachable": {"from": red, "to": "10.11.11.3"}})
    assert os.stat("/proc/thread-self/ns/net").st_ino == home, "the probe must not move the calling thread"
    assert v.evidence["owner"] == {"netns": blue, "dev": "veth1", "cidr": "10.11.11.3/24"}
    assert v.evidence["rtt_ms"] < 1000

    sh(f"ip -n {blue} link set veth1 down")
    started = time.monotonic()
    v = fails({"reachable": {"from": red, "to": "10.11.11.3"}})
    assert time.monotonic() - started < 3.0, "a probe is bounded by its one-second timeout"
    assert f"peer veth1 in {blue} is DOWN" in v.message and f"ip -n {blue} link set veth1 up" in v.message

    sh(f"ip -n {blue} link set veth1 up")
    sh(f"ip -n {blue} addr flush dev veth1 && ip -n {blue} addr add 10.11.12.3/24 dev veth1")
    sh(f"ip -n {red} addr add 10.11.11.3/32 dev lo")          # 10.11.11.3 now exists only in RED itself
    v = fails({"reachable": {"from": red, "to": "10.11.11.3"}})
    assert f"lo is in {red} but DOWN: ip -n {red} link set lo up" in v.message   # local delivery needs lo
    sh(f"ip -n {red} link set lo up")
    passes({"reachable": {"from": red, "to": "10.11.11.3"}})


def test_reachable_refuses_what_could_leave_the_machine(red_blue):
    red, _ = red_blue
    v = fails({"reachable": {"from": red, "to": "198.51.100.7"}})
    assert "only probes addresses on this machine" in v.message
    # The host has no route to 10.11.11.0/24 of its own: its default route goes out of a real NIC.
    snap = take_snapshot()
    host_default = [r for r in snap.host_netns().routes if r.dst == "default"]
    if host_default:
        v = fails({"reachable": {"from": "host", "to": "10.11.11.3"}}, snap)
        assert "did not probe" in v.message
    else:
        v = fails({"reachable": {"from": "host", "to": "10.11.11.3"}}, snap)
        assert "has no route to 10.11.11.3" in v.message


def test_reachable_tcp_port(red_blue, spawn, uid):
    red, blue = red_blue
    port = free_port()
    v = fails({"reachable": {"from": red, "to": "10.11.11.3", "port": port}})
    assert "refused" in v.message and f"port {port}" in v.message
    spawn(f"ip netns exec {blue} python3 -m http.server {port} --bind 10.11.11.3")
    wait_until(lambda: f":{port}" in sh(f"ip netns exec {blue} ss -Hltn").stdout, what="the http.server")
    v = passes({"reachable": {"from": red, "to": "10.11.11.3", "port": port}})
    assert v.evidence["port"] == port


def test_reachable_from_a_process_netns(netns, spawn):
    red = netns("R")
    marker = f"sleep {random.randint(100000, 999999)}"
    proc = spawn(f"unshare --net {marker}")
    wait_until(lambda: proc.pid in take_snapshot().processes, what="the unshare'd sleep")
    sh(f"ip -n {red} link add veth0 type veth peer name eth0 netns {proc.pid}")
    sh(f"ip -n {red} addr add 10.33.0.1/24 dev veth0 && ip -n {red} link set veth0 up")
    enter = f"nsenter --net=/proc/{proc.pid}/ns/net"
    sh(f"{enter} ip addr add 10.33.0.2/24 dev eth0 && {enter} ip link set eth0 up")
    ref = {"netns_of": {"cmdline": f"^{marker}$"}}
    passes({"reachable": {"from": ref, "to": "10.33.0.1"}})
    passes({"address": {"netns": ref, "dev": "eth0", "cidr": "10.33.0.2/24"}})


# --------------------------------------------------------------- listening
LISTENER = ("python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_INET, socket.SOCK_{kind}); "
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"{ip}\", {port})); "
            "{listen}time.sleep(600)' {marker}")


def listener(spawn, ns, port, kind="STREAM", ip="0.0.0.0", marker="x"):
    listen = "s.listen(); " if kind == "STREAM" else ""
    proc = spawn(f"ip netns exec {ns} " + LISTENER.format(kind=kind, ip=ip, port=port, listen=listen, marker=marker))
    flag = "-Hltn" if kind == "STREAM" else "-Hlun"
    wait_until(lambda: f":{port}" in sh(f"ip netns exec {ns} ss {flag}").stdout, what=f"a listener on {port}")
    return proc   # `ip netns exec` execs the program: same pid


def test_listening_tcp_where_and_by_whom(netns, spawn, uid):
    c1 = netns("c1")
    port = free_port()
    v = fails({"listening": {"netns": c1, "port": port}})
    assert v.message == (f"nothing listens on tcp port {port} in {c1}: start a server there, e.g. "
                         f"ip netns exec {c1} python3 -m http.server {port}")
    proc = listener(spawn, c1, port, marker=f"app-{uid}")
    v = passes({"listening": {"netns": c1, "port": port, "process": {"cmdline": f"app-{uid}"}}})
    assert v.evidence["ip"] == "0.0.0.0"
    if f":{port} " not in sh("ss -Hltn").stdout:        # the host does not happen to use this port
        v = fails({"listening": {"port": port}})
        assert v.message.startswith(f"{port} is listening in netns {c1}, but not in the host's")
    v = fails({"listening": {"netns": c1, "port": port, "proto": "udp"}})
    assert v.message == f"port {port} is open for tcp, not udp, in {c1}"
    v = fails({"listening": {"netns": c1, "port": port, "process": {"cmdline": f"other-{uid}"}}})
    assert f"(pid {proc.pid}), not by a process running `… other-{uid} …`" in v.message


def test_listening_udp_and_bound_address(netns, spawn):
    c1 = netns("c1")
    sh(f"ip -n {c1} link set lo up")
    port = free_port()
    listener(spawn, c1, port, kind="DGRAM", ip="127.0.0.1")
    passes({"listening": {"netns": c1, "port": port, "proto": "udp", "ip": "127.0.0.1"}})
    v = fails({"listening": {"netns": c1, "port": port, "proto": "udp", "ip": "10.0.0.1"}})
    assert f"port {port} is open in {c1}, but only on 127.0.0.1, not on 10.0.0.1" in v.message


# --------------------------------------------------------------- the shipped lessons use these kinds
def test_shipped_lessons_lint_clean():
    """The first two lessons are written with these kinds; their checks must build without a problem."""
    from pathlib import Path

    from tutor.lessons.parse import parse_lesson
    root = Path(__file__).resolve().parent.parent / "lessons"
    for name in ("01-welcome.md", "10-netns-veth.md"):
        lesson, problems = parse_lesson(root / name)
        assert lesson is not None and problems == [], problems
        kinds = {e.kind for step in lesson.steps for e in step.expectations}
        assert kinds <= {"netns", "veth", "address", "reachable"}, kinds
