"""forwarding: a network namespace routes packets between its interfaces (its IP forwarding switch).

    - forwarding: {netns: natrtr}                 # net.ipv4.ip_forward is 1 inside natrtr
    - forwarding: {netns: natrtr, on: false}      # ... and off

A netns is a router only when its `net.ipv4.ip_forward` is 1; with 0 it answers packets for its
own addresses and drops every other one. The switch belongs to the netns: turning it on inside a
lab's router netns leaves the host's alone. It is read as the snapshot's `forwarding` part (the
same read the reachable kind's diagnosis makes: observe/probes.read_forwarding, from a throwaway
thread inside the netns). Only IPv4, and never the host's: a lesson has no business switching the
host into a router, so lint refuses `netns: host`.
"""
from __future__ import annotations

from ...i18n import _
from ...observe.model import Snapshot, Wants
from ..base import Expectation, Field, NotObserved, Verdict, v_bool
from ..refs import HOST_NAMES, Missing, cmd_in, describe_netns_ref, netns_ref_problem, resolve_netns, where
from ..registry import register

KNOB = "net.ipv4.ip_forward"


@register
class ForwardingExpectation(Expectation):
    kind = "forwarding"
    shorthand = "netns"
    fields = {
        "netns": Field(netns_ref_problem, required=True, doc="the router netns, e.g. natrtr (never the host)"),
        "on": Field(v_bool, default=True, doc="forwarding on (default) or off"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        if spec.get("netns") in HOST_NAMES:
            return ["'forwarding.netns': a lesson checks the forwarding of a netns it makes (a router such as "
                    "natrtr), never the host's"]
        return []

    def describe(self) -> str:
        netns = describe_netns_ref(self.netns)
        if self.on:
            return _("IP forwarding on in {netns} (it routes between its interfaces)").format(netns=netns)
        return _("IP forwarding off in {netns}").format(netns=netns)

    def wants(self, snap: Snapshot) -> Wants:
        ns = resolve_netns(snap, self.netns)
        if isinstance(ns, Missing) or ns.is_host:
            return Wants()
        return Wants(forwarding=frozenset({(ns.inode, 4)}))

    def grade(self, snap: Snapshot) -> Verdict:
        ns = resolve_netns(snap, self.netns)
        if isinstance(ns, Missing):
            return self.fail(*ns)
        here = where(ns, snap)
        if ns.is_host:
            return self.fail(_("{netns} is the host's network namespace").format(netns=here),
                             _("this check is about a lab's router netns, not the host: nstutor does not advise "
                               "changing the host's forwarding"))
        key = (ns.inode, 4)
        if key not in snap.forwarding:
            raise NotObserved(_("the forwarding switch of {netns}").format(netns=here))
        state = snap.forwarding[key]
        if state is None:
            return self.fail(_("the forwarding switch of {netns} could not be read").format(netns=here),
                             _("nstutor could not read {knob} inside {netns} (it needs root): run nstutor as root, "
                               "or look yourself: {command}").format(
                                 knob=KNOB, netns=here, command=cmd_in(ns, KNOB, tool="sysctl")))
        observed = f"{KNOB} = {int(state)} ({here})"
        if state == self.on:
            return self.ok(observed, {"netns": here, "forwarding": state})
        if self.on:
            return self.fail(observed, _("forwarding is off in {netns}, so it drops every packet that is not for one "
                                         "of its own addresses instead of routing it on: {command}").format(
                netns=here, command=_sysctl(ns, 1)))
        return self.fail(observed, _("forwarding is still on in {netns}: {command}").format(
            netns=here, command=_sysctl(ns, 0)))


def _sysctl(ns, value: int) -> str:
    return cmd_in(ns, f"-w {KNOB}={value}", tool="sysctl")
