"""The snapshot on the real kernel: what it sees of netns, links, peers, sockets, processes, cgroups,
and how the persistent Observer follows changes and lets deleted namespaces go."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import rmdir_once_idle, sh, wait_until
from tutor.observe import Observer, sockets, take_snapshot
from tutor.observe.cgroups import cpu_cgroup_path, read_limit
from tutor.observe.netlink import read_network
from tutor.observe.netns import NetnsHandle

pytestmark = pytest.mark.needs_root


def link(snap, ns_name, dev):
    ns = snap.netns_by_name(ns_name)
    assert ns is not None, f"netns {ns_name} not in snapshot"
    found = ns.link(dev)
    assert found is not None, f"{dev} not in {ns_name}: {[l.name for l in ns.links]}"
    return found


def test_veth_peers_bridge_vxlan_routes_neighbours_fdb(netns):
    a, b = netns("a"), netns("b")
    sh(f"ip link add v0 netns {a} type veth peer name v1 netns {b}")
    sh(f"ip -n {a} addr add 10.201.0.1/24 dev v0 && ip -n {a} link set v0 up && ip -n {b} link set v1 up")
    sh(f"ip -n {a} link add br0 type bridge && ip -n {a} link add p0 type veth peer name p1")
    sh(f"ip -n {a} link set p0 master br0")
    sh(f"ip -n {a} link add vx0 type vxlan id 7 dstport 8472 local 10.201.0.1 dev v0 nolearning")
    sh(f"ip -n {a} route add 10.202.0.0/24 via 10.201.0.9 dev v0 onlink")
    sh(f"ip -n {a} neigh add 10.201.0.9 lladdr 02:00:00:00:00:09 dev v0 nud permanent")
    sh(f"bridge -n {a} fdb append 02:00:00:00:00:09 dev vx0 dst 10.201.0.2")

    snap = take_snapshot()
    v0, v1 = link(snap, a, "v0"), link(snap, b, "v1")
    ns_a, ns_b = snap.netns_by_name(a), snap.netns_by_name(b)
    # each end names the other, across namespaces
    assert (v0.kind, v0.peer_netns, v0.peer_name) == ("veth", ns_b.inode, "v1")
    assert (v1.peer_netns, v1.peer_name, v1.peer_ifindex) == (ns_a.inode, "v0", v0.ifindex)
    assert v0.admin_up and v1.admin_up
    # a pair inside one netns
    p0 = link(snap, a, "p0")
    assert (p0.peer_netns, p0.peer_name, p0.master) == (ns_a.inode, "p1", "br0")
    assert link(snap, a, "br0").kind == "bridge"
    vx = link(snap, a, "vx0").vxlan
    assert (vx.vni, vx.port, vx.local, vx.dev, vx.learning) == (7, 8472, "10.201.0.1", "v0", False)
    assert "10.201.0.1/24" in [x.cidr for x in ns_a.addresses if x.dev == "v0"]
    route = next(r for r in ns_a.routes if r.dst == "10.202.0.0/24")
    assert (route.via, route.dev, route.onlink) == ("10.201.0.9", "v0", True)
    neigh = next(n for n in ns_a.neighbours if n.ip == "10.201.0.9")
    assert (neigh.mac, neigh.state, neigh.dev) == ("02:00:00:00:00:09", "PERMANENT", "v0")
    fdb = next(f for f in ns_a.fdb if f.dev == "vx0" and f.mac == "02:00:00:00:00:09")
    assert fdb.dst == "10.201.0.2"
    # a link of one netns never shows up in another
    assert ns_b.link("v0") is None and ns_b.link("br0") is None


def test_named_netns_without_process_is_listed(netns):
    name = netns()
    snap = take_snapshot()
    ns = snap.netns_by_name(name)
    assert ns is not None and ns.pids == () and not ns.is_host
    row = next(r for r in snap.namespaces if r.inode == ns.inode)
    assert (row.type, row.nprocs, row.pid, row.names) == ("net", 0, None, (name,))
    assert [l.name for l in ns.links] == ["lo"] and not ns.links[0].admin_up


def test_unnamed_netns_held_by_a_process(spawn, uid):
    proc = spawn(f"unshare --net --uts sleep 7{int(uid[2:], 16)}")
    snap = wait_until(lambda: (s := take_snapshot()) and proc.pid in s.processes
                      and s.processes[proc.pid].comm == "sleep" and s, what="the sleep to exec")
    me = snap.processes[proc.pid]
    assert me.ns["net"] != snap.host_ns["net"] and me.ns["uts"] != snap.host_ns["uts"]
    assert me.ns["mnt"] == snap.host_ns["mnt"]
    ns = snap.netns[me.ns["net"]]
    assert ns.names == () and proc.pid in ns.pids and ns.label == f"net:[{ns.inode}]"
    assert [l.name for l in ns.links] == ["lo"]


def test_listening_socket_in_a_netns_with_its_process(netns, spawn):
    name = netns()
    code = ("import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
            "s.bind(('0.0.0.0', 8089)); s.listen(); u=socket.socket(type=socket.SOCK_DGRAM); u.bind(('127.0.0.1', 8090));"
            "time.sleep(60)")
    proc = spawn(["nsenter", f"--net=/run/netns/{name}", sys.executable, "-c", code])

    def listening():
        ns = take_snapshot().netns_by_name(name)
        return ns and [s for s in ns.sockets if s.port in (8089, 8090)]

    found = {(s.proto, s.ip, s.port, s.state): s for s in wait_until(lambda: len(listening() or []) == 2 and listening(),
                                                                       what="two sockets in the netns")}
    tcp = found[("tcp", "0.0.0.0", 8089, "LISTEN")]
    assert ("udp", "127.0.0.1", 8090, "UNCONN") in found
    assert tcp.pids == (proc.pid,)  # nsenter execs python: the same pid holds the socket
    host = take_snapshot().host_netns()
    assert not any(s.port == 8089 for s in host.sockets), "a netns's socket leaked into the host view"


def test_cold_snapshot_lists_each_protocol_the_netns_counts(spawn, uid):
    """A one-shot snapshot skips the sock_diag dump of a protocol that the netns's sockstat counts
    no socket of. IPv6-only sockets (the IPv4 counts are 0) and a TCP listener alone (no UDP) are
    still listed, each with its owner, and a netns without sockets lists none."""
    six, tcp_only, empty = f"ncs-{uid}-6", f"ncs-{uid}-t", f"ncs-{uid}-e"
    try:
        for name in (six, tcp_only, empty):
            sh(f"ip netns add {name}")
        code6 = ("import socket,time; s=socket.socket(socket.AF_INET6); "
                 "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s.bind(('::', 8093)); s.listen(); "
                 "u=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('::', 8094)); time.sleep(60)")
        code4 = "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 8095)); s.listen(); time.sleep(60)"
        p6 = spawn(["nsenter", f"--net=/run/netns/{six}", sys.executable, "-c", code6])
        p4 = spawn(["nsenter", f"--net=/run/netns/{tcp_only}", sys.executable, "-c", code4])

        def sockets_of(snap, name):
            ns = snap.netns_by_name(name)
            return {(s.proto, s.family, s.ip, s.port, s.state, s.pids) for s in ns.sockets} if ns else None

        def both_listening():
            snap = take_snapshot()
            return (len(sockets_of(snap, six) or ()) == 2 and sockets_of(snap, tcp_only) and snap)

        snap = wait_until(both_listening, what="the IPv6 sockets and the IPv4 listener")
        assert sockets_of(snap, six) == {("tcp", socket.AF_INET6, "::", 8093, "LISTEN", (p6.pid,)),
                                         ("udp", socket.AF_INET6, "::", 8094, "UNCONN", (p6.pid,))}
        assert sockets_of(snap, tcp_only) == {("tcp", socket.AF_INET, "0.0.0.0", 8095, "LISTEN", (p4.pid,))}
        assert sockets_of(snap, empty) == set()
    finally:
        for name in (six, tcp_only, empty):
            sh(f"ip netns del {name}", check=False)


def test_observer_redumps_changed_netns_and_reuses_the_rest(netns):
    a, b = netns("a"), netns("b")
    with Observer() as obs:
        first = obs.snapshot()
        assert first.netns_by_name(a).addresses == ()
        sh(f"ip -n {a} link add d0 type veth peer name d1 && ip -n {a} addr add 10.203.0.1/24 dev d0")

        def seen():
            ns = obs.snapshot().netns_by_name(a)
            return ns and any(x.cidr == "10.203.0.1/24" for x in ns.addresses)
        wait_until(seen, what="the observer to see the new address")
        # b did not change: the observer did not re-dump it, yet reports it the same
        assert [l.name for l in obs.snapshot().netns_by_name(b).links] == ["lo"]
        assert b in obs.snapshot().netns_by_name(b).names


def test_observer_lets_a_deleted_netns_go_at_once(netns):
    a, b = netns("a"), netns("b")
    sh(f"ip link add w0 netns {a} type veth peer name w1 netns {b}")
    with Observer() as obs:
        snap = obs.snapshot()
        assert link(snap, b, "w1").peer_netns == snap.netns_by_name(a).inode
        sh(f"ip netns del {a}")
        # No snapshot() call: the /run/netns watcher must close the sockets that held `a` alive,
        # so the kernel destroys it and, with it, both ends of the veth.
        wait_until(lambda: "w1" not in sh(f"ip -n {b} -br link").stdout, timeout=3,
                   what="the veth peer to disappear after `ip netns del`")
        assert obs.snapshot().netns_by_name(a) is None


def test_one_shot_snapshot_holds_nothing_open(netns):
    a, b = netns("a"), netns("b")
    sh(f"ip link add x0 netns {a} type veth peer name x1 netns {b}")
    take_snapshot()
    sh(f"ip netns del {a}")
    wait_until(lambda: "x1" not in sh(f"ip -n {b} -br link").stdout, timeout=3,
               what="the veth peer to disappear")


def test_a_netns_that_vanished_is_a_problem_not_a_crash():
    problems: list[str] = []
    handle = NetnsHandle(123, ("gone",), (), "/run/netns/nstutor-surely-not-there", False)
    result = read_network([handle], problems)
    assert result[123].error and result[123].links == ()
    assert any("cannot look into network namespace gone" in p for p in problems), problems
    assert not os.path.exists("/run/netns/nstutor-surely-not-there"), "observing created a netns"


def test_snapshot_survives_processes_coming_and_going(spawn):
    churn = spawn("bash -c 'while true; do /bin/true & /bin/true & wait; done'")
    deadline = time.monotonic() + 2
    count = 0
    with Observer() as obs:
        while time.monotonic() < deadline:
            snap = obs.snapshot()
            assert churn.pid in snap.processes
            count += 1
    assert count >= 3


def test_process_fields_and_nspid(spawn, uid):
    tag = f"8{int(uid[2:], 16)}"
    proc = spawn(f"unshare --pid --fork --mount-proc sleep {tag}")

    def child():
        snap = take_snapshot()
        kids = [p for p in snap.processes.values() if p.ppid == proc.pid and p.comm == "sleep"]
        return kids and (snap, kids[0])
    snap, sleeper = wait_until(child, what="the sleep inside the new pid namespace")
    assert sleeper.nspid == (sleeper.pid, 1)
    assert sleeper.cmdline == ("sleep", tag) and sleeper.state in "SR"
    assert sleeper.ns["pid"] != snap.host_ns["pid"] and sleeper.ns["mnt"] != snap.host_ns["mnt"]
    assert sleeper.uid == 0 and sleeper.root == "/"
    assert snap.processes[proc.pid].nspid == (proc.pid,)


def test_cpu_cgroup_path_on_v1_v2_and_hybrid():
    v1 = "12:cpu,cpuacct:/nstutor-cpu\n0::/user.slice\n"
    assert cpu_cgroup_path(v1) == "/nstutor-cpu"
    assert cpu_cgroup_path("0::/system.slice/ssh.service\n") == "/system.slice/ssh.service"
    assert cpu_cgroup_path("1:cpu:/a\n2:cpuacct:/b\n") == "/a"
    assert cpu_cgroup_path("") is None


def test_cpu_limit_and_membership_of_a_real_cgroup(spawn, uid):
    snap = take_snapshot()
    root = snap.cgroups.cpu_root
    if root is None:
        pytest.skip("no cpu cgroup controller here")
    path = os.path.join(root, f"nstutor-{uid}")
    v2 = os.path.exists(os.path.join(root, "cgroup.controllers"))
    os.mkdir(path)
    proc = None
    try:
        if v2:
            with open(os.path.join(path, "cpu.max"), "w") as f:
                f.write("10000 100000")
        else:
            with open(os.path.join(path, "cpu.cfs_quota_us"), "w") as f:
                f.write("10000")
        proc = spawn("sleep 600")
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(proc.pid))
        snap = take_snapshot()
        limit = snap.cgroups.limits[f"/nstutor-{uid}"]
        assert limit.percent == pytest.approx(10.0) and limit.version == (2 if v2 else 1)
        assert snap.processes[proc.pid].cgroup == f"/nstutor-{uid}"
        assert read_limit(root, "/nstutor-does-not-exist", limit.version) is None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        wait_until(lambda: rmdir_once_idle(path), what="the test cgroup to be removed")


def test_decoder_agrees_with_pyroute2(netns):
    """pyroute2 is the reference for the netlink ABI: both decoders must read the same kernel state alike."""
    from pyroute2 import IPRoute
    a, b = netns("a"), netns("b")
    sh(f"ip link add q0 netns {a} type veth peer name q1 netns {b}")
    sh(f"ip -n {a} link add br7 type bridge && ip -n {a} link set q0 master br7 && ip -n {a} link set br7 up")
    sh(f"ip -n {a} addr add 10.204.0.1/24 dev br7 && ip -n {a} addr add fd00:204::1/64 dev br7")
    ours = take_snapshot().netns_by_name(a)
    with IPRoute(netns=a, flags=0) as ipr:   # flags=0: never create a missing netns
        ref_links = {l.get("ifname"): l for l in ipr.get_links()}
        ref_by_index = {l["index"]: l.get("ifname") for l in ref_links.values()}
        ref_addrs = {(ipr.get_links(a_["index"])[0].get("ifname"), f"{a_.get('address')}/{a_['prefixlen']}")
                     for a_ in ipr.get_addr()}
    assert {l.name for l in ours.links} == set(ref_links)
    for l in ours.links:
        ref = ref_links[l.name]
        assert l.ifindex == ref["index"] and l.mtu == ref.get("mtu") and l.mac == ref.get("address")
        assert l.kind == ref.get(("linkinfo", "kind"))
        assert l.operstate == ref.get("operstate")
        master = ref.get("master")
        assert l.master == (ref_by_index[master] if master else None)
        if l.kind == "veth":
            assert l.peer_ifindex == ref.get("link")
    assert {(x.dev, x.cidr) for x in ours.addresses} == ref_addrs


def _hairpin_by_port(ns):
    return {l.name: l.hairpin for l in ns.links if l.name != "lo"}


def test_hairpin_of_each_bridge_port(netns):
    """A bridge port's hairpin mode comes from IFLA_INFO_SLAVE_DATA; links that are no bridge's port
    (the bridge itself, the far ends of the veths) have none. pyroute2 reads the same."""
    from pyroute2 import IPRoute
    a = netns("a")
    sh(f"ip -n {a} link add br0 type bridge")
    for i in (0, 1):
        sh(f"ip -n {a} link add p{i} type veth peer name q{i} && ip -n {a} link set p{i} master br0")
    sh(f"bridge -n {a} link set dev p0 hairpin on")
    ours = _hairpin_by_port(take_snapshot().netns_by_name(a))
    assert ours == {"br0": None, "p0": True, "q0": None, "p1": False, "q1": None}
    with IPRoute(netns=a, flags=0) as ipr:   # flags=0: never create a missing netns
        ref = {}
        for l in ipr.get_links():
            info = l.get_attr("IFLA_LINKINFO")
            port = info.get_attr("IFLA_INFO_SLAVE_DATA") if info else None
            mode = port.get_attr("IFLA_BRPORT_MODE") if port else None
            ref[l.get("ifname")] = None if mode is None else bool(mode)
    assert ours == {name: mode for name, mode in ref.items() if name != "lo"}


def test_the_kept_observer_sees_hairpin_change(netns):
    """`bridge link set ... hairpin` announces itself; `ip link set X type bridge_slave hairpin ...`
    does only while X is up. The kept Observer must see both, as a fresh snapshot does."""
    a = netns("a")
    # no IPv6: its addresses and routes on a link just switched on come with events for a second or
    # two, and any event makes the Observer dump the netns again, which would hide a missed change
    sh(f"ip netns exec {a} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
    sh(f"ip -n {a} link add br0 type bridge")
    for i in (0, 1):
        sh(f"ip -n {a} link add p{i} type veth peer name q{i} && ip -n {a} link set p{i} master br0")
    sh(f"ip -n {a} link set p1 up && ip -n {a} link set q1 up")      # p0 stays down

    def kept(port):
        return _hairpin_by_port(obs.snapshot().netns_by_name(a))[port]

    with Observer() as obs:
        assert kept("p0") is False and kept("p1") is False
        for command, port, wanted in ((f"bridge -n {a} link set dev p0 hairpin on", "p0", True),
                                      (f"ip -n {a} link set dev p1 type bridge_slave hairpin on", "p1", True),
                                      (f"ip -n {a} link set dev p0 type bridge_slave hairpin off", "p0", False)):
            sh(command)
            assert _hairpin_by_port(take_snapshot().netns_by_name(a))[port] is wanted
            wait_until(lambda: kept(port) is wanted, timeout=2, what=f"the kept Observer to see: {command}")
        assert _hairpin_by_port(obs.snapshot().netns_by_name(a)) == _hairpin_by_port(take_snapshot().netns_by_name(a))


def test_observer_sees_listeners_come_and_go(netns, spawn):
    """The Observer re-lists a netns's sockets when a process in it starts, runs or exits."""
    name = netns()
    code = "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 8091)); s.listen(); time.sleep(60)"
    with Observer() as obs:
        snaps = 0

        def listening():
            nonlocal snaps
            snaps += 1
            return any(s.port == 8091 for s in obs.snapshot().netns_by_name(name).sockets)

        assert not listening()
        proc = spawn(["nsenter", f"--net=/run/netns/{name}", sys.executable, "-c", code])
        wait_until(listening, what="the observer to list the new listener")
        proc.kill()
        proc.wait()
        snaps = 0
        wait_until(lambda: not listening(), what="the observer to drop the listener of the exited process")
        assert snaps <= 2, "a process that exited must make its netns's sockets be listed again at once"


def test_observer_follows_reparenting_and_exit_of_quiet_processes(spawn, uid):
    """A sleeping child does not run when its parent exits, yet its ppid changes: the Observer,
    which skips re-reading processes that did not run, must still see the new parent."""
    tag = f"9{int(uid[2:], 16)}"
    parent = spawn(["bash", "-c", f"sleep {tag} & sleep 60"])

    with Observer() as obs:
        def child():
            snap = obs.snapshot()
            kids = [p for p in snap.processes.values() if p.cmdline == ("sleep", tag)]
            return kids and kids[0]
        first = wait_until(child, what="the background sleep")
        assert first.ppid == parent.pid
        for _ in range(3):
            obs.snapshot()                     # let it settle into "quiet"
        parent.kill()                          # the parent dies; the sleeping child is reparented
        parent.wait()
        moved = wait_until(lambda: (c := child()) and c.ppid != parent.pid and c, timeout=5,
                           what="the orphan's new parent")
        assert moved.pid == first.pid and moved.ppid != parent.pid
        os.kill(first.pid, 9)
        wait_until(lambda: first.pid not in obs.snapshot().processes, what="the killed sleep to go")


def test_a_path_that_now_names_another_netns_is_not_read_under_the_old_inode(netns):
    """`ip netns del A; ip netns add A` between looking at /run/netns/A and opening it: the reader
    must not file the new namespace's links under the old inode (nor the host's, nor anyone's)."""
    a, b = netns("a"), netns("b")
    sh(f"ip -n {b} link add br0 type bridge")
    inode_a = os.stat(f"/run/netns/{a}").st_ino
    stale = NetnsHandle(inode_a, (a,), (), f"/run/netns/{b}", False)     # the path now leads to b
    problems: list[str] = []
    seen = read_network([stale], problems)
    assert inode_a not in seen or (seen[inode_a].links == () and seen[inode_a].error)
    assert any("changed while nstutor looked" in p for p in problems), problems
    fresh = NetnsHandle(inode_a, (a,), (), f"/run/netns/{a}", False)
    assert [l.name for l in read_network([fresh], [])[inode_a].links] == ["lo"]


def test_kept_owners_of_listening_sockets_follow_a_fork(netns):
    """A kept Observer names a child that inherits a listening socket as its owner in the first
    snapshot that has the child (owners are never taken from an earlier look)."""
    from tutor.observe import Observer
    name = netns()
    code = ("import os,socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
            "s.bind(('0.0.0.0', 8091)); s.listen(); sys.stdin.readline(); os.fork(); time.sleep(60)")
    import os, signal, subprocess
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{name}", sys.executable, "-c", code],
                            stdin=subprocess.PIPE, start_new_session=True)
    try:
        _follow_a_fork(name, proc, Observer)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _follow_a_fork(name, proc, Observer):
    with Observer() as obs:
        def owners():
            ns = obs.snapshot().netns_by_name(name)
            return next((s.pids for s in (ns.sockets if ns else ()) if s.port == 8091), None)
        assert wait_until(owners, what="the listening socket") == (proc.pid,)
        assert [owners() for _ in range(3)] == [(proc.pid,)] * 3
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        def child_seen():
            snap = obs.snapshot()
            child = [p.pid for p in snap.processes.values() if p.ppid == proc.pid]
            ns = snap.netns_by_name(name)
            return child and (child[0], next(s.pids for s in ns.sockets if s.port == 8091))
        child, pids = wait_until(child_seen, what="the forked child")
        assert pids == tuple(sorted((proc.pid, child))), "the first snapshot with the child must name it as an owner"


#: A process whose main thread only waits. A worker thread reads orders from stdin; on "thread
#: FIFO" it starts one more thread, which opens FIFO, reads a port from it and listens on that port.
#: So the last step wakes only that newest thread: a thread made by a thread, not by the main one.
_THREADED = r"""
import socket, sys, threading
def late(fifo):
    with open(fifo) as f:
        port = int(f.readline())
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen(); socket._kept = s
    threading.Event().wait()
def worker():
    for line in sys.stdin:
        threading.Thread(target=late, args=(line.split()[1],), daemon=True).start()
threading.Thread(target=worker, daemon=True).start()
threading.Event().wait()
"""


def test_a_quiet_multi_threaded_process_is_reused_and_any_thread_that_acts_is_seen(spawn, uid, tmp_path):
    """Engines' shims and daemons have many threads. The kept Observer reuses such a process when
    none of its threads ran (the same Process object as before), and reads it again as soon as any
    thread does something: here a thread made by another thread opens a listening socket."""
    port = 20000 + int(uid[2:], 16) % 20000
    fifo = tmp_path / "port"
    os.mkfifo(fifo)
    # under a parent that only waits: a process whose parent ran is read again anyway (its parent
    # may have exited), and this test is about what the process's own threads do
    parent = spawn(["bash", "-c", f'{sys.executable} -c "$0" <&0 & wait', _THREADED], stdin=subprocess.PIPE)
    pid = wait_until(lambda: next((p.pid for p in take_snapshot().processes.values() if p.ppid == parent.pid), None),
                     what="the threaded process")
    threads = lambda: len(os.listdir(f"/proc/{pid}/task"))
    with Observer() as obs:
        def reused() -> bool:
            before = obs.snapshot().processes.get(pid)
            return before is not None and obs.snapshot().processes.get(pid) is before

        wait_until(lambda: threads() == 2, what="the process's two threads")
        wait_until(reused, what="a quiet multi-threaded process to be the same Process object as before")
        parent.stdin.write(f"thread {fifo}\n".encode())
        parent.stdin.flush()
        wait_until(lambda: threads() == 3, what="the third thread")
        wait_until(reused, what="the process, quiet again with its new thread waiting on the fifo")
        fd = os.open(fifo, os.O_WRONLY)           # wakes the third thread alone
        os.write(fd, f"{port}\n".encode())
        os.close(fd)

        def listening(snap) -> bool:
            return any(s.port == port and pid in s.pids for s in snap.host_netns().sockets)
        wait_until(lambda: listening(take_snapshot()), what="the socket, in a fresh snapshot")
        # right after a fresh snapshot saw it, the kept Observer must too
        assert listening(obs.snapshot()), "the kept Observer missed what the newest thread did"


#: Orders, one per line on stdin, each answered with "done": "tcp PATH PORT" / "udp PATH PORT": a
#: thread enters the netns at PATH ("-": stay), opens a listening TCP or a bound UDP socket there,
#: and comes back (as dockerd does for its DNS server); "connect": the newest socket connects (a
#: UDP socket is then no longer listed: it is not "UNCONN" any more); "close": it is closed.
_SOCKETS = r"""
import ctypes, os, socket, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
kept = []
def make(kind, path, port):
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    if path != "-":
        assert libc.setns(os.open(path, os.O_RDONLY), 0x40000000) == 0
    s = socket.socket(type=socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    if kind == "tcp":
        s.listen()
    kept.append(s)
    assert libc.setns(home, 0x40000000) == 0
for line in sys.stdin:
    words = line.split()
    if words[0] in ("tcp", "udp"):
        t = threading.Thread(target=make, args=(words[0], words[1], int(words[2]))); t.start(); t.join()
    elif words[0] == "connect":
        kept[-1].connect(("127.0.0.1", 9))
    else:
        kept.pop().close()
    print("done", flush=True)
"""


def test_a_quiet_netns_keeps_its_socket_list_and_still_sees_what_changes_it(netns, spawn, uid, monkeypatch):
    """The kept Observer lists a netns's sockets again only when something could have changed them.
    A netns whose processes sleep is not listed again. Yet every change shows in the very next
    snapshot: a socket opened in it from another netns (dockerd's DNS is made so) and its closing,
    though nobody inside ran; a socket held only from outside that connects (no count changes); a
    member's socket that connects (the member ran)."""
    name = netns("so")
    sh(f"ip -n {name} link set lo up")
    port = 20000 + int(uid[2:], 16) % 20000
    member = spawn(["ip", "netns", "exec", name, sys.executable, "-c", _SOCKETS],
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    outsider = spawn([sys.executable, "-c", _SOCKETS], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    listed: list[tuple] = []                    # the names of each netns whose sockets were listed
    real = sockets.read_listening
    monkeypatch.setattr(sockets, "read_listening", lambda *a, **k: listed.append(a[2].names) or real(*a, **k))

    def order(proc, line: str) -> None:
        proc.stdin.write(f"{line}\n".encode())
        proc.stdin.flush()
        assert proc.stdout.readline() == b"done\n"

    def ports(snap) -> list[tuple[str, int]]:
        return sorted((s.proto, s.port) for s in snap.netns_by_name(name).sockets)

    with Observer() as obs:
        def kept() -> bool:
            listed.clear()
            snap = obs.snapshot()
            return snap.netns_by_name(name).pids and (name,) not in listed
        order(member, f"udp - {port + 1}")
        wait_until(kept, what="the sleeping netns's sockets to be kept, not listed again")
        assert ports(obs.snapshot()) == [("udp", port + 1)]
        order(outsider, f"tcp /run/netns/{name} {port}")
        assert ports(obs.snapshot()) == [("tcp", port), ("udp", port + 1)], "a socket made from outside was missed"
        order(outsider, "close")
        assert ports(obs.snapshot()) == [("udp", port + 1)], "the closing of a socket held from outside was missed"
        order(outsider, f"udp /run/netns/{name} {port + 2}")
        assert ports(obs.snapshot()) == [("udp", port + 1), ("udp", port + 2)]
        order(outsider, "connect")
        assert ports(obs.snapshot()) == [("udp", port + 1)], "a socket held from outside that connected was missed"
        wait_until(kept, what="the sleeping netns's sockets to be kept again")
        order(member, "connect")
        assert ports(obs.snapshot()) == [], "a member's socket that connected was missed"
        assert ports(take_snapshot()) == []


def test_the_kept_lsns_table_follows_who_is_in_a_namespace(spawn, uid):
    """The Observer reuses lsns rows that did not change; a row whose count, lowest process or that
    process's command changed must be new on the very next snapshot."""
    tag = int(uid[2:], 16)
    first = spawn(f"unshare --uts sleep 1{tag}")

    def rows(snap, inode):
        return [(r.nprocs, r.pid, r.command) for r in snap.namespaces if r.type == "uts" and r.inode == inode]

    with Observer() as obs:
        proc = wait_until(lambda: (p := obs.snapshot().processes.get(first.pid)) and p.cmdline[:1] == ("sleep",) and p,
                          what="the sleep in its own uts namespace")
        uts = proc.ns["uts"]
        for _ in range(2):
            obs.snapshot()
        assert rows(obs.snapshot(), uts) == [(1, first.pid, f"sleep 1{tag}")]
        script = f"read line; exec sleep 2{tag}"
        second = spawn(["nsenter", "--target", str(first.pid), "--uts", "sh", "-c", script], stdin=subprocess.PIPE)
        wait_until(lambda: (p := obs.snapshot().processes.get(second.pid)) and p.comm == "sh", what="the second process")
        assert rows(obs.snapshot(), uts) == [(2, first.pid, f"sleep 1{tag}")], "a second member was missed"
        first.kill()
        first.wait()
        wait_until(lambda: first.pid not in obs.snapshot().processes, what="the first sleep to go")
        assert rows(obs.snapshot(), uts) == [(1, second.pid, f"sh -c {script}")], "the lowest member changed"
        for _ in range(2):
            obs.snapshot()
        second.stdin.write(b"go\n")
        second.stdin.flush()
        wait_until(lambda: obs.snapshot().processes[second.pid].comm == "sleep", what="the exec")
        assert rows(obs.snapshot(), uts) == [(1, second.pid, f"sleep 2{tag}")], "the member's new command was missed"
        assert rows(take_snapshot(), uts) == rows(obs.snapshot(), uts)


#: Threads that come and go all the time: each lives a few microseconds.
_CHURN = "import threading\nwhile True:\n    threading.Thread(target=lambda: None).start()\n"


def test_the_kept_observer_survives_threads_that_exit_while_it_looks(spawn):
    """A thread can exit between the listing of /proc/PID/task and the read of its schedstat (the
    nsfacts helper saw Observer.snapshot() raise ProcessLookupError so): every snapshot must go on."""
    churn = spawn([sys.executable, "-c", _CHURN])
    with Observer() as obs:
        deadline = time.monotonic() + 3.0
        rounds = 0
        while time.monotonic() < deadline:
            snap = obs.snapshot()          # must not raise
            rounds += 1
        assert churn.pid in snap.processes and rounds > 20
