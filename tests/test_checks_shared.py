"""The helpers several kinds share (tutor/checks/addresses.py, pid_namespaces.py, base.v_selectors,
ProcessExpectation.subject_and_ns, refs.missing_device, observe/render's texts the kinds quote), on made-up values: each was written twice or more before
issue 13, and the copies must have become one without changing what the kinds say.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import socket

import pytest

from tutor.checks.addresses import route_key, same_ip
from tutor.checks.base import v_selectors
from tutor.checks.pid_namespaces import pid1_of, pid_ns_of
from tutor.checks.registry import build
from tutor.observe.model import (LOCAL_TABLE, MAIN_TABLE, CgroupInfo, FdbEntry, Link, Neighbour, NetNS, Process, Route,
                                 Snapshot, frozen_map)
from tutor.observe.render import fdb_text, neighbour_text, route_args, route_text

PIDNS = 900010      # a made-up pid namespace inode


def test_route_args_is_the_route_as_ip_route_add_takes_it():
    r = Route("10.22.0.0/24", socket.AF_INET, dev="nsbr0", via="10.22.0.1", onlink=True, table=100,
              proto="kernel", scope="link", src="10.22.0.2")
    assert route_text(r) == "10.22.0.0/24 via 10.22.0.1 dev nsbr0 table 100 proto kernel scope link src 10.22.0.2 onlink"
    assert route_args(r) == "10.22.0.0/24 via 10.22.0.1 dev nsbr0 onlink"
    plain = Route("default", socket.AF_INET, dev="eth0", via="192.168.1.1", proto="boot", scope="global")
    assert route_text(plain) == route_args(plain) == "default via 192.168.1.1 dev eth0"
    assert Route("default", socket.AF_INET).table == MAIN_TABLE != LOCAL_TABLE


def test_fdb_and_neighbour_texts_read_as_the_tools_print_them():
    assert fdb_text(FdbEntry("flannel.1", "0a:58:ac:10:01:00", dst="192.168.100.101")) == \
        "0a:58:ac:10:01:00 dev flannel.1 dst 192.168.100.101"
    assert fdb_text(FdbEntry("nsbr0", "aa:bb:cc:dd:ee:ff", master="nsbr0", vlan=1, permanent=True)) == \
        "aa:bb:cc:dd:ee:ff dev nsbr0 vlan 1 master nsbr0 permanent"
    assert neighbour_text(Neighbour("veth0", "10.11.11.3", "0a:00:00:00:00:05", "REACHABLE")) == \
        "10.11.11.3 dev veth0 lladdr 0a:00:00:00:00:05 REACHABLE"
    assert neighbour_text(Neighbour("veth0", "10.11.11.9", None, "FAILED")) == "10.11.11.9 dev veth0 FAILED"


def test_addresses_compare_as_the_kernel_means_them():
    assert same_ip("fd00::0001", "FD00::1") and same_ip("10.0.0.1", "10.0.0.1")
    assert not same_ip("10.0.0.1", "10.0.0.2") and not same_ip(None, "10.0.0.1") and same_ip(None, None)
    assert same_ip("not-an-ip", "not-an-ip") and not same_ip("not-an-ip", "10.0.0.1")
    assert route_key("0.0.0.0/0") == route_key("default", socket.AF_INET) != route_key("::/0")
    assert route_key("10.22.0.1/24") == ipaddress.ip_network("10.22.0.0/24")


def test_v_selectors_wants_a_non_empty_list_of_selectors():
    assert v_selectors([{"comm": "pause"}, "^sleep 1$"]) is None
    assert v_selectors([]) == "must list at least one process selector"
    assert v_selectors("pause") == "must be a list"
    assert v_selectors([{"nope": 1}]) is not None


def _proc(pid: int, ppid: int, state: str = "S", pidns: int | None = PIDNS, nspid=()) -> Process:
    ns = {"pid": pidns} if pidns is not None else {}
    return Process(pid, ppid, "sh", ("sh",), state, 0, ns, nspid=nspid)


def _snap(*procs: Process) -> Snapshot:
    return Snapshot(taken_at=0.0, monotonic=0.0, duration_ms=1.0, processes=frozen_map({p.pid: p for p in procs}),
                    namespaces=(), host_ns=frozen_map({}), netns=frozen_map({}), hostnames=frozen_map({}),
                    mounts=frozen_map({}), shm=frozen_map({}), userns=frozen_map({}),
                    cgroups=CgroupInfo("v2", "/sys/fs/cgroup"), is_root=True)


def test_pid_namespace_membership_and_its_pid1():
    init = _proc(10, 1, nspid=(10, 1))
    zombie = _proc(11, 10, "Z", pidns=None, nspid=(11, 2))      # its ns link is gone: its parent's counts
    dead_init = _proc(20, 1, "Z", pidns=PIDNS + 1, nspid=(20, 1))
    s = _snap(init, zombie, dead_init)
    assert pid_ns_of(s, zombie) == PIDNS and pid_ns_of(s, init) == PIDNS
    assert pid1_of(s, PIDNS) is init
    assert pid1_of(s, PIDNS + 1) is None and pid1_of(s, None) is None     # a zombie PID 1 is no PID 1


@pytest.mark.parametrize("item, words", [
    ({"hostname": {"cmdline": "^sh$", "hostname": "box"}}, "uts namespace unreadable"),
    ({"shm": {"cmdline": "^sh$"}}, "ipc namespace unreadable"),
    ({"mount": {"cmdline": "^sh$", "target": "/mnt/nstutor-private"}}, "mount namespace unreadable"),
    ({"uid_map": {"cmdline": "^sh$", "outside": 1000}}, "user namespace unreadable"),
    ({"no_zombies": {"cmdline": "^sh$"}}, "pid namespace unreadable"),
    ({"zombie": {"cmdline": "^sh$"}}, "pid namespace unreadable"),
])
def test_a_process_kind_says_which_namespace_it_could_not_read(item, words):
    """ProcessExpectation.subject_and_ns: one account of an unreadable namespace for every kind about one."""
    s = _snap(Process(5, 1, "sh", ("sh",), "S", 0, {}))
    verdict = build(item).grade(s)
    assert not verdict.passed
    assert verdict.observed.endswith(f": {words}"), verdict
    assert "could not read /proc/5/ns/" in verdict.message, verdict


def test_a_missing_bridge_is_made_with_the_command_that_makes_it():
    """refs.missing_device, for the bridge and vxlan kinds: nowhere at all, so the advice is to make one."""
    host = NetNS(900001, (), (1,), True, links=(Link(900001, 1, "lo", None, True, "UNKNOWN", 65536, ""),))
    s = dataclasses.replace(_snap(), netns=frozen_map({host.inode: host}), host_ns=frozen_map({"net": host.inode}))
    bridge = build({"bridge": {"dev": "nsbr9"}}).grade(s)
    assert bridge.message == "the root netns has no bridge nsbr9: ip link add nsbr9 type bridge", bridge
    vxlan = build({"vxlan": {"dev": "vx9", "vni": 9}}).grade(s)
    assert vxlan.message.startswith("the root netns has no vxlan device vx9: ip link add vx9 type vxlan id 9"), vxlan
