"""What a lesson's `requires:` entries mean, and whether this machine meets them.

An entry is a command that must be on PATH (`ip`, `unshare`, `kubectl`...) or one of the words
below, which name a condition a command cannot express:

* ``root``: nstutor runs as root (sudo).
* ``k8s-node``: this machine is a Kubernetes node: a kubelet (or k3s) process is running here, so
  pod sandboxes (pause processes) and containers are processes of this machine's /proc. A kind
  cluster counts: its node containers' processes are this host's processes.
* ``userns``: an unprivileged user may create a user namespace (none of the three switches that
  distributions use to forbid it is set).
* ``docker``: the docker command is installed and a dockerd answers on its API socket (DOCKER_HOST
  when it names a unix socket, else /run/docker.sock): asked once, with a short timeout.
* ``podman``: podman is installed, with catatonit (the init of a pod's infra container). Podman has
  no daemon, so there is nothing to be running.
"""
from __future__ import annotations

import os
import shutil
import socket

from ..i18n import _
from ..observe.engines import docker
from ..observe.procfs import proc_path

NODE_AGENTS = ("kubelet", "k3s-server", "k3s-agent", "k3s")

def special(requirement: str) -> str | None:
    """The reason for a requirement that is not just a command on PATH (None: it is one)."""
    if requirement == "root":
        return _("needs root: run nstutor as root")
    if requirement == "k8s-node":
        return _("needs a Kubernetes node: no kubelet runs on this machine (start a kind cluster, or use a "
                 "kubeadm/k3s node)")
    if requirement == "busybox":    # a command, but the reason says which package: the setup packs it into the image
        return _("needs busybox, the static one the setup packs into the lesson's image: {command}").format(
            command="apt-get install busybox-static")
    return None

#: sysctl (its file under /proc/sys) -> the value that forbids unprivileged user namespaces
USERNS_BLOCKERS = {
    "kernel/unprivileged_userns_clone": "0",              # Debian/Ubuntu kernels before 6.x
    "user/max_user_namespaces": "0",
    "kernel/apparmor_restrict_unprivileged_userns": "1",  # Ubuntu 23.10 and later
}


def userns_blocker() -> str | None:
    """The sysctl that forbids unprivileged user namespaces here, as 'name = value', or None."""
    for sysctl, bad in USERNS_BLOCKERS.items():
        try:
            with open(proc_path("sys", sysctl)) as f:
                if f.read().strip() == bad:
                    return f"{sysctl.replace('/', '.')} = {bad}"
        except OSError:
            continue
    return None


def kubelet_running(proc: str | None = None) -> bool:
    """Does a node agent run here? *proc*: the procfs to look in (the machine's by default)."""
    proc = proc or proc_path()
    for entry in os.listdir(proc):
        if entry.isdigit():
            try:
                with open(f"{proc}/{entry}/comm") as f:
                    if f.read().strip() in NODE_AGENTS:
                        return True
            except OSError:
                continue
    return False


PING_TIMEOUT_S = 1.0
#: where Debian's podman package looks for catatonit besides PATH
CATATONIT_PATHS = ("/usr/libexec/podman/catatonit", "/usr/lib/podman/catatonit")


def docker_problem() -> tuple[str, str] | None:
    """Why Docker cannot be used here, as (a word or two, a sentence), or None when dockerd answers.
    One GET /_ping on its socket: no docker CLI is run, and a dead socket costs at most a second."""
    if not shutil.which("docker"):
        return _("no docker"), _("needs Docker: the docker command is not installed: {command}").format(
            command="apt-get install docker.io")
    path = docker.socket_path()
    if path is None:
        return _("remote docker"), _("needs Docker on this machine: DOCKER_HOST names a remote daemon, whose "
                                     "containers are not this kernel's; unset DOCKER_HOST")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PING_TIMEOUT_S)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(64)
    except (FileNotFoundError, ConnectionRefusedError):
        return _("no dockerd"), _("needs Docker: dockerd is not running (nothing answers on {path}); {hint}").format(
            path=path, hint=docker.start_hint())
    except PermissionError:
        return _("docker denied"), _("needs Docker: this user may not use dockerd's socket {path}; "
                                     "run nstutor as root (sudo)").format(path=path)
    except OSError as exc:         # a timeout included: dockerd starting, restarting or stuck
        return _("no dockerd"), _("needs Docker: dockerd does not answer on {path} ({error}); "
                                  "if it is not running, {hint}").format(path=path, error=exc.strerror or exc,
                                                                         hint=docker.start_hint())
    if not answer.startswith(b"HTTP/1.") or b" 200 " not in answer:
        return _("no dockerd"), _("needs Docker: what answers on {path} is not a working dockerd; {hint}").format(
            path=path, hint=docker.start_hint())
    return None


def podman_problem() -> tuple[str, str] | None:
    """Why Podman cannot be used here, as (a word or two, a sentence), or None."""
    if not shutil.which("podman"):
        return _("no podman"), _("needs Podman: podman is not installed: {command}").format(
            command="apt-get install podman")
    if not shutil.which("catatonit") and not any(os.path.exists(p) for p in CATATONIT_PATHS):
        return _("no catatonit"), _("needs Podman's catatonit, the init its pods' infra containers run: "
                                    "{command}").format(command="apt-get install catatonit")
    return None


ENGINES = {"docker": docker_problem, "podman": podman_problem}


def is_met(requirement: str) -> bool:
    if requirement == "root":
        return os.geteuid() == 0
    if requirement == "k8s-node":
        return kubelet_running()
    if requirement == "userns":
        return userns_blocker() is None
    if requirement in ENGINES:
        return ENGINES[requirement]() is None
    return shutil.which(requirement) is not None


def short_unmet(requirement: str) -> str:
    """A word or two for a catalog column: 'not root', 'no kubectl', 'no dockerd'."""
    if requirement in ENGINES:
        problem = ENGINES[requirement]()
        return problem[0] if problem else _("ok")
    if requirement == "root":
        return _("not root")
    if requirement == "k8s-node":
        return _("not a k8s node")
    if requirement == "userns":
        return _("userns forbidden")
    return _("no {command}").format(command=requirement)


def why_unmet(requirement: str) -> str:
    if requirement == "userns":
        return _("needs unprivileged user namespaces, which this machine forbids ({sysctl}); "
                 "the lesson's first section says how to allow them").format(sysctl=userns_blocker())
    if requirement in ENGINES:
        problem = ENGINES[requirement]()
        return problem[1] if problem else _("needs {engine}, which answers now: try again").format(
            engine=requirement.capitalize())
    return special(requirement) or _("needs the command '{command}', which is not installed").format(
        command=requirement)
