"""What a lesson's `requires:` entries mean, and whether this machine meets them.

An entry is a command that must be on PATH (`ip`, `unshare`, `kubectl`...) or one of the words
below, which name a condition a command cannot express:

* ``root``: nstutor runs as root (sudo).
* ``k8s-node``: this machine is a Kubernetes node: a kubelet (or k3s) process is running here, so
  pod sandboxes (pause processes) and containers are processes of this machine's /proc. A kind
  cluster counts: its node containers' processes are this host's processes.
* ``userns``: an unprivileged user may create a user namespace (none of the three switches that
  distributions use to forbid it is set).
"""
from __future__ import annotations

import os
import shutil

from ..observe.procfs import proc_path

NODE_AGENTS = ("kubelet", "k3s-server", "k3s-agent", "k3s")

SPECIAL = {
    "root": "needs root: run nstutor as root",
    "k8s-node": "needs a Kubernetes node: no kubelet runs on this machine (start a kind cluster, or use a "
                "kubeadm/k3s node)",
}

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


def is_met(requirement: str) -> bool:
    if requirement == "root":
        return os.geteuid() == 0
    if requirement == "k8s-node":
        return kubelet_running()
    if requirement == "userns":
        return userns_blocker() is None
    return shutil.which(requirement) is not None


SHORT = {"root": "not root", "k8s-node": "not a k8s node", "userns": "userns forbidden"}


def short_unmet(requirement: str) -> str:
    """A word or two for a catalog column: 'not root', 'no kubectl'."""
    return SHORT.get(requirement, f"no {requirement}")


def why_unmet(requirement: str) -> str:
    if requirement == "userns":
        return (f"needs unprivileged user namespaces, which this machine forbids ({userns_blocker()}); "
                "the lesson's first section says how to allow them")
    return SPECIAL.get(requirement, f"needs the command '{requirement}', which is not installed")
