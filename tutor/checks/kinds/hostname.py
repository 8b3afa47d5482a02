"""hostname: the hostname inside the uts namespace of a process.

    - hostname: {cmdline: '^sleep 1003$', hostname: lab-box, host_unchanged: true}

hostname        what `nsenter --target PID --uts hostname` prints
host_unchanged  the host's own uts namespace does not carry that name (it was set inside, not
                on the whole machine)
"""
from __future__ import annotations

from ...observe.model import Snapshot
from ..base import Field, Verdict, v_bool, v_str
from ..procs import SUBJECT_FIELDS, ProcessExpectation
from ..containers import q, recreate_with
from ..registry import register
from ..select import name


@register
class Hostname(ProcessExpectation):
    kind = "hostname"
    fields = {
        **SUBJECT_FIELDS,
        "hostname": Field(v_str, required=True, doc="the hostname expected inside the process's uts namespace"),
        "host_unchanged": Field(v_bool, default=False, doc="the host's hostname is not that name"),
    }

    def describe(self) -> str:
        text = f"hostname {self.hostname!r} in the uts namespace of {self.subject_words}"
        return text + (f"; the host's hostname is not {self.hostname!r}" if self.host_unchanged else "")

    def grade(self, snap: Snapshot) -> Verdict:
        found = self.subject_and_ns(snap, "uts")
        if isinstance(found, Verdict):
            return found
        proc, uts = found
        inside = snap.hostnames.get(uts)
        host_uts = snap.host_ns.get("uts")
        host_name = snap.hostnames.get(host_uts) if host_uts is not None else None
        shares_host = uts == host_uts
        where = f"the host's uts namespace ({uts})" if shares_host else f"its own uts namespace ({uts})"
        observed = f"{name(proc, snap)} is in {where}, hostname {inside!r}"
        if not shares_host:
            observed += f"; the host's hostname is {host_name!r}"
        set_inside = f"nsenter --target {proc.pid} --uts hostname {self.hostname}"
        if inside is None:
            return self.fail(observed, f"nstutor could not read the hostname of uts namespace {uts}.")
        if inside != self.hostname:
            recreate = recreate_with(snap, proc, f"--hostname {q(self.hostname)}", f"hostname: {self.hostname}",
                                     pod_wide=True)
            if shares_host and recreate is not None:
                return self.fail(observed,
                                 f"{name(proc, snap)} is in the host's uts namespace (its container was created "
                                 f"with --uts host, or hostNetwork in Kubernetes): a name set there renames the "
                                 f"whole machine. Create it again with a uts namespace and a name of its own: "
                                 f"{recreate}")
            if shares_host:
                return self.fail(observed,
                                 f"{name(proc, snap)} is in the host's uts namespace, whose hostname is {inside!r}. "
                                 f"Give it its own (kill {proc.pid}; unshare --uts {proc.command}), "
                                 f"then set the name inside: nsenter --target <its pid> --uts hostname {self.hostname}")
            why = (" (a new uts namespace starts with a copy of the host's name)" if inside == host_name else "")
            return self.fail(observed, f"The hostname in its uts namespace is {inside!r}{why}, expected "
                                       f"{self.hostname!r}: {set_inside}"
                             + (f". That lasts until its container restarts; to create it with that name: {recreate}"
                                if recreate else ""))
        if self.host_unchanged:
            if host_name is None:
                return self.fail(observed, "nstutor could not read the host's hostname to compare with.")
            if host_name == self.hostname:
                why = ("it was set in the host's own uts namespace, so the whole machine was renamed"
                       if shares_host else "the host was renamed too, outside the new namespace")
                return self.fail(observed,
                                 f"The host's hostname is {self.hostname!r} as well: {why}. Put the host's name "
                                 f"back: hostname $(cat /etc/hostname)"
                                 + ("" if not shares_host else
                                    f"; then start the process in its own uts namespace: unshare --uts "
                                    f"{proc.command}, and set the name inside with nsenter --uts"))
        return self.ok(observed, {"pid": proc.pid, "uts": uts, "hostname": inside,
                                  "host_uts": host_uts, "host_hostname": host_name})
