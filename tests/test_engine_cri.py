"""engines/cri.py: Kubernetes pods on a containerd node, from kubepods cgroups and containerd's records.

No kubelet can run here, so the node is rebuilt from its records (tests/cri_node.py): real processes
in real cgroups named as the kubelet and containerd name them, and task bundles written as containerd
writes them. The parser of cgroup paths is also tested on every shape the kubelet makes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import wait_until
from cri_node import (NGINX_TITLE, PAUSE_IMAGE, Node, copy_pause, cpu_root, myweb2, start_pod,
                      write_pod_records)
from kinds_process_support import number
from tutor.observe import take_snapshot
from tutor.observe.engines import cri
from tutor.observe.model import Process

UID = "0f1c2d3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f"
U_ = UID.replace("-", "_")
ID = "4c6b8f3c0a3e2d1f9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"


# --------------------------------------------------------------- cgroup paths (pure)
@pytest.mark.parametrize("path, expected", [
    # systemd driver (kubeadm's default since 1.22), every QoS class
    (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}.slice/cri-containerd-{ID}.scope",
     ("containerd", ID, UID, "besteffort")),
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice/cri-containerd-{ID}.scope",
     ("containerd", ID, UID, "burstable")),
    (f"/kubepods.slice/kubepods-pod{U_}.slice/cri-containerd-{ID}.scope", ("containerd", ID, UID, "guaranteed")),
    # cgroupfs driver
    (f"/kubepods/besteffort/pod{UID}/{ID}", ("", ID, UID, "besteffort")),
    (f"/kubepods/burstable/pod{UID}/{ID}", ("", ID, UID, "burstable")),
    (f"/kubepods/pod{UID}/{ID}", ("", ID, UID, "guaranteed")),
    # a kind node (itself a docker container; kubelet --cgroup-root=/kubelet), cgroup v2 without a cgroup ns
    (f"/system.slice/docker-{'9' * 64}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
     f"kubelet-kubepods-besteffort-pod{U_}.slice/cri-containerd-{ID}.scope", ("containerd", ID, UID, "besteffort")),
    (f"/docker/{'9' * 64}/kubepods/burstable/pod{UID}/{ID}", ("", ID, UID, "burstable")),
    # other runtimes under the kubelet: dockershim / cri-dockerd, CRI-O
    (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}.slice/docker-{ID}.scope",
     ("docker", ID, UID, "besteffort")),
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice/crio-{ID}.scope",
     ("cri-o", ID, UID, "burstable")),
    # a static pod's uid is a hash without dashes
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{'a1' * 16}.slice/cri-containerd-{ID}.scope",
     ("containerd", ID, "a1" * 16, "burstable")),
])
def test_a_kubepods_cgroup_path_names_the_container_and_its_pod(path, expected):
    assert tuple(cri.parse_pod_cgroup(path)) == expected


@pytest.mark.parametrize("path", [
    None, "", "/", "/user.slice/user-0.slice/session-1.scope", "/system.slice/containerd.service",
    f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}.slice",      # the pod, no container
    "/kubepods.slice/kubepods-besteffort.slice",
    f"/docker/{ID}", f"/system.slice/docker-{ID}.scope",                                # docker without Kubernetes
    f"/machine.slice/libpod-{ID}.scope", f"/libpod_parent/libpod-{ID}",                 # podman
    f"/kubepods/besteffort/pod{UID}/{ID[:12]}",                                         # not a full id
    f"/nstutor-cpu/pod{UID}/{ID}",                                                      # no kubepods above
])
def test_other_cgroup_paths_are_not_a_pods_container(path):
    assert cri.parse_pod_cgroup(path) is None


def test_dockershim_names_say_the_pod():
    assert cri.pod_of_docker_name(f"k8s_POD_myweb2_default_{UID}_0") == ("default/myweb2", "myweb2", True)
    assert cri.pod_of_docker_name(f"/k8s_myweb2-nginx_myweb2_default_{UID}_1") == ("default/myweb2", "myweb2-nginx", False)
    assert cri.pod_of_docker_name("web") is None
    assert cri.pod_of_docker_name("k8s_only_three_parts") is None


def proc(pid, ppid, cgroup="/x", nspid=(), start=0):
    return Process(pid, ppid, "sleep", ("sleep",), "S", 0, {}, nspid=nspid or (pid,), cgroup=cgroup, start_ticks=start)


def test_the_main_process_is_the_one_init_pid_names():
    master, worker, execd = proc(10, 1), proc(11, 10), proc(12, 1, start=5)      # kubectl exec: parent is the shim too
    table = {p.pid: p for p in (master, worker, execd)}
    assert cri.main_pid(10, [master, worker, execd], table) == 10
    assert cri.main_pid(12, [master, worker, execd], table) == 12
    # kind: runc wrote the pid as the node's pid namespace numbers it (NSpid: host, node, container)
    nested = proc(4242, 4000, nspid=(4242, 87, 1))
    assert cri.main_pid(87, [nested], {4242: nested}) == 4242
    # no init.pid yet: the oldest process whose parent is outside the cgroup
    assert cri.main_pid(None, [worker, execd, master], table) == 10
    # init.pid names a process that is gone: the task exited
    assert cri.main_pid(99, [master], table) is None
    assert cri.main_pid(99, [], table) is None


# --------------------------------------------------------------- states, on records alone
@pytest.fixture
def node(tmp_path, monkeypatch, uid):
    """A node's record roots under tmp_path, pointed at by cri's module constants; cgroups removed after."""
    state, config = str(tmp_path / "run" / "containerd"), str(tmp_path / "etc" / "containerd" / "config.toml")
    monkeypatch.setattr(cri, "CONTAINERD_STATE", state)
    monkeypatch.setattr(cri, "CONTAINERD_CONFIG", config)
    made = Node(state, config, cpu_root() or "", f"/nstutor-cri-{uid}")
    yield made
    made.remove_cgroups()


def test_no_containerd_task_state_is_absent(node):
    containers, state = cri.Reader().read({})
    assert containers == []
    assert state.state == "absent"
    assert f"{node.state}/io.containerd.runtime.v2.task" in state.detail
    assert "not a Kubernetes node with containerd" in state.detail
    # Only shims' sockets (any runc shim puts them there, dockerd's included): still no containerd of Kubernetes.
    os.makedirs(f"{node.state}/s")
    assert cri.Reader().read({})[1].state == "absent"


def test_containerd_without_kubernetes_runs_with_no_pods(node):
    os.makedirs(f"{node.state}/io.containerd.runtime.v2.task/moby")      # dockerd's containerd namespace
    assert cri.Reader().read({}) == ([], cri.EngineState("containerd", "running"))


@pytest.mark.needs_root
def test_records_that_only_root_may_read_are_denied(node):
    os.makedirs(node.task_dir())
    os.chmod(node.task_dir(), 0o700)                         # containerd's modes: the bundles' dir is root's
    os.chmod(os.path.dirname(node.task_dir()), 0o711)
    code = ("import sys; from tutor.observe.engines import cri; cri.CONTAINERD_STATE = sys.argv[1]; "
            "c, s = cri.Reader().read({}); print(s.state); print(s.detail)")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code,
                          node.state], capture_output=True, text=True, timeout=30,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    state, detail = out.stdout.splitlines()
    assert state == "denied"
    assert node.task_dir() in detail and "run nstutor as root" in detail


# --------------------------------------------------------------- a pod on a node
@pytest.fixture
def running_pod(node, spawn, uid, tmp_path):
    if not node.cgroup_root:
        pytest.skip("no cgroup hierarchy with the cpu controller is mounted here")

    def start(driver: str, qos: str, records: bool = True):
        pause_file, seconds = copy_pause(tmp_path), number(uid, 18)
        pod = myweb2(driver, qos, uid, pause_file, seconds)
        start_pod(node, pod, spawn, seconds, pause_file)
        node.write_config()
        if records:
            write_pod_records(node, pod)
        return pod
    return start


@pytest.mark.needs_root
@pytest.mark.parametrize("driver, qos", [("systemd", "besteffort"), ("systemd", "guaranteed"),
                                         ("cgroupfs", "burstable")])
def test_the_pods_sandbox_and_containers_are_named_from_the_records(running_pod, node, driver, qos):
    pod = running_pod(driver, qos)
    snap = take_snapshot()
    containers, state = cri.Reader().read(snap.processes)
    assert state == cri.EngineState("containerd", "running")
    ours = [c for c in containers if c.pod == "default/myweb2"]
    assert [(c.name, c.infra, c.pid, c.id) for c in ours] == [
        ("myweb2", True, pod.sandbox.pid, pod.sandbox.id),
        ("myweb2-netshoot", False, pod.containers[1].pid, pod.containers[1].id),
        ("myweb2-nginx", False, pod.containers[0].pid, pod.containers[0].id)]
    by_name = {c.name: c for c in ours}
    assert by_name["myweb2"].image == PAUSE_IMAGE
    assert by_name["myweb2-nginx"].image == "docker.io/library/nginx:latest"
    assert all(c.engine == "containerd" and c.state == "running" for c in ours)
    # the nginx master, not its worker (same cgroup, parent the master)
    assert snap.processes[by_name["myweb2-nginx"].pid].cmdline[0] == NGINX_TITLE
    assert snap.processes[by_name["myweb2"].pid].comm == "pause"
    # each container's main process is in the cgroup its id names
    for c in ours:
        assert snap.processes[c.pid].cgroup.endswith(c.id if driver == "cgroupfs" else f"cri-containerd-{c.id}.scope")


@pytest.mark.needs_root
def test_a_container_record_without_pod_annotations_takes_the_sandboxs(running_pod, node):
    """containerd before 1.5 wrote only container-type and sandbox-id into a container's spec."""
    pod = running_pod("systemd", "burstable")
    for task in pod.containers:
        path = f"{node.task_dir()}/{task.id}/config.json"
        spec = json.load(open(path))
        spec["annotations"] = {k: v for k, v in spec["annotations"].items()
                               if k in (cri.CONTAINER_TYPE, cri.SANDBOX_ID, cri.CONTAINER_NAME)}
        json.dump(spec, open(path, "w"))
    containers, _state = cri.Reader().read(take_snapshot().processes)
    assert sorted(c.name for c in containers if c.pod == "default/myweb2") == ["myweb2", "myweb2-netshoot", "myweb2-nginx"]


@pytest.mark.needs_root
def test_records_are_kept_by_id_and_dropped_when_the_task_goes(running_pod, node):
    pod = running_pod("systemd", "besteffort")
    reader = cri.Reader()
    processes = take_snapshot().processes
    first, _ = reader.read(processes)
    # A kept record is not read again (a bundle's config.json never changes while the task lives) ...
    nginx = pod.containers[0]
    with open(f"{node.task_dir()}/{nginx.id}/config.json", "w") as f:
        f.write("not read again")
    again, state = reader.read(processes)
    assert again == first and state.state == "running"
    # ... and a task whose bundle is gone is gone from the next read.
    shutil.rmtree(f"{node.task_dir()}/{pod.containers[1].id}")
    after, _ = reader.read(processes)
    assert sorted(c.name for c in after) == ["myweb2", "myweb2-nginx"]


@pytest.mark.needs_root
def test_a_record_not_understood_is_an_error_and_the_rest_still_read(running_pod, node):
    pod = running_pod("cgroupfs", "besteffort")
    bad = pod.containers[1]
    with open(f"{node.task_dir()}/{bad.id}/config.json", "w") as f:
        f.write('{"ociVersion": "1.0.2-dev", "annotations": ')
    containers, state = cri.Reader().read(take_snapshot().processes)
    assert state.state == "error"
    assert f"{bad.id}/config.json is not JSON" in state.detail
    assert sorted(c.name for c in containers) == ["myweb2", "myweb2-nginx"]


@pytest.mark.needs_root
def test_a_task_whose_process_is_gone_has_exited(running_pod, node):
    pod = running_pod("systemd", "besteffort")
    netshoot = pod.containers[1]
    processes = {pid: p for pid, p in take_snapshot().processes.items() if pid != netshoot.pid}
    containers, _ = cri.Reader().read(processes)
    gone = next(c for c in containers if c.name == "myweb2-netshoot")
    assert (gone.state, gone.pid) == ("exited", None)


@pytest.mark.needs_root
def test_containers_in_kubepods_cgroups_without_records_are_an_error(running_pod, node):
    running_pod("systemd", "besteffort", records=False)
    containers, state = cri.Reader().read(take_snapshot().processes)
    assert containers == []
    assert state.state == "error"
    assert "3 containers run in Kubernetes' kubepods cgroups under containerd" in state.detail


@pytest.mark.needs_root
def test_the_sandbox_image_is_containerds_configured_one_or_unsaid(running_pod, node):
    running_pod("systemd", "besteffort")
    node.write_config(sandbox_image=None)
    containers, _ = cri.Reader().read(take_snapshot().processes)
    assert next(c for c in containers if c.infra).image == ""


def test_a_task_ctr_or_nerdctl_made_in_the_k8s_namespace_is_not_a_pods(node):
    os.makedirs(f"{node.task_dir()}/{ID}")
    with open(f"{node.task_dir()}/{ID}/config.json", "w") as f:
        json.dump({"ociVersion": "1.0.2-dev", "process": {"args": ["/bin/sh"]},
                   "annotations": {"nerdctl/name": "hand-made"}}, f)
    reader = cri.Reader()
    assert reader.read({}) == ([], cri.EngineState("containerd", "running"))
    assert reader.read({}) == ([], cri.EngineState("containerd", "running"))     # remembered, not read again


@pytest.mark.needs_root
def test_records_inside_a_kind_node_are_read_through_the_shims_root(node, spawn, uid, tmp_path):
    """On kind the node is a container: containerd's records are in the node's mount namespace, not
    the host's. The emulated shim mounts a tmpfs of its own on the state dir (the host's stays empty),
    writes the sandbox's bundle there and starts the pause, in its kubepods cgroup, as its child."""
    if not node.cgroup_root:
        pytest.skip("no cgroup hierarchy with the cpu controller is mounted here")
    os.makedirs(node.state)
    pause_file, seconds = copy_pause(tmp_path), number(uid, 18)
    pod = myweb2("systemd", "besteffort", uid, pause_file, seconds)
    staging = Node(str(tmp_path / "staging"), node.config, node.cgroup_root, node.parent)
    write_pod_records(staging, pod)                        # pid unknown yet: the shim writes init.pid
    os.remove(f"{staging.task_dir()}/{pod.sandbox.id}/init.pid")
    cgroup = node.make_cgroup(pod.sandbox.cgroup)
    shim = ('mount -t tmpfs tmpfs "$STATE" || exit 1; T="$STATE/io.containerd.runtime.v2.task/k8s.io/$ID"; '
            'mkdir -p "$T" && cp -r "$BUNDLE"/. "$T"/ || exit 1; '
            'bash -c \'echo $$ > "$CG/cgroup.procs" && exec "$0" "$1"\' "$PAUSE" "$SLEEP_FOR" & '
            'printf %s $! > "$T/init.pid"; wait')
    shim_proc = spawn(["unshare", "--mount", "--propagation", "private", "bash", "-c", shim],
                      env={**os.environ, "STATE": node.state, "ID": pod.sandbox.id, "CG": cgroup, "PAUSE": pause_file,
                           "SLEEP_FOR": seconds, "BUNDLE": f"{staging.task_dir()}/{pod.sandbox.id}"})

    def read():
        containers, state = cri.Reader().read(take_snapshot().processes)
        return (containers, state) if containers and containers[0].pid else None
    containers, state = wait_until(read, what="the sandbox read through the shim's root")
    assert not os.path.exists(node.task_dir())             # the host's state dir holds nothing
    assert state == cri.EngineState("containerd", "running")
    sandbox, = containers
    assert (sandbox.name, sandbox.pod, sandbox.infra) == ("myweb2", "default/myweb2", True)
    snap = take_snapshot()
    assert snap.processes[sandbox.pid].comm == "pause" and snap.processes[sandbox.pid].ppid == shim_proc.pid
