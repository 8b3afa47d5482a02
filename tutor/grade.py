"""The snapshot a lesson's checks are graded on, taken for one look (`nstutor check`, tests).

Between observe (which reads the machine) and checks (which grade what was read), and part of
neither: grading is a pure function of (check, snapshot), so deciding how to take the snapshot,
and waiting a second for CPU rates, is done here. The app's live loop takes its own (app/live_checker.py,
with an Observer); verify.py grades in a loop with the previous snapshot.
"""
from __future__ import annotations

import time

from .checks.runner import needs_cpu_rate, wants_of_steps
from .observe import Snapshot, take_snapshot


def snapshot_for(steps, previous: Snapshot | None = None, sample_seconds: float = 1.0, *,
                 probes: bool = True) -> Snapshot:
    """A snapshot good enough for these steps: with what their kinds want read (wants_of), and if
    any needs CPU rates and there is no previous snapshot to compare with, two, *sample_seconds* apart.
    *probes* False sends no probe (--no-probe)."""
    if needs_cpu_rate(steps) and previous is None:
        previous = take_snapshot()
        time.sleep(sample_seconds)  # a measurement interval, not a wait for a condition
    return take_snapshot(previous, wants_of_steps(steps, probes=probes))
