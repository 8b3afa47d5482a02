"""Grade a lesson's steps against a snapshot (taking one is the caller's: tutor/grade.py snapshot_for)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from typing import Callable, Iterable

from ..i18n import _
from ..observe import NOTHING, Snapshot, Wants
from .base import LESSON_LINKS, LESSON_NETNS, Expectation, NotObserved, Verdict

NOT_PROBED = "not probed"      # Verdict.observed of a probe that was not sent (in English; see is_unprobed)


def is_unprobed(verdict: Verdict) -> bool:
    """Did *verdict* fail only because its probe was not sent? Its observed is NOT_PROBED in the
    language it was graded in (English, or this process's)."""
    return not verdict.passed and verdict.observed in (NOT_PROBED, _("not probed"))


@dataclass(frozen=True)
class StepResult:
    id: str
    title: str
    passed: bool
    verdicts: tuple[Verdict, ...]

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)

    @property
    def reasons(self) -> list[str]:
        """Why the step fails, each reason once (several expectations can fail for one missing object)."""
        return distinct_reasons(v.message or v.observed for v in self.failures)

    @property
    def unprobed(self) -> bool:
        """Failing only because its probes were not sent (--no-probe): unknown, not wrong."""
        return bool(self.failures) and all(is_unprobed(v) for v in self.failures)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "passed": self.passed,
            "expectations": [v.as_dict() for v in self.verdicts],
        }


# One missing object is often named by several expectations of a step in different words: the bridge
# kind says "the root netns has no bridge nsbr0: ip link add ...", the address kind "the root netns has
# no interface nsbr0; it has ...". Both are one reason, said once.
_NO_OBJECT = re.compile(r"^(?P<where>.+?) has no (?:interface|bridge|veth|vxlan device|device) "
                        r"(?P<name>[^\s:;,]+)(?=[\s:;,]|$)")
# ... and in Korean (refs.missing_link, missing_device): "호스트의 netns에 브리지 nsbr0이(가) 없습니다: ..."
_NO_OBJECT_KO = re.compile(r"^(?P<where>.+?)에 (?:인터페이스|브리지|veth|vxlan 장치|장치) "
                           r"(?P<name>[^\s:;,]+?)이\(가\) 없습니다")
# A short label in front of a reason ("the pause: there is no pod podweb: ...") names which of the
# step's subjects it is about; the same reason without it, or with it, is still the same reason.
_LEAD = re.compile(r"^(?P<lead>[^:;]{1,24}): (?=\S)")


class Reasons:
    """The failure reasons of one step, each said once: a reason repeats an earlier one when it is the
    same text, the same text under (or without) a short label, or says the same object is missing."""

    def __init__(self) -> None:
        self._texts: set[str] = set()      # reasons said, whole
        self._bare: set[str] = set()       # ... and without their label
        self._missing: set[tuple[str, str]] = set()

    def repeats(self, text: str) -> bool:
        """True when *text* says a reason already said; else False, and it counts as said now."""
        lead = _LEAD.match(text)
        bare = text[lead.end():] if lead and len(lead["lead"].split()) <= 3 else text
        no_object = _NO_OBJECT.match(bare) or _NO_OBJECT_KO.match(bare)
        missing = (no_object["where"], no_object["name"]) if no_object else None
        if text in self._texts or text in self._bare or bare in self._texts or missing in self._missing:
            return True
        self._texts.add(text)
        self._bare.add(bare)
        if missing:
            self._missing.add(missing)
        return False


def distinct_reasons(texts: Iterable[str]) -> list[str]:
    """*texts* (a step's failure reasons, in order) without the ones that repeat an earlier one, nor
    one that another says whole and then adds to (the user lesson's "`sleep 1008` is not running: ..."
    and the same sentence followed by what to do if unshare --user was refused)."""
    said = Reasons()
    kept = [t for t in texts if not said.repeats(t)]
    return [t for t in kept if not any(other != t and other.startswith(t) for other in kept)]


def grade_expectation(exp: Expectation, snap: Snapshot, *, probes: bool = True) -> Verdict:
    """Grade one expectation; never raises (a bug in a kind becomes a failed verdict that says so)."""
    if exp.active and not probes:
        return Verdict(exp.kind, False, exp.describe(), _("not probed"),
                       _("This check sends a probe; it runs when you check the step (press c or run nstutor check)."))
    names = LESSON_NETNS.set(exp.lesson_netns)      # what netns_typos must not take for a typo
    links = LESSON_LINKS.set(exp.lesson_links)      # what missing_link must not offer to move
    try:
        return exp.grade(snap)
    except NotObserved as exc:
        return Verdict(exp.kind, False, exp.describe(), _("not observed"),
                       _("nstutor took this snapshot without {what} (a bug in the caller; please report it).").format(
                           what=exc))
    except Exception as exc:  # noqa: BLE001 - a grader bug must not take the app down
        return Verdict(exp.kind, False, exp.describe(), _("internal error: {error}").format(error=repr(exc)),
                       _("nstutor could not grade this expectation; please report it with `nstutor snapshot --json`."))
    finally:
        LESSON_NETNS.reset(names)
        LESSON_LINKS.reset(links)


def grade_step(step, snap: Snapshot, *, probes: bool = True, lesson=None) -> StepResult:
    """Grade every expectation of *step*. With *lesson*, a namespace its setup builds (its `lab`)
    that is missing is explained as "the lab is not built", not as something to make by hand."""
    verdicts = tuple(grade_expectation(e, snap, probes=probes) for e in step.expectations)
    if lesson is not None:
        verdicts = lab_advice(lesson, verdicts)
    return StepResult(step.id, step.title, all(v.passed for v in verdicts), verdicts)


_NO_NETNS = re.compile(r"there is no network namespace (\S+?)[:,]"
                       r"|네트워크 네임스페이스 (\S+?)이\(가\) 없")    # refs.resolve_netns, in English or Korean


def lab_advice(lesson, verdicts: tuple[Verdict, ...]) -> tuple[Verdict, ...]:
    if not lesson.lab:
        return verdicts
    missing = {}
    for i, v in enumerate(verdicts):
        match = None if v.passed else _NO_NETNS.search(v.message or "")
        name = match and (match.group(1) or match.group(2))
        if name and name in lesson.lab:
            missing[i] = name
    if not missing:
        return verdicts
    names = sorted(set(missing.values()), key=lesson.lab.index)
    message = _("the lesson's lab is not built (no {names}): press b in the app, or run: {command}").format(
        names=", ".join(names), command=f"nstutor setup {lesson.id}")
    pack = getattr(lesson, "pack", None)
    if pack is not None and not lesson.trusted:     # its setup is shell: it runs once the pack is trusted
        message += " " + _("(a pack's setup runs once you trust the pack: {command})").format(
            command=f"nstutor trust {pack.name}")
    return tuple(replace(v, message=message) if i in missing else v for i, v in enumerate(verdicts))


def needs_cpu_rate(steps) -> bool:
    return any(e.needs_cpu_rate for s in steps for e in s.expectations)


def wants_of(expectations: Iterable[Expectation], *, probes: bool = True) -> Callable[[Snapshot], Wants]:
    """What these expectations will read beyond the standing snapshot, as observe asks it: a
    function of the standing snapshot (a kind names its process by a selector). *probes* False
    leaves out what the active kinds want (their packets above all): grade_expectation says
    "not probed" for them, so observe must not send them."""
    exps = tuple(e for e in expectations if probes or not e.active)

    def wanted(snap: Snapshot) -> Wants:
        out = NOTHING
        for exp in exps:
            try:
                out = out | exp.wants(snap)
            except Exception:  # noqa: BLE001 - a kind's bug shows in its verdict (NotObserved), not here
                continue
        return out
    return wanted


def wants_of_steps(steps, *, probes: bool = True) -> Callable[[Snapshot], Wants]:
    return wants_of((e for s in steps for e in s.expectations), probes=probes)
