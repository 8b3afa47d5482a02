"""fdb: an entry in a forwarding database (`bridge fdb show`): which MAC is behind which port,
or, for a vxlan device, which remote tunnel endpoint (dst) a MAC lives behind.

    - fdb: {netns: node1, dev: flannel.1, mac: 0a:58:ac:10:01:00, dst: 192.168.100.101}
    - fdb: {dev: vethc1, mac: 0a:58:0a:16:00:02}
"""
from __future__ import annotations

from ...observe.model import Snapshot
from ...observe.render import fdb_text
from ..addresses import same_ip
from ..base import Field, Verdict, v_ifref, v_ip, v_mac
from ..refs import Missing, cmd_in, split_ifref, where
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
        text = f"an fdb entry {self.mac.lower()}"
        if self.dev:
            text += f" on {split_ifref(self.dev)[1]}"
        if self.dst:
            text += f" to {self.dst}"
        return text + self.in_netns_words()

    def grade(self, snap: Snapshot) -> Verdict:
        owner = self.table_owner(snap)
        if isinstance(owner, Missing):
            return self.fail(*owner)
        ns, dev = owner

        mac = self.mac.lower()
        entries = [e for e in ns.fdb if e.mac.lower() == mac]
        listing = "; ".join(fdb_text(e) for e in entries[:6]) or f"no entry for {mac}"
        observed = f"fdb in {where(ns, snap)}: {listing}"
        args = f"fdb %s {mac} dev {dev or 'DEV'}" + (f" dst {self.dst}" if self.dst else "")

        on_dev = [e for e in entries if dev is None or e.dev == dev]
        for e in on_dev:
            if self.dst is None or same_ip(e.dst, self.dst):
                return self.ok(fdb_text(e) + f" in {where(ns, snap)}",
                               {"netns": where(ns, snap), "mac": e.mac, "dev": e.dev, "dst": e.dst})
        if on_dev:
            now = on_dev[0].dst or "no remote"
            return self.fail(observed, f"{mac} on {dev or on_dev[0].dev} in {where(ns, snap)} points to {now}, expected "
                             f"{self.dst}: {cmd_in(ns, args % 'replace', tool='bridge')}")
        if entries:
            return self.fail(observed, f"the fdb entry for {mac} in {where(ns, snap)} is on {entries[0].dev}, expected "
                             f"{dev}: {cmd_in(ns, args % 'add', tool='bridge')}")
        return self.fail(observed, f"{where(ns, snap)} has no fdb entry for {mac}"
                         + (f" on {dev}" if dev else "") + f": {cmd_in(ns, args % 'append', tool='bridge')}")
