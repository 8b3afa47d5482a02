"""Lesson cleanup: with setup (setup.py), the only code (besides probes) that changes the machine.

A lesson declares what it makes in its front matter:

    cleanup:
      netns: [RED, BLUE]                 # ip netns del
      links: [nsbr0]                     # links in the host netns: ip link del
      processes: ['^sleep 1003$']        # selectors (see tutor.checks.select): SIGTERM, then SIGKILL
      mounts: [/mnt/nstutor-private]     # host mount points: umount
      cgroups: [nstutor-cpu]             # cgroup directories (v1 cpu/cpuacct or v2): rmdir
      paths: [/tmp/nstutor-root]         # files or directories: removed
      containers: [{engine: docker, name: web}]        # docker rm -f / podman rm -f
      pods: [{engine: podman, name: podweb}]           # podman pod rm -f
      images: [{engine: docker, name: nstutor-box}]    # docker rmi / podman rmi (names contain "nstutor")
      script: |                          # shell, run last; shipped (trusted) lessons only
        iptables -t nat -D POSTROUTING -s 10.22.0.0/24 -j MASQUERADE 2>/dev/null || true

Cleanup only ever touches what is declared, and refuses cgroups, paths and images whose
names do not contain "nstutor", so a typo in a lesson can never remove a
learner's own files. Containers and pods are removed through their engine's CLI (cleanup is
explicit, so it may), each only after the engine has confirmed that an object with exactly
that name exists (never an id prefix that happens to look like the name); an engine that is
not installed or not running has nothing to remove, and says nothing.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..checks.select import name, select
from ..i18n import _, ngettext
from ..texts import words
from .. import observe
from ..observe.procfs import proc_path, same_process
from .cleanup_words import cleanup_phrases
from .model import Lesson
from .requirements import ENGINES
from .scripts import ActionLog, run_script
from .trust import shell_refusal

CGROUP_ROOTS = ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct",
                "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
SAFE_MARK = "nstutor"


def _run(cmd: list[str], log: ActionLog, what: str, quiet_missing: bool = True, timeout: float = 30) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode == 0:
        log.done.append(what)
    elif not (quiet_missing and _is_missing(res.stderr)):
        log.errors.append(_("{what}: {error}").format(
            what=what, error=res.stderr.strip() or _("exit {code}").format(code=res.returncode)))


def _is_missing(stderr: str) -> bool:
    text = stderr.lower()
    return any(s in text for s in ("no such file", "cannot find device", "does not exist", "not mounted",
                                   "no such device", "invalid argument", "no mount point specified"))


def kill_processes(selectors: list, log: ActionLog, timeout: float = 3.0) -> None:
    snap = observe.take_snapshot()
    victims = {p.pid: p for sel in selectors for p in select(snap, sel)}
    for pid, why in _untouchable(snap, victims).items():
        # lint refuses selectors that broad; this holds for one it could not foresee
        log.errors.append(_("did not stop {process}: {reason}").format(process=name(victims.pop(pid)), reason=why))
    if victims:     # said before they go: which ones, so a learner sees their `sleep 1003` was one
        shown = [name(p) for p in list(victims.values())[:4]]
        more = len(victims) - 4
        listed = ngettext("{processes} and {count} more process", "{processes} and {count} more processes",
                          more).format(processes=", ".join(shown), count=more) if more > 0 else words(shown)
        log.done.append(ngettext("stopped the process {processes}", "stopped the processes {processes}",
                                 len(victims)).format(processes=listed))
    for pid in victims:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while victims and time.monotonic() < deadline:
        victims = {pid: p for pid, p in victims.items() if same_process(pid, p.start_ticks)}
        if victims:
            time.sleep(0.05)
    for pid in victims:
        _signal(pid, signal.SIGKILL)


def _untouchable(snap, chosen: dict) -> dict[int, str]:
    """Of the processes a cleanup selected, those reset never signals, with the reason: the
    machine's init, a kernel thread, and the chain of processes this reset runs under (the
    learner's shell, sudo, tmux, the app)."""
    ancestors, pid = set(), os.getppid()
    while pid > 1 and pid not in ancestors and pid in snap.processes:
        ancestors.add(pid)
        pid = snap.processes[pid].ppid
    out = {}
    for pid, proc in chosen.items():
        if pid == 1:
            out[pid] = _("it is the machine's init (pid 1)")
        elif not proc.cmdline:
            out[pid] = _("it is a kernel thread")
        elif pid in ancestors:
            out[pid] = _("this reset runs under it (your shell, or what started it)")
    return out


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def cgroup_dirs(name: str) -> list[Path]:
    """Every directory for cgroup *name* (it may exist in several v1 hierarchies and in v2), each
    once: under systemd /sys/fs/cgroup/cpu is a symbolic link to cpu,cpuacct."""
    name = name.strip("/")
    out, seen = [], set()
    for root in CGROUP_ROOTS:
        path = Path(root) / name
        if path.is_dir() and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            out.append(path)
    return out


def mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount nstutor's own mount namespace has, in the
    table's order: the one place cleanup reads /proc/self/mountinfo."""
    out = []
    with open(proc_path("self", "mountinfo")) as f:
        for line in f:
            fields = line.split()
            out.append((fields[4].replace("\\040", " "), fields[fields.index("-") + 1]))
    return out


def filesystem_of(path: Path) -> str:
    """The type of the filesystem *path* is on (from the mount table: the longest mount point above it,
    once symbolic links are resolved: /sys/fs/cgroup/cpu may be a link on the tmpfs to cpu,cpuacct)."""
    best, fstype = "", ""
    target = os.path.realpath(path)
    for point, kind in mounts():
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, kind
    return fstype


def remove_cgroup(name: str, log: ActionLog) -> None:
    if SAFE_MARK not in name:
        log.errors.append(_("refusing to remove the cgroup {name}: lesson cgroups must contain '{mark}'").format(
            name=name, mark=SAFE_MARK))
        return
    for path in cgroup_dirs(name):
        if filesystem_of(path) not in ("cgroup", "cgroup2"):
            # e.g. the v2 command typed on a v1/hybrid host: mkdir made a plain directory on the
            # tmpfs at /sys/fs/cgroup, and echo made plain files in it. Not a cgroup: remove it.
            remove_path(str(path), log)
            continue
        # children first (rmdir only works on empty cgroups)
        for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            _rmdir(child, log)
        _rmdir(path, log)


def _rmdir(path: Path, log: ActionLog) -> None:
    try:
        path.rmdir()
        log.done.append(_("removed cgroup {path}").format(path=path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.errors.append(_("could not remove cgroup {path}: {error} (a process is still in it?)").format(
            path=path, error=exc.strerror))


def remove_path(raw: str, log: ActionLog) -> None:
    path = Path(raw)
    if SAFE_MARK not in raw or not path.is_absolute() or path == Path("/"):
        log.errors.append(_("refusing to remove {path}: lesson paths must be absolute and contain '{mark}'").format(
            path=raw, mark=SAFE_MARK))
        return
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            _unmount_below(path, log)
            shutil.rmtree(path)
        else:
            return
        log.done.append(_("removed {path}").format(path=path))
    except OSError as exc:
        log.errors.append(_("could not remove {path}: {error}").format(path=path, error=exc.strerror or exc))


def _unmount_below(path: Path, log: ActionLog) -> None:
    """Never rmtree across a mount point (e.g. a chroot's /proc): unmount what is mounted on and below
    *path* first, deepest first."""
    top = str(path.resolve())
    prefix = top + "/"
    # the path itself too (a stray host mount)
    targets = [target for target, _fstype in mounts() if target.startswith(prefix) or target == top]
    for target in sorted(targets, key=len, reverse=True):
        _run(["umount", "-l", target], log, _("unmounted {path}").format(path=target))


# --------------------------------------------------------------- containers, pods and images
ENGINE_KEYS = ("containers", "pods", "images")
#: (engine, key) -> the inspect command and the template that prints "ID NAME"
_INSPECT = {
    ("docker", "containers"): (["docker", "container", "inspect", "-f", "{{.Id}} {{.Name}}"], "/"),
    ("podman", "containers"): (["podman", "container", "inspect", "-f", "{{.Id}} {{.Name}}"], ""),
    ("podman", "pods"): (["podman", "pod", "inspect", "-f", "{{.Id}} {{.Name}}"], ""),
}
_REMOVE = {
    ("docker", "containers"): ["docker", "rm", "-f"],
    ("podman", "containers"): ["podman", "rm", "-f", "-t", "0"],
    ("podman", "pods"): ["podman", "pod", "rm", "-f", "-t", "0"],
    ("docker", "images"): ["docker", "rmi"],
    ("podman", "images"): ["podman", "rmi"],
}
ENGINE_TIMEOUT_S = 60


def engine_items(spec, key: str) -> list[tuple[str, str]]:
    """(engine, name) of each well-formed entry of cleanup.<key> (lint reports the others)."""
    out = []
    for item in spec.get(key) or ():
        if isinstance(item, dict) and str(item.get("engine")) in ENGINES and item.get("name"):
            out.append((str(item["engine"]), str(item["name"])))
    return out


def _usable(engine: str, cache: dict[str, bool]) -> bool:
    if engine not in cache:
        cache[engine] = ENGINES[engine]() is None
    return cache[engine]


def engine_object_id(engine: str, key: str, name: str) -> str | None:
    """The id of the engine's container/pod named exactly *name* (the image: its name), or None."""
    try:
        if key == "images":
            res = subprocess.run([engine, "image", "inspect", "-f", "{{.Id}}", name],
                                 capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
            return name if res.returncode == 0 and res.stdout.strip() else None
        cmd, prefix = _INSPECT[(engine, key)]
        res = subprocess.run([*cmd, name], capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired, KeyError):
        return None
    for line in res.stdout.splitlines() if res.returncode == 0 else ():
        ident, _space, found = line.strip().partition(" ")
        if ident and found == prefix + name:
            return ident
    return None


def present_engine_objects(spec, key: str) -> list[dict]:
    """The entries of cleanup.<key> that exist now (reading only)."""
    usable: dict[str, bool] = {}
    return [{"engine": engine, "name": object_name} for engine, object_name in engine_items(spec, key)
            if _usable(engine, usable) and engine_object_id(engine, key, object_name)]


def remove_engine_objects(spec, log: ActionLog) -> None:
    """Containers first (a pod's own go with it, but a lone one named like a pod member too), then
    pods, then images (an image still used by a container is left, and that is said)."""
    usable: dict[str, bool] = {}
    for key in ENGINE_KEYS:
        for engine, object_name in engine_items(spec, key):
            if key == "images" and SAFE_MARK not in object_name:
                log.errors.append(_("refusing to remove the image {name}: lesson images must contain '{mark}'").format(
                    name=object_name, mark=SAFE_MARK))
                continue
            if (engine, key) not in _REMOVE or not _usable(engine, usable):
                continue
            ident = engine_object_id(engine, key, object_name)
            if ident is None:
                continue
            what = _removed_engine_object(key).format(engine=engine, name=object_name)
            try:
                _run([*_REMOVE[(engine, key)], ident], log, what, timeout=ENGINE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.errors.append(_("{what}: {engine} did not finish within {seconds} s").format(
                    what=what, engine=engine, seconds=ENGINE_TIMEOUT_S))


def _removed_engine_object(key: str) -> str:
    if key == "containers":
        return _("removed the {engine} container {name}")
    if key == "pods":
        return _("removed the {engine} pod {name}")
    return _("removed the {engine} image {name}")


#: The keys of a cleanup declaration that name objects (the script does not: it may find nothing)
OBJECT_KEYS = ("netns", "links", "processes", "mounts", "cgroups", "paths") + ENGINE_KEYS


def names_objects(spec) -> bool:
    """Does this (cut-down, see cleanup_present) declaration name any object to remove?"""
    return any(spec.get(key) for key in OBJECT_KEYS)


def cleanup_present(lesson: Lesson) -> dict:
    """The lesson's cleanup declaration cut down to what is on the machine now (its script, which
    may remove rules nobody can list beforehand, is kept, unless it may not run: an untrusted
    pack's): a reset question names only what it would really remove. Reading only: this looks, it
    changes nothing."""
    spec = dict(lesson.cleanup or {})
    if spec.get("script") and shell_refusal(lesson, "") is not None:
        del spec["script"]
    lists = {key: [str(v) for v in spec.get(key) or ()] for key in ("netns", "links", "cgroups", "paths", "mounts")}
    mounted = {target for target, _fstype in mounts()} if lists["mounts"] else set()
    present = {
        "netns": [n for n in lists["netns"] if os.path.lexists(f"/run/netns/{n}")],
        "links": [n for n in lists["links"] if os.path.lexists(f"/sys/class/net/{n}")],
        "cgroups": [n for n in lists["cgroups"] if cgroup_dirs(n)],
        "paths": [p for p in lists["paths"] if os.path.lexists(p)],
        "mounts": [m for m in lists["mounts"] if m in mounted],
    }
    for key, names in present.items():
        if spec.get(key):
            spec[key] = names
    for key in ENGINE_KEYS:
        if spec.get(key):
            spec[key] = present_engine_objects(spec, key)
    if spec.get("processes"):
        snap = observe.take_snapshot()
        spec["processes"] = [sel for sel in spec["processes"] if select(snap, sel)]
    return spec


def cleanup_summary(lesson: Lesson, spec: dict | None = None) -> str:
    """What reset removes, in words, one line per kind of thing the lesson's cleanup declares (see
    cleanup_words), then the commands of its cleanup script, so a learner sees that firewall rules
    they added go too. *spec*: a cut-down declaration (cleanup_present) instead of the lesson's."""
    spec = (lesson.cleanup or {}) if spec is None else spec
    lines = [f"  - {phrase}" for phrase in cleanup_phrases(spec)]
    script = script_commands(str(spec.get("script") or ""))
    if script:
        lines.append("  - " + (_("and runs these commands (the lesson's cleanup script):") if lines
                               else _("runs these commands (the lesson's cleanup script):")))
        lines.extend(f"      {l}" for l in script[:8])
        if len(script) > 8:
            more = len(script) - 8
            lines.append("      " + ngettext("... (and {count} more line)", "... (and {count} more lines)",
                                             more).format(count=more))
    return "\n".join(lines) if lines else "  " + _("(this lesson declares nothing to remove)")


_QUIET = re.compile(r"\s*(?:\|\|\s*true|[12&]?>\s*/dev/null(?:\s+2>&1)?|2>&1)(?=\s|;|$)")
_UNTIL_GONE = re.compile(r"^while\s+(.+?);\s*do\s*:;\s*done$")


def script_commands(script: str) -> list[str]:
    """The commands of a cleanup script as a person reads them: without comments, blank lines,
    `2>/dev/null` and `|| true` (they only keep the script quiet), and `while CMD; do :; done`
    (delete a rule as often as it was added) said in words."""
    out = []
    for line in script.splitlines():
        line = _QUIET.sub("", line.strip()).strip()
        if not line or line.startswith("#") or line == "true":
            continue
        loop = _UNTIL_GONE.match(line)
        out.append(f"{loop.group(1)}   " + _("(repeated, so every copy goes)") if loop else line)
    return out


def refused_cleanup(lesson: Lesson) -> str | None:
    """Why reset removes nothing a lesson's cleanup names, when lint refuses that cleanup."""
    if not lesson.cleanup_refused:
        return None
    return _("the cleanup of lesson {lesson} is not used, because it is malformed ({problem}), so reset "
             "removes nothing it names; the lesson's author can see every problem with: {command}").format(
        lesson=lesson.label, problem=lesson.cleanup_refused[0], command=f"nstutor lint {lesson.path}")


def run_cleanup(lesson: Lesson) -> ActionLog:
    """Remove exactly what the lesson declares. Safe to run when nothing is there."""
    log = ActionLog()
    refused = refused_cleanup(lesson)
    if refused:
        log.errors.append(refused)
    spec = lesson.cleanup or {}
    remove_engine_objects(spec, log)        # first: a container's processes are its engine's to stop
    kill_processes(list(spec.get("processes", [])), log)
    for target in spec.get("mounts", []):
        _run(["umount", "-l", str(target)], log, _("unmounted {path}").format(path=target))
    for name in spec.get("netns", []):
        if Path(f"/run/netns/{name}").exists():
            _run(["ip", "netns", "del", str(name)], log, _("deleted the network namespace {name}").format(name=name))
    for name in spec.get("links", []):
        if Path(f"/sys/class/net/{name}").exists():
            _run(["ip", "link", "del", str(name)], log, _("deleted the link {name}").format(name=name))
    for name in spec.get("cgroups", []):
        remove_cgroup(str(name), log)
    for raw in spec.get("paths", []):
        remove_path(str(raw), log)
    if spec.get("script"):
        refused = shell_refusal(lesson, _("its cleanup script"))
        if refused is None:
            script = ActionLog()
            run_script(str(spec["script"]), script, "the cleanup script")
            log.done += [_("ran the cleanup script")] * len(script.done)
            log.errors += script.errors
        else:
            log.errors.append(refused)
    return log


def find_strays(lesson: Lesson) -> list:
    """The learner's strays of *lesson* on the machine now: near misses its checks recognise
    (netns Hello for hello, a wrong MASQUERADE rule, a file made in the host), each with its argv."""
    from ..checks.runner import wants_of_steps
    from ..checks.strays import lesson_strays
    return lesson_strays(lesson, observe.take_snapshot(wants=wants_of_steps(lesson.steps, probes=False)))


def remove_strays(lesson: Lesson, chosen: list, log: ActionLog) -> None:
    """Remove the strays the learner chose, each only if the lesson's checks still recognise it on a
    fresh snapshot (the machine may have changed while the learner read the question): reset never
    runs a command for anything it does not see, now, as a stray of this lesson."""
    if not chosen:
        return
    current = {stray.remove for stray in find_strays(lesson)}
    for stray in chosen:
        if stray.remove not in current:
            log.done.append(_("left {what}: it is no longer there as it was").format(what=stray.what))
            continue
        _run(list(stray.remove), log, _("removed {what} ({command})").format(what=stray.what, command=stray.command))
