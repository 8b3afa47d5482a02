"""netns: a network namespace exists (or is gone), optionally with nothing but a loopback that is up.

    - netns: RED                                   # shorthand for {name: RED}
    - netns: {name: hello, only_lo: true, lo_up: true}
    - netns: {name: hello, absent: true}           # after cleanup
"""
from __future__ import annotations

from dataclasses import replace

from ...observe.model import Snapshot
from ...texts import counted
from ..base import Expectation, Field, Verdict, v_bool
from ..refs import (HOST_NAMES, Missing, cmd_in, describe_netns_ref, netns_ref_problem, netns_unreadable, resolve_netns,
                    where)
from ..registry import register
from ..strays import netns_typos


@register
class NetnsExpectation(Expectation):
    kind = "netns"
    shorthand = "name"
    fields = {
        "name": Field(netns_ref_problem, required=True, doc="RED, host, or {netns_of: {comm: NAME}}"),
        "only_lo": Field(v_bool, doc="no interface but lo"),
        "lo_up": Field(v_bool, doc="lo is up (true) or down (false)"),
        "absent": Field(v_bool, default=False, doc="the namespace must NOT exist"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        if spec.get("absent") and (spec.get("only_lo") is not None or spec.get("lo_up") is not None):
            return ["'netns': absent: true cannot be combined with only_lo or lo_up"]
        return []

    def describe(self) -> str:
        who = describe_netns_ref(self.name)
        if self.absent:
            return f"no network namespace {who}"
        parts = [f"network namespace {who}"]
        if self.only_lo:
            parts.append("with only lo")
        if self.lo_up is not None:
            parts.append("lo up" if self.lo_up else "lo down")
        return ", ".join(parts)

    def grade(self, snap: Snapshot) -> Verdict:
        verdict = self._grade(snap)
        # A typo of the lesson's name (Hello, hellp for hello) is the learner's stray whether or not
        # the right one is there too: reset offers to remove it (resolve_netns names it when missing).
        typos = netns_typos(snap, self.name) if isinstance(self.name, str) and self.name not in HOST_NAMES else ()
        if not typos:
            return verdict
        if verdict.passed:      # right, and the learner's attempt beside it: say how to take that away
            return replace(verdict, strays=typos, observed=f"{verdict.observed}; beside it "
                           + "; ".join(f"{s.what}: {s.command}" for s in typos))
        return replace(verdict, strays=typos)

    def _grade(self, snap: Snapshot) -> Verdict:
        ns = resolve_netns(snap, self.name)
        if self.absent:
            if isinstance(ns, Missing):
                return self.ok(f"no network namespace {self.name}", {"netns": self.name, "absent": True})
            return self.fail(f"{where(ns, snap)} exists (net:[{ns.inode}], {counted(len(ns.pids), 'process')} in it)",
                             f"{where(ns, snap)} still exists: {_removal(ns)}")
        if isinstance(ns, Missing):
            return self.fail(*ns)

        evidence = {"netns": where(ns, snap), "inode": ns.inode, "links": sorted(l.name for l in ns.links)}
        if self.only_lo or self.lo_up is not None:
            blocked = netns_unreadable(ns)
            if blocked:
                return self.fail(*blocked)
        if self.only_lo:
            extra = sorted(l.name for l in ns.links if l.name != "lo")
            if extra:
                observed = f"{where(ns, snap)} has {', '.join(['lo'] + extra) if ns.link('lo') else ', '.join(extra)}"
                if ns.is_host:   # never suggest deleting the machine's own interfaces
                    return self.fail(observed, f"the root netns has more than lo ({', '.join(extra)}); "
                                     "that is normal for the host: this check is meant for a namespace of its own")
                return self.fail(observed, f"{where(ns, snap)} should have nothing but lo, and it also has "
                                 f"{', '.join(extra)}: " + "; ".join(cmd_in(ns, f"link del {n}")
                                                                     for n in _to_delete(ns, extra)[:3]))
        if self.lo_up is not None:
            lo = ns.link("lo")
            if lo is None:
                return self.fail(f"{where(ns, snap)} has no lo", f"{where(ns, snap)} has no loopback at all, which is odd; "
                                 f"make a fresh namespace ({_removal(ns)}, then create it again)")
            if lo.admin_up != self.lo_up:
                state = "UP" if lo.admin_up else "DOWN"
                want = "up" if self.lo_up else "down"
                return self.fail(f"lo in {where(ns, snap)} is {state}",
                                 f"lo in {where(ns, snap)} is {state}: {cmd_in(ns, f'link set lo {want}')}")
            evidence["lo"] = "UP" if lo.admin_up else "DOWN"
        observed = f"{where(ns, snap)} exists (net:[{ns.inode}]) with {', '.join(evidence['links']) or 'no links'}"
        return self.ok(observed, evidence)


def _to_delete(ns, names: list[str]) -> list[str]:
    """The links to delete so that *names* are gone: one end of a veth pair takes its peer with it."""
    out: list[str] = []
    for name in names:
        link = ns.link(name)
        peer = link.peer_name if link is not None and link.kind == "veth" and link.peer_netns == ns.inode else None
        if peer in out:
            continue
        out.append(name)
    return out


def _removal(ns) -> str:
    """How to make a netns go away: drop its name, and stop what holds it."""
    steps = [f"ip netns del {name}" for name in ns.names]
    if ns.pids:
        steps.append("stop the process(es) in it: kill " + " ".join(map(str, ns.pids[:5])))
    return "; ".join(steps) or "stop whatever holds it"
