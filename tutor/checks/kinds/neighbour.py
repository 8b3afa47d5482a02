"""neighbour: an entry in a netns's neighbour (ARP / NDP) table, as `ip neigh` shows it.

    - neighbour: {netns: node1, dev: flannel.1, ip: 172.16.1.0, mac: 0a:58:ac:10:01:00, permanent: true}
    - neighbour: {netns: RED, ip: 10.11.11.3}               # RED has learned 10.11.11.3's MAC
"""
from __future__ import annotations

from ...i18n import _
from ...observe.model import Neighbour, Snapshot
from ...observe.render import neighbour_text
from ..addresses import same_ip
from ..base import Field, Verdict, v_bool, v_ifref, v_ip, v_mac
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_of, split_ifref, where
from ..registry import register
from ..table_entry import NETNS_FIELD, TableEntryExpectation

LEARNED_OK = ("REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP")


@register
class NeighbourExpectation(TableEntryExpectation):
    kind = "neighbour"
    fields = {
        "netns": NETNS_FIELD,
        "dev": Field(v_ifref, doc="the device the entry is on"),
        "ip": Field(v_ip, required=True),
        "mac": Field(v_mac, doc="the link-layer address it resolves to"),
        "permanent": Field(v_bool, doc="added by hand (nud permanent) rather than learned"),
    }

    def describe(self) -> str:
        details = ""
        if self.mac:
            details += f" -> {self.mac.lower()}"
        if self.dev:
            details += _(" on {dev}").format(dev=split_ifref(self.dev)[1])
        if self.permanent is not None:
            details += _(" (permanent)") if self.permanent else _(" (learned)")
        return _("a neighbour entry {ip}{details} in {netns}").format(
            ip=self.ip, details=details, netns=describe_netns_ref(netns_ref_of(self.dev, self.netns)))

    def grade(self, snap: Snapshot) -> Verdict:
        owner = self.table_owner(snap)
        if isinstance(owner, Missing):
            return self.fail(*owner)
        ns, dev = owner
        here = where(ns, snap)

        entries = [n for n in ns.neighbours if same_ip(n.ip, self.ip)]
        listing = "; ".join(neighbour_text(n) for n in entries) or _("no entry for {ip}").format(ip=self.ip)
        observed = _("neighbours in {netns}: {entries}").format(netns=here, entries=listing)
        replace = cmd_in(ns, f"neigh replace {self.ip} lladdr {(self.mac or 'MAC').lower()} dev {dev or 'DEV'}"
                         + (" nud permanent" if self.permanent is not False else ""))

        if not entries:
            if self.mac is None and not self.permanent:
                return self.fail(observed, _("{netns} has not resolved {ip} yet: it learns the MAC with the first "
                                             "packet sent there ({command})").format(
                    netns=here, ip=self.ip, command=_exec(ns, f'ping -c 1 -W 1 {self.ip}')))
            return self.fail(observed, _("{netns} has no neighbour entry for {ip}: {command}").format(
                netns=here, ip=self.ip, command=replace.replace(" replace ", " add ", 1)))
        on_dev = [n for n in entries if dev is None or n.dev == dev]
        if not on_dev:
            return self.fail(observed, _("the entry for {ip} in {netns} is on {current}, expected {dev}: "
                                         "{command}").format(ip=self.ip, netns=here, current=entries[0].dev, dev=dev,
                                                             command=replace))
        for n in on_dev:
            if self._matches(n):
                return self.ok(_("{entry} in {netns}").format(entry=neighbour_text(n), netns=here),
                               {"netns": here, "ip": n.ip, "dev": n.dev, "mac": n.mac, "state": n.state})
        n = on_dev[0]
        if n.mac is None or n.state in ("FAILED", "INCOMPLETE"):
            if self.mac:
                return self.fail(observed, _("the entry for {ip} in {netns} has no MAC: {ip} did not answer "
                                             "(state {state}); add it by hand: {command}").format(
                    ip=self.ip, netns=here, state=n.state, command=replace))
            return self.fail(observed, _("the entry for {ip} in {netns} has no MAC: {ip} did not answer (state "
                                         "{state}); check the link to it is up and the addresses are on one "
                                         "subnet").format(ip=self.ip, netns=here, state=n.state))
        if self.mac is not None and n.mac.lower() != self.mac.lower():
            return self.fail(observed, _("{ip} in {netns} resolves to {current}, expected {mac}: {command}").format(
                ip=self.ip, netns=here, current=n.mac, mac=self.mac.lower(), command=replace))
        if self.permanent and n.state != "PERMANENT":
            return self.fail(observed, _("the entry for {ip} in {netns} was learned ({state}), not added by hand: "
                                         "{command}").format(ip=self.ip, netns=here, state=n.state, command=replace))
        return self.fail(observed, _("the entry for {ip} in {netns} is PERMANENT (added by hand), expected a "
                                     "learned one: {command}").format(
            ip=self.ip, netns=here, command=cmd_in(ns, f'neigh del {self.ip} dev {n.dev}')))

    def _matches(self, n: Neighbour) -> bool:
        if n.mac is None or n.state not in LEARNED_OK:
            return False
        if self.mac is not None and n.mac.lower() != self.mac.lower():
            return False
        if self.permanent is True and n.state != "PERMANENT":
            return False
        if self.permanent is False and n.state == "PERMANENT":
            return False
        return True


def _exec(ns, command: str) -> str:
    """A non-ip command run inside *ns*."""
    return cmd_in(ns, command.split(" ", 1)[1], tool=command.split(" ", 1)[0])
