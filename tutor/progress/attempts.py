"""The rules that decide what one graded outcome of a step is: an attempt, a new baseline, or nothing.

Pure functions of (outcome, what the store last kept for the step, who graded and in what
context); the store (store.py, whose docstring defines an attempt for the learner) only reads
and writes rows. Kept apart so the rules can be tested and read without SQLite.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

NOT_PROBED = "not probed"          # Verdict.observed the runner uses for a probe it did not send
MESSAGE_ONLY_INTERVAL = 60.0       # a change in failure wording alone refreshes the latest message this often
MAX_TRAIL = 40                     # states remembered per step for spotting a detour
PASS_STATE: tuple[str, ...] = ("+pass",)
PAID: tuple[str, ...] = ("!paid",)                 # trail marker: the states before it were counted
# A measured value as the grader prints it (CPU use "43.2%", a window "over 1.0 s"): it moves by
# itself, so it is not part of the state the learner changes.
_MEASURED = re.compile(r"\d+\.\d+(?=\s?(?:%|s\b|ms\b))")

State = tuple[str, ...]            # one "kind:hash" entry per failing verdict, sorted; PASS_STATE for a pass


@dataclass(frozen=True)
class Outcome:
    """One step's graded result, reduced to what the store keeps."""
    step_id: str
    passed: bool | None                        # None: only unprobed expectations are in the way
    failures: tuple[tuple[str, str], ...]      # sorted (kind, message), unprobed ones left out
    unknown_kinds: frozenset[str]              # kinds that were not probed this time
    evidence: tuple[Mapping[str, Any], ...]    # passing verdicts' facts (kept for a pass)
    state: State = ()                          # the facts the failing verdicts observed, context left out (_state)

    @property
    def message(self) -> str | None:
        return self.failures[0][1] if self.failures else None


@dataclass(frozen=True)
class Latest:
    """What the store kept for a step: its latest outcome and its trail."""
    passed: bool
    failures: tuple[tuple[str, str], ...]
    at: float
    trail: tuple[State, ...] = ()              # states since the current attempt began; [0] is the baseline


@dataclass(frozen=True)
class Context:
    """Who graded, and what the learner was doing."""
    in_front: str | None          # the step in front of the learner
    explicit: bool                # the learner asked for this grade (app `c`, `nstutor check`)
    named: bool = False           # the learner named the step in front (`nstutor check --step S`)
    arrived: bool = False         # the step in front was not in front at the learner's previous check
    lab_change: bool = False      # graded while (or from a snapshot taken before) a setup/reset ended
    now: float = 0.0


@dataclass(frozen=True)
class LabChange:
    """One setup, reset or verify-lesson run of a lesson (begin_lab_change .. end_lab_change)."""
    kind: str                     # "reset" | "setup" | "verify"
    started: float                # epoch seconds
    done: float | None            # None: not ended yet
    by_this_app: bool = False     # begun by the app asking (its own reset or build), not another shell

    def ran_between(self, since: float | None, until: float, now: float, stale: float) -> bool:
        """Did this change run at some moment after *since* (None: ever) and up to *until*? A step
        seen passing at *since* and failing at *until* broke in that window: if the change ran in it,
        the break is the change's doing (a new baseline), not the learner's. A change that never
        ended counts until *stale* seconds after it started (the run crashed)."""
        if self.started > until:
            return False
        if self.done is None or self.done < self.started:
            return now - self.started < stale
        return since is None or self.done > since


@dataclass(frozen=True)
class Decision:
    attempt: str | None                        # "pass" | "fail" | None: write an attempt row
    failures: tuple[tuple[str, str], ...] = () # the failures the attempt row carries
    trail: tuple[State, ...] | None = None     # the step's new trail (None: keep it)


def _unprobed(v) -> bool:
    """The runner's verdict for a probe it did not send: NOT_PROBED, or its translation (checks/runner.py)."""
    from ..i18n import _
    return v.observed in (NOT_PROBED, _(NOT_PROBED))


def outcome(result) -> Outcome:
    unknown = [v for v in result.verdicts if not v.passed and _unprobed(v)]
    failed = [v for v in result.verdicts if not v.passed and not _unprobed(v)]
    failures = tuple(sorted((v.kind, v.message or v.observed or v.expected or "") for v in failed))
    passed: bool | None = bool(result.passed)
    if not passed and not failed:
        passed = None
    evidence = tuple({"kind": v.kind, "observed": v.observed, "evidence": jsonable(v.evidence)}
                     for v in result.verdicts if v.passed)
    state = PASS_STATE if passed else _state(failed)
    return Outcome(result.id, passed, failures, frozenset(v.kind for v in unknown), evidence, state)


def _state(failed) -> State:
    """The facts the failing verdicts observed, as short stable entries.

    Left out: measured values (they move by themselves), and each verdict's `context`, the text
    that only lists other objects for orientation ("the host has docker0, eth0, lo" beside "no
    nsbr0"). The kind that writes such a listing names it (Verdict.context), so this takes out
    exactly that text rather than guessing at wording: what changes the state is the checked
    object itself, never an unrelated interface that `docker run` or another tool adds and removes."""
    entries = []
    for v in failed:
        text = "\x1f".join(_MEASURED.sub("#", _without(str(part or ""), v.context))
                           for part in (v.expected, v.observed, v.message))
        entries.append(f"{v.kind}:{hashlib.sha1(text.encode()).hexdigest()[:12]}")
    return tuple(sorted(entries))


def _without(text: str, context) -> str:
    """*text* with each listing of *context* replaced by one mark (longest first: one may hold another)."""
    for listing in sorted((c for c in context if c), key=len, reverse=True):
        text = text.replace(listing, "\u2026")
    return text


def jsonable(value: Any) -> Any:
    """Evidence is meant to be JSON-able; make sure of it (sets, paths, tuples become lists/strings)."""
    return json.loads(json.dumps(value if isinstance(value, Mapping) else {"value": value},
                                 default=lambda o: sorted(o, key=str) if isinstance(o, (set, frozenset)) else str(o)))


def same(new: Outcome, old: State) -> bool:
    """Is *new* the state *old*? A kind that was not probed this time is left out of *old*."""
    if new.unknown_kinds:
        old = tuple(e for e in old if e.split(":", 1)[0] not in new.unknown_kinds)
    return new.state == old


def decide(new: Outcome, old: Latest | None, ctx: Context) -> Decision | None:
    """What *new* is for its step (see the module docstring of store.py); None: nothing to write."""
    if new.passed is None:
        return None
    if ctx.lab_change:
        # Made by a setup/reset: remember it as the latest outcome only; the first state seen
        # after the change ends is the new baseline (an empty trail says so).
        if old is not None and old.passed == new.passed and not old.trail and old.failures == new.failures:
            return None
        return Decision(None, trail=())
    if new.passed:
        if old is not None and old.passed:
            return None                                        # still green: not a new attempt
        return Decision("pass", trail=(PASS_STATE,))
    states, paid = _split(old.trail if old is not None else ())
    in_front = ctx.in_front == new.step_id
    if not states:                                             # first sight, or first after a setup/reset
        if ctx.explicit and in_front and ctx.named:
            return Decision("fail", new.failures, trail=_join((new.state,), 1))
        return Decision(None, trail=(new.state,))
    if not in_front or ctx.arrived:
        if same(new, states[-1]):
            return _refresh(new, old, ctx)
        # Its baseline follows the machine; and a step just come in front (the command line sees
        # the machine only when asked) starts from where it is: earlier steps' progress moved it.
        return Decision(None, trail=(new.state,))
    if same(new, states[-1]):
        if ctx.explicit and paid < len(states) and not same(new, states[0]):   # a changed state, checked
            return Decision("fail", new.failures, trail=_join(states, len(states)))
        return _refresh(new, old, ctx)
    back = next((i for i in range(len(states) - 2, -1, -1) if same(new, states[i])), None)
    if back is not None:
        # Back to a state it was in: the learner undid what they did since, so that detour was a
        # mistake; one failed attempt, unless the learner's check already counted part of it.
        counted = paid > back + 1
        return Decision(None if counted else "fail", old.failures if old is not None else new.failures,
                        trail=_join(states[:back + 1], back + 1))
    states = states + (new.state,)
    if ctx.explicit:
        return Decision("fail", new.failures, trail=_join(states, len(states)))
    cut = max(len(states) - MAX_TRAIL, 0)
    return Decision(None, trail=_join(states[cut:], max(paid - cut, 0)))   # moving on: part of the attempt


def _split(trail: tuple[State, ...]) -> tuple[tuple[State, ...], int]:
    """(states, how many of them are paid for): a PAID marker follows the states a failed attempt
    already counted, so undoing them later is not counted a second time."""
    states = tuple(t for t in trail if t != PAID)
    paid = 0
    seen = 0
    for t in trail:
        if t == PAID:
            paid = seen
        else:
            seen += 1
    return states, paid


def _join(states: tuple[State, ...], paid: int) -> tuple[State, ...]:
    return states[:paid] + (PAID,) + states[paid:] if paid else states


def _refresh(new: Outcome, old: Latest | None, ctx: Context) -> Decision | None:
    """Same state: write nothing, except a new wording of its failures once in a while."""
    if old is None or old.failures == new.failures or ctx.now - old.at < MESSAGE_ONLY_INTERVAL:
        return None
    return Decision(None)
