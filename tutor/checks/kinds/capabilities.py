"""capabilities: which of root's powers a process holds (its effective capability set).

    - capabilities: {container: web, engine: docker, has: [chown, net_bind_service], lacks: [sys_admin, net_admin]}
    - capabilities: {cmdline: '^sleep 1008$', lacks: [sys_admin]}

has    capabilities the process must hold, by name: net_admin, sys_admin... (CAP_NET_ADMIN is accepted too)
lacks  capabilities it must not hold

The kernel does not ask "is this uid 0?" before a privileged operation: it asks whether the calling
process holds the capability for it (CAP_NET_ADMIN to change a network device, CAP_SYS_ADMIN to
mount...). An engine starts a container's root with a short list of them (Docker 14, Podman 11),
so root inside can chown files but cannot load a kernel module. Read from /proc/PID/status
(CapEff) only when a check asks (observe.Wants), like a file inside a process's root.
"""
from __future__ import annotations

import difflib
from typing import Any

from ...i18n import _, ngettext
from ...observe.model import CapabilitySets, Snapshot, Wants
from ..base import Field, Verdict
from ..containers import inspect_hint, kubelet_made, recreate_with
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import name

#: Capability numbers, from linux/capability.h (bit N of a CapEff mask is number N).
CAPABILITIES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
    "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
    "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
    "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
    "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
    "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
)
NUMBER = {cap: bit for bit, cap in enumerate(CAPABILITIES)}


def cap_name(value: str) -> str:
    """'CAP_NET_ADMIN', 'cap_net_admin', 'NET_ADMIN' -> 'net_admin'."""
    value = value.strip().lower()
    return value[4:] if value.startswith("cap_") else value


def names(mask: int) -> list[str]:
    """The capabilities set in *mask*, in number order (bits beyond the known ones as cap_N)."""
    out = [cap for bit, cap in enumerate(CAPABILITIES) if mask >> bit & 1]
    out += [f"cap_{bit}" for bit in range(len(CAPABILITIES), mask.bit_length()) if mask >> bit & 1]
    return out


def v_capabilities(value: Any) -> str | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return "must be a list of capability names, like [net_admin, sys_admin]"
    unknown = [v for v in value if cap_name(v) not in NUMBER]
    if unknown:
        close = difflib.get_close_matches(cap_name(unknown[0]), CAPABILITIES, n=1)
        meant = f"did you mean {close[0]}? " if close else ""
        return (f"{', '.join(map(repr, unknown))}: not a capability; {meant}known: {', '.join(CAPABILITIES)} "
                f"(man 7 capabilities)")
    return None


def shown(mask: int) -> str:
    caps = names(mask)
    if not caps:
        return _("none")
    if mask & ((1 << len(CAPABILITIES)) - 1) == (1 << len(CAPABILITIES)) - 1:
        return _("all {n}").format(n=len(caps))
    return f"{len(caps)}: {', '.join(caps)}"


@register
class CapabilitiesHeld(ProcessExpectation):
    kind = "capabilities"
    fields = {
        **SUBJECT_FIELDS,
        "has": Field(v_capabilities, doc="capabilities it must hold (its effective set), e.g. [net_bind_service]"),
        "lacks": Field(v_capabilities, doc="capabilities it must not hold, e.g. [sys_admin, net_admin]"),
    }

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        out = super().extra_problems(spec)
        if "has" not in spec and "lacks" not in spec:
            out.append("'capabilities' needs has and/or lacks, e.g. lacks: [sys_admin]")
        both = ({cap_name(v) for v in spec.get("has") or [] if isinstance(v, str)}
                & {cap_name(v) for v in spec.get("lacks") or [] if isinstance(v, str)})
        if both:
            out.append(f"'capabilities': {', '.join(sorted(both))} cannot be in both has and lacks")
        return out

    @property
    def _has(self) -> list[str]:
        return [cap_name(v) for v in self.has or []]

    @property
    def _lacks(self) -> list[str]:
        return [cap_name(v) for v in self.lacks or []]

    def describe(self) -> str:
        has, lacks = ", ".join(self._has), ", ".join(self._lacks)
        if has and lacks:
            text = _("{subject} holds {has} and lacks {lacks} (its effective capabilities)")
        elif has:
            text = _("{subject} holds {has} (its effective capabilities)")
        elif lacks:
            text = _("{subject} lacks {lacks} (its effective capabilities)")
        else:
            text = _("{subject} (its effective capabilities)")
        return text.format(subject=self.subject_words, has=has, lacks=lacks)

    def wants(self, snap: Snapshot) -> Wants:
        proc = pick(snap, self.subject).proc
        return Wants(capabilities=frozenset({proc.pid})) if proc is not None else Wants()

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message)
        proc = picked.proc
        sets: CapabilitySets | None = snap.capabilities.get(proc.pid)
        who = name(proc, snap)
        if sets is None or sets.gone:
            return self.fail(_("{process} exited while nstutor was looking").format(process=who),
                             _("The process the snapshot saw has exited; start it again and check once more."))
        if sets.error:
            return self.fail(_("the capabilities of {process} could not be read: {error}").format(
                                 process=who, error=sets.error),
                             _("nstutor reads /proc/PID/status.") if snap.is_root
                             else _("nstutor reads /proc/PID/status; run nstutor as root."))
        held = sets.effective
        observed = _("{process} holds {caps} (CapEff {mask})").format(process=who, caps=shown(held),
                                                                        mask=f"{held:016x}")
        missing = [cap for cap in self._has if not held >> NUMBER[cap] & 1]
        extra = [cap for cap in self._lacks if held >> NUMBER[cap] & 1]
        if missing:
            return self.fail(observed, self._add_advice(snap, proc, sets, missing))
        if extra:
            return self.fail(observed, self._drop_advice(snap, proc, extra))
        return self.ok(observed, {"pid": proc.pid, "effective": f"{held:016x}",
                                  "bounding": f"{sets.bounding:016x}"})

    def _add_advice(self, snap: Snapshot, proc, sets: CapabilitySets, missing: list[str]) -> str:
        caps = ", ".join(missing)
        upper = [f"CAP_{cap.upper()}" for cap in missing]
        text = _("{process} does not hold {caps}.").format(process=name(proc, snap), caps=caps)
        again = recreate_with(snap, proc, " ".join(f"--cap-add {cap.upper()}" for cap in missing),
                              f"securityContext.capabilities.add: [{', '.join(cap.upper() for cap in missing)}]")
        if again:
            return text + _(" Its engine decides at start which capabilities it gets; make it again with them: "
                            "{command}").format(command=again)
        lost = [cap for cap in missing if not sets.bounding >> NUMBER[cap] & 1]
        if lost:
            return text + _(" {caps} is not even in its bounding set (CapBnd {mask}), so no program it starts can get "
                            "it back: start it again from a shell that has {upper} (as root: grep CapEff "
                            "/proc/self/status).").format(caps=", ".join(lost), mask=f"{sets.bounding:016x}",
                                                          upper=", ".join(upper))
        return text + _(" Start it again as root, without dropping {caps} (no setpriv or capsh in front of "
                        "it).").format(caps=", ".join(upper))

    def _drop_advice(self, snap: Snapshot, proc, extra: list[str]) -> str:
        caps = ", ".join(extra)
        text = ngettext("{process} holds {caps}, which the step says it must not: with it, root in there has power "
                        "over the whole machine that a container's root should not have.",
                        "{process} holds {caps}, which the step says it must not: with them, root in there has power "
                        "over the whole machine that a container's root should not have.",
                        len(extra)).format(process=name(proc, snap), caps=caps)
        again = recreate_with(snap, proc, " ".join(f"--cap-drop {cap.upper()}" for cap in extra),
                              f"securityContext.capabilities.drop: [{', '.join(cap.upper() for cap in extra)}]")
        if again:
            c = snap.container_of_pid(proc.pid)
            hint = inspect_hint(c, ("Privileged", "CapAdd"))
            asked = (_("does its securityContext say privileged: true or capabilities.add?") if kubelet_made(c)
                     else _("was it started with --privileged or --cap-add?"))
            inspect = _(" ({question} {command} tells)").format(question=asked, command=hint) if hint else ""
            return text + inspect + ngettext(". Make it again without it: {command}",
                                             ". Make it again without them: {command}", len(extra)).format(command=again)
        drops = ",".join(f"-{cap}" for cap in extra)
        return text + _(" Start it again without: {command}").format(
            command=f"setpriv --bounding-set {drops} {proc.command}")
