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

from ...i18n import _, ngettext
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
        bridge_ns, _dev = split_ifref(spec["dev"])
        if bridge_ns is None:
            bridge_ns = spec.get("netns", "host")
        for field in ("ports", "hairpin"):
            for port in spec.get(field, []):
                port_ns, _port = split_ifref(port)
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
        text = _("bridge {bridge}").format(bridge=describe_ifref(self.dev, self.netns))
        if self.up is not None:
            text = (_("{bridge_text} up") if self.up else _("{bridge_text} down")).format(bridge_text=text)
        if self.ports:
            text = _("{bridge_text} with ports {ports}").format(
                bridge_text=text, ports=", ".join(split_ifref(p)[1] for p in self.ports))
            if self.ports_up:
                text = _("{bridge_text} (all up)").format(bridge_text=text)
        if self.hairpin:
            text = _("{bridge_text}, hairpin on {ports}").format(
                bridge_text=text, ports=", ".join(split_ifref(p)[1] for p in self.hairpin))
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
                return self.fail(_("the host has no {bridge}").format(bridge=name),
                                 engine_bridge_missing(snap, engine, name))
            return self.fail(*missing_device(snap, ns, name, _("bridge"), cmd_in(ns, f'link add {name} type bridge')))
        ports = sorted(l.name for l in ns.links if l.master == br.name)
        observed = _("{bridge} in {netns}: {kind}, {state}, ports: {ports}").format(
            bridge=br.name, netns=where(ns, snap), kind=kind_name(br), state=state_words(br),
            ports=", ".join(ports) or _("none"))
        hairpin_on = sorted(l.name for l in ns.links if l.master == br.name and l.hairpin)
        if self.hairpin:
            observed += _(", hairpin on: {ports}").format(ports=", ".join(hairpin_on) or _("none"))
        if br.kind != "bridge":
            return self.fail(observed, _("{bridge} in {netns} is a {kind}, not a bridge: {delete}; {add}").format(
                bridge=br.name, netns=where(ns, snap), kind=kind_name(br), delete=cmd_in(ns, f'link del {br.name}'),
                add=cmd_in(ns, f'link add {br.name} type bridge')))
        if self.up is True and not br.admin_up:
            return self.fail(observed, _("{bridge} is in {netns} but DOWN: {command}").format(
                bridge=br.name, netns=where(ns, snap), command=cmd_in(ns, f'link set {br.name} up')))
        if self.up is False and br.admin_up:
            return self.fail(observed, _("{bridge} in {netns} is up, expected down: {command}").format(
                bridge=br.name, netns=where(ns, snap), command=cmd_in(ns, f'link set {br.name} down')))

        for port in self.ports:
            name = split_ifref(port)[1]
            problem = self._not_a_port(snap, ns, br, name)
            if problem:
                return self.fail(observed, problem)
            if self.ports_up and not ns.link(name).admin_up:
                return self.fail(observed, _("port {port} of {bridge} is in {netns} but DOWN: {command}").format(
                    port=name, bridge=br.name, netns=where(ns, snap), command=cmd_in(ns, f'link set {name} up')))
        for port in self.hairpin:
            name = split_ifref(port)[1]
            problem = self._not_a_port(snap, ns, br, name)
            if problem:
                return self.fail(observed, problem)
            hairpin = ns.link(name).hairpin
            if hairpin is None:
                return self.fail(observed, _("the kernel did not say whether port {port} of {bridge} in {netns} has "
                                             "hairpin on; `{command}` shows it").format(
                    port=name, bridge=br.name, netns=where(ns, snap),
                    command=cmd_in(ns, f'-d link show dev {name}', 'bridge')))
            if not hairpin:
                return self.fail(observed, _("port {port} of {bridge} in {netns} has hairpin off, so the bridge never "
                                             "sends a frame back out of {port}, the port it came in by: {command}").format(
                    port=name, bridge=br.name, netns=where(ns, snap),
                    command=cmd_in(ns, f'link set dev {name} hairpin on', 'bridge')))

        if self.ports:
            wanted = {split_ifref(p)[1] for p in self.ports}
            extra = [p for p in ports if p not in wanted]
            if extra:
                return self.fail(observed, ngettext(
                    "{bridge} in {netns} also has the port {ports}, which the lesson does not plug in (it wants only "
                    "{wanted}): unplug it with {unplug} (or delete it: {delete})",
                    "{bridge} in {netns} also has the ports {ports}, which the lesson does not plug in (it wants only "
                    "{wanted}): unplug it with {unplug} (or delete it: {delete})", len(extra)).format(
                    bridge=br.name, netns=where(ns, snap), ports=", ".join(extra), wanted=", ".join(sorted(wanted)),
                    unplug="; ".join(cmd_in(ns, f"link set {p} nomaster") for p in extra[:3]),
                    delete="; ".join(cmd_in(ns, f"link del {p}") for p in extra[:3])))
        if br.admin_up and br.operstate == "DOWN":
            observed += _(" (no carrier: none of its ports is up yet)")
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
                other = elsewhere[0][0]
                return _("{port} is in {other}, but a port of {bridge} must be in {netns}, where the bridge is: "
                         "{command}").format(port=name, other=where(other, snap), bridge=br.name, netns=where(ns, snap),
                                             command=cmd_in(other, f'link set {name} netns {netns_arg(ns)}'))
            return _("{netns} has no interface {port} to be a port of {bridge}: create it (usually the host end of a "
                     "veth pair), then {command}").format(netns=where(ns, snap), port=name, bridge=br.name,
                                                          command=cmd_in(ns, f'link set {name} master {br.name}'))
        if link.master != br.name:
            command = cmd_in(ns, f'link set {name} master {br.name}')
            if link.master:
                return _("{port} is a port of {master}, expected a port of {bridge}: {command}").format(
                    port=name, master=link.master, bridge=br.name, command=command)
            return _("{port} is not a port of any bridge, expected a port of {bridge}: {command}").format(
                port=name, bridge=br.name, command=command)
        return None

