"""fdb: an entry in a forwarding database (`bridge fdb show`): which MAC is behind which port,
or, for a vxlan device, which remote tunnel endpoint (dst) a MAC lives behind.

    - fdb: {netns: node1, dev: flannel.1, mac: 0a:58:ac:10:01:00, dst: 192.168.100.101}
    - fdb: {dev: vethc1, mac: 0a:58:0a:16:00:02}
"""
from __future__ import annotations

from ...observe.model import Snapshot
from ...observe.render import fdb_text
from ..addresses import same_ip
from ..base import Expectation, Field, Verdict, v_ifref, v_ip, v_mac
from ..refs import (
    Missing,
    cmd_in,
    describe_netns_ref,
    dev_netns_problem,
    netns_ref_of,
    netns_ref_problem,
    resolve_table_owner,
    split_ifref,
    where,
)
from ..registry import register


@register
class FdbExpectation(Expectation):
    kind = "fdb"
    fields = {
        "netns": Field(netns_ref_problem, doc="RED, host (the default), or {netns_of: ...}"),
        "dev": Field(v_ifref, doc="the port or vxlan device the entry is on"),
        "mac": Field(v_mac, required=True),
        "dst": Field(v_ip, doc="remote VTEP address (vxlan)"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        return dev_netns_problem(spec)

    def _netns_ref(self):
        return netns_ref_of(self.dev, self.netns)

    def describe(self) -> str:
        text = f"an fdb entry {self.mac.lower()}"
        if self.dev:
            text += f" on {split_ifref(self.dev)[1]}"
        if self.dst:
            text += f" to {self.dst}"
        return text + f" in {describe_netns_ref(self._netns_ref())}"

    def grade(self, snap: Snapshot) -> Verdict:
        owner = resolve_table_owner(snap, self.dev, self.netns)
        if isinstance(owner, Missing):
            return self.fail(*owner)
        ns, dev = owner

        mac = self.mac.lower()
        entries = [e for e in ns.fdb if e.mac.lower() == mac]
        listing = "; ".join(fdb_text(e) for e in entries[:6]) or f"no entry for {mac}"
        observed = f"fdb in {where(ns)}: {listing}"
        args = f"fdb %s {mac} dev {dev or 'DEV'}" + (f" dst {self.dst}" if self.dst else "")

        on_dev = [e for e in entries if dev is None or e.dev == dev]
        for e in on_dev:
            if self.dst is None or same_ip(e.dst, self.dst):
                return self.ok(fdb_text(e) + f" in {where(ns)}",
                               {"netns": where(ns), "mac": e.mac, "dev": e.dev, "dst": e.dst})
        if on_dev:
            now = on_dev[0].dst or "no remote"
            return self.fail(observed, f"{mac} on {dev or on_dev[0].dev} in {where(ns)} points to {now}, expected "
                             f"{self.dst}: {cmd_in(ns, args % 'replace', tool='bridge')}")
        if entries:
            return self.fail(observed, f"the fdb entry for {mac} in {where(ns)} is on {entries[0].dev}, expected "
                             f"{dev}: {cmd_in(ns, args % 'add', tool='bridge')}")
        return self.fail(observed, f"{where(ns)} has no fdb entry for {mac}"
                         + (f" on {dev}" if dev else "") + f": {cmd_in(ns, args % 'append', tool='bridge')}")
