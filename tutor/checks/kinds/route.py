"""route: a route in a netns's routing table (the main table, as `ip route` shows it).

    - route: {netns: c1, dst: default, via: 10.22.0.1}
    - route: {netns: node1, dst: 172.16.1.0/24, via: 172.16.1.0, dev: flannel.1, onlink: true}
    - route: {dst: 10.22.0.0/24, dev: nsbr0}                 # no netns = the host's

Only the facts given are compared. A matching route passes only alone: another route to the
same prefix in the same table (a second default via a wrong gateway, with another metric) fails,
with the `ip route del` that removes it; the kernel would use whichever has the lower metric.
The host's own default routes are never suggested for removal.
"""
from __future__ import annotations

import ipaddress
import socket

from ...i18n import _
from ...observe.model import LOCAL_TABLE, MAIN_TABLE, NetNS, Route, Snapshot
from ...observe.render import route_args
from ..addresses import route_key, same_ip
from ..base import Field, Verdict, v_bool, v_ifref, v_ip, v_prefix
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_of, split_ifref, where
from ..registry import register
from ..table_entry import NETNS_FIELD, TableEntryExpectation

@register
class RouteExpectation(TableEntryExpectation):
    kind = "route"
    fields = {
        "netns": NETNS_FIELD,
        "dst": Field(v_prefix, required=True, doc="default, or a prefix like 10.22.0.0/24"),
        "via": Field(v_ip, doc="gateway address"),
        "dev": Field(v_ifref, doc="outgoing device (its name, or NS/name)"),
        "onlink": Field(v_bool, doc="the gateway is reachable on the device even without a matching subnet"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = super().extra_problems(spec)
        if spec.get("onlink") and not spec.get("via"):
            out.append("'route': onlink only means something with a gateway (via)")
        dst, via = spec["dst"], spec.get("via")
        if via and dst != "default" and ipaddress.ip_network(dst).version != ipaddress.ip_address(via).version:
            out.append(f"'route': {dst} and the gateway {via} are not the same IP version")
        return out

    @property
    def family(self) -> int:
        if self.dst != "default":
            return socket.AF_INET6 if ipaddress.ip_network(self.dst).version == 6 else socket.AF_INET
        if self.via and ipaddress.ip_address(self.via).version == 6:
            return socket.AF_INET6
        return socket.AF_INET

    def describe(self) -> str:
        route = _("a default route") if self.dst == "default" else _("a route to {dst}").format(dst=self.dst)
        details = ""            # as `ip route` writes them: not words to translate
        if self.via:
            details += f" via {self.via}"
        if self.dev:
            details += f" dev {split_ifref(self.dev)[1]}"
        if self.onlink:
            details += " onlink"
        # (the netns said here rather than by in_netns_words(): Korean puts it first)
        return _("{route}{details} in {netns}").format(
            route=route, details=details, netns=describe_netns_ref(netns_ref_of(self.dev, self.netns)))

    def _route_args(self) -> str:
        """The expected route as `ip route add` takes it."""
        dev = split_ifref(self.dev)[1] if self.dev else None
        return route_args(Route(self.dst, self.family, dev=dev, via=self.via, onlink=bool(self.onlink)))

    def grade(self, snap: Snapshot) -> Verdict:
        owner = self.table_owner(snap)
        if isinstance(owner, Missing):
            return self.fail(*owner)
        ns, dev = owner

        want = route_key(self.dst, self.family)
        routes = [r for r in ns.routes if r.table != LOCAL_TABLE and r.family == self.family]
        candidates = [r for r in routes if route_key(r.dst, r.family) == want]
        candidates.sort(key=lambda r: r.table != MAIN_TABLE)
        listing = "; ".join(route_args(r) for r in routes[:8]) or _("no routes")
        observed = _("routes in {netns}: {routes}").format(netns=where(ns, snap), routes=listing)

        def mismatch(r: Route) -> str | None:
            if self.via is not None and not same_ip(r.via, self.via):
                return (_("goes via {via}").format(via=r.via) if r.via
                        else _("goes straight out of {dev} (no gateway)").format(dev=r.dev))
            if dev is not None and r.dev != dev:
                return _("goes out of {dev}").format(dev=r.dev)
            if self.onlink is not None and r.onlink != self.onlink:
                return _("is not onlink") if self.onlink else _("is onlink")
            return None

        for r in candidates:
            if mismatch(r) is None:
                beside = [o for o in candidates if o is not r and o.table == r.table and mismatch(o) is not None]
                if beside and not (ns.is_host and self.dst == "default"):
                    return self.fail(observed, self._beside_message(ns, r, beside[0]))
                return self.ok(_("{route} in {netns}").format(route=route_args(r), netns=where(ns, snap)),
                               {"netns": where(ns, snap), "route": route_args(r), "dst": r.dst, "via": r.via,
                                "dev": r.dev, "onlink": r.onlink})
        if candidates and ns.is_host and self.dst == "default":
            # Changing the machine's own default route could cut it off the network: say, do not suggest.
            return self.fail(observed, _("the host's default route {mismatch}, expected {expected}; nstutor will not "
                                         "suggest changing the host's default route").format(
                mismatch=mismatch(candidates[0]), expected=self._route_args()))
        if candidates:
            r = candidates[0]
            return self.fail(observed, _("the {route} in {netns} {mismatch}, expected {expected}: {command}").format(
                route=_dst_words(self.dst), netns=where(ns, snap), mismatch=mismatch(r), expected=self._route_args(),
                command=cmd_in(ns, f'route replace {self._route_args()}')))
        message = _("{netns} has no {route}: {command}").format(
            netns=where(ns, snap), route=_dst_words(self.dst), command=cmd_in(ns, f'route add {self._route_args()}'))
        if self.via and not self.onlink and not _gateway_is_connected(ns, self.via):
            message += _(" (first, {via} must be on the subnet of one of {netns}'s addresses, or the kernel refuses "
                         "the route as 'Nexthop has invalid gateway')").format(via=self.via, netns=where(ns, snap))
        return self.fail(observed, message)


    def _beside_message(self, ns: NetNS, good: Route, bad: Route) -> str:
        table = "" if bad.table == MAIN_TABLE else f" table {bad.table}"
        if bad.proto == "kernel":
            return _("{netns} has the {route} {good}, and also {bad}: two routes to one destination, and the kernel "
                     "uses the one with the lower metric, which may be the wrong one. The second comes from an address "
                     "on {dev} in that subnet: remove that address ({command} shows it; then ip addr del)").format(
                netns=where(ns), route=_dst_words(self.dst), good=route_args(good), bad=route_args(bad), dev=bad.dev,
                command=cmd_in(ns, f'-br addr show dev {bad.dev}'))
        return _("{netns} has the {route} {good}, and also {bad}: two routes to one destination, and the kernel uses "
                 "the one with the lower metric, which may be the wrong one. Remove it: {command}").format(
            netns=where(ns), route=_dst_words(self.dst), good=route_args(good), bad=route_args(bad),
            command=cmd_in(ns, f'route del {route_args(bad)}{table}'))


def _gateway_is_connected(ns: NetNS, via: str) -> bool:
    ip = ipaddress.ip_address(via)
    for addr in ns.addresses:
        try:
            if ip in ipaddress.ip_interface(addr.cidr).network:
                return True
        except ValueError:
            continue
    return False


def _dst_words(dst: str) -> str:
    return _("default route") if dst == "default" else _("route to {dst}").format(dst=dst)
