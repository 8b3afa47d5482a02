"""The host's packet filter, read only: iptables' filter and nat tables, the bridge netfilter switches.

The nat table is read for the masquerade kind, only when a loaded check asks for it (observe.Wants);
a long-lived Observer keeps it until RulesetWatch sees an nftables change (see nat_cacheable).

Why nstutor reads it: on a Docker host, dockerd turns `net.ipv4.ip_forward` on, sets the
filter table's FORWARD policy to DROP and loads br_netfilter. From then on every frame a bridge
passes between two of its ports also goes through the host's FORWARD chain
(`net.bridge.bridge-nf-call-iptables = 1`), so two namespaces on a bridge of the learner's own
cannot ping each other until a rule lets that bridge's traffic through. The `reachable` kind
reads this only after a probe failed, to say why; deciding what the rules do to a packet is the
kind's job (tutor/checks/netfilter.py), not this module's.

What is read, and how:
- `iptables -t filter -S` of each backend that has a filter table: iptables-nft always, and
  iptables-legacy only when its filter table is already loaded (/proc/net/ip_tables_names),
  the same choice the masquerade kind makes for the nat table. Running the legacy tool on a
  machine that never loaded its table would load a kernel module; listing with iptables-nft
  creates nothing (an absent table lists as the built-in chains with policy ACCEPT, which is
  what the kernel does with such packets).
- /proc/sys/net/bridge/bridge-nf-call-iptables (and -ip6tables): absent when br_netfilter is
  not loaded, and then bridged frames never meet iptables at all.

Reading never changes anything, each tool gets a short timeout, and whatever could not be read
is said in `problems` instead of raising (in the learner's language; a check that must tell why
reads the `trouble` code instead: NO_TOOL, NEEDS_ROOT, UNREADABLE). Everything is read in the caller's network namespace:
call it from a thread that never moved (the host's, for nstutor).
"""
from __future__ import annotations

import os
import socket
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ..i18n import _
from .procfs import proc_path

SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
LEGACY_TABLES = "net/ip_tables_names"         # under /proc
BRIDGE_NF = "sys/net/bridge/bridge-nf-call-{}"    # under /proc
TIMEOUT_S = 5
BUILTIN = ("INPUT", "FORWARD", "OUTPUT")

# Why a table could not be read, as HostFilter.trouble / NatRead.trouble (None: it was read).
NO_TOOL = "no-tool"           # iptables is not installed
NEEDS_ROOT = "needs-root"     # nstutor does not run as root (or the tool said permission denied)
UNREADABLE = "unreadable"     # a tool failed or did not answer (the problem quotes its error)

#: Options whose value is the next word, and the name a Rule keeps them under.
_MATCHES = {"-i": "in", "--in-interface": "in", "-o": "out", "--out-interface": "out",
            "-s": "source", "--source": "source", "-d": "dest", "--destination": "dest",
            "-p": "proto", "--protocol": "proto"}


@dataclass(frozen=True)
class Rule:
    """One `-A CHAIN ...` line of `iptables -S`, split into what nstutor can reason about."""
    chain: str
    text: str                                   # the line as iptables printed it
    target: str | None                          # -j or -g target (None: the rule only counts)
    goto: bool = False                          # -g: the target chain returns to our caller
    matches: tuple[tuple[str, str, bool], ...] = ()   # (in|out|source|dest|proto, value, negated)
    other: tuple[str, ...] = ()                 # match options nstutor does not evaluate (-m conntrack ...)

    def match(self, name: str) -> tuple[str, bool] | None:
        return next(((v, neg) for n, v, neg in self.matches if n == name), None)


@dataclass(frozen=True)
class FilterTable:
    """The filter table of one iptables backend."""
    backend: str                                # "nft", "legacy" or "iptables" (a tool without a suffix)
    command: str                                # what a learner types to change it: "iptables", "iptables-legacy"
    policies: tuple[tuple[str, str], ...]       # (built-in chain, policy)
    rules: tuple[Rule, ...]
    chains: tuple[str, ...] = ()                # user chains declared with -N (some may be empty)

    def policy(self, chain: str) -> str | None:
        return next((p for c, p in self.policies if c == chain), None)

    def chain(self, name: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.chain == name)

    def has_chain(self, name: str) -> bool:
        return self.policy(name) is not None or name in self.chains


@dataclass(frozen=True)
class HostFilter:
    """What nstutor could read of the host's packet filter."""
    tables: tuple[FilterTable, ...]             # one per backend read (empty when nothing could be read)
    bridge_nf_iptables: int | None              # None: br_netfilter is not loaded
    bridge_nf_ip6tables: int | None
    problems: tuple[str, ...] = ()              # what could not be read, in words (the learner's language)
    trouble: str | None = None                  # NO_TOOL, NEEDS_ROOT (nothing read) or UNREADABLE (a backend failed)

    @property
    def needs_root(self) -> bool:
        return self.trouble == NEEDS_ROOT or (self.trouble is None and any(
            p.startswith("reading the host's firewall needs root") for p in self.problems))

    @property
    def no_tool(self) -> bool:
        return self.trouble == NO_TOOL or (self.trouble is None and any(
            p.startswith("iptables is not installed") for p in self.problems))


# --------------------------------------------------------------- parsing `iptables -S`
def parse_rule(line: str) -> Rule | None:
    """One `-A CHAIN ...` line (None for policies, -N lines and anything unreadable)."""
    try:
        args = shlex.split(line)
    except ValueError:
        return None
    if len(args) < 2 or args[0] != "-A":
        return None
    matches: list[tuple[str, str, bool]] = []
    other: list[str] = []
    target, goto, negate = None, False, False
    i = 2
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg == "!":
            negate = True
            i += 1
            continue
        if arg in _MATCHES:
            matches.append((_MATCHES[arg], value, negate))
            i += 2
        elif arg in ("-j", "--jump", "-g", "--goto"):
            target, goto = value, arg in ("-g", "--goto")
            break                     # what follows are the target's own options (--reject-with ...)
        elif arg in ("-m", "--match") and value == "comment":
            i += 2                    # a comment matches every packet
        elif arg == "--comment":
            i += 2
        else:
            other.append(("! " if negate else "") + arg)
            i += 1
        negate = False
    return Rule(args[1], line.strip(), target, goto, tuple(matches), tuple(other))


def parse_table(text: str, backend: str, command: str) -> FilterTable:
    policies, chains, rules = [], [], []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "-P":
            policies.append((words[1], words[2]))
        elif len(words) >= 2 and words[0] == "-N":
            chains.append(words[1])
        else:
            rule = parse_rule(line)
            if rule is not None:
                rules.append(rule)
    return FilterTable(backend, command, tuple(policies), tuple(rules), tuple(chains))


# --------------------------------------------------------------- which tools to run
def find_tool(name: str) -> str | None:
    """The path of an iptables program, also in the sbin folders a non-root PATH leaves out."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SBIN:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    return None


def legacy_table_loaded(table: str, task: str = "") -> bool:
    """Has the legacy (x_tables) backend loaded *table*? Reading a legacy table that is not loaded would load it.
    *task* "thread-self" asks in the calling thread's netns (/proc/net is the main thread's)."""
    try:
        with open(proc_path(task, LEGACY_TABLES) if task else proc_path(LEGACY_TABLES)) as f:
            return table in f.read().split()
    except OSError:
        return False


def _typed_as(path: str, label: str) -> str:
    """The command a learner types for this backend: plain `iptables` when that is the same program."""
    plain = find_tool("iptables")
    if plain and os.path.realpath(plain) == os.path.realpath(path):
        return "iptables"
    return f"iptables-{label}"


def backends(table: str = "filter", task: str = "") -> list[tuple[str, str, str]]:
    """(label, path, command) of each tool to read *table* with; path "" means "nothing to read".
    *task*: as in legacy_table_loaded ("thread-self": the tables of the calling thread's netns)."""
    out = []
    nft, legacy = find_tool("iptables-nft"), find_tool("iptables-legacy")
    if nft:
        out.append(("nft", nft, _typed_as(nft, "nft")))
    if legacy and legacy_table_loaded(table, task):
        out.append(("legacy", legacy, _typed_as(legacy, "legacy")))
    if nft or legacy:
        return out
    plain = find_tool("iptables")
    if plain is None:
        return []
    try:
        version = subprocess.run([plain, "--version"], capture_output=True, text=True, timeout=TIMEOUT_S).stdout
    except (OSError, subprocess.SubprocessError):
        return [("iptables", plain, "iptables")]
    if "nf_tables" in version or legacy_table_loaded(table, task):
        return [("iptables", plain, "iptables")]
    return [("iptables", "", "iptables")]   # a legacy iptables whose table was never loaded


# --------------------------------------------------------------- reading
def _bridge_nf(family: str) -> int | None:
    try:
        with open(proc_path(BRIDGE_NF.format(family))) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class _ToolFailed(Exception):
    """`iptables -S` did not give the rules: *answered* False when it did not run or answer at all."""

    def __init__(self, text: str, answered: bool) -> None:
        super().__init__(text)
        self.text, self.answered = text, answered


def _list_rules(path: str, table: str, wait: int) -> str:
    """What `PATH -w WAIT -t TABLE -S` prints (raises _ToolFailed with the tool's last error line)."""
    try:
        res = subprocess.run([path, "-w", str(wait), "-t", table, "-S"], capture_output=True, text=True,
                             timeout=wait + TIMEOUT_S,
                             env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as exc:
        raise _ToolFailed(str(exc), answered=False) from None
    if res.returncode != 0:
        err = res.stderr.strip().splitlines()
        raise _ToolFailed(err[-1] if err else f"exit {res.returncode}", answered=True)
    return res.stdout


def read_host_filter() -> HostFilter:
    """The filter table of every backend that has one, and the bridge netfilter switches."""
    nf4, nf6 = _bridge_nf("iptables"), _bridge_nf("ip6tables")
    tools = backends("filter")
    if not tools:
        return HostFilter((), nf4, nf6, (_("iptables is not installed, so nstutor cannot read the host's firewall"),),
                          trouble=NO_TOOL)
    if os.geteuid() != 0:
        return HostFilter((), nf4, nf6, (_("reading the host's firewall needs root: run nstutor as root"),),
                          trouble=NEEDS_ROOT)
    tables: list[FilterTable] = []
    problems: list[str] = []
    for label, path, command in tools:
        if not path:        # legacy iptables, filter table never loaded: every packet is accepted
            tables.append(FilterTable(label, command, tuple((c, "ACCEPT") for c in BUILTIN), ()))
            continue
        try:
            text = _list_rules(path, "filter", 2)
        except _ToolFailed as failed:
            how = _("{command} failed: {error}") if failed.answered else _("{command} did not answer: {error}")
            problems.append(how.format(command=f"{os.path.basename(path)} -S", error=failed.text))
            continue
        tables.append(parse_table(text, label, command))
    return HostFilter(tuple(tables), nf4, nf6, tuple(problems), trouble=UNREADABLE if problems else None)


# --------------------------------------------------------------- the nat table (the masquerade kind)
#: The English texts of NatRead.problem for these two troubles (what read_nat says, translated;
#: compare NatRead.trouble with NEEDS_ROOT / NO_TOOL rather than these words).
NAT_NEEDS_ROOT = "reading the firewall rules needs root: run nstutor as root"
NAT_NO_TOOL = ("iptables is not installed, so nstutor cannot read the NAT rules "
               "(Debian/Ubuntu: apt install iptables)")


def _nat_needs_root() -> str:
    return _("reading the firewall rules needs root: run nstutor as root")


def _nat_no_tool() -> str:
    return _("iptables is not installed, so nstutor cannot read the NAT rules (Debian/Ubuntu: {command})").format(
        command="apt install iptables")


@dataclass(frozen=True)
class NatRead:
    """The host's nat table, one FilterTable per backend read (the same record as the filter table's)."""
    tables: tuple[FilterTable, ...]
    problem: str | None = None           # why nothing could be read (then tables is empty), in words
    trouble: str | None = None           # the same as a code: NO_TOOL, NEEDS_ROOT, UNREADABLE

    @property
    def needs_root(self) -> bool:
        return self.trouble == NEEDS_ROOT or (self.trouble is None and self.problem == NAT_NEEDS_ROOT)

    @property
    def no_tool(self) -> bool:
        return self.trouble == NO_TOOL or (self.trouble is None and self.problem == NAT_NO_TOOL)

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(t.backend for t in self.tables)


def read_nat(tools: list[tuple[str, str, str]] | None = None) -> NatRead:
    """Every rule of the nat table, from each backend that has one (*tools*: backends("nat")). Changes nothing."""
    tools = backends("nat") if tools is None else tools
    if not tools:
        return NatRead((), _nat_no_tool(), NO_TOOL)
    if os.geteuid() != 0:
        return NatRead((), _nat_needs_root(), NEEDS_ROOT)
    tables: list[FilterTable] = []
    errors: list[str] = []
    for label, path, command in tools:
        if not path:        # legacy iptables whose nat table was never loaded: no rules there
            tables.append(FilterTable(label, command, (), ()))
            continue
        try:
            text = _list_rules(path, "nat", 5)
        except _ToolFailed as failed:
            if "does not exist" in failed.text:          # no nat table: no rules there
                tables.append(FilterTable(label, command, (), ()))
                continue
            if "ermission denied" in failed.text or "must be root" in failed.text:
                return NatRead((), _nat_needs_root(), NEEDS_ROOT)
            errors.append(f"{os.path.basename(path)}: {failed.text}")
            continue
        tables.append(parse_table(text, label, command))
    if not tables:
        return NatRead((), _("nstutor could not read the nat table: {errors}").format(errors="; ".join(errors)),
                       UNREADABLE)
    return NatRead(tuple(tables))


def read_nat_in(path: str, inode: int) -> NatRead:
    """The nat table of another network namespace (a lesson's router netns), as read_nat reads the
    host's. *path* names the netns (probes.netns_path), *inode* is the one meant. A throwaway thread
    enters it (setns.each_in_namespace) and runs iptables from there: a child process starts in the
    network namespace of the thread that forks it, and iptables reads the tables of its own netns.
    Changes nothing: the legacy backend is read only when that netns has loaded its nat table."""
    from .setns import each_in_namespace
    if os.geteuid() != 0:
        return NatRead((), _nat_needs_root(), NEEDS_ROOT)

    def read(_key) -> NatRead | None:
        if os.stat(proc_path("thread-self", "ns", "net")).st_ino != inode:
            return None                  # the file names another netns now
        return read_nat(backends("nat", task="thread-self"))

    result = each_in_namespace("net", [(path, "nat")], read).get("nat")
    if isinstance(result, NatRead):
        return result
    if isinstance(result, OSError):
        return NatRead((), _("nstutor could not enter the network namespace to read its nat table: {error}").format(
            error=result.strerror or result), UNREADABLE)
    return NatRead((), _("the network namespace changed while nstutor read its nat table: look again"), UNREADABLE)


def nat_cacheable(tools: list[tuple[str, str, str]]) -> bool:
    """May a nat table read with these tools be kept until RulesetWatch sees a change? Only when
    every backend is nftables (iptables-legacy sends no change events) or has nothing to read."""
    return all(label == "nft" or not path for label, path, _command in tools)


# --------------------------------------------------------------- the whole ruleset, to compare
def ruleset_lines() -> set[str]:
    """Every table, chain, policy and rule of each iptables backend, as `iptables-save` prints them
    without what changes by itself (comments, packet counters): "nft filter: -A FORWARD ...". A
    rule present twice is listed twice ("... (copy 2)"), so a second copy left behind shows.
    A table that filters nothing is left out (see save_lines)."""
    out: set[str] = set()
    if os.geteuid() != 0:
        return out
    tools = [("nft", find_tool("iptables-nft-save"))]
    if _legacy_loaded_any():
        tools.append(("legacy", find_tool("iptables-legacy-save")))
    if not any(path for _label, path in tools):
        tools = [("iptables", find_tool("iptables-save"))]
    for label, path in tools:
        if not path:
            continue
        try:
            res = subprocess.run([path], capture_output=True, text=True, timeout=TIMEOUT_S,
                                 env={**os.environ, "LC_ALL": "C"})
        except (OSError, subprocess.SubprocessError):
            continue
        out |= save_lines(label, res.stdout)
    return out


#: The chains iptables makes by itself in its tables (the first command that names a table makes it).
BASE_CHAINS = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}


def save_lines(label: str, text: str) -> set[str]:
    """The lines of one backend's `iptables-save` output, as ruleset_lines gives them.

    A table holding no rule, only its base chains with policy ACCEPT, is left out: iptables-nft
    makes it the first time any command names the table (a lesson's `iptables -t nat -A ...` on a
    machine that had no nat table yet), deleting the rule leaves it, and it changes no packet. So a
    lesson whose cleanup deletes every rule it added leaves the machine as it found it."""
    tables: dict[str, list[str]] = {}
    table = "?"
    for line in text.splitlines():
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = line[1:]
            line = "(table)"
        elif line.startswith(":") and line.endswith("]"):
            line = line[:line.rfind("[")].rstrip()
        tables.setdefault(table, []).append(line)
    out: set[str] = set()
    for table, lines in tables.items():
        if all(_filters_nothing(line) for line in lines):
            continue
        seen: dict[str, int] = {}
        for line in lines:
            key = f"{label} {table}: {line}"
            seen[key] = seen.get(key, 0) + 1
            out.add(key if seen[key] == 1 else f"{key} (copy {seen[key]})")
    return out


def _filters_nothing(line: str) -> bool:
    """A table header, or a base chain whose policy lets every packet through."""
    if line == "(table)":
        return True
    chain, _space, policy = line[1:].partition(" ")
    return line.startswith(":") and chain in BASE_CHAINS and policy.strip() == "ACCEPT"


def _legacy_loaded_any() -> bool:
    try:
        with open(proc_path(LEGACY_TABLES)) as f:
            return bool(f.read().split())
    except OSError:
        return False


# --------------------------------------------------------------- change events
NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7


def _nf_tables_present() -> bool:
    """Is nf_tables in the kernel already (built in, or a module that is loaded)? Only then may we
    subscribe: on a kernel with it as an unloaded module, subscribing would load it."""
    if os.path.exists("/sys/module/nf_tables"):
        return True
    try:
        with open(proc_path("modules")) as f:
            if any(line.split(" ", 1)[0] == "nf_tables" for line in f):
                return True
    except FileNotFoundError:
        return True              # a kernel without loadable modules: what it has is built in
    except OSError:
        return False
    try:
        with open(f"/lib/modules/{os.uname().release}/modules.builtin") as f:
            return any(line.rstrip().endswith("/nf_tables.ko") for line in f)
    except OSError:
        return False


class RulesetWatch:
    """Has the host's nftables ruleset (what iptables-nft writes) changed since the last look?

    A firewall rule sends no rtnetlink event, so a live view would only notice one at its next
    probe. nf_tables announces every change on a netlink group of its own; this listens there,
    read-only. Subscribing would load nf_tables if it were not loaded, so while the module is
    absent nothing is opened (there is no ruleset to watch); the moment it appears counts as a
    change, since whatever loaded it may have added a rule. iptables-legacy sends no events:
    such a host is seen at the live view's regular probes."""

    def __init__(self) -> None:
        self.changes = 0
        self._sock: socket.socket | None = None
        self._open()

    def _open(self) -> bool:
        if not _nf_tables_present():
            return False
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
            sock.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
            sock.setblocking(False)
        except OSError:          # not root, or no nfnetlink: nothing to watch
            return False
        self._sock = sock
        return True

    @property
    def watching(self) -> bool:
        """Is it listening now? (If not, a change would go unseen: nothing may be cached on it.)"""
        return self._sock is not None

    def poll(self) -> int:
        """How many changes were seen so far (a counter: compare two readings)."""
        if self._sock is None:
            if self._open():
                self.changes += 1
            return self.changes
        came = False
        while True:
            try:
                if not self._sock.recv(65536):
                    break
                came = True
            except BlockingIOError:
                break
            except OSError:      # ENOBUFS: events were lost, which means something changed
                came = True
                break
        if came:
            self.changes += 1
        return self.changes

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
