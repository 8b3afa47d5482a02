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

The last line is machine-readable:
    first_frame_ms=<median of all runs> idle_cpu_pct=<x> rss_mb=<x> first_start_ms=<run 1>
Targets: first frame < 1000 ms (the median, and the first start), idle live loop < 5 % of one core,
RSS < 120 MB.

Run as root from the repository:   sudo /opt/nstutor/bin/python bench/app.py
Quicker:                           ... bench/app.py --runs 3 --idle 10 --netns 20 --procs 200
Leftovers from a killed run:       ... bench/app.py --cleanup
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
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
class BenchApp(NstutorApp):
    def _deliver(self, update):
        if update.snap is not None:
            # (when, snapshot + grade ms, netns seen, processes seen, CPU seconds of the live thread so far)
            rounds.append((time.monotonic(), update.took_ms, len(update.snap.netns), len(update.snap.processes),
                           time.thread_time()))
        super()._deliver(update)
app = BenchApp({lesson!r})
app.run()
with open({stats!r}, "w") as f:
    json.dump({{"rounds": rounds, "errors": [app.last_update.error] if app.last_update else []}}, f)
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


def idle_loop(lesson, sc, idle: float, warmup: float, data_dir: Path) -> dict:
    stats = data_dir / "live-stats.json"
    code = CHILD.format(repo=str(REPO), lesson=lesson.id, stats=str(stats))
    env = dict(os.environ, TERM="xterm-256color", NSTUTOR_DATA_DIR=str(data_dir))
    term = Terminal([sys.executable, "-c", code], env)
    try:
        first = term.wait_for(frame_markers(lesson), timeout=60)
        print(f"  app up: first frame after {first * 1000:.0f} ms; warming up {warmup:.0f} s")
        term.pump(warmup)
        t0, c0 = time.monotonic(), cpu_seconds(term.proc.pid)
        term.pump(idle)
        t1, c1 = time.monotonic(), cpu_seconds(term.proc.pid)
        rss = rss_mb(term.proc.pid)
    except BaseException:
        term.kill()
        raise
    code = term.quit()
    if code != 0:
        raise BenchError(f"the app exited with {code}")
    result = json.loads(stats.read_text())
    window = [r for r in result["rounds"] if t0 <= r[0] <= t1]
    if not window:
        raise BenchError("the live loop ran no round during the idle window")
    expected_netns = sc.netns + 2            # the leaves, the hub, the host
    netns, procs = window[-1][2], window[-1][3]
    if netns < expected_netns or procs < sc.procs:
        raise BenchError(f"the app's snapshot saw {netns} netns and {procs} processes; the scenario has "
                         f"{expected_netns} netns and {sc.procs}+ processes")
    if len(window) < int(idle) - 1:
        raise BenchError(f"only {len(window)} live rounds in {idle:.0f} s: the loop must run at least once a second")
    took = [r[1] for r in window]
    live_cpu = (window[-1][4] - window[0][4]) / (window[-1][0] - window[0][0]) if len(window) > 1 else 0.0
    return {"cpu_pct": 100.0 * (c1 - c0) / (t1 - t0), "live_pct": 100.0 * live_cpu,
            "rss": rss, "rounds": len(window), "seconds": t1 - t0,
            "round_ms": statistics.median(took), "round_max": max(took), "netns": netns, "procs": procs}


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
        live = idle_loop(lesson, sc, args.idle, args.warmup, data_dir)
    except (BenchError, scale.BenchError) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, scale.Interrupted) as exc:
        print(f"\ninterrupted ({str(exc) or 'SIGINT'}): cleaning up", file=sys.stderr)
        status = 130
    finally:
        if sc is not None:
            print("\n" + scale.cleanup(sc))
        shutil.rmtree(data_dir, ignore_errors=True)

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
          f"it saw {live['netns']} netns, {live['procs']} processes")
    print(f"  memory        RSS {live['rss']:.1f} MiB")
    missed = []
    if ff_med >= 1000:
        missed.append(f"first frame {ff_med:.0f} ms >= 1000")
    if frames[0] >= 1000:
        missed.append(f"first start {frames[0]:.0f} ms >= 1000")
    if live["cpu_pct"] >= 5:
        missed.append(f"idle CPU {live['cpu_pct']:.1f} % >= 5")
    if live["rss"] >= 120:
        missed.append(f"RSS {live['rss']:.0f} MiB >= 120")
    print("  targets       " + ("met (first frame < 1 s, first start too, idle < 5 %, RSS < 120 MB)" if not missed
                                 else "MISSED: " + "; ".join(missed)))
    print(f"first_frame_ms={ff_med:.0f} idle_cpu_pct={live['cpu_pct']:.2f} rss_mb={live['rss']:.1f} "
          f"first_start_ms={frames[0]:.0f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
