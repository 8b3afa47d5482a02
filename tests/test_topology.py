"""The topology view (tutor.app.panel.topology): the curriculum's three shapes as golden pictures, plus the
real kernel: RED and BLUE made with `ip`, snapshotted, and drawn.

Golden pictures were read by eye before they were frozen here; a change in them is a change in what
learners see, so update them on purpose only.
"""
from __future__ import annotations

import dataclasses

import pytest
from rich.cells import cell_len

import test_views as tv          # the snapshot builders (a module import, so its tests are not collected twice)
from conftest import sh, wait_until
from test_views import frozen, marked, plain
from tutor.app.panel.focus import Focus
from tutor.app.panel.topology import cables, render_topology, tunnels

FLANNEL = Focus(frozenset({"node1", "node2", "node3", "underlay", "pod-1", "pod-2"}))


RED_BLUE = frozen("""
    ┌─ RED ──────────────────────┐
    │ veth0 UP 10.11.11.2/24     │
    └─┬──────────────────────────┘
      └── veth0 ═════ veth1
        ┌─ BLUE ─────────────────┐
        │ veth1 UP 10.11.11.3/24 │
        └────────────────────────┘
    """)

BRIDGE = frozen("""
    ┌─ host ───────────────────────┐
    │ nsbr0 bridge UP 10.22.0.1/24 │
    │  ├ veth-c1 UP                │
    │  └ veth-c2 UP                │
    │ (+1 other link)              │
    └─┬────────────────────────────┘
      ├── veth-c1 ═════ eth0
      │ ┌─ c1 ─────────────────────┐
      │ │ eth0 UP 10.22.0.2/24     │
      │ └──────────────────────────┘
      └── veth-c2 ═════ eth0
        ┌─ c2 ─────────────────────┐
        │ eth0 UP 10.22.0.3/24     │
        └──────────────────────────┘
    """)

FLANNEL_72 = frozen("""
    ┌─ underlay ───────────────────────────────────────────┐
    │ br0 bridge UP                                        │
    │  ├ veth-n1 UP                                        │
    │  ├ veth-n2 UP                                        │
    │  └ veth-n3 UP                                        │
    └─┬────────────────────────────────────────────────────┘
      ├── veth-n1 ═════ eth0
      │ ┌─ node1 ──────────────────────────────────────────┐
      │ │ eth0 UP 192.168.100.100/24                       │
      │ │ cni0 bridge UP 172.16.0.1/24                     │
      │ │   (no ports yet)                                 │
      │ │ flannel.1 vxlan 1 mtu 1450 UNKNOWN 172.16.0.0/32 │
      │ │   local 192.168.100.100 dev eth0 port 8472       │
      │ │   ┄→ node2, node3                                │┄┐
      │ └──────────────────────────────────────────────────┘ ┆
      ├── veth-n2 ═════ eth0                                 ┆
      │ ┌─ node2 ──────────────────────────────────────────┐ ┆
      │ │ eth0 UP 192.168.100.101/24                       │ ┆
      │ │ cni0 bridge UP 172.16.1.1/24                     │ ┆
      │ │  └ veth-pod1 UP                                  │ ┆
      │ │ flannel.1 vxlan 1 mtu 1450 UNKNOWN 172.16.1.0/32 │ ┆
      │ │   local 192.168.100.101 dev eth0 port 8472       │ ┆
      │ │   ┄→ node1, node3                                │┄┤
      │ └─┬────────────────────────────────────────────────┘ ┆
      │   └── veth-pod1 ═════ eth0                           ┆
      │     ┌─ pod-1 ──────────────────────────────────────┐ ┆
      │     │ eth0 mtu 1450 UP 172.16.1.2/24               │ ┆
      │     └──────────────────────────────────────────────┘ ┆
      └── veth-n3 ═════ eth0                                 ┆
        ┌─ node3 ──────────────────────────────────────────┐ ┆
        │ eth0 UP 192.168.100.102/24                       │ ┆
        │ cni0 bridge UP 172.16.2.1/24                     │ ┆
        │  └ veth-pod2 UP                                  │ ┆
        │ flannel.1 vxlan 1 mtu 1450 UNKNOWN 172.16.2.0/32 │ ┆
        │   local 192.168.100.102 dev eth0 port 8472       │ ┆
        │   ┄→ node1, node2                                │┄┘
        └─┬────────────────────────────────────────────────┘
          └── veth-pod2 ═════ eth0
            ┌─ pod-2 ──────────────────────────────────────┐
            │ eth0 mtu 1450 UP 172.16.2.2/24               │
            └──────────────────────────────────────────────┘
    ┄┄ vxlan tunnel (inside UDP, over the underlay)
    """)

FLANNEL_40 = frozen("""
    ┌─ underlay ────────────────────────┐
    │ br0 bridge UP                     │
    │  ├ veth-n1 UP                     │
    │  ├ veth-n2 UP                     │
    │  └ veth-n3 UP                     │
    └─┬─────────────────────────────────┘
      ├── veth-n1 ═════ eth0
      │ ┌─ node1 ───────────────────────┐
      │ │ eth0 UP 192.168.100.100/24    │
      │ │ cni0 bridge UP 172.16.0.1/24  │
      │ │   (no ports yet)              │
      │ │ flannel.1 UNKNOWN             │
      │ │   vxlan 1 mtu 1450            │
      │ │   172.16.0.0/32               │
      │ │   local 192.168.100.100       │
      │ │   dev eth0 port 8472          │
      │ │   ┄→ node2, node3             │┄┐
      │ └───────────────────────────────┘ ┆
      ├── veth-n2 ═════ eth0              ┆
      │ ┌─ node2 ───────────────────────┐ ┆
      │ │ eth0 UP 192.168.100.101/24    │ ┆
      │ │ cni0 bridge UP 172.16.1.1/24  │ ┆
      │ │  └ veth-pod1 UP               │ ┆
      │ │ flannel.1 UNKNOWN             │ ┆
      │ │   vxlan 1 mtu 1450            │ ┆
      │ │   172.16.1.0/32               │ ┆
      │ │   local 192.168.100.101       │ ┆
      │ │   dev eth0 port 8472          │ ┆
      │ │   ┄→ node1, node3             │┄┤
      │ └─┬─────────────────────────────┘ ┆
      │   └── veth-pod1 ═════ eth0        ┆
      │     ┌─ pod-1 ───────────────────┐ ┆
      │     │ eth0 mtu 1450 UP          │ ┆
      │     │   172.16.1.2/24           │ ┆
      │     └───────────────────────────┘ ┆
      └── veth-n3 ═════ eth0              ┆
        ┌─ node3 ───────────────────────┐ ┆
        │ eth0 UP 192.168.100.102/24    │ ┆
        │ cni0 bridge UP 172.16.2.1/24  │ ┆
        │  └ veth-pod2 UP               │ ┆
        │ flannel.1 UNKNOWN             │ ┆
        │   vxlan 1 mtu 1450            │ ┆
        │   172.16.2.0/32               │ ┆
        │   local 192.168.100.102       │ ┆
        │   dev eth0 port 8472          │ ┆
        │   ┄→ node1, node2             │┄┘
        └─┬─────────────────────────────┘
          └── veth-pod2 ═════ eth0
            ┌─ pod-2 ───────────────────┐
            │ eth0 mtu 1450 UP          │
            │   172.16.2.2/24           │
            └───────────────────────────┘
    ┄┄ vxlan tunnel (inside UDP, over the u…
    """)


# =============================================================== the three shapes
@pytest.mark.parametrize("width", [40, 100])
def test_red_blue_veth_pair(width):
    assert plain(render_topology(tv.red_blue(), tv.LESSON_10, width), width) == RED_BLUE


@pytest.mark.parametrize("width", [40, 100])
def test_bridge_with_c1_and_c2_hanging_off_it(width):
    assert plain(render_topology(tv.bridge_c1_c2(), tv.LESSON_11, width), width) == BRIDGE


def test_flannel_nodes_on_an_underlay_with_pods_and_vxlan_tunnels():
    assert plain(render_topology(tv.flannel(), FLANNEL, 72), 72) == FLANNEL_72


def test_flannel_at_40_columns_wraps_inside_the_boxes_and_keeps_the_tunnel_rail():
    assert plain(render_topology(tv.flannel(), FLANNEL, 40), 40) == FLANNEL_40


def test_the_tunnel_rail_is_dashed_and_distinct_from_cables():
    text = render_topology(tv.flannel(), FLANNEL, 72)
    assert "┄┐" in text.plain and "┄┤" in text.plain and "┄┘" in text.plain and "┆" in text.plain
    assert "⟦┄→ node2, node3⟧" in marked(text, "blue")      # tunnels in one colour...
    assert "⟦ ═════ ⟧" in marked(text, "magenta")            # ...veth cables in another


def test_a_neighbour_of_the_lesson_shows_only_what_connects_it():
    text = plain(render_topology(tv.flannel(), Focus(frozenset({"node1"})), 80), 80)
    node2 = text.split("┌─ node2")[1].split("└")[0]
    assert "eth0 UP 192.168.100.101/24" in node2 and "flannel.1" in node2   # the cable and the tunnel end
    assert "cni0" not in node2 and "(+2 other links)" in node2
    assert "pod-1" not in text                                               # two hops away


def test_pod_sharing_the_pauses_netns_lists_its_processes():
    text = plain(render_topology(tv.pod_snapshot(), tv.POD_FOCUS, 60), 60)
    assert text == frozen("""
        ┌─ net:[4026532215] ──────────────────────────┐
        │ lo UNKNOWN 127.0.0.1/8                      │
        │ in it: pause(700) python3(710) python3(720) │
        └─────────────────────────────────────────────┘
        """)


def test_without_focus_every_namespace_with_links_is_drawn():
    text = plain(render_topology(tv.bridge_c1_c2(), Focus(), 100), 100)
    assert text.splitlines()[:3] == ["┌─ host ───────────────────────┐",
                                     "│ eth0 UP 192.0.2.2/24         │",
                                     "│ nsbr0 bridge UP 10.22.0.1/24 │"]
    assert "┌─ c1 " in text and "┌─ c2 " in text


def test_nothing_to_draw():
    assert plain(render_topology(tv.bridge_c1_c2(), Focus(frozenset({"RED"})), 80), 80) == \
        "Nothing to draw yet: none of this lesson's network namespaces exist."
    bare = tv.snapshot([tv.netns(tv.HOST_NET, (), [tv.lo(tv.HOST_NET)], host=True)])
    assert plain(render_topology(bare, Focus(), 80), 80) == \
        "Nothing to draw: no network namespace has a link other than lo."


def test_a_lone_namespace_with_only_lo_is_drawn_when_it_is_the_lessons():
    snap = tv.snapshot([tv.host_netns(), tv.netns(tv.RED, ["mode-none"], [tv.lo(tv.RED)])])
    assert plain(render_topology(snap, Focus(frozenset({"mode-none"})), 60), 60) == frozen("""
        ┌─ mode-none ──┐
        │ lo UNKNOWN   │
        └──────────────┘
        """)


def test_many_namespaces_are_capped_with_a_count():
    text = plain(render_topology(tv.big_snapshot(), Focus(), 80), 80)
    assert text.count("┌─") == 12
    assert "└ +192 more ports" in text
    assert text.splitlines()[-1] == "+189 more network namespaces with links (view 3 lists them all)"


def test_second_cable_same_netns_pair_and_a_remote_vtep():
    snap = tv.red_blue()
    red = dataclasses.replace(snap.netns[tv.RED], links=snap.netns[tv.RED].links + (
        tv.link(tv.RED, 8, "va", "veth", peer=(tv.BLUE, 9, "vb")),
        tv.link(tv.RED, 10, "x0", "veth", peer=(tv.RED, 11, "x1")),
        tv.link(tv.RED, 11, "x1", "veth", peer=(tv.RED, 10, "x0")),
        tv.link(tv.RED, 12, "vx0", "vxlan", vxlan=tv.VxlanInfo(42, 4789, "10.11.11.2", "veth0", True))),
        fdb=(tv.FdbEntry("vx0", "00:00:00:00:00:00", dst="203.0.113.9"),))
    blue = dataclasses.replace(snap.netns[tv.BLUE], links=snap.netns[tv.BLUE].links + (
        tv.link(tv.BLUE, 9, "vb", "veth", peer=(tv.RED, 8, "va")),))
    text = plain(render_topology(tv.replace_netns(snap, red, blue), tv.LESSON_10, 80), 80)
    assert text == frozen("""
        ┌─ RED ──────────────────────────────────┐
        │ veth0 UP 10.11.11.2/24                 │
        │ va UP                                  │
        │ x0 UP ═ x1                             │
        │ x1 UP ═ x0                             │
        │ vx0 vxlan 42 UP                        │
        │   local 10.11.11.2 dev veth0 port 4789 │
        │   ┄→ 203.0.113.9                       │
        └─┬──────────────────────────────────────┘
          └── veth0 ═════ veth1
            ┌─ BLUE ─────────────────────────────┐
            │ veth1 UP 10.11.11.3/24             │
            │ vb UP                              │
            └────────────────────────────────────┘

        also cabled: RED/va ═════ BLUE/vb
        """)


def test_changes_since_the_previous_snapshot_are_reversed():
    text = render_topology(tv.red_blue(up=True), tv.LESSON_10, 80, previous=tv.red_blue(up=False))
    assert marked(text, "reverse").splitlines()[1] == "│ ⟦veth0⟧ UP 10.11.11.2/24     │"
    new_ns = tv.replace_netns(tv.red_blue(), tv.netns(tv.C1, ["c1"], [tv.lo(tv.C1)]))
    text = render_topology(new_ns, Focus(frozenset({"c1"})), 80, previous=tv.red_blue())
    assert "┌─ ⟦c1⟧ " in marked(text, "reverse")


def test_cables_and_tunnels_are_found_once_each():
    snap = tv.flannel()
    assert len(cables(snap)) == 5                           # 3 node uplinks + 2 pods
    found = {(snap.netns_label(t.a), snap.netns_label(t.b), t.b_dev) for t in tunnels(snap)}
    assert ("node1", "node2", "flannel.1") in found and len(found) == 6


@pytest.mark.parametrize("width", [20, 40, 60, 100, 160])
def test_every_line_fits_the_width(width):
    for snap, focus in ((tv.red_blue(), tv.LESSON_10), (tv.bridge_c1_c2(), tv.LESSON_11), (tv.flannel(), FLANNEL),
                        (tv.flannel(), Focus()), (tv.big_snapshot(), Focus()), (tv.pod_snapshot(), tv.POD_FOCUS)):
        text = render_topology(snap, focus, width)
        for line in text.plain.splitlines():
            assert cell_len(line) <= width, f"{width}: {line!r}"


# =============================================================== the real kernel
@pytest.mark.needs_root
def test_real_red_blue_is_drawn_with_names_ends_and_addresses(netns, uid, snapshot):
    red, blue = netns("R"), netns("B")
    end_a, end_b = f"{uid}a", f"{uid}b"
    sh(f"ip link add {end_a} netns {red} type veth peer name {end_b} netns {blue}")
    sh(f"ip -n {red} addr add 10.254.11.2/24 dev {end_a}")
    sh(f"ip -n {blue} addr add 10.254.11.3/24 dev {end_b}")
    sh(f"ip -n {red} link set {end_a} up")
    sh(f"ip -n {blue} link set {end_b} up")

    def both_up():
        snap = snapshot()
        r, b = snap.netns_by_name(red), snap.netns_by_name(blue)
        ok = r and b and r.link(end_a) and b.link(end_b) and r.link(end_a).operstate == "UP" \
            and b.link(end_b).operstate == "UP"
        return snap if ok else None

    snap = wait_until(both_up, what="both veth ends UP in the snapshot")
    focus = Focus(frozenset({red, blue}))
    text = plain(render_topology(snap, focus, 100), 100)
    for needle in (f"┌─ {red} ", f"┌─ {blue} ", f"{end_a} ═════ {end_b}", "10.254.11.2/24", "10.254.11.3/24",
                   f"{end_a} UP", f"{end_b} UP"):
        assert needle in text, f"{needle!r} not in\n{text}"
    assert text.count("┌─") == 2                                   # nothing else of the machine
    for line in render_topology(snap, focus, 40).plain.splitlines():
        assert cell_len(line) <= 40
