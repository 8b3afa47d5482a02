"""Every step as strict as its prose (issue 11, part 3): a step is green only when everything its
text tells the learner to do holds, and never while an object that contradicts it sits beside
the right one. Real kernel, unique names; the shipped lessons' own check blocks and solutions,
renamed (tests/shipped_lesson.py), for the lesson-level cases."""
from __future__ import annotations

import random
import re
import sys

import pytest

from conftest import sh, wait_until
from kinds_process_support import number, pids_matching
from shipped_lesson import ShippedLesson, bash
from test_kinds_network import fails, make_pair, passes

pytestmark = pytest.mark.needs_root


def subnet() -> str:
    return f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"


# --------------------------------------------------------------- address: nothing beside the right one
def test_a_second_address_on_the_link_fails_beside_the_right_one(netns):
    red, blue = netns("R"), netns("B")
    net = subnet()
    make_pair(red, blue)
    sh(f"ip -n {red} addr add {net}.2/24 dev veth0 && ip -n {red} addr add {net}.3/24 dev veth0")
    sh(f"ip -n {blue} addr add {net}.3/24 dev veth1")
    v = fails({"address": {"dev": f"{red}/veth0", "cidr": f"{net}.2/24"}})
    assert f"and also {net}.3/24" in v.message
    assert f"ip -n {red} addr del {net}.3/24 dev veth0" in v.message
    # BLUE's address is right, but RED answers for it too: the twin across the cable is named.
    v = fails({"address": {"dev": f"{blue}/veth1", "cidr": f"{net}.3/24"}})
    assert f"{net}.3/24 is on veth0 in {red} too" in v.observed
    assert f"ip -n {red} addr del {net}.3/24 dev veth0" in v.message
    sh(f"ip -n {red} addr del {net}.3/24 dev veth0")
    passes({"address": {"dev": f"{red}/veth0", "cidr": f"{net}.2/24"}})
    passes({"address": {"dev": f"{blue}/veth1", "cidr": f"{net}.3/24"}})


def test_the_same_prefix_twice_on_one_link_fails(netns):
    """10.x.2/32 typed first, then the right /24: both stay, and the /32 is named for removal."""
    red, blue = netns("R"), netns("B")
    net = subnet()
    make_pair(red, blue)
    sh(f"ip -n {red} addr add {net}.2/32 dev veth0 && ip -n {red} addr add {net}.2/24 dev veth0")
    v = fails({"address": {"dev": f"{red}/veth0", "cidr": f"{net}.2/24"}})
    assert f"ip -n {red} addr del {net}.2/32 dev veth0" in v.message


def test_the_containers_address_on_the_hosts_end_of_the_cable_fails(netns, links, uid):
    """Lesson 11: 10.22.0.2 given to veth-c1 (the host's end) as well as to c1's eth0. The address
    step fails, naming the host's copy; the host-to-c1 ping fails without a probe, because the
    host would answer it itself."""
    c1 = netns("c")
    net = subnet()
    end = f"{uid}v"
    links.append(end)
    sh(f"ip link add {end} type veth peer name eth0 netns {c1}")
    sh(f"ip -n {c1} addr add {net}.2/24 dev eth0 && ip -n {c1} link set eth0 up && ip link set {end} up")
    sh(f"ip addr add {net}.2/24 dev {end}")
    v = fails({"address": {"dev": f"{c1}/eth0", "cidr": f"{net}.2/24"}})
    assert f"ip addr del {net}.2/24 dev {end}" in v.message and "other side of the cable" in v.message
    v = fails({"reachable": {"from": "host", "to": f"{net}.2"}})
    assert f"the root netns has {net}.2 itself (on {end})" in v.message
    assert f"ip addr del {net}.2/24 dev {end}" in v.message
    sh(f"ip addr del {net}.2/24 dev {end}")
    passes({"address": {"dev": f"{c1}/eth0", "cidr": f"{net}.2/24"}})


def test_a_ping_answered_by_the_source_itself_fails(netns):
    """Lesson 10: BLUE's 10.11.11.3 typed on RED's veth0 too; RED's ping to it never leaves RED (with
    RED's lo up, RED itself answers it)."""
    red, blue = netns("R"), netns("B")
    net = subnet()
    make_pair(red, blue)
    sh(f"ip -n {red} link set lo up")
    sh(f"ip -n {red} addr add {net}.2/24 dev veth0 && ip -n {red} addr add {net}.3/24 dev veth0")
    sh(f"ip -n {blue} addr add {net}.3/24 dev veth1")
    sh(f"ip -n {red} link set veth0 up && ip -n {blue} link set veth1 up")
    v = fails({"reachable": {"from": red, "to": f"{net}.3"}})
    assert f"{red} has {net}.3 itself (on veth0)" in v.message
    assert f"ip -n {red} addr del {net}.3/24 dev veth0" in v.message
    sh(f"ip -n {red} addr del {net}.3/24 dev veth0")
    wait_until(lambda: grade_ok({"reachable": {"from": red, "to": f"{net}.3"}}), what="the ping across")


def grade_ok(item) -> bool:
    from test_kinds_network import grade
    return grade(item).passed


def test_the_same_ip_in_an_unrelated_namespace_is_not_blamed(netns):
    """Two separate labs may use one subnet: only a twin in this netns or across its cable counts."""
    red, blue, other = netns("R"), netns("B"), netns("O")
    net = subnet()
    make_pair(red, blue)
    sh(f"ip -n {red} addr add {net}.2/24 dev veth0")
    sh(f"ip -n {other} link add {net.split('.')[1]}br type bridge && "
       f"ip -n {other} addr add {net}.2/24 dev {net.split('.')[1]}br")
    passes({"address": {"dev": f"{red}/veth0", "cidr": f"{net}.2/24"}})


# --------------------------------------------------------------- bridge: exactly the ports asked for
def test_a_stray_port_on_the_bridge_fails(netns, uid):
    host, c1, c2, c3 = netns("h"), netns("a"), netns("b"), netns("c")
    sh(f"ip -n {host} link add br0 type bridge && ip -n {host} link set br0 up")
    for ns, n in ((c1, 1), (c2, 2), (c3, 3)):
        sh(f"ip link add eth0 netns {ns} type veth peer name v{n} netns {host}")
        sh(f"ip -n {host} link set v{n} master br0 up")
    v = fails({"bridge": {"dev": f"{host}/br0", "ports": ["v1", "v2"], "ports_up": True}})
    assert "also has the port v3" in v.message and f"ip -n {host} link set v3 nomaster" in v.message
    sh(f"ip -n {host} link set v3 nomaster")
    passes({"bridge": {"dev": f"{host}/br0", "ports": ["v1", "v2"], "ports_up": True}})


# --------------------------------------------------------------- route: no wrong route beside the right one
def test_a_second_default_route_via_a_wrong_gateway_fails(netns):
    c1, gw = netns("c"), netns("g")
    net = subnet()
    make_pair(c1, gw, "eth0", "eth1")
    sh(f"ip -n {c1} addr add {net}.2/24 dev eth0 && ip -n {c1} link set eth0 up && ip -n {gw} link set eth1 up")
    sh(f"ip -n {c1} route add default via {net}.1")
    passes({"route": {"netns": c1, "dst": "default", "via": f"{net}.1"}})
    sh(f"ip -n {c1} route add default via {net}.5 metric 10")
    v = fails({"route": {"netns": c1, "dst": "default", "via": f"{net}.1"}})
    assert f"also default via {net}.5 dev eth0" in v.message
    assert f"ip -n {c1} route del default via {net}.5 dev eth0" in v.message
    sh(f"ip -n {c1} route del default via {net}.5 dev eth0")
    passes({"route": {"netns": c1, "dst": "default", "via": f"{net}.1"}})


# --------------------------------------------------------------- the shipped lessons, renamed
@pytest.fixture
def shipped(tmp_path, uid):
    made: list[ShippedLesson] = []

    def load(lesson_id: str, names: dict[str, str], literal: dict[str, str] | None = None) -> ShippedLesson:
        lab = ShippedLesson(lesson_id, tmp_path / f"l{len(made)}", names, uid, literal)
        made.append(lab)
        return lab

    yield load
    for lab in reversed(made):
        lab.teardown()


def bridge_names(uid: str) -> dict[str, str]:
    return {"c1": f"{uid}c1", "c2": f"{uid}c2", "nsbr0": f"{uid}br", "veth-c1": f"{uid}v1",
            "veth-c2": f"{uid}v2", "10.22.0.": f"{subnet()}."}


def test_bridge_step_4_needs_lo_up_in_both_containers(shipped, uid):
    lab = shipped("bridge", bridge_names(uid))
    lab.solve("switch", "containers", "ports", "addresses")
    assert lab.grade("addresses").passed, lab.messages("addresses")
    sh(f"ip -n {uid}c2 link set lo down")
    result = lab.grade("addresses")
    assert not result.passed
    assert f"lo in {uid}c2 is DOWN: ip -n {uid}c2 link set lo up" in lab.messages("addresses")


def test_bridge_step_3_fails_with_a_third_port_plugged_in(shipped, uid):
    lab = shipped("bridge", bridge_names(uid))
    lab.solve("switch", "containers", "ports")
    assert lab.grade("ports").passed, lab.messages("ports")
    sh(f"ip netns add {uid}c3 && ip link add {uid}v3 type veth peer name eth0 netns {uid}c3")
    try:
        sh(f"ip link set {uid}v3 master {uid}br up")
        assert f"ip link set {uid}v3 nomaster" in lab.messages("ports")
    finally:
        sh(f"ip netns del {uid}c3", check=False)


def test_flannel_pods_need_their_loopback_up(shipped, uid):
    lab = shipped("flannel", {"node$": f"{uid}n", "pod-": f"{uid}p-", "underlay": f"{uid}ul"},
                  {"veth-pod-": f"veth-{uid}p-"})
    lab.setup()
    lab.solve("cni0", "vtep", "routes", "neigh", "fdb", "pods")
    assert lab.grade("pods").passed, lab.messages("pods")
    sh(f"ip -n {uid}p-2 link set lo down")
    assert f"lo in {uid}p-2 is DOWN: ip -n {uid}p-2 link set lo up" in lab.messages("pods")


def test_flannel_pods_need_hairpin_on_their_bridge_ports(shipped, uid):
    """The pods step's prose switches hairpin on (cni-conf.json's hairpinMode: true): a port without it
    keeps the step red, with the command that switches it on."""
    lab = shipped("flannel", {"node$": f"{uid}n", "pod-": f"{uid}p-", "underlay": f"{uid}ul"},
                  {"veth-pod-": f"veth-{uid}p-"})
    lab.setup()
    lab.solve("cni0", "vtep", "routes", "neigh", "fdb", "pods")
    assert lab.grade("pods").passed, lab.messages("pods")
    sh(f"bridge -n {uid}n3 link set dev veth-{uid}p-2 hairpin off")
    assert (f"port veth-{uid}p-2 of cni0 in {uid}n3 has hairpin off, so the bridge never sends a frame back out of "
            f"veth-{uid}p-2, the port it came in by: bridge -n {uid}n3 link set dev veth-{uid}p-2 hairpin on"
            in lab.messages("pods")), lab.messages("pods")


def test_network_modes_step_4_needs_lo_up_in_mode_none(shipped, uid):
    port = str(random.randint(20000, 40000))
    lab = shipped("network-modes", {"mode-none": f"{uid}none", "8081": port})
    lab.solve("none", "none-lo", "host-port", "none-port")
    wait_until(lambda: lab.grade("none-port").passed, what="both servers")
    sh(f"ip -n {uid}none link set lo down")
    assert f"lo in {uid}none is DOWN: ip -n {uid}none link set lo up" in lab.messages("none-port")
    for pid in pids_matching(rf"http\.server {port} --bind"):
        sh(f"kill {pid}", check=False)


# --------------------------------------------------------------- pods: the pause and its containers
def pod_literal(uid: str) -> dict[str, str]:
    """Only this test's pause: `nstutor pause` run as python with a -X tag, and selectors that say so
    (the cleanup's selector too, first: its generic `-m tutor\\.pause$` would match anybody's pause)."""
    mine = f"cmdline: '-X {uid} -m tutor\\.pause$'"
    return {"(nstutor pause|-m tutor\\.pause)$": f"-X {uid} -m tutor\\.pause$",
            "{comm: pause}": f"{{comm: pause, {mine}}}",
            "{comm: pause, own": f"{{comm: pause, {mine}, own",
            "{comm: pause, hostname": f"{{comm: pause, {mine}, hostname",
            "{comm: pause, reaped": f"{{comm: pause, {mine}, reaped",
            "nstutor pause": f"{sys.executable} -X {uid} -m tutor.pause",
            # anchored at the python: unanchored, it matched the setsid and unshare before them, still in
            # the host's uts namespace, and `nsenter --target $PAUSE --uts hostname myweb2` renamed the host
            "pgrep -n -x pause": f"pgrep -n -f -- '^{sys.executable} -X {uid} -m tutor[.]pause$'"}


def pod_names(uid: str) -> dict[str, str]:
    return {"app-a": f"{uid}app-a", "app-b": f"{uid}app-b", "app-c": f"{uid}app-c"}


def listening_ok(lab, step_id: str) -> bool:
    return all(v.passed for v in lab.grade(step_id).verdicts if v.kind == "listening")


def start_pause(uid: str, options: str) -> int:
    """A pause of this test's, started with unshare OPTIONS; its pid once it has taken its name."""
    bash(f"setsid -f unshare {options} {sys.executable} -X {uid} -m tutor.pause >/dev/null 2>&1")
    mine = rf"^{re.escape(sys.executable)} -X {uid} -m tutor\.pause$"
    pid = wait_until(lambda: (pids_matching(mine) or [None])[-1], what="the pause")
    wait_until(lambda: open(f"/proc/{pid}/comm").read().strip() == "pause", what="the pause's name")
    return pid


def test_pod_pause_step_needs_lo_up_and_the_hosts_other_namespaces(shipped, uid):
    lab = shipped("pod", pod_names(uid), pod_literal(uid))
    lab.solve("pause")
    wait_until(lambda: lab.grade("pause").passed, what="the pause step")
    pause = pids_matching(rf"-X {uid} -m tutor\.pause$")[-1]
    sh(f"nsenter --target {pause} --net ip link set lo down")
    assert f"nsenter --net=/proc/{pause}/ns/net ip link set lo up" in lab.messages("pause")
    # A pause started with an extra --mount is not what the text builds ("its mnt ... lines still
    # show your host's namespaces").
    lab.teardown()
    pause = start_pause(uid, "--net --ipc --uts --mount")
    sh(f"nsenter --target {pause} --uts hostname myweb2 && nsenter --target {pause} --net ip link set lo up")
    text = lab.messages("pause")
    assert "has its own mnt namespace" in text and "start it without unshare's --mount" in text, text


def test_pod_app_a_needs_its_tmpfs_and_its_own_proc(shipped, uid):
    lab = shipped("pod", pod_names(uid), pod_literal(uid))
    step = f"{uid}app-a"                 # the step's id is the container's name, renamed with it
    lab.solve("pause")
    wait_until(lambda: lab.grade("pause").passed, what="the pause step")
    pause = pids_matching(rf"-X {uid} -m tutor\.pause$")[-1]
    # app-a as the text starts it, but without --mount-proc and without the tmpfs on /tmp
    bash(f"setsid -f nsenter --target {pause} --net --ipc --uts unshare --mount --pid --fork "
         f"bash -c 'cd /tmp && exec -a {uid}app-a /usr/bin/python3 -m http.server 8080' >/dev/null 2>&1")
    wait_until(lambda: listening_ok(lab, step), timeout=10, what="app-a's port")
    text = lab.messages(step)
    assert "nothing is mounted at /tmp" in text and "umount /tmp" not in text, text
    assert "the /proc in it belongs to another pid namespace" in text, text
    assert lab.grade(step).verdicts[0].passed        # the pod itself is right: only the two are missing


def test_shared_pid_pause_needs_its_own_proc_and_lo_up(shipped, uid):
    lab = shipped("shared-pid", {"app-a": f"{uid}app-a", "app-b": f"{uid}app-b",
                                 "1014": number(uid, 1014), "1114": number(uid, 1114)}, pod_literal(uid))
    # the pause as PID 1 of its pid namespace, but without --mount-proc, and lo left down
    pause = start_pause(uid, "--net --ipc --uts --pid --fork")
    sh(f"nsenter --target {pause} --uts hostname myweb2")
    text = lab.messages("pause-pid1")
    assert "shares the host's mount namespace, so its /proc is the host's" in text, text
    assert "is DOWN: nsenter --net=/proc/" in text and "/ns/net ip link set lo up" in text, text


def test_shared_pid_containers_need_their_tmpfs(shipped, uid):
    lab = shipped("shared-pid", {"app-a": f"{uid}app-a", "app-b": f"{uid}app-b",
                                 "1014": number(uid, 1014), "1114": number(uid, 1114)}, pod_literal(uid))
    lab.solve("pause-pid1")
    wait_until(lambda: lab.grade("pause-pid1").passed, what="the pause step")
    solution = lab.step("containers").solution
    assert f"mount -t tmpfs {uid}app-b /tmp && " in solution
    bash(solution.replace(f"mount -t tmpfs {uid}app-b /tmp && ", ""))
    wait_until(lambda: lab.grade("containers").verdicts[0].passed and listening_ok(lab, "containers"),
               timeout=10, what="the pod of two")
    text = lab.messages("containers")
    assert f"{uid}app-b" in text and "nothing is mounted at /tmp" in text and "umount /tmp" not in text, text
    assert f"{uid}app-a" not in text, text


# --------------------------------------------------------------- processes: what the text says stays the host's
def test_user_lesson_step_1_wants_only_the_user_namespace_new(shipped, uid):
    n = number(uid, 1008)
    lab = shipped("user", {"1008": n})
    sh(f"setsid -f setpriv --reuid=65534 --regid=65534 --clear-groups "
       f"unshare --user --map-root-user --cgroup sleep {n} >/dev/null 2>&1")
    wait_until(lambda: pids_matching(f"^sleep {n}$"), what="the sleep")
    text = lab.messages("own-userns")
    assert "has its own cgroup namespace" in text, text


def test_rootfs_pivot_step_wants_proc_in_the_new_root(shipped, uid, tmp_path):
    n = number(uid, 1012)
    root = f"/tmp/nstutor-root-{uid}"
    lab = shipped("rootfs", {"1012": n, "1002": number(uid, 1002)}, {"/tmp/nstutor-root": root})
    try:
        lab.solve("chroot")
        # pivot_root as the text says, but /proc not mounted into the new root first
        sh(f"setsid -f unshare --mount sh -c 'mount --bind {root} {root} && cd {root} && "
           f"pivot_root . old && exec sleep {n}' >/dev/null 2>&1")
        wait_until(lambda: pids_matching(f"^(/bin/)?sleep {n}$"), what="the pivoted sleep")
        text = lab.messages("pivot")
        assert "nothing is mounted at /proc" in text and "umount /proc" not in text, text
    finally:
        lab.teardown()
        sh(f"rm -rf {root}", check=False)


def test_mount_lesson_wants_the_note_inside_and_none_on_the_host(shipped, uid):
    n = number(uid, 1006)
    target = f"/mnt/nstutor-private-{uid}"
    lab = shipped("mount", {"1006": n}, {"/mnt/nstutor-private": target})
    try:
        lab.solve("own-ns")
        wait_until(lambda: pids_matching(f"^sleep {n}$"), what="the sleep")
        pid = pids_matching(f"^sleep {n}$")[-1]
        sh(f"mkdir -p {target} && nsenter --target {pid} --mount mount -t tmpfs nstutor-private {target}")
        text = lab.messages("tmpfs-inside")                  # mounted, but the note was never written
        assert f"There is no {target}/note in the mount namespace" in text, text
        sh(f"echo 'only in here' > {target}/note")             # written without nsenter: the host's disk
        text = lab.messages("not-on-host")
        assert f"A {target}/note also exists in the host's mount namespace" in text and f"rm {target}/note" in text
        sh(f"nsenter --target {pid} --mount sh -c 'echo \"only in here\" > {target}/note'")
        sh(f"rm {target}/note")
        assert lab.grade("tmpfs-inside").passed and lab.grade("not-on-host").passed, lab.messages("not-on-host")
    finally:
        lab.teardown()
        wait_until(lambda: not pids_matching(f"^sleep {n}$"), what="the sleep to go")
        sh(f"rmdir {target}", check=False)


def test_shared_pid_containers_need_the_pods_proc(shipped, uid):
    """`unshare --mount` without --mount-proc: app-b is in the pod, but ps in it lists the host."""
    lab = shipped("shared-pid", {"app-a": f"{uid}app-a", "app-b": f"{uid}app-b",
                                 "1014": number(uid, 1014), "1114": number(uid, 1114)}, pod_literal(uid))
    lab.solve("pause-pid1")
    wait_until(lambda: lab.grade("pause-pid1").passed, what="the pause step")
    solution = lab.step("containers").solution
    assert solution.count("unshare --mount --mount-proc") == 2
    head, first, second = solution.split("setsid -f ")
    bash(head + "setsid -f " + first + "setsid -f " + second.replace("unshare --mount --mount-proc", "unshare --mount"))
    wait_until(lambda: lab.grade("containers").verdicts[0].passed and listening_ok(lab, "containers"),
               timeout=10, what="the pod of two")
    text = lab.messages("containers")
    assert f"{uid}app-b" in text and "it is the host's /proc" in text, text
    assert "--pid --mount mount -t proc proc /proc" in text, text
    assert f"{uid}app-a" not in text, text
    app_b = pids_matching(f"^{uid}app-b ")[-1]
    sh(f"nsenter --target {app_b} --pid --mount mount -t proc proc /proc")      # the fix the message gives
    assert lab.grade("containers").passed, lab.messages("containers")


def test_shared_pid_reaped_step_wants_an_orphan_the_pause_has_reaped(shipped, uid):
    """No zombie is in the pod before any orphan has exited, so "no zombie" alone proves no reaping:
    the step is red until the pause has collected one (its cminflt), and sleep 1014 stays adopted."""
    lab = shipped("shared-pid", {"app-a": f"{uid}app-a", "app-b": f"{uid}app-b",
                                 "1014": number(uid, 1014), "1114": number(uid, 1114)}, pod_literal(uid))
    assert f"-X {uid} -m tutor" in lab.step("reaped").expectations[0].spec["cmdline"]   # only our pause
    for step in ("pause-pid1", "containers", "orphan"):
        lab.solve(step)
        wait_until(lambda: lab.grade(step).passed, timeout=10, what=f"the {step} step")
    text = lab.messages("reaped")
    assert "has not reaped any child yet" in text and f"'sleep {number(uid, 1014)}'" in text, text
    lab.solve("reaped")
    wait_until(lambda: lab.grade("reaped").passed, timeout=10, what="the pause to reap the orphan")
    assert lab.grade("orphan").passed, lab.messages("orphan")


# --------------------------------------------------------------- listening: on the loopback means only there
def test_a_server_on_every_address_fails_where_the_lesson_binds_the_loopback(netns, spawn):
    """Lesson 12: `--bind 127.0.0.1` keeps the server on the loopback; one left on 0.0.0.0 can be
    reached from other machines, which the text says it cannot."""
    ns = netns("m")
    sh(f"ip -n {ns} link set lo up")
    port = random.randint(20000, 40000)
    wide = spawn(f"ip netns exec {ns} {sys.executable} -m http.server {port}")
    item = {"listening": {"netns": ns, "port": port, "ip": "127.0.0.1"}}
    wait_until(lambda: "0.0.0.0" in __import__("test_kinds_network").grade(item).observed, what="the server")
    v = fails(item)
    assert f"on 0.0.0.0, every address of {ns}" in v.message and f"kill {wide.pid}" in v.message
    assert "--bind 127.0.0.1" in v.message
    wide.kill()
    wide.wait()
    spawn(f"ip netns exec {ns} {sys.executable} -m http.server {port} --bind 127.0.0.1")
    wait_until(lambda: grade_ok(item), what="the loopback server")
