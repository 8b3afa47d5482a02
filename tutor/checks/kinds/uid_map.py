"""uid_map: a process has its own user namespace, and a uid inside maps to a uid outside.

    - uid_map: {cmdline: '^sleep 1008$', inside: 0, outside: owner}
    - uid_map: {cmdline: '^sleep 1008$', outside: non-root}
    - uid_map: {cmdline: '^sleep 1008$', inside: 0, outside: 1000}

inside   the uid inside the namespace (default 0: root in there)
outside  a uid number; "owner": the uid that owns the process as the host sees it (/proc/PID is
         owned by the mapped uid); "non-root": any uid but 0 (root inside is nobody special outside)

A lesson cannot know the learner's uid in advance, so "the user who started it" is said with
words: `owner` is the uid the kernel really runs the process as (its credentials outside,
which is whoever ran unshare; writing a uid_map never changes them), and `non-root` rules out
uid 0. Both together mean "mapped onto the invoking, unprivileged user", whatever uid that is
(1000 for a learner, 65534 when verify-lesson runs the solution as nobody).

From /proc/PID/uid_map, lines "inside outside count", as the host sees them.
"""
from __future__ import annotations

from typing import Any

from ...i18n import _
from ...observe.model import IdMap, Snapshot
from ..base import Field, Verdict, v_int_range
from ..procs import SUBJECT_FIELDS, ProcessExpectation, pick
from ..registry import register
from ..select import capitalised, name

OUTSIDE_WORDS = ("owner", "non-root")


def as_user() -> str:
    """Where a root shell is all the learner has open (after a command)."""
    return " " + _("(from a root shell: {command})").format(command="runuser -u YOURNAME -- ...")


def blocked_note() -> str:
    """When no process is there at all, the likeliest reason in this lesson is that unshare was refused."""
    return " " + _("If unshare --user printed 'Operation not permitted' (or 'write failed /proc/self/uid_map', "
                   "or 'No space left on device'), this system does not let unprivileged users make user "
                   "namespaces: see sysctl kernel.unprivileged_userns_clone, "
                   "kernel.apparmor_restrict_unprivileged_userns and user.max_user_namespaces.")


#: A uid is a 32-bit uid_t, and (uid_t)-1 = 4294967295 means "no uid": the kernel maps none to it.
MAX_UID = 2 ** 32 - 2
v_uid = v_int_range(0, MAX_UID, example=0, what=" (a uid)")


def v_outside(value: Any) -> str | None:
    if isinstance(value, str) and value in OUTSIDE_WORDS:
        return None
    if v_uid(value) is None:
        return None
    return f"must be a uid number from 0 to {MAX_UID}, 'owner' (the process's owner) or 'non-root', e.g. 1000"


def map_uid(uid_map: tuple[IdMap, ...], inside: int) -> int | None:
    for m in uid_map:
        if m.inside <= inside < m.inside + m.count:
            return m.outside + (inside - m.inside)
    return None


def map_text(uid_map: tuple[IdMap, ...]) -> str:
    return "; ".join(f"{m.inside} {m.outside} {m.count}" for m in uid_map) or _("empty")


@register
class UidMap(ProcessExpectation):
    kind = "uid_map"
    fields = {
        **SUBJECT_FIELDS,
        "inside": Field(v_uid, default=0, doc="the uid inside the user namespace (default 0)"),
        "outside": Field(v_outside, required=True, doc="a uid, 'owner' or 'non-root'"),
    }

    def describe(self) -> str:
        if self.outside == "owner":
            target = _("the process's owner")
        elif self.outside == "non-root":
            target = _("a non-root uid")
        else:
            target = f"uid {self.outside}"
        # English capitalises the sentence's start; a Korean phrase may start with a name (web 컨테이너)
        subject = self.subject_words
        what = capitalised(subject)
        return _("{process} has its own user namespace where uid {inside} is {target} outside").format(
            process=what, inside=self.inside, target=target)

    def grade(self, snap: Snapshot) -> Verdict:
        picked = pick(snap, self.subject)
        if picked.proc is None:
            return self.fail(picked.observed, picked.message + blocked_note())
        proc = picked.proc
        user = proc.ns.get("user")
        if user is None:
            return self.fail_ns_unreadable(snap, proc, "user")
        start = f"unshare --user --map-root-user {proc.command}"
        if user == snap.host_ns.get("user"):
            return self.fail(_("{process} is in the host's user namespace ({user}): uid {uid} is uid "
                               "{uid} everywhere").format(process=name(proc, snap), user=user, uid=proc.uid),
                             _("{process} has no user namespace of its own. Start it in one, as your "
                               "normal user (not root, no sudo): kill {pid}; {command}{as_user}")
                             .format(process=name(proc, snap), pid=proc.pid, command=start, as_user=as_user()))
        info = snap.userns.get(user)
        if info is None:
            return self.fail(_("{process} is in its own user namespace ({user}); its uid_map could not be read")
                             .format(process=name(proc, snap), user=user),
                             (_("nstutor could not read /proc/{pid}/uid_map.") if snap.is_root else
                              _("nstutor could not read /proc/{pid}/uid_map; run nstutor as root."))
                             .format(pid=proc.pid))
        observed = _("{process} is in its own user namespace ({user}), uid_map: {map}").format(
            process=name(proc, snap), user=user, map=map_text(info.uid_map))
        if not info.uid_map:
            return self.fail(observed,
                             _("The uid_map of user namespace {user} is empty: nothing is mapped, so inside "
                               "everything shows up as nobody (65534). Write a map once: "
                               "{write}, or start it with --map-root-user: {command}")
                             .format(user=user, write=f"echo '{self.inside} <your uid> 1' > /proc/{proc.pid}/uid_map",
                                     command=start))
        outside = map_uid(info.uid_map, self.inside)
        if outside is None:
            return self.fail(observed,
                             _("uid {inside} inside is not mapped by this uid_map. "
                               "Start it with a map that covers it: {command}").format(inside=self.inside,
                                                                                       command=start))
        evidence = {"pid": proc.pid, "user_ns": user, "inside": self.inside, "outside": outside,
                    "uid_map": [[m.inside, m.outside, m.count] for m in info.uid_map]}
        observed = _("{observed}; uid {inside} inside is uid {outside} outside").format(
            observed=observed, inside=self.inside, outside=outside)
        if self.outside == "owner":
            if outside != proc.uid:
                return self.fail(_("{observed}; the process belongs to uid {uid}").format(observed=observed,
                                                                                          uid=proc.uid),
                                 _("uid {inside} inside maps to uid {outside}, but the process's owner is "
                                   "uid {uid}. Map it to the user who starts it: {command}")
                                 .format(inside=self.inside, outside=outside, uid=proc.uid, command=start))
        elif self.outside == "non-root":
            if outside == 0:
                return self.fail(observed,
                                 _("uid {inside} inside is root (uid 0) outside too: the namespace was made "
                                   "by root, so it protects nothing. Start it as your normal user (not with sudo): "
                                   "kill {pid}; {command}{as_user}")
                                 .format(inside=self.inside, pid=proc.pid, command=start, as_user=as_user()))
        elif outside != self.outside:
            return self.fail(observed,
                             _("uid {inside} inside maps to uid {outside}, expected uid {expected}. "
                               "Start it as the user with uid {expected}: {command}")
                             .format(inside=self.inside, outside=outside, expected=self.outside,
                                     command=f"sudo -u '#{self.outside}' {start}"))
        return self.ok(observed, evidence)
