"""A Kubernetes pod on a containerd node, as its records show it, for tests: no kubelet can run here.

What the kubelet and containerd leave on a node is rebuilt in the exact format they write it:
  * cgroups named as the kubelet names a pod's and the runtime a container's (systemd or cgroupfs
    driver, any QoS class), made under a parent of the test's own (/nstutor-cri-<uid>/..., as a kind
    node nests them under its own cgroup), in the hierarchy of the cpu controller this VM has;
  * containerd's task bundles in a temporary state directory: config.json (the OCI spec with the CRI
    plugin's io.kubernetes.cri.* annotations and linux.cgroupsPath as the CRI plugin writes it),
    init.pid (runc's: decimal, no newline) and the other files containerd 1.6 puts there (as measured
    with containerd 1.6.20 and `ctr run` on this VM: address, log fifo, log.json, options.json,
    rootfs/, runtime, shim-binary-path, work -> the task's root dir);
  * linux.namespaces as the CRI plugin writes them (containerd internal/cri: sandboxContainerSpec,
    WithPodNamespaces): the sandbox gets containerd's default five (pid, ipc, uts, mount, network), the
    network one with the path of the netns the CRI plugin made and pinned before starting the pause
    (/var/run/netns/cni-<random>, or under its state dir with netns_mounts_under_state_dir); a container
    joins /proc/<sandbox pid>/ns/{ipc,uts,net}, gets new pid and mount namespaces, and a new cgroup one
    only where the node is on pure cgroup v2 (isUnifiedCgroupsMode).
Real processes run in those cgroups: a copy of sleep named pause, an nginx stand-in that renames
itself "nginx: master process ..." with a worker child, and the netshoot loop.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field

from conftest import remove_cgroup, wait_until
from tutor.observe.cgroups import cpu_hierarchy

NGINX_TITLE = "nginx: master process nginx -g daemon off;"
NETSHOOT_LOOP = "while true; do sleep 5; curl localhost; done"
PAUSE_IMAGE = "registry.k8s.io/pause:3.6"
#: The CRI plugin's own state directory, below containerd's.
CRI_STATE = "io.containerd.grpc.v1.cri"


def cgroup_v2() -> bool:
    """Is this machine on pure cgroup v2 (containerd's cgroups.Mode() == Unified)? Only then does the CRI
    plugin give a (non-privileged) container a cgroup namespace of its own."""
    mode, _root = cpu_hierarchy()
    return mode == "v2"


def netns_name(sandbox_id: str) -> str:
    """A netns file name as containerd's pkg/netns makes one: "cni-%x-%x-%x-%x-%x" of 16 random bytes."""
    return f"cni-{uuid.uuid5(uuid.NAMESPACE_URL, sandbox_id)}"


def sandbox_namespaces(netns: str) -> list[dict]:
    """A sandbox's linux.namespaces: containerd's default list, the network one naming the pinned netns."""
    return [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network", "path": netns}]


def container_namespaces(sandbox_pid: int) -> list[dict]:
    """A container's linux.namespaces (shareProcessNamespace off, not privileged): the sandbox's ipc, uts and
    net joined by /proc path, new pid and mount, and on cgroup v2 a new cgroup namespace."""
    joined = {t: {"type": t, "path": f"/proc/{sandbox_pid}/ns/{n}"}
              for t, n in (("ipc", "ipc"), ("uts", "uts"), ("network", "net"))}
    return ([{"type": "pid"}, joined["ipc"], joined["uts"], {"type": "mount"}, joined["network"]]
            + ([{"type": "cgroup"}] if cgroup_v2() else []))


def container_id(seed: str) -> str:
    """A 64-hex id, as containerd gives each task."""
    return hashlib.sha256(seed.encode()).hexdigest()


def systemd_cgroup(uid: str, qos: str, cid: str) -> str:
    """The kubelet's systemd-driver pod slice and containerd's scope below it (kubelet CgroupName.ToSystemd)."""
    u = uid.replace("-", "_")
    if qos == "guaranteed":
        return f"/kubepods.slice/kubepods-pod{u}.slice/cri-containerd-{cid}.scope"
    return f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{u}.slice/cri-containerd-{cid}.scope"


def cgroupfs_cgroup(uid: str, qos: str, cid: str) -> str:
    """The kubelet's cgroupfs-driver pod directory and the container's below it."""
    return f"/kubepods/pod{uid}/{cid}" if qos == "guaranteed" else f"/kubepods/{qos}/pod{uid}/{cid}"


def cgroups_path_in_spec(driver: str, uid: str, qos: str, cid: str) -> str:
    """linux.cgroupsPath as the CRI plugin writes it: systemd "slice:prefix:name", cgroupfs a path."""
    if driver == "systemd":
        slice_ = systemd_cgroup(uid, qos, cid).split("/")[-2]
        return f"{slice_}:cri-containerd:{cid}"
    return cgroupfs_cgroup(uid, qos, cid)


@dataclass
class Task:
    id: str
    kind: str                   # sandbox / container
    name: str | None            # Kubernetes container name (None: the sandbox)
    image: str | None
    args: list[str]
    cgroup: str                 # the path below the test's parent cgroup
    pid: int = 0


@dataclass
class Node:
    """Records of one node: the state dir (CONTAINERD_STATE), config.toml, the cgroups made."""
    state: str
    config: str
    cgroup_root: str            # the cpu hierarchy's mount point
    parent: str                 # "/nstutor-cri-<uid>": the test's own cgroup, the kubepods tree below it
    made: list[str] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)

    def task_dir(self) -> str:
        return f"{self.state}/io.containerd.runtime.v2.task/k8s.io"

    # -- the pods' network namespaces
    def pin_netns(self, sandbox_id: str) -> str:
        """A new netns, pinned by a bind mount as the CRI plugin does before it starts a pause; with
        netns_mounts_under_state_dir, so the file is the test's own: <state>/io.containerd.grpc.v1.cri/netns/cni-..."""
        path = f"{self.state}/{CRI_STATE}/netns/{netns_name(sandbox_id)}"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "x").close()
        self.pinned.append(path)
        subprocess.run(["unshare", f"--net={path}", "true"], check=True)
        return path

    def unpin_netns(self) -> None:
        """Unmount and remove the pinned netns files (the namespace lives on while a process is in it)."""
        for path in reversed(self.pinned):
            subprocess.run(["umount", path], stderr=subprocess.DEVNULL)
            try:
                os.unlink(path)
            except OSError:
                pass
        self.pinned.clear()

    # -- cgroups
    def make_cgroup(self, path: str) -> str:
        """mkdir the cgroup self.parent + path (and its parents); returns its directory."""
        directory = self.cgroup_root
        for part in (self.parent + path).strip("/").split("/"):
            directory = os.path.join(directory, part)
            if not os.path.isdir(directory):
                os.mkdir(directory)
                self.made.append(directory)
        return directory

    def remove_cgroups(self) -> None:
        """Move what still runs in them out to the root, then rmdir them, deepest first."""
        for directory in reversed(self.made):
            remove_cgroup(directory, self.cgroup_root)

    # -- containerd's records
    def write_config(self, sandbox_image: str | None = PAUSE_IMAGE, netns_under_state_dir: bool = False) -> None:
        """/etc/containerd/config.toml as a kubeadm node has it (version 2, the CRI plugin's sandbox_image;
        netns_mounts_under_state_dir where the pods' netns are pinned under the CRI plugin's state dir)."""
        os.makedirs(os.path.dirname(self.config), exist_ok=True)
        lines = ["version = 2", "", "[plugins]", '  [plugins."io.containerd.grpc.v1.cri"]']
        if netns_under_state_dir:
            lines.append("    netns_mounts_under_state_dir = true")
        if sandbox_image:
            lines.append(f'    sandbox_image = "{sandbox_image}"')
        lines += ['    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]', "      SystemdCgroup = true", ""]
        with open(self.config, "w") as f:
            f.write("\n".join(lines))

    def write_bundle(self, task: Task, annotations: dict[str, str], cgroups_path: str, namespaces: list[dict],
                     hostname: str | None = None, pid: int | None = None) -> str:
        """One task bundle, with the files containerd 1.6's runc v2 shim leaves in it."""
        bundle = f"{self.task_dir()}/{task.id}"
        os.makedirs(f"{bundle}/rootfs", exist_ok=True)
        spec = {"ociVersion": "1.0.2-dev",
                "process": {"user": {"uid": 0, "gid": 0}, "args": task.args, "cwd": "/",
                            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                            "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}, "noNewPrivileges": True,
                            "oomScoreAdj": -998 if task.kind == "sandbox" else 1000},
                "root": {"path": "rootfs", "readonly": task.kind == "sandbox"},
                "mounts": [{"destination": "/proc", "type": "proc", "source": "proc",
                            "options": ["nosuid", "noexec", "nodev"]}],
                "annotations": annotations,
                "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}],
                                        "cpu": {"shares": 2}},
                          "cgroupsPath": cgroups_path, "namespaces": namespaces,
                          "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}}
        if hostname:
            spec["hostname"] = hostname
        with open(f"{bundle}/config.json", "w") as f:
            json.dump(spec, f, separators=(",", ":"))
        if pid is not None:
            with open(f"{bundle}/init.pid", "w") as f:
                f.write(str(pid))           # runc's pid file: no newline
        digest = hashlib.sha256(task.id.encode()).hexdigest()
        for name, text in (("address", f"unix:///run/containerd/s/{digest}"), ("log.json", ""), ("options.json", "{}"),
                           ("runtime", ""), ("shim-binary-path", "/usr/bin/containerd-shim-runc-v2")):
            with open(f"{bundle}/{name}", "w") as f:
                f.write(text)
        if not os.path.exists(f"{bundle}/log"):
            os.mkfifo(f"{bundle}/log", 0o700)
        if not os.path.lexists(f"{bundle}/work"):
            os.symlink(f"/var/lib/containerd/io.containerd.runtime.v2.task/k8s.io/{task.id}", f"{bundle}/work")
        return bundle


def cpu_root() -> str | None:
    """Where the cpu controller's hierarchy is mounted (the one Process.cgroup is read from)."""
    _mode, root = cpu_hierarchy()
    return root


@dataclass
class Pod:
    """The seed's pod default/myweb2: its sandbox (pause) and containers myweb2-nginx and myweb2-netshoot."""
    namespace: str
    name: str
    uid: str
    qos: str
    driver: str
    sandbox: Task
    containers: list[Task]

    @property
    def tasks(self) -> list[Task]:
        return [self.sandbox, *self.containers]


def myweb2(driver: str, qos: str, seed: str, pause_file: str, seconds: str) -> Pod:
    """The tasks of pod default/myweb2 (not started): ids, names, argv and cgroup paths."""
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nstutor-cri-{seed}"))
    path = systemd_cgroup if driver == "systemd" else cgroupfs_cgroup
    sid, nid, tid = (container_id(f"{seed}-{n}") for n in ("sandbox", "nginx", "netshoot"))
    sandbox = Task(sid, "sandbox", None, None, [pause_file, seconds], path(uid, qos, sid))
    nginx = Task(nid, "container", "myweb2-nginx", "docker.io/library/nginx:latest",
                 ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], path(uid, qos, nid))
    netshoot = Task(tid, "container", "myweb2-netshoot", "docker.io/nicolaka/netshoot:latest",
                    ["/bin/bash", "-c", NETSHOOT_LOOP], path(uid, qos, tid))
    return Pod("default", "myweb2", uid, qos, driver, sandbox, [nginx, netshoot])


def start_pod(node: Node, pod: Pod, spawn, seconds: str, pause_file: str) -> None:
    """Start the pod's processes, each already in its cgroup when it execs (as runc puts it there)."""
    dirs = {t.id: node.make_cgroup(t.cgroup) for t in pod.tasks}
    enter = 'echo $$ > "$CG/cgroup.procs" && '
    nginx, netshoot = pod.containers
    # bash execs each, so the Popen's pid is the main process; nginx's master has a worker child.
    started = {
        pod.sandbox.id: spawn(["bash", "-c", enter + 'exec "$0" "$@"', pause_file, seconds],
                              env={**os.environ, "CG": dirs[pod.sandbox.id]}),
        nginx.id: spawn(["bash", "-c", enter + f'sleep {seconds} & exec -a "{NGINX_TITLE}" sleep {seconds}'],
                        env={**os.environ, "CG": dirs[nginx.id]}),
        netshoot.id: spawn(["bash", "-c", enter + 'exec /bin/bash -c "$0"', NETSHOOT_LOOP],
                           env={**os.environ, "CG": dirs[netshoot.id]}),
    }
    wanted = {pod.sandbox.id: f"{pause_file} {seconds}", nginx.id: f"{NGINX_TITLE} {seconds}",
              netshoot.id: f"/bin/bash -c {NETSHOOT_LOOP}"}
    for task in pod.tasks:
        pid = started[task.id].pid
        wait_until(lambda: _cmdline(pid) == wanted[task.id], what=f"{task.name or 'the pause'} to start")
        task.pid = pid


def write_pod_records(node: Node, pod: Pod, sandbox_uid_annotation: bool = True) -> None:
    """The three task bundles as containerd's CRI plugin (1.6/1.7) writes them for this pod."""
    sandbox = pod.sandbox
    log_dir = f"/var/log/pods/{pod.namespace}_{pod.name}_{pod.uid}"
    annotations = {"io.kubernetes.cri.container-type": "sandbox",
                   "io.kubernetes.cri.sandbox-id": sandbox.id,
                   "io.kubernetes.cri.sandbox-namespace": pod.namespace,
                   "io.kubernetes.cri.sandbox-name": pod.name,
                   "io.kubernetes.cri.sandbox-log-directory": log_dir}
    if sandbox_uid_annotation:
        annotations["io.kubernetes.cri.sandbox-uid"] = pod.uid
    node.write_bundle(sandbox, annotations, cgroups_path_in_spec(pod.driver, pod.uid, pod.qos, sandbox.id),
                      sandbox_namespaces(f"/var/run/netns/{netns_name(sandbox.id)}"), hostname=pod.name,
                      pid=sandbox.pid)
    for task in pod.containers:
        annotations = {"io.kubernetes.cri.container-type": "container",
                       "io.kubernetes.cri.sandbox-id": sandbox.id,
                       "io.kubernetes.cri.sandbox-namespace": pod.namespace,
                       "io.kubernetes.cri.sandbox-name": pod.name,
                       "io.kubernetes.cri.container-name": task.name,
                       "io.kubernetes.cri.image-name": task.image}
        if sandbox_uid_annotation:
            annotations["io.kubernetes.cri.sandbox-uid"] = pod.uid
        node.write_bundle(task, annotations, cgroups_path_in_spec(pod.driver, pod.uid, pod.qos, task.id),
                          container_namespaces(sandbox.pid), pid=task.pid)


def copy_pause(directory) -> str:
    """A copy of sleep named pause (comm "pause", as the pause image's /pause is)."""
    path = os.path.join(str(directory), "pause")
    shutil.copy("/bin/sleep", path)
    return path


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(a.decode(errors="replace") for a in f.read().rstrip(b"\0").split(b"\0"))
    except OSError:
        return ""
