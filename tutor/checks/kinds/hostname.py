"""hostname: the hostname inside the uts namespace of a process.

    - hostname: {cmdline: '^sleep 1003$', hostname: lab-box, host_unchanged: true}

hostname        what `nsenter --target PID --uts hostname` prints
host_unchanged  the host's own uts namespace does not carry that name (it was set inside, not
                on the whole machine)
"""
from __future__ import annotations

import re
from typing import Any

from ...i18n import _
from ...observe.model import Snapshot
from ..base import Field, Verdict, v_bool
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..containers import q, recreate_with
from ..registry import register
from ..select import name


#: The kernel's limit (HOST_NAME_MAX, what sethostname() takes and uname -n can hold).
HOST_NAME_MAX = 64
#: A label of a host name (RFC 1123): letters, digits and '-', neither first nor last a '-'.
HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def v_hostname(value: Any) -> str | None:
    """A host name as `hostname NAME` sets it: 1 to 64 characters, labels of letters, digits and '-'
    separated by dots (the kernel would take any bytes, but a name `hostname` reads as an option, or
    with a '/' or a newline, is a typo in the lesson, not a host name)."""
    if (isinstance(value, str) and 0 < len(value) <= HOST_NAME_MAX
            and all(HOST_LABEL.fullmatch(label) for label in value.split("."))):
        return None
    return (f"must be a host name of 1 to {HOST_NAME_MAX} characters: labels of letters, digits and '-' "
            "(not first or last), separated by dots, e.g. lab-box")


@register
class Hostname(ProcessExpectation):
    kind = "hostname"
    fields = {
        **SUBJECT_FIELDS,
        "hostname": Field(v_hostname, required=True, doc="the hostname expected inside the process's uts namespace"),
        "host_unchanged": Field(v_bool, default=False, doc="the host's hostname is not that name"),
    }

    def describe(self) -> str:
        if self.host_unchanged:
            text = _("hostname {hostname} in the uts namespace of {process}; the host's hostname is not {hostname}")
        else:
            text = _("hostname {hostname} in the uts namespace of {process}")
        return text.format(hostname=repr(self.hostname), process=self.subject_words)

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "uts")
        if isinstance(found, Verdict):
            return found
        proc, uts = found
        inside = snap.hostnames.get(uts)
        host_uts = snap.host_ns.get("uts")
        host_name = snap.hostnames.get(host_uts) if host_uts is not None else None
        shares_host = uts == host_uts
        where = (_("the host's uts namespace ({uts})") if shares_host else _("its own uts namespace ({uts})")
                 ).format(uts=uts)
        observed = _("{process} is in {where}, hostname {hostname}").format(process=name(proc, snap), where=where,
                                                                         hostname=repr(inside))
        if not shares_host:
            observed = _("{observed}; the host's hostname is {hostname}").format(observed=observed,
                                                                              hostname=repr(host_name))
        set_inside = f"nsenter --target {proc.pid} --uts hostname {self.hostname}"
        if inside is None:
            return self.fail(observed, _("nstutor could not read the hostname of uts namespace {uts}.").format(uts=uts))
        if inside != self.hostname:
            recreate = recreate_with(snap, proc, f"--hostname {q(self.hostname)}", f"hostname: {self.hostname}",
                                     pod_wide=True)
            if shares_host and recreate is not None:
                return self.fail(observed,
                                 _("{process} is in the host's uts namespace (its container was created "
                                   "with --uts host, or hostNetwork in Kubernetes): a name set there renames the "
                                   "whole machine. Create it again with a uts namespace and a name of its own: "
                                   "{command}").format(process=name(proc, snap), command=recreate))
            if shares_host:
                return self.fail(observed,
                                 _("{process} is in the host's uts namespace, whose hostname is {hostname}. "
                                   "Give it its own (kill {pid}; {unshare}), then set the name inside: {command}")
                                 .format(process=name(proc, snap), hostname=repr(inside), pid=proc.pid,
                                         unshare=f"unshare --uts {proc.command}",
                                         command=f"nsenter --target <its pid> --uts hostname {self.hostname}"))
            why = (_(" (a new uts namespace starts with a copy of the host's name)") if inside == host_name else "")
            if recreate:
                text = _("The hostname in its uts namespace is {hostname}{why}, expected {expected}: {command}. "
                         "That lasts until its container restarts; to create it with that name: {recreate}")
            else:
                text = _("The hostname in its uts namespace is {hostname}{why}, expected {expected}: {command}")
            return self.fail(observed, text.format(hostname=repr(inside), why=why, expected=repr(self.hostname),
                                                   command=set_inside, recreate=recreate))
        if self.host_unchanged:
            if host_name is None:
                return self.fail(observed, _("nstutor could not read the host's hostname to compare with."))
            if host_name == self.hostname:
                if shares_host:
                    text = _("The host's hostname is {hostname} as well: it was set in the host's own uts namespace, "
                             "so the whole machine was renamed. Put the host's name back: {command}; then start the "
                             "process in its own uts namespace: {unshare}, and set the name inside with nsenter --uts")
                else:
                    text = _("The host's hostname is {hostname} as well: the host was renamed too, outside the new "
                             "namespace. Put the host's name back: {command}")
                return self.fail(observed, text.format(hostname=repr(self.hostname),
                                                       command="hostname $(cat /etc/hostname)",
                                                       unshare=f"unshare --uts {proc.command}"))
        return self.ok(observed, {"pid": proc.pid, "uts": uts, "hostname": inside,
                                  "host_uts": host_uts, "host_hostname": host_name})
