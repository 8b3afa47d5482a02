"""Run inside a private mount namespace (`unshare --mount --propagation private`): rebuild
/sys/fs/cgroup as systemd leaves it on a hybrid machine, then run the cgroups lesson (renamed by
the caller) in it and print what happened as one JSON line.

systemd's hybrid layout (src/shared/mount-setup.c): a tmpfs at /sys/fs/cgroup, the cpu and cpuacct
controllers mounted together at /sys/fs/cgroup/cpu,cpuacct with `cpu` and `cpuacct` as symbolic
links to it, the v2 tree at /sys/fs/cgroup/unified, and at the end the tmpfs made read-only.

Every mount here is made in this process's own mount namespace, which the caller created with
private propagation: the host's /sys/fs/cgroup is never unmounted, remounted or covered. The
tmpfs is a new one (its own superblock), and it is made read-only with a bind remount, which
changes only this mount. The cgroup trees mounted here are the host's own hierarchies (the kernel
hands out the existing hierarchy for the same controllers), so a cgroup made here is a real
cgroup of the host, removed by the lesson's cleanup here and by the caller's teardown.

    python systemd_cgroup_layout.py LESSON.md CPU_OPTIONS HOST_MNT_NS CGROUP_NAME
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tutor.checks.runner import grade_step, wants_of_steps  # noqa: E402
from tutor.lessons import parse_lesson  # noqa: E402
from tutor.lessons.cleanup import run_cleanup  # noqa: E402
from tutor.observe import take_snapshot  # noqa: E402

ROOT = "/sys/fs/cgroup"


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def build_layout(cpu_options: str) -> None:
    run("umount", "-R", ROOT)                              # this namespace's copies only
    run("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", ROOT)
    os.mkdir(f"{ROOT}/cpu,cpuacct")
    run("mount", "-t", "cgroup", "-o", cpu_options, "cgroup", f"{ROOT}/cpu,cpuacct")
    os.symlink("cpu,cpuacct", f"{ROOT}/cpu")
    os.symlink("cpu,cpuacct", f"{ROOT}/cpuacct")
    os.mkdir(f"{ROOT}/unified")
    run("mount", "-t", "cgroup2", "cgroup2", f"{ROOT}/unified")
    run("mount", "-o", "remount,bind,ro", ROOT)           # this mount only, not a superblock


def bash(script: str) -> tuple[int, str]:
    """A lesson snippet as verify-lesson runs it: bash, its own session, output to a file."""
    with tempfile.TemporaryFile("w+") as out:
        res = subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True, timeout=60)
        out.seek(0)
        return res.returncode, out.read()[-2000:]


def main() -> None:
    lesson_path, cpu_options, host_mnt, name = sys.argv[1:]
    if os.readlink("/proc/self/ns/mnt") == host_mnt:
        sys.exit("refusing: not in a mount namespace of its own")
    build_layout(cpu_options)
    out: dict = {"findmnt": subprocess.run(["findmnt", "-no", "FSTYPE,OPTIONS", ROOT],
                                           capture_output=True, text=True).stdout.strip()}
    try:
        os.mkdir(f"{ROOT}/{name}")                         # the v2 line, typed on this machine
        out["v2_mkdir"] = "made"
        os.rmdir(f"{ROOT}/{name}")
    except OSError as exc:
        out["v2_mkdir"] = errno.errorcode.get(exc.errno, str(exc.errno))
    lesson, problems = parse_lesson(Path(lesson_path), trusted=True)
    assert problems == [], problems

    def grade(step_id: str):
        step = lesson.step(step_id)
        snap = take_snapshot(wants=wants_of_steps([step]))
        verdict = grade_step(step, snap, lesson=lesson)
        out.setdefault("layout", [snap.cgroups.mode, snap.cgroups.cpu_root])
        return {"passed": verdict.passed,
                "said": " | ".join(v.observed + " :: " + v.message for v in verdict.failures)}

    out["limit_before"] = grade("limit")
    out["solved"] = [bash(lesson.step(s).solution) for s in ("limit", "member")]
    out["limit"] = grade("limit")
    out["member"] = grade("member")
    out["proc_cgroup"] = [line for pid in os.listdir("/proc") if pid.isdigit()
                          for line in _cgroup_lines(pid, name)]
    log = run_cleanup(lesson)
    out["cleanup"] = {"ok": log.ok, "errors": log.errors, "done": log.done}
    out["left"] = [p for p in (f"{ROOT}/cpu/{name}", f"{ROOT}/cpu,cpuacct/{name}") if os.path.lexists(p)]
    print(json.dumps(out))


def _cgroup_lines(pid: str, name: str) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return []
    return [line for line in text.splitlines() if line.endswith("/" + name)]


if __name__ == "__main__":
    main()
