"""Container and pod selectors, the container kind, and containers in the process and pod kinds,
graded against made-up snapshots (no root, no engine).

A snapshot here holds the engines' records (Snapshot.containers, .engines) as the observe readers
write them (tutor/observe/model.py Container), beside the processes and network namespaces they
point to: the docker lesson's web, web-side, nonet and hostnet, and a Podman pod podweb with its
infra container and two containers. Every relation is decided by inode; the records name things and
say what the engine would do. The real-Docker test is tests/test_kinds_containers_docker.py.
"""
from __future__ import annotations

import dataclasses

import pytest

from test_kinds_process_unit import HOST, proc, snap as base_snap
from tutor.app.panel.focus import focus_from
from tutor.checks.base import ProcessRef, SpecError
from tutor.checks.containers import missing
from tutor.checks.refs import Missing, netns_ref_problem, resolve_netns
from tutor.checks.registry import build, load_kinds
from tutor.checks.select import describe_selector, name, select, selector_problem, the_selected
from tutor.cli import main
from tutor.lessons.parse import parse_lesson
from tutor.observe.model import (CapabilitySets, CgroupInfo, Container, EngineState, Link, Mount, NetNS, Socket,
                                  frozen_map)

# --------------------------------------------------------------- a machine with Docker and Podman
WEB_NET, NONET_NET, POD_NET = 4026532500, 4026532600, 4026532700
WEB_PID_NS, POD_IPC, POD_UTS = 4026532501, 4026532702, 4026532703
IMAGE = "nstutor-box"


def ids(n: int) -> str:
    return f"{n:064x}"


def running(engines=("docker", "podman")) -> tuple[EngineState, ...]:
    return tuple(EngineState(e, "running" if e in engines else "absent",
                             None if e in engines else f"{e} is not installed") for e in ("docker", "podman", "containerd"))


def lo(ns: int) -> Link:
    return Link(ns, 1, "lo", None, True, "UNKNOWN", 65536, None)


def veth(ns: int, idx: int, dev: str, master: str | None = None) -> Link:
    return Link(ns, idx, dev, "veth", True, "UP", 1500, "02:42:ac:11:00:02", master=master)


def machine(*extra_procs, containers=None, engines=None, **kw):
    """The docker lesson's four containers and the podweb pod, running."""
    procs = [
        proc(900, "/usr/bin/containerd-shim-runc-v2 -id web", comm="containerd-shim"),
        proc(4242, "httpd -f -p 80", ppid=900, own={"net": WEB_NET, "pid": WEB_PID_NS, "mnt": 1001, "uts": 1002,
                                                    "ipc": 1003}, nspid=(4242, 1)),
        proc(4300, "sleep 100000", ppid=901, own={"net": WEB_NET, "pid": WEB_PID_NS, "mnt": 1101, "uts": 1102,
                                                  "ipc": 1103}, nspid=(4300, 7)),
        proc(4400, "sleep 100001", ppid=902, own={"net": NONET_NET, "pid": 1201, "mnt": 1202}, nspid=(4400, 1)),
        proc(4500, "nc -lk -p 8082", comm="nc", ppid=903, own={"pid": 1301, "mnt": 1302}, nspid=(4500, 1)),
        proc(5000, "catatonit -P", ppid=950, own={"net": POD_NET, "ipc": POD_IPC, "uts": POD_UTS, "pid": 1401,
                                                  "mnt": 1402}, nspid=(5000, 1)),
        proc(5100, "httpd -f -p 8080", ppid=951, own={"net": POD_NET, "ipc": POD_IPC, "uts": POD_UTS, "pid": 1501,
                                                      "mnt": 1502}, nspid=(5100, 1)),
        proc(5200, "sleep 100002", ppid=952, own={"net": POD_NET, "ipc": POD_IPC, "uts": POD_UTS, "pid": 1601,
                                                  "mnt": 1602}, nspid=(5200, 1)),
        *extra_procs,
    ]
    if containers is None:
        containers = (
            Container("docker", ids(1), "web", IMAGE, "running", 4242, network="bridge"),
            Container("docker", ids(2), "web-side", IMAGE, "running", 4300, network=f"container:{ids(1)}"),
            Container("docker", ids(3), "nonet", IMAGE, "running", 4400, network="none"),
            Container("docker", ids(4), "hostnet", IMAGE, "running", 4500, network="host"),
            Container("podman", ids(5), "0a1b2c3d4e5f-infra", "localhost/podman-pause:4.3.1-0", "running", 5000,
                      pod="podweb", infra=True, network="bridge"),
            Container("podman", ids(6), "podweb-a", "localhost/nstutor-box", "running", 5100, pod="podweb"),
            Container("podman", ids(7), "podweb-b", "localhost/nstutor-box", "running", 5200, pod="podweb"),
        )
    s = base_snap(*procs, **kw)
    nets = {
        HOST["net"]: NetNS(HOST["net"], (), (1,), True, links=(lo(HOST["net"]), Link(HOST["net"], 2, "eth0", None, True, "UP", 1500, None),
                                                                 Link(HOST["net"], 3, "docker0", "bridge", True, "UP", 1500, None))),
        WEB_NET: NetNS(WEB_NET, (), (4242, 4300), False, links=(lo(WEB_NET), veth(WEB_NET, 7, "eth0"))),
        NONET_NET: NetNS(NONET_NET, (), (4400,), False, links=(lo(NONET_NET),)),
        POD_NET: NetNS(POD_NET, ("netns-1234",), (5000, 5100, 5200), False, links=(lo(POD_NET), veth(POD_NET, 2, "eth0"))),
    }
    return dataclasses.replace(s, netns=frozen_map(nets), containers=tuple(containers),
                               engines=running() if engines is None else engines)


def replaced(s, cname: str, **changes):
    """*s* with the record of container *cname* changed (stopped, moved to another engine...)."""
    return dataclasses.replace(s, containers=tuple(dataclasses.replace(c, **changes) if c.name == cname else c
                                                   for c in s.containers))


def grade(item: dict, s):
    return build(item).grade(s)


def text(v) -> str:
    return v.observed + " | " + v.message


def passes(item: dict, s):
    v = grade(item, s)
    assert v.passed, text(v)
    return v


def fails(item: dict, s, *fragments: str):
    v = grade(item, s)
    assert not v.passed, text(v)
    for frag in fragments:
        assert frag in text(v), f"{frag!r} not in:\n{text(v)}"
    return v


WEB_SIDE_SHARES = {"container": "web-side", "engine": "docker",
                   "shared_with": {"process": {"container": "web"}, "types": ["net", "pid"]},
                   "private_from": {"process": {"container": "web"}, "types": ["mnt"]}}


# =============================================================== the selector
@pytest.mark.parametrize("selector, problem", [
    ({"container": "web", "comm": "httpd"}, "comm cannot go with container or pod"),
    ({"pod": "podweb", "cmdline": "httpd", "zombie": True}, "cmdline, zombie cannot go with container or pod"),
    ({"engine": "docker"}, "engine only narrows a container selector"),
    ({"infra": True}, "infra only narrows a container selector"),
    ({"container": ""}, "container must be a container's name"),
    ({"pod": 3}, "pod must be a pod's name"),
    ({"container": "web", "engine": "lxc"}, "unknown engine 'lxc'; known: docker, podman, containerd"),
    ({"pod": "podweb", "infra": "yes"}, "infra must be true or false"),
    ({"container": "x", "pod": "p", "infra": True}, "infra goes with pod alone"),
    ({"pod": "p", "engine": "docker"}, "docker has no pods"),
    ({"contaner": "web"}, "unknown selector key contaner"),
    ({}, "a container with {container: NAME} or {pod: NAME}"),
])
def test_the_lint_says_what_a_container_selector_may_hold(selector, problem):
    assert problem in selector_problem(selector)


def test_good_container_selectors_lint_clean_and_read_as_words():
    cases = {
        ("container", "web"): "the container web",
        ("container", "web", "engine", "docker"): "the container web (docker)",
        ("pod", "podweb"): "the containers of pod podweb",
        ("pod", "podweb", "infra", True, "engine", "podman"): "the infra container of pod podweb (podman)",
        ("pod", "default/myweb2", "infra", True, "engine", "containerd"):
            "the pause (sandbox) of pod default/myweb2 (containerd)",
        ("container", "nginx", "pod", "default/myweb2"): "the container nginx of pod default/myweb2",
    }
    for flat, words in cases.items():
        sel = dict(zip(flat[::2], flat[1::2]))
        assert selector_problem(sel) is None, sel
        assert describe_selector(sel) == words
        assert the_selected(sel) == words
    assert the_selected({"comm": "pause"}) == "the process named 'pause'"


def test_a_container_selector_means_its_main_process_while_it_runs():
    s = machine()

    def pids(sel):
        return [p.pid for p in select(s, sel)]
    assert pids({"container": "web"}) == [4242]
    assert pids({"container": "web", "engine": "docker"}) == [4242]
    assert pids({"container": "web", "engine": "podman"}) == []
    assert pids({"pod": "podweb"}) == [5100, 5200]                     # the infra is not a member
    assert pids({"pod": "podweb", "infra": True}) == [5000]
    assert pids({"pod": "podweb", "engine": "docker"}) == []
    assert pids({"container": "podweb-a", "pod": "podweb"}) == [5100]
    assert pids({"container": "podweb-a", "pod": "other"}) == []
    assert pids({"container": "web"}) == pids({"cmdline": "^httpd -f -p 80$"})
    assert pids({"container": "web"}) and not select(replaced(s, "web", state="exited", pid=None), {"container": "web"})
    zombie = dataclasses.replace(s, processes=frozen_map({**s.processes, 4242: dataclasses.replace(s.processes[4242], state="Z")}))
    assert pids({"container": "web"}) and not select(zombie, {"container": "web"})
    assert not select(dataclasses.replace(s, self_pids=frozenset({4242})), {"container": "web"})


def test_messages_name_a_containers_main_process_by_the_container():
    s = machine()
    assert name(s.processes[4242], s) == "container web (docker, pid 4242)"
    assert name(s.processes[5100], s) == "container podweb-a (podman, pod podweb, pid 5100)"
    assert name(s.processes[5000], s) == "infra container of pod podweb (podman, pid 5000)"
    assert name(s.processes[900], s) == "'/usr/bin/containerd-shim-runc-v2 -id web' (pid 900)"
    assert name(s.processes[4242]) == "'httpd -f -p 80' (pid 4242)"        # without the snapshot: as before
    sandbox = Container("containerd", ids(9), "myweb2", "registry.k8s.io/pause:3.6", "running", 4242,
                        pod="default/myweb2", infra=True)
    assert name(s.processes[4242], dataclasses.replace(s, containers=(sandbox,))) == \
        "pause (sandbox) of pod default/myweb2 (containerd, pid 4242)"


# =============================================================== none or several: what the engine has
def test_a_stopped_container_is_said_to_exist_with_the_command_that_starts_it():
    s = replaced(machine(), "web", state="exited", pid=None)
    fails({"pid1": {"container": "web"}}, s, "web (docker) exists but is not running (exited)", "docker start web")
    s = replaced(machine(), "podweb-a", state="exited", pid=None)
    fails({"pid1": {"container": "podweb-a"}}, s, "podman start podweb-a")
    s = replaced(machine(), "0a1b2c3d4e5f-infra", state="exited", pid=None)
    fails({"pid1": {"pod": "podweb", "infra": True}}, s, "the infra container of pod podweb exists but is not running",
          "podman pod start podweb")


def test_a_container_under_another_engine_is_named_with_the_commands_that_move_it():
    fails({"pid1": {"container": "web", "engine": "podman"}}, machine(),
          "there is no podman container web, but docker has one (running)",
          "docker rm -f web; podman run -d --name web ...")


def test_no_such_container_pod_or_engine():
    s = machine()
    fails({"pid1": {"container": "webb", "engine": "docker"}}, s, "no container named webb: docker run -d --name webb ...")
    fails({"pid1": {"container": "webb"}}, s, "docker run -d --name webb ... (or podman run ...)")
    fails({"pid1": {"pod": "podwebb"}}, s, "there is no pod podwebb: podman pod create --name podwebb")
    fails({"pid1": {"pod": "default/myweb2", "engine": "containerd"}}, s,
          "the containers of pod default/myweb2 (containerd) cannot be found: containerd is not installed")
    fails({"pid1": {"pod": "default/myweb2", "engine": "containerd"}},
          dataclasses.replace(s, engines=running(("docker", "podman", "containerd"))),
          "there is no pod default/myweb2", "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml")
    stopped = machine(engines=(EngineState("docker", "stopped", "dockerd is not running: start it with dockerd &"),
                               *running(("podman",))[1:]))
    fails({"pid1": {"container": "web", "engine": "docker"}}, dataclasses.replace(stopped, containers=()),
          "no record of docker's containers: dockerd is not running", "the container web (docker) cannot be found: "
          "dockerd is not running: start it with dockerd &")
    fails({"pid1": {"container": "web"}}, dataclasses.replace(stopped, containers=()),
          "no container named web (dockerd is not running: start it with dockerd &)")


def test_a_pod_with_nothing_but_its_infra_or_no_infra():
    only_infra = tuple(c for c in machine().containers if c.pod != "podweb" or c.infra)
    s = machine(containers=only_infra)
    fails({"pid1": {"pod": "podweb"}}, s, "pod podweb has no container besides its infra",
          "podman run -d --name NAME --pod podweb ...")
    no_infra = tuple(c for c in machine().containers if not c.infra)
    fails({"pid1": {"pod": "podweb", "infra": True}}, machine(containers=no_infra),
          "pod podweb has no infra container", "podman pod create --name podweb")


def test_one_container_meant_and_several_selected():
    s = machine()
    fails({"pid1": {"pod": "podweb"}}, s, "2 containers match (the containers of pod podweb)",
          "container podweb-a (podman, pod podweb, pid 5100)", "name one of them, e.g. {container: podweb-a}")
    twin = Container("podman", ids(8), "web", IMAGE, "running", 6000)
    fails({"pid1": {"container": "web"}}, machine(proc(6000, "httpd -f -p 81", nspid=(6000, 1)),
                                                  containers=(*s.containers, twin)),
          "name the engine, e.g. {container: web, engine: docker}")
    a = Container("containerd", ids(10), "nginx", "nginx", "running", 4242, pod="default/a")
    b = Container("containerd", ids(11), "nginx", "nginx", "running", 4400, pod="default/b")
    fails({"pid1": {"container": "nginx"}}, machine(containers=(a, b)), "name the pod, e.g. {container: nginx, pod: default/a}")
    assert grade({"pid1": {"container": "nginx", "pod": "default/b"}}, machine(containers=(a, b))).passed


def test_a_running_container_whose_process_nstutor_does_not_see():
    s = replaced(machine(), "web", pid=9999)
    fails({"pid1": {"container": "web"}}, dataclasses.replace(s, is_root=False),
          "web (docker) runs as pid 9999, which nstutor does not see", "run nstutor as root")


# =============================================================== the process kind: containers' namespaces by inode
def test_web_side_shares_net_and_pid_with_web_not_mnt():
    v = passes({"process": WEB_SIDE_SHARES}, machine())
    assert v.evidence["pid"] == 4300 and v.evidence["shared_with"] == {"pid": 4242, "ns": {"net": WEB_NET, "pid": WEB_PID_NS}}
    assert "container web-side (docker, pid 4300)" in v.observed and "container web (docker, pid 4242)" in v.observed
    assert build({"process": WEB_SIDE_SHARES}).describe() == (
        "The container web-side (docker) runs with the same net and pid as the container web; "
        "other mnt than the container web")


def test_a_container_that_does_not_share_is_made_again_with_the_engines_options():
    # nonet stands in for a web-side made without --network/--pid container:web
    item = {**WEB_SIDE_SHARES, "container": "nonet"}
    v = fails({"process": item}, machine(), "container nonet (docker, pid 4400) has its own net namespace (4026532600); "
              "container web (docker, pid 4242)'s is 4026532500",
              "Its namespaces are fixed when docker creates it: docker rm -f nonet; "
              "docker run -d --name nonet --network container:web --pid container:web nstutor-box ...")
    assert "unshare" not in v.message and "nsenter" not in v.message and "kill" not in v.message
    # the same check, web-side sharing mnt too: docker cannot share a mount namespace at all
    s = machine()
    shared_mnt = dataclasses.replace(s.processes[4300], ns={**s.processes[4300].ns, "mnt": 1001})
    s = dataclasses.replace(s, processes=frozen_map({**s.processes, 4300: shared_mnt}))
    fails({"process": WEB_SIDE_SHARES}, s, "shares its mnt namespace (1001) with container web (docker, pid 4242)",
          "docker run -d --name web-side --network container:web --pid container:web nstutor-box ...")


def test_host_and_own_types_of_a_container_name_the_engines_options():
    fails({"process": {"container": "web", "host": ["net", "user", "time"]}}, machine(),
          "has its own net namespace (4026532500); the host's is 4026531831.",
          "docker rm -f web; docker run -d --name web --network host nstutor-box ...")
    fails({"process": {"container": "hostnet", "own": ["net", "user"]}}, machine(),
          "container hostnet (docker, pid 4500) shares the host's net namespace",
          "docker run -d --name hostnet nstutor-box ...", "only when dockerd runs with --userns-remap")
    # podman: uts can be shared, mnt cannot (by any engine)
    fails({"process": {"container": "podweb-a", "shared_with": {"process": {"container": "web"}, "types": ["uts", "mnt"]}}},
          machine(), "podman rm -f podweb-a; podman run -d --name podweb-a --pod podweb --uts container:web localhost/nstutor-box ...",
          "podman cannot share a container's mnt namespace (share files with a volume, -v, instead)")
    # a plain process joined by a docker container: docker cannot; podman by ns:PATH
    item = {"container": "nonet", "shared_with": {"process": {"cmdline": "^sleep 4711$"}, "types": ["net"]}}
    extra = proc(6100, "sleep 4711", own={"net": WEB_NET})
    fails({"process": item}, machine(extra), "docker joins only another container's namespaces")
    s = replaced(machine(extra), "nonet", engine="podman")
    fails({"process": item}, s, "podman run -d --name nonet --network ns:/proc/6100/ns/net nstutor-box ...")


WEB_CGROUP = {"container": "web", "engine": "docker", "host": ["user"], "own_on_cgroup_v2": ["cgroup"]}
HYBRID = CgroupInfo("hybrid", "/sys/fs/cgroup/cpu")
CG2 = CgroupInfo("v2", "/sys/fs/cgroup")


def with_ns(s, pid: int, **ns):
    """*s* with process *pid* moved into other namespaces (inodes by type)."""
    p = s.processes[pid]
    return dataclasses.replace(s, processes=frozen_map({**s.processes, pid: dataclasses.replace(p, ns={**p.ns, **ns})}))


def test_a_containers_cgroup_namespace_follows_the_cgroup_version_and_its_user_namespace_is_the_hosts():
    """Docker, Podman and containerd give a container its own cgroup namespace by default where
    /sys/fs/cgroup is cgroup v2, and leave it in the host's where cgroup v1 is mounted (hybrid, as on
    this VM): own_on_cgroup_v2 holds the container to what its machine's version makes."""
    # v1 or hybrid: the host's cgroup namespace passes; one of its own fails, and --cgroupns host fixes it
    passes({"process": WEB_CGROUP}, machine(cgroups=HYBRID))
    passes({"process": WEB_CGROUP}, machine(cgroups=CgroupInfo("v1", "/sys/fs/cgroup/cpu")))
    fails({"process": WEB_CGROUP}, with_ns(machine(cgroups=HYBRID), 4242, cgroup=4026532900),
          "container web (docker, pid 4242) has its own cgroup namespace (4026532900); the host's is "
          f"{HOST['cgroup']}.", "This machine runs cgroup v1 and v2 (hybrid): there docker leaves a container in "
          "the host's cgroup namespace, unless it is run with --cgroupns private.",
          "docker rm -f web; docker run -d --name web --cgroupns host nstutor-box ...")
    # v2 alone: the host's fails (the fix: --cgroupns private); one of its own passes
    fails({"process": WEB_CGROUP}, machine(cgroups=CG2),
          f"container web (docker, pid 4242) shares the host's cgroup namespace ({HOST['cgroup']}); it should "
          "have its own. This machine runs cgroup v2 alone: there docker gives a container a cgroup namespace "
          "of its own, unless it is run with --cgroupns host.",
          "docker run -d --name web --cgroupns private nstutor-box ...")
    v = passes({"process": WEB_CGROUP}, with_ns(machine(cgroups=CG2), 4242, cgroup=4026532900))
    assert v.observed == ("container web (docker, pid 4242): user 4026531835 (the host's), cgroup 4026532900 "
                          "(this machine runs cgroup v2 alone)"), v.observed
    # the user namespace is the host's on both, unless dockerd remaps users
    for cg in (HYBRID, CG2):
        fails({"process": WEB_CGROUP}, with_ns(machine(cgroups=cg), 4242, user=4026532901, cgroup=4026532900
                                                if cg is CG2 else HOST["cgroup"]),
              "has its own user namespace (4026532901)")
    # a plain process is told the same, in the words of unshare
    extra = proc(6200, "sleep 4712", own={"cgroup": 4026532902})
    fails({"process": {"cmdline": "^sleep 4712$", "own_on_cgroup_v2": ["cgroup"]}}, machine(extra, cgroups=HYBRID),
          "start it without unshare's --cgroup", "there the container engines leave a container in the host's")
    assert "its own cgroup namespace on a cgroup v2 machine, the host's where cgroup v1 is mounted" in \
        build({"process": WEB_CGROUP}).describe()
    for spec, problem in [({"container": "web", "own_on_cgroup_v2": ["net"]}, "must be [cgroup]"),
                          ({"container": "web", "own_on_cgroup_v2": ["cgroup"], "host": ["cgroup"]},
                           "cgroup is in own_on_cgroup_v2: leave it out of own and host")]:
        with pytest.raises(SpecError) as err:
            build({"process": spec})
        assert any(problem in p for p in err.value.problems), (problem, err.value.problems)


def test_a_process_beside_a_container_is_still_advised_with_nsenter():
    """`sleep 1013` started with nsenter into web's netns (docker exec by hand): not a container."""
    sleeper = proc(6200, "sleep 1013", own={"net": 4026539999})
    item = {"cmdline": "^sleep 1013$", "shared_with": {"process": {"container": "web", "engine": "docker"}, "types": ["net"]},
            "private_from": {"process": {"container": "web"}, "types": ["mnt"]}}
    fails({"process": item}, machine(sleeper), "'sleep 1013' (pid 6200) has its own net namespace",
          "nsenter --net=/proc/4242/ns/net")
    ok = proc(6200, "sleep 1013", own={"net": WEB_NET})
    passes({"process": item}, machine(ok))


def test_the_process_kinds_lint_a_container_subject():
    assert build({"process": {"container": "web", "engine": "docker", "own": ["net"]}}).subject == \
        {"container": "web", "engine": "docker"}
    for spec, problem in [
        ({"container": "web", "comm": "httpd", "own": ["net"]}, "'process': comm cannot go with container or pod"),
        ({"engine": "docker", "own": ["net"]}, "needs comm and/or cmdline (or container)"),
        ({"container": "web", "engine": "rkt"}, "'process.engine': must be one of docker, podman, containerd"),
        ({"pod": "podweb", "infra": "yes"}, "'process.infra': must be true or false"),
        ({"pod": "p", "engine": "docker"}, "docker has no pods"),
        ({"container": "web", "shared_with": {"process": {"container": "w", "cmdline": "x"}, "types": ["net"]}},
         "cmdline cannot go with container"),
    ]:
        with pytest.raises(SpecError) as err:
            build({"process": spec})
        assert any(problem in p for p in err.value.problems), (problem, err.value.problems)


def test_other_process_kinds_take_a_container_subject():
    s = machine()
    passes({"pid1": {"container": "web", "engine": "docker"}}, s)
    fails({"pid1": {"container": "web-side"}}, s, "container web-side (docker, pid 4300)")
    hostnames = {1002: "web", HOST["uts"]: "vm"}
    passes({"hostname": {"container": "web", "hostname": "web"}}, machine(hostnames=hostnames))
    parent_ok = {"parent": {"container": "web", "parent": {"comm": "containerd-shim"}}}
    passes(parent_ok, s)
    v = fails({"parent": {"container": "nonet", "parent": {"comm": "containerd-shim"}}}, s)
    assert "container nonet (docker, pid 4400)" in v.observed


# =============================================================== {netns_of: {container: ...}}
def test_the_netns_of_a_container_or_a_pod():
    s = machine()
    assert resolve_netns(s, {"netns_of": {"container": "web"}}).inode == WEB_NET
    assert resolve_netns(s, {"netns_of": {"container": "web-side", "engine": "docker"}}).inode == WEB_NET
    assert resolve_netns(s, {"netns_of": {"pod": "podweb"}}).inode == POD_NET            # its containers share one
    assert resolve_netns(s, {"netns_of": {"pod": "podweb", "infra": True}}).inode == POD_NET
    gone = resolve_netns(replaced(s, "web", state="exited", pid=None), {"netns_of": {"container": "web"}})
    assert isinstance(gone, Missing) and "docker start web" in gone.message
    # said in the very words of the container's own check, so a step that checks both says it once
    assert tuple(gone)[:2] == missing(replaced(s, "web", state="exited", pid=None), {"container": "web"})
    split = replaced(s, "podweb-b", pid=4400)              # a "member" in another netns
    apart = resolve_netns(split, {"netns_of": {"pod": "podweb"}})
    assert isinstance(apart, Missing) and "containers in different network namespaces" in apart.message
    assert netns_ref_problem({"netns_of": {"container": "web", "engine": "docker"}}) is None
    assert "unknown engine" in netns_ref_problem({"netns_of": {"container": "web", "engine": "dokcer"}})
    assert "{netns_of: {container: NAME}}" in netns_ref_problem(3)


def test_a_kind_with_a_netns_field_looks_inside_a_container():
    """(and never advises moving a container's own interface out of it)"""
    s = machine()
    passes({"netns": {"name": {"netns_of": {"container": "nonet"}}, "only_lo": True}}, s)
    fails({"netns": {"name": {"netns_of": {"container": "web"}}, "only_lo": True}}, s)
    v = grade({"link": {"dev": "eth0", "netns": {"netns_of": {"container": "web"}}}}, s)
    assert v.passed, text(v)
    v = grade({"link": {"dev": "eth0", "netns": {"netns_of": {"container": "nonet"}}}}, s)
    assert not v.passed and "has no eth0 of its own" in v.message and "link set" not in v.message


# =============================================================== the pod kind with a real pod
PODWEB = {"pause": {"pod": "podweb", "infra": True}, "members": [{"pod": "podweb"}],
          "shared": ["net", "ipc", "uts"], "private": ["mnt", "pid"]}


def with_ns(s, at: int, **ns):
    p = s.processes[at]
    return dataclasses.replace(s, processes=frozen_map({**s.processes, at: dataclasses.replace(p, ns={**p.ns, **ns})}))


def test_in_pod_podweb_the_infra_holds_net_ipc_uts_and_each_container_has_its_own_mnt_and_pid():
    v = passes({"pod": PODWEB}, machine())
    assert [m["pid"] for m in v.evidence["members"]] == [5100, 5200] and v.evidence["pause"]["pid"] == 5000
    assert "infra container of pod podweb (podman, pid 5000)" in v.observed
    assert build({"pod": PODWEB}).describe() == ("a pod: the containers of pod podweb share net, ipc and uts with the "
                                                 "infra container of pod podweb and have their own mnt and pid")
    by_name = {**PODWEB, "members": [{"container": "podweb-a"}, {"container": "podweb-b", "engine": "podman"}]}
    assert passes({"pod": by_name}, machine()).evidence == v.evidence
    assert build({"pod": by_name}).describe().startswith("a pod: 2 members share")


def test_a_pod_member_that_misses_a_namespace_is_fixed_by_the_pods_share():
    s = with_ns(machine(), 5200, pid=1501)            # podweb-b in podweb-a's pid namespace
    fails({"pod": PODWEB}, s, "container podweb-b (podman, pod podweb, pid 5200) shares its pid namespace (1501) with "
          "container podweb-a", "podman pod rm -f podweb; podman pod create --name podweb --share net,ipc,uts",
          "podman run -d --name podweb-b --pod podweb localhost/nstutor-box ...", "podman kube play --replace")
    s = with_ns(machine(), 5100, ipc=4026539000)
    v = fails({"pod": PODWEB}, s, "container podweb-a (podman, pod podweb, pid 5100) has its own ipc namespace "
              "(4026539000); the pause's is 4026532702", "podman pod create --name podweb --share net,ipc,uts")
    assert "nsenter" not in v.message and "unshare" not in v.message


def test_a_container_outside_the_pod_is_run_again_in_it():
    members = {**PODWEB, "members": [{"container": "podweb-a"}, {"container": "nonet"}]}
    fails({"pod": members}, machine(), "container nonet (docker, pid 4400) has its own net namespace",
          "It is in no pod, not in pod podweb: docker rm -f nonet; podman run -d --name nonet --pod podweb nstutor-box ...")


def test_an_infra_container_in_the_hosts_network_and_a_missing_pod():
    s = with_ns(machine(), 5000, net=HOST["net"])
    fails({"pod": PODWEB}, s, "The infra container of pod podweb (podman, pid 5000) is in the host's net namespace",
          "podman pod rm -f podweb; podman pod create --name podweb --share net,ipc,uts")
    fails({"pod": {**PODWEB, "pause": {"pod": "podwebb", "infra": True}, "members": [{"pod": "podwebb"}]}}, machine(),
          "there is no pod podwebb: podman pod create --name podwebb")


def test_a_kubernetes_pod_is_fixed_in_its_spec():
    sandbox = Container("containerd", ids(20), "myweb2", "registry.k8s.io/pause:3.6", "running", 5000,
                        pod="default/myweb2", infra=True)
    nginx = Container("containerd", ids(21), "nginx", "nginx", "running", 5100, pod="default/myweb2")
    sidecar = Container("containerd", ids(22), "sidecar", "busybox", "running", 5200, pod="default/myweb2")
    s = machine(containers=(sandbox, nginx, sidecar), engines=running(("containerd",)))
    spec = {"pause": {"pod": "default/myweb2", "infra": True, "engine": "containerd"},
            "members": [{"pod": "default/myweb2", "engine": "containerd"}], "shared": ["net", "ipc"], "private": ["mnt"]}
    v = passes({"pod": spec}, s)
    assert "pause (sandbox) of pod default/myweb2 (containerd, pid 5000)" in v.observed
    fails({"pod": spec}, with_ns(s, 5200, net=4026539001), "container sidecar (containerd, pod default/myweb2, pid 5200) "
          "has its own net namespace", " The kubelet makes a pod", "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml")


def test_a_kubernetes_pod_on_docker_is_fixed_in_its_spec_too():
    """cri-dockerd (or the old dockershim) runs a pod's containers in Docker: the records say
    engine docker with a Kubernetes pod, and the fix is still the pod's spec, not `docker run`."""
    uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    sandbox = Container("docker", ids(30), f"k8s_POD_myweb2_default_{uid}_0", "registry.k8s.io/pause:3.6",
                        "running", 5000, pod="default/myweb2", infra=True)
    nginx = Container("docker", ids(31), f"k8s_nginx_myweb2_default_{uid}_0", "nginx", "running", 5100,
                      pod="default/myweb2")
    sidecar = Container("docker", ids(32), f"k8s_sidecar_myweb2_default_{uid}_0", "busybox", "running", 5200,
                        pod="default/myweb2")
    s = machine(containers=(sandbox, nginx, sidecar), engines=running(("docker",)))
    spec = {"pause": {"pod": "default/myweb2", "infra": True, "engine": "docker"},
            "members": [{"pod": "default/myweb2", "engine": "docker"}], "shared": ["net", "ipc"], "private": ["mnt"]}
    passes({"pod": spec}, s)
    v = fails({"pod": spec}, with_ns(s, 5200, net=4026539001), "has its own net namespace",
              "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml")
    assert "docker run" not in v.message and "docker rm" not in v.message, v.message


# =============================================================== the container kind
def test_the_docker_lessons_containers_pass():
    s = machine()
    v = passes({"container": {"name": "web", "engine": "docker", "network": "bridge"}}, s)
    assert v.evidence["pid"] == 4242 and v.evidence["network"] == "bridge" and v.evidence["ns"]["net"] == WEB_NET
    assert "container web (docker, pid 4242): running; image nstutor-box" in v.observed
    passes({"container": {"name": "web-side", "engine": "docker", "network": "container:web"}}, s)
    passes({"container": {"name": "nonet", "engine": "docker", "network": "none"}}, s)
    passes({"container": {"name": "hostnet", "engine": "docker", "network": "host"}}, s)
    passes({"container": {"name": "podweb-a", "engine": "podman", "pod": "podweb", "infra": False}}, s)
    passes({"container": {"name": "0a1b2c3d4e5f-infra", "engine": "podman", "pod": "podweb", "infra": True,
                          "network": "bridge"}}, s)
    stopped = replaced(s, "web", state="exited", pid=None)
    passes({"container": {"name": "web", "engine": "docker", "running": False}}, stopped)
    passes({"container": {"name": "web", "engine": "docker", "running": False, "network": "bridge"}}, stopped)


def test_a_missing_stopped_or_misplaced_container_is_named_with_the_fix():
    s = machine()
    fails({"container": {"name": "web", "engine": "podman"}}, s, "there is no podman container web; seen: web (docker), "
          "running", "docker rm -f web; podman run -d --name web ...")
    fails({"container": {"name": "db", "engine": "docker"}}, s, "no container named db: docker run -d --name db ...")
    fails({"container": {"name": "web", "engine": "docker"}}, replaced(s, "web", state="exited", pid=None),
          "web (docker): exited, not running", "container web (docker) exists but is not running (exited): docker start web")
    fails({"container": {"name": "web", "engine": "docker", "running": False}}, s,
          "container web (docker, pid 4242): running", "this step wants it stopped: docker stop web")
    fails({"container": {"name": "web", "engine": "docker"}}, replaced(s, "web", pid=9999),
          "web (docker) runs as pid 9999, which nstutor does not see")
    no_docker = dataclasses.replace(s, containers=tuple(c for c in s.containers if c.engine != "docker"),
                                    engines=(EngineState("docker", "stopped", "dockerd is not running: start it with dockerd"),
                                             *running(("podman",))[1:]))
    fails({"container": {"name": "web", "engine": "docker"}}, no_docker,
          "no record of docker's containers: dockerd is not running", "cannot be found: dockerd is not running")
    fails({"container": {"name": "podweb-a", "engine": "podman", "pod": "other"}}, s,
          "container podweb-a is in pod podweb, not in pod other.",
          "podman rm -f podweb-a; podman run -d --name podweb-a --pod other localhost/nstutor-box ...")
    fails({"container": {"name": "podweb-a", "engine": "podman", "pod": "podweb", "infra": True}}, s,
          "container podweb-a is not its pod's infra container", "made by `podman pod create`")


@pytest.mark.parametrize("cname, want, fragments", [
    ("web", "host", ["has a network namespace of its own (net:[4026532500]); the host's is net:[4026531831]",
                     "docker rm -f web; docker run -d --name web --network host nstutor-box ..."]),
    ("hostnet", "bridge", ["is in the host's network namespace (net:[4026531831]), as --network host makes it",
                           "docker run -d --name hostnet nstutor-box ..."]),
    ("hostnet", "none", ["is in the host's network namespace", "--network none nstutor-box ..."]),
    ("web", "none", ["container web has eth0 besides lo", "docker run -d --name web --network none nstutor-box ..."]),
    ("web-side", "bridge", ["was made with --network container:web, so it has that container's network",
                            "docker run -d --name web-side nstutor-box ..."]),
    ("nonet", "container:web", ["container nonet is in net:[4026532600], and container web (docker, pid 4242) in "
                                "net:[4026532500]", "--network container:web nstutor-box ..."]),
    ("nonet", "bridge", ["container nonet was made with --network none, not bridge."]),
    ("web-side", "container:db", ["should share the netns of container db: no container named db"]),
])
def test_a_wrong_network_mode_is_decided_by_inode_and_names_the_run_that_makes_it(cname, want, fragments):
    fails({"container": {"name": cname, "engine": "docker", "network": want}}, machine(), *fragments)


def test_the_network_mode_by_the_kernel_when_the_record_is_silent_and_by_the_record_when_stopped():
    s = replaced(machine(), "web", network=None)
    v = passes({"container": {"name": "web", "engine": "docker", "network": "bridge"}}, s)
    assert "docker's record: no network mode" in v.observed
    lonely = dataclasses.replace(s, netns=frozen_map({**s.netns, WEB_NET: dataclasses.replace(
        s.netns[WEB_NET], links=(lo(WEB_NET), Link(WEB_NET, 3, "dummy0", "dummy", True, "UP", 1500, None)))}))
    fails({"container": {"name": "web", "engine": "docker", "network": "bridge"}}, lonely,
          "network namespace has no veth (dummy0, lo), so it is on no bridge")
    # the inode decides: a record that says container:web while the kernel shows another netns fails
    moved = replaced(machine(), "nonet", network=f"container:{ids(1)}")
    fails({"container": {"name": "nonet", "engine": "docker", "network": "container:web"}}, moved,
          "docker's record: --network container:web", "they do not share a network namespace")
    stopped = replaced(machine(), "web", state="exited", pid=None)
    fails({"container": {"name": "web", "engine": "docker", "running": False, "network": "host"}}, stopped,
          "docker's record: --network bridge", "container web was made with --network bridge, not host.")


def test_the_container_kinds_lint():
    assert "container" in load_kinds()
    for spec, problem in [
        ({"engine": "docker"}, "'container' is missing the required field 'name'"),
        ({"name": "web"}, "'container' is missing the required field 'engine'"),
        ({"name": "web", "engine": "lxc"}, "'container.engine': must be one of docker, podman, containerd"),
        ({"name": "web", "engine": "docker", "network": "macvlan"}, "'macvlan' is not a network mode: bridge, host, "
                                                                      "none or container:NAME"),
        ({"name": "web", "engine": "docker", "network": "container:"}, "is not a network mode"),
        ({"name": "web", "engine": "docker", "pod": "p"}, "docker has no pods"),
        ({"name": "web", "engine": "containerd", "network": "host"}, "a Kubernetes container has its pod's network"),
        ({"name": "a", "engine": "podman", "pod": "p", "network": "host"}, "a pod's containers have the pod's network"),
        ({"name": "web", "engine": "docker", "running": "yes"}, "'container.running': must be true or false"),
        ({"name": "web", "engine": "docker", "image": "x"}, "'container' has no field 'image'"),
    ]:
        with pytest.raises(SpecError) as err:
            build({"container": spec})
        assert any(problem in p for p in err.value.problems), (problem, err.value.problems)


def test_a_kubernetes_container_stopped_or_running():
    nginx = Container("containerd", ids(21), "nginx", "nginx", "exited", None, pod="default/myweb2")
    s = machine(containers=(nginx,), engines=running(("containerd",)))
    fails({"container": {"name": "nginx", "engine": "containerd", "pod": "default/myweb2"}}, s,
          "the kubelet restarts a pod's containers itself", "kubectl describe pod -n default myweb2")
    s = machine(containers=(dataclasses.replace(nginx, state="running", pid=5100),), engines=running(("containerd",)))
    passes({"container": {"name": "nginx", "engine": "containerd", "pod": "default/myweb2"}}, s)
    fails({"container": {"name": "nginx", "engine": "containerd", "pod": "default/other"}}, s,
          "is in pod default/myweb2, not in pod default/other", "kubectl delete pod")


# =============================================================== what it names, for the panel
def test_a_container_kind_names_its_container_and_the_one_whose_network_it_shares():
    side, = [build({"container": {"name": "web-side", "engine": "docker", "network": "container:web"}})]
    assert list(side.refers_to()) == [ProcessRef({"container": "web-side", "engine": "docker"}),
                                      ProcessRef({"container": "web", "engine": "docker"})]
    process = build({"process": WEB_SIDE_SHARES})
    assert list(process.refers_to()) == [ProcessRef({"container": "web-side", "engine": "docker"}),
                                         ProcessRef({"container": "web"}), ProcessRef({"container": "web"})]
    pod = build({"pod": PODWEB})
    focus = focus_from(None, [side, pod])
    resolved = focus.resolve(machine())
    assert resolved.pids == {4300, 4242, 5000, 5100, 5200}
    assert WEB_NET in resolved.netns and POD_NET in resolved.netns


# =============================================================== authors: nstutor kinds, lint
def test_nstutor_kinds_lists_the_container_kind_and_its_fields(capsys):
    assert main(["kinds"]) == 0
    out = capsys.readouterr().out
    line = next(i for i, l in enumerate(out.splitlines()) if l.startswith("container "))
    fields = out.splitlines()[line + 1]
    assert "container: a container exists under an engine" in out.splitlines()[line]
    assert "fields: name*, engine*, running, network, pod, infra" in fields
    assert "container, pod, engine, infra" in out.splitlines()[out.splitlines().index(
        next(l for l in out.splitlines() if l.startswith("process "))) + 1]


def test_a_lesson_using_containers_lints_clean_and_its_slips_are_found(tmp_path):
    good = tmp_path / "13-demo-docker.md"
    good.write_text(LESSON.format(network="bridge", sel="{container: web}"))
    _, problems = parse_lesson(good)
    assert [p.message for p in problems] == []
    bad = tmp_path / "14-demo-docker.md"
    bad.write_text(LESSON.format(network="brdge", sel="{container: web, comm: httpd}"))
    _, problems = parse_lesson(bad)
    text_ = "\n".join(map(str, problems))
    assert "'brdge' is not a network mode" in text_ and "comm cannot go with container or pod" in text_
    assert main(["lint", str(good)]) == 0 and main(["lint", str(bad)]) != 0


LESSON = """---
id: demo-docker
title: Demo
minutes: 5
---
# Demo

Some prose.

```check
id: web-runs
title: web runs under Docker
expect:
  - container: {{name: web, engine: docker, network: {network}}}
  - process: {{container: web-side, engine: docker, shared_with: {{process: {sel}, types: [net, pid]}},
               private_from: {{process: {{container: web}}, types: [mnt]}}}}
  - link: {{dev: eth0, netns: {{netns_of: {{container: web, engine: docker}}}}}}
  - pod: {{pause: {{pod: podweb, infra: true}}, members: [{{pod: podweb}}]}}
hint: docker run -d --name web nstutor-box httpd -f -p 80
solution: |
  docker run -d --name web nstutor-box httpd -f -p 80
```
"""


# =============================================================== more kinds that take a selector
def test_listening_in_a_containers_netns_held_by_the_container():
    import socket as socket_mod
    s = machine()
    httpd = Socket("tcp", socket_mod.AF_INET, "0.0.0.0", 80, 77, "LISTEN", pids=(4242,))
    nc = Socket("tcp", socket_mod.AF_INET, "0.0.0.0", 8082, 78, "LISTEN", pids=(4500,))
    s = dataclasses.replace(s, netns=frozen_map({**s.netns,
                                                 WEB_NET: dataclasses.replace(s.netns[WEB_NET], sockets=(httpd,)),
                                                 HOST["net"]: dataclasses.replace(s.netns[HOST["net"]], sockets=(nc,))}))
    passes({"listening": {"netns_of": {"container": "web", "engine": "docker"}, "port": 80,
                          "process": {"container": "web"}}}, s)
    passes({"listening": {"netns": {"netns_of": {"container": "web-side"}}, "port": 80}}, s)   # it shares web's netns
    passes({"listening": {"netns": "host", "port": 8082, "process": {"container": "hostnet"}}}, s)
    v = fails({"listening": {"netns_of": {"container": "web"}, "port": 80, "process": {"container": "web-side"}}}, s)
    assert "container web (docker, pid 4242)" in text(v)
    fails({"listening": {"netns_of": {"container": "nonet"}, "port": 80}}, s)


def test_a_container_as_a_cgroup_member():
    s = machine()
    moved = dataclasses.replace(s.processes[4242], cgroup="/docker/" + ids(1))
    s = dataclasses.replace(s, processes=frozen_map({**s.processes, 4242: moved}),
                            cgroups=CgroupInfo("v2", "/sys/fs/cgroup", frozen_map({})))
    fails({"cgroup": {"name": "nstutor-cpu", "members": [{"container": "web"}]}}, s,
          f"container web (docker, pid 4242) is in cgroup /docker/{ids(1)}")


# =============================================================== an engine's own bridge; a server in a missing container
def test_an_engines_own_bridge_is_not_the_learners_to_make():
    """docker0 is dockerd's: without it, the fix is dockerd, never `ip link add docker0 type bridge`."""
    s = machine()
    no_bridge = dataclasses.replace(s, netns=frozen_map({**s.netns, HOST["net"]: dataclasses.replace(
        s.netns[HOST["net"]], links=tuple(l for l in s.netns[HOST["net"]].links if l.name != "docker0"))}))
    stopped = dataclasses.replace(no_bridge, engines=(
        EngineState("docker", "stopped", "dockerd is not running: start it with dockerd &"), *running(("podman",))[1:]))
    v = fails({"bridge": {"dev": "docker0"}}, stopped, "docker0 is dockerd's own bridge, made when dockerd starts: "
              "dockerd is not running: start it with dockerd &")
    assert "type bridge" not in text(v)
    v = fails({"bridge": {"dev": "docker0"}}, no_bridge, "it is gone although dockerd runs", "restart dockerd")
    assert "type bridge" not in text(v)
    fails({"bridge": {"dev": "cni-podman0"}}, no_bridge, "cni-podman0 is Podman's own bridge")
    # a bridge of the learner's own is still theirs to make
    fails({"bridge": {"dev": "nsbr0"}}, no_bridge, "ip link add nsbr0 type bridge")


def test_a_port_a_missing_container_should_hold_names_the_container_not_a_server_to_start():
    s = machine()
    gone = dataclasses.replace(s, containers=tuple(c for c in s.containers if c.name != "hostnet"),
                               processes=frozen_map({p: v for p, v in s.processes.items() if p != 4500}))
    v = fails({"listening": {"port": 8082, "ip": "127.0.0.1", "process": {"container": "hostnet", "engine": "docker"}}},
              gone, "no container named hostnet: docker run -d --name hostnet")
    assert "http.server" not in text(v) and "(or podman run" not in text(v)


def test_a_step_says_a_missing_containers_reason_once_in_the_app_and_the_cli():
    """The docker lesson's first step checks web three ways; with no web, both the app's step card
    and `nstutor check` say why once (the walk-through saw it three times), and name only docker."""
    import os
    from pathlib import Path
    from rich.console import Console
    from tutor.app.state import StepState
    from tutor.app.widgets.step_card import card_body
    from tutor.checks.runner import grade_step
    from tutor.cli import step_lines
    lesson, problems = parse_lesson(Path(__file__).resolve().parent.parent / "lessons" / "13-docker.md")
    assert lesson is not None, problems
    s = machine()
    no_web = dataclasses.replace(s, containers=tuple(c for c in s.containers if c.name != "web"))
    result = grade_step(lesson.steps[0], no_web, lesson=lesson)
    assert not result.passed and len(result.failures) >= 3
    reason = "no container named web: docker run -d --name web"
    cli = "\n".join(step_lines(result))
    assert cli.count(reason) == 1 and "(or podman run" not in cli, cli
    state = StepState(lesson.steps[0])
    state.result = result
    console = Console(width=300, record=True, file=open(os.devnull, "w"))
    console.print(card_body(state, selected=True))
    card = console.export_text()
    assert card.count(reason) == 1 and card.count("(the same reason as above)") == len(result.failures) - 1, card
    # web there but stopped: the container check and the checks that name it say it in one sentence
    stopped = grade_step(lesson.steps[0], replaced(s, "web", state="exited", pid=None), lesson=lesson)
    cli = "\n".join(step_lines(stopped))
    assert cli.count("exists but is not running (exited): docker start web") == 1, cli


def test_pid1_of_a_container_is_fixed_by_the_engine_not_by_unshare():
    """web-side joins web's pid namespace (pid 7 there): making it PID 1 means creating the container
    again without --pid container:web; a pod's member means a pod with one pid namespace."""
    v = fails({"pid1": {"container": "web-side", "engine": "docker"}}, machine(),
              "is pid 7 in its pid namespace, not 1", "docker rm -f web-side; then docker run -d --name web-side ... "
              "without that --pid")
    assert "unshare" not in text(v)
    s = machine()
    in_host = dataclasses.replace(s, processes=frozen_map({**s.processes, 5100: dataclasses.replace(
        s.processes[5100], nspid=(5100,), ns=frozen_map({**s.processes[5100].ns, "pid": HOST["pid"]}))}))
    v = fails({"pid1": {"container": "podweb-a", "engine": "podman"}}, in_host, "in the host's pid namespace",
              "podman pod create --name podweb --share +pid", "shareProcessNamespace: true")
    assert "unshare" not in text(v)


# =============================================================== hostname and mount of a container
def with_hostnames(s, **names):
    """*s* with uts namespace -> hostname (uts=..., by inode), the host's 'lab-vm'."""
    table = {HOST["uts"]: "lab-vm", **{int(k[1:]): v for k, v in names.items()}}
    return dataclasses.replace(s, hostnames=frozen_map(table))


def test_a_containers_hostname_is_fixed_by_its_engine_or_its_pod():
    s = with_hostnames(machine(), **{"u1002": "web", f"u{POD_UTS}": "podweb"})
    passes({"hostname": {"container": "web", "engine": "docker", "hostname": "web"}}, s)
    v = fails({"hostname": {"container": "web", "engine": "docker", "hostname": "lab-box"}}, s,
              "hostname 'web'", "nsenter --target 4242 --uts hostname lab-box",
              "That lasts until its container restarts", "docker rm -f web; docker run -d --name web --hostname lab-box "
              "nstutor-box ...")
    # a Podman pod's containers share the pod's uts: the name is the pod's
    fails({"hostname": {"container": "podweb-a", "engine": "podman", "hostname": "lab-box"}}, s,
          "podman pod rm -f podweb; podman pod create --name podweb --hostname lab-box")
    # --network host's container here has the host's uts too (docker run --uts host): never rename the machine
    hostnet = with_ns(s, 4500, uts=HOST["uts"])
    v = fails({"hostname": {"container": "hostnet", "engine": "docker", "hostname": "lab-box"}}, hostnet,
              "is in the host's uts namespace", "renames the whole machine",
              "docker rm -f hostnet; docker run -d --name hostnet --network host --hostname lab-box nstutor-box ...")
    assert "unshare --uts" not in v.message and "kill 4500" not in v.message
    # a plain process keeps the by-hand advice
    plain = with_hostnames(base_snap(proc(700, "sleep 1003", own={"uts": 4026532990})), u4026532990="x")
    v = fails({"hostname": {"cmdline": "^sleep 1003$", "hostname": "lab-box"}}, plain,
              "nsenter --target 700 --uts hostname lab-box")
    assert "docker" not in v.message and "lasts until" not in v.message


def test_a_kubernetes_containers_hostname_is_its_pod_specs():
    sandbox = Container("containerd", ids(20), "myweb2", "registry.k8s.io/pause:3.6", "running", 5000,
                        pod="default/myweb2", infra=True)
    nginx = Container("containerd", ids(21), "nginx", "nginx", "running", 5100, pod="default/myweb2")
    s = with_hostnames(machine(containers=(sandbox, nginx), engines=running(("containerd",))),
                       **{f"u{POD_UTS}": "myweb2"})
    fails({"hostname": {"container": "nginx", "engine": "containerd", "hostname": "lab-box"}}, s,
          "put hostname: lab-box in the Pod spec", "kubectl delete pod -n default myweb2")


def test_a_tmpfs_missing_in_a_container_is_made_by_its_engine_too():
    s = dataclasses.replace(machine(), mounts=frozen_map({1001: (), 1502: ()}))
    fails({"mount": {"container": "web", "engine": "docker", "target": "/mnt/nstutor-cache", "fstype": "tmpfs"}}, s,
          "nsenter --target 4242 --mount mount -t tmpfs tmpfs /mnt/nstutor-cache",
          "docker rm -f web; docker run -d --name web --tmpfs /mnt/nstutor-cache nstutor-box ...")
    fails({"mount": {"container": "podweb-a", "engine": "podman", "target": "/mnt/nstutor-cache"}}, s,
          "podman rm -f podweb-a; podman run -d --name podweb-a --pod podweb --tmpfs /mnt/nstutor-cache")
    v = fails({"mount": {"container": "web", "engine": "docker", "target": "/mnt/nstutor-cache", "fstype": "ext4"}}, s,
              "Nothing is mounted at /mnt/nstutor-cache")
    assert "--tmpfs" not in v.message


def test_a_file_missing_in_a_container_is_made_with_its_engines_exec_too():
    from tutor.observe.model import FileFact
    missing_here = {(pid, "/tmp/nstutor-note"): FileFact("missing", None) for pid in (4242, None)}
    s = dataclasses.replace(machine(), files=frozen_map(missing_here))
    fails({"file": {"container": "web", "engine": "docker", "path": "/tmp/nstutor-note"}}, s,
          "nsenter --target 4242 --mount sh -c 'echo hello > /tmp/nstutor-note'",
          "(or with its engine: docker exec web sh -c 'echo hello > /tmp/nstutor-note').")


# =============================================================== what an engine mounts, and root's powers
#: /proc/sys writable and /proc/keys not masked: what --privileged (or privileged: true) leaves in a container
RW_PROC_SYS = Mount(10, 1, "/proc/sys", "proc", "proc", "rw,nosuid,nodev,noexec", "/sys")
UNMASKED_KEYS = Mount(11, 1, "/proc/keys", "proc", "proc", "rw,nosuid,nodev,noexec", "/keys")
NET_ADMIN_HELD = CapabilitySets(effective=1 << 12 | 1)      # chown and net_admin
LEASH_MISSES = ({"mount": {"target": "/proc/sys", "read_only": True}},
                {"mount": {"target": "/proc/keys", "source_path": "^/null$"}},
                {"capabilities": {"lacks": ["net_admin"]}})


def unleashed(s, *pids: int):
    """*s* with the main processes *pids* mounted and capable as a privileged container is."""
    return dataclasses.replace(s, mounts=frozen_map({s.processes[p].ns["mnt"]: (RW_PROC_SYS, UNMASKED_KEYS)
                                                     for p in pids}),
                               capabilities=frozen_map({p: NET_ADMIN_HELD for p in pids}))


def leash_messages(s, container: str, engine: str) -> list[str]:
    out = []
    for item in LEASH_MISSES:
        (kind, spec), = item.items()
        out.append(fails({kind: {"container": container, "engine": engine, **spec}}, s).message)
    return out


def test_a_kubernetes_containers_mounts_and_capabilities_are_fixed_in_its_pod_spec():
    """containerd has no `run`: a kubelet's container that is not on its leash is fixed in the Pod spec, and
    how it was started is read from that spec's securityContext, never from `containerd inspect`."""
    sandbox = Container("containerd", ids(20), "myweb2", "registry.k8s.io/pause:3.6", "running", 5000,
                        pod="default/myweb2", infra=True)
    nginx = Container("containerd", ids(21), "nginx", "nginx", "running", 5100, pod="default/myweb2")
    s = unleashed(machine(containers=(sandbox, nginx), engines=running(("containerd",))), 5100)
    read_only, source, caps = leash_messages(s, "nginx", "containerd")
    again = "and create the pod again: kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml"
    spec = """kubectl get pod -n default myweb2 -o jsonpath='{.spec.containers[?(@.name=="nginx")].securityContext}'"""
    assert ("securityContext says privileged: true or procMount: Unmasked" in read_only and spec in read_only
            and f"take them out of the Pod spec {again}" in read_only), read_only
    assert ("a volumeMount onto /proc/keys" in source and "kubectl get pod -n default myweb2 -o yaml" in source
            and f"take that out of the Pod spec {again}" in source), source
    assert spec in caps and "put securityContext.capabilities.drop: [NET_ADMIN] in the Pod spec" in caps, caps
    for message in (read_only, source, caps):
        assert "containerd rm" not in message and "containerd run" not in message, message
        assert "containerd inspect" not in message and "HostConfig" not in message, message


@pytest.mark.parametrize("container, engine, again", [
    ("web", "docker", "docker rm -f web; docker run -d --name web --cap-drop NET_ADMIN nstutor-box ..."),
    ("podweb-a", "podman", "podman rm -f podweb-a; podman run -d --name podweb-a --pod podweb --cap-drop NET_ADMIN "
                           "localhost/nstutor-box ..."),
])
def test_docker_and_podman_containers_off_their_leash_are_run_again(container, engine, again):
    """The engine's words, as they were before containerd's were added: its inspect and its rm/run."""
    read_only, source, caps = leash_messages(unleashed(machine(), 4242, 5100), container, engine)
    assert read_only == (
        f"/proc/sys is writable inside {container}, so root in there can change the machine's kernel settings "
        f"through it. Engines mount it read-only unless the container was started with --privileged or "
        f"--security-opt systempaths=unconfined ({engine} inspect -f '{{{{.HostConfig.Privileged}}}} "
        f"{{{{.HostConfig.SecurityOpt}}}}' {container} tells); make it again without them: {engine} rm -f "
        f"{container}, then {engine} run it as the lesson does.")
    assert source == (
        "/proc/keys there shows /keys of its filesystem, not a path matching '^/null$'. The engine mounts "
        "/proc/keys for each container it starts, unless the run options replace it (a -v or --mount onto "
        f"/proc/keys, --security-opt systempaths=unconfined, --privileged): {engine} inspect {container} shows its "
        "mounts; make it again without them.")
    assert caps.endswith(
        f"(was it started with --privileged or --cap-add? {engine} inspect -f '{{{{.HostConfig.Privileged}}}} "
        f"{{{{.HostConfig.CapAdd}}}}' {container} tells). Make it again without it: {again}"), caps


def test_a_missing_kubernetes_container_is_the_kubelets_to_make_not_a_docker_run():
    """Lesson 18 (k8s-node) on a machine with no cluster: its steps name myweb2's containers by their
    pod (default/myweb2), and the advice is the Pod spec, never `docker run` or `podman run --pod`."""
    s = machine(containers=(), engines=(EngineState("docker", "stopped", "dockerd is not running"),
                                        EngineState("podman", "running", None),
                                        EngineState("containerd", "absent", "containerd has not run here")))
    v = fails({"pid1": {"container": "myweb2-nginx", "pod": "default/myweb2"}}, s,
              "no container named myweb2-nginx (containerd has not run here; dockerd is not running)",
              "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml")
    assert "docker run" not in v.message and "podman" not in v.message, v.message
    from pathlib import Path
    from tutor.checks.runner import grade_step
    lesson, problems = parse_lesson(Path(__file__).resolve().parent.parent / "lessons" / "18-k8s-node.md",
                                    trusted=True)
    assert problems == []
    for step in lesson.steps:
        if step.id in ("nginx", "localhost"):
            result = grade_step(step, s)
            said = "\n".join(f.message for f in result.failures)
            assert result.failures and "docker run" not in said and "podman run" not in said, said
            assert "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml" in said, said
