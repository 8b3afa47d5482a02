"""View 8 (Isolation): the hostname, root, mounts, SysV shm, user ids and CPU limits that the part-1
lessons build, shown from real namespaces and a real cgroup, with the lesson's rows marked."""
from __future__ import annotations

import pytest
from rich.console import Console

from kinds_process_support import number, wait_proc
from test_kinds_process_cgroup import cpu_cgroup  # noqa: F401 - a fixture
from tutor.app.panel.focus import Focus
from tutor.app.panel import view_for_key
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root


def shown(snap, focus=None, width=120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(view_for_key("8").render(snap, None, focus, width))
    return console.export_text()


def test_isolation_view_shows_what_the_part_one_lessons_build(spawn, uid, cpu_cgroup, tmp_path):  # noqa: F811
    n = number(uid, 8)
    spawn(f"unshare --uts --ipc --mount --propagation private sh -c 'hostname box-{uid}; ipcmk -M 4096 >/dev/null; "
          f"mount -t tmpfs none /mnt; exec sleep {n}'", shell=True)
    spawn(f"unshare --user --map-root-user sleep {n}1")
    spawn(f"chroot / sleep {n}2")            # a root that is the host's own / does not count as a chroot
    busy = spawn(["sh", "-c", "while :; do :; done", f"busy-{uid}"])
    pid, = wait_proc(f"^sleep {n}$")
    wait_proc(f"^sleep {n}1$")
    path, directory = cpu_cgroup(20)
    with open(f"{directory}/cgroup.procs", "w") as f:
        f.write(str(busy.pid))
    first = take_snapshot()
    snap = take_snapshot(first)
    focus = Focus(processes=(f"^sleep {n}$",))
    text = shown(snap, focus)
    text = " ".join(text.split())                                   # columns are padded to the panel's width
    uts = snap.processes[pid].ns["uts"]
    assert f"▸ uts {uts} box-{uid} (pid {pid} sleep {n})" in text
    assert f"▸ mnt {snap.processes[pid].ns['mnt']} 1 mount the host has not" in text
    assert "▸ /mnt none tmpfs" in text
    assert f"▸ ipc {snap.processes[pid].ns['ipc']} key" in text and "4096 bytes" in text
    assert "uid map 0 0 1 gid map 0 0 1 (pid" in text            # root inside is root outside here
    assert f"{path} 20% of one CPU" in text and "1 process; " in text and "of a CPU in the last sample" in text
    assert f"sleep {n}2" not in text                                # chroot / changes nothing


def test_isolation_view_of_a_quiet_machine_says_what_is_absent():
    text = shown(take_snapshot())
    assert "HOSTNAMES" in text and "(host)" in text
    assert "CPU LIMITS" in text


def test_a_pivot_root_shows_as_a_root(spawn, uid, tmp_path):
    """After pivot_root, readlink /proc/PID/root says "/": the view reads the namespace's mount table."""
    import shutil
    root = tmp_path / "nstutor-root"
    for d in ("bin", "old", "lib", "lib64", "usr"):
        (root / d).mkdir(parents=True)
    n = number(uid, 12)
    spawn(f"unshare --mount --propagation private sh -c 'mount --bind {root} {root} && cd {root} && "
          f"mount --rbind /usr usr && mount --rbind /lib lib && mount --rbind /lib64 lib64 && "
          f"cp /bin/sleep bin/ && pivot_root . old && exec /bin/sleep {n}'", shell=True)
    pid, = wait_proc(f"^/bin/sleep {n}$")
    text = " ".join(shown(take_snapshot(), Focus(processes=(f"^/bin/sleep {n}$",))).split())
    assert f"▸ pid {pid} /bin/sleep {n}: / is {root} of" in text, text
    assert "[kdevtmpfs]" not in text
    shutil.rmtree(root, ignore_errors=True)
