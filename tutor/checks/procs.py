"""Shared by the process and namespace kinds: "the process this check is about".

Most of these kinds are about one process, named at the top level of the
expectation with the same keys as a selector (tutor.checks.select):

    - pid1: {cmdline: '^sleep 1004$'}
    - hostname: {comm: sleep, cmdline: '1003', hostname: lab-box}
    - pid1: '^sleep 1004$'            # shorthand: a plain string is the cmdline pattern
    - process: {container: web-side, engine: docker, shared_with: ...}   # a container's main process

`ProcessExpectation` provides those fields; `pick()` turns a selector into
exactly one process or explains why not (none: which selector and the command
to look for it; several: names them). The rest are small helpers for
namespace facts and the commands that messages suggest.
"""
from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from ..i18n import _
from ..observe.model import ENGINES, Process, Snapshot, Wants
from ..texts import command_words, or_words
from . import containers
from .base import Expectation, Field, ProcessRef, Verdict, v_bool, v_engine_name, v_one_of, v_str
from .select import (CONTAINER_KEYS, comm_problem, describe_selector, is_container_selector, innermost, name, normalise, select,
                     selector_detail, selector_problem, the_selected)

# --------------------------------------------------------------- subject fields


def v_regex(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a regular expression, like '^sleep 1001$'"
    try:
        re.compile(value)
    except re.error as exc:
        return f"{value!r} is not a valid regular expression: {exc}"
    return None


SUBJECT_FIELDS: dict[str, Field] = {
    "comm": Field(comm_problem, doc="the process's kernel name (/proc/PID/comm, at most 15 characters), e.g. pause"),
    "cmdline": Field(v_regex, doc="a regular expression searched in its command line, e.g. '^sleep 1001$'"),
    "container": Field(v_engine_name("container"), doc="instead of comm/cmdline: the main process of the container of that name"),
    "pod": Field(v_engine_name("pod"), doc="instead of comm/cmdline: a pod's container (Podman pod name, or Kubernetes namespace/name)"),
    "engine": Field(v_one_of(*ENGINES), doc=f"with container or pod: only that engine's ({', '.join(ENGINES)})"),
    "infra": Field(v_bool, doc="with pod: the pod's infra container (Podman) or pause (Kubernetes)"),
}
#: The fields that together say which process a ProcessExpectation is about (a selector, tutor.checks.select).
SUBJECT_KEYS = ("comm", "cmdline", *CONTAINER_KEYS)


class ProcessExpectation(Expectation):
    """Base for kinds about one process chosen with comm and/or cmdline (not registered itself)."""

    shorthand = "cmdline"
    fields = dict(SUBJECT_FIELDS)

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        if not any(k in spec for k in ("comm", "cmdline", "container", "pod")):
            return [f"'{cls.kind}' needs comm and/or cmdline (or container) to say which process it is about, "
                    f"e.g. - {cls.kind}: {{cmdline: '^sleep 1001$', ...}} or {{container: web, engine: docker, ...}}"]
        err = selector_problem({k: spec[k] for k in SUBJECT_KEYS if k in spec})
        return [f"'{cls.kind}': {err}"] if err else []

    def refers_to(self):
        """The process this check is about first (its selector is two fields, comm and cmdline), then
        what the kind's other fields name."""
        if self.subject:
            yield ProcessRef(self.subject)
        yield from super().refers_to()

    @property
    def subject(self) -> dict:
        return {k: self.spec[k] for k in SUBJECT_KEYS if k in self.spec}

    @property
    def subject_words(self) -> str:
        """'the process named pause' / 'the process whose command line matches ...' / 'the container web'."""
        return the_selected(self.subject)

    def subject_and_ns(self, snap: Snapshot, ns_type: str) -> tuple[Process, int] | Verdict:
        """The process the check is about and the inode of its namespace of *ns_type*, or the
        failed verdict saying why not (no such process, several, or its namespace unreadable)."""
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        inode = picked.proc.ns.get(ns_type)
        if inode is None:
            return self.fail_ns_unreadable(snap, picked.proc, ns_type)
        return picked.proc, inode

    def fail_ns_unreadable(self, snap: Snapshot, proc: Process, ns_type: str) -> Verdict:
        """The failed verdict when *proc*'s namespace of *ns_type*, which the check is about, has no inode."""
        what = "mount" if ns_type == "mnt" else ns_type
        return self.fail(_("{process}: {ns_type} namespace unreadable").format(process=name(proc, snap), ns_type=what),
                         ns_unreadable_reason(proc, ns_type, snap) + ".")


# --------------------------------------------------------------- picking one process
@dataclass(frozen=True)
class Pick:
    """Exactly one process, or why not (observed: what the snapshot shows; message: what to do)."""
    proc: Process | None
    observed: str = ""
    message: str = ""


def find_command(selector: Any) -> str:
    """The command a learner runs to look for the process themselves."""
    sel = normalise(selector)
    if is_container_selector(sel):
        return containers.list_command(sel)
    if "cmdline" in sel:
        return f"pgrep -a -f {shlex.quote(str(sel['cmdline']))}"
    return f"pgrep -a -x {shlex.quote(str(sel['comm']))}"


def pick(snap: Snapshot, selector: Any, role: str = "",
         prefer: Callable[[Process], bool] | None = None) -> Pick:
    """The one process *selector* means. *role* ("the pause", "member 2") prefixes explanations.

    *prefer* breaks a tie: when several processes match and exactly one of them passes it, that
    one is meant. A Kubernetes node runs one `pause` per pod; "the pause whose network the
    members share" names the right one without the lesson knowing its pid."""
    sel = normalise(selector)
    who = describe_selector(sel)
    detail = selector_detail(sel)             # "named 'pause'" / "whose command line matches ..."
    lead = f"{role}: " if role else ""
    matches = innermost(select(snap, sel))
    if len(matches) > 1 and prefer is not None:
        preferred = [p for p in matches if prefer(p)]
        if len(preferred) == 1:
            return Pick(preferred[0])
    if len(matches) == 1:
        return Pick(matches[0])
    if is_container_selector(sel):
        # Named by an engine's record: say what the engine has (stopped, under another engine, absent).
        if matches:
            return Pick(None, *containers.several(snap, sel, matches, lead))
        return Pick(None, *containers.missing(snap, sel, lead))
    if len(matches) > 1:
        matches = sorted(matches, key=lambda p: (p.start_ticks, p.pid))     # oldest first (pids wrap)
        shown = ", ".join(name(p, snap) for p in matches[:5]) + (" ..." if len(matches) > 5 else "")
        return Pick(None,
                    lead + _("{count} processes match ({process}): {processes}").format(
                        count=len(matches), process=who, processes=shown),
                    lead + _("nstutor needs exactly one process {detail}, and there are {count}. The older ones are "
                             "probably left over from an earlier try: stop them (kill {pids}) and keep the newest "
                             "({newest}), or stop them all and start again. See them: {command}").format(
                        detail=detail, count=len(matches), pids=" ".join(str(p.pid) for p in matches[:-1][:5]),
                        newest=name(matches[-1], snap), command=find_command(sel)))
    # None: say what came close, so a typo or an exited process is obvious.
    zombies = select(snap, {**sel, "zombie": True})
    zombies = [p for p in zombies if p.is_zombie]
    if zombies:
        return Pick(None,
                    lead + _("only a zombie matches ({process}): {zombie} has exited").format(
                        process=who, zombie=name(zombies[0], snap)),
                    lead + _("the process has exited and its parent (pid {ppid}) has not reaped it. Start it again "
                             "(see the lesson), then check: {command}").format(
                        ppid=zombies[0].ppid, command=find_command(sel)))
    near = ""
    if "comm" in sel and "cmdline" in sel:
        by_cmd = select(snap, {"cmdline": sel["cmdline"]})
        by_comm = select(snap, {"comm": sel["comm"]})
        if by_cmd:
            near = _(" Processes whose command line matches are named {names}, not {comm}.").format(
                names=", ".join(sorted({repr(p.comm) for p in by_cmd})), comm=repr(sel["comm"]))
        elif by_comm:
            near = _(" There is a process named {comm} ({process}), but its command line does not match "
                     "{pattern}.").format(comm=repr(sel["comm"]), process=name(by_comm[0], snap),
                                          pattern=repr(sel["cmdline"]))
    if not near and "cmdline" in sel:
        close = _close_commands(snap, str(sel["cmdline"]))
        if close:
            near = _(" Did you mean {commands}? Its command line must match exactly.").format(
                commands=or_words(repr(c) for c in close))
    blind = "" if snap.is_root else _(" (nstutor is not running as root, so it may not see every process: "
                                      "run nstutor as root)")
    # "no process running `sleep 1013` is running" says it twice: with a command, name the command
    command = command_words(str(sel["cmdline"])) if "cmdline" in sel and "comm" not in sel else None
    search = find_command(sel)
    if command:
        observed = _("no process runs {command}{note}").format(command=command, note=blind)
        message = _("{command} is not running: start it first (see the lesson's commands), then look for it: "
                    "{search}.{near}").format(command=command, search=search, near=near)
    else:
        observed = _("no running process {detail}{note}").format(detail=detail, note=blind)
        message = _("no process {detail} is running: start it first (see the lesson's commands), then look for "
                    "it: {search}.{near}").format(detail=detail, search=search, near=near)
    return Pick(None, lead + observed, lead + message)


def _close_commands(snap: Snapshot, pattern: str) -> list[str]:
    """Running command lines that look like a typo of the literal one *pattern* wants ('^sleep 1003$')."""
    literal = re.sub(r"\\(.)", r"\1", pattern.strip("^$"))
    if not literal or any(ch in literal for ch in "[]()*+?|{}"):
        return []
    first = literal.split()[0] if literal.split() else ""
    commands = {p.command for p in snap.processes.values()
                if not p.is_zombie and p.command.split()[:1] == [first]}
    return difflib.get_close_matches(literal, sorted(commands), n=2, cutoff=0.8)


# --------------------------------------------------------------- namespace helpers
#: unshare options that give a command its own namespace of each type.
UNSHARE_OPTION = {"mnt": "--mount", "net": "--net", "pid": "--pid --fork", "uts": "--uts", "ipc": "--ipc",
                  "user": "--user --map-root-user", "cgroup": "--cgroup", "time": "--time --fork"}
#: nsenter's option names per namespace type.
NSENTER_OPTION = {"mnt": "mount", "net": "net", "pid": "pid", "uts": "uts", "ipc": "ipc",
                  "user": "user", "cgroup": "cgroup", "time": "time"}


def unshare_cmd(types: list[str], command: str) -> str:
    opts: list[str] = []
    for t in types:
        for opt in UNSHARE_OPTION[t].split():
            if opt not in opts:
                opts.append(opt)
    if "--fork" in opts:        # keep --fork last among the options, as people usually write it
        opts.remove("--fork")
        opts.append("--fork")
    return " ".join(["unshare", *opts, command])


def nsenter_cmd(pid: int, types: list[str], command: str) -> str:
    opts = [f"--{NSENTER_OPTION[t]}=/proc/{pid}/ns/{t}" for t in types]
    return " ".join(["nsenter", *opts, command])


def kill_cmd(proc: Process) -> str:
    """How to stop a process: PID 1 of a pid namespace ignores signals it has no handler for (a
    plain kill, SIGTERM, included) when they come from outside, so a container's first process
    usually needs SIGKILL."""
    if len(proc.nspid) > 1 and proc.nspid[-1] == 1:
        return _("with kill -KILL {pid} (it is PID 1 of its pid namespace, so it ignores a plain kill "
                 "{pid})").format(pid=proc.pid)
    return f"(kill {proc.pid})"


def program_of(proc: Process) -> str | None:
    """The argv[0] of *proc*'s command line as a shell would split it (None: it cannot be split)."""
    try:
        return shlex.split(proc.command)[0]
    except (ValueError, IndexError):
        return None


def want_programs(procs: list[Process | None]) -> Wants:
    """Ask observe whether these processes' commands can be typed again (for restart_advice)."""
    return Wants(programs=frozenset(p for p in map(program_of, filter(None, procs)) if p is not None))


def _runnable(snap: Snapshot, proc: Process) -> bool:
    """Can this command line be typed again as it is? Not when its argv[0] was renamed with
    `exec -a app-a ...`, or was a relative path: then only the lesson's own command will do.
    Observe answers it (Snapshot.programs, asked for with want_programs); unasked, it is not
    taken as runnable, and the advice names the lesson's command instead."""
    program = program_of(proc)
    return program is not None and snap.programs.get(program, False)


def restart_advice(snap: Snapshot, proc: Process, unshare_types: list[str], nsenter_types: list[str],
                   nsenter_pid: int | None) -> str:
    """' Stop it (...) and start it again with: CMD': namespaces are fixed when a process starts,
    so the fix is a restart with the right unshare/nsenter in front. The kind's wants() asks
    want_programs() for *proc*, so that CMD is its own command line when that can be typed."""
    prefix = ""
    if nsenter_types and nsenter_pid is not None:
        prefix = nsenter_cmd(nsenter_pid, nsenter_types, "").strip()
    if unshare_types:
        prefix = f"{prefix} {unshare_cmd(unshare_types, '').strip()}".strip()
    kill = kill_cmd(proc)
    if not prefix:
        return _(" Stop it {kill} and start it again as the lesson shows.").format(kill=kill)
    if _runnable(snap, proc):
        return _(" Stop it {kill} and start it again with: {command}").format(
            kill=kill, command=f"{prefix} {proc.command}")
    return _(" Stop it {kill} and start it again with the lesson's command, run under: {command} ...").format(
        kill=kill, command=prefix)


def ns_unreadable_reason(proc: Process, ns_type: str, snap: Snapshot) -> str:
    """Why the snapshot has no inode for *proc*'s namespace of *ns_type*, as a sentence for a message."""
    why = "" if snap.is_root else _("; run nstutor as root")
    return _("nstutor could not read /proc/{pid}/ns/{ns_type} of {process}{why}").format(
        pid=proc.pid, ns_type=ns_type, process=name(proc, snap), why=why)


def host_note(snap: Snapshot, ns_type: str, inode: int | None) -> str:
    """' (the host's)' when *inode* is the host's namespace of that type."""
    return _(" (the host's)") if inode is not None and snap.host_ns.get(ns_type) == inode else ""


def ns_summary(snap: Snapshot, proc: Process, types: list[str]) -> str:
    """'uts 4026532401, ipc 4026531839 (the host's)'."""
    parts = []
    for t in types:
        ino = proc.ns.get(t)
        shown = ino if ino is not None else _("unreadable")
        parts.append(f"{t} {shown}{host_note(snap, t, ino)}")
    return ", ".join(parts)


def same_ns_processes(snap: Snapshot, ns_type: str, inode: int) -> list[Process]:
    return sorted((p for p in snap.processes.values() if p.ns.get(ns_type) == inode), key=lambda p: p.pid)
