"""fdb: an entry in a forwarding database (`bridge fdb show`): which MAC is behind which port,
or, for a vxlan device, which remote tunnel endpoint (dst) a MAC lives behind.

    - fdb: {netns: node1, dev: flannel.1, mac: 0a:58:ac:10:01:00, dst: 192.168.100.101}
    - fdb: {dev: vethc1, mac: 0a:58:0a:16:00:02}
"""
from __future__ import annotations

from ...i18n import _
from ...observe.model import Snapshot
from ...observe.render import fdb_text
from ..addresses import same_ip
from ..base import Field, Verdict, v_ifref, v_ip, v_mac
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_of, split_ifref, where
from ..registry import register
from ..table_entry import NETNS_FIELD, TableEntryExpectation


@register
class FdbExpectation(TableEntryExpectation):
    kind = "fdb"
    fields = {
        "netns": NETNS_FIELD,
        "dev": Field(v_ifref, doc="the port or vxlan device the entry is on"),
        "mac": Field(v_mac, required=True),
        "dst": Field(v_ip, doc="remote VTEP address (vxlan)"),
    }

    def describe(self) -> str:
        mac, netns = self.mac.lower(), describe_netns_ref(netns_ref_of(self.dev, self.netns))
        dev = split_ifref(self.dev)[1] if self.dev else None
        if dev and self.dst:
            return _("an fdb entry {mac} on {dev} to {dst} in {netns}").format(mac=mac, dev=dev, dst=self.dst,
                                                                              netns=netns)
        if dev:
            return _("an fdb entry {mac} on {dev} in {netns}").format(mac=mac, dev=dev, netns=netns)
        if self.dst:
            return _("an fdb entry {mac} to {dst} in {netns}").format(mac=mac, dst=self.dst, netns=netns)
        return _("an fdb entry {mac} in {netns}").format(mac=mac, netns=netns)

    def grade(self, snap: Snapshot) -> Verdict:
        owner = self.table_owner(snap)
        if isinstance(owner, Missing):
            return self.fail(*owner)
        ns, dev = owner

        mac = self.mac.lower()
        here = where(ns, snap)
        entries = [e for e in ns.fdb if e.mac.lower() == mac]
        listing = "; ".join(fdb_text(e) for e in entries[:6]) or _("no entry for {mac}").format(mac=mac)
        observed = _("fdb in {netns}: {entries}").format(netns=here, entries=listing)
        args = f"fdb %s {mac} dev {dev or 'DEV'}" + (f" dst {self.dst}" if self.dst else "")

        on_dev = [e for e in entries if dev is None or e.dev == dev]
        for e in on_dev:
            if self.dst is None or same_ip(e.dst, self.dst):
                return self.ok(_("{entry} in {netns}").format(entry=fdb_text(e), netns=here),
                               {"netns": here, "mac": e.mac, "dev": e.dev, "dst": e.dst})
        if on_dev:
            now = on_dev[0].dst or _("no remote")
            return self.fail(observed, _("{mac} on {dev} in {netns} points to {current}, expected {dst}: {command}").format(
                mac=mac, dev=dev or on_dev[0].dev, netns=here, current=now, dst=self.dst,
                command=cmd_in(ns, args % 'replace', tool='bridge')))
        if entries:
            return self.fail(observed, _("the fdb entry for {mac} in {netns} is on {current}, expected {dev}: "
                                         "{command}").format(mac=mac, netns=here, current=entries[0].dev, dev=dev,
                                                             command=cmd_in(ns, args % 'add', tool='bridge')))
        command = cmd_in(ns, args % 'append', tool='bridge')
        if dev:
            return self.fail(observed, _("{netns} has no fdb entry for {mac} on {dev}: {command}").format(
                netns=here, mac=mac, dev=dev, command=command))
        return self.fail(observed, _("{netns} has no fdb entry for {mac}: {command}").format(
            netns=here, mac=mac, command=command))
