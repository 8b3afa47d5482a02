"""link: one interface in a netns, with optional facts about it (or: it must not exist).

    - link: {dev: RED/veth0, kind: veth, up: true, mtu: 1500}
    - link: {dev: node1/flannel.1, kind: vxlan, mtu: 1450}
    - link: {dev: vethc1, master: nsbr0}          # plain name = the host's netns
    - link: {dev: c1/eth0, absent: true}
    - link: {dev: eth0, netns: {netns_of: {container: web}}, kind: veth, peer_master: docker0}

`peer_master` is for a veth whose other end has a name nobody chose (Docker's vethXXXXXXX): that
other end, wherever it is, must be a port of this bridge.

`up: true` means the interface can carry traffic: switched on (`ip link set X up`) and not
DOWN or LOWERLAYERDOWN (a veth: its peer switched on too). `state` compares the kernel's operstate exactly (UP, DOWN, UNKNOWN...).
"""
from __future__ import annotations

from ...observe.model import Snapshot
from ..base import Expectation, Field, Verdict, v_bool, v_ifref, v_int, v_mac, v_one_of, v_str
from ..link_state import carries_traffic, kind_name, state_words, why_not_up
from ..refs import (Missing, cmd_in, describe_ifref, dev_netns_problem, is_real_device, link_by_index,
                    netns_ref_problem, resolve_dev, resolve_link, where)
from ..registry import register

OPERSTATES = ("UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN", "DORMANT", "NOTPRESENT", "TESTING")


@register
class LinkExpectation(Expectation):
    kind = "link"
    fields = {
        "dev": Field(v_ifref, required=True, doc="RED/veth0, or veth0 for the host"),
        "netns": Field(netns_ref_problem, doc="the netns, if dev does not say it"),
        "kind": Field(v_str, doc="veth, bridge, vxlan, dummy..."),
        "up": Field(v_bool, doc="carries traffic (true) / switched off (false)"),
        "state": Field(v_one_of(*OPERSTATES), doc="exact operstate"),
        "mtu": Field(v_int),
        "master": Field(v_str, doc="the bridge it is a port of"),
        "peer_master": Field(v_str, doc="a veth: the bridge its other end is a port of (docker0)"),
        "mac": Field(v_mac),
        "absent": Field(v_bool, default=False, doc="the interface must NOT exist there"),
    }

    def __init__(self, spec, line=None):
        super().__init__(spec, line)
        # The field "kind" (veth, bridge...) must not hide the expectation's own kind ("link").
        self.link_kind = self.spec.get("kind")
        del self.kind

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = dev_netns_problem(spec)
        if spec.get("absent") and any(k in spec for k in ("kind", "up", "state", "mtu", "master", "peer_master",
                                                          "mac")):
            out.append("'link': absent: true cannot be combined with other facts about the link")
        return out

    def describe(self) -> str:
        who = describe_ifref(self.dev, self.netns)
        if self.absent:
            return f"no interface {who}"
        facts = [f"{label} {value}" for label, value in (("kind", self.link_kind), ("state", self.state),
                 ("mtu", self.mtu), ("master", self.master), ("its other end a port of", self.peer_master),
                 ("mac", self.mac)) if value is not None]
        if self.up is not None:
            facts.insert(0, "up" if self.up else "down")
        return f"interface {who}" + (f" ({', '.join(facts)})" if facts else "")

    def grade(self, snap: Snapshot) -> Verdict:
        if self.absent:
            return self._grade_absent(snap)
        found = resolve_link(snap, self.dev, self.netns)
        if isinstance(found, Missing):
            return self.fail(*found)
        ns, link = found
        observed = (f"{link.name} in {where(ns, snap)}: {kind_name(link)}, {state_words(link)}, mtu {link.mtu}"
                    + (f", master {link.master}" if link.master else "") + (f", mac {link.mac}" if link.mac else ""))
        name = link.name

        if self.link_kind is not None and link.kind != self.link_kind:
            return self.fail(observed, f"{name} in {where(ns, snap)} is a {kind_name(link)}, not a {self.link_kind}: "
                             f"delete it ({cmd_in(ns, f'link del {name}')}) and create it with type {self.link_kind}")
        if self.up is True and not carries_traffic(link, snap):
            return self.fail(observed, why_not_up(snap, ns, link))
        if self.up is False and link.admin_up:
            return self.fail(observed, f"{name} in {where(ns, snap)} is up, expected down: {cmd_in(ns, f'link set {name} down')}")
        if self.state is not None and link.operstate != self.state:
            hint = why_not_up(snap, ns, link) if self.state == "UP" else f"expected state {self.state}"
            return self.fail(observed, f"{name} in {where(ns, snap)} has state {link.operstate}; {hint}")
        if self.mtu is not None and link.mtu != self.mtu:
            return self.fail(observed, f"{name} in {where(ns, snap)} has MTU {link.mtu}, expected {self.mtu}: "
                             f"{cmd_in(ns, f'link set {name} mtu {self.mtu}')}")
        if self.master is not None and link.master != self.master:
            now = f"is a port of {link.master}" if link.master else "is not a port of any bridge"
            return self.fail(observed, f"{name} in {where(ns, snap)} {now}, expected {self.master}: "
                             f"{cmd_in(ns, f'link set {name} master {self.master}')}")
        if self.peer_master is not None:
            problem = self._peer_problem(snap, ns, link)
            if problem is not None:
                return self.fail(observed, problem)
        if self.mac is not None and (link.mac or "").lower() != self.mac.lower():
            return self.fail(observed, f"{name} in {where(ns, snap)} has MAC {link.mac}, expected {self.mac.lower()}: "
                             f"{cmd_in(ns, f'link set {name} address {self.mac.lower()}')}")
        evidence = {"netns": where(ns, snap), "name": name, "ifindex": link.ifindex, "kind": link.kind,
                    "operstate": link.operstate, "mtu": link.mtu, "master": link.master, "mac": link.mac}
        if self.peer_master is not None:
            peer_ns, peer = link_by_index(snap, link.peer_netns, link.peer_ifindex)
            evidence["peer"] = f"{peer.name} in {where(peer_ns, snap)}, a port of {peer.master}"
        return self.ok(observed, evidence)

    def _peer_problem(self, snap: Snapshot, ns, link) -> str | None:
        """Why *link*'s other end is not a port of peer_master (None: it is)."""
        here = f"{link.name} in {where(ns, snap)}"
        if link.kind != "veth":
            return f"{here} is a {kind_name(link)}, not a veth, so it has no other end on {self.peer_master}"
        found = link_by_index(snap, link.peer_netns, link.peer_ifindex)
        if found is None:
            return (f"nstutor cannot see the other end of {here} (its netns is not readable, or the pair is "
                    f"half deleted), so it cannot tell whether that end is a port of {self.peer_master}")
        peer_ns, peer = found
        far = f"the other end of {here} is {peer.name} in {where(peer_ns, snap)}"
        if peer.master == self.peer_master:
            return None
        if peer.master:
            return (f"{far}, a port of {peer.master}, not of {self.peer_master}: "
                    f"{cmd_in(peer_ns, f'link set {peer.name} master {self.peer_master}')}")
        return (f"{far}, which is not a port of any bridge: "
                f"{cmd_in(peer_ns, f'link set {peer.name} master {self.peer_master}')}")

    def _grade_absent(self, snap: Snapshot) -> Verdict:
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):   # no such namespace: certainly no such link in it
            return self.ok(place.observed, {"absent": self.dev})
        ns, name = place
        link = ns.link(name)
        if link is None:
            if ns.error and not ns.links:
                return self.fail(f"nstutor could not read {where(ns, snap)}: {ns.error}",
                                 f"nstutor could not look inside {where(ns, snap)}; run nstutor as root.")
            return self.ok(f"{where(ns, snap)} has no {name}", {"netns": where(ns, snap), "absent": name})
        observed = f"{name} is in {where(ns, snap)} ({kind_name(link)}, {state_words(link)})"
        if is_real_device(ns, name):
            return self.fail(observed, f"{name} is a real network device of this machine; nstutor will not "
                             "suggest deleting it")
        return self.fail(observed, f"{name} should be gone from {where(ns, snap)}: {cmd_in(ns, f'link del {name}')}")
