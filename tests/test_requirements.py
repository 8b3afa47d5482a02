"""`requires:` words that are conditions, not commands: userns (lesson 8)."""
from __future__ import annotations

from tutor.lessons import requirements
from tutor.observe import procfs
from tutor.observe.engines import docker


def test_userns_is_unmet_where_a_sysctl_forbids_it(tmp_path, monkeypatch):
    """The sysctls are read from the one procfs root (observe.procfs.PROC), here a made-up one."""
    (tmp_path / "sys" / "kernel").mkdir(parents=True)
    clone = tmp_path / "sys" / "kernel" / "unprivileged_userns_clone"
    apparmor = tmp_path / "sys" / "kernel" / "apparmor_restrict_unprivileged_userns"
    clone.write_text("1\n")
    apparmor.write_text("0\n")
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    assert requirements.is_met("userns") and requirements.userns_blocker() is None
    apparmor.write_text("1\n")
    assert not requirements.is_met("userns")
    reason = requirements.why_unmet("userns")
    assert "forbids" in reason and "kernel.apparmor_restrict_unprivileged_userns = 1" in reason


def test_lesson_8_runs_here_or_says_which_switch_forbids_it():
    from tutor.lessons import load_catalog
    lesson = load_catalog().find("user")
    assert "userns" in lesson.requires
    blocker = requirements.userns_blocker()
    if blocker is None:
        assert "userns" not in lesson.unmet_requirements()
    else:
        assert any(blocker in reason for reason in lesson.missing_requirements())


# --------------------------------------------------------------- docker and podman
import socket
import threading

import pytest


@pytest.fixture
def fake_dockerd(tmp_path, monkeypatch):
    """A unix socket that answers GET /_ping like dockerd (DOCKER_HOST points at it)."""
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setattr(requirements.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    yield path
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_docker_is_met_when_dockerd_answers_its_ping(fake_dockerd):
    assert requirements.is_met("docker")
    assert requirements.docker_problem() is None


def test_docker_unmet_says_dockerd_is_not_running_and_how_to_start_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setattr(requirements.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    assert not requirements.is_met("docker")
    reason = requirements.why_unmet("docker")
    assert reason.startswith("needs Docker: dockerd is not running") and "start it with" in reason
    assert f"{tmp_path}/none.sock" in reason
    assert requirements.short_unmet("docker") == "no dockerd"
    # the lesson list and the Containers view say it in the same words: the Docker reader's
    _, state = docker.Reader().read({})
    assert state.detail.split(": ", 1)[1] in reason, (state.detail, reason)


def test_docker_named_by_a_remote_docker_host_is_unmet_and_says_why(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    monkeypatch.setattr(requirements.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    assert requirements.short_unmet("docker") == "remote docker"
    assert "DOCKER_HOST names a remote daemon" in requirements.why_unmet("docker")


def test_docker_and_podman_unmet_when_not_installed(monkeypatch):
    monkeypatch.setattr(requirements.shutil, "which", lambda cmd: None)
    assert requirements.why_unmet("docker") == \
        "needs Docker: the docker command is not installed: apt-get install docker.io"
    assert requirements.why_unmet("podman") == "needs Podman: podman is not installed: apt-get install podman"
    assert requirements.short_unmet("podman") == "no podman"
    assert "apt-get install busybox-static" in requirements.why_unmet("busybox")


def test_the_container_lessons_require_their_engine():
    from tutor.lessons import load_catalog
    catalog = load_catalog()
    assert "docker" in catalog.find("docker").requires
    assert "podman" in catalog.find("real-pod").requires


# --------------------------------------------------------------- commands the lessons run
import re

#: commands a lesson's shell blocks or solutions run that a minimal Debian/Ubuntu image may lack
#: (python3: no python in a slim image; ping: iputils-ping is a package of its own)
NOT_EVERYWHERE = ("python3", "ping")
COMMAND_WORD = r"(?<![\w./$-]){}(?![\w.-])"


def commands_typed(lesson) -> str:
    """The text of the lesson's ```sh blocks and its steps' solutions, without # comments."""
    blocks = re.findall(r"^```(?:sh|bash)\n(.*?)^```", lesson.body, re.M | re.S)
    blocks += [step.solution for step in lesson.steps]
    return "\n".join(re.sub(r"(^|\s)#.*", "", block) for block in blocks)


def test_a_lesson_requires_python3_and_ping_where_its_commands_run_them():
    """A lesson whose commands need python3 or ping says so in `requires:`, so a machine without
    them is told before the learner meets `command not found` halfway through."""
    from tutor.lessons import load_catalog
    missing = []
    for lesson in load_catalog().lessons:
        typed = commands_typed(lesson)
        missing += [f"{lesson.id}: {tool}" for tool in NOT_EVERYWHERE
                    if re.search(COMMAND_WORD.format(tool), typed) and tool not in lesson.requires]
    assert missing == []


def test_the_command_scan_finds_python3_and_ping_and_skips_comments():
    from types import SimpleNamespace
    lesson = SimpleNamespace(body="```sh\nip netns exec hello ping -c 1 127.0.0.1\n# python3 -c 1\n```\n",
                             steps=[SimpleNamespace(solution="python3 - <<'EOF'\nEOF\n")])
    typed = commands_typed(lesson)
    assert re.search(COMMAND_WORD.format("ping"), typed) and re.search(COMMAND_WORD.format("python3"), typed)
    assert not re.search(COMMAND_WORD.format("ping"), "/usr/bin/ping6 x; ping.py")
    assert commands_typed(SimpleNamespace(body="```sh\n# python3\n```\n", steps=[])).strip() == ""
