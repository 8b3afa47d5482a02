"""The learner's strays: near misses of a lesson's objects, each with the exact command that removes it.

A stray is the learner's attempt at the lesson's object, but wrong: netns Hello or hellp for
hello, a MASQUERADE rule with `-o nsbr0` for `! -o nsbr0`, /tmp/from-app-a written in the host
instead of inside app-a. Kinds attach what they recognise to their verdict (Verdict.strays);
failure messages name the removal beside the right command; `nstutor reset LESSON` lists the
strays of the lesson and removes them only after the learner says yes.

Recognising is deliberately narrow, because reset acts on it: a name is a typo of the lesson's
only when it differs in case, or (for names of 4 characters or more) by one substituted,
dropped or swapped letter. An added character (hello2, Helloworld) or a changed digit (c1 for
c2, node4 for node1) reads as a name of its own and is never a stray.
"""
from __future__ import annotations

import shlex

from ..i18n import _, ngettext
from ..observe.model import Snapshot
from .base import LESSON_NETNS, Stray

MIN_EDIT_LENGTH = 4


def typo_of(candidate: str, wanted: str) -> str | None:
    """'a case typo' or 'a one-letter typo' when *candidate* looks like *wanted* mistyped, else None."""
    if candidate == wanted:
        return None
    a, b = candidate.lower(), wanted.lower()
    if a == b:
        return _("a case typo")
    if len(b) < MIN_EDIT_LENGTH or not _one_edit(a, b):
        return None
    return _("a one-letter typo")


def _one_edit(a: str, b: str) -> bool:
    """*a* is *b* with one letter substituted, dropped, or two neighbours swapped (digits never count)."""
    if len(a) == len(b):
        diff = [i for i in range(len(b)) if a[i] != b[i]]
        if len(diff) == 1:
            i = diff[0]
            return not (a[i].isdigit() or b[i].isdigit())
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            i, j = diff
            return a[i] == b[j] and a[j] == b[i]
        return False
    if len(a) == len(b) - 1:
        for i in range(len(b)):
            if b[:i] + b[i + 1:] == a:
                return not b[i].isdigit()
    return False


def show(name: str) -> str:
    """A kernel-given name as a learner can type it (quoted when it holds shell characters)."""
    return shlex.quote(name)


def netns_typos(snap: Snapshot, wanted: str) -> tuple[Stray, ...]:
    """The named network namespaces whose name is a typo of *wanted* (the lesson's name), but for
    the names the lesson itself uses."""
    out = []
    own = LESSON_NETNS.get()
    for ns in snap.netns.values():
        for name in ns.names:
            kind = typo_of(name, wanted) if name not in own else None
            if kind is None:
                continue
            held = (ngettext("; deleting the name leaves {count} process in it running",
                             "; deleting the name leaves {count} processes in it running", len(ns.pids)).format(
                        count=len(ns.pids)) if ns.pids else "")
            out.append(Stray(_("netns {name} ({typo} of {netns}{held})").format(
                name=show(name), typo=kind, netns=wanted, held=held), ("ip", "netns", "del", name)))
    return tuple(sorted(out, key=lambda s: s.remove))


def removal_words(strays: tuple[Stray, ...] | list[Stray]) -> str:
    """"remove the stray: ip netns del Hello", for the end of a failure message ("" when none)."""
    if not strays:
        return ""
    if len(strays) == 1:
        return _("remove the stray: {command}").format(command=strays[0].command)
    return _("remove the strays: {commands}").format(commands="; ".join(s.command for s in strays))


def lesson_strays(lesson, snap: Snapshot) -> list[Stray]:
    """Every stray the lesson's steps recognise on *snap*, each once (graded without probes)."""
    from .runner import grade_step
    # a name the lesson itself makes is never a typo of another of its names (its cleanup has it)
    own = {("ip", "netns", "del", str(n)) for n in [*(lesson.cleanup or {}).get("netns", []), *(lesson.lab or [])]}
    seen: dict[tuple[str, ...], Stray] = {}
    for step in lesson.steps:
        for verdict in grade_step(step, snap, probes=False).verdicts:
            for stray in verdict.strays:
                if stray.remove not in own:
                    seen.setdefault(stray.remove, stray)
    return list(seen.values())


def ip_argv(ns, *args: str) -> tuple[str, ...] | None:
    """`ip ARGS` run in *ns* as an argv: the host's `ip`, or `ip -n NAME`. None for a namespace that
    only processes hold: a pid is no safe name for a later removal (it may be reused)."""
    if ns.is_host:
        return ("ip", *args)
    if ns.names:
        return ("ip", "-n", ns.names[0], *args)
    return None
