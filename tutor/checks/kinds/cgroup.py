"""cgroup: a CPU-limited cgroup, its members, and their measured CPU use.

    - cgroup: {name: nstutor-cpu, cpu_limit_percent: 10}
    - cgroup: {name: nstutor-cpu, members: ['^python3 -c while True'], measured: true, tolerance: 5}

name               the cgroup under the cpu controller: nstutor-cpu means /nstutor-cpu, i.e. the directory
                   /sys/fs/cgroup/nstutor-cpu (v2) or /sys/fs/cgroup/cpu/nstutor-cpu (v1); a path with
                   slashes (/lab/nstutor-cpu) is taken as is
cpu_limit_percent  quota / period * 100, in % of one CPU (v2 cpu.max "100000 1000000" = 10)
members            process selectors; each process must be in that cgroup (or below it)
measured           the members' CPU use, summed, since the previous snapshot stays within `tolerance`
                   percentage points of the limit (a busy loop held by the limit)
tolerance          default 5 (percentage points of one CPU)

Works on cgroup v2 (cpu.max) and v1/hybrid (cpu.cfs_quota_us / cpu.cfs_period_us): the snapshot's
CpuLimit says which; suggested commands follow it.

Measuring over a window of several periods. A limited loop runs in bursts: with the curriculum's
1 s period it runs 100 ms and then waits 900 ms. Between two snapshots a fraction of a second apart
(the live view snapshots again at once when the learner asks for a check) it has used 0% or 30%,
and even a window of 1.1 s can hold two bursts (18%). So each check remembers the members' CPU
times from the snapshots it has graded and measures over the last MEASURE_PERIODS periods (at
least MIN_WINDOW_S), where a burst more or less moves the result by at most a third of the quota.
Until it has seen that much (the first grade of a one-shot `nstutor check`), it uses the
snapshot's own rate: the runner takes those one second apart.
"""
from __future__ import annotations

import posixpath
import threading
from typing import Any

from ...i18n import _, ngettext
from ...observe.model import CpuLimit, Process, Snapshot
from ..base import Expectation, Field, Verdict, v_bool, v_cgroup_name, v_number, v_selectors
from ..procs import pick
from ..registry import register
from ..select import name

SUGGESTED_PERIOD_US = 1_000_000   # the curriculum's period: 1 s
MEASURE_PERIODS = 3               # measure over this many periods of the limit ...
MIN_WINDOW_S = 2.0                # ... and at least this long
MAX_WINDOW_S = 10.0               # ... and at most this long (a very long period is not waited out)
KEEP_S = 15.0                     # samples older than window + this are dropped


def measure_window(period_us: int | None) -> float:
    """Seconds of CPU time history a measurement needs for a limit with this period."""
    period_s = (period_us or SUGGESTED_PERIOD_US) / 1_000_000
    return min(MAX_WINDOW_S, max(MIN_WINDOW_S, MEASURE_PERIODS * period_s))


class CpuHistory:
    """The members' cumulative CPU times as seen in earlier snapshots: (monotonic, {pid: (start, ticks)}).

    Only facts from snapshots are kept (no I/O): grading stays a function of the snapshots seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: list[tuple[float, dict[int, tuple[int, int]]]] = []

    def rate(self, now: float, members: list[Process], window: float,
             clock_ticks: int) -> tuple[float, float] | None:
        """Record this snapshot; return (% of one CPU summed over members, seconds measured over), or
        None when no earlier sample at least *window* old has every member (same pid, same start).
        *clock_ticks*: the ticks per second of the members' CPU times (Snapshot.clock_ticks)."""
        current = {p.pid: (p.start_ticks, p.cpu_ticks) for p in members}
        with self._lock:
            if not self._samples or now > self._samples[-1][0]:
                self._samples.append((now, current))
            self._samples = [s for s in self._samples if now - s[0] <= window + KEEP_S]
            for when, seen in reversed(self._samples):
                age = now - when
                if age < window:
                    continue
                if all(pid in seen and seen[pid][0] == start for pid, (start, _ticks) in current.items()):
                    used = sum(ticks - seen[pid][1] for pid, (_start, ticks) in current.items())
                    return 100.0 * used / clock_ticks / age, age
                return None          # the newest old-enough sample predates a member: no window yet
        return None


#: The most cpu_limit_percent may say: 1000 CPUs' worth. 100 x the number of CPUs would be exact, but a
#: lesson must not lint differently on another machine; this bound only catches a typo or a huge number.
MAX_CPU_PERCENT = 100_000


def v_percent(value: Any) -> str | None:
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value <= MAX_CPU_PERCENT):           # nan fails every comparison, inf the bound
        return None
    return f"must be a number above 0 and at most {MAX_CPU_PERCENT} (percent of one CPU), e.g. 10"


def in_cgroup(proc: Process, path: str) -> bool:
    if proc.cgroup is None:
        return False
    return path == "/" or proc.cgroup == path or proc.cgroup.startswith(path + "/")


@register
class CgroupCpu(Expectation):
    kind = "cgroup"
    shorthand = "name"
    # The class says "may need CPU rates"; each instance narrows it to whether `measured` is asked
    # for, so a check of the limit alone does not make the runner sample for a second.
    needs_cpu_rate = True
    fields = {
        "name": Field(v_cgroup_name("nstutor-cpu"), required=True, doc="the cgroup's name (nstutor-cpu) or path (/lab/nstutor-cpu)"),
        "cpu_limit_percent": Field(v_percent, doc="the CPU limit in % of one CPU"),
        "members": Field(v_selectors, default=[], doc="processes that must be in the cgroup"),
        "measured": Field(v_bool, default=False, doc="the members' measured CPU use stays near the limit"),
        "tolerance": Field(v_number, default=5, doc="allowed distance from the limit, in percentage points"),
    }

    def __init__(self, spec, line=None):
        super().__init__(spec, line)
        self.needs_cpu_rate = bool(self.measured)
        self.path = self.name if self.name.startswith("/") else "/" + self.name.strip("/")
        self.path = posixpath.normpath(self.path)
        self.history = CpuHistory()

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = []
        if spec.get("measured") and not spec.get("members"):
            out.append("'cgroup': measured: true needs members (whose CPU use is measured)")
        if spec.get("measured") and "cpu_limit_percent" not in spec:
            out.append("'cgroup': measured: true needs cpu_limit_percent (the use is compared with it)")
        if "tolerance" in spec and spec["tolerance"] < 0:
            out.append("'cgroup.tolerance' must not be negative")
        return out

    def describe(self) -> str:
        parts = [_("cgroup {path}").format(path=self.path)]
        if self.cpu_limit_percent is not None:
            parts.append(_("limited to {percent} of one CPU").format(percent=f"{self.cpu_limit_percent:g}%"))
        if self.members:
            parts.append(ngettext("with {n} member process", "with {n} member processes",
                                  len(self.members)).format(n=len(self.members)))
        if self.measured:
            parts.append(_("using {percent} ± {tolerance:g} of a CPU").format(
                percent=f"{self.cpu_limit_percent:g}%", tolerance=self.tolerance))
        return ", ".join(parts)

    # ---- where things are, for the suggested commands
    def _version(self, snap: Snapshot, limit: CpuLimit | None) -> int:
        if limit is not None:
            return limit.version
        for other in snap.cgroups.limits.values():
            return other.version
        root = snap.cgroups.cpu_root or ""
        if snap.cgroups.mode == "v2" or root.endswith("/unified"):
            return 2
        return 1

    def _dir(self, snap: Snapshot, version: int) -> str:
        root = snap.cgroups.cpu_root or ("/sys/fs/cgroup" if version == 2 else "/sys/fs/cgroup/cpu")
        return root.rstrip("/") + self.path

    def _limit_cmd(self, version: int, directory: str, period: int) -> str:
        quota = round(self.cpu_limit_percent / 100 * period)
        if version == 2:
            return f"echo '{quota} {period}' > {directory}/cpu.max"
        return f"echo {period} > {directory}/cpu.cfs_period_us; echo {quota} > {directory}/cpu.cfs_quota_us"

    def _create_cmd(self, snap: Snapshot, version: int, directory: str) -> str:
        if version == 2:
            parent = posixpath.dirname(directory)
            return f"mkdir {directory}; echo +cpu > {parent}/cgroup.subtree_control"
        return f"mkdir {directory}"

    def grade(self, snap: Snapshot) -> Verdict:
        if snap.cgroups.cpu_root is None and not snap.cgroups.limits:
            return self.fail(_("no cpu controller found (cgroup mode {mode})").format(mode=snap.cgroups.mode),
                             _("nstutor found no cgroup hierarchy with the cpu controller; see `mount -t cgroup2` "
                               "and `mount -t cgroup`."))
        limit = snap.cgroups.limits.get(self.path)
        version = self._version(snap, limit)
        directory = self._dir(snap, version)
        problems: list[str] = []
        observed: list[str] = []
        evidence: dict[str, Any] = {"path": self.path, "version": version}

        if self.cpu_limit_percent is not None:
            if limit is None:
                observed.append(_("no CPU limit readable for {path} (cgroup v{version})").format(
                    path=self.path, version=version))
                problems.append(
                    _("There is no cgroup {path} with a CPU limit ({directory}). Create it: {create}; "
                      "then limit it: {limit}").format(
                        path=self.path, directory=directory, create=self._create_cmd(snap, version, directory),
                        limit=self._limit_cmd(version, directory, SUGGESTED_PERIOD_US))
                    + (_(" (a v2 cgroup has no cpu.max until +cpu is in its parent's cgroup.subtree_control)")
                       if version == 2 else ""))
            elif limit.quota_us is None:
                observed.append(_("{path}: no limit (quota max, period {period} us, v{version})").format(
                    path=self.path, period=limit.period_us, version=version))
                problems.append(_("{path} has no CPU limit yet. Set it: {command}").format(
                    path=self.path, command=self._limit_cmd(version, directory, SUGGESTED_PERIOD_US)))
            else:
                observed.append(_("{path}: {percent} of a CPU (quota {quota} / period {period} us, "
                                  "v{version})").format(path=self.path, percent=f"{limit.percent:g}%", quota=limit.quota_us,
                                                        period=limit.period_us, version=version))
                evidence.update(quota_us=limit.quota_us, period_us=limit.period_us,
                                limit_percent=round(limit.percent, 2))
                if abs(limit.percent - self.cpu_limit_percent) > 0.05:
                    problems.append(_("{path} is limited to {percent} of a CPU, expected {wanted}: "
                                      "{command}").format(path=self.path, percent=f"{limit.percent:g}%",
                                                          wanted=f"{self.cpu_limit_percent:g}%",
                                                          command=self._limit_cmd(version, directory,
                                                                                  limit.period_us)))

        if self.cpu_limit_percent is None and not self.members:
            # Only existence was asked for: the snapshot knows a cgroup by its limit or by who is in it.
            inside = [p for p in snap.processes.values() if in_cgroup(p, self.path)]
            if limit is None and not inside:
                return self.fail(_("no cgroup {path} under the cpu controller (cgroup v{version})").format(
                                     path=self.path, version=version),
                                 _("There is no cgroup {path}. Create it: {command}").format(
                                     path=self.path, command=self._create_cmd(snap, version, directory)))
            observed.append(ngettext("{path} exists ({n} process in it)", "{path} exists ({n} processes in it)",
                                     len(inside)).format(path=self.path, n=len(inside)))

        members: list[Process] = []
        for i, selector in enumerate(self.members, 1):
            picked = pick(snap, selector, _("member {i}").format(i=i) if len(self.members) > 1 else _("the member"))
            if picked.proc is None:
                observed.append(picked.observed)
                problems.append(picked.message)
                continue
            proc = picked.proc
            members.append(proc)
            who = name(proc, snap)
            if proc.cgroup is None:
                observed.append(_("{process}: cgroup unreadable").format(process=who))
                problems.append(_("nstutor could not read {file}.").format(file=f"/proc/{proc.pid}/cgroup"))
            elif not in_cgroup(proc, self.path):
                observed.append(_("{process} is in cgroup {cgroup}").format(process=who, cgroup=proc.cgroup))
                problems.append(_("{process} is in cgroup {cgroup}, not in {path}. Move it in: {command}").format(
                    process=who, cgroup=proc.cgroup, path=self.path,
                    command=f"echo {proc.pid} > {directory}/cgroup.procs"))
            else:
                observed.append(_("{process} is in cgroup {cgroup}").format(process=who, cgroup=proc.cgroup))
        evidence["members"] = [p.pid for p in members]

        if self.measured and members and len(members) == len(self.members):
            window = measure_window(limit.period_us if limit is not None else None)
            measured = self.history.rate(snap.monotonic, members, window, snap.clock_ticks)
            rates = [p.cpu_percent for p in members]
            if measured is None and any(r is None for r in rates):
                observed.append(_("CPU use not measured yet"))
                problems.append(_("nstutor needs two looks a moment apart to measure CPU use: check again "
                                  "in a second."))
            else:
                if measured is not None:
                    used, over = measured
                    evidence["window_s"] = round(over, 1)
                    during = _(" over the last {seconds:.1f} s").format(seconds=over)
                else:
                    used, during = sum(rates), ""
                evidence["cpu_percent"] = round(used, 1)
                want = self.cpu_limit_percent
                observed.append(_("measured CPU use {used} of one CPU{during}").format(used=f"{used:.1f}%", during=during))
                if used > want + self.tolerance:
                    problems.append(_("The members use {used} of a CPU, more than the {want} limit "
                                      "(± {tolerance:g}): the limit is not holding them. Are they in "
                                      "{path}, and is its limit set? (Just moved them in? The time "
                                      "before the move counts too: check again in a few seconds.)").format(
                        used=f"{used:.1f}%", want=f"{want:g}%", tolerance=self.tolerance, path=self.path))
                elif used < want - self.tolerance:
                    problems.append(_("The members use only {used} of a CPU, well under the {want} "
                                      "limit: is the busy loop running (a sleeping process uses nothing)? "
                                      "Check with: {command}").format(
                        used=f"{used:.1f}%", want=f"{want:g}%", command=f"top -p {','.join(str(p.pid) for p in members)}"))
        if problems:
            # one problem per line: some end in a command, and a full stop would end up in the paste
            return self.fail("; ".join(observed), "\n".join(problems))
        return self.ok("; ".join(observed), evidence)
