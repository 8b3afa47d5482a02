"""dnat: a port forward, a DNAT rule in an iptables nat table (read only; no packet is sent).

    - dnat: {netns: natrtr, dport: 8080, to: 10.77.0.2:8080, in: natwan0}
    - dnat: {netns: natrtr, proto: udp, dport: 5353, to: 10.77.0.2}       # the port stays 5353
    - dnat: {netns: natrtr, dport: 8080, to: 10.77.0.2:8080, absent: true}   # no DNAT rule for tcp 8080 any more

This is what `docker run -p 8080:80` adds: `-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080
-j DNAT --to-destination 172.17.0.2:80`. A packet that arrives for port `dport` gets the
destination `to` before the router decides where it goes, so it is routed on to the server
inside. The rule may sit in `chain` (PREROUTING) or in a chain that `chain` jumps to (docker's
DOCKER). With `in`, it must apply only to packets that arrive by that interface (`-i natwan0`).

The table is the masquerade kind's read: the host's (the snapshot's `nat` part), or with
`netns` that network namespace's (`netns_nat`), and the commands in the messages run there.
With `absent: true` it passes when no DNAT rule for that protocol and port is left anywhere in the
table (whatever its destination), and a failure gives the command that deletes each one.
"""
from __future__ import annotations

import ipaddress
import shlex
from typing import Any

from ...i18n import _, ngettext
from ...observe.model import Snapshot, Wants
from ..base import Expectation, Field, NotObserved, Stray, Verdict, v_bool, v_ifname, v_int_range, v_one_of, v_str
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_problem, where
from ..registry import register
from ..strays import removal_words
from .masquerade import NatRule, _delete, _reachable_chains, nat_namespace, nat_rules, nat_wants, netns_prefix, removable


def v_to(value: Any) -> str | None:
    """The new destination: an IPv4 address, or address:port."""
    shape = f"{value!r} is not a destination like 10.77.0.2:8080 (an IPv4 address, optionally with :port)"
    if not isinstance(value, str):
        return shape
    ip, colon, port = value.partition(":")
    try:
        if ipaddress.ip_address(ip).version != 4:
            return shape
    except ValueError:
        return shape
    if colon and not (port.isdigit() and 0 < int(port) < 65536):
        return shape
    return None


def _split_to(value: str, dport: int) -> tuple[str, int]:
    """(address, port) of a --to-destination value; without a port the packet keeps *dport*."""
    ip, colon, port = value.partition(":")
    if colon and "-" not in port and port.isdigit():
        return ip, int(port)
    return ip, dport


def _words(rule: NatRule) -> list[str]:
    try:
        return shlex.split(rule.text)
    except ValueError:
        return []


def _dport(rule: NatRule) -> int | None:
    """The rule's destination port (`--dport 8080`; None without one, or for a range or a negation)."""
    words = _words(rule)
    for i, word in enumerate(words[:-1]):
        if word in ("--dport", "--destination-port") and words[i - 1] != "!" and words[i + 1].isdigit():
            return int(words[i + 1])
    return None


def _to(rule: NatRule) -> str | None:
    words = _words(rule)
    for i, word in enumerate(words[:-1]):
        if word == "--to-destination":
            return words[i + 1]
    return None


@register
class DnatExpectation(Expectation):
    kind = "dnat"
    fields = {
        "dport": Field(v_int_range(1, 65535, example=8080, what=", a port"), required=True,
                       doc="the port packets arrive for, e.g. 8080"),
        "to": Field(v_to, required=True, doc="where they go instead: 10.77.0.2:8080 (or 10.77.0.2: same port)"),
        "proto": Field(v_one_of("tcp", "udp"), default="tcp", doc="tcp (default) or udp"),
        "in": Field(v_ifname, doc="only packets arriving by this interface (-i), e.g. natwan0"),
        "chain": Field(v_str, default="PREROUTING", doc="the nat chain (or one it jumps to)"),
        "netns": Field(netns_ref_problem, doc="whose nat table: a router netns such as natrtr (default: the host's)"),
        "absent": Field(v_bool, default=False, doc="true: no DNAT rule for this port is left"),
    }

    @property
    def in_dev(self) -> str | None:
        return self.spec.get("in")

    def _args(self) -> str:
        where_in = f"-i {self.in_dev} " if self.in_dev else ""
        return f"{where_in}-p {self.proto} --dport {self.dport} -j DNAT --to-destination {self.to}"

    def _add(self, ns) -> str:
        args = f"-t nat -A {self.chain} {self._args()}"
        return f"iptables {args}" if ns is None else cmd_in(ns, args, tool="iptables")

    def describe(self) -> str:
        if self.absent:
            return _("no DNAT rule for {proto} port {port} (the nat table of {netns})").format(
                proto=self.proto, port=self.dport, netns=describe_netns_ref(self.netns))
        values = dict(proto=self.proto, port=self.dport, to=self.to, chain=self.chain,
                      netns=describe_netns_ref(self.netns))
        if self.in_dev:
            return _("{proto} port {port} arriving by {dev} forwarded to {to} (a DNAT rule in nat {chain} of "
                     "{netns})").format(dev=self.in_dev, **values)
        return _("{proto} port {port} forwarded to {to} (a DNAT rule in nat {chain} of {netns})").format(**values)

    # -- which table
    def _namespace(self, snap: Snapshot):
        return nat_namespace(snap, self.netns)

    def wants(self, snap: Snapshot) -> Wants:
        return nat_wants(snap, self.netns)

    # -- grading
    def _matches(self, rule: NatRule) -> bool:
        """Same protocol and port: the learner's attempt at this port forward."""
        proto = rule.rule.match("proto")
        return rule.target == "DNAT" and _dport(rule) == self.dport and proto == (self.proto, False)

    def _to_right(self, rule: NatRule) -> bool:
        to = _to(rule)
        return to is not None and _split_to(to, self.dport) == _split_to(self.to, self.dport)

    def _in_right(self, rule: NatRule) -> bool:
        return self.in_dev is None or rule.rule.match("in") == (self.in_dev, False)

    def grade(self, snap: Snapshot) -> Verdict:
        ns = self._namespace(snap)
        if isinstance(ns, Missing):
            return self.fail(*ns)
        table = _("the nat table") if ns is None else _("the nat table of {netns}").format(netns=where(ns, snap))
        read = snap.nat if ns is None else snap.netns_nat.get(ns.inode)
        if read is None:
            raise NotObserved(table)
        if read.problem:
            return self.fail(_("{table} could not be read").format(table=table), read.problem)
        rules = nat_rules(read, netns_prefix(ns))
        chains = _reachable_chains(rules, self.chain)
        dnat = [r for r in rules if r.target == "DNAT"]
        observed = _("DNAT rules in {table} ({backends}): {rules}").format(
            table=table, backends="/".join(read.backends), rules="; ".join(r.text for r in dnat[:5]) or _("none"))
        mine = [r for r in dnat if self._matches(r)]
        if self.absent:
            return self._grade_absent(mine, observed, table)
        placed = [r for r in mine if r.chain in chains]
        right = [r for r in placed if self._to_right(r) and self._in_right(r)]
        wrong = [r for r in mine if r not in right]
        strays = tuple(self._stray(r, chains) for r in wrong) if removable(ns) else ()
        if right:
            if strays:
                # A wrong rule for the same port still rewrites what it matches (it may come first: the
                # first rule that matches wins): the step is not done until it is gone.
                return self.fail(observed, _("'{rule}' is right, but beside it is {stray}: {removal}").format(
                    rule=right[0].text, stray=strays[0].what, removal=removal_words(strays)), strays=strays)
            return self.ok(f"{right[0].text} ({right[0].backend})",
                           {"rule": right[0].text, "chain": right[0].chain, "backend": right[0].backend,
                            "to": self.to, "dport": self.dport})
        add = self._add(ns)
        if placed:
            rule = placed[0]
            delete = _delete(rule).command
            if not self._to_right(rule):
                return self.fail(observed, _("'{rule}' forwards port {port} to {actual}, not to {to}: {delete}; "
                                             "{add}").format(rule=rule.text, port=self.dport,
                                                             actual=_to(rule) or _("nowhere"), to=self.to,
                                                             delete=delete, add=add), strays=strays)
            seen = rule.rule.match("in")
            if seen is None:
                text = _("'{rule}' applies to packets arriving by any interface, the inside too, expected only by "
                         "{dev}: {delete}; {add}")
            else:
                text = _("'{rule}' applies to packets arriving by {seen}, expected only by {dev}: {delete}; {add}")
            return self.fail(observed, text.format(rule=rule.text, dev=self.in_dev, delete=delete, add=add,
                                                   seen=("! " if seen and seen[1] else "") + (seen[0] if seen else "")),
                             strays=strays)
        if mine:
            rule = mine[0]
            return self.fail(observed, _("'{rule}' is in chain {chain}, which {start} never jumps to, so no arriving "
                                         "packet meets it: {delete}; {add}").format(
                rule=rule.text, chain=rule.chain, start=self.chain, delete=_delete(rule).command, add=add),
                strays=strays)
        other_port = [r for r in dnat if r.chain in chains and _to(r) is not None and self._to_right(r)]
        if other_port:
            rule = other_port[0]
            port = _dport(rule)
            return self.fail(observed, _("'{rule}' forwards to {to}, but for {what}, not {proto} port {port}: "
                                         "{delete}; {add}").format(
                rule=rule.text, to=self.to, proto=self.proto, port=self.dport,
                what=(_("{proto} port {port}").format(proto=(rule.rule.match("proto") or ("?",))[0], port=port)
                      if port else _("another port")),
                delete=_delete(rule).command, add=add))
        return self.fail(observed, _("there is no DNAT rule for {proto} port {port} in {table}: {command}").format(
            proto=self.proto, port=self.dport, table=table, command=add))

    def _grade_absent(self, mine: list[NatRule], observed: str, table: str) -> Verdict:
        if not mine:
            return self.ok(_("no DNAT rule for {proto} port {port} in {table}").format(
                proto=self.proto, port=self.dport, table=table), {"dport": self.dport, "absent": True})
        deletes = "; ".join(dict.fromkeys(_delete(r).command for r in mine))
        return self.fail(observed, ngettext("the port forward is still there ({count} rule): delete it: {commands}",
                                            "the port forward is still there ({count} rules): delete them: {commands}",
                                            len(mine)).format(count=len(mine), commands=deletes))

    def _stray(self, rule: NatRule, chains: list[str]) -> Stray:
        if rule.chain not in chains:
            why = _("in chain {chain}, which {start} never jumps to").format(chain=rule.chain, start=self.chain)
        elif not self._to_right(rule):
            why = _("to {actual} instead of {to}").format(actual=_to(rule) or "?", to=self.to)
        else:
            why = _("for the wrong incoming interface")
        return Stray(_("the nat rule '{rule}' ({why})").format(rule=rule.text, why=why), _delete(rule).remove)
