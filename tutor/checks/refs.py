"""Resolve what a check names (a network namespace, an interface) to what the snapshot holds.

A netns reference is one of:

    RED                       a name in /run/netns (made by `ip netns add RED`)
    host  (or root)           the host's own network namespace
    net:[4026532401]          a namespace by inode (what the live panel shows for unnamed ones)
    {netns_of: {comm: pause}} the network namespace a process is in (a process selector)
    {netns_of: {container: web}}  ... a container's ({pod: podweb}: the pod's, which its containers share)

An interface reference is "RED/veth0" (veth0 inside RED) or plain "veth0" (the host's).

Resolvers return the object, or a `Missing` (observed, message, context) that a kind turns into a
failing verdict with `self.fail(*missing)`: the message says what is missing and the next
command to try, e.g. "there is no network namespace RED: ip netns add RED". Its *context* is the
text in observed/message that lists what else is there (the host's other interfaces): shown to
the learner, but not the state of what the check looks for (Verdict.context).
"""
from __future__ import annotations

import ipaddress
from typing import Any, NamedTuple

from ..i18n import _, ngettext
from ..observe.model import MAIN_TABLE, Link, NetNS, Snapshot
from ..texts import noun
from . import containers, select
from .base import LESSON_LINKS, NETNS, naming, netns_name_problem
from .strays import netns_typos, removal_words, show

HOST_NAMES = ("host", "root")


class Missing(NamedTuple):
    """Why a reference could not be resolved: what the snapshot shows, and what to do."""
    observed: str
    message: str
    context: tuple[str, ...] = ()   # listings of other objects in the texts above (see Verdict.context)


# --------------------------------------------------------------- lint helpers
@naming(NETNS)
def netns_ref_problem(value: Any) -> str | None:
    """Validator for a netns reference field (see the module docstring)."""
    if isinstance(value, str):
        return netns_name_problem(value)
    if isinstance(value, dict):
        if set(value) != {"netns_of"}:
            return ("a network namespace is a name (RED, host) or {netns_of: {comm: NAME}} "
                    "(or {netns_of: {container: NAME}}); "
                    f"got the {noun(len(value), 'key')} {', '.join(map(str, value))}")
        err = select.selector_problem(value["netns_of"])
        return f"netns_of: {err}" if err else None
    return "a network namespace is a name (RED, host) or {netns_of: {comm: NAME}} (or {netns_of: {container: NAME}})"


def split_ifref(ref: str) -> tuple[str | None, str]:
    """"RED/veth0" -> ("RED", "veth0"); "veth0" -> (None, "veth0")."""
    if "/" in ref:
        ns, name = ref.split("/", 1)
        return ns, name
    return None, ref


def same_ref(a: Any, b: Any) -> bool:
    """True when two netns references obviously mean the same namespace (lint only)."""
    if isinstance(a, str) and isinstance(b, str):
        return a == b or (a in HOST_NAMES and b in HOST_NAMES)
    return a == b


def dev_netns_problem(spec: dict, dev_field: str = "dev", netns_field: str = "netns") -> list[str]:
    """Cross-field lint: `dev: RED/veth0` together with `netns: BLUE` contradicts itself."""
    dev, ns = spec.get(dev_field), spec.get(netns_field)
    if isinstance(dev, str) and "/" in dev and ns is not None:
        prefix, _name = split_ifref(dev)
        if not same_ref(prefix, ns):
            return [f"'{dev_field}: {dev}' says the device is in {prefix}, but '{netns_field}' says "
                    f"{ns if isinstance(ns, str) else 'another namespace'}; give the namespace once"]
    return []


def describe_netns_ref(ref: Any) -> str:
    if ref is None or (isinstance(ref, str) and ref in HOST_NAMES):
        return _("the host")
    if isinstance(ref, dict):
        return _("the netns of {process}").format(process=select.describe_selector(ref['netns_of']))
    return str(ref)


def describe_ifref(ref: str, netns: Any = None) -> str:
    """"RED/veth0", "veth0" (the host's), or "veth0 in the netns of a process named 'pause'"."""
    prefix, name = split_ifref(ref)
    owner = prefix if prefix is not None else netns
    if owner is None or (isinstance(owner, str) and owner in HOST_NAMES):
        return name
    if isinstance(owner, str):
        return f"{owner}/{name}"
    return _("{link} in {netns}").format(link=name, netns=describe_netns_ref(owner))


# --------------------------------------------------------------- how messages name things
def where(ns: NetNS, snap: Snapshot | None = None) -> str:
    """A netns as a phrase that follows 'in': "RED", "the root netns", "the netns of pid 4242"; with
    the snapshot, a container's by its container: "the netns of container web (docker, net:[4026532500])"."""
    if ns.names:
        return ns.names[0]
    if ns.is_host:
        return _("the root netns")
    holders = [c for c in snap.containers if c.pid is not None and c.pid in ns.pids] if snap is not None else []
    if holders:
        c = min(holders, key=lambda c: (not c.infra, c.pid))     # a pod's infra first, then the oldest pid
        return _("the netns of {container} ({engine}, net:[{inode}])").format(
            container=select.container_words(c), engine=c.engine, inode=ns.inode)
    if ns.pids:
        return _("the netns of pid {pid} (net:[{inode}])").format(pid=ns.pids[0], inode=ns.inode)
    return f"net:[{ns.inode}]"


def cmd_in(ns: NetNS, args: str, tool: str = "ip") -> str:
    """The command that runs `tool args` inside *ns*: `ip -n RED link ...`, `ip link ...` for the host,
    `nsenter --net=/proc/PID/ns/net ip link ...` for a namespace that only processes hold."""
    if ns.is_host:
        return f"{tool} {args}"
    if ns.names:
        if tool in ("ip", "bridge"):
            return f"{tool} -n {ns.names[0]} {args}"
        return f"ip netns exec {ns.names[0]} {tool} {args}"
    if ns.pids:
        return f"nsenter --net=/proc/{ns.pids[0]}/ns/net {tool} {args}"
    return _("{command}   # (inside net:[{inode}])").format(command=f"{tool} {args}", inode=ns.inode)


def is_real_device(ns: NetNS, name: str) -> bool:
    """A device that is (or may be) the machine's real network card: never suggest changing it."""
    link = ns.link(name)
    return link is not None and name != "lo" and link.kind in (None, "macvlan", "ipvlan", "bond", "vlan")


def netns_list(snap: Snapshot) -> str:
    labels = sorted(ns.label for ns in snap.netns.values())
    return ", ".join(labels) if labels else _("none")


def link_names(ns: NetNS) -> str:
    return ", ".join(sorted(link.name for link in ns.links)) or _("no interfaces at all")


# --------------------------------------------------------------- netns
def _visibility_note(snap: Snapshot) -> str:
    return "" if snap.is_root else _(" (nstutor is not running as root, so it may not see every namespace: "
                                     "run nstutor as root)")


def resolve_netns(snap: Snapshot, ref: Any) -> NetNS | Missing:
    """The NetNS a reference names (None means the host), or why there is none."""
    if ref is None:
        ref = "host"
    if isinstance(ref, dict):
        return _netns_of_process(snap, ref["netns_of"])
    if ref in HOST_NAMES:
        ns = snap.host_netns()
        if ns is None:
            return Missing(_("the host's network namespace is not in the snapshot"),
                           _("nstutor could not read the host's network namespace{note}; try `nstutor snapshot` "
                             "to see what it can read.").format(note=_visibility_note(snap)))
        return ns
    ns = snap.netns_by_name(ref)
    if ns is not None:
        return ns
    # Every namespace there is, for orientation: context (another tool's namespaces come and go);
    # the learner's attempts at this name are recognised apart, as typos.
    listing = netns_list(snap)
    context = (listing,)
    observed = _("network namespaces: {namespaces}").format(namespaces=listing)
    typos = netns_typos(snap, str(ref))
    if typos:
        # the learner's attempt at this name: say so, with the command that removes it (see strays.py)
        name = typos[0].remove[-1]
        why = (_("names are case-sensitive") if name.lower() == str(ref).lower()
               else _("a one-letter typo of {netns}").format(netns=ref))
        return Missing(observed, _("there is no network namespace {netns}, but there is {stray}: {why}. "
                                   "Make the right one: ip netns add {netns}; {removal}").format(
                           netns=ref, stray=show(name), why=why, removal=removal_words(typos)), context)
    return Missing(observed, _("there is no network namespace {netns}: ip netns add {netns}{note}").format(
                       netns=ref, note=_visibility_note(snap)), context)


def _netns_of_process(snap: Snapshot, selector: Any) -> NetNS | Missing:
    what = select.describe_selector(selector)
    procs = select.innermost(select.select(snap, selector))
    if not procs and select.is_container_selector(selector):
        # said as the container's own check says it, so a step that checks both says it once
        return Missing(*containers.missing(snap, selector))
    if not procs:
        return Missing(_("no running process matches ({process})").format(process=what),
                       _("{process} is not running, so there is no netns to look in: start it first.").format(
                           process=what))
    inodes = {p.ns.get("net") for p in procs}
    if None in inodes:
        unreadable = [p for p in procs if p.ns.get("net") is None]
        return Missing(_("cannot read the network namespace of {process}").format(
                           process=select.name(unreadable[0], snap)),
                       _("nstutor could not read /proc/PID/ns/net{note}.").format(note=_visibility_note(snap)))
    if len(inodes) > 1 and select.is_container_selector(selector):
        listing = "; ".join(_in_netns(snap, p) for p in procs[:5])
        return Missing(_("{count} containers match, in different network namespaces: {processes}").format(
                           count=len(procs), processes=listing),
                       _("{process} means containers in different network namespaces, so there is no one netns to "
                         "look in: name one container, e.g. {{netns_of: {{container: NAME, engine: ENGINE}}}}.").format(
                           process=what))
    if len(inodes) > 1:
        listing = "; ".join(_in_netns(snap, p) for p in procs[:5])
        return Missing(_("{count} processes match, in different network namespaces: {processes}").format(
                           count=len(procs), processes=listing),
                       _("more than one process ({detail}) is running and they are in different network "
                         "namespaces; stop the ones you do not mean (kill PID), then check again.").format(
                           detail=select.selector_detail(selector)))
    inode = inodes.pop()
    ns = snap.netns.get(inode)
    if ns is None:
        return Missing(_("{process} is in net:[{inode}], which the snapshot could not read").format(
                           process=select.name(procs[0], snap), inode=inode),
                       _("nstutor could not look into that process's network namespace{note}.").format(
                           note=_visibility_note(snap)))
    return ns


def _in_netns(snap: Snapshot, proc) -> str:
    """'container web (docker, pid 42) in net:[4026532500]': one of several matches, for a listing."""
    return _("{process} in {netns}").format(process=select.name(proc, snap), netns=snap.netns_label(proc.ns.get("net")))


# --------------------------------------------------------------- interfaces
def find_links(snap: Snapshot, name: str) -> list[tuple[NetNS, Link]]:
    """Every link called *name*, in every netns (host first, then by label)."""
    out = [(ns, link) for ns in snap.netns.values() for link in ns.links if link.name == name]
    out.sort(key=lambda pair: (not pair[0].is_host, pair[0].label))
    return out


def netns_unreadable(ns: NetNS) -> Missing | None:
    """A Missing when the snapshot could not read this netns's links (so "no such link" would lie), else None."""
    if ns.error and not ns.links:
        return Missing(_("nstutor could not read {netns}: {error}").format(netns=where(ns), error=ns.error),
                       _("nstutor could not look inside {netns} ({error}); run nstutor as root.").format(
                           netns=where(ns), error=ns.error))
    return None


#: Link kinds the kernel never moves between network namespaces (`ip link set X netns Y` fails).
NETNS_LOCAL_KINDS = {"bridge", "vrf", "openvswitch"}


def missing_link(snap: Snapshot, ns: NetNS, name: str, make: str | None = None) -> Missing:
    """Explain that *ns* has no link *name*: where it is instead, or what is there.

    A link of that name elsewhere is worth moving when it is one end of a veth (made, then
    moved, is how veths are done) or was made in the host by mistake. Anything else of the
    same name in another namespace is that namespace's own (every node has its cni0 and
    flannel.1), so the advice is to make one here: *make*, the command, when the caller knows it.
    """
    blocked = netns_unreadable(ns)
    if blocked:
        return blocked
    elsewhere = [(other, link) for other, link in find_links(snap, name) if other.inode != ns.inode]
    # Every interface of the namespace, for orientation: context, not the missing link's state
    # (an unrelated veth coming and going, as `docker run` does, changes it).
    listing = link_names(ns)
    context = (listing,)
    observed = _("{netns} has {links}").format(netns=where(ns, snap), links=listing)
    # A container's interface is its engine's: never advise taking it away from the container; nor
    # one the lesson itself wants where it is (natlan/eth0 is not natwan's eth0 gone astray).
    wanted_there = LESSON_LINKS.get()
    movable = [(other, link) for other, link in elsewhere
               if safe_to_move(other, link) and not _a_containers(snap, other)
               and not any((netns, name) in wanted_there for netns in other.names)]
    if movable:
        other = movable[0][0]
        move = cmd_in(other, f"link set {name} netns {netns_arg(ns)}")
        return Missing(_("{link} is in {other}; {state}").format(link=name, other=where(other, snap), state=observed),
                       _("{link} is in {other}, expected {netns}: {command}").format(
                           link=name, other=where(other, snap), netns=where(ns, snap), command=move), context)
    if elsewhere:
        others = ", ".join(where(other, snap) for other, _link in elsewhere[:3])
        own = ngettext("{netns} has no {link} of its own ({others} has one, but each network namespace needs its own)",
                       "{netns} has no {link} of its own ({others} have one, but each network namespace needs its own)",
                       len(elsewhere)).format(netns=where(ns, snap), link=name, others=others)
        return Missing(_("{link} is in {other}; {state}").format(link=name, other=others, state=observed),
                       own + (f": {make}" if make else f"; {observed}"), context)
    return Missing(observed, _("{netns} has no interface {link}; it has {links}").format(
        netns=where(ns, snap), link=name, links=listing), context)


def _a_containers(snap: Snapshot, ns: NetNS) -> bool:
    """Is *ns* the network namespace of a container (its engine's record names a process in it)?"""
    pids = set(ns.pids)
    return any(c.pid in pids for c in snap.containers if c.pid is not None)


def missing_device(snap: Snapshot, ns: NetNS, name: str, what: str, make: str) -> Missing:
    """Explain that *ns* has no *what* (a bridge, a vxlan device) called *name*: as missing_link()
    does when one is elsewhere or the netns is unreadable, else with the command *make* that makes it."""
    missing = missing_link(snap, ns, name, make=make)
    if find_links(snap, name) or ns.error:
        return missing
    return Missing(missing.observed, _("{netns} has no {what} {name}: {command}").format(
        netns=where(ns, snap), what=what, name=name, command=make), missing.context)


MOVABLE_KINDS = ("veth", "macvlan", "ipvlan", "dummy")


def safe_to_move(ns: NetNS, link: Link) -> bool:
    """Would `ip link set LINK netns ...` be sound advice? Only for the kinds a lesson makes and
    moves, and, in the host, never for a link the host uses: one with an address (other than
    link-local) or a route. A machine's own eth0 (hardware, or a veth when the VM is itself a
    container) must never be sent into a lesson's namespace: that would cut the machine off."""
    if link.name == "lo" or link.kind in NETNS_LOCAL_KINDS or link.kind not in MOVABLE_KINDS:
        return False
    if not ns.is_host:
        return True
    has_address = any(a.dev == link.name and not a.cidr.lower().startswith("fe80:") for a in ns.addresses)
    has_route = any(r.dev == link.name for r in ns.routes
                    if r.table == MAIN_TABLE and not r.dst.lower().startswith("fe80:"))
    return not (has_address or has_route)


def netns_arg(ns: NetNS) -> str:
    """What `ip link set X netns ARG` takes to mean *ns*: its name, or a pid in it."""
    if ns.names:
        return ns.names[0]
    if ns.is_host:
        return "1"
    if ns.pids:
        return str(ns.pids[0])
    return f"net:[{ns.inode}]"


def resolve_dev(snap: Snapshot, dev: str, netns: Any = None) -> tuple[NetNS, str] | Missing:
    """The netns a device lives in and its bare name, from `dev: RED/veth0` or `{netns: RED, dev: veth0}`.

    The device itself is not looked up (an address check wants to say more than "no such device")."""
    prefix, name = split_ifref(dev)
    ns = resolve_netns(snap, prefix if prefix is not None else netns)
    if isinstance(ns, Missing):
        return ns
    return ns, name


def netns_ref_of(dev: str | None, netns: Any) -> Any:
    """The netns a table entry's check means: the prefix of `dev: RED/veth0`, else its `netns` field."""
    if dev:
        prefix, _name = split_ifref(dev)
        if prefix is not None:
            return prefix
    return netns


def resolve_table_owner(snap: Snapshot, dev: str | None, netns: Any) -> tuple[NetNS, str | None] | Missing:
    """For checks on a netns's tables (routes, neighbours, fdb): the netns, and the device if one is
    named, which must exist there."""
    if not dev:
        ns = resolve_netns(snap, netns)
        return ns if isinstance(ns, Missing) else (ns, None)
    place = resolve_dev(snap, dev, netns)
    if isinstance(place, Missing):
        return place
    ns, name = place
    if ns.link(name) is None:
        return missing_link(snap, ns, name)
    return ns, name


def resolve_link(snap: Snapshot, dev: str, netns: Any = None) -> tuple[NetNS, Link] | Missing:
    """The (NetNS, Link) an interface reference names, or why it is not there."""
    found = resolve_dev(snap, dev, netns)
    if isinstance(found, Missing):
        return found
    ns, name = found
    link = ns.link(name)
    if link is None:
        return missing_link(snap, ns, name)
    return ns, link


def link_by_index(snap: Snapshot, netns_inode: int | None, ifindex: int | None) -> tuple[NetNS, Link] | None:
    if netns_inode is None or ifindex is None:
        return None
    ns = snap.netns.get(netns_inode)
    if ns is None:
        return None
    for link in ns.links:
        if link.ifindex == ifindex:
            return ns, link
    return None


# --------------------------------------------------------------- addresses
def owners_of_ip(snap: Snapshot, ip: str) -> list[tuple[NetNS, str, str]]:
    """(netns, device, cidr) for every interface on this machine that carries *ip*."""
    try:
        want = ipaddress.ip_address(ip)
    except ValueError:
        return []
    out = []
    for ns in snap.netns.values():
        for addr in ns.addresses:
            try:
                if ipaddress.ip_interface(addr.cidr).ip == want:
                    out.append((ns, addr.dev, addr.cidr))
            except ValueError:
                continue
    out.sort(key=lambda t: (not t[0].is_host, t[0].label))
    return out
