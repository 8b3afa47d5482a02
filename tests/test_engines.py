"""The engines' containers in the snapshot, against real Docker and Podman (observe/engines/).

Docker: a dockerd of the tests' own (docker_host.DockerHost: private socket, given to the
observer through DOCKER_HOST as a learner's shell would), an image imported from the host's
busybox (no registry), containers with unique names, all removed after. Podman: a pod with two
containers and a created one, the same way. Each skips, saying why, where its engine is missing.
Run under /tmp/nstutor-lesson.lock (dockerd changes the firewall; other tests start engines too).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile

import pytest

from conftest import wait_until
from docker_host import started_for_a_module
from tutor.observe import Observer, take_snapshot
from tutor.observe.engines import docker, podman
from tutor.observe.render import render_text, snapshot_to_dict

pytestmark = pytest.mark.needs_root
BUSYBOX = shutil.which("busybox")
APPLETS = ("sh", "sleep", "cat", "ls", "httpd", "hostname")


def run(*argv: str, env: dict | None = None, timeout: float = 60) -> str:
    res = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}"
    return res.stdout.strip()


def busybox_tar(path: str) -> str:
    """A root filesystem with only /bin/busybox and a few applets, as a tar an engine imports."""
    with tarfile.open(path, "w") as tar:
        tar.add(BUSYBOX, "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return path


def needs_busybox():
    if BUSYBOX is None:
        pytest.skip("needs a static busybox for the image (apt-get install busybox-static)")


# --------------------------------------------------------------- without a daemon
def test_docker_reader_without_dockerd_says_stopped_and_how_to_start_it(tmp_path):
    if not shutil.which("dockerd"):
        pytest.skip("dockerd is not installed: the 'stopped' case needs it installed")
    missing = docker.Reader(path=str(tmp_path / "docker.sock"))
    containers, state = missing.read({})
    assert containers == [] and state.state == "stopped"
    assert state.detail == f"dockerd is not running: {docker.start_hint()}"
    assert "`service docker start`" in state.detail or "`systemctl start docker`" in state.detail
    # a socket file left behind by a dockerd that died: connection refused, the same sentence
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()
    containers, state = docker.Reader(path=str(tmp_path / "stale.sock")).read({})
    assert (containers, state.state) == ([], "stopped") and state.detail.startswith("dockerd is not running: ")


def test_docker_reader_with_a_hanging_daemon_gives_up_quickly(tmp_path):
    import time
    hung = socket.socket(socket.AF_UNIX)
    hung.bind(str(tmp_path / "hung.sock"))
    hung.listen(1)                       # accepts, never answers
    try:
        reader = docker.Reader(path=str(tmp_path / "hung.sock"), timeout=0.2)
        for _ in range(3):           # the first read lists; later ones (a kept reader) watch events first
            started = time.monotonic()
            containers, state = reader.read({})
            assert time.monotonic() - started < 0.5
            assert containers == [] and state.state == "error" and "did not answer within 0.2 s" in state.detail
    finally:
        hung.close()


def test_docker_host_tcp_is_not_followed(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    containers, state = docker.Reader().read({})
    assert containers == [] and state.state == "error" and "unix socket" in state.detail


def test_conmon_args():
    argv = ("/usr/bin/conmon", "--api-version", "1", "-c", "abc", "-u", "abc", "-r", "/usr/sbin/runc",
            "-b", "/var/lib/containers/storage/overlay-containers/abc/userdata", "-p", "/run/x/pidfile",
            "-n", "web", "--exit-dir", "/run/libpod/exits")
    assert podman.conmon_args(argv) == {"id": "abc", "bundle": "/var/lib/containers/storage/overlay-containers/abc/userdata",
                                        "pidfile": "/run/x/pidfile", "name": "web", "exit_dir": "/run/libpod/exits"}


# --------------------------------------------------------------- Docker
@pytest.fixture(scope="module")
def dockerd():
    yield from started_for_a_module()


def test_docker_containers_by_name_pid_state_and_network(dockerd, uid, tmp_path, monkeypatch):
    needs_busybox()
    env = dockerd.env
    monkeypatch.setenv("DOCKER_HOST", env["DOCKER_HOST"])
    image = f"{uid}-box"
    names = [f"{uid}-web", f"{uid}-side", f"{uid}-nonet", f"{uid}-stop"]
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["docker", "import", "-", image], stdin=tar, env=env, capture_output=True,
                              timeout=60).returncode == 0
    obs = Observer()
    try:
        run("docker", "run", "-d", "--name", names[0], image, "sleep", "1013", env=env)
        run("docker", "run", "-d", "--name", names[1], "--network", f"container:{names[0]}",
            "--pid", f"container:{names[0]}", image, "sleep", "1014", env=env)
        run("docker", "run", "-d", "--name", names[2], "--network", "none", image, "sleep", "1015", env=env)
        run("docker", "create", "--name", names[3], image, "sleep", "1", env=env)
        run("docker", "exec", "-d", names[0], "sleep", "1021", env=env)     # another child of web's shim
        pids = {n: int(run("docker", "inspect", "-f", "{{.State.Pid}}", n, env=env)) for n in names[:3]}
        wait_until(lambda: any(p.cmdline == ("sleep", "1021") for p in take_snapshot().processes.values()),
                   timeout=10, what="the docker exec'd sleep")

        for snap in (take_snapshot(), obs.snapshot(), obs.snapshot()):     # cold, first, warm (cached)
            assert snap.engine("docker").state == "running" and snap.engine("docker").detail is None
            web, side, nonet, stop = (snap.container(n, "docker") for n in names)
            assert (web.engine, web.state, web.pid, web.network, web.image) == ("docker", "running", pids[names[0]],
                                                                                "bridge", image)
            assert len(web.id) == 64 and web.pod is None and not web.infra
            assert (side.pid, side.network) == (pids[names[1]], f"container:{names[0]}")
            assert (nonet.pid, nonet.network) == (pids[names[2]], "none")
            assert (stop.state, stop.pid) == ("created", None)
            web_ns, side_ns = snap.processes[web.pid].ns, snap.processes[side.pid].ns
            assert side_ns["net"] == web_ns["net"] and side_ns["pid"] == web_ns["pid"]
            assert side_ns["mnt"] != web_ns["mnt"]
            assert snap.processes[nonet.pid].ns["net"] != web_ns["net"]
            assert snap.container_of_pid(web.pid) == web

        text = render_text(snap)
        assert f"docker  {names[0]}" in text and f"[{names[0]} (docker)] sleep 1013" in text
        assert f"{names[0]}, {names[1]} (docker); processes {pids[names[0]]}, {pids[names[1]]}" in text
        as_json = snapshot_to_dict(snap)
        assert {c["name"] for c in as_json["containers"]} >= set(names)
        assert as_json["container_of_pid"][str(pids[names[0]])] == f"{names[0]} (docker)"

        run("docker", "stop", "-t", "0", names[2], env=env)
        snap = wait_until(lambda: (s := obs.snapshot()) and s.container(names[2], "docker").state == "exited" and s,
                          timeout=10, what="the stopped container seen as exited")
        assert snap.container(names[2], "docker").pid is None
        run("docker", "rm", "-f", names[3], env=env)
        assert obs.snapshot().container(names[3], "docker") is None
    finally:
        obs.close()
        subprocess.run(["docker", "rm", "-f", *names], env=env, capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", image], env=env, capture_output=True, timeout=60)


def test_docker_containers_that_cri_dockerd_made_for_a_pod_are_in_that_pod(dockerd, uid, tmp_path, monkeypatch):
    """cri-dockerd (as dockershim did) runs a Kubernetes pod in Docker: the sandbox as
    k8s_POD_<pod>_<namespace>_<uid>_<attempt>, each container as k8s_<name>_<pod>_..., with the
    io.kubernetes.* labels it sets. The same records made here by hand name the pod (by the
    container names, which are all a pod needs), and the sandbox is its infra."""
    needs_busybox()
    env = dockerd.env
    monkeypatch.setenv("DOCKER_HOST", env["DOCKER_HOST"])
    image, pod, pod_uid = f"{uid}-box", f"{uid}-web", "6a1d3c52-0b7e-4f0e-9d57-1c2b3a4d5e6f"
    sandbox, app, unlabelled = (f"k8s_POD_{pod}_default_{pod_uid}_0", f"k8s_nginx_{pod}_default_{pod_uid}_0",
                                f"k8s_sidecar_{pod}_default_{pod_uid}_1")

    def labels(container: str, kind: str) -> list[str]:
        return ["--label", f"io.kubernetes.pod.name={pod}", "--label", "io.kubernetes.pod.namespace=default",
                "--label", f"io.kubernetes.pod.uid={pod_uid}", "--label", f"io.kubernetes.container.name={container}",
                "--label", f"io.kubernetes.docker.type={kind}"]
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["docker", "import", "-", image], stdin=tar, env=env, capture_output=True,
                              timeout=60).returncode == 0
    try:
        # cri-dockerd makes the sandbox's ipc shareable, or no container could join it
        run("docker", "run", "-d", "--name", sandbox, *labels("POD", "podsandbox"), "--ipc", "shareable", image,
            "sleep", "1016", env=env)
        run("docker", "run", "-d", "--name", app, *labels("nginx", "container"), "--network", f"container:{sandbox}",
            "--ipc", f"container:{sandbox}", image, "sleep", "1017", env=env)
        run("docker", "run", "-d", "--name", unlabelled, "--network", f"container:{sandbox}", image, "sleep", "1018",
            env=env)
        snap = take_snapshot()
        infra, member, named = (snap.container(n, "docker") for n in (sandbox, app, unlabelled))
        assert (infra.pod, infra.infra) == (f"default/{pod}", True)
        assert (member.pod, member.infra) == (f"default/{pod}", False)
        assert (named.pod, named.infra) == (f"default/{pod}", False)
        assert {c.name for c in snap.containers_in_pod(f"default/{pod}", "docker")} == {sandbox, app, unlabelled}
        ns = {c.name: snap.processes[c.pid].ns for c in (infra, member, named)}
        assert ns[app]["net"] == ns[sandbox]["net"] == ns[unlabelled]["net"] and ns[app]["ipc"] == ns[sandbox]["ipc"]
        assert ns[app]["mnt"] != ns[sandbox]["mnt"]
        # the seeds' dockershim pod: --network and --ipc container: join the sandbox, and nothing joins
        # its uts, so each container has a uts namespace (a hostname) of its own (the k8s-node lesson says so)
        assert len({ns[sandbox]["uts"], ns[app]["uts"], ns[unlabelled]["uts"]}) == 3
    finally:
        subprocess.run(["docker", "rm", "-f", unlabelled, app, sandbox], env=env, capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", image], env=env, capture_output=True, timeout=60)


def test_docker_stopped_daemon_then_running_again(dockerd, monkeypatch):
    """The same Observer across dockerd stopping: 'stopped' with the sentence, then running again."""
    monkeypatch.setenv("DOCKER_HOST", dockerd.env["DOCKER_HOST"])
    with Observer() as obs:
        assert obs.snapshot().engine("docker").state == "running"
        dockerd.stop_daemon()
        try:
            state = obs.snapshot().engine("docker")
            assert state.state == "stopped" and state.detail.startswith("dockerd is not running: start it with")
        finally:
            dockerd.restore()
            dockerd.start()
            monkeypatch.setenv("DOCKER_HOST", dockerd.env["DOCKER_HOST"])     # a new private socket
        assert obs.snapshot().engine("docker").state == "running"


# --------------------------------------------------------------- Podman
def podman_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (Podman's records of root's containers)"
    if not shutil.which("podman"):
        return "podman is not installed (Debian/Ubuntu: apt-get install podman catatonit)"
    if not shutil.which("catatonit"):
        return "catatonit is not installed (Podman's pod infra needs it: apt-get install catatonit)"
    return None


def test_podman_pod_by_name_infra_and_pids(uid, tmp_path):
    reason = podman_missing()
    if reason:
        pytest.skip(f"Podman: {reason}")
    needs_busybox()
    image, pod = f"localhost/{uid}-box", f"{uid}pod"
    a, b, created = f"{uid}-a", f"{uid}-b", f"{uid}-c"
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["podman", "import", "-", image], stdin=tar, capture_output=True,
                              timeout=60).returncode == 0
    obs = Observer()
    try:
        run("podman", "pod", "create", "--name", pod)
        run("podman", "run", "-d", "--pod", pod, "--name", a, image, "sleep", "1016")
        run("podman", "run", "-d", "--pod", pod, "--name", b, image, "sleep", "1017")
        run("podman", "create", "--name", created, image, "sleep", "1")
        pids = {n: int(run("podman", "inspect", "-f", "{{.State.Pid}}", n)) for n in (a, b)}
        infra_name = run("podman", "pod", "inspect", "-f", "{{.InfraContainerID}}", pod)

        for snap in (take_snapshot(), obs.snapshot(), obs.snapshot()):
            assert snap.engine("podman").state == "running"
            members = snap.containers_in_pod(pod, "podman")
            assert sorted(c.name for c in members if not c.infra) == sorted([a, b])
            (infra,) = [c for c in members if c.infra]
            assert infra.id == infra_name and infra.state == "running" and infra.image.startswith("localhost/podman-pause")
            assert snap.processes[infra.pid].comm == "catatonit"
            for name in (a, b):
                c = snap.container(name, "podman")
                assert (c.pid, c.state, c.pod, c.infra, c.image) == (pids[name], "running", pod, False, image + ":latest")
                assert c.network == f"container:{infra.name}"
                assert snap.processes[c.pid].ns["net"] == snap.processes[infra.pid].ns["net"]
                assert snap.processes[c.pid].ns["mnt"] != snap.processes[infra.pid].ns["mnt"]
            assert infra.network == "bridge"
            c = snap.container(created, "podman")
            assert (c.state, c.pid, c.pod) == ("created", None, None)
        text = render_text(snap)
        assert f"podman  {a}" in text and f"{pod} (infra)" in text
        run("podman", "start", created)
        snap = wait_until(lambda: (s := obs.snapshot()) and s.container(created, "podman").state == "exited" and s,
                          timeout=20, what=f"{created} seen as exited after it ran")
        assert snap.container(created, "podman").pid is None
    finally:
        obs.close()
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", pod], capture_output=True, timeout=120)
        subprocess.run(["podman", "rm", "-f", "-t", "0", created], capture_output=True, timeout=60)
        subprocess.run(["podman", "rmi", image], capture_output=True, timeout=60)
    assert not [c for c in take_snapshot().containers if c.name.startswith(uid)]


def test_docker_warm_reads_list_only_after_an_event(dockerd, uid, tmp_path, monkeypatch):
    """A kept Reader holds dockerd's event stream open and lists again only when it says something."""
    needs_busybox()
    env = dockerd.env
    reader = docker.Reader(path=env["DOCKER_HOST"][len("unix://"):])
    image, name = f"{uid}-box", f"{uid}-ev"
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["docker", "import", "-", image], stdin=tar, env=env, capture_output=True,
                              timeout=60).returncode == 0
    try:
        procs = take_snapshot().processes
        reader.read(procs), reader.read(procs)          # the second opens the stream
        lists = reader.lists
        for _ in range(5):
            containers, state = reader.read(procs)
        assert state.state == "running" and reader.lists == lists          # nothing happened: no list
        run("docker", "run", "-d", "--name", name, image, "sleep", "1018", env=env)
        found = wait_until(lambda: [c for c in reader.read(take_snapshot().processes)[0] if c.name == name],
                           timeout=5, what="the new container, after its events")
        assert found[0].state == "running" and found[0].pid
        run("docker", "rm", "-f", name, env=env)
        wait_until(lambda: not [c for c in reader.read(take_snapshot().processes)[0] if c.name == name],
                   timeout=5, what="the removed container gone")
    finally:
        reader.close()
        subprocess.run(["docker", "rm", "-f", name], env=env, capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", image], env=env, capture_output=True, timeout=60)


def test_podman_kube_play_pod_with_a_shared_pid_namespace(uid, tmp_path):
    """`podman kube play` of a Pod spec (the real-pod lesson's myweb3): pod name, infra, both
    containers in one pid namespace (shareProcessNamespace), each with its own mnt."""
    reason = podman_missing()
    if reason:
        pytest.skip(f"Podman: {reason}")
    needs_busybox()
    image, pod = f"localhost/{uid}-box", f"{uid}kube"
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["podman", "import", "-", image], stdin=tar, capture_output=True,
                              timeout=60).returncode == 0
    spec = tmp_path / "pod.yaml"
    spec.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: {pod}
spec:
  shareProcessNamespace: true
  containers:
  - name: one
    image: {image}
    command: ["/bin/sleep", "1019"]
  - name: two
    image: {image}
    command: ["/bin/sleep", "1020"]
""")
    try:
        run("podman", "kube", "play", str(spec), timeout=120)
        snap = take_snapshot()
        members = snap.containers_in_pod(pod, "podman")
        (infra,) = [c for c in members if c.infra]
        others = sorted((c for c in members if not c.infra), key=lambda c: c.name)
        assert [c.name for c in others] == [f"{pod}-one", f"{pod}-two"]
        one, two = (snap.processes[c.pid] for c in others)
        assert one.cmdline == ("/bin/sleep", "1019") and two.cmdline == ("/bin/sleep", "1020")
        assert one.ns["pid"] == two.ns["pid"] and one.ns["net"] == two.ns["net"] == snap.processes[infra.pid].ns["net"]
        assert one.ns["mnt"] != two.ns["mnt"]
    finally:
        subprocess.run(["podman", "kube", "down", str(spec)], capture_output=True, timeout=120)
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", pod], capture_output=True, timeout=120)
        subprocess.run(["podman", "rmi", image], capture_output=True, timeout=60)
    assert not [c for c in take_snapshot().containers if c.name.startswith(uid)]


def test_podman_network_modes(uid, tmp_path):
    """Podman's own netns (bridge), none, host and container:<name>, from each bundle's OCI spec."""
    reason = podman_missing()
    if reason:
        pytest.skip(f"Podman: {reason}")
    needs_busybox()
    image = f"localhost/{uid}-box"
    names = {f"{uid}-br": (), f"{uid}-none": ("--network", "none"), f"{uid}-host": ("--network", "host"),
             f"{uid}-ctr": ("--network", f"container:{uid}-br")}
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["podman", "import", "-", image], stdin=tar, capture_output=True,
                              timeout=60).returncode == 0
    try:
        for name, how in names.items():
            run("podman", "run", "-d", "--name", name, *how, image, "sleep", "1022")
        snap = take_snapshot()
        got = {name: snap.container(name, "podman").network for name in names}
        assert got == {f"{uid}-br": "bridge", f"{uid}-none": "none", f"{uid}-host": "host",
                       f"{uid}-ctr": f"container:{uid}-br"}
        br, ctr, host = (snap.processes[snap.container(f"{uid}-{n}", "podman").pid] for n in ("br", "ctr", "host"))
        assert br.ns["net"] == ctr.ns["net"] and host.ns["net"] == snap.host_ns["net"]
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", f"{uid}-ctr"], capture_output=True, timeout=60)
        subprocess.run(["podman", "rm", "-f", "-i", "-t", "0", *[n for n in names if n != f"{uid}-ctr"]],
                       capture_output=True, timeout=60)
        subprocess.run(["podman", "rmi", image], capture_output=True, timeout=60)
    assert not [c for c in take_snapshot().containers if c.name.startswith(uid)]


@pytest.fixture
def podman_pod(uid):
    """Factory: podman_pod(suffix) creates pod '<uid><suffix>'; removed (with its infra) at teardown."""
    made: list[str] = []

    def create(suffix: str) -> str:
        name = f"{uid}{suffix}"
        made.append(name)
        run("podman", "pod", "create", "--name", name)
        return name

    yield create
    for name in made:
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", name], capture_output=True, timeout=120)


def test_podman_pod_netns_is_pinned_by_its_sandbox_key(podman_pod, uid):
    """The real-pod lesson's claim: Podman bind-mounts a pod's netns on /run/netns/netns-UUID (its
    SandboxKey), so the netns outlives the infra's processes; `podman pod stop` takes the pin away."""
    from tutor.checks.registry import build
    from tutor.checks.runner import grade_expectation, wants_of
    reason = podman_missing()
    if reason:
        pytest.skip(f"Podman: {reason}")
    pod = podman_pod("pin")
    run("podman", "pod", "start", pod)
    infra_id = run("podman", "pod", "inspect", "-f", "{{.InfraContainerID}}", pod)
    key = run("podman", "inspect", "--format", "{{.NetworkSettings.SandboxKey}}", infra_id)
    infra_pid = int(run("podman", "inspect", "-f", "{{.State.Pid}}", infra_id))
    assert key.startswith("/run/netns/netns-"), key
    assert os.stat(key).st_ino == os.stat(f"/proc/{infra_pid}/ns/net").st_ino
    exp = build({"netns": {"name": {"netns_of": {"pod": pod, "infra": True, "engine": "podman"}}, "pinned": True}})
    v = grade_expectation(exp, take_snapshot(wants=wants_of([exp])))
    assert v.passed, v.observed + " | " + v.message
    assert v.evidence["pinned_by"] == [key] and v.evidence["inode"] == os.stat(key).st_ino
    run("podman", "pod", "stop", "-t", "0", pod)
    assert not os.path.exists(key)
    assert run("podman", "inspect", "--format", "{{.NetworkSettings.SandboxKey}}", infra_id) == ""


def test_podman_pod_members_have_their_own_pid_namespaces_and_the_engines_cgroup_default(uid, tmp_path):
    """The real-pod lesson's claims, graded on a real Podman pod by the kinds it uses: podweb's two
    containers share the infra's net, ipc and uts (by inode) and have a pid namespace each (what
    some notes deny); a third one run with --pid container:A fails that check, naming the shared
    inode. Their user namespace is the host's and their cgroup namespace the one Podman gives on
    this machine's cgroup version (own_on_cgroup_v2); one run with the other --cgroupns fails."""
    from tutor.checks.registry import build
    from tutor.checks.runner import grade_expectation, wants_of
    from tutor.observe.cgroups import cpu_hierarchy
    reason = podman_missing()
    if reason:
        pytest.skip(f"Podman: {reason}")
    needs_busybox()
    image, pod = f"localhost/{uid}-box", f"{uid}pid"
    a, b, c, d = (f"{uid}-{x}" for x in "abcd")
    v2 = cpu_hierarchy()[0] == "v2"

    def grade(item: dict):
        exp = build(item)
        return grade_expectation(exp, take_snapshot(wants=wants_of([exp])))

    def members(*names: str) -> dict:
        return {"pod": {"pause": {"pod": pod, "infra": True, "engine": "podman"},
                        "members": [{"container": n, "engine": "podman"} for n in names],
                        "shared": ["net", "ipc", "uts"], "private": ["mnt", "pid"]}}
    with open(busybox_tar(str(tmp_path / "box.tar")), "rb") as tar:
        assert subprocess.run(["podman", "import", "-", image], stdin=tar, capture_output=True,
                              timeout=60).returncode == 0
    try:
        run("podman", "pod", "create", "--name", pod)
        for name in (a, b):
            run("podman", "run", "-d", "--pod", pod, "--name", name, image, "sleep", "1021")
        run("podman", "run", "-d", "--pod", pod, "--name", c, "--pid", f"container:{a}", image, "sleep", "1021")
        run("podman", "run", "-d", "--pod", pod, "--name", d, "--cgroupns", "host" if v2 else "private", image,
            "sleep", "1021")
        v = grade(members(a, b))
        assert v.passed, v.observed + " | " + v.message
        pids = {m["ns"]["pid"] for m in v.evidence["members"]} | {v.evidence["pause"]["ns"]["pid"]}
        assert len(pids) == 3, v.evidence
        assert len({m["ns"]["uts"] for m in v.evidence["members"]} | {v.evidence["pause"]["ns"]["uts"]}) == 1
        v = grade(members(a, c))
        assert not v.passed and "shares its pid namespace" in v.message and f"container {a}" in v.message, v.message
        for name in (a, b):
            v = grade({"process": {"container": name, "engine": "podman", "host": ["user"],
                                   "own_on_cgroup_v2": ["cgroup"]}})
            assert v.passed, v.observed + " | " + v.message
        v = grade({"process": {"container": d, "engine": "podman", "own_on_cgroup_v2": ["cgroup"]}})
        assert not v.passed, v.observed
        assert ("shares the host's cgroup namespace" if v2 else "has its own cgroup namespace") in v.message, v.message
    finally:
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", pod], capture_output=True, timeout=120)
        subprocess.run(["podman", "rmi", image], capture_output=True, timeout=60)
    assert not [x for x in take_snapshot().containers if x.name.startswith(uid)]
