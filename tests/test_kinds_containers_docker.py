"""The container selectors and kinds against a real Docker (tests/docker_host.py starts a dockerd of its own).

The docker lesson's shapes, with names of our own (conftest's uid): a bridge container web, a
web-side with --network container:web --pid container:web, one with --network none, one with
--network host, and one created but never started. The kernel's side (processes, namespaces,
links) and the engine's records are a real snapshot (the Docker reader, tutor/observe/engines/
docker.py), whose containers are checked against `docker inspect` on every grade.

Starts dockerd and changes the host's firewall: run under /tmp/nstutor-lesson.lock.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import wait_until
from docker_host import DockerHost, missing_reason, started_for_a_module
from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import take_snapshot
from tutor.observe.model import Container

pytestmark = [pytest.mark.needs_root, pytest.mark.skipif(bool(missing_reason()), reason=missing_reason() or "")]
APPLETS = ("sh", "sleep", "httpd", "nc", "ls", "cat")


def docker(host: DockerHost, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, env=host.env, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {res.stderr.strip()}")
    return res


@pytest.fixture(scope="module")
def host():
    yield from started_for_a_module()


@pytest.fixture(scope="module")
def image(host):
    """nstutor-box-<tag>: the host's busybox and a few applets, imported (no registry)."""
    tag = "nstutor-box-" + os.urandom(2).hex()
    root = tempfile.mkdtemp(prefix="nstutor-box-")
    try:
        os.makedirs(f"{root}/bin")
        shutil.copy2(shutil.which("busybox") or "/bin/busybox", f"{root}/bin/busybox")
        for applet in APPLETS:
            os.symlink("busybox", f"{root}/bin/{applet}")
        tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
        res = subprocess.run(["docker", "import", "-", tag], input=tar, capture_output=True, env=host.env, timeout=60)
        assert res.returncode == 0, res.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)
    yield tag
    docker(host, "rmi", "-f", tag, check=False)


@pytest.fixture(scope="module")
def lab(host, image):
    """The docker lesson's containers under names of our own; removed after."""
    tag = os.urandom(2).hex()
    names = {k: f"nt{tag}-{k}" for k in ("web", "side", "nonet", "hostnet", "stopped")}
    try:
        docker(host, "run", "-d", "--name", names["web"], image, "/bin/httpd", "-f", "-p", "80")
        docker(host, "run", "-d", "--name", names["side"], "--network", f"container:{names['web']}",
               "--pid", f"container:{names['web']}", image, "/bin/sleep", "100013")
        docker(host, "run", "-d", "--name", names["nonet"], "--network", "none", image, "/bin/sleep", "100013")
        docker(host, "run", "-d", "--name", names["hostnet"], "--network", "host", image, "/bin/sleep", "100013")
        docker(host, "create", "--name", names["stopped"], image, "/bin/sleep", "100013")
        yield names
    finally:
        docker(host, "rm", "-f", *names.values(), check=False)


def containers_of_inspect(host: DockerHost) -> tuple[Container, ...]:
    """The records the Docker reader gives (model.Container), from `docker inspect` of every container."""
    ids = docker(host, "ps", "-aq", "--no-trunc").stdout.split()
    out = []
    for c in json.loads(docker(host, "inspect", *ids).stdout) if ids else []:
        pid = c["State"]["Pid"] or None
        out.append(Container("docker", c["Id"], c["Name"].lstrip("/"), c["Config"]["Image"], c["State"]["Status"],
                             pid, network=c["HostConfig"]["NetworkMode"]))
    return tuple(out)


def grade(host: DockerHost, item: dict):
    """Grade on a snapshot whose containers the Docker reader read (through the test dockerd's
    socket, as DOCKER_HOST gives it to a learner's shell), checked against `docker inspect`."""
    exp = build(item)
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host.env["DOCKER_HOST"]
    try:
        snap = take_snapshot(wants=wants_of([exp]))
    finally:
        if before is None:
            del os.environ["DOCKER_HOST"]
        else:
            os.environ["DOCKER_HOST"] = before
    assert snap.engine("docker").state == "running", snap.engine("docker")
    seen = {(c.name, c.pid, c.state) for c in snap.containers if c.engine == "docker"}
    assert seen == {(c.name, c.pid, c.state) for c in containers_of_inspect(host)}
    return grade_expectation(exp, snap)


def text(v) -> str:
    return v.observed + " | " + v.message


def test_the_docker_lessons_containers_by_name_and_by_inode(host, lab):
    web, side = lab["web"], lab["side"]
    wait_until(lambda: all(c.pid for c in containers_of_inspect(host) if c.name != lab["stopped"]),
               timeout=20, what="the containers' main processes")
    for name_, mode in ((web, "bridge"), (side, f"container:{web}"), (lab["nonet"], "none"), (lab["hostnet"], "host")):
        v = grade(host, {"container": {"name": name_, "engine": "docker", "network": mode}})
        assert v.passed, text(v)
    v = grade(host, {"process": {"container": side, "engine": "docker",
                                 "shared_with": {"process": {"container": web}, "types": ["net", "pid"]},
                                 "private_from": {"process": {"container": web}, "types": ["mnt"]}}})
    assert v.passed, text(v)
    assert f"container {side} (docker, pid " in v.observed and f"container {web} (docker, pid " in v.observed
    # web's eth0, seen through its main process: a veth (its peer is a docker0 port)
    v = grade(host, {"link": {"dev": "eth0", "netns": {"netns_of": {"container": web, "engine": "docker"}},
                              "kind": "veth"}})
    assert v.passed, text(v)


def test_misses_on_a_real_docker_name_the_engines_command(host, lab):
    web, nonet = lab["web"], lab["nonet"]
    v = grade(host, {"process": {"container": nonet, "shared_with": {"process": {"container": web}, "types": ["net", "pid"]}}})
    assert not v.passed
    assert f"docker rm -f {nonet}; docker run -d --name {nonet} --network container:{web} --pid container:{web}" in v.message
    v = grade(host, {"container": {"name": web, "engine": "docker", "network": "host"}})
    assert not v.passed and "has a network namespace of its own" in v.message, text(v)
    v = grade(host, {"container": {"name": lab["stopped"], "engine": "docker"}})
    assert not v.passed and f"exists but is not running (created): docker start {lab['stopped']}" in v.message, text(v)
    v = grade(host, {"container": {"name": lab["stopped"], "engine": "docker", "running": False}})
    assert v.passed, text(v)
    v = grade(host, {"container": {"name": web, "engine": "podman"}})
    assert not v.passed and f"but docker has one (running)" in v.message, text(v)


def test_the_cgroup_namespace_is_the_engines_default_for_this_cgroup_version(host, lab, image):
    """web (run with no --cgroupns) passes own_on_cgroup_v2 and the host's user namespace, whatever this
    machine's cgroup version; a container run with the other --cgroupns than dockerd's default here
    fails, saying the layout and the option that made it so."""
    from tutor.observe.cgroups import cpu_hierarchy
    v2 = cpu_hierarchy()[0] == "v2"
    info = json.loads(docker(host, "info", "--format", "{{json .}}").stdout)
    assert info["CgroupVersion"] == ("2" if v2 else "1"), (info["CgroupVersion"], cpu_hierarchy())
    web = lab["web"]
    v = grade(host, {"process": {"container": web, "engine": "docker", "host": ["user"], "own_on_cgroup_v2": ["cgroup"]}})
    assert v.passed, text(v)
    assert "(the host's)" in v.observed.split("user", 1)[1].split(",")[0], v.observed
    other = f"{web}-cg"
    try:
        docker(host, "run", "-d", "--name", other, "--cgroupns", "host" if v2 else "private", image, "/bin/sleep",
               "100013")
        v = grade(host, {"process": {"container": other, "engine": "docker", "own_on_cgroup_v2": ["cgroup"]}})
        assert not v.passed, text(v)
        if v2:
            assert "shares the host's cgroup namespace" in v.message and "--cgroupns private" in v.message, text(v)
        else:
            assert "has its own cgroup namespace" in v.message and "leaves a container in the host's" in v.message
            assert f"docker run -d --name {other} --cgroupns host" in v.message, text(v)
    finally:
        docker(host, "rm", "-f", other, check=False)


def test_what_the_runtime_locks_down_in_a_real_container(host, lab, image):
    """web holds Docker's short list of capabilities, /proc/sys is read-only, /proc/keys is masked
    with /dev/null and /etc/hosts is bound from the engine's own file for it; a container given
    --cap-add NET_ADMIN holds that one, and web's miss names the run option that would add it."""
    web = lab["web"]
    wait_until(lambda: grade(host, {"container": {"name": web, "engine": "docker"}}).passed, timeout=20,
               what="web running")
    v = grade(host, {"capabilities": {"container": web, "engine": "docker", "has": ["chown", "net_bind_service", "kill"],
                                      "lacks": ["sys_admin", "net_admin", "sys_module", "sys_time"]}})
    assert v.passed, text(v)
    for item in ({"target": "/proc/sys", "read_only": True}, {"target": "/proc/keys", "source_path": "^/null$"},
                 {"target": "/etc/hosts", "source_path": "/[0-9a-f]{64}/hosts$"}):
        v = grade(host, {"mount": {"container": web, "engine": "docker", **item}})
        assert v.passed, (item, text(v))
    v = grade(host, {"mount": {"container": web, "engine": "docker", "target": "/proc/sys", "read_only": False}})
    assert not v.passed and "read-only" in v.observed, text(v)
    v = grade(host, {"capabilities": {"container": web, "engine": "docker", "has": ["net_admin"]}})
    assert not v.passed and f"docker rm -f {web}; docker run -d --name {web} --cap-add NET_ADMIN" in v.message, text(v)
    other = f"{web}-na"
    try:
        docker(host, "run", "-d", "--name", other, "--cap-add", "NET_ADMIN", image, "/bin/sleep", "100013")
        v = grade(host, {"capabilities": {"container": other, "engine": "docker", "has": ["net_admin"],
                                          "lacks": ["sys_admin"]}})
        assert v.passed, text(v)
        v = grade(host, {"capabilities": {"container": other, "engine": "docker", "lacks": ["net_admin"]}})
        assert not v.passed and "--cap-drop NET_ADMIN" in v.message, text(v)
    finally:
        docker(host, "rm", "-f", other, check=False)
