"""neighbour: an entry in a netns's neighbour (ARP / NDP) table, as `ip neigh` shows it.

    - neighbour: {netns: node1, dev: flannel.1, ip: 172.16.1.0, mac: 0a:58:ac:10:01:00, permanent: true}
    - neighbour: {netns: RED, ip: 10.11.11.3}               # RED has learned 10.11.11.3's MAC
"""
from __future__ import annotations

from ...observe.model import Neighbour, Snapshot
from ...observe.render import neighbour_text
from ..addresses import same_ip
from ..base import Field, Verdict, v_bool, v_ifref, v_ip, v_mac
from ..refs import Missing, cmd_in, split_ifref, where
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
        text = f"a neighbour entry {self.ip}"
        if self.mac:
            text += f" -> {self.mac.lower()}"
        if self.dev:
            text += f" on {split_ifref(self.dev)[1]}"
        if self.permanent is not None:
            text += " (permanent)" if self.permanent else " (learned)"
        return text + self.in_netns_words()

    def grade(self, snap: Snapshot) -> Verdict:
        owner = self.table_owner(snap)
        if isinstance(owner, Missing):
            return self.fail(*owner)
        ns, dev = owner

        entries = [n for n in ns.neighbours if same_ip(n.ip, self.ip)]
        listing = "; ".join(neighbour_text(n) for n in entries) or f"no entry for {self.ip}"
        observed = f"neighbours in {where(ns, snap)}: {listing}"
        replace = cmd_in(ns, f"neigh replace {self.ip} lladdr {(self.mac or 'MAC').lower()} dev {dev or 'DEV'}"
                         + (" nud permanent" if self.permanent is not False else ""))

        if not entries:
            if self.mac is None and not self.permanent:
                return self.fail(observed, f"{where(ns, snap)} has not resolved {self.ip} yet: it learns the MAC with "
                                 f"the first packet sent there ({_exec(ns, f'ping -c 1 -W 1 {self.ip}')})")
            return self.fail(observed, f"{where(ns, snap)} has no neighbour entry for {self.ip}: "
                             + replace.replace(" replace ", " add ", 1))
        on_dev = [n for n in entries if dev is None or n.dev == dev]
        if not on_dev:
            return self.fail(observed, f"the entry for {self.ip} in {where(ns, snap)} is on {entries[0].dev}, "
                             f"expected {dev}: {replace}")
        for n in on_dev:
            if self._matches(n):
                return self.ok(neighbour_text(n) + f" in {where(ns, snap)}",
                               {"netns": where(ns, snap), "ip": n.ip, "dev": n.dev, "mac": n.mac, "state": n.state})
        n = on_dev[0]
        if n.mac is None or n.state in ("FAILED", "INCOMPLETE"):
            why = f"{self.ip} did not answer (state {n.state})"
            return self.fail(observed, f"the entry for {self.ip} in {where(ns, snap)} has no MAC: {why}"
                             + (f"; add it by hand: {replace}" if self.mac else
                                "; check the link to it is up and the addresses are on one subnet"))
        if self.mac is not None and n.mac.lower() != self.mac.lower():
            return self.fail(observed, f"{self.ip} in {where(ns, snap)} resolves to {n.mac}, expected "
                             f"{self.mac.lower()}: {replace}")
        if self.permanent and n.state != "PERMANENT":
            return self.fail(observed, f"the entry for {self.ip} in {where(ns, snap)} was learned ({n.state}), "
                             f"not added by hand: {replace}")
        return self.fail(observed, f"the entry for {self.ip} in {where(ns, snap)} is PERMANENT (added by hand), "
                         f"expected a learned one: {cmd_in(ns, f'neigh del {self.ip} dev {n.dev}')}")

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
