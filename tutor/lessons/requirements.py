"""What a lesson's `requires:` entries mean, and whether this machine meets them.

An entry is a command that must be on PATH (`ip`, `unshare`, `kubectl`...) or one of the words
below, which name a condition a command cannot express:

* ``root``: nstutor runs as root (sudo).
* ``k8s-node``: this machine is a Kubernetes node: a kubelet (or k3s) process is running here, so
  pod sandboxes (pause processes) and containers are processes of this machine's /proc. A kind
  cluster counts: its node containers' processes are this host's processes.
"""
from __future__ import annotations

import os
import shutil

NODE_AGENTS = ("kubelet", "k3s-server", "k3s-agent", "k3s")

SPECIAL = {
    "root": "needs root: run it with sudo",
    "k8s-node": "needs a Kubernetes node: no kubelet runs on this machine (start a kind cluster, or use a "
                "kubeadm/k3s node)",
}


def kubelet_running(proc: str = "/proc") -> bool:
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
    return shutil.which(requirement) is not None


def why_unmet(requirement: str) -> str:
    return SPECIAL.get(requirement, f"needs the command '{requirement}', which is not installed")
