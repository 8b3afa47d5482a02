"""Lesson cleanup of containers, pods and images, on a real Podman (no daemon to start): only the
declared names go, a container whose name merely starts like a declared one stays, and lint says
what a malformed entry should look like."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from demo_lesson import make_lesson
from tutor.lessons import parse_lesson
from tutor.lessons.cleanup import cleanup_present, names_objects, run_cleanup

pytestmark = pytest.mark.needs_root


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120, check=check)


def exists(kind: str, name: str) -> bool:
    return podman(*([kind] if kind != "container" else ["container"]), "exists", name, check=False).returncode == 0


@pytest.fixture
def box(uid):
    """An image localhost/nstutor-<uid> (busybox from busybox-static), and whatever the test
    names after it removed at the end."""
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (apt-get install podman)")
    busybox = shutil.which("busybox")
    if not busybox:
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    image = f"localhost/nstutor-{uid}"
    script = (f"d=$(mktemp -d); mkdir -p $d/bin; cp {busybox} $d/bin/busybox; ln -s busybox $d/bin/sleep; "
              f"tar -C $d -c . | podman import -q -c 'ENV PATH=/bin' - {image} >/dev/null; rc=$?; rm -rf $d; exit $rc")
    subprocess.run(["bash", "-c", script], check=True, timeout=120)
    yield image
    podman("pod", "rm", "-f", "-t", "0", f"nstutor-{uid}-pod", check=False)
    for name in (f"nstutor-{uid}", f"nstutor-{uid}x"):
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("rmi", "-f", image, check=False)


def test_cleanup_removes_only_the_declared_containers_pod_and_image(tmp_path, uid, box):
    ours, neighbour, pod = f"nstutor-{uid}", f"nstutor-{uid}x", f"nstutor-{uid}-pod"
    podman("run", "-d", "--name", ours, box, "sleep", "600")
    podman("run", "-d", "--name", neighbour, box, "sleep", "600")
    podman("pod", "create", "--name", pod)
    lesson = make_lesson(tmp_path, uid, cleanup=(
        f"containers: [{{engine: podman, name: {ours}}}], pods: [{{engine: podman, name: {pod}}}]"))
    present = cleanup_present(lesson)
    assert present["containers"] == [{"engine": "podman", "name": ours}] and names_objects(present)
    log = run_cleanup(lesson)
    assert log.ok, log.errors
    assert f"removed the podman container {ours}" in log.done and f"removed the podman pod {pod}" in log.done
    assert not exists("container", ours) and not exists("pod", pod)
    assert exists("container", neighbour), "a container the lesson does not declare was removed"
    # the image, once no container uses it
    podman("rm", "-f", "-t", "0", neighbour)
    lesson = make_lesson(tmp_path, uid, cleanup=f"images: [{{engine: podman, name: {box}}}]")
    log = run_cleanup(lesson)
    assert log.ok and not exists("image", box), log.errors
    # nothing left: a second run does nothing and says nothing
    assert run_cleanup(lesson).done == [] and not names_objects(cleanup_present(lesson))


def test_an_engine_that_is_not_running_has_nothing_to_remove(tmp_path, uid, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-dockerd.sock")
    lesson = make_lesson(tmp_path, uid, cleanup="containers: [{engine: docker, name: web}]")
    log = run_cleanup(lesson)
    assert log.ok and log.done == [], (log.done, log.errors)


@pytest.mark.parametrize("entry, says", [
    ("containers: [web]", "must be {engine: docker|podman, name: NAME}"),
    ("pods: [{engine: docker, name: podweb}]", "must be {engine: podman, name: NAME}"),
    ("images: [{engine: docker, name: busybox}]", "must contain 'nstutor'"),
    ("containers: [{engine: docker, name: '-a'}]", "must be {engine: docker|podman, name: NAME}"),
])
def test_lint_says_what_a_cleanup_entry_should_be(tmp_path, entry, says):
    path = tmp_path / "01-demo.md"
    path.write_text(f"---\nid: demo\ntitle: Demo\nminutes: 1\ncleanup: {{{entry}}}\n---\n# Demo\n\n```check\n"
                    "id: a\ntitle: A\nexpect:\n  - netns: {name: x}\nhint: h\nsolution: ip netns add x\n```\n")
    _, problems = parse_lesson(path)
    assert any(says in p.message for p in problems), problems


def test_cleanup_removes_only_the_declared_docker_containers_and_image(tmp_path, uid, monkeypatch):
    """The same on a real dockerd (the tests' own, tests/docker_host.py): Docker names a container
    '/NAME' in its records, and cleanup finds it by exactly that."""
    from docker_host import DockerHost, missing_reason, running_dockerd
    if missing_reason():
        pytest.skip(missing_reason())
    if running_dockerd():
        pytest.skip(f"a dockerd runs on this machine ({running_dockerd()[0]}): the tests start their own")
    busybox = shutil.which("busybox")
    if not busybox:
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    image, ours, neighbour = f"nstutor-{uid}", f"nstutor-{uid}", f"nstutor-{uid}x"
    with DockerHost() as host:
        monkeypatch.setenv("DOCKER_HOST", host.env["DOCKER_HOST"])

        def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
            return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=check)
        script = (f"d=$(mktemp -d); mkdir -p $d/bin; cp {busybox} $d/bin/busybox; ln -s busybox $d/bin/sleep; "
                  f"tar -C $d -c . | docker import -c 'ENV PATH=/bin' - {image} >/dev/null; rc=$?; rm -rf $d; exit $rc")
        subprocess.run(["bash", "-c", script], check=True, timeout=120)
        docker("run", "-d", "--name", ours, image, "sleep", "600")
        docker("run", "-d", "--name", neighbour, image, "sleep", "600")
        lesson = make_lesson(tmp_path, uid, cleanup=f"containers: [{{engine: docker, name: {ours}}}]")
        log = run_cleanup(lesson)
        names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert log.ok and f"removed the docker container {ours}" in log.done, (log.done, log.errors)
        assert ours not in names and neighbour in names, names
        docker("rm", "-f", neighbour)
        lesson = make_lesson(tmp_path, uid, cleanup=f"images: [{{engine: docker, name: {image}}}]")
        log = run_cleanup(lesson)
        assert log.ok and docker("image", "inspect", image, check=False).returncode != 0, log.errors


async def test_the_apps_reset_offers_a_container_that_is_all_a_lesson_left(tmp_path, uid, box):
    """Found merging issue 14: the lesson screen listed the object keys by hand (netns, links, ...),
    so with only a container left it said 'nothing to reset'. It asks, and the container goes."""
    from test_app import wait_for
    from tutor.app.app import NstutorApp
    from tutor.app.screens.lesson import LessonScreen
    from tutor.app.screens.modals import ConfirmScreen
    from tutor.lessons.catalog import Catalog

    ours = f"nstutor-{uid}"
    podman("run", "-d", "--name", ours, box, "sleep", "600")
    lesson = make_lesson(tmp_path, uid, cleanup=f"containers: [{{engine: podman, name: {ours}}}]")
    app = NstutorApp(lesson.id, store_path=tmp_path / "progress.sqlite3", catalog=Catalog((lesson,), ()),
                     probes=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, 15, "the lesson")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 15, "the reset question")
        assert ours in app.screen.body and "is still here" in app.screen.body, app.screen.body
        await pilot.press("y")
        await wait_for(pilot, lambda: not exists("container", ours), 60, "the container to go")
