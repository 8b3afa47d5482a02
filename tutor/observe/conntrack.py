"""The kernel's connection tracking table of one network namespace, read only (the conntrack kind).

Every connection that passes a netns where NAT (or any stateful rule) is in use gets an entry:
the tuple of its first packet as it arrived (the "original" direction) and the tuple the answers
are expected to carry (the "reply" direction). NAT is written into that pair: after SNAT the
reply goes to the router's address instead of the sender's, after DNAT it comes from the server
behind the router instead of the address the client dialled. `conntrack -L` prints the same.

What is read: /proc/net/nf_conntrack of that netns, from a throwaway thread inside it (setns on
the existing namespace file; /proc/thread-self/net is the thread's netns, /proc/net the main
thread's). Reading lists the table and changes nothing: no netlink socket is opened, so no module
is loaded. The file exists once nf_conntrack is in the kernel (and CONFIG_NF_CONNTRACK_PROCFS,
on by default, is set); without nf_conntrack there is nothing to list, which is said as such.
At most MAX_ENTRIES entries are kept (a lesson's netns holds a handful).
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from ..i18n import _
from .firewall import NEEDS_ROOT, UNREADABLE
from .procfs import proc_path
from .setns import each_in_namespace

MAX_ENTRIES = 4096
NO_CONNTRACK = "no-conntrack"     # nf_conntrack is not in the kernel: no connection is tracked anywhere
NO_PROCFS = "no-procfs"           # it is, but this kernel does not list its table in /proc


@dataclass(frozen=True, slots=True)
class CtTuple:
    """One direction of a connection: addresses, and ports (TCP/UDP) or the ICMP id."""
    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None

    def words(self) -> str:
        src = self.src if self.sport is None else f"{self.src}:{self.sport}"
        dst = self.dst if self.dport is None else f"{self.dst}:{self.dport}"
        return f"{src} -> {dst}"


@dataclass(frozen=True, slots=True)
class ConntrackEntry:
    proto: str                      # tcp, udp, icmp, ...
    original: CtTuple               # as the first packet came in
    reply: CtTuple                  # as the answers are expected
    state: str | None = None        # TCP only: ESTABLISHED, TIME_WAIT, ...
    flags: tuple[str, ...] = ()     # UNREPLIED, ASSURED
    line: str = ""                  # the line as the kernel wrote it

    @property
    def source_nat(self) -> bool:
        """The answers go to another address than the one that sent: the source was rewritten."""
        return self.reply.dst != self.original.src

    @property
    def destination_nat(self) -> bool:
        """The answers come from another address than the one dialled: the destination was rewritten."""
        return self.reply.src != self.original.dst

    def words(self) -> str:
        """As `conntrack -L` would put it, shorter: "tcp ESTABLISHED A:P -> B:Q, reply B:Q -> C:P [ASSURED]"."""
        state = f" {self.state}" if self.state else ""
        flags = "".join(f" [{f}]" for f in self.flags)
        if self.proto in ("icmp", "icmpv6"):      # the id is no port: say it once per direction
            original, reply = (f"{t.src} -> {t.dst} id {t.sport}" for t in (self.original, self.reply))
        else:
            original, reply = self.original.words(), self.reply.words()
        return f"{self.proto}{state} {original}, reply {reply}{flags}"


@dataclass(frozen=True)
class ConntrackRead:
    entries: tuple[ConntrackEntry, ...]
    problem: str | None = None      # why it could not be read, in words (then entries is empty)
    trouble: str | None = None      # the same as a code: NEEDS_ROOT, NO_CONNTRACK, NO_PROCFS, UNREADABLE


# --------------------------------------------------------------- parsing
def _port(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _tuple(fields: dict[str, str], icmp: bool) -> CtTuple | None:
    if "src" not in fields or "dst" not in fields:
        return None
    if icmp:          # ping's id takes the place of both ports (NAT may rewrite it as it does a port)
        ident = _port(fields.get("id"))
        return CtTuple(fields["src"], fields["dst"], ident, ident)
    return CtTuple(fields["src"], fields["dst"], _port(fields.get("sport")), _port(fields.get("dport")))


def parse_line(line: str) -> ConntrackEntry | None:
    """One line of /proc/net/nf_conntrack (None for one that does not read as an entry):
    `ipv4 2 tcp 6 431999 ESTABLISHED src=A dst=B sport=P dport=Q src=B dst=C sport=Q dport=P [ASSURED] ...`"""
    words = line.split()
    if len(words) < 6:
        return None
    proto = words[2]
    icmp = proto in ("icmp", "icmpv6")
    directions: list[dict[str, str]] = []
    state, flags = None, []
    for word in words[5:]:
        if word.startswith("[") and word.endswith("]"):
            flags.append(word[1:-1])
            continue
        key, eq, value = word.partition("=")
        if not eq:
            if not directions:
                state = word
            continue
        if key == "src":
            if len(directions) == 2:
                break                     # a third src=: not a line we know
            directions.append({})
        if directions and key not in directions[-1]:
            directions[-1][key] = value
    if len(directions) != 2:
        return None
    original, reply = _tuple(directions[0], icmp), _tuple(directions[1], icmp)
    if original is None or reply is None:
        return None
    return ConntrackEntry(proto, original, reply, state, tuple(flags), line.strip())


def parse_table(text: str) -> tuple[ConntrackEntry, ...]:
    out = []
    for line in text.splitlines():
        entry = parse_line(line)
        if entry is not None:
            out.append(entry)
            if len(out) >= MAX_ENTRIES:
                break
    return tuple(out)


# --------------------------------------------------------------- reading
def _conntrack_in_kernel() -> bool:
    return os.path.exists("/sys/module/nf_conntrack") or os.path.exists(
        proc_path("sys", "net", "netfilter", "nf_conntrack_max"))


def read_conntrack(path: str, inode: int) -> ConntrackRead:
    """The conntrack table of the netns that *path* names (*inode*: the one meant). Changes nothing."""
    if os.geteuid() != 0:
        return ConntrackRead((), _("reading the connection tracking table needs root: run nstutor as root"),
                             NEEDS_ROOT)

    def read(_key) -> ConntrackRead | None:
        if os.stat(proc_path("thread-self", "ns", "net")).st_ino != inode:
            return None
        try:
            with open(proc_path("thread-self", "net", "nf_conntrack")) as f:
                return ConntrackRead(parse_table(f.read(4 << 20)))
        except FileNotFoundError:
            if not _conntrack_in_kernel():
                return ConntrackRead((), _("connection tracking is not loaded in this kernel yet, so it tracks "
                                           "no connection: it starts with the first NAT rule"), NO_CONNTRACK)
            return ConntrackRead((), _("this kernel does not list its connections in {file} "
                                       "(CONFIG_NF_CONNTRACK_PROCFS is off): `conntrack -L` shows them").format(
                file="/proc/net/nf_conntrack"), NO_PROCFS)

    result = each_in_namespace("net", [(path, "conntrack")], read).get("conntrack")
    if isinstance(result, ConntrackRead):
        return result
    if isinstance(result, OSError):
        if result.errno in (errno.EPERM, errno.EACCES):
            return ConntrackRead((), _("reading the connection tracking table needs root: run nstutor as root"),
                                 NEEDS_ROOT)
        return ConntrackRead((), _("nstutor could not read the connection tracking table: {error}").format(
            error=result.strerror or result), UNREADABLE)
    return ConntrackRead((), _("the network namespace changed while nstutor read its connection tracking table: "
                               "look again"), UNREADABLE)
