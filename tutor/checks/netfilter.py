"""What the host's iptables filter table does to one packet: accept, drop, or "cannot tell".

A pure function of a FilterTable (read by tutor/observe/firewall.py) and a packet described by
its interfaces, addresses and protocol. The `reachable` kind uses it to say, after a failed
probe, whether the host's firewall is the reason.

It follows the chain as the kernel does: rules in order, jumps into user chains (-j) and back,
gotos (-g), RETURN, and the built-in chain's policy at the end. A rule whose match nstutor does
not evaluate (conntrack state, physdev, addrtype, marks...) may or may not match, so both ways
are followed; when they end differently the answer is "unknown". So "drop" and "accept" are
only said when they hold however those rules match: the grader never blames a firewall on a
guess.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..observe.firewall import FilterTable, Rule

ACCEPT, DROP, UNKNOWN = "accept", "drop", "unknown"
_TERMINAL = {"ACCEPT": ACCEPT, "DROP": DROP, "REJECT": DROP}
#: Targets that do something to the packet and let it go on to the next rule.
_NON_TERMINAL = {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TCPMSS", "TRACE", "AUDIT",
                 "CLASSIFY", "DSCP", "TOS", "TTL", "SECMARK", "CONNSECMARK", "CHECKSUM", "IDLETIMER", "LED",
                 "NETMAP", "SET"}
_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58}
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Packet:
    in_dev: str | None          # None: locally generated (OUTPUT)
    out_dev: str | None         # None: for this host (INPUT)
    src: str
    dst: str
    proto: int                  # 1 icmp, 6 tcp


@dataclass(frozen=True)
class Decision:
    outcome: str                # accept, drop or unknown
    by: Rule | None = None      # the rule that drops it (None: the chain's policy, or not dropped)


def _iface(value: str, dev: str | None) -> bool:
    if dev is None:
        return False
    if value.endswith("+"):
        return dev.startswith(value[:-1])
    return dev == value


def _addr(value: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False


def _proto(value: str, proto: int) -> bool | None:
    value = value.lower()
    if value in ("all", "0"):
        return True
    number = _PROTOCOLS.get(value, int(value) if value.isdigit() else None)
    return None if number is None else number == proto


def matches(rule: Rule, pkt: Packet) -> bool | None:
    """True or False when nstutor can tell; None when the rule has a match it does not evaluate."""
    for name, value, negated in rule.matches:
        if name == "in":
            hit = _iface(value, pkt.in_dev)
        elif name == "out":
            hit = _iface(value, pkt.out_dev)
        elif name == "source":
            hit = _addr(value, pkt.src)
        elif name == "dest":
            hit = _addr(value, pkt.dst)
        else:
            hit = _proto(value, pkt.proto)
            if hit is None:
                return None
        if hit == negated:
            return False
    return None if rule.other else True


def _walk(table: FilterTable, chain: str, pkt: Packet, depth: int) -> set[tuple[str, Rule | None]]:
    """Every way the packet can leave *chain*: (accept|drop, rule) or ("end", None) (fell off, or RETURN)."""
    if depth > _MAX_DEPTH:
        return {(UNKNOWN, None)}
    ways: set[tuple[str, Rule | None]] = set()
    for rule in table.chain(chain):
        hit = matches(rule, pkt)
        if hit is False:
            continue
        target = rule.target
        if target is None or target in _NON_TERMINAL:
            continue
        if target in _TERMINAL:
            result = {(_TERMINAL[target], rule)}
        elif target == "RETURN":
            result = {("end", None)}
        elif table.has_chain(target) and target not in ("INPUT", "FORWARD", "OUTPUT"):
            inner = _walk(table, target, pkt, depth + 1)
            # a jump comes back to the next rule here; a goto returns to whoever called this chain
            result = {w for w in inner if w[0] != "end"} | ({("end", None)} if rule.goto and
                                                              any(w[0] == "end" for w in inner) else set())
            back = any(w[0] == "end" for w in inner) and not rule.goto
            ways |= result
            if hit and not back:
                return ways
            continue
        else:
            result = {(UNKNOWN, rule)}           # QUEUE, NFQUEUE, a target nstutor does not know
        ways |= result
        if hit:
            return ways
    ways.add(("end", None))
    return ways


def decide(table: FilterTable, chain: str, pkt: Packet) -> Decision:
    """What *table*'s built-in *chain* does to *pkt*."""
    policy = _TERMINAL.get((table.policy(chain) or "ACCEPT").upper(), UNKNOWN)
    outcomes = {(policy if what == "end" else what, rule) for what, rule in _walk(table, chain, pkt, 0)}
    kinds = {what for what, _ in outcomes}
    if kinds == {ACCEPT}:
        return Decision(ACCEPT)
    if kinds == {DROP}:
        by = next((rule for _, rule in sorted(outcomes, key=lambda o: o[1] is None)), None)
        return Decision(DROP, by)
    return Decision(UNKNOWN)


def decide_all(tables: tuple[FilterTable, ...], chain: str, packets: list[Packet]) -> list[tuple[FilterTable, Decision]]:
    """Each backend's decision for the packets together: a packet must pass every backend, and every
    packet (a request and its answer) must pass, so one sure drop drops the exchange."""
    out = []
    for table in tables:
        decisions = [decide(table, chain, p) for p in packets]
        drop = next((d for d in decisions if d.outcome == DROP), None)
        if drop:
            out.append((table, drop))
        elif all(d.outcome == ACCEPT for d in decisions):
            out.append((table, Decision(ACCEPT)))
        else:
            out.append((table, Decision(UNKNOWN)))
    return out
