"""vxlan: a VXLAN tunnel device with its parameters (what `ip -d link show` prints).

    - vxlan: {dev: node1/flannel.1, vni: 1, port: 8472, local: 192.168.100.10,
              underlay: eth0, learning: false, mtu: 1450}

`port` is the destination UDP port (`dstport`), `underlay` the device the tunnel's packets go
out of (`dev` on the `ip link add ... type vxlan` line). Most of these are fixed when the
device is made, so a wrong one is fixed by deleting and re-creating it; messages give the
whole command, built from the expected values.
"""
from __future__ import annotations

from ...i18n import _, ngettext
from ...observe.model import Link, NetNS, Snapshot
from ..addresses import same_ip
from ..base import Expectation, Field, Verdict, v_bool, v_ifname, v_ifref, v_int_range, v_ip
from ..link_state import kind_name, state_words
from ..refs import Missing, cmd_in, describe_ifref, dev_netns_problem, missing_device, netns_ref_problem, resolve_dev, \
    where
from ..registry import register


@register
class VxlanExpectation(Expectation):
    kind = "vxlan"
    fields = {
        "dev": Field(v_ifref, required=True, doc="node1/flannel.1"),
        "netns": Field(netns_ref_problem, doc="the netns, if dev does not say it"),
        "vni": Field(v_int_range(0, 2 ** 24 - 1, example=1, what=" (24 bits)"), doc="VXLAN network identifier (`id`)"),
        "port": Field(v_int_range(1, 65535, example=8472, what=" (a UDP port)"), doc="destination UDP port (`dstport`), e.g. 8472 or 4789"),
        "local": Field(v_ip, doc="local tunnel endpoint address"),
        "underlay": Field(v_ifname, doc="underlay device (`dev` in ip link add)"),
        "learning": Field(v_bool, doc="source-address learning on (true) / nolearning (false)"),
        "mtu": Field(v_int_range(68, 65535, example=1450, what=" (an IPv4 link's MTU in bytes)"),
                     doc="the device's MTU in bytes"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        return dev_netns_problem(spec)

    def describe(self) -> str:
        facts = [f"{label} {value}" for label, value in (("vni", self.vni), ("dstport", self.port),
                 ("local", self.local), ("dev", self.underlay), ("mtu", self.mtu)) if value is not None]
        if self.learning is not None:
            facts.append("learning" if self.learning else "nolearning")
        dev = describe_ifref(self.dev, self.netns)
        if facts:
            return _("vxlan {dev} ({settings})").format(dev=dev, settings=", ".join(facts))
        return _("vxlan {dev}").format(dev=dev)

    def _add_command(self, ns: NetNS, name: str, link: Link | None) -> str:
        """`ip link add NAME type vxlan ...` with the expected values (observed ones fill the gaps)."""
        info = link.vxlan if link is not None else None
        vni = self.vni if self.vni is not None else (info.vni if info else None)
        port = self.port if self.port is not None else (info.port if info else None)
        local = self.local if self.local is not None else (info.local if info else None)
        under = self.underlay if self.underlay is not None else (info.dev if info else None)
        learning = self.learning if self.learning is not None else (info.learning if info else None)
        args = f"link add {name} type vxlan id {vni if vni is not None else 'VNI'}"
        args += f" dstport {port}" if port is not None else ""
        args += f" local {local}" if local is not None else ""
        args += f" dev {under}" if under is not None else ""
        args += " nolearning" if learning is False else ""
        # re-made, it keeps its MAC: a lesson may have fixed it (flannel's VtepMAC) and check it
        args += f" address {link.mac}" if link is not None and link.mac else ""
        cmd = cmd_in(ns, args)
        if self.mtu is not None:
            cmd += "; " + cmd_in(ns, f"link set {name} mtu {self.mtu}")
        return cmd

    def grade(self, snap: Snapshot) -> Verdict:
        place = resolve_dev(snap, self.dev, self.netns)
        if isinstance(place, Missing):
            return self.fail(*place)
        ns, name = place
        link = ns.link(name)
        if link is None:
            return self.fail(*missing_device(snap, ns, name, _("vxlan device"), self._add_command(ns, name, None)))
        here = where(ns, snap)
        recreate = f"{cmd_in(ns, f'link del {name}')}; {self._add_command(ns, name, link)}"
        if link.kind != "vxlan":
            return self.fail(_("{name} in {netns} is a {kind}").format(name=name, netns=here, kind=kind_name(link)),
                             _("{name} in {netns} is a {kind}, not a vxlan: {command}").format(
                                 name=name, netns=here, kind=kind_name(link), command=recreate))
        info = link.vxlan
        if info is None:
            return self.fail(_("{name} in {netns} is a vxlan, but nstutor could not read its settings").format(
                                 name=name, netns=here),
                             _("nstutor could not read the vxlan details; run nstutor as root and check "
                               "with {command}").format(command=cmd_in(ns, f'-d link show {name}')))
        settings = (f"vxlan id {info.vni} dstport {info.port} local {info.local or '-'} "
                    f"dev {info.dev or '-'} {'learning' if info.learning else 'nolearning'}, mtu {link.mtu}, "
                    f"{state_words(link)}")
        observed = _("{name} in {netns}: {settings}").format(name=name, netns=here, settings=settings)

        # Every setting fixed at creation that is wrong, in one message: one re-create fixes them all.
        wrong = []
        for label, want, have in (("VNI", self.vni, info.vni), ("destination port", self.port, info.port),
                                  ("local address", self.local, info.local), ("underlay device", self.underlay, info.dev)):
            same = same_ip(have, want) if label == "local address" else have == want
            if want is not None and not same:
                wrong.append(_wrong_setting(label, have if have is not None else _("unset"), want))
        if self.learning is not None and info.learning != self.learning:
            now, want = ("learning", "nolearning") if info.learning else ("nolearning", "learning")
            wrong.append(_("{current}, expected {expected} (with nolearning the fdb is filled by hand, as flannel "
                           "does)").format(current=now, expected=want))
        if wrong:
            return self.fail(observed, ngettext(
                "{name} in {netns} has {settings}. This is set when the device is made, so re-create it: {command}",
                "{name} in {netns} has {settings}. These are set when the device is made, so re-create it: "
                "{command}", len(wrong)).format(name=name, netns=here, settings="; ".join(wrong), command=recreate))
        if self.mtu is not None and link.mtu != self.mtu:
            return self.fail(observed, _("{name} in {netns} has MTU {current}, expected {mtu}: {command}").format(
                name=name, netns=here, current=link.mtu, mtu=self.mtu,
                command=cmd_in(ns, f'link set {name} mtu {self.mtu}')))
        evidence = {"netns": here, "name": name, "vni": info.vni, "port": info.port, "local": info.local,
                    "underlay": info.dev, "learning": info.learning, "mtu": link.mtu}
        return self.ok(observed, evidence)


def _wrong_setting(label: str, have, want) -> str:
    """'VNI 1, expected 2': one setting fixed at creation that is not what the lesson wants."""
    if label == "VNI":
        return _("VNI {current}, expected {expected}").format(current=have, expected=want)
    if label == "destination port":
        return _("destination port {current}, expected {expected}").format(current=have, expected=want)
    if label == "local address":
        return _("local address {current}, expected {expected}").format(current=have, expected=want)
    return _("underlay device {current}, expected {expected}").format(current=have, expected=want)
