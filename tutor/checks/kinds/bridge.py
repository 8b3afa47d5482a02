"""bridge: a bridge device and its ports (what `brctl show` / `bridge link` list).

    - bridge: {dev: nsbr0, ports: [vethc1, vethc2], up: true}
    - bridge: {dev: node1/cni0, ports: [vethpod1]}
    - bridge: {dev: nsbr0, ports: [vethc1], ports_up: true}
    - bridge: {dev: node2/cni0, ports: [veth-pod-1], hairpin: [veth-pod-1]}

Ports are the links whose master is the bridge; they always live in the bridge's own netns,
so a port written "NS/name" must name that same netns. With `ports`, those are all its ports: a
port more (a third cable plugged in by mistake) fails, with the `nomaster` that unplugs it.
`up: true` is about the bridge being switched on; a bridge with no port up has no carrier,
which is said but not failed (a fresh bridge may rightly have no ports yet).

`hairpin` lists ports that must have hairpin on (`bridge link set dev PORT hairpin on`, what the
CNI bridge plugin's `hairpinMode: true` does): a bridge never sends a frame back out of the port
it came in by, unless that port has hairpin on. Each must be a port of this bridge, and one of
`ports` when those are given; the other ports' hairpin is not looked at.
"""
from __future__ import annotations

from ...observe.model import Snapshot, engine_of_link
from ..containers import engine_bridge_missing
from ..base import Expectation, Field, Verdict, v_bool, v_ifref, v_list_of
from ..link_state import kind_name, state_words
from ..refs import (Missing, cmd_in, describe_ifref, dev_netns_problem, find_links, missing_device, netns_arg,
                    netns_ref_problem, resolve_dev, safe_to_move, same_ref, split_ifref, where)
from ..registry import register


@register
class BridgeExpectation(Expectation):
    kind = "bridge"
    fields = {
        "dev": Field(v_ifref, required=True, doc="nsbr0 (host) or node1/cni0"),
        "netns": Field(netns_ref_problem, doc="the netns, if dev does not say it"),
        "ports": Field(v_list_of(v_ifref), default=(), doc="names of links that must be its ports"),
        "up": Field(v_bool, doc="the bridge is switched on (true) / off (false)"),
        "ports_up": Field(v_bool, doc="every listed port is switched on"),
        "hairpin": Field(v_list_of(v_ifref), default=(), doc="ports that must have hairpin on"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = dev_netns_problem(spec)
        bridge_ns, _ = split_ifref(spec["dev"])
        if bridge_ns is None:
            bridge_ns = spec.get("netns", "host")
        for field in ("ports", "hairpin"):
            for port in spec.get(field, []):
                port_ns, _ = split_ifref(port)
                if port_ns is not None and not same_ref(port_ns, bridge_ns):
                    out.append(f"'bridge.{field}': {port} is in {port_ns}, but ports of a bridge live in the "
                               f"bridge's netns ({bridge_ns if isinstance(bridge_ns, str) else 'the one given by netns'})")
        listed = {split_ifref(p)[1] for p in spec.get("ports", [])}
        if listed:
            unlisted = [p for p in spec.get("hairpin", []) if split_ifref(p)[1] not in listed]
            if unlisted:
                out.append(f"'bridge.hairpin': {', '.join(unlisted)} {'is' if len(unlisted) == 1 else 'are'} not "
                           f"among its ports ({', '.join(spec['ports'])}): a port with hairpin on is a port; "
                           f"add {'it' if len(unlisted) == 1 else 'them'} to ports")
        return out

    def describe(self) -> str:
        text = f"bridge {describe_ifref(self.dev, self.netns)}"
        if self.up is not None:
            text += " up" if self.up else " down"
        if self.ports:
            text += f" with ports {', '.join(split_ifref(p)[1] for p in self.ports)}"
            if self.ports_up:
                text += " (all up)"
        if self.hairpin:
            text += f", hairpin on {', '.join(split_ifref(p)[1] for p in self.hairpin)}"
        return text

    def grade(self, snap: Snapshot) -> Verdict:
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):
            return self.fail(*place)
        ns, name = place
        br = ns.link(name)
        if br is None:
            engine = engine_of_link(name) if ns.is_host else None
            if engine:
                return self.fail(f"the host has no {name}", engine_bridge_missing(snap, engine, name))
            return self.fail(*missing_device(snap, ns, name, "bridge", cmd_in(ns, f'link add {name} type bridge')))
        ports = sorted(l.name for l in ns.links if l.master == br.name)
        observed = (f"{br.name} in {where(ns, snap)}: {kind_name(br)}, {state_words(br)}, "
                    f"ports: {', '.join(ports) or 'none'}")
        hairpin_on = sorted(l.name for l in ns.links if l.master == br.name and l.hairpin)
        if self.hairpin:
            observed += f", hairpin on: {', '.join(hairpin_on) or 'none'}"
        if br.kind != "bridge":
            return self.fail(observed, f"{br.name} in {where(ns, snap)} is a {kind_name(br)}, not a bridge: "
                             f"{cmd_in(ns, f'link del {br.name}')}; {cmd_in(ns, f'link add {br.name} type bridge')}")
        if self.up is True and not br.admin_up:
            return self.fail(observed, f"{br.name} is in {where(ns, snap)} but DOWN: {cmd_in(ns, f'link set {br.name} up')}")
        if self.up is False and br.admin_up:
            return self.fail(observed, f"{br.name} in {where(ns, snap)} is up, expected down: "
                             f"{cmd_in(ns, f'link set {br.name} down')}")

        for port in self.ports:
            name = split_ifref(port)[1]
            problem = self._not_a_port(snap, ns, br, name)
            if problem:
                return self.fail(observed, problem)
            if self.ports_up and not ns.link(name).admin_up:
                return self.fail(observed, f"port {name} of {br.name} is in {where(ns, snap)} but DOWN: "
                                 f"{cmd_in(ns, f'link set {name} up')}")
        for port in self.hairpin:
            name = split_ifref(port)[1]
            problem = self._not_a_port(snap, ns, br, name)
            if problem:
                return self.fail(observed, problem)
            hairpin = ns.link(name).hairpin
            if hairpin is None:
                return self.fail(observed, f"the kernel did not say whether port {name} of {br.name} in "
                                 f"{where(ns, snap)} has hairpin on; `{cmd_in(ns, f'-d link show dev {name}', 'bridge')}` "
                                 f"shows it")
            if not hairpin:
                return self.fail(observed, f"port {name} of {br.name} in {where(ns, snap)} has hairpin off, so the "
                                 f"bridge never sends a frame back out of {name}, the port it came in by: "
                                 f"{cmd_in(ns, f'link set dev {name} hairpin on', 'bridge')}")

        if self.ports:
            wanted = {split_ifref(p)[1] for p in self.ports}
            extra = [p for p in ports if p not in wanted]
            if extra:
                return self.fail(observed, f"{br.name} in {where(ns, snap)} also has the port{'s' if len(extra) > 1 else ''} "
                                 f"{', '.join(extra)}, which the lesson does not plug in (it wants only "
                                 f"{', '.join(sorted(wanted))}): unplug it with "
                                 + "; ".join(cmd_in(ns, f"link set {p} nomaster") for p in extra[:3])
                                 + (" (or delete it: " + "; ".join(cmd_in(ns, f"link del {p}") for p in extra[:3])
                                    + ")"))
        if br.admin_up and br.operstate == "DOWN":
            observed += " (no carrier: none of its ports is up yet)"
        evidence = {"netns": where(ns, snap), "bridge": br.name, "operstate": br.operstate, "ports": ports}
        if self.hairpin:
            evidence["hairpin"] = hairpin_on
        return self.ok(observed, evidence)

    @staticmethod
    def _not_a_port(snap: Snapshot, ns, br, name: str) -> str | None:
        """Why *name* is not a port of the bridge *br* in *ns* (None: it is)."""
        link = ns.link(name)
        if link is None:
            elsewhere = [(o, l) for o, l in find_links(snap, name) if o.inode != ns.inode and safe_to_move(o, l)]
            if elsewhere:
                other, _ = elsewhere[0]
                return (f"{name} is in {where(other, snap)}, but a port of {br.name} must be in "
                        f"{where(ns, snap)}, where the bridge is: "
                        f"{cmd_in(other, f'link set {name} netns {netns_arg(ns)}')}")
            return (f"{where(ns, snap)} has no interface {name} to be a port of {br.name}: create "
                    f"it (usually the host end of a veth pair), then "
                    f"{cmd_in(ns, f'link set {name} master {br.name}')}")
        if link.master != br.name:
            now = f"is a port of {link.master}" if link.master else "is not a port of any bridge"
            return f"{name} {now}, expected a port of {br.name}: {cmd_in(ns, f'link set {name} master {br.name}')}"
        return None

