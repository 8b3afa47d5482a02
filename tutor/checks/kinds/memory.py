"""memory: a cgroup's memory limit, that it may not swap, and how often its OOM killer struck.

    - memory: {name: nstutor-mem, max: 20M, no_swap: true}
    - memory: {name: nstutor-mem, oom_kills: {at_least: 1}}
    - memory: nstutor-mem                      (only: the cgroup exists in the memory tree)

name       the cgroup under the memory controller: nstutor-mem means /nstutor-mem, i.e. the directory
           /sys/fs/cgroup/nstutor-mem (v2) or /sys/fs/cgroup/memory/nstutor-mem (v1 and hybrid); a path
           with slashes (/lab/nstutor-mem) is taken as is
max        the limit: bytes, or a number with K, M or G (binary, as the kernel reads `echo 20M`), compared
           with memory.max (v2) / memory.limit_in_bytes (v1). The kernel rounds a limit down to whole
           pages, so anything from the size rounded down to a page up to the size itself is that limit.
no_swap    true: the cgroup's memory cannot go to swap, so reaching the limit kills instead of swapping.
           v2: memory.swap.max is 0; or the file is missing (the kernel does not account swap per
           cgroup) and the machine has no swap at all (/proc/swaps lists none), which the verdict says.
           v1: memory.swappiness is 0, or memory.memsw.limit_in_bytes (memory + swap) equals the limit.
oom_kills  {at_least: N}: the cgroup's OOM killer killed at least N processes (oom_kill in
           memory.events on v2, in memory.oom_control on v1, kernel 4.13+)

Read only when a check asks (observe.Wants.memory_cgroups, observe/memory.py). Every miss names the
file and the value it read and the command to type, for the cgroup version this machine has: the
snapshot's MemoryCgroup says which.
"""
from __future__ import annotations

import posixpath
import re
from typing import Any

from ...i18n import _, ngettext
from ...observe.model import ABSENT, MemoryCgroup, Snapshot, Wants
from ..base import Expectation, Field, NotObserved, Verdict, v_bool, v_cgroup_name
from ..registry import register

UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
_SIZE = re.compile(r"(\d+)([KMG]?)", re.I)

#: What the lesson types to run a process into the limit (it puts itself in the cgroup first).
OOM_COMMAND = "sh -c 'echo $$ > \"$1/cgroup.procs\" && head -c 100M /dev/zero | tail > /dev/null' sh {directory}"


def parse_size(value: Any) -> int | None:
    """20M -> 20971520, 512K, 1G, or a plain number of bytes; None when it is not a size."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.fullmatch(value.strip())
    if match is None or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * UNITS[match.group(2).upper()]


def size_words(value: int) -> str:
    """20971520 -> '20971520 (20M)'; a size that is no whole number of K, M or G gets one decimal."""
    for suffix in ("G", "M", "K"):
        unit = UNITS[suffix]
        if value >= unit and value % unit == 0:
            return f"{value} ({value // unit}{suffix})"
    if value >= UNITS["M"]:
        return f"{value} ({value / UNITS['M']:.1f}M)"
    return str(value)


def v_size(value: Any) -> str | None:
    if parse_size(value) is not None:
        return None
    return f"{value!r} is not a size: bytes, or a number with K, M or G, like 20M"


def v_at_least(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"at_least"}:
        n = value["at_least"]
        if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
            return None
    return "must be {at_least: N}, N a whole number of at least 1 (how many OOM kills the cgroup counted)"


@register
class MemoryLimit(Expectation):
    kind = "memory"
    shorthand = "name"
    fields = {
        "name": Field(v_cgroup_name("nstutor-mem"), required=True, doc="the cgroup's name (nstutor-mem) or path (/lab/nstutor-mem)"),
        "max": Field(v_size, doc="its memory limit: bytes or a size like 20M"),
        "no_swap": Field(v_bool, default=False, doc="its memory cannot be swapped out"),
        "oom_kills": Field(v_at_least, doc="{at_least: N}: its OOM killer killed at least N processes"),
    }

    def __init__(self, spec, line=None):
        super().__init__(spec, line)
        path = self.name if self.name.startswith("/") else "/" + self.name.strip("/")
        self.path = posixpath.normpath(path)
        self.max_bytes = parse_size(self.max) if self.max is not None else None

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        if spec.get("no_swap") is False:
            return ["'memory.no_swap': false checks nothing; leave it out, or say true"]
        return []

    @property
    def _max_text(self) -> str:
        """The limit as the author wrote it (20M), which is also what the learner types."""
        return str(self.max).strip().upper() if isinstance(self.max, str) else str(self.max)

    def describe(self) -> str:
        parts = [_("cgroup {path} in the memory tree").format(path=self.path)]
        if self.max_bytes is not None:
            parts.append(_("limited to {size}").format(size=self._max_text))
        if self.no_swap:
            parts.append(_("without swap"))
        if self.oom_kills:
            n = self.oom_kills["at_least"]
            parts.append(ngettext("with at least {n} OOM kill", "with at least {n} OOM kills", n).format(n=n))
        return ", ".join(parts)

    def wants(self, snap: Snapshot) -> Wants:
        return Wants(memory_cgroups=frozenset({self.path}))

    # ---- the commands to type, for this machine's version
    def _limit_cmd(self, mem: MemoryCgroup) -> str:
        file = "memory.max" if mem.version == 2 else "memory.limit_in_bytes"
        return f"echo {self._max_text if self.max is not None else '20M'} > {mem.directory}/{file}"

    def _swap_cmd(self, mem: MemoryCgroup) -> str:
        file = "memory.swap.max" if mem.version == 2 else "memory.swappiness"
        return f"echo 0 > {mem.directory}/{file}"

    def _enable(self, mem: MemoryCgroup) -> str:
        """v2: why a cgroup has no memory files, and the fix (its parent's cgroup.subtree_control)."""
        parent = posixpath.dirname(mem.directory or "/sys/fs/cgroup/x")
        has = " ".join(mem.parent_subtree) if mem.parent_subtree else _("nothing")
        return _("The memory controller is not enabled for the children of {parent}: its "
                 "cgroup.subtree_control holds {controllers}. Enable it: {command}").format(
            parent=parent, controllers=has, command=f"echo +memory > {parent}/cgroup.subtree_control")

    def grade(self, snap: Snapshot) -> Verdict:
        mem = snap.memory.get(self.path)
        if mem is None:
            raise NotObserved(_("the memory files of cgroup {path}").format(path=self.path))
        if mem.version is None or mem.directory is None:
            return self.fail(_("no memory controller found"),
                             _("nstutor found no cgroup tree with the memory controller (see `findmnt -t "
                               "cgroup,cgroup2` and `cat /sys/fs/cgroup/cgroup.controllers`)."))
        directory, v = mem.directory, mem.version
        if not mem.exists:
            fix = _("Make it: {command}").format(command=f"mkdir {directory}")
            if v == 2 and "memory" not in (mem.parent_subtree or ()):
                fix += f"\n{self._enable(mem)}"
            return self.fail(_("no cgroup {path}: there is no directory {directory} (cgroup v{version})").format(
                                 path=self.path, directory=directory, version=v),
                             _("There is no cgroup {path} in the memory tree (nstutor looked for {directory}). "
                               "{fix}").format(path=self.path, directory=directory, fix=fix))
        if not mem.controller:
            if v == 2:
                return self.fail(_("{directory} has no memory.max (cgroup v2)").format(directory=directory),
                                 self._enable(mem))
            return self.fail(_("{directory} has no memory.limit_in_bytes").format(directory=directory),
                             mem.error or _("nstutor cannot read its limit."))

        observed: list[str] = []
        problems: list[str] = []
        evidence: dict[str, Any] = {"path": self.path, "directory": directory, "version": v,
                                    "limit": mem.limit, "oom_kills": mem.oom_kills}
        limit_file = "memory.max" if v == 2 else "memory.limit_in_bytes"
        limit_words = (size_words(mem.limit) if mem.limit is not None
                       else "max" if v == 2 else _("unlimited ({value})").format(value=9223372036854771712))
        observed.append(_("{file} is {value}").format(file=limit_file, value=limit_words))
        if self.max_bytes is not None:
            want = self.max_bytes
            if mem.limit is None:
                problems.append(_("{file} is {value}: {path} has no memory limit yet. Set it: {command}").format(
                    file=f"{directory}/{limit_file}", value=limit_words, path=self.path,
                    command=self._limit_cmd(mem)))
            elif not want - want % mem.page_size <= mem.limit <= want:
                problems.append(_("{file} is {value}, expected {size} ({bytes}). Set it: {command}").format(
                    file=f"{directory}/{limit_file}", value=size_words(mem.limit), size=self._max_text,
                    bytes=want, command=self._limit_cmd(mem)))

        if self.no_swap:
            self._grade_swap(mem, observed, problems, evidence)

        if self.oom_kills:
            want = self.oom_kills["at_least"]
            counter = "memory.events" if v == 2 else "memory.oom_control"
            hits = f"memory.events max {mem.max_hits}" if v == 2 else f"memory.failcnt {mem.max_hits}"
            if mem.oom_kills is None:
                observed.append(_("no oom_kill line in {file}").format(file=counter))
                problems.append(_("{file} has no oom_kill counter (a kernel older than 4.13?): "
                                  "nstutor cannot tell whether a process was killed.").format(
                    file=f"{directory}/{counter}"))
            else:
                observed.append(_("{file} says oom_kill {count}").format(file=counter, count=mem.oom_kills)
                                + (f" ({hits})" if mem.max_hits is not None else ""))
                if mem.oom_kills < want:
                    before = (_("It has no limit, so nothing can run out: first {command}").format(
                        command=self._limit_cmd(mem)) + "\n" if mem.limit is None else "")
                    problems.append(ngettext(
                        "{file} says oom_kill {n}: the OOM killer has killed {n} process in {path}, expected at "
                        "least {want}. {before}Run a process into the limit: {command}",
                        "{file} says oom_kill {n}: the OOM killer has killed {n} processes in {path}, expected at "
                        "least {want}. {before}Run a process into the limit: {command}", mem.oom_kills).format(
                        file=f"{directory}/{counter}", n=mem.oom_kills, path=self.path, want=want, before=before,
                        command=OOM_COMMAND.format(directory=directory)))
        if problems:
            # one problem per line: some end in a command, and a full stop would end up in the paste
            return self.fail(f"{directory}: " + "; ".join(observed), "\n".join(problems))
        return self.ok(f"{directory}: " + "; ".join(observed), evidence)

    def _grade_swap(self, mem: MemoryCgroup, observed: list[str], problems: list[str],
                    evidence: dict[str, Any]) -> None:
        if mem.version == 2:
            if mem.swap_max == 0:
                observed.append(_("{file} is {value}").format(file="memory.swap.max", value=0))
            elif mem.swap_max == ABSENT:
                if mem.swap_areas == 0:
                    observed.append(_("no memory.swap.max (this kernel does not account swap per cgroup), "
                                      "but the machine has no swap (/proc/swaps is empty)"))
                    evidence["no_swap_on_machine"] = True
                else:
                    areas = (_("could not be read") if mem.swap_areas is None else
                             ngettext("lists {n} swap area", "lists {n} swap areas", mem.swap_areas).format(
                                 n=mem.swap_areas))
                    observed.append(_("no memory.swap.max (this kernel does not account swap per cgroup), "
                                      "and /proc/swaps {areas}").format(areas=areas))
                    problems.append(_("{directory} has no memory.swap.max: this kernel cannot keep a cgroup out "
                                      "of swap, and /proc/swaps {areas}, so the memory of {path} may be swapped "
                                      "out instead of killed. Turn swap off while you try this (swapon --show "
                                      "lists it): swapoff -a").format(directory=mem.directory, areas=areas,
                                                                      path=self.path))
            else:
                shown = "max" if mem.swap_max is None else size_words(mem.swap_max)
                observed.append(_("{file} is {value}").format(file="memory.swap.max", value=shown))
                problems.append(_("{file} is {value}: the memory of {path} may go to swap instead of being killed. "
                                  "Forbid it: {command}").format(file=f"{mem.directory}/memory.swap.max", value=shown,
                                                                 path=self.path, command=self._swap_cmd(mem)))
            return
        memsw = mem.memsw_limit
        memsw_words = (_("absent") if memsw == ABSENT else _("unlimited") if memsw is None else size_words(memsw))
        if mem.swappiness == 0:
            observed.append(_("{file} is {value}").format(file="memory.swappiness", value=0))
        elif memsw not in (ABSENT, None) and mem.limit is not None and memsw == mem.limit:
            observed.append(_("memory.memsw.limit_in_bytes equals the limit ({size})").format(size=size_words(memsw)))
        else:
            observed.append(_("memory.swappiness is {swappiness}, memory.memsw.limit_in_bytes {memsw}").format(
                swappiness=mem.swappiness, memsw=memsw_words))
            problems.append(_("{file} is {swappiness} (and memory.memsw.limit_in_bytes {memsw}): the memory of "
                              "{path} may go to swap instead of being killed. Forbid it: {command}").format(
                file=f"{mem.directory}/memory.swappiness", swappiness=mem.swappiness, memsw=memsw_words,
                path=self.path, command=self._swap_cmd(mem)))
