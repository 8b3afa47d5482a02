"""address: an IP address with its prefix length on an interface.

    - address: {dev: RED/veth0, cidr: 10.11.11.2/24}
    - address: {netns: RED, dev: veth0, cidr: 10.11.11.2/24}
    - address: {dev: nsbr0, cidr: 10.22.0.1/24}             # plain name = the host's

Failures say which of these it is: the device is missing, the address is on another device
(or in another netns), the same IP is there with another prefix ("10.11.11.2/32 is there,
expected /24"), or the address is simply not there.
"""
from __future__ import annotations

import ipaddress

from ...observe.model import Snapshot
from ..base import Expectation, Field, Verdict, v_cidr, v_ifref
from ..refs import (Missing, cmd_in, describe_ifref, dev_netns_problem, is_real_device, missing_link,
                    netns_ref_problem, owners_of_ip, resolve_dev, where)
from ..registry import register


def _iface(cidr: str):
    try:
        return ipaddress.ip_interface(cidr)
    except ValueError:
        return None


@register
class AddressExpectation(Expectation):
    kind = "address"
    fields = {
        "dev": Field(v_ifref, required=True, doc="RED/veth0, or veth0 with netns"),
        "netns": Field(netns_ref_problem, doc="the netns, if dev does not say it"),
        "cidr": Field(v_cidr, required=True, doc="10.11.11.2/24"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        return dev_netns_problem(spec)

    def describe(self) -> str:
        return f"{self.cidr} on {describe_ifref(self.dev, self.netns)}"

    def grade(self, snap: Snapshot) -> Verdict:
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):
            return self.fail(*place)
        ns, name = place
        want = ipaddress.ip_interface(self.cidr)
        add = cmd_in(ns, f"addr add {self.cidr} dev {name}")

        link = ns.link(name)
        if link is None:
            missing = missing_link(snap, ns, name)
            return self.fail(missing.observed, missing.message)

        on_dev = [a for a in ns.addresses if a.dev == name]
        # the kernel gives every up link an fe80:: address of its own: not one the learner set
        have = ", ".join(a.cidr for a in on_dev if not a.cidr.lower().startswith("fe80:")) or "no address"
        observed = f"{name} in {where(ns)} has {have}"
        for addr in on_dev:
            got = _iface(addr.cidr)
            if got == want:
                return self.ok(observed, {"netns": where(ns), "dev": name, "cidr": addr.cidr,
                                          "addresses": [a.cidr for a in on_dev]})
        for addr in on_dev:
            got = _iface(addr.cidr)
            if got is not None and got.ip == want.ip:
                return self.fail(observed, f"{addr.cidr} is there, expected /{want.network.prefixlen}: the prefix "
                                 f"length decides which addresses count as on this link. "
                                 f"{cmd_in(ns, f'addr del {addr.cidr} dev {name}')}; {add}")

        # Not on this device: is that IP somewhere else on the machine?
        for other_ns, other_dev, other_cidr in owners_of_ip(snap, str(want.ip)):
            if is_real_device(other_ns, other_dev):
                return self.fail(f"{other_cidr} is on {other_dev} in {where(other_ns)}; {observed}",
                                 f"{want.ip} already belongs to {other_dev} in {where(other_ns)}, a real network "
                                 "device of this machine: leave it there and use another address for the lab")
            if other_ns.inode == ns.inode:
                return self.fail(f"{other_cidr} is on {other_dev} in {where(ns)}; {observed}",
                                 f"{other_cidr} is on {other_dev}, not on {name}: "
                                 f"{cmd_in(ns, f'addr del {other_cidr} dev {other_dev}')}; {add}")
        for other_ns, other_dev, other_cidr in owners_of_ip(snap, str(want.ip)):
            return self.fail(f"{other_cidr} is on {other_dev} in {where(other_ns)}; {observed}",
                             f"{other_cidr} is on {other_dev} in {where(other_ns)}, not on {name} in {where(ns)} "
                             f"(an address belongs to one netns): "
                             f"{cmd_in(other_ns, f'addr del {other_cidr} dev {other_dev}')}; {add}")
        # A wrong address of the same family left in place keeps its route (and may shadow another
        # subnet, as a stray 172.16.x address on a node's cni0 does): say how to remove it too.
        wrong = [a.cidr for a in on_dev if not a.cidr.lower().startswith("fe80:") and _iface(a.cidr) is not None
                 and _iface(a.cidr).version == want.version]
        remove = "".join(f"; if {cidr} was a mistake, remove it: {cmd_in(ns, f'addr del {cidr} dev {name}')}"
                         for cidr in wrong[:2])
        return self.fail(observed, f"{name} in {where(ns)} does not have {self.cidr} (it has {have}): {add}{remove}")
