"""masquerade: a MASQUERADE rule in the host's iptables nat table, or a router netns's (read only; no packet is sent).

    - masquerade: {source: 10.22.0.0/24, not_out: nsbr0}
    - masquerade: {source: 10.22.0.0/24}                   # any output-interface condition
    - masquerade: {source: 172.16.1.0/24, chain: POSTROUTING}
    - masquerade: {netns: natrtr, source: 10.77.0.0/24, not_out: natbr0}   # a router netns's own table

This is docker's `-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE`: packets from the
containers' subnet that leave by any interface except their own bridge get the outgoing
interface's address as their source. The rule may sit in `chain` itself or in a chain that
`chain` jumps to (kube-proxy and flannel keep theirs in chains of their own).

The rules are the snapshot's `nat` part (observe/firewall.py read_nat, asked for by wants()):
`iptables-nft -t nat -S` and, when its nat table is already loaded, `iptables-legacy -t nat -S`;
a rule in either is in force. Reading them needs root, and grading reads nothing itself.
With `netns`, the table of that network namespace instead (a lab's router: its rules live and
die with it), asked for as the snapshot's `netns_nat` part (firewall.read_nat_in); the commands
the messages give then run in it (`ip netns exec natrtr iptables ...`).
"""
from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from typing import Any

from ...i18n import _
from ...observe.firewall import FilterTable, NatRead, Rule
from ...observe.model import Snapshot, Wants
from ..base import Expectation, Field, NotObserved, Stray, Verdict, v_ifname, v_str
from ..refs import Missing, cmd_in, netns_ref_problem, resolve_netns, where
from ..registry import register
from ..strays import removal_words


def v_source(value: Any) -> str | None:
    if not isinstance(value, str):          # ipaddress reads true as 0.0.0.1/32 and 0 as 0.0.0.0/32
        return f"{value!r} is not a network prefix like 10.22.0.0/24 (write it as text)"
    try:
        net = ipaddress.ip_network(value, strict=True)
    except (ValueError, TypeError):
        return f"{value!r} is not a network prefix like 10.22.0.0/24 (host bits must be zero)"
    if net.version != 4:
        return f"{value!r} is IPv6; this kind reads the IPv4 nat table (iptables), not ip6tables"
    return None


# --------------------------------------------------------------- the rules, as this kind reads them
@dataclass(frozen=True)
class NatRule:
    """One rule of the nat table with the backend it came from (a view of firewall.Rule, no parsing)."""
    rule: Rule
    table: FilterTable
    prefix: tuple[str, ...] = ()       # the argv that runs a command in the rule's netns (() for the host's)

    @property
    def text(self) -> str:
        return self.rule.text

    @property
    def chain(self) -> str:
        return self.rule.chain

    @property
    def target(self) -> str | None:
        return self.rule.target

    @property
    def backend(self) -> str:
        return self.table.backend

    @property
    def source(self) -> str | None:
        return (self.rule.match("source") or (None, False))[0]

    @property
    def source_negated(self) -> bool:
        return (self.rule.match("source") or (None, False))[1]

    @property
    def out(self) -> str | None:
        return (self.rule.match("out") or (None, False))[0]

    @property
    def out_negated(self) -> bool:
        return (self.rule.match("out") or (None, False))[1]

    def source_net(self):
        if self.source is None:
            return None
        try:
            return ipaddress.ip_network(self.source, strict=False)
        except ValueError:
            return None


def nat_rules(read: NatRead, prefix: tuple[str, ...] = ()) -> tuple[NatRule, ...]:
    return tuple(NatRule(rule, table, prefix) for table in read.tables for rule in table.rules)


def netns_prefix(ns) -> tuple[str, ...]:
    """The argv that runs a command inside *ns* (as refs.cmd_in words it): () for the host,
    `ip netns exec NAME` for a named netns, `nsenter --net=/proc/PID/ns/net` for one only processes hold."""
    if ns is None or ns.is_host:
        return ()
    if ns.names:
        return ("ip", "netns", "exec", ns.names[0])
    return ("nsenter", f"--net=/proc/{ns.pids[0]}/ns/net") if ns.pids else ()


def removable(ns) -> bool:
    """May a rule in *ns* be a stray that reset removes? Not in a netns that only processes hold:
    a pid is no safe name for a later removal (it may be reused)."""
    return ns is None or ns.is_host or bool(ns.names)


# --------------------------------------------------------------- the expectation
def _reachable_chains(rules: tuple[NatRule, ...], start: str) -> list[str]:
    """*start* and every chain it jumps to, directly or not (kube-proxy/flannel keep rules in their own)."""
    seen = [start]
    for chain in seen:
        for rule in rules:
            if rule.chain == chain and rule.target and rule.target not in seen and \
                    any(r.chain == rule.target for r in rules):
                seen.append(rule.target)
    return seen


def nat_namespace(snap: Snapshot, netns: Any):
    """The netns whose nat table a kind's `netns` field means: None for the host's (no netns field,
    or the host named), else a NetNS or a Missing (masquerade and dnat)."""
    if netns is None:
        return None
    ns = resolve_netns(snap, netns)
    return None if not isinstance(ns, Missing) and ns.is_host else ns


def nat_wants(snap: Snapshot, netns: Any) -> Wants:
    """What to read for that table: the host's nat table, or that netns's."""
    ns = nat_namespace(snap, netns)
    if ns is None:
        return Wants(nat=True)
    return Wants() if isinstance(ns, Missing) else Wants(netns_nat=frozenset({ns.inode}))


@register
class MasqueradeExpectation(Expectation):
    kind = "masquerade"
    fields = {
        "source": Field(v_source, required=True, doc="the containers' subnet, e.g. 10.22.0.0/24"),
        "not_out": Field(v_ifname, doc="the bridge excluded with '! -o', e.g. nsbr0"),
        "chain": Field(v_str, default="POSTROUTING", doc="the nat chain (or one it jumps to)"),
        "netns": Field(netns_ref_problem, doc="whose nat table: a router netns such as natrtr (default: the host's)"),
    }

    def _rule_args(self) -> str:
        args = f"-s {self.source}"
        if self.not_out:
            args += f" ! -o {self.not_out}"
        return args + " -j MASQUERADE"

    def _add(self, ns=None) -> str:
        if ns is None or ns.is_host:
            return f"iptables -t nat -A {self.chain} {self._rule_args()}"
        return cmd_in(ns, f"-t nat -A {self.chain} {self._rule_args()}", tool="iptables")

    def _in_netns(self) -> bool:
        return self.netns is not None and self.netns not in ("host", "root")

    def describe(self) -> str:
        if self._in_netns():
            netns = self.netns if isinstance(self.netns, str) else _("the netns of a process")
            if self.not_out:
                return _("a MASQUERADE rule for {source} leaving by any interface but {bridge} (nat {chain} of "
                         "{netns})").format(source=self.source, bridge=self.not_out, chain=self.chain, netns=netns)
            return _("a MASQUERADE rule for {source} (nat {chain} of {netns})").format(
                source=self.source, chain=self.chain, netns=netns)
        if self.not_out:
            return _("a MASQUERADE rule for {source} leaving by any interface but {bridge} (nat {chain})").format(
                source=self.source, bridge=self.not_out, chain=self.chain)
        return _("a MASQUERADE rule for {source} (nat {chain})").format(source=self.source, chain=self.chain)

    def _right(self, rule: NatRule) -> bool:
        return self.not_out is None or (rule.out == self.not_out and rule.out_negated)

    def _namespace(self, snap: Snapshot):
        return nat_namespace(snap, self.netns)

    def wants(self, snap: Snapshot) -> Wants:
        return nat_wants(snap, self.netns)

    def grade(self, snap: Snapshot) -> Verdict:
        ns = self._namespace(snap)
        if isinstance(ns, Missing):
            return self.fail(*ns)
        if ns is None:
            read = snap.nat
            if read is None:
                raise NotObserved(_("the nat table"))
            if read.problem:
                return self.fail(_("the nat table could not be read"), read.problem)
        else:
            read = snap.netns_nat.get(ns.inode)
            if read is None:
                raise NotObserved(_("the nat table of {netns}").format(netns=where(ns, snap)))
            if read.problem:
                return self.fail(_("the nat table of {netns} could not be read").format(netns=where(ns, snap)),
                                 read.problem)
        prefix = netns_prefix(ns)
        rules = nat_rules(read, prefix)
        want = ipaddress.ip_network(self.source)
        chains = _reachable_chains(rules, self.chain)
        masq = [r for r in rules if r.target == "MASQUERADE"]
        shown = masq or [r for r in rules if r.chain == self.chain]
        listed = "; ".join(r.text for r in shown[:5]) or _("none in {chain}").format(chain=self.chain)
        if ns is None:
            observed = _("nat rules ({backends}): {rules}").format(backends="/".join(read.backends), rules=listed)
        else:
            observed = _("nat rules of {netns} ({backends}): {rules}").format(
                netns=where(ns, snap), backends="/".join(read.backends), rules=listed)
        strays = self._strays(rules, chains) if removable(ns) else []
        found = tuple(stray for _rule, stray in strays)

        mine = [r for r in masq if r.source_net() == want and not r.source_negated]
        placed = [r for r in mine if r.chain in chains]
        right = next((r for r in placed if self._right(r)), None)
        if right is not None:
            if strays:
                # A wrong rule beside the right one still rewrites the packets it matches (it may come
                # first, or catch what the right one leaves out): the step is not done until it is gone.
                rule, stray = strays[0]
                return self.fail(_("{observed}; wrong beside it: {rule}").format(observed=observed, rule=rule.text),
                                 _("'{rule}' is right, but beside it is {stray}: {removal}").format(
                                     rule=right.text, stray=stray.what, removal=removal_words(found)), strays=found)
            return self.ok(f"{right.text} ({_backend_words(right.backend)})",
                           {"rule": right.text, "chain": right.chain, "backend": right.backend,
                            "source": self.source, "not_out": self.not_out})
        if placed:
            return self.fail(observed, self._wrong_interface(placed[0], ns), strays=found)
        if mine:
            rule = mine[0]
            return self.fail(observed, _("the rule '{rule}' is in chain {chain}, which {start} never jumps to, so no "
                                         "packet meets it: {delete}; {add}").format(
                rule=rule.text, chain=rule.chain, start=self.chain, delete=_delete(rule).command, add=self._add(ns)),
                strays=found)
        others = [r for r in rules if r.chain in chains and r.source_net() == want and not r.source_negated]
        if others:
            rule = others[0]
            extra = _(" SNAT also rewrites the source, but to a fixed address; MASQUERADE takes the address of "
                      "whichever interface the packet leaves by, which is what docker uses.") \
                if rule.target == "SNAT" else ""
            if rule.target:
                text = _("the rule for {source} in nat {chain} jumps to {target}, not MASQUERADE.{snat} Add the "
                         "MASQUERADE rule: {command}")
            else:
                text = _("the rule for {source} in nat {chain} has no target, not MASQUERADE.{snat} Add the "
                         "MASQUERADE rule: {command}")
            text = text.format(source=self.source, chain=rule.chain, target=rule.target, snat=extra,
                               command=self._add(ns))
            return self.fail(observed, text + (f"; {removal_words(found)}" if found else ""), strays=found)
        near = [r for r in masq if r.source_net() is not None and r.source_net() != want
                and r.source_net().overlaps(want)]
        if near:
            rule = near[0]
            return self.fail(observed, _("there is a MASQUERADE rule for {other}, but not for exactly {source} (the "
                                         "containers' subnet): {command}").format(
                other=rule.source, source=self.source, command=self._add(ns))
                + (f"; {removal_words(found)}" if found else ""), strays=found)
        if ns is not None:
            return self.fail(observed, _("there is no MASQUERADE rule for {source} in the nat table of {netns}: "
                                         "{command}").format(source=self.source, netns=where(ns, snap),
                                                             command=self._add(ns)))
        return self.fail(observed, _("there is no MASQUERADE rule for {source} in the nat table: {command}").format(
            source=self.source, command=self._add()))

    def _strays(self, rules: tuple[NatRule, ...], chains: list[str]) -> list[tuple[NatRule, Stray]]:
        """The learner's wrong rules for this step: a MASQUERADE (or SNAT) rule for exactly the lesson's
        subnet that is not the right one, or a MASQUERADE rule for an overlapping subnet that names the
        lesson's bridge. A rule for any other subnet (docker's 172.17.0.0/16) is never one."""
        want = ipaddress.ip_network(self.source)
        out = []
        for rule in rules:
            net = rule.source_net()
            if rule.target not in ("MASQUERADE", "SNAT") or net is None or rule.source_negated:
                continue
            if rule.target == "MASQUERADE" and rule.chain in chains and net == want and self._right(rule):
                continue
            if net == want:
                why = self._stray_reason(rule, chains)
            elif rule.target == "MASQUERADE" and self.not_out and rule.out == self.not_out and net.overlaps(want):
                why = _("source {other}, not the containers' subnet {source}").format(other=rule.source,
                                                                                       source=self.source)
            else:
                continue
            out.append((rule, Stray(_("the nat rule '{rule}' ({why})").format(rule=rule.text, why=why),
                                    _delete(rule).remove)))
        return out

    def _stray_reason(self, rule: NatRule, chains: list[str]) -> str:
        if rule.target == "SNAT":
            return _("SNAT to a fixed address instead of MASQUERADE")
        if rule.chain not in chains:
            return _("in chain {chain}, which {start} never jumps to").format(chain=rule.chain, start=self.chain)
        if rule.out is None:
            return _("no '! -o {bridge}', so it also rewrites traffic between the containers").format(
                bridge=self.not_out)
        if rule.out == self.not_out:
            return _("-o {bridge} where '! -o {bridge}' was meant").format(bridge=self.not_out)
        if rule.out_negated:
            return _("for packets leaving by all but {out}, not all but {bridge}").format(out=rule.out,
                                                                                         bridge=self.not_out)
        return _("for packets leaving by only {out}, not all but {bridge}").format(out=rule.out, bridge=self.not_out)

    def _wrong_interface(self, rule: NatRule, ns=None) -> str:
        delete = _delete(rule).command
        if rule.out is None:
            return _("'{rule}' masquerades every packet from {source}, even those that stay on {bridge} between two "
                     "containers (each would see the bridge's address instead of the other container's). Exclude "
                     "the bridge: {delete}; {add}").format(rule=rule.text, source=self.source, bridge=self.not_out,
                                                            delete=delete, add=self._add(ns))
        if rule.out == self.not_out:   # "-o nsbr0" without "!"
            return _("'{rule}' masquerades only packets that leave BY {bridge}, i.e. towards the containers: the "
                     "opposite of what is wanted. The '!' goes before -o: {delete}; {add}").format(
                rule=rule.text, bridge=self.not_out, delete=delete, add=self._add(ns))
        if rule.out_negated:
            text = _("'{rule}' applies to packets leaving by all but {out}, expected all but {bridge}: {delete}; {add}")
        else:
            text = _("'{rule}' applies to packets leaving by only {out}, expected all but {bridge}: {delete}; {add}")
        return text.format(rule=rule.text, out=rule.out, bridge=self.not_out, delete=delete, add=self._add(ns))


def _delete(rule: NatRule) -> Stray:
    """The exact command that deletes *rule*: its own `-S` line after -D, with the tool of its backend
    (plain `iptables`, what the learner typed, when that is the backend's tool: FilterTable.command),
    run in the rule's netns (NatRule.prefix)."""
    return Stray(rule.text, (*rule.prefix, rule.table.command, "-t", "nat", "-D", *shlex.split(rule.text)[1:]))


def _backend_words(backend: str) -> str:
    return {"nft": "iptables-nft", "legacy": "iptables-legacy"}.get(backend, "iptables")
