"""netns: a network namespace exists (or is gone), optionally with nothing but a loopback that is up.

    - netns: RED                                   # shorthand for {name: RED}
    - netns: {name: hello, only_lo: true, lo_up: true}
    - netns: {name: hello, absent: true}           # after cleanup
    - netns: {name: {netns_of: {pod: podweb, infra: true, engine: podman}}, pinned: true}

pinned: true means a file pins the namespace, so it outlives its processes: `ip netns add`
and Podman bind-mount it on /run/netns/NAME, Docker on /run/docker/netns/ID, containerd on
/var/run/netns/cni-ID. We look for the namespace's inode among the names in /run/netns and
among the nsfs mounts of every mount table the snapshot read (a mount's root is net:[INODE]).
pinned: false means only processes hold it (what `unshare --net` makes): it goes away with
the last of them.
"""
from __future__ import annotations

from dataclasses import replace

from ...i18n import _, ngettext
from ...observe.model import NetNS, Snapshot
from ...observe.netns import RUN_NETNS
from ...texts import words
from ..base import Expectation, Field, Verdict, v_bool
from ..refs import (HOST_NAMES, Missing, cmd_in, describe_netns_ref, netns_ref_problem, netns_unreadable, resolve_netns,
                    where)
from ..registry import register
from ..strays import netns_typos


@register
class NetnsExpectation(Expectation):
    kind = "netns"
    shorthand = "name"
    fields = {
        "name": Field(netns_ref_problem, required=True, doc="RED, host, or {netns_of: {comm: NAME}}"),
        "only_lo": Field(v_bool, doc="no interface but lo"),
        "lo_up": Field(v_bool, doc="lo is up (true) or down (false)"),
        "absent": Field(v_bool, default=False, doc="the namespace must NOT exist"),
        "pinned": Field(v_bool, doc="a file (/run/netns/NAME or another nsfs mount) holds it (true), "
                                    "or only its processes do (false)"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        if spec.get("absent") and any(spec.get(f) is not None for f in ("only_lo", "lo_up", "pinned")):
            return ["'netns': absent: true cannot be combined with only_lo, lo_up or pinned"]
        return []

    def describe(self) -> str:
        who = describe_netns_ref(self.name)
        if self.absent:
            return _("no network namespace {netns}").format(netns=who)
        parts = [_("network namespace {netns}").format(netns=who)]
        if self.only_lo:
            parts.append(_("with only lo"))
        if self.lo_up is not None:
            parts.append(_("lo up") if self.lo_up else _("lo down"))
        if self.pinned is not None:
            parts.append(_("pinned by a file") if self.pinned else _("held only by its processes"))
        return ", ".join(parts)

    def grade(self, snap: Snapshot) -> Verdict:
        verdict = self._grade(snap)
        # A typo of the lesson's name (Hello, hellp for hello) is the learner's stray whether or not
        # the right one is there too: reset offers to remove it (resolve_netns names it when missing).
        typos = netns_typos(snap, self.name) if isinstance(self.name, str) and self.name not in HOST_NAMES else ()
        if not typos:
            return verdict
        if verdict.passed:      # right, and the learner's attempt beside it: say how to take that away
            return replace(verdict, strays=typos, observed=_("{observed}; beside it {strays}").format(
                observed=verdict.observed, strays="; ".join(f"{s.what}: {s.command}" for s in typos)))
        return replace(verdict, strays=typos)

    def _grade(self, snap: Snapshot) -> Verdict:
        ns = resolve_netns(snap, self.name)
        if self.absent:
            if isinstance(ns, Missing):
                return self.ok(_("no network namespace {name}").format(name=self.name),
                               {"netns": self.name, "absent": True})
            return self.fail(ngettext("{netns} exists (net:[{inode}], {n} process in it)",
                                      "{netns} exists (net:[{inode}], {n} processes in it)", len(ns.pids)).format(
                                 netns=where(ns, snap), inode=ns.inode, n=len(ns.pids)),
                             _("{netns} still exists: {removal}").format(netns=where(ns, snap), removal=_removal(ns)))
        if isinstance(ns, Missing):
            return self.fail(*ns)

        evidence = {"netns": where(ns, snap), "inode": ns.inode, "links": sorted(l.name for l in ns.links)}
        if self.only_lo or self.lo_up is not None:
            blocked = netns_unreadable(ns)
            if blocked:
                return self.fail(*blocked)
        if self.only_lo:
            extra = sorted(l.name for l in ns.links if l.name != "lo")
            if extra:
                observed = _("{netns} has {links}").format(
                    netns=where(ns, snap), links=", ".join(["lo"] + extra) if ns.link("lo") else ", ".join(extra))
                if ns.is_host:   # never suggest deleting the machine's own interfaces
                    return self.fail(observed, _("the root netns has more than lo ({links}); that is normal for the "
                                                 "host: this check is meant for a namespace of its own").format(
                        links=", ".join(extra)))
                return self.fail(observed, _("{netns} should have nothing but lo, and it also has {links}: "
                                             "{commands}").format(
                    netns=where(ns, snap), links=", ".join(extra),
                    commands="; ".join(cmd_in(ns, f"link del {n}") for n in _to_delete(ns, extra)[:3])))
        if self.lo_up is not None:
            lo = ns.link("lo")
            if lo is None:
                return self.fail(_("{netns} has no lo").format(netns=where(ns, snap)),
                                 _("{netns} has no loopback at all, which is odd; make a fresh namespace ({removal}, "
                                   "then create it again)").format(netns=where(ns, snap), removal=_removal(ns)))
            if lo.admin_up != self.lo_up:
                state = "UP" if lo.admin_up else "DOWN"
                want = "up" if self.lo_up else "down"
                return self.fail(_("lo in {netns} is {state}").format(netns=where(ns, snap), state=state),
                                 _("lo in {netns} is {state}: {command}").format(
                                     netns=where(ns, snap), state=state, command=cmd_in(ns, f'link set lo {want}')))
            evidence["lo"] = "UP" if lo.admin_up else "DOWN"
        if self.pinned is not None:
            pins = pinned_by(ns, snap)
            if pins and not self.pinned:
                return self.fail(_("{files} holds net:[{inode}]").format(files=words(pins), inode=ns.inode),
                                 _("{netns} is pinned by {file}: it stays after its last process exits, until that "
                                   "file is unmounted. This step wants a namespace that only its processes hold, as "
                                   "`unshare --net` makes").format(netns=where(ns, snap), file=pins[0]))
            if not pins and self.pinned:
                return self.fail(_("no file in {run_netns} holds net:[{inode}], and no nsfs mount elsewhere").format(
                                     run_netns=RUN_NETNS, inode=ns.inode),
                                 _("{netns} is held only by its processes ({pids}): it goes away when the last of "
                                   "them exits. A file pins it: `ip netns add NAME` makes a new namespace pinned at "
                                   "{run_netns}/NAME, and `ip netns attach NAME PID` pins a process's one").format(
                                     netns=where(ns, snap), pids=_pids_words(ns), run_netns=RUN_NETNS))
            evidence["pinned_by"] = pins
        if evidence["links"]:
            observed = _("{netns} exists (net:[{inode}]) with {links}").format(
                netns=where(ns, snap), inode=ns.inode, links=", ".join(evidence["links"]))
        else:
            observed = _("{netns} exists (net:[{inode}]) with no links").format(netns=where(ns, snap), inode=ns.inode)
        if evidence.get("pinned_by"):
            observed += _(", pinned by {files}").format(files=words(evidence["pinned_by"]))
        elif self.pinned is False:
            observed += _(", no file in {run_netns} or nsfs mount holds it").format(run_netns=RUN_NETNS)
        return self.ok(observed, evidence)


def pinned_by(ns: NetNS, snap: Snapshot) -> list[str]:
    """The files that pin *ns*: its names in /run/netns, then every other nsfs mount of it in the
    mount tables the snapshot read (the host's first). A mount in another mount namespace is told
    with that namespace, since it pins the netns only as long as that mount namespace lives."""
    pins = [f"{RUN_NETNS}/{name}" for name in ns.names]
    root = f"net:[{ns.inode}]"
    host_mnt = snap.host_ns.get("mnt")
    for mnt in sorted(snap.mounts, key=lambda inode: inode != host_mnt):
        for m in snap.mounts[mnt]:
            if m.fstype != "nsfs" or m.root != root:
                continue
            pin = m.target if mnt == host_mnt else _("{file} (in mnt:[{mnt}])").format(file=m.target, mnt=mnt)
            if m.target not in pins and pin not in pins:
                pins.append(pin)
    return pins


def _pids_words(ns) -> str:
    if not ns.pids:
        return _("none is left")
    return ngettext("{n} process: pid {pids}", "{n} processes: pid {pids}", len(ns.pids)).format(
        n=len(ns.pids), pids=", ".join(map(str, ns.pids[:5])))


def _to_delete(ns, names: list[str]) -> list[str]:
    """The links to delete so that *names* are gone: one end of a veth pair takes its peer with it."""
    out: list[str] = []
    for name in names:
        link = ns.link(name)
        peer = link.peer_name if link is not None and link.kind == "veth" and link.peer_netns == ns.inode else None
        if peer in out:
            continue
        out.append(name)
    return out


def _removal(ns) -> str:
    """How to make a netns go away: drop its name, and stop what holds it."""
    steps = [f"ip netns del {name}" for name in ns.names]
    if ns.pids:
        steps.append(_("stop the process(es) in it: {command}").format(
            command="kill " + " ".join(map(str, ns.pids[:5]))))
    return "; ".join(steps) or _("stop whatever holds it")
