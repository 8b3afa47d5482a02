"""Hand-made snapshots ("scenes") for the app's screenshot tests, and checks that they are right.

Real kernel state changes under a screenshot (process ids, inodes, timing), so the screenshot
tests feed the app one of these frozen scenes through `snapshot_source`. The tests at the end
of this file grade the scenes with the real grader, so a scene that stops meaning what its
name says (a lesson or a kind changed) fails here, not as a puzzling pixel difference.

Inodes are made up (9000xx) so nothing here can point at a real namespace.
"""
from __future__ import annotations

import socket

from tutor.checks.runner import grade_step
from tutor.lessons import load_catalog
from tutor.observe.model import (Address, CgroupInfo, Link, Namespace, NetNS, NS_TYPES, Process, Route, Snapshot,
                                 frozen_map)

HOST, HELLO, RED, BLUE = 900001, 900002, 900003, 900004
HOST_NS = {t: 4026531830 + i for i, t in enumerate(NS_TYPES)}
HOST_NS["net"] = HOST


def _link(ns, ifindex, name, kind=None, up=True, operstate=None, **kw) -> Link:
    return Link(netns=ns, ifindex=ifindex, name=name, kind=kind, admin_up=up,
                operstate=operstate or ("UP" if up else "DOWN"), mtu=kw.pop("mtu", 1500 if name != "lo" else 65536),
                mac=kw.pop("mac", "00:00:00:00:00:00" if name == "lo" else f"0a:58:00:00:{ns % 256:02x}:{ifindex:02x}"),
                **kw)


def _proc(pid, ppid, comm, cmdline, **ns) -> Process:
    spaces = dict(HOST_NS)
    spaces.update(ns)
    return Process(pid=pid, ppid=ppid, comm=comm, cmdline=tuple(cmdline), state="S", uid=0, ns=frozen_map(spaces),
                   nspid=(pid,), root="/", cgroup="/", cpu_ticks=0, start_ticks=pid)


def _host() -> NetNS:
    return NetNS(HOST, (), (1, 310, 311), True,
                 links=(_link(HOST, 1, "lo", operstate="UNKNOWN"), _link(HOST, 2, "eth0")),
                 addresses=(Address("lo", socket.AF_INET, "127.0.0.1/8", "host"),
                            Address("eth0", socket.AF_INET, "192.168.122.10/24")),
                 routes=(Route("default", socket.AF_INET, dev="eth0", via="192.168.122.1"),
                         Route("192.168.122.0/24", socket.AF_INET, dev="eth0", proto="kernel", scope="link",
                               src="192.168.122.10")))


def _processes():
    return (_proc(1, 0, "systemd", ["/sbin/init"]), _proc(310, 1, "sshd", ["sshd: learner"]),
            _proc(311, 310, "bash", ["-bash"]))


def _namespaces(extra_net=()) -> tuple[Namespace, ...]:
    rows = [Namespace(inode, nstype, 3, 1, 0, "/sbin/init") for nstype, inode in HOST_NS.items()]
    for inode, name in extra_net:
        rows.append(Namespace(inode, "net", 0, None, None, "", (name,)))
    return tuple(rows)


def scene(*netns: NetNS, duration_ms: float = 4.0) -> Snapshot:
    named = [(n.inode, n.names[0]) for n in netns if n.names]
    return Snapshot(
        taken_at=1_700_000_000.0, monotonic=1000.0, duration_ms=duration_ms,
        processes=frozen_map({p.pid: p for p in _processes()}), namespaces=_namespaces(named),
        host_ns=frozen_map(HOST_NS), netns=frozen_map({n.inode: n for n in (_host(),) + netns}),
        hostnames=frozen_map({HOST_NS["uts"]: "labvm"}), mounts=frozen_map({}), shm=frozen_map({}),
        userns=frozen_map({}), cgroups=CgroupInfo(mode="v2", cpu_root="/sys/fs/cgroup"), is_root=True)


def welcome_done() -> Snapshot:
    """Lesson welcome finished: netns hello with only lo, up."""
    hello = NetNS(HELLO, ("hello",), (), False, links=(_link(HELLO, 1, "lo", operstate="UNKNOWN"),),
                  addresses=(Address("lo", socket.AF_INET, "127.0.0.1/8", "host"),))
    return scene(hello)


def empty() -> Snapshot:
    """Nothing of any lesson: only the host."""
    return scene()


def red_blue_cable() -> Snapshot:
    """Lesson netns-veth half done: RED and BLUE joined by a veth pair, both ends DOWN, no addresses."""
    veth0 = _link(RED, 2, "veth0", "veth", up=False, peer_netns=BLUE, peer_ifindex=2, peer_name="veth1")
    veth1 = _link(BLUE, 2, "veth1", "veth", up=False, peer_netns=RED, peer_ifindex=2, peer_name="veth0")
    red = NetNS(RED, ("RED",), (), False, links=(_link(RED, 1, "lo", up=False), veth0))
    blue = NetNS(BLUE, ("BLUE",), (), False, links=(_link(BLUE, 1, "lo", up=False), veth1))
    return scene(red, blue)


def red_blue_up() -> Snapshot:
    """netns-veth up to step 4: addresses on both ends, both up (the ping step needs a probe)."""
    veth0 = _link(RED, 2, "veth0", "veth", peer_netns=BLUE, peer_ifindex=2, peer_name="veth1")
    veth1 = _link(BLUE, 2, "veth1", "veth", peer_netns=RED, peer_ifindex=2, peer_name="veth0")
    red = NetNS(RED, ("RED",), (), False, links=(_link(RED, 1, "lo", up=False), veth0),
                addresses=(Address("veth0", socket.AF_INET, "10.11.11.2/24"),),
                routes=(Route("10.11.11.0/24", socket.AF_INET, dev="veth0", proto="kernel", scope="link",
                              src="10.11.11.2"),))
    blue = NetNS(BLUE, ("BLUE",), (), False, links=(_link(BLUE, 1, "lo", up=False), veth1),
                 addresses=(Address("veth1", socket.AF_INET, "10.11.11.3/24"),),
                 routes=(Route("10.11.11.0/24", socket.AF_INET, dev="veth1", proto="kernel", scope="link",
                               src="10.11.11.3"),))
    return scene(red, blue)


# --------------------------------------------------------------- the scenes mean what they say
def _passing(lesson_id: str, snap: Snapshot) -> list[str]:
    lesson = load_catalog().find(lesson_id)
    return [s.id for s in lesson.steps if grade_step(s, snap, probes=False).passed]


def test_welcome_done_passes_every_welcome_step():
    assert _passing("welcome", welcome_done()) == ["made", "lo-up"]


def test_empty_scene_passes_nothing():
    assert _passing("welcome", empty()) == []
    assert _passing("netns-veth", empty()) == []


def test_red_blue_cable_passes_the_first_two_steps_only():
    assert _passing("netns-veth", red_blue_cable()) == ["rooms", "cable"]


def test_red_blue_up_passes_all_but_the_probe():
    assert _passing("netns-veth", red_blue_up()) == ["rooms", "cable", "addresses", "up"]
