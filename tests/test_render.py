"""render.py: the text and JSON views of a snapshot.

Exact-text tests use a hand-made Snapshot (the kernel's state is never that stable);
the last tests run `nstutor snapshot` (text and --json) against real namespaces.
"""
from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sh, wait_until
from tutor.observe import render
from tutor.observe.model import (Address, CgroupInfo, Container, CpuLimit, EngineState, FdbEntry, IdMap, Link, Mount, Namespace,
                                 Neighbour, NetNS, Process, Route, ShmSegment, Snapshot, Socket, UserNsInfo,
                                 VxlanInfo, frozen_map)

REPO = Path(__file__).resolve().parent.parent
V4, V6 = socket.AF_INET, socket.AF_INET6
HOST_NET, RED, BLUE = 4026531833, 4026532401, 4026532500
HOST = {"mnt": 4026531832, "net": HOST_NET, "uts": 4026531838, "ipc": 4026531839, "user": 4026531837}
POD = {"mnt": 4026532600, "net": BLUE, "uts": 4026532601, "ipc": 4026532602, "user": 4026532603}


def make_snapshot(problems=("could not read the hostname of uts namespace 4026532999: "
                            "its processes exited while nstutor looked",)) -> Snapshot:
    procs = {
        1: Process(1, 0, "systemd", ("/sbin/init",), "S", 0, frozen_map(HOST)),
        4242: Process(4242, 1, "sleep", ("sleep", "1003"), "S", 54321, frozen_map(POD), cgroup="/nstutor-cpu"),
    }
    namespaces = tuple(
        [Namespace(HOST[t], t, 1, 1, 0, "/sbin/init") for t in ("user", "mnt", "net", "uts", "ipc")]
        + [Namespace(RED, "net", 0, None, None, "", ("RED",)),
           Namespace(BLUE, "net", 1, 4242, 54321, "sleep 1003", ("BLUE",))]
        + [Namespace(POD[t], t, 1, 4242, 54321, "sleep 1003") for t in ("mnt", "uts", "ipc", "user")])
    host_net = NetNS(HOST_NET, (), (1,), True,
                     links=(Link(HOST_NET, 1, "lo", None, True, "UNKNOWN", 65536, "00:00:00:00:00:00"),
                            Link(HOST_NET, 2, "eth0", None, True, "UP", 1500, "02:00:00:00:00:01")),
                     addresses=(Address("lo", V4, "127.0.0.1/8", "host"), Address("eth0", V4, "192.0.2.2/24"),
                                Address("eth0", V6, "fe80::1/64", "link")),
                     routes=(Route("default", V4, "eth0", "192.0.2.1", proto="boot"),
                             Route("fe80::/64", V6, "eth0", proto="kernel")),
                     neighbours=(Neighbour("lo", "0.0.0.0", "00:00:00:00:00:00", "NOARP"),
                                 Neighbour("eth0", "192.0.2.1", "02:00:00:00:00:05", "REACHABLE")),
                     fdb=(FdbEntry("eth0", "33:33:00:00:00:01", permanent=True),),
                     sockets=(Socket("tcp", V4, "0.0.0.0", 22, 100, "LISTEN", (1,)),))
    red = NetNS(RED, ("RED",), (), False,
                links=(Link(RED, 1, "lo", None, False, "DOWN", 65536, "00:00:00:00:00:00"),
                       Link(RED, 5, "veth0", "veth", True, "UP", 1500, "aa:00:00:00:00:01",
                            peer_netns=BLUE, peer_ifindex=6, peer_name="veth1")),
                addresses=(Address("veth0", V4, "10.11.11.2/24"),),
                routes=(Route("10.11.11.0/24", V4, "veth0", proto="kernel", scope="link", src="10.11.11.2"),
                        Route("10.22.0.0/24", V4, "veth0", "10.11.11.9", onlink=True, proto="boot")))
    vx = VxlanInfo(vni=42, port=4789, local="10.11.11.3", dev="veth1", learning=False)
    blue = NetNS(BLUE, ("BLUE",), (4242,), False,
                 links=(Link(BLUE, 1, "lo", None, True, "UNKNOWN", 65536, "00:00:00:00:00:00"),
                        Link(BLUE, 6, "veth1", "veth", True, "UP", 1500, "aa:00:00:00:00:02", master="br0",
                             peer_netns=RED, peer_ifindex=5, peer_name="veth0"),
                        Link(BLUE, 7, "br0", "bridge", False, "DOWN", 1500, "aa:00:00:00:00:03"),
                        Link(BLUE, 8, "vx0", "vxlan", True, "UNKNOWN", 1450, "aa:00:00:00:00:04", master="br0",
                             vxlan=vx)),
                 addresses=(Address("veth1", V4, "10.11.11.3/24"),),
                 fdb=(FdbEntry("vx0", "00:00:00:00:00:00", dst="10.11.11.9", permanent=True),
                      FdbEntry("vx0", "01:00:5e:00:00:01", permanent=True)),
                 sockets=(Socket("tcp", V6, "::", 8080, 200, "LISTEN", (4242,)),))
    host_mounts = (Mount(1, 0, "/", "ext4", "/dev/vda", "rw,relatime"),
                   Mount(2, 1, "/proc", "proc", "proc", "rw,nosuid"))
    pod_mounts = host_mounts + (Mount(30, 1, "/tmp/private dir", "tmpfs", "nt01", "rw,relatime,size=1024k"),)
    return Snapshot(
        taken_at=1_700_000_000.0, monotonic=5.0, duration_ms=12.5,
        processes=frozen_map(procs), namespaces=namespaces, host_ns=frozen_map(HOST),
        netns=frozen_map({HOST_NET: host_net, RED: red, BLUE: blue}),
        hostnames=frozen_map({HOST["uts"]: "vm", POD["uts"]: "lab-box"}),
        mounts=frozen_map({HOST["mnt"]: host_mounts, POD["mnt"]: pod_mounts}),
        shm=frozen_map({HOST["ipc"]: (), POD["ipc"]: (ShmSegment(0x8AAB5640, 3, 4096, 0, 4243),)}),
        userns=frozen_map({HOST["user"]: UserNsInfo(HOST["user"], (IdMap(0, 0, 4294967295),),
                                                    (IdMap(0, 0, 4294967295),)),
                           POD["user"]: UserNsInfo(POD["user"], (IdMap(0, 54321, 1),), ())}),
        cgroups=CgroupInfo("v2", "/sys/fs/cgroup", frozen_map({
            "/": CpuLimit("/", None, 100000, 2), "/nstutor-cpu": CpuLimit("/nstutor-cpu", 20000, 100000, 2)})),
        is_root=True, problems=tuple(problems))


# --------------------------------------------------------------- rows and sections, exact text
def test_lsns_table_users_and_named_netns_without_process():
    snap = make_snapshot()
    rows = render.lsns_rows(snap)
    red = next(r for r in rows if r.inode == RED)
    assert (red.nprocs, red.pid, red.user) == (0, None, "-")
    assert red.command == "(no process: held by /run/netns/RED)"
    assert render.render_lsns(snap) == [
        "NAMESPACES (like lsns; named netns with no process included)",
        "          NS  TYPE  NPROCS   PID  USER   COMMAND",
        "  4026531832  mnt        1     1  root   /sbin/init",
        "  4026531833  net        1     1  root   /sbin/init",
        "  4026531837  user       1     1  root   /sbin/init",
        "  4026531838  uts        1     1  root   /sbin/init",
        "  4026531839  ipc        1     1  root   /sbin/init",
        "  4026532401  net        0     -  -      (no process: held by /run/netns/RED)",
        "  4026532500  net        1  4242  54321  sleep 1003",
        "  4026532600  mnt        1  4242  54321  sleep 1003",
        "  4026532601  uts        1  4242  54321  sleep 1003",
        "  4026532602  ipc        1  4242  54321  sleep 1003",
        "  4026532603  user       1  4242  54321  sleep 1003",
    ]


def test_netns_block_with_veth_peer_routes_and_hidden_noise():
    snap = make_snapshot()
    lines = render.render_netns(snap, snap.netns[RED])
    assert lines == [
        "NETWORK NAMESPACE RED  net:[4026532401]  (no process: held by /run/netns/RED)",
        "  LINK                  STATE  MAC                ADDRESSES",
        "  lo                    DOWN   00:00:00:00:00:00",
        "  veth0 <-> BLUE/veth1  UP     aa:00:00:00:00:01  10.11.11.2/24",
        "  routes:",
        "    10.11.11.0/24 dev veth0 proto kernel scope link src 10.11.11.2",
        "    10.22.0.0/24 via 10.11.11.9 dev veth0 onlink",
    ]
    host = render.render_netns(snap, snap.netns[HOST_NET])
    assert host[0] == "NETWORK NAMESPACE host  net:[4026531833]  process 1"
    assert "  eth0  UP       02:00:00:00:00:01  192.0.2.2/24 fe80::1/64" in host
    assert "    default via 192.0.2.1 dev eth0" in host
    assert not any("fe80::/64" in l or "NOARP" in l or "33:33" in l for l in host)  # noise left out
    assert host[-2:] == ["  listening:", "    tcp 0.0.0.0:22 LISTEN  pid 1"]


def test_bridge_vxlan_master_and_wrapping_in_narrow_columns():
    snap = make_snapshot()
    rows = render.bridge_rows(snap)
    assert [(r.netns_label, r.bridge, r.state, r.ports) for r in rows] == [("BLUE", "br0", "DOWN", ("veth1", "vx0"))]
    links = {r.name: r for r in render.link_rows(snap, snap.netns[BLUE])}
    assert links["veth1"].display_name == "veth1 <-> RED/veth0"
    assert links["vx0"].notes == ("vxlan vni 42 dstport 4789 local 10.11.11.3 dev veth1 nolearning",
                                  "master br0", "mtu 1450")
    lines = render.render_netns(snap, snap.netns[BLUE], width=80)
    assert lines == [
        "NETWORK NAMESPACE BLUE  net:[4026532500]  process 4242",
        "  LINK                 STATE    MAC                ADDRESSES",
        "  lo                   UNKNOWN  00:00:00:00:00:00",
        "  veth1 <-> RED/veth0  UP       aa:00:00:00:00:02  10.11.11.3/24  (master br0)",
        "  br0                  DOWN     aa:00:00:00:00:03  (bridge)",
        "  vx0                  UNKNOWN  aa:00:00:00:00:04  (vxlan vni 42 dstport 4789",
        "                                                   local 10.11.11.3 dev veth1",
        "                                                   nolearning, master br0, mtu",
        "                                                   1450)",
        "",
        "  BRIDGE  STATE  PORTS",
        "  br0     DOWN   veth1, vx0",
        "  fdb:",
        "    00:00:00:00:00:00 dev vx0 dst 10.11.11.9 permanent",
        "  listening:",
        "    tcp [::]:8080 LISTEN  pid 4242",
    ]
    assert all(len(l) <= 80 for l in lines)


def test_a_port_with_hairpin_on_says_so_in_the_bridge_table_and_the_json():
    snap = make_snapshot()
    blue = snap.netns[BLUE]
    links = tuple(dataclasses.replace(l, hairpin=l.name == "veth1") if l.master == "br0" else l for l in blue.links)
    snap = dataclasses.replace(snap, netns=frozen_map({**snap.netns, BLUE: dataclasses.replace(blue, links=links)}))
    (row,) = render.bridge_rows(snap)
    assert (row.ports, row.hairpin) == (("veth1", "vx0"), ("veth1",))
    assert "  br0     DOWN   veth1 (hairpin on), vx0" in render.render_netns(snap, snap.netns[BLUE], width=80)
    d = json.loads(json.dumps(render.snapshot_to_dict(snap)))
    assert {l["name"]: l["hairpin"] for l in d["netns"][str(BLUE)]["links"]} == {
        "lo": None, "veth1": True, "br0": None, "vx0": False}


def test_other_sections_hostnames_mounts_shm_userns_cgroups_problems():
    snap = make_snapshot()
    assert render.render_hostnames(snap) == [
        "HOSTNAMES (one per uts namespace)",
        "  UTS NS             HOSTNAME   PID  COMMAND",
        "  4026531838 (host)  vm           1  /sbin/init",
        "  4026532601         lab-box   4242  sleep 1003",
    ]
    assert render.render_mounts(snap) == [
        "MOUNT NAMESPACES (compared with the host's)",
        "  mnt 4026531832 (host): 2 mounts; pid 1 /sbin/init",
        "  mnt 4026532600: 3 mounts, 1 not in the host's, 0 of the host's absent; pid 4242 sleep 1003",
        "    + /tmp/private dir  nt01  tmpfs  rw,relatime,size=1024k",
    ]
    assert render.render_shm(snap) == [
        "SYSV SHARED MEMORY (per ipc namespace)",
        "  IPC NS      KEY         SHMID  BYTES  OWNER  CREATOR PID",
        "  4026532602  0x8aab5640      3   4096  root          4243",
    ]
    assert render.render_userns(snap) == [
        "USER NAMESPACES (uid_map / gid_map: inside outside count)",
        "  USER NS            UID MAP         GID MAP            PID  COMMAND",
        "  4026531837 (host)  0 0 4294967295  0 0 4294967295       1  /sbin/init",
        "  4026532603         0 54321 1       (not mapped yet)  4242  sleep 1003",
    ]
    assert render.render_problems(snap) == [
        "PROBLEMS (1: what nstutor could not see)",
        "  - could not read the hostname of uts namespace 4026532999: its processes exited while nstutor",
        "    looked",
    ]
    assert render.render_problems(make_snapshot(problems=())) == [
        "PROBLEMS: none, nstutor saw everything it looked for"]


def test_cgroup_rows():
    rows = render.cgroup_rows(make_snapshot())
    assert [(r.path, r.nprocs) for r in rows] == [("/nstutor-cpu", 1)]  # "/" is unlimited: not listed
    assert rows[0].limit == "20% of one CPU (20000 us per 100000 us, cgroup v2)"
    assert render.render_cgroups(make_snapshot()) == [
        "CGROUPS (v2, cpu controller at /sys/fs/cgroup)",
        "  CGROUP        NPROCS  CPU LIMIT",
        "  /nstutor-cpu       1  20% of one CPU (20000 us per 100000 us, cgroup v2)",
    ]


def test_render_text_order_and_width():
    text = render.render_text(make_snapshot())
    titles = [l.split(" (")[0].split("  ")[0] for l in text.splitlines() if l and not l.startswith(" ")]
    assert titles[1:] == ["NAMESPACES", "NETWORK NAMESPACE host", "NETWORK NAMESPACE BLUE",
                          "NETWORK NAMESPACE RED", "HOSTNAMES", "MOUNT NAMESPACES", "SYSV SHARED MEMORY",
                          "USER NAMESPACES", "CGROUPS", "PROBLEMS"]
    assert titles[0].startswith("nstutor snapshot ") and "took 12 ms, as root; 2 processes, 3 network" in text
    assert max(len(l) for l in text.splitlines()) <= 100


def test_long_cells_are_cut_not_spilled():
    lines = render.format_table(("A", "B"), [("x" * 60, "y " * 80)], width=60, max_col=20)
    assert lines[1].startswith("x" * 19 + "…  y y")
    assert all(len(l) <= 60 for l in lines) and len(lines) > 2


def test_a_table_of_many_wide_columns_still_fits_its_width():
    """A Podman pod's infra as `nstutor snapshot` printed it on a learner's machine: 102 columns in a
    100-column table (the last column had no room left). The widest cells are cut instead."""
    headers = ("ENGINE", "NAME", "POD", "STATE", "PID", "IMAGE", "NETWORK")
    row = ("podman", "de4bf0f60b33-infra", "ntrwidth (infra)", "running", "11857",
           "localhost/podman-pause:4.3.1-0", "bridge")
    lines = render.format_table(headers, [row], width=100, indent=2)
    assert all(len(line) <= 100 for line in lines), [len(line) for line in lines]
    assert lines[1].split()[:5] == ["podman", "de4bf0f60b33-infra", "ntrwidth", "(infra)", "running"]
    assert lines[1].rstrip().endswith("bridge") and "…" in lines[1]     # the image is cut, the mode whole
    # a table that fits is not touched
    assert render.format_table(headers, [row], width=120, indent=2)[1].split()[-2] == row[5]


def test_user_name_falls_back_to_uid():
    assert render.user_name(0) == "root"
    assert render.user_name(54321) == "54321"
    assert render.user_name(None) == "-"


# --------------------------------------------------------------- containers
def with_containers() -> Snapshot:
    """make_snapshot's pid 4242 (in BLUE) as a Docker container web, and its child as that container's;
    a stopped one; docker running, podman absent."""
    import dataclasses
    snap = make_snapshot()
    procs = dict(snap.processes)
    procs[4300] = Process(4300, 4242, "sh", ("sh",), "S", 0, frozen_map(POD))
    return dataclasses.replace(
        snap, processes=frozen_map(procs),
        containers=(Container("docker", "a" * 64, "web", "nstutor-box", "running", 4242, network="bridge"),
                    Container("docker", "b" * 64, "old", "nstutor-box", "exited", None, network="container:web")),
        engines=(EngineState("docker", "running"),
                 EngineState("podman", "absent", "podman is not installed (Debian/Ubuntu: apt-get install podman)")))


def test_containers_table_and_engine_lines():
    snap = with_containers()
    assert render.render_containers(snap) == [
        "CONTAINERS (as Docker, Podman and containerd record them)",
        "  ENGINE  NAME  POD  STATE     PID  IMAGE        NETWORK",
        "  docker  web   -    running  4242  nstutor-box  bridge",
        "  docker  old   -    exited      -  nstutor-box  container:web",
        "  podman absent: podman is not installed (Debian/Ubuntu: apt-get install podman)",
    ]
    assert render.render_containers(make_snapshot()) == []      # a snapshot that did not look for them


def test_lsns_and_netns_rows_name_the_container():
    snap = with_containers()
    rows = {(r.type, r.inode): r for r in render.lsns_rows(snap)}
    assert rows[("net", BLUE)].container == "web (docker)"
    assert rows[("net", BLUE)].cells()[-1] == "[web (docker)] sleep 1003"
    assert rows[("net", HOST_NET)].container == ""
    assert render.container_owners(snap) == {4242: snap.containers[0], 4300: snap.containers[0]}
    blue = [r for r in render.netns_rows(snap) if r.inode == BLUE][0]
    assert blue.note == "web (docker); process 4242"
    assert "web (docker); process 4242" in render.render_netns(snap, snap.netns[BLUE])[0]
    d = json.loads(json.dumps(render.snapshot_to_dict(snap)))
    assert d["containers"][0]["name"] == "web" and d["containers"][0]["label"] == "web (docker)"
    assert d["engines"][1] == {"engine": "podman", "state": "absent",
                               "detail": "podman is not installed (Debian/Ubuntu: apt-get install podman)"}
    assert d["container_of_pid"] == {"4242": "web (docker)", "4300": "web (docker)"}


def test_containers_text_groups_by_engine_and_pod():
    infra = Container("podman", "c" * 64, "abc-infra", "localhost/podman-pause:4.3.1-0", "running", 10,
                      pod="podweb", infra=True)
    a = Container("podman", "d" * 64, "podweb-a", "localhost/nstutor-box", "running", 11, pod="podweb")
    web = Container("docker", "e" * 64, "web", "nstutor-box", "running", 12)
    assert render.containers_text([infra, a, web]) == "abc-infra (infra), podweb-a (podman, pod podweb); web (docker)"


# --------------------------------------------------------------- JSON
def test_snapshot_to_dict_is_json_with_string_keys_and_records_as_dicts():
    snap = make_snapshot()
    d = json.loads(json.dumps(render.snapshot_to_dict(snap)))
    assert set(d) == {"taken_at", "duration_ms", "is_root", "host_ns", "namespaces", "processes", "netns",
                      "hostnames", "mounts", "shm", "userns", "cgroups", "containers", "engines",
                      "container_of_pid", "problems"}
    assert list(d["netns"]) == [str(HOST_NET), str(RED), str(BLUE)]
    red = d["netns"][str(RED)]
    assert red["label"] == "RED" and red["names"] == ["RED"] and red["pids"] == []
    veth = red["links"][1]
    assert (veth["name"], veth["peer_netns"], veth["peer_name"], veth["is_up"]) == ("veth0", BLUE, "veth1", True)
    assert red["addresses"][0] == {"dev": "veth0", "family": "inet", "cidr": "10.11.11.2/24", "scope": "global"}
    assert red["routes"][1]["onlink"] is True
    vx = d["netns"][str(BLUE)]["links"][3]["vxlan"]
    assert vx == {"vni": 42, "port": 4789, "local": "10.11.11.3", "dev": "veth1", "learning": False}
    assert d["netns"][str(BLUE)]["sockets"][0]["family"] == "inet6"
    assert d["hostnames"] == {str(HOST["uts"]): "vm", str(POD["uts"]): "lab-box"}
    assert d["processes"]["4242"]["ns"]["net"] == BLUE and d["processes"]["4242"]["command"] == "sleep 1003"
    assert d["mounts"][str(POD["mnt"])][2]["target"] == "/tmp/private dir"
    assert d["shm"][str(POD["ipc"])] == [{"key": 0x8AAB5640, "shmid": 3, "size": 4096, "uid": 0, "cpid": 4243}]
    assert d["userns"][str(POD["user"])]["uid_map"] == [{"inside": 0, "outside": 54321, "count": 1}]
    assert d["cgroups"]["limits"]["/nstutor-cpu"]["percent"] == 20.0
    assert d["namespaces"][0] == {"inode": HOST["user"], "type": "user", "nprocs": 1, "pid": 1, "uid": 0,
                                  "command": "/sbin/init", "names": []}
    assert d["problems"] == list(snap.problems) and d["is_root"] is True and d["duration_ms"] == 12.5


# --------------------------------------------------------------- the real thing
def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, **kw)


@pytest.fixture
def small_lab(netns, spawn, uid):
    """RED and BLUE joined by a veth (BLUE's end on a bridge), and a process with its own hostname."""
    red, blue = netns("r"), netns("b")
    sh(f"ip link add veth0 netns {red} type veth peer name veth1 netns {blue}")
    sh(f"ip -n {red} addr add 10.11.11.2/24 dev veth0 && ip -n {red} link set veth0 up")
    sh(f"ip -n {blue} link add br0 type bridge && ip -n {blue} link set veth1 master br0")
    proc = spawn(f"unshare --uts sh -c 'hostname {uid}h; exec sleep 1003'")
    wait_until(lambda: Path(f"/proc/{proc.pid}/comm").read_text().strip() == "sleep", what="uts process")
    return red, blue, proc.pid


@pytest.mark.needs_root
def test_cli_snapshot_text_on_real_namespaces(small_lab, uid):
    red, blue, pid = small_lab
    res = run_cli("snapshot")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    out = res.stdout
    assert f"(no process: held by /run/netns/{red})" in out
    assert f"veth0 <-> {blue}/veth1" in out and f"veth1 <-> {red}/veth0" in out
    assert "10.11.11.2/24" in out and "(master br0)" in out
    block = out.split(f"NETWORK NAMESPACE {blue}")[1].split("\n\n")[1]
    assert block.splitlines()[1].split() == ["br0", "DOWN", "veth1"]
    host_line = next(l for l in out.splitlines() if f" {uid}h " in l)
    assert host_line.split()[-3:] == [str(pid), "sleep", "1003"]
    assert max(len(l) for l in out.splitlines()) <= 100
    assert out.rstrip().splitlines()[-1].startswith(("PROBLEMS", "  - ", "    "))


@pytest.mark.needs_root
def test_cli_snapshot_json_on_real_namespaces(small_lab, uid):
    red, blue, pid = small_lab
    res = run_cli("snapshot", "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    by_name = {ns["names"][0]: ns for ns in d["netns"].values() if ns["names"]}
    veth0 = next(l for l in by_name[red]["links"] if l["name"] == "veth0")
    assert veth0["peer_name"] == "veth1" and veth0["peer_netns"] == by_name[blue]["inode"]
    assert {"dev": "veth0", "family": "inet", "cidr": "10.11.11.2/24", "scope": "global"} in by_name[red]["addresses"]
    assert next(l for l in by_name[blue]["links"] if l["name"] == "veth1")["master"] == "br0"
    uts = d["processes"][str(pid)]["ns"]["uts"]
    assert d["hostnames"][str(uts)] == f"{uid}h"
    assert any(row["inode"] == by_name[red]["inode"] and row["nprocs"] == 0 and row["pid"] is None
               for row in d["namespaces"])
    assert d["is_root"] is True and isinstance(d["problems"], list)


@pytest.mark.needs_root
def test_cli_snapshot_as_nobody_explains_instead_of_crashing():
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-m", "tutor", "snapshot"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "NOT as root" in res.stdout and "For a full check, run it as root: " in res.stderr
