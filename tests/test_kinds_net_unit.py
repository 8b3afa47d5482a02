"""Pure grading tests of the network kinds on hand-built snapshots.

These cover what the kernel cannot easily be made to show on demand (a netns that could not
be read, a peer nstutor cannot see, ambiguous process selectors, the lint of each kind);
tests/test_kinds_network.py grades the same kinds against the real kernel.
"""
from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from tutor.checks.base import SpecError
from tutor.checks.registry import build
from tutor.observe.model import (Address, CgroupInfo, FdbEntry, Link, Mount, Neighbour, NetNS, Process, Route,
                                 Snapshot, Socket, VxlanInfo, frozen_map)

# Made-up inodes that no real namespace has, so nothing here can ever point at a real netns.
HOST, RED, BLUE, POD = 900001, 900002, 900003, 900004
HOST_MNT, OTHER_MNT = 900101, 900102


def link(ns, ifindex, name, kind=None, up=True, operstate=None, **kw):
    return Link(netns=ns, ifindex=ifindex, name=name, kind=kind, admin_up=up,
                operstate=operstate or ("UP" if up else "DOWN"), mtu=kw.pop("mtu", 1500),
                mac=kw.pop("mac", f"0a:00:00:00:{ns % 256:02x}:{ifindex:02x}"), **kw)


def snap(*netns: NetNS, processes=()) -> Snapshot:
    return Snapshot(
        taken_at=0.0, monotonic=0.0, duration_ms=1.0,
        processes=frozen_map({p.pid: p for p in processes}), namespaces=(),
        host_ns=frozen_map({"net": HOST}), netns=frozen_map({n.inode: n for n in netns}),
        hostnames=frozen_map({}), mounts=frozen_map({}), shm=frozen_map({}), userns=frozen_map({}),
        cgroups=CgroupInfo(mode="v2", cpu_root="/sys/fs/cgroup"), is_root=True)


def host(**kw) -> NetNS:
    kw.setdefault("links", (link(HOST, 1, "lo", operstate="UNKNOWN"), link(HOST, 2, "eth0")))
    return NetNS(inode=HOST, names=(), pids=(1,), is_host=True, **kw)


def veth_pair(a_up=True, b_up=True):
    """RED/veth0 <-> BLUE/veth1, with the peer pointers the kernel reports."""
    a = link(RED, 2, "veth0", "veth", a_up, "UP" if a_up and b_up else ("LOWERLAYERDOWN" if a_up else "DOWN"),
             peer_netns=BLUE, peer_ifindex=5, peer_name="veth1")
    b = link(BLUE, 5, "veth1", "veth", b_up, "UP" if a_up and b_up else ("LOWERLAYERDOWN" if b_up else "DOWN"),
             peer_netns=RED, peer_ifindex=2, peer_name="veth0")
    return a, b


def red_blue(a_up=True, b_up=True, red_addrs=("10.11.11.2/24",), extra_red=()):
    a, b = veth_pair(a_up, b_up)
    red = NetNS(RED, ("RED",), (), False, links=(link(RED, 1, "lo", up=False), a) + tuple(extra_red),
                addresses=tuple(Address("veth0", socket.AF_INET, c) for c in red_addrs),
                routes=(Route("10.11.11.0/24", socket.AF_INET, dev="veth0", proto="kernel"),))
    blue = NetNS(BLUE, ("BLUE",), (), False, links=(link(BLUE, 1, "lo", up=False), b),
                 addresses=(Address("veth1", socket.AF_INET, "10.11.11.3/24"),))
    return snap(host(), red, blue)


def grade(item, s):
    return build(item).grade(s)


# --------------------------------------------------------------- refs and netns
def test_missing_netns_says_how_to_make_it():
    v = grade({"netns": "GREEN"}, red_blue())
    assert not v.passed
    assert v.message == "there is no network namespace GREEN: ip netns add GREEN"
    assert "BLUE" in v.observed and "RED" in v.observed


def test_netns_name_is_case_sensitive_and_the_message_says_so():
    v = grade({"netns": {"name": "red"}}, red_blue())
    assert not v.passed and "case-sensitive" in v.message and "RED" in v.message


def test_only_lo_names_the_extra_links():
    v = grade({"netns": {"name": "RED", "only_lo": True}}, red_blue())
    assert not v.passed
    assert "veth0" in v.message and "ip -n RED link del veth0" in v.message


def test_lo_up_fails_with_the_command_and_passes_with_evidence():
    v = grade({"netns": {"name": "RED", "lo_up": True}}, red_blue())
    assert not v.passed and v.message == "lo in RED is DOWN: ip -n RED link set lo up"
    v = grade({"netns": {"name": "host", "lo_up": True}}, red_blue())
    assert v.passed and v.evidence["lo"] == "UP"


def test_netns_of_process_resolves_and_ambiguity_is_explained():
    pod = NetNS(POD, (), (700, 701), False, links=(link(POD, 1, "lo"),))
    procs = (Process(700, 1, "pause", ("/pause",), "S", 0, {"net": POD}),
             Process(800, 1, "pause", ("/pause",), "S", 0, {"net": RED}))
    one = snap(host(), pod, processes=procs[:1])
    v = grade({"netns": {"name": {"netns_of": {"comm": "pause"}}, "only_lo": True}}, one)
    assert v.passed, v.message
    two = snap(host(), pod, red_blue().netns[RED], processes=procs)
    v = grade({"netns": {"name": {"netns_of": {"comm": "pause"}}}}, two)
    assert not v.passed and "different network namespaces" in v.message
    v = grade({"listening": {"netns_of": {"comm": "nginx"}, "port": 80}}, one)
    assert not v.passed and "named 'nginx'" in v.message


def test_unreadable_netns_is_not_reported_as_empty():
    broken = NetNS(RED, ("RED",), (), False, error="permission denied")
    v = grade({"netns": {"name": "RED", "only_lo": True}}, snap(host(), broken))
    assert not v.passed and "could not" in v.message and "permission denied" in v.observed


def test_netns_absent():
    assert grade({"netns": {"name": "GREEN", "absent": True}}, red_blue()).passed
    v = grade({"netns": {"name": "RED", "absent": True}}, red_blue())
    assert not v.passed and "ip netns del RED" in v.message


def pinned_snap(*host_mounts: Mount, other_mounts: tuple[Mount, ...] = ()) -> Snapshot:
    """RED (named: /run/netns/RED) and POD, an unnamed netns of pid 700 that only the mounts given
    may pin: the host's mount table (mnt inode HOST_MNT) and a container's (OTHER_MNT)."""
    pod = NetNS(POD, (), (700,), False, links=(link(POD, 1, "lo"),))
    s = replace(red_blue(), netns=frozen_map({**red_blue().netns, POD: pod}),
                host_ns=frozen_map({"net": HOST, "mnt": HOST_MNT}),
                processes=frozen_map({700: Process(700, 1, "pause", ("/pause",), "S", 65535, {"net": POD})}))
    return replace(s, mounts=frozen_map({HOST_MNT: (Mount(1, 0, "/", "ext4", "/dev/vda", "rw"),) + host_mounts,
                                         OTHER_MNT: other_mounts}))


def nsfs(target: str, inode: int) -> Mount:
    return Mount(40, 1, target, "nsfs", "nsfs", "rw", f"net:[{inode}]")


def test_netns_pinned_by_its_name_in_run_netns():
    v = grade({"netns": {"name": "RED", "pinned": True}}, pinned_snap())
    assert v.passed and v.evidence["pinned_by"] == ["/run/netns/RED"] and "pinned by /run/netns/RED" in v.observed
    v = grade({"netns": {"name": "RED", "pinned": False}}, pinned_snap())
    assert not v.passed and v.observed == f"/run/netns/RED holds net:[{RED}]"
    assert "stays after its last process exits" in v.message and "unshare --net" in v.message


def test_netns_pinned_by_an_nsfs_mount_elsewhere_like_dockers():
    """Seed 002's lsns: a pod's netns in the NSFS column as /run/docker/netns/ID, with no name in /run/netns."""
    ref = {"netns_of": {"comm": "pause"}}
    s = pinned_snap(nsfs("/run/docker/netns/90b6db59b16b", POD), nsfs("/run/docker/netns/default", HOST))
    v = grade({"netns": {"name": ref, "pinned": True}}, s)
    assert v.passed, v.message
    assert v.evidence["pinned_by"] == ["/run/docker/netns/90b6db59b16b"]
    s = pinned_snap(other_mounts=(nsfs("/var/run/netns/cni-1234", POD),))
    v = grade({"netns": {"name": ref, "pinned": True}}, s)
    assert v.passed and v.evidence["pinned_by"] == [f"/var/run/netns/cni-1234 (in mnt:[{OTHER_MNT}])"]


def test_netns_held_only_by_its_processes_is_not_pinned():
    ref = {"netns_of": {"comm": "pause"}}
    s = pinned_snap(nsfs("/run/docker/netns/abc", BLUE))       # another netns's pin is not this one's
    v = grade({"netns": {"name": ref, "pinned": False}}, s)
    assert v.passed and v.evidence["pinned_by"] == [] and "no file in /run/netns or nsfs mount holds it" in v.observed
    v = grade({"netns": {"name": ref, "pinned": True}}, s)
    assert not v.passed
    assert v.observed == f"no file in /run/netns holds net:[{POD}], and no nsfs mount elsewhere"
    assert "held only by its processes (1 process: pid 700)" in v.message
    assert "ip netns attach NAME PID" in v.message


def test_netns_pinned_lint():
    with pytest.raises(SpecError, match="must be true or false"):
        build({"netns": {"name": "RED", "pinned": "yes"}})
    with pytest.raises(SpecError, match="cannot be combined with only_lo, lo_up or pinned"):
        build({"netns": {"name": "RED", "absent": True, "pinned": False}})
    assert build({"netns": {"name": "RED", "pinned": False}}).describe() == "network namespace RED, held only by its processes"


# --------------------------------------------------------------- veth
def test_veth_pair_passes_with_peer_evidence():
    v = grade({"veth": {"ends": ["RED/veth0", "BLUE/veth1"], "up": True}}, red_blue())
    assert v.passed, v.message
    assert [e["name"] for e in v.evidence["ends"]] == ["veth0", "veth1"]


def test_veth_one_end_down_explains_lowerlayerdown():
    v = grade({"veth": {"ends": ["RED/veth0", "BLUE/veth1"], "up": True}}, red_blue(b_up=False))
    assert not v.passed
    assert v.message.startswith("veth1 is in BLUE but DOWN: ip -n BLUE link set veth1 up")
    assert "the other end shows NO-CARRIER until then" in v.message
    v = grade({"veth": {"ends": ["RED/veth0", "BLUE/veth1"], "up": True}}, red_blue(False, False))
    assert "both ends are DOWN" in v.message and "ip -n RED link set veth0 up" in v.message


def test_veth_unknown_peer_is_not_a_pass():
    s = red_blue()
    red = s.netns[RED]
    blind = tuple(l.__class__(**{**{f: getattr(l, f) for f in l.__slots__}, "peer_netns": None,
                                 "peer_ifindex": None, "peer_name": None}) for l in red.links)
    s2 = snap(host(), NetNS(RED, ("RED",), (), False, links=blind), s.netns[BLUE])
    v = grade({"veth": {"ends": ["RED/veth0", "BLUE/veth1"]}}, s2)
    assert not v.passed and "cannot see the peer" in v.message


def test_veth_lint():
    with pytest.raises(SpecError, match="exactly 2"):
        build({"veth": {"ends": ["RED/veth0"]}})
    with pytest.raises(SpecError, match="not an interface reference"):
        build({"veth": {"ends": ["RED/veth0", "BLUE/"]}})


# --------------------------------------------------------------- address, route
def test_address_wrong_prefix_and_other_device():
    v = grade({"address": {"dev": "RED/veth0", "cidr": "10.11.11.2/24"}}, red_blue(red_addrs=("10.11.11.2/32",)))
    assert not v.passed and v.message.startswith("10.11.11.2/32 is there, expected /24")
    dummy = link(RED, 3, "dummy0", "dummy")
    s = red_blue(red_addrs=())
    red = s.netns[RED]
    s2 = snap(host(), NetNS(RED, ("RED",), (), False, links=red.links + (dummy,),
                            addresses=(Address("dummy0", socket.AF_INET, "10.11.11.2/24"),)), s.netns[BLUE])
    v = grade({"address": {"netns": "RED", "dev": "veth0", "cidr": "10.11.11.2/24"}}, s2)
    assert not v.passed and "10.11.11.2/24 is on dummy0, not on veth0" in v.message


def test_address_lint_catches_contradicting_netns():
    with pytest.raises(SpecError, match="give the namespace once"):
        build({"address": {"dev": "RED/veth0", "netns": "BLUE", "cidr": "10.0.0.1/24"}})
    with pytest.raises(SpecError, match="prefix length"):
        build({"address": {"dev": "RED/veth0", "cidr": "10.0.0.1"}})


def test_route_match_and_mismatch():
    c1 = NetNS(RED, ("c1",), (), False, links=(link(RED, 2, "eth0", "veth"),),
               addresses=(Address("eth0", socket.AF_INET, "10.22.0.2/24"),),
               routes=(Route("default", socket.AF_INET, dev="eth0", via="10.22.0.254"),
                       Route("10.22.0.0/24", socket.AF_INET, dev="eth0")))
    s = snap(host(), c1)
    v = grade({"route": {"netns": "c1", "dst": "10.22.0.0/24", "dev": "eth0"}}, s)
    assert v.passed and v.evidence["dev"] == "eth0"
    v = grade({"route": {"netns": "c1", "dst": "default", "via": "10.22.0.1"}}, s)
    assert not v.passed and "goes via 10.22.0.254" in v.message
    assert "ip -n c1 route replace default via 10.22.0.1" in v.message
    v = grade({"route": {"netns": "c1", "dst": "172.16.1.0/24", "via": "172.16.1.0", "dev": "eth0"}}, s)
    assert not v.passed and "no route" in v.message and "Nexthop has invalid gateway" in v.message


# --------------------------------------------------------------- listening
def test_listening_elsewhere_names_the_netns():
    c1 = NetNS(RED, ("c1",), (), False, sockets=(Socket("tcp", socket.AF_INET, "0.0.0.0", 8081, 1, "LISTEN"),))
    v = grade({"listening": {"port": 8081}}, snap(host(), c1))
    assert not v.passed and v.message.startswith("8081 is listening in netns c1, but not in the host's")
    v = grade({"listening": {"netns": "c1", "port": 8081, "proto": "udp"}}, snap(host(), c1))
    assert not v.passed and "open for tcp, not udp" in v.message
    v = grade({"listening": {"netns": "c1", "port": 8081, "ip": "10.0.0.1"}}, snap(host(), c1))
    assert v.passed and v.evidence["ip"] == "0.0.0.0"


def test_listening_process_holder():
    app = Process(900, 1, "python3", ("python3", "app-a"), "S", 0, {"net": RED})
    other = Process(901, 1, "python3", ("python3", "app-b"), "S", 0, {"net": RED})
    c1 = NetNS(RED, ("c1",), (900, 901), False,
               sockets=(Socket("tcp", socket.AF_INET, "0.0.0.0", 8080, 1, "LISTEN", pids=(900,)),))
    s = snap(host(), c1, processes=(app, other))
    assert grade({"listening": {"netns": "c1", "port": 8080, "process": {"cmdline": "app-a"}}}, s).passed
    v = grade({"listening": {"netns": "c1", "port": 8080, "process": {"cmdline": "app-b"}}}, s)
    assert not v.passed and "app-a" in v.message


# --------------------------------------------------------------- vxlan, neighbour, fdb
def test_vxlan_neighbour_fdb_messages():
    vx = link(RED, 3, "flannel.1", "vxlan", mtu=1450, operstate="UNKNOWN",
              vxlan=VxlanInfo(vni=1, port=8472, local="192.168.100.10", dev="eth0", learning=True))
    node = NetNS(RED, ("node1",), (), False, links=(link(RED, 2, "eth0", "veth"), vx),
                 neighbours=(Neighbour("flannel.1", "172.16.1.0", "0a:58:ac:10:01:00", "PERMANENT"),),
                 fdb=(FdbEntry("flannel.1", "0a:58:ac:10:01:00", dst="192.168.100.11", permanent=True),))
    s = snap(host(), node)
    v = grade({"vxlan": {"dev": "node1/flannel.1", "vni": 1, "port": 8472, "learning": False}}, s)
    assert not v.passed and "has learning, expected nolearning" in v.message
    assert "ip -n node1 link add flannel.1 type vxlan id 1 dstport 8472 local 192.168.100.10 dev eth0 nolearning" \
        in v.message
    assert grade({"vxlan": {"dev": "node1/flannel.1", "vni": 1, "mtu": 1450, "underlay": "eth0"}}, s).passed
    n = {"netns": "node1", "dev": "flannel.1", "ip": "172.16.1.0", "mac": "0A:58:AC:10:01:00", "permanent": True}
    assert grade({"neighbour": n}, s).passed
    v = grade({"neighbour": {**n, "mac": "0a:58:ac:10:01:99"}}, s)
    assert not v.passed and "resolves to 0a:58:ac:10:01:00" in v.message and "neigh replace" in v.message
    f = {"netns": "node1", "dev": "flannel.1", "mac": "0a:58:ac:10:01:00", "dst": "192.168.100.11"}
    assert grade({"fdb": f}, s).passed
    v = grade({"fdb": {**f, "dst": "192.168.100.12"}}, s)
    assert not v.passed and "points to 192.168.100.11" in v.message
    assert "bridge -n node1 fdb replace 0a:58:ac:10:01:00 dev flannel.1 dst 192.168.100.12" in v.message


# --------------------------------------------------------------- reachable (safety only: no packet here)
def test_reachable_refuses_addresses_not_on_this_machine():
    v = grade({"reachable": {"from": "RED", "to": "8.8.8.8"}}, red_blue())
    assert not v.passed and "only probes addresses on this machine" in v.message


def test_reachable_refuses_a_route_through_a_real_nic():
    # The host reaches BLUE's address only through its default route out of eth0: no probe.
    h = host(routes=(Route("default", socket.AF_INET, dev="eth0", via="192.0.2.1"),))
    s = red_blue()
    s2 = snap(h, s.netns[RED], s.netns[BLUE])
    v = grade({"reachable": {"from": "host", "to": "10.11.11.3"}}, s2)
    assert not v.passed and "did not probe" in v.message and "eth0" in v.message


def test_reachable_refuses_when_another_table_would_use_a_real_nic():
    # main sends 10.11.11.0/24 out of a veth, but table 100 (picked by a policy rule) goes out of eth0.
    veth = link(HOST, 3, "vethh", "veth")
    h = host(links=(link(HOST, 1, "lo", operstate="UNKNOWN"), link(HOST, 2, "eth0"), veth),
             routes=(Route("10.11.11.0/24", socket.AF_INET, dev="vethh"),
                     Route("default", socket.AF_INET, dev="eth0", via="192.0.2.1", table=100)))
    s = red_blue()
    v = grade({"reachable": {"from": "host", "to": "10.11.11.3"}}, snap(h, s.netns[RED], s.netns[BLUE]))
    assert not v.passed and "did not probe" in v.message and "eth0" in v.message


def test_reachable_without_route_fails_before_probing():
    s = red_blue()
    bare = NetNS(POD, ("GREEN",), (), False, links=(link(POD, 1, "lo"),))
    v = grade({"reachable": {"from": "GREEN", "to": "10.11.11.3"}}, snap(host(), s.netns[RED], s.netns[BLUE], bare))
    assert not v.passed and "GREEN has no route to 10.11.11.3" in v.message


def test_every_network_kind_is_registered_and_active_only_for_reachable():
    from tutor.checks.registry import load_kinds
    kinds = load_kinds()
    for name in ("netns", "link", "veth", "bridge", "vxlan", "address", "route", "neighbour", "fdb",
                 "reachable", "listening"):
        assert name in kinds
        assert kinds[name].active == (name == "reachable")


def test_link_field_kind_does_not_hide_the_expectation_kind():
    v = grade({"link": {"dev": "RED/veth0", "kind": "veth"}}, red_blue())
    assert v.passed and v.kind == "link"
    v = grade({"link": {"dev": "RED/veth0", "kind": "bridge"}}, red_blue())
    assert not v.passed and v.kind == "link" and "is a veth, not a bridge" in v.message


# --------------------------------------------------------------- messages never suggest breaking the host
def test_no_advice_that_would_cut_the_machine_off():
    h = host(addresses=(Address("eth0", socket.AF_INET, "192.0.2.2/24"),),
             routes=(Route("default", socket.AF_INET, dev="eth0", via="192.0.2.1"),))
    s = red_blue()
    s2 = snap(h, s.netns[RED], s.netns[BLUE])
    v = grade({"address": {"dev": "RED/veth0", "cidr": "192.0.2.2/24"}}, s2)
    assert not v.passed and "real network device" in v.message and "addr del" not in v.message
    v = grade({"route": {"dst": "default", "via": "192.0.2.254"}}, s2)
    assert not v.passed and "will not suggest" in v.message and "replace" not in v.message
    v = grade({"netns": {"name": "host", "only_lo": True}}, s2)
    assert not v.passed and "link del" not in v.message


# --------------------------------------------------------------- link: peer_master (a veth's far end on a bridge)
def docker_like(master: str | None = "docker0", kind: str = "veth"):
    """RED/eth0 <-> the host's vethab12cd3 (a name nobody chose), which is a port of *master*."""
    eth0 = link(RED, 2, "eth0", kind, peer_netns=HOST, peer_ifindex=7, peer_name="vethab12cd3")
    port = link(HOST, 7, "vethab12cd3", "veth", master=master, peer_netns=RED, peer_ifindex=2, peer_name="eth0")
    bridges = (link(HOST, 3, "docker0", "bridge"), link(HOST, 4, "nsbr0", "bridge"))
    red = NetNS(RED, ("RED",), (), False, links=(link(RED, 1, "lo", operstate="UNKNOWN"), eth0))
    return snap(host(links=(link(HOST, 1, "lo", operstate="UNKNOWN"), link(HOST, 2, "eth0"), *bridges, port)), red)


def test_peer_master_passes_when_the_far_end_is_a_port_of_that_bridge():
    v = build({"link": {"dev": "RED/eth0", "kind": "veth", "peer_master": "docker0"}}).grade(docker_like())
    assert v.passed, v.message
    assert v.evidence["peer"] == "vethab12cd3 in the root netns, a port of docker0"


@pytest.mark.parametrize("master, says", [
    ("nsbr0", "is vethab12cd3 in the root netns"),
    (None, "which is not a port of any bridge"),
])
def test_peer_master_names_the_far_end_and_the_command(master, says):
    v = build({"link": {"dev": "RED/eth0", "peer_master": "docker0"}}).grade(docker_like(master))
    assert not v.passed
    assert says in v.message and "ip link set vethab12cd3 master docker0" in v.message, v.message
    if master:
        assert "a port of nsbr0, not of docker0" in v.message


def test_peer_master_of_a_link_that_is_no_veth_or_whose_far_end_is_unseen():
    not_veth = build({"link": {"dev": "RED/eth0", "peer_master": "docker0"}}).grade(docker_like(kind="dummy"))
    assert not not_veth.passed and "not a veth" in not_veth.message
    unseen = docker_like()
    red = unseen.netns[RED]
    lonely = NetNS(RED, ("RED",), (), False, links=(red.links[0], link(RED, 2, "eth0", "veth", peer_netns=HOST + 99,
                                                                          peer_ifindex=7)))
    v = build({"link": {"dev": "RED/eth0", "peer_master": "docker0"}}).grade(snap(unseen.netns[HOST], lonely))
    assert not v.passed and "cannot see the other end" in v.message, v.message


def test_peer_master_lint():
    with pytest.raises(SpecError) as err:
        build({"link": {"dev": "RED/eth0", "absent": True, "peer_master": "docker0"}})
    assert "absent: true cannot be combined" in str(err.value)


# --------------------------------------------------------------- bridge: hairpin
def test_bridge_hairpin_lint():
    with pytest.raises(SpecError, match=r"'bridge.hairpin': c1/eth0 is in c1, but ports of a bridge live in"):
        build({"bridge": {"dev": "node2/cni0", "hairpin": ["c1/eth0"]}})
    with pytest.raises(SpecError, match=r"'bridge.hairpin': veth-pod-2 is not among its ports \(veth-pod-1\)"):
        build({"bridge": {"dev": "node2/cni0", "ports": ["veth-pod-1"], "hairpin": ["veth-pod-2"]}})
    with pytest.raises(SpecError, match="hairpin.*must be a list"):
        build({"bridge": {"dev": "node2/cni0", "hairpin": True}})
    build({"bridge": {"dev": "node2/cni0", "ports": ["veth-pod-1"], "hairpin": ["node2/veth-pod-1"]}})


def test_a_bad_hairpin_field_is_a_lint_message_with_file_and_line(tmp_path, capsys):
    from test_lessons import lesson_text
    from tutor.cli import main
    step = ("```check\nid: pods\ntitle: A pod on cni0\nexpect:\n  - netns: {name: node2}\n"
            "  - bridge: {dev: node2/cni0, ports: [veth-pod-1], hairpin: [veth-pod-2]}\n"
            "hint: bridge -n node2 link set dev veth-pod-1 hairpin on\nsolution: |\n  true\n```\n")
    path = tmp_path / "05-demo.md"
    path.write_text(lesson_text(step))
    assert main(["lint", str(path)]) == 1
    line = path.read_text().splitlines().index("  - bridge: {dev: node2/cni0, ports: [veth-pod-1], hairpin: [veth-pod-2]}") + 1
    out = capsys.readouterr().out
    assert f"{path}:{line}: step 'pods':" in out and "'bridge.hairpin': veth-pod-2 is not among its ports" in out, out


def _bridge_with_port(hairpin):
    node = NetNS(RED, ("node2",), (), False, links=(
        link(RED, 1, "lo", operstate="UNKNOWN"), link(RED, 2, "cni0", "bridge"),
        link(RED, 3, "veth-pod-1", "veth", master="cni0", hairpin=hairpin)))
    return snap(host(), node)


@pytest.mark.parametrize("hairpin, says", [
    (True, None),
    (False, "port veth-pod-1 of cni0 in node2 has hairpin off, so the bridge never sends a frame back out of "
            "veth-pod-1, the port it came in by: bridge -n node2 link set dev veth-pod-1 hairpin on"),
    (None, "the kernel did not say whether port veth-pod-1 of cni0 in node2 has hairpin on; "
           "`bridge -n node2 -d link show dev veth-pod-1` shows it"),
])
def test_bridge_hairpin_verdicts(hairpin, says):
    v = build({"bridge": {"dev": "node2/cni0", "ports": ["veth-pod-1"], "hairpin": ["veth-pod-1"]}}).grade(
        _bridge_with_port(hairpin))
    assert v.passed is (says is None) and (says is None or v.message == says), v.message
    # without the field, a bridge check says nothing of hairpin, as before
    v = build({"bridge": {"dev": "node2/cni0", "ports": ["veth-pod-1"]}}).grade(_bridge_with_port(hairpin))
    assert v.passed and "hairpin" not in v.observed and "hairpin" not in v.evidence
