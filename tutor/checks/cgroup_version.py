"""Whether a container gets a cgroup namespace of its own depends on the machine's cgroup layout:
on cgroup v2 alone the engines give it one (Docker 20.10, Podman, containerd's CRI for a container
that is not privileged), on v1 and hybrid they leave it in the host's (or the pause's). The process
and pod kinds take such a namespace type in a field of its own (own_on_cgroup_v2,
private_on_cgroup_v2) and decide it by the layout the snapshot read (Snapshot.cgroups.mode)."""
from __future__ import annotations

from typing import Any

from ..i18n import _
from ..observe.model import Snapshot


def v_cgroup_only(value: Any) -> str | None:
    if value != ["cgroup"]:
        return "must be [cgroup]: only the cgroup namespace depends on the machine's cgroup layout"
    return None


def cgroup_v2_alone(snap: Snapshot) -> bool:
    """Does this machine run cgroup v2 alone (where a container gets a cgroup namespace of its own)?"""
    return snap.cgroups.mode == "v2"


def cgroup_layout(snap: Snapshot) -> str:
    """'cgroup v2 alone', 'cgroup v1', 'cgroup v1 and v2 (hybrid)': for messages."""
    mode = snap.cgroups.mode
    if mode == "v2":
        return _("cgroup v2 alone")
    if mode == "v1":
        return "cgroup v1"
    if mode == "hybrid":
        return _("cgroup v1 and v2 (hybrid)")
    return _("no cgroup tree mounted")
