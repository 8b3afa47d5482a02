"""The live loop: observe the kernel and grade the open lesson, in one background thread.

One dedicated thread owns the Observer (its netlink sockets must stay in the thread that
made them) and runs: wait (one interval, or less when woken) -> snapshot -> grade ->
deliver. The UI thread never waits for any of it; it only receives `LiveUpdate`s (through
Textual's thread-safe post_message) and asks for things with `request()`, `set_lesson()`,
`pause()`.

Each snapshot reads what the open lesson's checks want beyond the standing parts (the nat table,
files inside a process's root: checks.runner.wants_of), and only that; the Observer keeps the nat
table until nftables announces a change. Probes are not in it: they are sent only in a probe round
(below), into that round's snapshot (observe.answer_probes).

Wake-ups come from: the Observer's change watch (tutor/observe/events.py: a program started or
a process ended anywhere on the machine, a netlink event in any netns), its /run/netns watcher
(`ip netns add` sends no netlink event), the learner (check now, back from the shell), and the
interval. When the change watch has the process events, nothing changes without one of these, so
the interval is only a safety net for what sends no event (a file a running process writes): a
round every `idle_interval` seconds (5), or every `interval` (1) while the lesson measures a CPU
rate, which needs regular samples; without process events (not root, not in the initial pid
namespace), every `interval`. Bursts are collapsed: rounds are at least MIN_GAP apart; a round
that events asked for waits until their burst is over (SETTLE), and such rounds are at most
EVENT_ROUNDS a second (a busy machine sends events all the time).

Active probes (the `reachable` kind sends one packet) never run on every round: only when
the learner checks explicitly, when the network changed since the last probe (links,
addresses, routes, neighbours, sockets of any netns, the host's nftables rules; at most every
PROBE_MIN_GAP seconds), or at least every `probe_interval` seconds (what no event shows, such
as a sysctl or an iptables-legacy rule, is seen then). Between probes the last probe's verdict is reused, so a
reachable step does not flicker; after a change it is at most PROBE_MIN_GAP old. For
PROBE_SETTLE seconds after the network changed, probes are sent again every PROBE_SETTLE_EVERY (a link
just set up may drop the first packet, while its neighbour is being resolved).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..checks.base import Verdict
from ..checks.runner import StepResult, grade_expectation, lab_advice, wants_of_steps
from ..lessons import Lesson
from ..observe import Snapshot, answer_probes

MIN_GAP = 0.1          # seconds between two snapshots, however often we are woken
SETTLE = 0.03          # after an event, seconds of quiet that end its burst...
SETTLE_MAX = 0.15      # ...waited for at most this long
EVENT_ROUNDS = 8       # rounds a second at most, when only events ask for them (a busy machine)
PROBE_MIN_GAP = 0.25   # seconds between two rounds of probes sent because the network changed
PROBE_SETTLE = 3.0     # seconds after a network change during which probes repeat...
PROBE_SETTLE_EVERY = 1.0   # ...this often


@dataclass(frozen=True)
class LiveUpdate:
    seq: int                           # 1, 2, 3... per LiveChecker
    snap: Snapshot | None              # None when the snapshot failed (see error)
    previous: Snapshot | None          # the snapshot delivered before this one
    lesson_id: str | None              # the lesson these results are for
    results: tuple[StepResult, ...]
    explicit: bool                     # the learner asked for this round (check, back from shell)
    probed: bool                       # active probes ran in this round
    took_ms: float                     # snapshot + grading time
    error: str | None = None


SnapshotSource = Callable[[], Snapshot]
LessonSnapshot = Callable[[Lesson | None], Snapshot]     # a snapshot with what this lesson's checks want


class LiveChecker:
    def __init__(self, deliver: Callable[[LiveUpdate], None], snapshot_source: SnapshotSource | None = None,
                 interval: float = 1.0, probe_interval: float = 5.0, probes: bool = True,
                 run_without_lesson: bool = False, idle_interval: float = 5.0) -> None:
        """*deliver* is called from the live thread with each update (it must be thread-safe, e.g.
        App.post_message). *snapshot_source* replaces the Observer (tests feed fixed snapshots).
        *probes* False never sends a probe (a frozen test snapshot must not be probed for real).
        *idle_interval*: the safety-net round while process events come (module docstring)."""
        self._deliver = deliver
        self._source = snapshot_source
        self.interval = interval
        self.idle_interval = idle_interval
        self.events_live = False        # the Observer's change watch has the process events
        self.probe_interval = probe_interval
        self.probes = probes
        self.run_without_lesson = run_without_lesson
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lesson: Lesson | None = None
        self._explicit = False
        self._paused = False
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._previous: Snapshot | None = None
        self._probe_cache: dict[tuple[str, str, int], Verdict] = {}
        self._last_probe = float("-inf")
        self._probed_network: tuple | None = None   # the network the cached probe verdicts were sent through
        self._network: tuple | None = None          # the network of the last round
        self._network_changed = float("-inf")       # when a round last saw it differ from the round before
        self._event = False                         # a change watch woke us since the last round
        self._recent: list[float] = []              # when the rounds of the last second started
        self.rounds = 0                 # snapshots taken (for tests and the bench)

    # ------------------------------------------------------------ called from the UI thread
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nstutor-live", daemon=True)
            self._thread.start()

    def set_lesson(self, lesson: Lesson | None) -> None:
        with self._lock:
            self._lesson = lesson
            self._last_probe = float("-inf")   # probe soon for a newly opened lesson
        self._wake.set()

    def request(self, explicit: bool = False) -> None:
        """Refresh now; *explicit* also runs the active probes (the learner asked)."""
        with self._lock:
            self._explicit = self._explicit or explicit
        self._wake.set()

    def pause(self) -> None:
        """Stop observing (e.g. while the app is suspended into a shell)."""
        with self._lock:
            self._paused = True

    def resume(self, explicit: bool = True) -> None:
        with self._lock:
            self._paused = False
        self.request(explicit)

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ the live thread
    def _run(self) -> None:
        observer = None
        try:
            if self._source is None:
                from ..observe import Observer
                observer = live = Observer(on_netns_change=self._wake.set, on_change=self._changed)
                self.events_live = observer.events_live

                def source(lesson: Lesson | None) -> Snapshot:   # what the lesson's checks want, probes aside
                    return live.snapshot(wants_of_steps(lesson.steps, probes=False) if lesson is not None else None)
            else:
                fixed = self._source     # a test's frozen snapshots: nothing more to read

                def source(lesson: Lesson | None) -> Snapshot:
                    return fixed()
            self._loop(source)
        except Exception as exc:  # noqa: BLE001 - report instead of dying silently
            self._emit(None, None, (), False, False, 0.0, f"the live view stopped: {exc!r}")
        finally:
            if observer is not None:
                observer.close()

    def _changed(self) -> None:
        """From the change watch's thread: the machine may have changed."""
        with self._lock:
            self._event = True
        self._wake.set()

    def _wait_out_the_burst(self) -> bool:
        """Woken by events only: let the burst end (a script's commands end within milliseconds of
        each other: SETTLE of quiet, at most SETTLE_MAX), and keep to EVENT_ROUNDS rounds a second
        on a machine that never stops changing. False when stopped meanwhile."""
        deadline = time.monotonic() + SETTLE_MAX
        while True:
            with self._lock:
                self._event = False
            if self._stop.wait(SETTLE):
                return False
            with self._lock:
                again = self._event and not self._explicit
            if not again or time.monotonic() >= deadline:
                break
        if len(self._recent) >= EVENT_ROUNDS:
            rest = self._recent[-EVENT_ROUNDS] + 1.0 - time.monotonic()
            if rest > 0 and self._stop.wait(rest):
                return False
        return True

    @property
    def pace(self) -> float:
        """Seconds between two rounds when nothing wakes the loop, for the open lesson."""
        with self._lock:
            lesson = self._lesson
        return self.interval_for(lesson)

    def interval_for(self, lesson: Lesson | None) -> float:
        """Seconds until the next round when nothing wakes the loop (the module docstring)."""
        if not self.events_live:
            return self.interval
        if lesson is not None and any(e.needs_cpu_rate for s in lesson.steps for e in s.expectations):
            return self.interval
        return max(self.interval, self.idle_interval)

    def _loop(self, source: LessonSnapshot) -> None:
        last = float("-inf")
        due = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(max(due - time.monotonic(), 0.0))
            if self._stop.is_set():
                return
            with self._lock:
                only_events = self._event and not self._explicit and time.monotonic() < due
            if only_events and not self._wait_out_the_burst():
                return
            gap = last + MIN_GAP - time.monotonic()
            if gap > 0 and self._stop.wait(gap):     # collapse a burst of wake-ups
                return
            self._wake.clear()
            with self._lock:
                lesson, explicit, paused = self._lesson, self._explicit, self._paused
                self._explicit = self._event = False
            if paused or (lesson is None and not self.run_without_lesson):
                due = time.monotonic() + self.interval_for(lesson)
                continue
            started = last = time.monotonic()
            self._recent = [t for t in self._recent if t > started - 1.0] + [started]
            try:
                snap = source(lesson)
            except Exception as exc:  # noqa: BLE001 - one bad round must not end the live view
                self._emit(None, self._previous, (), explicit, False, 0.0, f"could not observe: {exc!r}")
                due = started + self.interval
                continue
            self.rounds += 1
            results, probed = self._grade(lesson, snap, explicit)
            took = (time.monotonic() - started) * 1000.0
            self._emit(snap, self._previous, results, explicit, probed, took, None, lesson)
            self._previous = snap
            due = started + self.interval_for(lesson)
            due = min(due, self._next_probe(lesson))

    def _emit(self, snap, previous, results, explicit, probed, took, error, lesson=None) -> None:
        self._seq += 1
        update = LiveUpdate(self._seq, snap, previous, lesson.id if lesson else None, tuple(results),
                            explicit, probed, took, error)
        try:
            self._deliver(update)
        except Exception:  # noqa: BLE001 - the app is going away
            pass

    def _grade(self, lesson: Lesson | None, snap: Snapshot, explicit: bool) -> tuple[list[StepResult], bool]:
        if lesson is None:
            return [], False
        now = time.monotonic()
        has_probes = self._has_probes(lesson)
        network = _network_state(snap) if has_probes else None
        if network != self._network:
            self._network, self._network_changed = network, now
        probe = has_probes and (explicit or now - self._last_probe >= self.probe_interval
                                or (network != self._probed_network and now - self._last_probe >= PROBE_MIN_GAP)
                                or (self._settling(lesson) and now - self._last_probe >= PROBE_SETTLE_EVERY))
        if probe:
            self._last_probe = now
            self._probed_network = network
            snap = answer_probes(snap, wants_of_steps(lesson.steps))    # send this round's probes
        results = []
        for step in lesson.steps:
            verdicts = []
            for i, exp in enumerate(step.expectations):
                if not exp.active:
                    verdicts.append(grade_expectation(exp, snap, probes=False))
                    continue
                key = (lesson.id, step.id, i)
                if probe or key not in self._probe_cache:
                    verdict = grade_expectation(exp, snap, probes=probe)
                    if probe:
                        self._probe_cache[key] = verdict
                else:
                    verdict = self._probe_cache[key]
                verdicts.append(verdict)
            verdicts = lab_advice(lesson, tuple(verdicts))
            results.append(StepResult(step.id, step.title, all(v.passed for v in verdicts), verdicts))
        return results, probe


    def _has_probes(self, lesson: Lesson | None) -> bool:
        return self.probes and lesson is not None and any(e.active for s in lesson.steps for e in s.expectations)

    def _next_probe(self, lesson: Lesson | None) -> float:
        """When a round must come to probe, events or not: a change not probed yet (held back by
        PROBE_MIN_GAP), the settling probes, and no later than probe_interval."""
        if not self._has_probes(lesson):
            return float("inf")
        if self._network != self._probed_network:
            return self._last_probe + PROBE_MIN_GAP
        if self._settling(lesson):
            return self._last_probe + PROBE_SETTLE_EVERY
        return self._last_probe + self.probe_interval

    def _settling(self, lesson: Lesson | None) -> bool:
        """Within PROBE_SETTLE seconds of a network change, in a lesson that probes."""
        return self._has_probes(lesson) and time.monotonic() - self._network_changed < PROBE_SETTLE


def _network_state(snap: Snapshot) -> tuple:
    """What a probe's outcome depends on that netlink shows. The Observer reuses unchanged parts as
    the same objects, so comparing two of these is mostly identity checks."""
    # Learned neighbours change by themselves (REACHABLE turns STALE; a probe's own ARP adds one):
    # only entries someone set by hand count, or every probe would call for the next one.
    return (snap.firewall_changes,) + tuple((ns.inode, ns.links, ns.addresses, ns.routes, ns.sockets,
                                             tuple(n for n in ns.neighbours if n.state in ("PERMANENT", "NOARP")))
                                            for ns in snap.netns.values())
