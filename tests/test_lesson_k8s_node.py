"""Lesson 18 (k8s-node): its check steps, graded against an emulated Kubernetes pod on the real kernel.

CI has no Kubernetes node, so `verify-lesson k8s-node` skips the lesson. What the lesson's checks
look for is still reproduced here, the way containerd's CRI plugin builds a pod: a network namespace
made first and pinned by a bind mount (cni-<id>, under the test's own containerd state dir), a process
whose comm is `pause` (a copy of sleep, file named `pause`) started inside it with new ipc, uts
(hostname myweb2), mnt and pid namespaces, and two members that join its net, ipc and uts with nsenter
and unshare their own mnt and pid (and cgroup, where this machine is on pure cgroup v2, as containerd
does only there), with the command lines of the seed's myweb2 containers: `nginx: master process ...`
(which also listens on port 80 in the pod's netns) and `/bin/bash -c while true; do sleep 5; curl localhost; done`.

The checks name the pause and the containers as containerd records them ({pod: default/myweb2,
engine: containerd, infra: true}, {container: myweb2-nginx}), so the emulated pod also leaves the
records a node has (tests/cri_node.py): each process starts in a cgroup named as the kubelet and
containerd name it, and a task bundle (config.json with the CRI annotations, init.pid) is written for
it in a temporary containerd state directory that engines/cri.py is pointed at.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import wait_until
from cri_node import (Node, Task, cgroup_v2, container_id, container_namespaces, cpu_root, sandbox_namespaces,
                      systemd_cgroup)
from kinds_process_support import PYTHON, comm_of, number, pids_matching, wait_proc
from tutor.checks.runner import grade_step
from tutor.lessons import parse_lesson
from tutor.lessons.model import Lesson
from tutor.observe import take_snapshot
from tutor.observe.engines import cri
from tutor.verify import verify_lesson

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "18-k8s-node.md"
NGINX_TITLE = "nginx: master process nginx -g daemon off;"
NETSHOOT_LOOP = "while true; do sleep 5; curl localhost; done"
#: The nginx stand-in: listens on port 80 (wildcard) in whatever netns it is in, and waits.
NGINX = ("import signal, socket\n"
         "s = socket.socket()\n"
         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('0.0.0.0', 80))\n"
         "s.listen()\n"
         "signal.pause()\n")


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    parsed, problems = parse_lesson(LESSON, trusted=True)
    assert problems == [], [str(p) for p in problems]
    assert [s.id for s in parsed.steps] == ["nginx", "pod", "localhost"]
    return parsed


def grade_all(lesson: Lesson) -> dict:
    snap = take_snapshot()
    return {step.id: grade_step(step, snap) for step in lesson.steps}


def messages(result) -> str:
    return "\n".join(v.message for v in result.failures)


def _comm(pid: int) -> str:
    try:
        return comm_of(pid)
    except OSError:
        return ""


def join(pause: int, types: str) -> list[str]:
    return ["nsenter"] + [f"--{t}=/proc/{pause}/ns/{t}" for t in types.split()]


#: What a container unshares under containerd: mnt and pid, and cgroup only on pure cgroup v2.
CONTAINERD_UNSHARE = "--mount --pid" + (" --cgroup" if cgroup_v2() else "")


@pytest.fixture
def node(tmp_path, monkeypatch, uid):
    """containerd's records of this emulated node: a state dir under tmp_path that engines/cri.py reads,
    and kubepods cgroups under /nstutor-cri-<uid> (removed at teardown, after their processes)."""
    root = cpu_root()
    if root is None:
        pytest.skip("no cgroup hierarchy with the cpu controller is mounted here")
    state, config = str(tmp_path / "run" / "containerd"), str(tmp_path / "etc" / "containerd" / "config.toml")
    monkeypatch.setattr(cri, "CONTAINERD_STATE", state)
    monkeypatch.setattr(cri, "CONTAINERD_CONFIG", config)
    made = Node(state, config, root, f"/nstutor-cri-{uid}")
    made.write_config(netns_under_state_dir=True)
    try:
        yield made
    finally:
        made.unpin_netns()
        made.remove_cgroups()


class Sandbox:
    """One pod's records: its sandbox's id and uid, and a bundle per container started in it."""

    def __init__(self, node: Node, namespace: str, name: str, seed: str):
        self.node, self.namespace, self.name = node, namespace, name
        self.uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nstutor-k8s-{seed}-{namespace}-{name}"))
        self.id = container_id(f"{seed}-{namespace}-{name}-sandbox")

    def cgroup(self, cid: str) -> str:
        """The cgroup directory of container *cid* of this pod (made now): a BestEffort pod, systemd driver."""
        return self.node.make_cgroup(systemd_cgroup(self.uid, "besteffort", cid))

    def record(self, cid: str, pid: int, namespaces: list[dict], container: str | None = None,
               image: str | None = None) -> None:
        """The bundle containerd's CRI plugin writes: the sandbox's (container None) or a container's."""
        annotations = {cri.CONTAINER_TYPE: "container" if container else "sandbox", cri.SANDBOX_ID: self.id,
                       cri.SANDBOX_NAMESPACE: self.namespace, cri.SANDBOX_NAME: self.name,
                       "io.kubernetes.cri.sandbox-uid": self.uid}
        if container:
            annotations |= {cri.CONTAINER_NAME: container, cri.IMAGE_NAME: image}
        path = systemd_cgroup(self.uid, "besteffort", cid)
        slice_ = path.split("/")[-2]
        self.node.write_bundle(Task(cid, annotations[cri.CONTAINER_TYPE], container, image, [], path), annotations,
                               f"{slice_}:cri-containerd:{cid}", namespaces,
                               hostname=None if container else self.name, pid=pid)

    def start_pause(self, spawn, pause_file: str, seconds: str) -> int:
        """The CRI plugin's order: make and pin the pod's netns, then start the pause in it with new ipc,
        uts (the pod's name as hostname), mnt and pid namespaces; then the sandbox's record."""
        netns = self.node.pin_netns(self.id)
        spawn(IN_CGROUP + ["nsenter", f"--net={netns}", "unshare", "--ipc", "--uts", "--mount", "--pid", "--fork",
                           "bash", "-c", f'hostname {self.name} && exec "$0" "$@"', pause_file, seconds],
              env={**os.environ, "CG": self.cgroup(self.id)})
        pause = wait_until(
            lambda: next((p for p in pids_matching(f"^{pause_file} {seconds}$") if comm_of(p) == "pause"), None),
            what=f"the emulated pause of {self.name}")
        self.record(self.id, pause, sandbox_namespaces(netns))
        return pause


#: Runs the rest of the command line in the cgroup $CG, as runc starts a container in its cgroup.
IN_CGROUP = ["bash", "-c", 'echo $$ > "$CG/cgroup.procs" && exec "$@"', "in-cgroup"]


@pytest.fixture
def pod(spawn, uid, tmp_path, node):
    """Builds the emulated pod piece by piece, with containerd's records of it; everything is killed at
    teardown (spawn)."""
    pause_file = tmp_path / "pause"
    shutil.copy("/bin/sleep", pause_file)
    seconds = number(uid, 16)
    sandbox = Sandbox(node, "default", "myweb2", uid)

    def in_cgroup(cid: str) -> dict:
        return {"env": {**os.environ, "CG": sandbox.cgroup(cid)}}

    class Pod:
        pause: int = 0

        def start_pause(self) -> int:
            self.pause = sandbox.start_pause(spawn, str(pause_file), seconds)
            return self.pause

        def start_nginx(self, joins: str = "net ipc uts", unshare: str = CONTAINERD_UNSHARE) -> int:
            cid = container_id(f"{uid}-nginx")
            others = set(pids_matching("^nginx: master process"))    # look-alikes a test started before
            spawn(IN_CGROUP + join(self.pause, joins) + ["unshare", *unshare.split(), "--fork", "bash", "-c",
                                                         'exec -a "$0" "$@"', NGINX_TITLE, PYTHON, "-c", NGINX],
                  **in_cgroup(cid))
            pid, = set(wait_proc("^nginx: master process", count=len(others) + 1)) - others
            sandbox.record(cid, pid, container_namespaces(self.pause), "myweb2-nginx", "docker.io/library/nginx:latest")
            return pid

        def start_netshoot(self, joins: str = "net ipc uts", unshare: str = CONTAINERD_UNSHARE,
                           hostname: str | None = None) -> int:
            """netshoot's loop; with *hostname*, the loop first sets it (in a uts namespace it unshared itself)."""
            cid = container_id(f"{uid}-netshoot")
            program = ["/bin/bash", "-c", NETSHOOT_LOOP] if hostname is None else \
                ["bash", "-c", f'hostname {hostname} && exec /bin/bash -c "$0"', NETSHOOT_LOOP]
            spawn(IN_CGROUP + join(self.pause, joins) + ["unshare", *unshare.split(), "--fork", *program],
                  **in_cgroup(cid))
            pid, = wait_proc("^/bin/bash -c while true; do sleep 5; curl localhost")
            sandbox.record(cid, pid, container_namespaces(self.pause), "myweb2-netshoot",
                           "docker.io/nicolaka/netshoot:latest")
            return pid

    return Pod()


pytestmark = pytest.mark.needs_root


def test_every_step_passes_against_an_emulated_pod(lesson, pod):
    pause = pod.start_pause()
    assert comm_of(pause) == "pause"
    before = grade_all(lesson)
    assert not any(r.passed for r in before.values())
    assert "myweb2-nginx" in messages(before["nginx"])
    assert "myweb2-nginx" in messages(before["pod"])

    nginx = pod.start_nginx()
    netshoot = pod.start_netshoot()
    results = wait_until(lambda: (lambda r: r if all(x.passed for x in r.values()) else None)(grade_all(lesson)),
                         what="every step of lesson 18 to pass",
                         timeout=10)
    pod_verdict, = results["pod"].verdicts
    assert pod_verdict.evidence["pause"]["pid"] == pause
    assert [m["pid"] for m in pod_verdict.evidence["members"]] == [nginx, netshoot]
    listening = results["localhost"].verdicts[0]
    assert nginx in listening.evidence["pids"]


def test_a_container_outside_the_pods_network(lesson, pod, spawn, tmp_path, node, uid):
    # Another pod's pause on the same node: the check must pick ours, and never advise killing a pause.
    decoy = tmp_path / "decoy" / "pause"
    decoy.parent.mkdir()
    shutil.copy("/bin/sleep", decoy)
    other = Sandbox(node, "kube-system", "coredns-5d78c9869d-x2k4q", uid)
    other.start_pause(spawn, str(decoy), "600")
    pause = pod.start_pause()
    pod.start_nginx()
    netshoot = pod.start_netshoot(joins="ipc uts")       # forgot the pod's network: it is in the host's
    results = wait_until(lambda: (lambda r: r if r["nginx"].passed else None)(grade_all(lesson)),
                         what="the nginx step to pass")
    assert not results["pod"].passed
    text = messages(results["pod"])
    assert f"pid {netshoot}" in text and "is still in the host's net namespace" in text
    # a real pod's container is not moved by hand: the fix is the kubelet's, from the spec
    assert "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml" in text, text
    assert f"nsenter --net=/proc/{pause}/ns/net" not in text
    assert f"kill {pause}" not in text and "stop them" not in text
    assert not results["localhost"].passed
    assert "80 is listening in netns" in messages(results["localhost"])


def test_a_container_without_its_own_mount_and_pid(lesson, pod):
    pod.start_pause()
    nginx = pod.start_nginx(unshare="")                  # joined the pod, but kept the host's mnt and pid
    pod.start_netshoot()
    # the network is still the pod's: the localhost step passes once the stand-in has bound port 80
    results = wait_until(lambda: (lambda r: r if r["localhost"].passed else None)(grade_all(lesson)),
                         what="the localhost step to pass")
    assert not results["nginx"].passed
    assert "mnt" in messages(results["nginx"]) and "pid" in messages(results["nginx"])
    text = messages(results["pod"])
    assert f"pid {nginx}" in text
    # the pause has mnt and pid of its own (runc made them), so nginx is not in the pause's, but in the host's
    assert "is still in the host's mnt namespace" in text and "is still in the host's pid namespace" in text, text


def test_a_container_with_a_uts_namespace_of_its_own(lesson, pod):
    """Docker's way under dockershim: netshoot joins the pod's net and ipc but gets a new uts namespace with the
    same hostname written in. Same name, different inode: containerd's pod step fails, naming both inodes."""
    pause = pod.start_pause()
    pod.start_nginx()
    netshoot = pod.start_netshoot(joins="net ipc", unshare=CONTAINERD_UNSHARE + " --uts", hostname="myweb2")
    results = wait_until(lambda: (lambda r: r if r["localhost"].passed else None)(grade_all(lesson)),
                         what="the localhost step to pass")
    snap = take_snapshot()
    assert snap.hostnames[snap.processes[netshoot].ns["uts"]] == snap.hostnames[snap.processes[pause].ns["uts"]] == "myweb2"
    assert not results["pod"].passed
    text = messages(results["pod"])
    assert (f"pid {netshoot}" in text and f"has its own uts namespace ({snap.processes[netshoot].ns['uts']}); "
            f"the pause's is {snap.processes[pause].ns['uts']}" in text), text


def test_the_cgroup_namespace_follows_the_cgroup_layout(lesson, pod):
    """containerd gives a container a cgroup namespace of its own only on pure cgroup v2. The emulated pod does
    what containerd would do on this machine (and passes, above); here nginx does the other thing, and fails."""
    pause = pod.start_pause()
    wrong = "--mount --pid" if cgroup_v2() else "--mount --pid --cgroup"
    nginx = pod.start_nginx(unshare=wrong)
    pod.start_netshoot()
    results = wait_until(lambda: (lambda r: r if r["localhost"].passed else None)(grade_all(lesson)),
                         what="the localhost step to pass")
    assert not results["pod"].passed
    text = messages(results["pod"])
    snap = take_snapshot()
    mine, theirs = snap.processes[nginx].ns["cgroup"], snap.processes[pause].ns["cgroup"]
    if cgroup_v2():
        assert f"shares the pause's cgroup namespace ({mine})" in text, text
    else:
        assert f"has its own cgroup namespace ({mine}); the pause's is {theirs}" in text, text
        assert "not cgroup v2 alone: here a container gets no cgroup namespace of its own" in text, text


def lesson_block(containing: str) -> str:
    """The lesson's ```sh block that holds *containing*, as the learner pastes it."""
    from tutor.lessons.parse import markdown_parser
    tokens = markdown_parser().parse(LESSON.read_text())
    block, = [t.content for t in tokens if t.type == "fence" and t.info.strip() == "sh" and containing in t.content]
    return block


def test_step_2s_commands_find_myweb2s_nginx_among_look_alikes(lesson, pod, spawn, tmp_path, node, uid):
    """Another pod's nginx started first (the lower pid, so `pgrep | head -n 1` would take it): the lesson's
    pick() takes the one whose cgroup carries the id kubectl reports for myweb2-nginx. kubectl is a stand-in
    that answers the lesson's jsonpath query the way the API server answers it for a running pod."""
    other = Sandbox(node, "default", "otherweb", uid)
    spawn(IN_CGROUP + ["bash", "-c", 'exec -a "$0" "$@"', NGINX_TITLE, "sleep", "600"],
          env={**os.environ, "CG": other.cgroup(container_id(f"{uid}-otherweb-nginx"))})
    decoy, = wait_proc("^nginx: master process")
    pause = pod.start_pause()
    nginx, netshoot = pod.start_nginx(), pod.start_netshoot()
    assert decoy < nginx
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(
        "#!/bin/sh\n"
        "for a in \"$@\"; do case $a in\n"
        f"  *'@.name==\"myweb2-nginx\"'*) printf 'containerd://%s' {container_id(f'{uid}-nginx')} ;;\n"
        f"  *'@.name==\"myweb2-netshoot\"'*) printf 'containerd://%s' {container_id(f'{uid}-netshoot')} ;;\n"
        "esac; done\n")
    (bin_dir / "kubectl").chmod(0o755)
    script = lesson_block("pick()") + '\necho "FOUND $NGINX,$NETSH,$PAUSE"\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    found = [line for line in out.stdout.splitlines() if line.startswith("FOUND ")]
    assert found == [f"FOUND {nginx},{netshoot},{pause}"], (out.stdout, out.stderr)


def test_skipped_with_a_clear_reason_without_kubectl(lesson, monkeypatch):
    assert {"kubectl", "root"} <= set(lesson.requires)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "kubectl" else real_which(cmd, *a, **k))
    lines: list[str] = []
    report = verify_lesson(lesson, echo=lines.append)
    assert report.skipped and "needs the command 'kubectl', which is not installed" in report.skipped
    assert lines and lines[0].startswith("SKIP k8s-node:")


def test_k8s_node_requirement_is_a_running_kubelet(lesson, tmp_path, spawn):
    """`requires: [k8s-node]` is met only where a kubelet runs (kubectl alone, e.g. the gcloud
    copy on a workstation, does not make a node)."""
    from tutor.lessons.requirements import kubelet_running, why_unmet
    assert "k8s-node" in lesson.requires
    if kubelet_running():
        pytest.skip("a real kubelet runs on this machine")
    assert "k8s-node" in lesson.unmet_requirements()
    assert "no kubelet runs on this machine" in why_unmet("k8s-node")
    fake = tmp_path / "kubelet"
    shutil.copy("/bin/sleep", fake)
    proc = spawn([str(fake), "600"])
    wait_until(lambda: _comm(proc.pid) == "kubelet", what="the stand-in kubelet")
    assert kubelet_running() and "k8s-node" not in lesson.unmet_requirements()
