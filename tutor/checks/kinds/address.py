"""address: an IP address with its prefix length on an interface.

    - address: {dev: RED/veth0, cidr: 10.11.11.2/24}
    - address: {netns: RED, dev: veth0, cidr: 10.11.11.2/24}
    - address: {dev: nsbr0, cidr: 10.22.0.1/24}             # plain name = the host's

Failures say which of these it is: the device is missing, the address is on another device
(or in another netns), the same IP is there with another prefix ("10.11.11.2/32 is there,
expected /24"), or the address is simply not there.

The right address passes only alone: another address of its family on the same link, or the
same IP on another link of the netns or in a netns cabled to it by a veth, fails with the
`addr del` that removes it (a real device's addresses are never suggested for removal).
"""
from __future__ import annotations

import ipaddress
from dataclasses import replace

from ...i18n import _
from ...observe.model import Snapshot
from ..base import Expectation, Field, Stray, Verdict, v_cidr, v_ifref
from ..refs import (Missing, cmd_in, describe_ifref, dev_netns_problem, is_real_device, missing_link,
                    netns_ref_problem, owners_of_ip, resolve_dev, where)
from ..registry import register
from ..strays import ip_argv, show


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
        return _("{cidr} on {dev}").format(cidr=self.cidr, dev=describe_ifref(self.dev, self.netns))

    def grade(self, snap: Snapshot) -> Verdict:
        verdict = self._grade(snap)
        if verdict.passed:
            return verdict
        strays = self._strays(snap)
        return replace(verdict, strays=strays) if strays else verdict

    def _strays(self, snap: Snapshot) -> tuple[Stray, ...]:
        """The learner's wrong addresses for this check, as strays for reset: another address of the
        family on the lesson's device (10.11.11.2/16, 10.11.11.20/24 for 10.11.11.2/24), and this IP on
        another device of the lesson's (non-host) netns. Never on a real device, never in a netns only
        a pid names (no exact name for a later removal), never in another netns."""
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):
            return ()
        ns, name = place
        want = ipaddress.ip_interface(self.cidr)
        out = []
        for addr in ns.addresses:
            got = _iface(addr.cidr)
            if got is None or got.version != want.version or _link_local(addr.cidr) \
                    or (addr.dev == name and got == want) or is_real_device(ns, addr.dev):
                continue
            if addr.dev == name:
                why = (_("the lesson's IP with another prefix length") if got.ip == want.ip
                       else _("not {cidr}").format(cidr=self.cidr))
            elif got.ip == want.ip and not ns.is_host:
                why = _("the IP meant for {link}").format(link=name)
            else:
                continue
            argv = ip_argv(ns, "addr", "del", addr.cidr, "dev", addr.dev)
            if argv is not None:
                out.append(Stray(_("the address {cidr} on {link} in {netns} ({why})").format(
                    cidr=addr.cidr, link=show(addr.dev), netns=where(ns, snap), why=why), argv))
        return tuple(out)

    def _grade(self, snap: Snapshot) -> Verdict:
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):
            return self.fail(*place)
        ns, name = place
        want = ipaddress.ip_interface(self.cidr)
        add = cmd_in(ns, f"addr add {self.cidr} dev {name}")

        link = ns.link(name)
        if link is None:
            return self.fail(*missing_link(snap, ns, name))

        on_dev = [a for a in ns.addresses if a.dev == name]
        # the kernel gives every up link an fe80:: address of its own: not one the learner set
        have = ", ".join(a.cidr for a in on_dev if not _link_local(a.cidr)) or _("no address")
        observed = _("{link} in {netns} has {addresses}").format(link=name, netns=where(ns, snap), addresses=have)
        for addr in on_dev:
            got = _iface(addr.cidr)
            if got == want:
                clash = self._beside(snap, ns, name, addr.cidr, on_dev)
                if clash is not None:
                    return self.fail(observed if clash[0] is None else f"{clash[0]}; {observed}", clash[1])
                return self.ok(observed, {"netns": where(ns, snap), "dev": name, "cidr": addr.cidr,
                                          "addresses": [a.cidr for a in on_dev]})
        for addr in on_dev:
            got = _iface(addr.cidr)
            if got is not None and got.ip == want.ip:
                return self.fail(observed, _("{cidr} is there, expected /{prefix}: the prefix length decides which "
                                             "addresses count as on this link. {delete}; {add}").format(
                    cidr=addr.cidr, prefix=want.network.prefixlen, delete=cmd_in(ns, f'addr del {addr.cidr} dev {name}'),
                    add=add))

        # Not on this device: is that IP somewhere else on the machine?
        for other_ns, other_dev, other_cidr in owners_of_ip(snap, str(want.ip)):
            if is_real_device(other_ns, other_dev):
                return self.fail(_("{cidr} is on {dev} in {netns}; {observed}").format(
                                     cidr=other_cidr, dev=other_dev, netns=where(other_ns, snap), observed=observed),
                                 _("{ip} already belongs to {dev} in {netns}, a real network device of this machine: "
                                   "leave it there and use another address for the lab").format(
                                     ip=want.ip, dev=other_dev, netns=where(other_ns, snap)))
            if other_ns.inode == ns.inode:
                return self.fail(_("{cidr} is on {dev} in {netns}; {observed}").format(
                                     cidr=other_cidr, dev=other_dev, netns=where(ns, snap), observed=observed),
                                 _("{cidr} is on {dev}, not on {link}: {delete}; {add}").format(
                                     cidr=other_cidr, dev=other_dev, link=name,
                                     delete=cmd_in(ns, f'addr del {other_cidr} dev {other_dev}'), add=add))
        for other_ns, other_dev, other_cidr in owners_of_ip(snap, str(want.ip)):
            return self.fail(_("{cidr} is on {dev} in {netns}; {observed}").format(
                                 cidr=other_cidr, dev=other_dev, netns=where(other_ns, snap), observed=observed),
                             _("{cidr} is on {dev} in {dev_netns}, not on {link} in {netns} (an address belongs to one "
                               "netns): {delete}; {add}").format(
                                 cidr=other_cidr, dev=other_dev, dev_netns=where(other_ns, snap), link=name,
                                 netns=where(ns, snap), delete=cmd_in(other_ns, f'addr del {other_cidr} dev {other_dev}'),
                                 add=add))
        # A wrong address of the same family left in place keeps its route (and may shadow another
        # subnet, as a stray 172.16.x address on a node's cni0 does): say how to remove it too.
        wrong = [a.cidr for a in on_dev if not _link_local(a.cidr) and _iface(a.cidr) is not None
                 and _iface(a.cidr).version == want.version]
        remove = "".join(_("; if {cidr} was a mistake, remove it: {command}").format(
                             cidr=cidr, command=cmd_in(ns, f'addr del {cidr} dev {name}')) for cidr in wrong[:2])
        return self.fail(observed, _("{link} in {netns} does not have {cidr} (it has {addresses}): {add}{remove}").format(
            link=name, netns=where(ns, snap), cidr=self.cidr, addresses=have, add=add, remove=remove))


    def _beside(self, snap: Snapshot, ns, name: str, cidr: str, on_dev) -> tuple[str | None, str] | None:
        """(observed, message) when the right address has a contradicting one beside it, else None.

        A second address of the same family on the link brings its own route and answers for
        its IP: 10.11.11.3/24 typed on RED's end as well makes RED answer its own pings to BLUE.
        The same IP on another link of this netns, or in a netns cabled to this one by a veth
        (veth-c1 given c1's 10.22.0.2), makes the wrong side answer for it."""
        want = ipaddress.ip_interface(cidr)
        extra = [a.cidr for a in on_dev if a.cidr != cidr and not _link_local(a.cidr)
                 and _iface(a.cidr) is not None and _iface(a.cidr).version == want.version]
        if extra and not is_real_device(ns, name):
            return None, _("{link} in {netns} has {cidr}, and also {extra}, which the lesson does not give it: an extra "
                           "address brings its own route and answers for its IP. Remove it: {commands}").format(
                link=name, netns=where(ns, snap), cidr=cidr, extra=", ".join(extra),
                commands="; ".join(cmd_in(ns, f"addr del {c} dev {name}") for c in extra[:3]))
        for other_ns, other_dev, other_cidr in owners_of_ip(snap, str(want.ip)):
            if other_ns.inode == ns.inode and other_dev == name:
                continue
            if other_ns.inode != ns.inode and not _cabled(ns, other_ns):
                continue        # an unrelated namespace of its own (another lab) cannot take the packets
            seen = _("{cidr} is on {dev} in {netns} too").format(cidr=other_cidr, dev=other_dev,
                                                                  netns=where(other_ns, snap))
            if is_real_device(other_ns, other_dev):
                return seen, _("{ip} also belongs to {dev} in {netns}, a real network device of this machine: leave it "
                               "there and use another address for the lab").format(
                    ip=want.ip, dev=other_dev, netns=where(other_ns, snap))
            side = _("in the same netns") if other_ns.inode == ns.inode else _("on the other side of the cable")
            return seen, _("{ip} is on {link} in {netns}, and also on {dev} in {dev_netns} ({side}), so packets for it "
                           "may be answered there instead. An address belongs to one interface: {command}").format(
                ip=want.ip, link=name, netns=where(ns, snap), dev=other_dev, dev_netns=where(other_ns, snap), side=side,
                command=cmd_in(other_ns, f'addr del {other_cidr} dev {other_dev}'))
        return None


def _link_local(cidr: str) -> bool:
    return cidr.lower().startswith("fe80:")


def _cabled(a, b) -> bool:
    """Are namespaces *a* and *b* joined by a veth pair (one end in each)?"""
    return any(l.kind == "veth" and l.peer_netns == b.inode for l in a.links) or \
        any(l.kind == "veth" and l.peer_netns == a.inode for l in b.links)
