"""Is the host's firewall why a probe failed? The words for the `reachable` kind, from what
tutor/observe/firewall.py read and what tutor/checks/netfilter.py decides (both IPv4 only).

Two ways a lesson's packets meet the host's filter table:
- Between two namespaces plugged into one bridge in the root netns (the bridge lesson's c1 and c2 on
  nsbr0): a bridge switches frames, which iptables never sees, unless br_netfilter is loaded and
  net.bridge.bridge-nf-call-iptables is 1. Then each bridged frame also goes through the FORWARD
  chain, with the bridge as both its in and its out interface. dockerd sets exactly this up: it
  loads br_netfilter, turns on ip_forward and sets the FORWARD policy to DROP.
- Between the host and a namespace (ping 10.22.0.2 from the host): the host's own packets, so
  OUTPUT and INPUT, never FORWARD. Docker leaves both at ACCEPT.

Each function returns a sentence when the firewall surely drops the exchange (the request or
its answer), else None; `unsure` says what stopped nstutor from telling.
"""
from __future__ import annotations

from ..i18n import _
from ..observe.firewall import FilterTable, HostFilter
from .netfilter import ACCEPT, DROP, Decision, Packet, decide_all

DOCKER_CHAINS = ("DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1")


def _by_docker(tables: list[FilterTable]) -> bool:
    return any(t.has_chain(c) for t in tables for c in DOCKER_CHAINS)


def _cause(dropped: list[tuple[FilterTable, Decision]], traffic: str) -> str:
    table, decision = dropped[0]
    where = f" ({table.command})" if len({t.command for t, _d in dropped}) > 1 or table.command != "iptables" else ""
    if decision.by is not None:
        return _("there the rule '{rule}'{backend} drops it").format(rule=decision.by.text, backend=where)
    return _("there the policy is DROP{backend} and no rule accepts {traffic}").format(backend=where, traffic=traffic)


def forward_blame(filt: HostFilter, bridge: str, a: str, b: str, proto: int, a_name: str, b_name: str) -> str | None:
    """Frames from address *a* to *b* (and back) switched by *bridge* in the root netns."""
    if filt.bridge_nf_iptables != 1 or not filt.tables:
        return None
    packets = [Packet(bridge, bridge, a, b, proto), Packet(bridge, bridge, b, a, proto)]
    dropped = [(t, d) for t, d in decide_all(filt.tables, "FORWARD", packets) if d.outcome == DROP]
    if not dropped:
        return None
    tables = [t for t, _d in dropped]
    cause = _cause(dropped, _("traffic from {bridge} to {bridge}").format(bridge=bridge))
    text = _("the host's firewall drops it. {a} and {b} are plugged into the bridge {bridge} in the root netns, "
             "and br_netfilter is loaded with net.bridge.bridge-nf-call-iptables = 1, so every frame {bridge} "
             "passes between its ports also goes through the host's iptables FORWARD chain; {cause}.").format(
        a=a_name, b=b_name, bridge=bridge, cause=cause)
    if all(d.by is None for _t, d in dropped):
        if _by_docker(list(filt.tables)):
            text += _(" Docker did this (its DOCKER chains are there): when dockerd starts it turns on "
                      "net.ipv4.ip_forward, sets the FORWARD policy to DROP, and accepts only docker0's traffic.")
        else:
            text += _(" Docker, for one, sets a host up like this when it starts: forwarding on, FORWARD policy "
                      "DROP, and only docker0's traffic accepted.")
    commands = "; ".join(dict.fromkeys(f"{t.command} -I FORWARD -i {bridge} -o {bridge} -j ACCEPT" for t in tables))
    return text + _(" Let {bridge}'s own traffic through, and nothing else: {commands}").format(
        bridge=bridge, commands=commands)


def local_blame(filt: HostFilter, dev: str, host_ip: str, other_ip: str, proto: int) -> str | None:
    """The host's own exchange with *other_ip* over its interface *dev*: OUTPUT out, INPUT back in
    (whichever side starts it, each direction meets the same chain)."""
    if not filt.tables:
        return None
    checks = (("OUTPUT", Packet(None, dev, host_ip, other_ip, proto), f"-o {dev}"),
              ("INPUT", Packet(dev, None, other_ip, host_ip, proto), f"-i {dev}"))
    for chain, packet, option in checks:
        dropped = [(t, d) for t, d in decide_all(filt.tables, chain, [packet]) if d.outcome == DROP]
        if dropped:
            commands = "; ".join(dict.fromkeys(f"{t.command} -I {chain} {option} -j ACCEPT" for t, _d in dropped))
            if chain == "OUTPUT":
                traffic = _("packets out by {dev}").format(dev=dev)
                let = _("Let {dev}'s traffic out: {commands}").format(dev=dev, commands=commands)
            else:
                traffic = _("packets in by {dev}").format(dev=dev)
                let = _("Let {dev}'s traffic in: {commands}").format(dev=dev, commands=commands)
            return _("the host's firewall drops it, in its {chain} chain: {cause}. Packets between the host and a "
                     "namespace are the host's own, so they pass INPUT and OUTPUT (not FORWARD). {advice}").format(
                chain=chain, cause=_cause(dropped, traffic), advice=let)
    return None


def unsure(filt: HostFilter, chain: str, packets: list[Packet], why: str) -> str | None:
    """A short note when the firewall might be the reason but nstutor cannot tell (None when it can)."""
    if filt.problems and not filt.tables:
        return _("nstutor could not read the host's firewall ({problem})").format(problem=filt.problems[0])
    decisions = decide_all(filt.tables, chain, packets)
    if any(d.outcome not in (ACCEPT, DROP) for _t, d in decisions):
        return _("{why}, and some of its rules match on things nstutor does not evaluate: look at iptables -S "
                 "{chain}").format(why=why, chain=chain)
    if filt.problems:
        return _("nstutor could not read all of the host's firewall ({problem})").format(problem=filt.problems[0])
    return None
