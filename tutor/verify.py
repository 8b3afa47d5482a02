"""`nstutor verify-lesson`: prove on the real machine that a lesson works as written.

For each lesson: run its cleanup (and setup), confirm every step fails, run each
step's solution in turn and confirm that step now passes and every earlier
step still passes, run the cleanup, and confirm the machine is as it was:
no netns, host link, host mount, cgroup, declared path, firewall rule, process, container, pod
or declared image left behind. What a container engine keeps for itself once it has run a
container (docker0, its cgroup parent, its CNI chains) is not a lesson's leftover.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checks.runner import StepResult, grade_step, needs_cpu_rate, wants_of_steps
from .lessons.cleanup import CGROUP_ROOTS, present_engine_objects, run_cleanup
from .lessons.model import Lesson
from .lessons.scripts import ActionLog, run_script
from .lessons.setup import run_setup
from .lessons.trust import shell_refusal
from .i18n import _
from . import observe
from .observe.model import engine_of_link
from .observe.firewall import ruleset_lines
from .observe.netns import RUN_NETNS
from .observe.nsfacts import unescape
from .observe.procfs import proc_path, read_stat

PASS_DEADLINE_S = 15.0


@dataclass
class LessonReport:
    lesson: str
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    refused: str | None = None      # skipped because its pack is not trusted (said with how to trust it)

    @property
    def ok(self) -> bool:
        return not self.failures and self.skipped is None

    def say(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, text: str) -> None:
        self.failures.append(text)
        self.lines.append(f"FAIL {text}")


# --------------------------------------------------------------- machine fingerprint
def _listdir(path: str) -> set[str]:
    try:
        return set(os.listdir(path))
    except OSError:
        return set()


@dataclass(frozen=True)
class HostMount:
    """One mount of the host's table. Equal only to itself (the kernel's mount id): a second tmpfs
    stacked on a mount point that existed before is a new mount, not the old one."""
    mount_id: int
    target: str
    fstype: str

    def __str__(self) -> str:
        return f"{self.target} ({self.fstype})"


def host_mounts(mountinfo: str, netns_names: set[str]) -> set[HostMount]:
    """The mounts in *mountinfo* (a /proc/PID/mountinfo text) that a lesson could leave behind.

    Two kinds are not counted here. iproute2's own /run/netns: on first use `ip netns add` binds
    the directory on itself (and makes it shared) and never takes it away, so a VM that never ran
    `ip netns add` gains it during any netns lesson. And the nsfs mount of each netns named in
    *netns_names* (/run/netns/NAME): the netns itself is compared and reported by name. Anything
    else is counted, on /run/netns too: another filesystem or directory mounted there, a netns file
    whose name is not listed, an nsfs mount somewhere else that keeps a deleted netns alive.
    """
    rows: dict[int, tuple[int, str, str, str, str]] = {}
    for line in mountinfo.splitlines():
        parts = line.split(" ")  # ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        try:
            sep = parts.index("-", 6)
            rows[int(parts[0])] = (int(parts[1]), parts[2], unescape(parts[3]), unescape(parts[4]), parts[sep + 1])
        except (ValueError, IndexError):
            continue
    out = set()
    for mount_id, (parent_id, dev, root, target, fstype) in rows.items():
        if target == RUN_NETNS and _binds_itself(rows.get(parent_id), dev, root):
            continue
        if fstype == "nsfs" and os.path.dirname(target) == RUN_NETNS and os.path.basename(target) in netns_names:
            continue
        out.add(HostMount(mount_id, target, fstype))
    return out


def _binds_itself(parent, dev: str, root: str) -> bool:
    """Is this mount on /run/netns the very directory it covers (iproute2's `mount --bind /run/netns
    /run/netns`)? Then it is of its parent's filesystem (same device), and its root is the path of
    /run/netns inside that filesystem. Also true for a self-bind stacked on a self-bind."""
    if parent is None:
        return False
    _id, parent_dev, parent_root, parent_target, _rest = parent
    below = os.path.relpath(RUN_NETNS, parent_target)
    if parent_dev != dev or below.startswith(".."):
        return False
    return os.path.normpath(os.path.join(parent_root, below)) == root


def fingerprint(lesson: Lesson) -> dict[str, set]:
    """What a lesson could leave behind, as sets (of names, or of HostMount), to compare before and after."""
    netns = _listdir(RUN_NETNS)
    mounts = host_mounts(Path(proc_path("self", "mountinfo")).read_text(), netns)
    cgroups = set()
    for root in CGROUP_ROOTS:
        cgroups |= {f"{root}/{d}" for d in _listdir(root) if os.path.isdir(f"{root}/{d}")}
    paths = {p for p in map(str, lesson.cleanup.get("paths", [])) if os.path.lexists(p)}
    return {"netns": netns, "host links": _listdir("/sys/class/net"),
            "host mounts": mounts, "cgroups": cgroups, "paths": paths,
            # iptables rules a lesson's commands add (a MASQUERADE, a FORWARD ACCEPT on a Docker host)
            "firewall rules": ruleset_lines(),
            # containers and pods of the engines the lesson requires, and the images it declares
            "containers, pods and images": engine_objects(lesson)}


ENGINE_LISTS = {"docker": [("container", ["docker", "ps", "-a", "--format", "{{.Names}}"])],
                "podman": [("container", ["podman", "ps", "-a", "--format", "{{.Names}}"]),
                           ("pod", ["podman", "pod", "ps", "--format", "{{.Name}}"])]}


def engine_objects(lesson: Lesson) -> set[str]:
    """'docker container web', 'podman pod podweb', 'podman image localhost/nstutor-box': what the
    engines the lesson requires hold now (for containers and pods: all of them, so one a solution
    made without declaring it shows too)."""
    out: set[str] = set()
    for engine, lists in ENGINE_LISTS.items():
        if engine not in lesson.requires or not shutil.which(engine):
            continue
        for what, cmd in lists:
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if res.returncode == 0:
                out |= {f"{engine} {what} {name}" for name in res.stdout.split()}
    for item in present_engine_objects(lesson.cleanup, "images"):
        out.add(f"{item['engine']} image {item['name']}")
    return out


# --------------------------------------------------------------- what an engine keeps for itself
#: What a container engine makes once, for itself, the first time it runs a container, and keeps
#: (until it stops, or for good): not the lesson's, so not a leftover of a lesson that requires the
#: engine. Per-container objects (its veth, its netns, its CNI chain) are not here: they go with it.
ENGINE_CGROUPS = {"docker": ("docker",), "podman": ("libpod_parent", "machine.slice")}
ENGINE_RULES = {"docker": re.compile(r"DOCKER"), "podman": re.compile(r"CNI-FORWARD|CNI-ADMIN|NETAVARK")}
PODMAN_ROOTS = ("/var/lib/containers/storage", "/run/containers/storage", "/run/libpod")


def dockerd_roots() -> tuple[str, ...]:
    """The data and exec roots of the dockerds running here (from their command lines; Docker's
    defaults when not given): the nsfs mount of its host-network sandbox lives there."""
    roots = []
    for entry in _listdir(proc_path()):
        if not entry.isdigit():
            continue
        try:
            argv = Path(proc_path(entry, "cmdline")).read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or os.path.basename(argv[0].decode(errors="replace")) != "dockerd":
            continue
        args = [a.decode(errors="replace") for a in argv[1:]]
        for option, default in (("--data-root", "/var/lib/docker"), ("--exec-root", "/run/docker")):
            value = next((a.split("=", 1)[1] for a in args if a.startswith(option + "=")), None)
            if value is None and option in args and args.index(option) + 1 < len(args):
                value = args[args.index(option) + 1]
            roots.append(value or default)
    return tuple(roots) or ("/var/lib/docker", "/run/docker")


def engine_owned(lesson: Lesson, kind: str, item) -> bool:
    """Is *item* (of the fingerprint's *kind*) something an engine the lesson requires keeps for itself?"""
    engines = [e for e in ("docker", "podman") if e in lesson.requires]
    for engine in engines:
        if kind == "host links" and engine_of_link(str(item)) == engine:
            return True
        if kind == "cgroups" and os.path.basename(str(item)) in ENGINE_CGROUPS[engine]:
            return True
        if kind == "firewall rules" and ENGINE_RULES[engine].search(str(item)):
            return True
        if kind == "host mounts":
            roots = dockerd_roots() if engine == "docker" else PODMAN_ROOTS
            if any(item.target == r or item.target.startswith(r.rstrip("/") + "/") for r in roots):
                return True
    return False


def _session_processes(sids: set[int]) -> list[str]:
    """Live processes still in the sessions our solution scripts started."""
    out = []
    for entry in _listdir(proc_path()):
        stat = read_stat(entry) if entry.isdigit() else None
        if stat is not None and not stat.is_zombie and stat.session in sids:
            out.append(f"{stat.comm} (pid {entry})")
    return out


# --------------------------------------------------------------- grading with a deadline
def _grade_all(lesson: Lesson, previous=None):
    snap = observe.take_snapshot(previous, wants_of_steps(lesson.steps))
    return snap, {s.id: grade_step(s, snap) for s in lesson.steps}


def _wait_for_pass(lesson: Lesson, upto: int) -> tuple[dict[str, StepResult], float]:
    """Re-grade until steps 0..upto all pass or the deadline passes; returns the last results."""
    started = time.monotonic()
    interval = 1.0 if needs_cpu_rate(lesson.steps[: upto + 1]) else 0.2
    snap = None
    while True:
        snap, results = _grade_all(lesson, snap)
        if all(results[s.id].passed for s in lesson.steps[: upto + 1]):
            return results, time.monotonic() - started
        if time.monotonic() - started > PASS_DEADLINE_S:
            return results, time.monotonic() - started
        time.sleep(interval)


def _why(result: StepResult) -> str:
    return "; ".join(result.reasons) or "no reason given"


# --------------------------------------------------------------- the procedure
def verify_lesson(lesson: Lesson, echo=print) -> LessonReport:
    report = LessonReport(lesson.id)
    missing = lesson.missing_requirements()
    if missing:
        report.skipped = "; ".join(missing)
        echo(f"SKIP {lesson.id}: {report.skipped}")
        return report
    refused = shell_refusal(lesson, _("its solutions"))
    if refused is not None:
        report.skipped = report.refused = refused
        echo(f"SKIP {lesson.id}: {report.skipped}")
        return report
    echo(f"== {lesson.id}: {lesson.title}")

    def note_log(log: ActionLog, what: str) -> None:
        for err in log.errors:
            report.fail(f"{what}: {err}")

    note_log(run_cleanup(lesson), "cleanup before")
    before = fingerprint(lesson)

    def setup_line(line: str) -> None:
        echo(f"  setup: {line}")
        if echo is print:
            sys.stdout.flush()         # as it happens, even into a pipe

    if lesson.setup:
        setup_line("running the lesson's setup script")
    note_log(run_setup(lesson, progress=setup_line), "setup")

    _snap, results = _grade_all(lesson)
    for step in lesson.steps:
        if results[step.id].passed:
            report.fail(f"step '{step.id}' passes before its solution ran (the check cannot fail?)")
        else:
            report.say(f"ok   {step.id}: fails before its solution, as it should")

    sids: set[int] = set()
    for index, step in enumerate(lesson.steps):
        log = ActionLog()
        started = time.monotonic()
        sid = run_script(step.solution, log, f"solution of '{step.id}'")
        ran = time.monotonic() - started
        if sid:
            sids.add(sid)
        note_log(log, f"step '{step.id}'")
        results, waited = _wait_for_pass(lesson, index)
        if results[step.id].passed:
            after = "passed at once" if waited < 0.05 else f"passed {waited:.1f} s later"
            report.say(f"ok   {step.id}: passes after its solution (solution {ran:.1f} s, {after})")
        else:
            report.fail(f"step '{step.id}' still fails after its solution: {_why(results[step.id])}")
        for earlier in lesson.steps[:index]:
            if not results[earlier.id].passed:
                report.fail(f"step '{earlier.id}' broke after the solution of '{step.id}': "
                            f"{_why(results[earlier.id])}")

    note_log(run_cleanup(lesson), "cleanup after")
    deadline = time.monotonic() + 5
    while True:
        after = fingerprint(lesson)
        leftovers = {k: sorted({str(x) for x in after[k] - before[k] if not engine_owned(lesson, k, x)})
                     for k in after}
        leftovers = {k: names for k, names in leftovers.items() if names}
        stray = _session_processes(sids)
        if (not leftovers and not stray) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for kind, names in leftovers.items():
        report.fail(f"cleanup left {kind} behind: {', '.join(names)}")
    if stray:
        report.fail(f"cleanup left processes behind: {', '.join(stray)}")
    if not leftovers and not stray:
        report.say("ok   cleanup leaves the machine as it found it")
    for line in report.lines:
        echo(f"  {line}")
    echo(f"{'PASS' if report.ok else 'FAIL'} {lesson.id}")
    return report
