#!/usr/bin/env python3
"""Benchmark: the nstutor app's cold start, and the cost of its live loop when nothing happens.

1. Cold start to first frame: `python -m tutor LESSON` (exactly what `nstutor LESSON` runs) is
   started in a pseudo-terminal of 120x36, --runs times; the clock runs from spawning the process
   until the terminal has received a whole first frame (the lesson's title in the header and the
   footer's keys). Progress lives in a temporary NSTUTOR_DATA_DIR, empty before the first run
   (never the store of whoever runs the bench). So run 1 is a learner's first start: its first
   frame is the lesson under the dialog that asks for the learner's name, which takes every key
   typed, q included. The bench answers it as a new learner does (types a name, Enter) and checks
   the name was saved; runs 2.. are a returning learner's starts, with no dialog.
2. Idle live loop at scale: the scenario of bench/snapshot.py (200 netns, 400 veth ends, 20
   bridges, 2,000 processes; its Scenario/build/cleanup are imported) is built, the app is opened
   on LESSON in a pseudo-terminal, and after a warm-up the CPU time of the app process (all its
   threads: the UI and the live thread that snapshots and grades at least once a second) is read
   from /proc over --idle seconds while nothing changes. Its VmRSS is read at the end.
   The app then quits and reports how many live rounds it ran and what the last snapshot held, so
   a loop that stopped, or a snapshot that did not see the scenario, fails the run.
3. Change latency: in the same app run, after the idle window (so at the scale scenario, whose
   size is what a snapshot costs, with no second app start or build, and with the idle CPU and
   RSS already read), the bench makes the lesson's own changes with `ip`, as a learner does in
   another shell: RED and BLUE, the veth pair, the addresses, the ends up; then undoes and redoes
   them (a link down, an address deleted, a whole netns deleted). 20 changes (NON_PROBE_CHANGES),
   each flipping at least one non-probe step. The app is the CHILD below: an NstutorApp whose hook
   writes, when the lesson screen has given the step list a round's verdicts, every step whose
   shown verdict changed, with its CLOCK_MONOTONIC time (system-wide, so comparable with the
   bench's). A change's latency runs from the return of its last command to the first time the
   step list shows all it should (a change not shown within 10 s fails the run). The next change
   waits until then, plus a random (seeded) pause of up to 1 s, so changes land anywhere in the
   live loop's 1 s interval. change_p95_ms is the p95 (nearest rank) of the 20.
4. Probe latency: with the lesson complete (its ping step shown passing), 10 changes that flip
   the reachability step (a link down and up, an address deleted and added back); timed the same
   way, until the ping step shows it. probe_p95_ms is their p95 (of 10: the largest).
   The lesson's names are the kernel's, shared by the machine: the bench refuses to start when a
   netns RED or BLUE exists, and deletes the ones it made (by inode) at the end, whatever happens.
   Packets go only from RED to BLUE (the lesson's own reachable check sends them).

The last line is machine-readable:
    first_frame_ms=<median of all runs> idle_cpu_pct=<x> rss_mb=<x> first_start_ms=<run 1>
    change_p95_ms=<x> probe_p95_ms=<x>
(one line). Targets (issue 18): first frame < 500 ms (the median; the first start, run 1, with an
empty parse cache too, < 1000 ms), idle live loop < 1.5 % of one core, RSS < 120 MB, change p95 <
500 ms, probe p95 < 1.5 s.

Run as root from the repository:   sudo /opt/nstutor/bin/python bench/app.py
Quicker:                           ... bench/app.py --runs 3 --idle 10 --netns 20 --procs 200
Leftovers from a killed run:       ... bench/app.py --cleanup
"""
from __future__ import annotations

import argparse
import compileall
import fcntl
import json
import math
import os
import pty
import random
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

import snapshot as scale  # noqa: E402  bench/snapshot.py: the scale scenario

SIZE = (120, 36)
LESSON = "netns-veth"
#: What the bench types into the first start's name dialog, as a new learner would. It has a q in
#: it: in the dialog q is part of the name, not the app's quit key.
LEARNER = "Quinn Bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """Printed as one clear message; exit 1."""


# --------------------------------------------------------------- the app in a pseudo-terminal
class Terminal:
    """A child process on a pty of SIZE; its output is drained (and kept) as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
                                     start_new_session=True)
        os.close(slave)
        self.output = bytearray()

    def pump(self, seconds: float) -> None:
        """Read what the app writes for *seconds* (a full pty would block the app)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if ready:
                try:
                    data = os.read(self.master, 1 << 16)
                except OSError:
                    return
                if not data:
                    return
                self.output += data

    def wait_for(self, markers: list[bytes], timeout: float) -> float:
        """Seconds from spawning until every marker has appeared in the output."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if all(m in self.output for m in markers):
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                tail = bytes(self.output[-1500:]).decode(errors="replace")
                raise BenchError(f"the app exited ({self.proc.returncode}) before its first frame: ...{tail}")
            self.pump(0.005)
        raise BenchError(f"no first frame within {timeout:.0f} s")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait_for_more(self, markers: list[bytes], since: int, timeout: float, what: str) -> None:
        """Wait until every marker appears in what the app wrote after byte *since*."""
        deadline = time.monotonic() + timeout
        while not all(m in self.output[since:] for m in markers):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"no {what} within {timeout:.0f} s")
            self.pump(0.01)

    def kill(self) -> None:
        """Stop the app at once (the run already failed: its error is the one to report)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)

    def quit(self) -> int:
        """Press q; the app's exit status. A SIGKILL after 15 s if it did not quit (BenchError)."""
        try:
            os.write(self.master, b"q")
        except OSError:
            pass
        end = time.monotonic() + 15
        while self.proc.poll() is None and time.monotonic() < end:
            self.pump(0.05)
        killed = self.proc.poll() is None
        if killed:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)
        if killed:
            tail = bytes(self.output[-1500:]).decode(errors="replace")
            raise BenchError(f"the app did not quit within 15 s of q (a dialog took the key?): ...{tail}")
        return self.proc.returncode


def frame_markers(lesson) -> list[bytes]:
    return [lesson.title.encode(), b"Quit"]


#: The first start's frame: the lesson, with the name dialog drawn over it (its title and both keys).
NAME_DIALOG = [b"Your name", b"Save (Enter)", b"Skip (Esc)"]
SAVED = b"your progress exports will say"       # the app's notice ("Saved: ..."; styles split the rest)


def answer_name_dialog(term: Terminal) -> None:
    """Type a name and Enter, as a new learner does; wait for the app to confirm it saved it."""
    since = len(term.output)
    term.type(LEARNER.encode())
    term.type(b"\r")
    term.wait_for_more([SAVED, LEARNER.encode()], since, timeout=15, what="confirmation that the name dialog saved the name")


def saved_name(data_dir: Path) -> str | None:
    from tutor.progress.store import ProgressStore
    with ProgressStore.open(data_dir / "progress.sqlite3") as store:
        return store.learner_name()


def cold_start(lesson, runs: int, data_dir: Path) -> list[float]:
    """First frame of *runs* starts; run 1 is a first start (empty *data_dir*: the name dialog)."""
    env = dict(os.environ, TERM="xterm-256color", NSTUTOR_DATA_DIR=str(data_dir))
    times = []
    for n in range(runs):
        first = not any(data_dir.iterdir())
        term = Terminal([sys.executable, "-m", "tutor", lesson.id], env)
        try:
            seconds = term.wait_for(frame_markers(lesson) + (NAME_DIALOG if first else []), timeout=30)
            if first:
                answer_name_dialog(term)
        except BaseException:
            term.kill()
            raise
        code = term.quit()
        if code != 0:
            raise BenchError(f"the app exited with {code} after run {n + 1}")
        times.append(seconds * 1000)
        if first:
            if saved_name(data_dir) != LEARNER:
                raise BenchError(f"the name dialog did not save the name typed ({LEARNER!r}): {saved_name(data_dir)!r}")
            print(f"  run {n + 1} (first start, the name dialog): first frame {times[-1]:6.0f} ms; "
                  f"answered it with {LEARNER!r} and Enter")
        else:
            print(f"  run {n + 1}: first frame {times[-1]:6.0f} ms")
    return times


# --------------------------------------------------------------- idle CPU at scale
CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
from tutor.app.app import NstutorApp
rounds = []
shown = {{}}
events = open({events!r}, "w", buffering=1)
class BenchApp(NstutorApp):
    def _deliver(self, update):
        if update.snap is not None:
            # (when, snapshot + grade ms, netns seen, processes seen, CPU seconds of the live thread so far)
            rounds.append((time.monotonic(), update.took_ms, len(update.snap.netns), len(update.snap.processes),
                           time.thread_time()))
        super()._deliver(update)

    def on_live_result(self, message):
        super().on_live_result(message)
        message.prevent_default()       # Textual would call NstutorApp's handler a second time
        self._bench_note_shown_verdicts()

    def _bench_note_shown_verdicts(self):
        # The bench's hook: the lesson screen has just given the step list this round's verdicts
        # (StepList.show_state); write each step whose shown verdict changed, with the time
        # (CLOCK_MONOTONIC is system-wide: the bench compares it with its own).
        screen = self.lesson_screen()
        state = getattr(screen, "state", None)
        if state is None:
            return
        now = time.monotonic()
        for step_id, step in state.steps.items():
            verdict = None if step.result is None else step.passed
            if shown.get(step_id, "never") != verdict:
                shown[step_id] = verdict
                events.write(json.dumps([now, step_id, verdict]) + "\\n")
app = BenchApp({lesson!r})
app.run()
with open({stats!r}, "w") as f:
    json.dump({{"rounds": rounds, "errors": [app.last_update.error] if app.last_update else [],
               "pace": app.live.pace, "events_live": app.live.events_live}}, f)
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK      # utime + stime, all threads


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def require_the_live_pace(window: list, idle: float, pace: float) -> None:
    """The idle check on the live loop's pace: at least one round every *pace* seconds over the idle
    window (one fewer for the window's edges). *pace* is the loop's own (LiveChecker.pace): 1 s when
    it polls, its safety-net interval (5 s) when process events wake it."""
    if len(window) < int(idle / pace) - 1:
        raise BenchError(f"only {len(window)} live rounds in {idle:.0f} s: the loop must run at least every "
                         f"{pace:g} s")


def idle_loop(lesson, sc, idle: float, warmup: float, data_dir: Path, lab: "LessonLab | None" = None) -> dict:
    """The app at scale: idle CPU and RSS over *idle* seconds, then (with *lab*) the change and
    probe latencies, in the same run, after the idle window."""
    stats = data_dir / "live-stats.json"
    events = data_dir / "shown-verdicts.jsonl"
    code = CHILD.format(repo=str(REPO), lesson=lesson.id, stats=str(stats), events=str(events))
    env = dict(os.environ, TERM="xterm-256color", NSTUTOR_DATA_DIR=str(data_dir))
    term = Terminal([sys.executable, "-c", code], env)
    changes = probes = None
    try:
        first = term.wait_for(frame_markers(lesson), timeout=60)
        print(f"  app up: first frame after {first * 1000:.0f} ms; warming up {warmup:.0f} s")
        term.pump(warmup)
        t0, c0 = time.monotonic(), cpu_seconds(term.proc.pid)
        term.pump(idle)
        t1, c1 = time.monotonic(), cpu_seconds(term.proc.pid)
        rss = rss_mb(term.proc.pid)
        if lab is not None:
            require_the_scripts_steps(lesson)
            watch = ShownVerdicts(events, term)
            print(f"\n== change latency: {len(NON_PROBE_CHANGES)} changes made from the bench, until the step list "
                  f"shows them")
            changes = drive(lab, watch, NON_PROBE_CHANGES, measured=lambda change: change.expect)
            print(f"\n== probe latency: the lesson complete, {len(PROBE_CHANGES)} changes that flip the "
                  f"reachability step '{PROBE_STEP}'")
            watch.wait_until_it_shows({PROBE_STEP: True}, timeout=SHOWN_WITHIN,
                                      what=f"step '{PROBE_STEP}' passing once the lesson is complete")
            probes = drive(lab, watch, PROBE_CHANGES, measured=lambda change: {PROBE_STEP: change.expect[PROBE_STEP]})
    except BaseException:
        term.kill()
        raise
    code = term.quit()
    if code != 0:
        raise BenchError(f"the app exited with {code}")
    result = json.loads(stats.read_text())
    window = [r for r in result["rounds"] if t0 <= r[0] <= t1]
    before = [r for r in result["rounds"] if r[0] <= t1]      # an event-driven loop may not run in a short window
    if not before:
        raise BenchError("the live loop ran no round before the end of the idle window")
    expected_netns = sc.netns + 2            # the leaves, the hub, the host
    netns, procs = before[-1][2], before[-1][3]
    if netns < expected_netns or procs < sc.procs:
        raise BenchError(f"the app's snapshot saw {netns} netns and {procs} processes; the scenario has "
                         f"{expected_netns} netns and {sc.procs}+ processes")
    require_the_live_pace(window, idle, result["pace"])
    took = [r[1] for r in window] or [before[-1][1]]
    live_cpu = (window[-1][4] - window[0][4]) / (window[-1][0] - window[0][0]) if len(window) > 1 else 0.0
    return {"cpu_pct": 100.0 * (c1 - c0) / (t1 - t0), "live_pct": 100.0 * live_cpu,
            "rss": rss, "rounds": len(window), "seconds": t1 - t0, "pace": result["pace"],
            "events_live": result["events_live"],
            "round_ms": statistics.median(took), "round_max": max(took), "netns": netns, "procs": procs,
            "changes": changes, "probes": probes}


# --------------------------------------------------------------- change and probe latency
#: A change not shown by the step list within this many seconds fails the bench.
SHOWN_WITHIN = 10.0
#: After a change is shown, the next one waits a random 0..PHASE_JITTER s (seeded: the same pauses
#: each run), so changes land at any point of the live loop's 1 s interval, as a learner's do; made
#: at once, each would land just after the round that showed the last one, the worst phase.
PHASE_JITTER = 1.0
LAB_NETNS = ("RED", "BLUE")      # the lesson's namespaces; its veth ends are made inside them
PROBE_STEP = "ping"              # netns-veth's reachability step (a `reachable` check: one ping, RED -> BLUE)


@dataclass(frozen=True)
class Change:
    """What a learner does in another shell: *commands*, run one after the other, and what the
    step list must show once it sees them (*expect*: step id -> passed)."""
    kind: str
    what: str
    commands: tuple[tuple[str, ...], ...]
    expect: dict


def _ip(*args: str) -> tuple[str, ...]:
    return ("ip",) + args


ROOMS = Change("netns", "ip netns add RED, BLUE", (_ip("netns", "add", "RED"), _ip("netns", "add", "BLUE")),
               {"rooms": True})
CABLE = Change("link", "veth pair RED/veth0 <-> BLUE/veth1 made",
               (_ip("link", "add", "veth0", "netns", "RED", "type", "veth", "peer", "name", "veth1", "netns", "BLUE"),),
               {"cable": True})
ADDRESSES = Change("address", "both addresses added",
                   (_ip("-n", "RED", "addr", "add", "10.11.11.2/24", "dev", "veth0"),
                    _ip("-n", "BLUE", "addr", "add", "10.11.11.3/24", "dev", "veth1")), {"addresses": True})
ENDS_UP = Change("link", "both ends up", (_ip("-n", "RED", "link", "set", "veth0", "up"),
                                          _ip("-n", "BLUE", "link", "set", "veth1", "up")), {"up": True})
VETH0_DOWN = Change("link", "RED/veth0 down", (_ip("-n", "RED", "link", "set", "veth0", "down"),), {"up": False})
VETH0_UP = Change("link", "RED/veth0 up", (_ip("-n", "RED", "link", "set", "veth0", "up"),), {"up": True})
BLUE_ADDR_DEL = Change("address", "BLUE's address deleted",
                       (_ip("-n", "BLUE", "addr", "del", "10.11.11.3/24", "dev", "veth1"),), {"addresses": False})
BLUE_ADDR_ADD = Change("address", "BLUE's address added",
                       (_ip("-n", "BLUE", "addr", "add", "10.11.11.3/24", "dev", "veth1"),), {"addresses": True})
RED_ADDR_DEL = Change("address", "RED's address deleted",
                      (_ip("-n", "RED", "addr", "del", "10.11.11.2/24", "dev", "veth0"),), {"addresses": False})
RED_ADDR_ADD = Change("address", "RED's address added",
                      (_ip("-n", "RED", "addr", "add", "10.11.11.2/24", "dev", "veth0"),), {"addresses": True})
_ALL_BUT_ROOMS_FAIL = {"rooms": False, "cable": False, "addresses": False, "up": False}
BLUE_DEL = Change("netns", "ip netns del BLUE (its veth end, and so the pair, with it)", (_ip("netns", "del", "BLUE"),),
                  _ALL_BUT_ROOMS_FAIL)
BLUE_ADD = Change("netns", "ip netns add BLUE", (_ip("netns", "add", "BLUE"),), {"rooms": True})
RED_DEL = Change("netns", "ip netns del RED (the pair with it)", (_ip("netns", "del", "RED"),), _ALL_BUT_ROOMS_FAIL)
RED_ADD = Change("netns", "ip netns add RED", (_ip("netns", "add", "RED"),), {"rooms": True})

#: 20 changes of the non-probe steps, each flipping at least one of them, from nothing to the lesson
#: done (bar the ping), undone and redone; it ends with all four passing. 5 netns, 8 link, 7 address.
NON_PROBE_CHANGES = (ROOMS, CABLE, ADDRESSES, ENDS_UP,
                     VETH0_DOWN, VETH0_UP, BLUE_ADDR_DEL, BLUE_ADDR_ADD, RED_ADDR_DEL, RED_ADDR_ADD,
                     BLUE_DEL, BLUE_ADD, CABLE, ADDRESSES, ENDS_UP,
                     RED_DEL, RED_ADD, CABLE, ADDRESSES, ENDS_UP)

VETH1_DOWN = Change("link", "BLUE/veth1 down", (_ip("-n", "BLUE", "link", "set", "veth1", "down"),),
                    {"up": False, PROBE_STEP: False})
VETH1_UP = Change("link", "BLUE/veth1 up", (_ip("-n", "BLUE", "link", "set", "veth1", "up"),),
                  {"up": True, PROBE_STEP: True})
BLUE_ADDR_GONE = Change("address", BLUE_ADDR_DEL.what, BLUE_ADDR_DEL.commands, {"addresses": False, PROBE_STEP: False})
BLUE_ADDR_BACK = Change("address", BLUE_ADDR_ADD.what, BLUE_ADDR_ADD.commands, {"addresses": True, PROBE_STEP: True})
#: The reachability step flipped 10 times once the lesson is complete, as a learner breaks and
#: mends it: a link down and up, an address deleted and added back. Each flips a non-probe step
#: too (the bench waits for both); only the ping step is timed here. (Not by a blackhole route:
#: the Observer reads unicast routes only, so such a change is seen by the 5 s probe alone.)
PROBE_CHANGES = (VETH1_DOWN, VETH1_UP, BLUE_ADDR_GONE, BLUE_ADDR_BACK) * 2 + (VETH1_DOWN, VETH1_UP)


def require_the_scripts_steps(lesson) -> None:
    """The change scripts are written for netns-veth's steps: refuse a lesson without them."""
    wanted = {s for change in NON_PROBE_CHANGES + PROBE_CHANGES for s in change.expect}
    missing = wanted - {step.id for step in lesson.steps}
    if missing:
        raise BenchError(f"the change latency part drives {LESSON}'s steps; lesson {lesson.id} has no step "
                         f"{', '.join(sorted(missing))}")


class LessonLab:
    """The lesson's own names, made by the bench in this machine's kernel: refused when they exist
    before the run, always removed after it. Packets only go between RED and BLUE (the lesson's
    reachable check sends them)."""

    def __init__(self) -> None:
        self.touched = False
        self.ours: set[int] = set()      # inodes of the RED and BLUE the bench made: only those are deleted
        self.left_as: dict[str, int | None] = {}     # what the bench's last command left: name -> inode

    @staticmethod
    def _inode(name: str) -> int | None:
        try:
            return os.stat(f"/run/netns/{name}").st_ino
        except OSError:
            return None

    @staticmethod
    def existing() -> list[str]:
        return [n for n in LAB_NETNS if os.path.exists(f"/run/netns/{n}")]

    def run(self, change: Change) -> tuple[float, float]:
        """Run the change's commands; (monotonic time before the first, after the last returned)."""
        self.touched = True
        started = time.monotonic()
        for cmd in change.commands:
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise BenchError(f"`{' '.join(cmd)}` failed ({res.returncode}): {res.stderr.strip()[:300]}")
            done = time.monotonic()
            self.left_as = {name: self._inode(name) for name in LAB_NETNS}
            self.ours |= {i for i in self.left_as.values() if i is not None}
        return started, done

    def require_undisturbed(self) -> None:
        """RED and BLUE are as the bench left them: no one else made, deleted or replaced one (a
        lesson test or a learner on netns-veth would; their changes would be timed as the bench's)."""
        now = {name: self._inode(name) for name in LAB_NETNS}
        moved = [name for name in LAB_NETNS if now[name] != self.left_as.get(name)]
        if self.left_as and moved:
            raise BenchError(f"netns {', '.join(moved)} changed under the bench (made, deleted or replaced by "
                             f"something else: a lesson test, a learner on {LESSON}?); run it when nothing else "
                             f"uses RED and BLUE")

    def remove(self) -> str:
        if not self.touched:
            return ""
        ours = [n for n in self.existing() if self._inode(n) in self.ours]
        gone = [n for n in ours if subprocess.run(["ip", "netns", "del", n], capture_output=True).returncode == 0]
        left = [n for n in ours if n not in gone]
        others = [n for n in self.existing() if n not in ours]
        return (f"lesson lab: deleted netns {', '.join(gone) or 'none'}" + (f"; STILL THERE: {left}" if left else "")
                + (f"; left alone {others}: not the bench's" if others else ""))


class ShownVerdicts:
    """What the app's step list shows, as the child's hook writes it (one JSON line per step whose
    shown verdict changed: [monotonic time, step id, passed]); read while the pty is drained."""

    def __init__(self, path: Path, term: Terminal) -> None:
        self.path, self.term = path, term
        self.offset = 0
        self.log: list[tuple[float, str, bool | None]] = []
        self.now: dict[str, bool | None] = {}

    def read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]       # a line being written is read next time
        self.offset += len(complete)
        for line in complete.splitlines():
            when, step_id, passed = json.loads(line)
            self.log.append((when, step_id, passed))
            self.now[step_id] = passed

    def wait_until_it_shows(self, expect: dict, timeout: float, what: str) -> None:
        """Wait until the step list shows *expect* now (step id -> passed)."""
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if all(self.now.get(s) == v for s, v in expect.items()):
                return
            self._still_waiting(expect, deadline, timeout, what)

    def _still_waiting(self, expect: dict, deadline: float, timeout: float, what: str) -> None:
        if self.term.proc.poll() is not None:
            raise BenchError(f"the app exited ({self.term.proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            shows = ", ".join(f"{s}={self.now.get(s)}" for s in expect)
            raise BenchError(f"the step list did not show {what} within {timeout:.0f} s (it shows {shows})")
        self.term.pump(0.01)

    def wait_for(self, expect: dict, since: float, timeout: float, what: str) -> dict[str, float]:
        """Wait until each step in *expect* has shown its verdict at or after *since*; the first
        such time of each. BenchError after *timeout* s."""
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            first = {}
            for when, step_id, passed in self.log:
                if when >= since and step_id in expect and passed == expect[step_id] and step_id not in first:
                    first[step_id] = when
            if len(first) == len(expect):
                return first
            self._still_waiting(expect, deadline, timeout, what)


def drive(lab: LessonLab, watch: ShownVerdicts, changes, measured) -> list[tuple[Change, float]]:
    """Make each change, wait until the step list shows all it should, and time what *measured*
    picks: from the last command's return until the step list shows it (for several steps, the
    last of them to show). A round may see the kernel's change before `ip` has exited: such a
    latency counts as 0."""
    jitter = random.Random(18)
    out = []
    for n, change in enumerate(changes, 1):
        watch.read()
        lab.require_undisturbed()
        stale = [s for s, v in change.expect.items() if watch.now.get(s) == v]
        if stale:
            raise BenchError(f"change {n} ({change.what}): the step list already shows {stale} as it should "
                             f"after it (did something else change RED or BLUE?)")
        started, done = lab.run(change)
        try:
            first = watch.wait_for(change.expect, since=started, timeout=SHOWN_WITHIN,
                                   what=f"change {n} ({change.what}): {change.expect}")
        except BenchError:
            lab.require_undisturbed()       # the likelier reason, when it is one
            raise
        lab.require_undisturbed()
        latency = max(max(first[s] for s in measured(change)) - done, 0.0) * 1000
        out.append((change, latency))
        print(f"  {n:2d}. {change.kind:8s} {change.what:58s} shown after {latency:5.0f} ms")
        watch.term.pump(jitter.uniform(0, PHASE_JITTER))
    return out


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank (of 20 values: the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def latency_lines(measured: list[tuple[Change, float]]) -> list[str]:
    """Median, p95 and max of all the latencies, then by kind of change."""
    groups = {"all": [ms for _, ms in measured]}
    for change, ms in measured:
        groups.setdefault(change.kind, []).append(ms)
    return [f"{kind:8s} median {statistics.median(v):5.0f} ms  p95 {p95(v):5.0f}  max {max(v):5.0f}  (n={len(v)})"
            for kind, v in groups.items()]


# --------------------------------------------------------------- main
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lesson", default=LESSON, help=f"lesson to open (default {LESSON})")
    p.add_argument("--runs", type=int, default=7, help="cold starts to time (default 7)")
    p.add_argument("--idle", type=float, default=30.0, help="seconds of idle live loop to measure (default 30)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring (default 5)")
    p.add_argument("--netns", type=int, default=200, help="leaf network namespaces (default 200)")
    p.add_argument("--procs", type=int, default=2000, help="processes (default 2000)")
    p.add_argument("--bridges", type=int, default=20, help="bridges (default 20)")
    p.add_argument("--cleanup", action="store_true", help="remove what an interrupted run left behind, then exit")
    args = p.parse_args(argv)
    if args.runs < 1 or args.idle < 5 or not 1 <= args.netns <= 999 or args.procs < 0 or args.bridges < 1:
        p.error("--runs >= 1, --idle >= 5, --netns 1..999, --procs >= 0, --bridges >= 1")
    args.bridges = min(args.bridges, args.netns)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/app.py builds namespaces: run it as root (sudo).", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "nsenter", "bash") if shutil.which(tool) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.cleanup:
        print(scale.cleanup(None))
        return 0
    if scale.our_netns() or scale.our_sleeps():
        print(f"refusing to start: leftovers of a benchmark run exist; remove them with: "
              f"sudo {sys.executable} {sys.argv[0]} --cleanup", file=sys.stderr)
        return 2
    lab = LessonLab()
    if lab.existing():
        names = lab.existing()
        print(f"refusing to start: netns {' and '.join(names)} {'exists' if len(names) == 1 else 'exist'}; the bench "
              f"makes and deletes the lesson's own RED and BLUE. If a learner or a test is using them, let it "
              f"finish; if a killed bench left them: ip netns del {names[0]}", file=sys.stderr)
        return 2
    from tutor.lessons import load_catalog
    lesson = load_catalog().find(args.lesson)
    if lesson is None:
        print(f"no lesson '{args.lesson}'", file=sys.stderr)
        return 2

    def interrupted(signum, frame):
        raise scale.Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    scale._become_subreaper()

    # empty: run 1 is a first start. Never the store of whoever runs the bench.
    data_dir = Path(tempfile.mkdtemp(prefix="nstutor-bench-"))
    os.environ["NSTUTOR_DATA_DIR"] = str(data_dir)
    # and an empty parse cache: run 1 parses every lesson, as a first start after `pip install`
    # does (install.sh parses them once at install time, so a learner's is quicker than this)
    cache_dir = Path(tempfile.mkdtemp(prefix="nstutor-bench-cache-"))
    os.environ["NSTUTOR_CACHE_DIR"] = str(cache_dir)
    # compiled as pip compiles an installed nstutor (a checkout run with PYTHONDONTWRITEBYTECODE
    # would otherwise compile every module on every start)
    compileall.compile_dir(str(REPO / "tutor"), quiet=1)
    status, frames, live = 0, None, None
    sc = None
    try:
        print(f"== cold start to first frame: `python -m tutor {lesson.id}` in a {SIZE[0]}x{SIZE[1]} pty, "
              f"x{args.runs}")
        frames = cold_start(lesson, args.runs, data_dir)

        sc = scale.Scenario(args.netns, args.procs, args.bridges)
        print(f"\n== building the scale scenario: {args.netns} netns + hub, {2 * args.netns} veth ends, "
              f"{args.bridges} bridges, {args.procs} processes")
        t = time.monotonic()
        scale.build(sc)
        print(f"  built in {(time.monotonic() - t):.1f} s")
        print(f"\n== idle live loop: app on {lesson.id}, CPU over {args.idle:.0f} s with nothing changing")
        live = idle_loop(lesson, sc, args.idle, args.warmup, data_dir, lab)
    except (BenchError, scale.BenchError) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, scale.Interrupted) as exc:
        print(f"\ninterrupted ({str(exc) or 'SIGINT'}): cleaning up", file=sys.stderr)
        status = 130
    finally:
        if lab.touched:
            print("\n" + lab.remove())
        if sc is not None:
            print("\n" + scale.cleanup(sc))
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(cache_dir, ignore_errors=True)

    if frames is None or live is None:
        return status or 1
    ff_med = statistics.median(frames)
    print("\n== summary")
    print(f"  first frame   median {ff_med:6.0f} ms   min {min(frames):6.0f}   max {max(frames):6.0f}  (n={len(frames)}); "
          f"the first start (name dialog) {frames[0]:.0f} ms")
    print(f"  idle loop     {live['cpu_pct']:.2f} % of one core over {live['seconds']:.1f} s, of which the live thread "
          f"(Observer.snapshot + grading) {live['live_pct']:.2f} %, the UI and the rest "
          f"{live['cpu_pct'] - live['live_pct']:.2f} %; {live['rounds']} rounds, "
          f"median {live['round_ms']:.0f} ms (max {live['round_max']:.0f}) per snapshot + grade; "
          f"it saw {live['netns']} netns, {live['procs']} processes; the loop's pace {live['pace']:g} s "
          f"({'woken by process and netlink events' if live['events_live'] else 'polling: no process events'})")
    print(f"  memory        RSS {live['rss']:.1f} MiB")
    print("  change        from the last command's return until the step list shows it (non-probe steps):")
    for line in latency_lines(live["changes"]):
        print("                  " + line)
    print(f"  probe         the same, for the reachability step '{PROBE_STEP}':")
    for line in latency_lines(live["probes"]):
        print("                  " + line)
    change_p95 = p95([ms for _, ms in live["changes"]])
    probe_p95 = p95([ms for _, ms in live["probes"]])
    missed = []
    if ff_med >= 500:
        missed.append(f"first frame {ff_med:.0f} ms >= 500")
    if frames[0] >= 1000:
        missed.append(f"first start {frames[0]:.0f} ms >= 1000")
    if live["cpu_pct"] >= 1.5:
        missed.append(f"idle CPU {live['cpu_pct']:.1f} % >= 1.5")
    if live["rss"] >= 120:
        missed.append(f"RSS {live['rss']:.0f} MiB >= 120")
    if change_p95 >= 500:
        missed.append(f"change p95 {change_p95:.0f} ms >= 500")
    if probe_p95 >= 1500:
        missed.append(f"probe p95 {probe_p95:.0f} ms >= 1500")
    print("  targets       " + ("met (first frame < 500 ms, first start < 1 s, idle < 1.5 %, RSS < 120 MB, "
                                 "change p95 < 500 ms, probe p95 < 1.5 s)" if not missed
                                 else "MISSED: " + "; ".join(missed)))
    print(f"first_frame_ms={ff_med:.0f} idle_cpu_pct={live['cpu_pct']:.2f} rss_mb={live['rss']:.1f} "
          f"first_start_ms={frames[0]:.0f} change_p95_ms={change_p95:.0f} probe_p95_ms={probe_p95:.0f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
