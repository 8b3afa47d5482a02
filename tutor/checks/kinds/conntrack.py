"""conntrack: a connection in a netns's connection tracking table, with the NAT it was given.

    - conntrack: {netns: natrtr, src: 10.77.0.2, dst: 192.0.2.2, dport: 8000, reply_dst: 192.0.2.1}   # SNAT
    - conntrack: {netns: natrtr, src: 192.0.2.2, dst: 192.0.2.1, dport: 8080, reply_src: 10.77.0.2}   # DNAT
    - conntrack: {netns: natrtr, proto: icmp, src: 10.77.0.2, dst: 192.0.2.2, reply_dst: 192.0.2.1}

A NAT rule is looked at once per connection, for its first packet; what it decided is kept in
the connection's conntrack entry, and every later packet (both ways) is rewritten from there.
The entry holds two tuples: the original (as the first packet came: `src`, `dst`, `dport`) and
the reply (as the answers are expected). After SNAT the answers go to the router's address
(`reply_dst`), not to the sender; after DNAT they come from the server inside (`reply_src`),
not from the address the client dialled. So this kind passes when the table holds a connection
with that original tuple whose reply tuple shows the NAT; at least one of reply_src/reply_dst.

The table is the snapshot's `conntrack` part (observe/conntrack.py: /proc/net/nf_conntrack read
inside the netns; nothing is sent, nothing is changed). An entry lives while its connection
does, and a while after (a closed TCP connection 2 minutes, ICMP 30 s): a lesson keeps its
connection open while the check looks.
"""
from __future__ import annotations

from ...i18n import _, ngettext
from ...observe.conntrack import NO_CONNTRACK, ConntrackEntry
from ...observe.model import Snapshot, Wants
from ..base import Expectation, Field, NotObserved, Verdict, v_int_range, v_ip, v_one_of
from ..refs import Missing, cmd_in, describe_netns_ref, netns_ref_problem, resolve_netns, where
from ..registry import register

REPLY_FIELDS = ("reply_src", "reply_dst")


@register
class ConntrackExpectation(Expectation):
    kind = "conntrack"
    fields = {
        "netns": Field(netns_ref_problem, required=True, doc="whose table: the router netns, e.g. natrtr"),
        "proto": Field(v_one_of("tcp", "udp", "icmp"), default="tcp", doc="tcp (default), udp or icmp"),
        "src": Field(v_ip, required=True, doc="who opened the connection (original source)"),
        "dst": Field(v_ip, required=True, doc="the address it was sent to (original destination)"),
        "dport": Field(v_int_range(1, 65535, example=8080, what=", a port"), doc="the port it was sent to"),
        "reply_src": Field(v_ip, doc="who answers (after DNAT: the server inside)"),
        "reply_dst": Field(v_ip, doc="where the answers go (after SNAT: the router's address)"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = []
        if not any(name in spec for name in REPLY_FIELDS):
            out.append("'conntrack' needs reply_src (DNAT) or reply_dst (SNAT): the reply tuple is where the NAT shows")
        if spec.get("proto") == "icmp" and "dport" in spec:
            out.append("'conntrack.dport': an icmp connection has no port")
        return out

    def describe(self) -> str:
        values = dict(proto=self.proto, src=self.src, dst=self._dst_words(), netns=describe_netns_ref(self.netns))
        if self.reply_src and self.reply_dst:
            return _("a tracked {proto} connection {src} -> {dst} in {netns}, answered by {reply_src} to "
                     "{reply_dst}").format(reply_src=self.reply_src, reply_dst=self.reply_dst, **values)
        if self.reply_src:
            return _("a tracked {proto} connection {src} -> {dst} in {netns}, answered by {reply_src} (DNAT)").format(
                reply_src=self.reply_src, **values)
        return _("a tracked {proto} connection {src} -> {dst} in {netns}, answered to {reply_dst} (SNAT)").format(
            reply_dst=self.reply_dst, **values)

    def _dst_words(self) -> str:
        return f"{self.dst}:{self.dport}" if self.dport else self.dst

    def wants(self, snap: Snapshot) -> Wants:
        ns = resolve_netns(snap, self.netns)
        return Wants() if isinstance(ns, Missing) else Wants(conntrack=frozenset({ns.inode}))

    def _original(self, entry: ConntrackEntry) -> bool:
        o = entry.original
        return (entry.proto == self.proto and o.src == self.src and o.dst == self.dst
                and (self.dport is None or o.dport == self.dport))

    def _reply_right(self, entry: ConntrackEntry) -> bool:
        return ((self.reply_src is None or entry.reply.src == self.reply_src)
                and (self.reply_dst is None or entry.reply.dst == self.reply_dst))

    def grade(self, snap: Snapshot) -> Verdict:
        ns = resolve_netns(snap, self.netns)
        if isinstance(ns, Missing):
            return self.fail(*ns)
        here = where(ns, snap)
        read = snap.conntrack.get(ns.inode)
        if read is None:
            raise NotObserved(_("the connection tracking table of {netns}").format(netns=here))
        look = cmd_in(ns, "/proc/net/nf_conntrack", tool="cat")
        if read.problem:
            if read.trouble == NO_CONNTRACK:
                return self.fail(read.problem, _("no connection is tracked in {netns} yet: conntrack starts with the "
                                                 "first NAT rule; add it, open the connection, then look: {command}")
                                 .format(netns=here, command=look))
            return self.fail(_("the connection tracking table of {netns} could not be read").format(netns=here),
                             read.problem)
        mine = [e for e in read.entries if self._original(e)]
        right = next((e for e in mine if self._reply_right(e)), None)
        if right is not None:
            return self.ok(right.words(), {"netns": here, "entry": right.line,
                                           "original": right.original.words(), "reply": right.reply.words()})
        if mine:
            return self._wrong_nat(mine[0], here, look)
        related = [e for e in read.entries if e.original.src == self.src or e.original.dst == self.dst
                   or e.reply.src == self.dst]
        shown = related or list(read.entries)
        observed = ngettext("{count} connection tracked in {netns}: {entries}",
                            "{count} connections tracked in {netns}: {entries}", len(read.entries)).format(
            count=len(read.entries), netns=here, entries="; ".join(e.words() for e in shown[:4]) or _("none"))
        port = _(" port {port}").format(port=self.dport) if self.dport else ""
        return self.fail(observed, _("the table of {netns} holds no {proto} connection from {src} to {dst}{port}: "
                                     "open one from {src} and keep it open while nstutor looks (a closed one is "
                                     "forgotten after a while), then see it yourself: {command}").format(
            netns=here, proto=self.proto, src=self.src, dst=self.dst, port=port, command=look))

    def _wrong_nat(self, entry: ConntrackEntry, here: str, look: str) -> Verdict:
        """The connection is there, but its reply tuple is not what the NAT should have made of it."""
        observed = entry.words()
        fresh = _("NAT is decided on a connection's first packet, so a rule added later does not change a "
                  "connection already tracked: close it, and open a new one once the rule is right.")
        if self.reply_dst and entry.reply.dst != self.reply_dst:
            if entry.reply.dst == self.src:
                text = _("the connection is tracked, but its answers go back to {src} itself: no source NAT "
                         "rewrote it (the MASQUERADE rule did not match it when its first packet passed). {fresh}")
            else:
                text = _("the answers of this connection go to {actual}, not to {want}: its source was rewritten to "
                         "another address. {fresh}")
            return self.fail(observed, text.format(src=self.src, actual=entry.reply.dst, want=self.reply_dst,
                                                   fresh=fresh))
        if entry.reply.src == self.dst:
            text = _("the connection is tracked, but its answers come from {dst} itself: no DNAT rule rewrote its "
                     "destination when its first packet passed. {fresh}")
        else:
            text = _("the answers of this connection come from {actual}, not from {want}: a DNAT rule sent it "
                     "elsewhere. {fresh}")
        return self.fail(observed, text.format(dst=self.dst, actual=entry.reply.src, want=self.reply_src,
                                               fresh=fresh))
