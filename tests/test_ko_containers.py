"""The container, pod and capabilities grader messages in Korean (issue 16), and the shared container
phrases of tutor/checks/containers.py (missing, several, recreate_advice, engine_trouble, kubelet_advice).

Graded against made-up snapshots as tests/test_kinds_containers_unit.py builds them (the engines'
records beside the processes they point to), so no engine needs to run: a container that is not there,
an engine that is not running, a kubelet's pod whose member left the pod's network, a container whose
network mode or capabilities are wrong. Each asserts the Korean sentence, that the command or name in
it is exact, and that the English sentence did not leak. The last test is a real Podman container,
skipped where Podman is not installed.
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid

import pytest

from test_kinds_containers_unit import (IMAGE, NET_ADMIN_HELD, PODWEB, grade, ids, machine, replaced, running,
                                        with_ns)
from tutor.checks.containers import engine_trouble, kubelet_advice, missing
from tutor.checks.registry import build
from tutor.observe.model import Container, EngineState


def failed(item: dict, s):
    v = grade(item, s)
    assert not v.passed, v.observed + " | " + v.message
    return v


KUBECTL = "kubectl delete pod -n default myweb2; kubectl apply -f POD.yaml"


def kubernetes_pod(engines=("containerd",)):
    sandbox = Container("containerd", ids(20), "myweb2", "registry.k8s.io/pause:3.6", "running", 5000,
                        pod="default/myweb2", infra=True)
    nginx = Container("containerd", ids(21), "nginx", "nginx", "running", 5100, pod="default/myweb2")
    sidecar = Container("containerd", ids(22), "sidecar", "busybox", "running", 5200, pod="default/myweb2")
    return machine(containers=(sandbox, nginx, sidecar), engines=running(engines))


# --------------------------------------------------------------- no container of that name
def test_no_container_of_that_name_in_korean_with_the_exact_run_command(korean):
    v = failed({"container": {"name": "ko-ctr-webb", "engine": "docker"}}, machine())
    assert v.observed == "이름이 ko-ctr-webb인 컨테이너가 없습니다"
    assert v.message == "이름이 ko-ctr-webb인 컨테이너가 없습니다: docker run -d --name ko-ctr-webb ..."
    v = failed({"pid1": {"container": "ko-ctr-webb"}}, machine())
    assert v.message.endswith(": docker run -d --name ko-ctr-webb ... (또는 podman run ...)"), v.message
    for english in ("no container named", "(or podman run"):
        assert english not in v.message


def test_a_pod_that_is_not_there_and_a_stopped_container(korean):
    v = failed({"pid1": {"pod": "ko-ctr-pod"}}, machine())
    assert v.message.endswith("ko-ctr-pod 파드가 없습니다: podman pod create --name ko-ctr-pod"), v.message
    assert "there is no pod" not in v.message
    v = failed({"pid1": {"container": "web"}}, replaced(machine(), "web", state="exited", pid=None))
    assert "web (docker) 컨테이너가 있지만 실행 중이 아닙니다(exited)" in v.observed, v.observed
    assert v.message.endswith("있지만 실행 중이 아닙니다(exited) — docker start web"), v.message
    assert "exists but is not running" not in v.observed + v.message


# --------------------------------------------------------------- the engine is not running
def test_an_engine_that_is_not_running_is_said_in_korean(korean):
    bare = EngineState("docker", "stopped", None)
    s = dataclasses.replace(machine(), containers=(), engines=(bare, *running(("podman",))[1:]))
    assert engine_trouble(s, "docker") == "docker 상태: stopped"
    assert engine_trouble(s, "podman") is None
    observed, message = missing(s, {"container": "web", "engine": "docker"})
    assert observed == "docker의 컨테이너 기록이 없습니다: docker 상태: stopped"
    assert message.endswith("를 찾을 수 없습니다: docker 상태: stopped"), message
    assert "no record of" not in observed and "cannot be found" not in message
    # the engine's own sentence (the observer's) is carried as it is, inside the Korean one
    told = EngineState("docker", "stopped", "dockerd is not running: start it with dockerd &")
    s = dataclasses.replace(s, engines=(told, *running(("podman",))[1:]))
    v = failed({"container": {"name": "web", "engine": "docker"}}, s)
    assert v.observed == "docker의 컨테이너 기록이 없습니다: dockerd is not running: start it with dockerd &"


# --------------------------------------------------------------- a kubelet's containers
def test_a_missing_kubernetes_container_gets_the_kubelets_advice_in_korean(korean):
    """The k8s-node lesson's fault, in Korean too: a container of pod default/myweb2 is the kubelet's to
    make, never `docker run` (nor `podman run --pod default/myweb2`)."""
    s = machine(containers=(), engines=(EngineState("docker", "stopped", None), *running(("podman",))[1:2],
                                        EngineState("containerd", "absent", None)))
    v = failed({"pid1": {"container": "myweb2-nginx", "pod": "default/myweb2"}}, s)
    assert v.observed == "이름이 myweb2-nginx인 컨테이너가 없습니다 (containerd 상태: absent; docker 상태: stopped)"
    assert v.message.endswith(": " + kubelet_advice("default/myweb2")), v.message
    assert ("파드의 컨테이너와 네임스페이스는 kubelet이 Pod 스펙(hostNetwork, hostPID, shareProcessNamespace)대로 "
            f"만듭니다. 스펙을 고치고 파드를 다시 만드세요: {KUBECTL}") in v.message
    assert "docker run" not in v.message and "podman" not in v.message and "the kubelet makes" not in v.message


def test_a_kubernetes_pause_with_containerd_absent_in_korean(korean):
    s = machine(containers=(), engines=(*running(("docker", "podman"))[:2], EngineState("containerd", "absent", None)))
    spec = {"pause": {"pod": "default/myweb2", "infra": True, "engine": "containerd"},
            "members": [{"container": "myweb2-nginx", "pod": "default/myweb2"}]}
    v = failed({"pod": spec}, s)
    assert v.observed == "pause 프로세스: containerd의 컨테이너 기록이 없습니다: containerd 상태: absent", v.observed
    assert v.message.startswith("pause 프로세스: ") and v.message.endswith("를 찾을 수 없습니다: containerd 상태: absent")
    assert "the pause:" not in v.observed + v.message


def test_a_kubernetes_pod_member_outside_the_pods_network_is_fixed_in_its_spec_in_korean(korean):
    spec = {"pause": {"pod": "default/myweb2", "infra": True, "engine": "containerd"},
            "members": [{"pod": "default/myweb2", "engine": "containerd"}], "shared": ["net", "ipc"],
            "private": ["mnt"]}
    assert grade({"pod": spec}, kubernetes_pod()).passed
    v = failed({"pod": spec}, with_ns(kubernetes_pod(), 5200, net=4026539001))
    assert "자기 net 네임스페이스(4026539001)를 갖고 있습니다. pause의 것은 4026532700입니다." in v.message, v.message
    assert v.message.endswith(" 파드의 컨테이너와 네임스페이스는 kubelet이 Pod 스펙(hostNetwork, hostPID, "
                              f"shareProcessNamespace)대로 만듭니다. 스펙을 고치고 파드를 다시 만드세요: {KUBECTL}."
                              ), v.message
    assert "has its own" not in v.message and "The kubelet makes" not in v.message


def test_a_kubernetes_container_that_should_be_stopped(korean):
    v = failed({"container": {"name": "nginx", "engine": "containerd", "running": False}}, kubernetes_pod())
    assert v.message == ("nginx 컨테이너(containerd)는 실행 중인데, 이 단계는 멈춰 있기를 바랍니다: "
                         "파드가 있는 한 kubelet이 계속 실행합니다")


# --------------------------------------------------------------- the container kind
def test_the_container_kind_describes_and_fails_a_network_mode_in_korean(korean):
    item = {"container": {"name": "nonet", "engine": "docker", "network": "bridge"}}
    assert build(item).describe() == "docker에서 실행 중인 컨테이너 nonet, --network bridge"
    assert (build({"container": {"name": "podweb-a", "engine": "podman", "pod": "podweb"}}).describe()
            == "podman에서 실행 중인 컨테이너 podweb-a, podweb 파드 안")
    v = failed(item, machine())
    assert "네트워크: net:[4026532600] (lo); docker의 기록: --network none" in v.observed, v.observed
    assert v.message == ("nonet 컨테이너는 bridge가 아니라 --network none 옵션으로 만들어졌습니다. 이 컨테이너의 "
                         "네트워크와 파드는 docker에서 만들 때 정해집니다: docker rm -f nonet; "
                         f"docker run -d --name nonet {IMAGE} ...")
    assert "was made with" not in v.message and "fixed when" not in v.message
    v = grade({"container": {"name": "web", "engine": "docker", "network": "bridge"}}, machine())
    assert v.passed and "실행 중" in v.observed and f"이미지 {IMAGE}" in v.observed, v.observed


def test_several_containers_match_in_korean(korean):
    v = failed({"pid1": {"pod": "podweb"}}, machine())
    assert v.observed.startswith("컨테이너 2개가 해당합니다("), v.observed
    assert v.message.endswith("에 해당하는 컨테이너가 2개입니다. 그중 하나를 지정하세요. 예: {container: podweb-a}."), \
        v.message
    assert "containers match" not in v.observed and "name one of them" not in v.message


# --------------------------------------------------------------- a Podman pod and the capabilities kind
def test_a_podman_pod_member_is_fixed_by_the_pods_share_in_korean(korean):
    v = failed({"pod": PODWEB}, with_ns(machine(), 5100, ipc=4026539000))
    assert (" 파드의 컨테이너는 파드가 공유하는 네임스페이스를 받으며, 그것은 파드를 만들 때 정해집니다: "
            "podman pod rm -f podweb; podman pod create --name podweb --share net,ipc,uts; 그다음 그 컨테이너들을 "
            "다시 실행하세요(podman run -d --name podweb-a --pod podweb localhost/nstutor-box ...)") in v.message, v.message
    assert "A pod's containers get" not in v.message


def test_capabilities_held_that_should_not_be_in_korean(korean):
    s = dataclasses.replace(machine(), capabilities={4242: NET_ADMIN_HELD})
    item = {"capabilities": {"container": "web", "engine": "docker", "lacks": ["net_admin"]}}
    assert build(item).describe().endswith(": net_admin 없음 (유효 capability 집합 기준)")
    v = failed(item, s)
    assert v.observed.endswith("의 capability: 2: chown, net_admin (CapEff 0000000000001001)"), v.observed
    assert "capability가 있는데, 이 단계는 없어야 한다고 합니다." in v.message, v.message
    assert ("(--privileged나 --cap-add로 시작했나요? docker inspect -f '{{.HostConfig.Privileged}} "
            "{{.HostConfig.CapAdd}}' web 명령이 알려 줍니다). 그것 없이 다시 만드세요: docker rm -f web; "
            f"docker run -d --name web --cap-drop NET_ADMIN {IMAGE} ...") in v.message, v.message
    assert "which the step says" not in v.message and "Make it again" not in v.message
    has = failed({"capabilities": {"container": "web", "engine": "docker", "has": ["sys_admin"]}}, s)
    assert "sys_admin capability가 없습니다. 어떤 capability를 받을지는 엔진이 시작할 때 정합니다." in has.message
    assert has.message.endswith(f"docker rm -f web; docker run -d --name web --cap-add SYS_ADMIN {IMAGE} ..."), has.message


def test_english_is_unchanged_when_korean_is_not_chosen():
    v = failed({"container": {"name": "ko-ctr-webb", "engine": "docker"}}, machine())
    assert v.message == "no container named ko-ctr-webb: docker run -d --name ko-ctr-webb ..."


# --------------------------------------------------------------- a real Podman container
def test_a_real_podman_container_that_is_not_running_in_korean(korean, uid):
    """One real engine: a Podman container created but never started is said to exist, stopped, with
    `podman start NAME` exactly."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    from tutor.observe import take_snapshot
    name = f"ko-ctr-{uid}-{uuid.uuid4().hex[:6]}"
    image = f"localhost/ko-ctr-box-{uid}"
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    made = subprocess.run(f"set -e; d=$(mktemp -d); mkdir -p $d/bin; cp {busybox} $d/bin/busybox; "
                          f"ln -s busybox $d/bin/sh; ln -s busybox $d/bin/sleep; "
                          f"tar -C $d -c . | podman import - {image} >/dev/null; rm -rf $d",
                          shell=True, capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"podman import failed: {made.stderr.strip()}")
    try:
        subprocess.run(["podman", "create", "--name", name, image, "/bin/sleep", "1077"], check=True,
                       capture_output=True)
        v = grade({"container": {"name": name, "engine": "podman"}}, take_snapshot())
        assert not v.passed
        assert v.observed == f"{name} (podman): created, 실행 중이 아님", v.observed
        assert v.message.endswith(f"있지만 실행 중이 아닙니다(created) — podman start {name}"), v.message
        assert "not running" not in v.observed and "exists but is not running" not in v.message
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True)
