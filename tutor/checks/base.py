"""What every expectation kind is built from: fields, the Expectation base class, Verdict.

An expectation is one line under `expect:` in a ```check block, e.g.

    - veth: {ends: [RED/veth0, BLUE/veth1], up: true}

Its kind ("veth") picks a class from the registry; its fields are validated by
the class's `fields` (the lint uses the same table, so lesson authors get
file:line errors before a learner ever sees the check). `grade(snapshot)` is a
pure function of the snapshot: no I/O. A kind that needs a part of the machine the
standing snapshot leaves out (the nat table, a file inside a process's root, a probe's
answer) says so in `wants(snapshot)`; observe reads that into the snapshot before
grading (observe.snapshot.answer), and grade() reads it there.

What an expectation names (its network namespaces, interfaces and processes) follows from its
fields: a validator that takes one of those says so (`@naming(NETNS)` on netns_ref_problem,
LINK on v_ifref and v_ifname, PROCESS on v_selector), and `refers_to()` yields them as typed
references. The live panel highlights them (app/panel/focus.py), so a new kind is highlighted without
the panel knowing its fields.
"""
from __future__ import annotations

import ipaddress
import posixpath
import re
import shlex
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Mapping

from ..observe.model import NOTHING, NS_TYPES, Snapshot, Wants
from ..texts import noun
from .engine_names import engine_name_problem


# --------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Stray:
    """A near miss of the learner's that the grader recognised: the learner's attempt at the
    lesson's object, but wrong (netns Hello for hello, a MASQUERADE rule with -o for ! -o).

    `remove` is an argv, never a shell string: names come from the kernel and may hold shell
    characters, so `command` shows them quoted (shlex.join) and reset runs the argv as is."""
    what: str                     # in words: "netns Hello (a case typo of hello)"
    remove: tuple[str, ...]       # the exact command that removes it: ("ip", "netns", "del", "Hello")

    @property
    def command(self) -> str:
        return shlex.join(self.remove)

    def as_dict(self) -> dict:
        return {"what": self.what, "remove": list(self.remove), "command": self.command}


@dataclass(frozen=True)
class Verdict:
    kind: str
    passed: bool
    expected: str                 # what the check wanted, in words
    observed: str                 # what the kernel showed, in words
    message: str = ""             # when failed: what is wrong and the next thing to try
    evidence: Mapping[str, Any] = field(default_factory=dict)  # facts that made it pass (JSON-able)
    strays: tuple[Stray, ...] = ()  # the learner's near misses seen beside (or instead of) the object
    # Text in observed/message that only lists other objects for orientation ("the host has docker0,
    # eth0, lo"): not the state of the object checked, so the progress store leaves it out of the
    # state a step looks at (progress/attempts.py, _state); an unrelated interface coming and going
    # must not look like the learner changing the step.
    context: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "passed": self.passed,
            "expected": self.expected,
            "observed": self.observed,
            "message": self.message,
            "strays": [s.as_dict() for s in self.strays],
        }


class NotObserved(Exception):
    """grade() found no answer to what its wants() asked for: the snapshot was taken without
    them (a caller that did not pass checks.runner.wants_of). The runner says so in the verdict."""


# --------------------------------------------------------------- field validation
class SpecError(ValueError):
    """A problem in a check block; `problems` are plain sentences (the lint adds file:line)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


Validator = Callable[[Any], "str | None"]   # returns an error sentence or None

# What a field's value names, when it names something on the machine (see Expectation.refers_to).
NETNS = "netns"        # a netns reference: RED, host, net:[4026532401], {netns_of: SELECTOR}
LINK = "link"          # an interface: RED/veth0, or a bare name in the expectation's netns
PROCESS = "process"    # a process selector (tutor.checks.select)
NAMEABLE = (NETNS, LINK, PROCESS)


def naming(what: str) -> Callable[[Validator], Validator]:
    """Declare that the fields a validator checks name a NETNS, LINK or PROCESS (a list of them
    too: v_list_of passes the declaration on). Every Field with that validator then names it."""
    if what not in NAMEABLE:
        raise ValueError(f"a field names one of {', '.join(NAMEABLE)}, not {what!r}")

    def mark(validator: Validator) -> Validator:
        validator.names = what        # type: ignore[attr-defined]
        return validator
    return mark


@dataclass(frozen=True)
class Field:
    """One field of an expectation: its validator, whether it is required, and a default.

    `names` is what its value names on the machine (NETNS, LINK, PROCESS or None), taken from the
    validator's declaration (see naming()); give it only for a validator that does not declare it."""
    validate: Validator
    required: bool = False
    default: Any = None
    doc: str = ""
    names: str | None = None

    def __post_init__(self) -> None:
        if self.names is None:
            object.__setattr__(self, "names", getattr(self.validate, "names", None))
        elif self.names not in NAMEABLE:
            raise ValueError(f"a field names one of {', '.join(NAMEABLE)}, not {self.names!r}")


# --------------------------------------------------------------- what an expectation names
@dataclass(frozen=True)
class NetnsRef:
    """A network namespace an expectation names, as it writes it (a name, or {netns_of: SELECTOR})."""
    ref: Any


@dataclass(frozen=True)
class LinkRef:
    """An interface an expectation names: its bare name and the netns reference it is in (None: the host's)."""
    dev: str
    netns: Any = None


@dataclass(frozen=True)
class ProcessRef:
    """A process an expectation names, by its selector (tutor.checks.select)."""
    selector: Any


def v_str(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def v_int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"


def v_int_range(lo: int, hi: int | None = None, *, example: int | None = None, what: str = "") -> Validator:
    """A whole number from *lo* to *hi* (no upper bound when hi is None); *what* says in a few words
    why that range (", a UDP port"), *example* is a value to copy (default: lo)."""
    span = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
    message = f"must be a whole number {span}{what}, e.g. {lo if example is None else example}"

    def check(value: Any) -> str | None:
        if (isinstance(value, int) and not isinstance(value, bool)        # true is not 1
                and value >= lo and (hi is None or value <= hi)):
            return None
        return message
    return check


def v_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def v_number(value: Any) -> str | None:
    return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "must be a number"


def v_cidr(value: Any) -> str | None:
    if not isinstance(value, str) or "/" not in value:
        return f"{value!r} is not an address with a prefix length, like 10.11.11.2/24"
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return f"{value!r} is not a valid address/prefix"
    return None


def v_prefix(value: Any) -> str | None:
    """A route destination: "default" or a network like 10.22.0.0/24."""
    if value == "default":
        return None
    if not isinstance(value, str):          # ipaddress reads true as 0.0.0.1/32
        return f"{value!r} is not a network prefix like 10.22.0.0/24 (host bits must be zero) or 'default'"
    try:
        ipaddress.ip_network(value, strict=True)
    except (ValueError, TypeError):
        return f"{value!r} is not a network prefix like 10.22.0.0/24 (host bits must be zero) or 'default'"
    return None


def v_ip(value: Any) -> str | None:
    if not isinstance(value, str):          # ipaddress reads true as 0.0.0.1 and 167772161 as 10.0.0.1
        return f"{value!r} is not an IP address (write it as text, like 10.0.0.1)"
    try:
        ipaddress.ip_address(value)
    except (ValueError, TypeError):
        return f"{value!r} is not an IP address"
    return None


def v_mac(value: Any) -> str | None:
    import re
    if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", value):
        return None
    return f"{value!r} is not a MAC address like 0a:58:ac:10:00:01"


IFNAMSIZ = 16       # the kernel's limit, with the final NUL: an interface name has at most 15 bytes


def ifname_reason(name: str) -> str | None:
    """Why a non-empty string is not a bare interface name, or None. The kernel's own rules
    (dev_valid_name: at most 15 bytes, not . or .., no '/', ':' or white space), and no leading '-',
    which ip would read as an option."""
    if len(name.encode("utf-8", "surrogatepass")) >= IFNAMSIZ:
        return f"an interface name has at most {IFNAMSIZ - 1} bytes (the kernel's limit)"
    if name in (".", ".."):
        return "an interface name cannot be . or .. (the kernel refuses them)"
    if any(c in "/:" or c.isspace() for c in name):
        return "an interface name cannot hold '/', ':' or white space"
    if name.startswith("-"):
        return "an interface name cannot start with '-' (ip would read it as an option)"
    return None


def ifname_problem(value: Any) -> str | None:
    """Validator of a bare interface name that does not name a LINK: for a field whose interface is
    in a netns the expectation does not say (peer_master: the other end's). v_ifname names one."""
    shape = f"{value!r} is not an interface name like nsbr0"
    if not isinstance(value, str) or not value:
        return shape
    reason = ifname_reason(value)
    return f"{shape}: {reason}" if reason else None


def netns_name_problem(name: str) -> str | None:
    """Why a string is not a network namespace's name, or None (refs.netns_ref_problem takes the other
    forms of a netns reference): ip's own rules (no '/', not . or ..), and none that ip would read as
    an option or split."""
    if (not name or "/" in name or name in (".", "..") or name.startswith("-")
            or any(c.isspace() for c in name)):
        return f"{name!r} is not a network namespace name like RED (or host)"
    return None


@naming(LINK)
def v_ifref(value: Any) -> str | None:
    """An interface in a netns: "RED/veth0", or "veth0" for the host's netns. The netns part is checked
    as a netns name (refs.netns_ref_problem's rule), the interface as v_ifname."""
    shape = f"{value!r} is not an interface reference like RED/veth0 (or veth0 for the host)"
    if not isinstance(value, str) or not value:
        return shape
    netns, slash, dev = value.partition("/") if "/" in value else (None, "", value)
    if netns == "" or not dev:                      # "/veth0" (an empty netns name), "RED/"
        return shape
    err = netns_name_problem(netns) if netns is not None else None
    if err:
        return f"{shape}: {err}"
    reason = ifname_reason(dev)
    return f"{shape}: {reason}" if reason else None


@naming(LINK)
def v_ifname(value: Any) -> str | None:
    """A bare interface name, in the expectation's own netns (see ifname_problem)."""
    return ifname_problem(value)


def v_engine_name(what: str = "container") -> Validator:
    """A container's name (what="container"), or a pod's (engine_names.engine_name_problem)."""
    if what not in ("container", "pod"):
        raise ValueError(f"an engine names a container or a pod, not {what!r}")
    return lambda value: engine_name_problem(value, what)


WORD = re.compile(r"[a-z0-9][a-z0-9._-]*")


def v_word(example: str, what: str) -> Validator:
    """One lower-case word as the kernel spells a type (a filesystem type, a link kind): *what* is
    the field in words ("a filesystem type"), *example* one to copy."""
    message = f"must be {what}: one lower-case word of letters, digits, '.', '_' or '-', e.g. {example}"

    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and WORD.fullmatch(value) else message
    return check


def v_abspath(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("/"):
        return None
    return f"{value!r} is not an absolute path like /mnt/nstutor-private"


def clean_path(path: str) -> str:
    """A path as the kernel's mount table spells it (no // or trailing /), to compare with one."""
    return posixpath.normpath(path) if path else path


def v_cgroup_name(example: str) -> Validator:
    """A cgroup below the root: a name (*example*, i.e. /*example*) or a path (/lab/*example*). Not blank,
    no white space or control character, and no '.' or '..' step: '.', '/' and 'a/..' all name the root
    cgroup, which every process is below, so a check of it would pass on any machine."""
    message = (f"must be a cgroup's name like {example} or a path like /lab/{example}: not the root cgroup, "
               "no white space or control characters, no '.' or '..' in the path")

    def check(value: Any) -> str | None:
        if not isinstance(value, str) or any(c.isspace() or not c.isprintable() for c in value):
            return message
        steps = [step for step in value.split("/") if step]
        if not steps or any(step in (".", "..") for step in steps):
            return message
        return None
    return check


def v_nstypes(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return f"must be a list of namespace types out of {', '.join(NS_TYPES)}"
    bad = [v for v in value if v not in NS_TYPES]
    if bad:
        return f"unknown namespace {noun(len(bad), 'type')} {', '.join(map(str, bad))}; known: {', '.join(NS_TYPES)}"
    return None


def v_list_of(item: Validator, *, length: int | None = None) -> Validator:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return "must be a list"
        if length is not None and len(value) != length:
            return f"must have exactly {length} items"
        for v in value:
            err = item(v)
            if err:
                return err
        return None
    if getattr(item, "names", None):
        check.names = item.names      # type: ignore[attr-defined]  # a list of what the item names
    return check


def v_one_of(*choices: Any) -> Validator:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(str, choices))}"
    return check


@naming(PROCESS)
def v_selector(value: Any) -> str | None:
    """A process selector: {comm: NAME} and/or {cmdline: REGEX}, or a plain string (= cmdline regex)."""
    from .select import selector_problem
    return selector_problem(value)


@naming(PROCESS)
def v_selectors(value: Any) -> str | None:
    """A non-empty list of process selectors (a cgroup's or a pod's members)."""
    if isinstance(value, list) and not value:
        return "must list at least one process selector"
    return v_list_of(v_selector)(value)


# --------------------------------------------------------------- the base class
#: The names of the lesson being graded (runner.grade_expectation sets it from the expectation's
#: lesson_netns and lesson_links): natlan and natwan of one lesson are two names of its own, not a
#: typo of each other (strays.netns_typos), and natlan/eth0, which the lesson wants where it is, is
#: never the link to move into natwan (refs.missing_link).
LESSON_NETNS: ContextVar[frozenset] = ContextVar("lesson_netns", default=frozenset())
LESSON_LINKS: ContextVar[frozenset] = ContextVar("lesson_links", default=frozenset())


class Expectation:
    """Base of every expectation kind. Subclasses set `kind`, `fields`, and implement grade()."""

    kind: ClassVar[str] = ""
    fields: ClassVar[dict[str, Field]] = {}
    #: Its wants() asks for a probe (a packet sent, a connection opened): observe sends it only when the
    #: caller allows probes (runner.wants_of(probes=...)); without, the runner says "not probed".
    active: ClassVar[bool] = False
    #: Needs per-process CPU rates: the runner makes sure the snapshot has a previous one to compare to.
    needs_cpu_rate: ClassVar[bool] = False
    #: Allows a plain scalar instead of a mapping: `- netns: RED` means {name: RED}.
    shorthand: ClassVar[str | None] = None
    #: Every netns name its lesson uses (its checks, cleanup and lab), set by the lesson parser: one of
    #: them is never taken for a typo of another (natlan is not a stray of natwan: strays.netns_typos).
    lesson_netns: frozenset = frozenset()
    lesson_links: frozenset = frozenset()         # (netns name, interface) its lesson's checks name

    def __init__(self, spec: Mapping[str, Any], line: int | None = None):
        self.spec = dict(spec)
        self.line = line
        for name, fld in self.fields.items():
            setattr(self, name, self.spec.get(name, fld.default))

    def __reduce__(self):
        """Pickled (the lesson parse cache) as what it was built from: its spec and line. What a kind
        keeps while grading (a CPU history and its lock) starts afresh, as in a new parse."""
        names = {"lesson_netns": self.lesson_netns, "lesson_links": self.lesson_links}
        return (type(self), (self.spec, self.line)) + ((names,) if self.lesson_netns or self.lesson_links else ())

    # -- construction and lint
    @classmethod
    def problems(cls, spec: Any) -> list[str]:
        """Every problem with *spec* (a mapping of fields), as sentences; [] when fine."""
        if not isinstance(spec, dict):
            return [f"'{cls.kind}' needs a mapping of fields ({', '.join(cls.fields)})"]
        out = []
        for name in spec:
            if name not in cls.fields:
                out.append(f"'{cls.kind}' has no field '{name}' (known: {', '.join(cls.fields)})")
        for name, fld in cls.fields.items():
            if name not in spec:
                if fld.required:
                    out.append(f"'{cls.kind}' is missing the required field '{name}'")
                continue
            err = fld.validate(spec[name])
            if err:
                out.append(f"'{cls.kind}.{name}': {err}")
        out.extend(cls.extra_problems(spec) if not out else [])
        return out

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        """Cross-field rules (override when one field's meaning depends on another)."""
        return []

    # -- grading
    def wants(self, snap: Snapshot) -> Wants:
        """The snapshot parts grade() reads beyond the standing ones. *snap* has the standing parts,
        so a kind can name the processes its selectors pick. Pure, like grade()."""
        return NOTHING

    def grade(self, snap: Snapshot) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- what it names
    def refers_to(self) -> Iterator[NetnsRef | LinkRef | ProcessRef]:
        """The network namespaces, interfaces and processes this expectation names, in the order of
        its fields: every field that names something (Field.names), each item of a list.

        A bare interface name is in the expectation's own netns (home_netns()). Override, calling
        super(), for what a field alone cannot say (a selector made of several fields, one nested
        in a mapping)."""
        home = self.home_netns()
        for name, fld in self.fields.items():
            value = self.spec.get(name)
            if fld.names is None or value is None:
                continue
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if fld.names == NETNS:
                    yield NetnsRef(item)
                elif fld.names == PROCESS:
                    yield ProcessRef(item)
                elif isinstance(item, str):
                    owner, slash, dev = item.partition("/")
                    yield LinkRef(dev, owner) if slash else LinkRef(item, home)

    def home_netns(self) -> Any:
        """The netns a bare interface name of this expectation is in: its netns field's value; else
        the namespace its first field naming one interface says (`dev: node2/cni0` puts `ports:
        [veth-pod1]` beside the bridge); else None, the host's. As the kinds resolve them (refs.resolve_dev)."""
        for name, fld in self.fields.items():
            if fld.names == NETNS and self.spec.get(name) is not None:
                return self.spec[name]
        for name, fld in self.fields.items():
            value = self.spec.get(name)
            if fld.names == LINK and isinstance(value, str):
                owner, slash, _ = value.partition("/")
                return owner if slash else None
        return None

    def describe(self) -> str:
        """A short human description of what is expected (used as Verdict.expected by default)."""
        return f"{self.kind} {self.spec}"

    # -- helpers for subclasses
    def ok(self, observed: str, evidence: Mapping[str, Any] | None = None, expected: str | None = None,
           strays: tuple[Stray, ...] = ()) -> Verdict:
        return Verdict(self.kind, True, expected or self.describe(), observed, "", dict(evidence or {}),
                       tuple(strays))

    def fail(self, observed: str, message: str, context: tuple[str, ...] = (), *, expected: str | None = None,
             strays: tuple[Stray, ...] = ()) -> Verdict:
        """A failing verdict; *context* as in Verdict (third, so `self.fail(*missing)` carries a Missing's)."""
        return Verdict(self.kind, False, expected or self.describe(), observed, message, {}, tuple(strays),
                       tuple(context))
