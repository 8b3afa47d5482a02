"""masquerade, file, pid1 {own_proc} and procfs graded against made-up snapshots (no root needed).

These kinds grade parts of the snapshot that observe reads only when a check asks (observe.Wants):
the nat table, files inside a process's root, the /proc a process sees. Here the parts are written
by hand, so every branch of each kind's verdict is reached without touching the machine; the
real-kernel tests (tests/test_kinds_nat.py, tests/test_kinds_process*.py, tests/test_lessons_*.py)
check that observe reads the same facts from the kernel.
"""
from __future__ import annotations

from dataclasses import replace

from tutor.checks.registry import build
from tutor.checks.runner import grade_expectation, wants_of
from tutor.observe import NOTHING, Wants, answer
from tutor.observe.firewall import NAT_NEEDS_ROOT, NatRead, parse_rule, parse_table
from tutor.observe.model import FileFact, ProcView, frozen_map

from test_kinds_process_unit import proc, snap

SRC, BR = "10.22.0.0/24", "nsbr0"


def nat_snap(*lines: str, backend: str = "nft", command: str = "iptables", problem: str | None = None):
    read = NatRead((), problem) if problem else NatRead((parse_table("\n".join(lines), backend, command),))
    return answer(snap(), Wants(nat=True), read_nat=lambda: read)


def grade(item: dict, s):
    return grade_expectation(build(item), s)


def text(v) -> str:
    return v.observed + " | " + v.message


# --------------------------------------------------------------- masquerade
def test_parse_rule_negation_and_quoting():
    r = parse_rule('-A POSTROUTING -s 10.22.0.0/24 ! -o nsbr0 -m comment --comment "a b" -j MASQUERADE')
    assert (r.chain, r.match("source"), r.match("out"), r.target) == (
        "POSTROUTING", ("10.22.0.0/24", False), ("nsbr0", True), "MASQUERADE")
    r = parse_rule("-A POSTROUTING ! -s 10.0.0.0/8 -o eth0 -j RETURN")
    assert r.match("source") == ("10.0.0.0/8", True) and r.match("out") == ("eth0", False)
    assert parse_rule("-P POSTROUTING ACCEPT") is None
    assert parse_rule('-A X -s "unclosed') is None


def test_masquerade_wants_the_nat_table_and_passes_on_the_right_rule():
    exp = build({"masquerade": {"source": SRC, "not_out": BR}})
    assert exp.wants(snap()) == Wants(nat=True)
    v = grade({"masquerade": {"source": SRC, "not_out": BR}},
              nat_snap("-P POSTROUTING ACCEPT", f"-A POSTROUTING -s {SRC} ! -o {BR} -j MASQUERADE"))
    assert v.passed, text(v)
    assert v.evidence == {"rule": f"-A POSTROUTING -s {SRC} ! -o {BR} -j MASQUERADE", "chain": "POSTROUTING",
                          "backend": "nft", "source": SRC, "not_out": BR}
    assert "(iptables-nft)" in v.observed


def test_masquerade_failures_say_what_is_wrong():
    spec = {"masquerade": {"source": SRC, "not_out": BR}}
    v = grade(spec, nat_snap())
    assert not v.passed and v.message == (f"there is no MASQUERADE rule for {SRC} in the nat table: "
                                          f"iptables -t nat -A POSTROUTING -s {SRC} ! -o {BR} -j MASQUERADE")
    v = grade(spec, nat_snap(f"-A POSTROUTING -s {SRC} -o {BR} -j MASQUERADE"))
    assert f"masquerades only packets that leave BY {BR}" in v.message
    assert f"iptables -t nat -D POSTROUTING -s {SRC} -o {BR} -j MASQUERADE" in v.message
    v = grade(spec, nat_snap(f"-A POSTROUTING -s {SRC} -j MASQUERADE"))
    assert "even those that stay on" in v.message
    v = grade(spec, nat_snap(f"-A POSTROUTING -s {SRC} ! -o {BR} -j SNAT --to-source 10.0.0.1"))
    assert "jumps to SNAT, not MASQUERADE" in v.message
    v = grade(spec, nat_snap("-N MINE", f"-A MINE -s {SRC} ! -o {BR} -j MASQUERADE"))
    assert "is in chain MINE, which POSTROUTING never jumps to" in v.message
    v = grade(spec, nat_snap("-N MINE", f"-A MINE -s {SRC} ! -o {BR} -j MASQUERADE", "-A POSTROUTING -j MINE"))
    assert v.passed and v.evidence["chain"] == "MINE"


def test_a_wrong_rule_beside_the_right_one_is_a_stray_removed_with_the_backends_tool():
    v = grade({"masquerade": {"source": SRC, "not_out": BR}},
              nat_snap(f"-A POSTROUTING -s {SRC} ! -o {BR} -j MASQUERADE", f"-A POSTROUTING -s {SRC} -j MASQUERADE",
                       backend="legacy", command="iptables-legacy"))
    assert not v.passed and "is right, but beside it is" in v.message
    assert v.strays[0].remove == ("iptables-legacy", "-t", "nat", "-D", "POSTROUTING", "-s", SRC, "-j",
                                  "MASQUERADE")


def test_masquerade_when_the_table_could_not_be_read_or_was_not_asked_for():
    v = grade({"masquerade": {"source": SRC}}, nat_snap(problem=NAT_NEEDS_ROOT))
    assert (v.passed, v.observed) == (False, "the nat table could not be read")
    assert "reading the firewall rules needs root: run nstutor as root" in v.message
    v = grade({"masquerade": {"source": SRC}}, snap())         # a snapshot taken without wants
    assert (v.passed, v.observed) == (False, "not observed") and "the nat table" in v.message


# --------------------------------------------------------------- file
APP = proc(20, "app-a serve", own={"mnt": 4026532500})
OTHER = proc(21, "app-b serve", own={"mnt": 4026532501})
ME = proc(30, "nstutor")


def files_snap(facts: dict, procs=(APP, OTHER, ME), **kw):
    return replace(snap(*procs, **kw), files=frozen_map(facts))


def test_file_wants_the_path_in_each_named_process_and_in_the_host():
    exp = build({"file": {"cmdline": "^app-a ", "path": "/tmp/x/", "absent_in": "^app-b "}})
    assert exp.wants(snap(APP, OTHER)) == Wants(files=frozenset({(20, "/tmp/x"), (21, "/tmp/x"), (None, "/tmp/x")}))
    assert build({"file": {"cmdline": "^nobody", "path": "/a"}}).wants(snap(APP)) == \
        Wants(files=frozenset({(None, "/a")}))


def test_file_present_with_contents_and_absent_in_another():
    spec = {"file": {"cmdline": "^app-a ", "path": "/tmp/log", "contains": "ready", "absent_in": "^app-b "}}
    s = files_snap({(20, "/tmp/log"): FileFact("file", "starting\nready\n"), (21, "/tmp/log"): FileFact("missing"),
                    (None, "/tmp/log"): FileFact("missing")})
    v = grade(spec, s)
    assert v.passed, text(v)
    assert v.evidence == {"pid": 20, "mnt": 4026532500, "path": "/tmp/log", "bytes": 15,
                          "absent_in": {"pid": 21, "mnt": 4026532501}}


def test_file_failures_say_what_was_seen():
    base = {"cmdline": "^app-a ", "path": "/tmp/log"}
    host_missing = {(None, "/tmp/log"): FileFact("missing")}
    v = grade({"file": base}, files_snap({(20, "/tmp/log"): FileFact("missing"), **host_missing}))
    assert "There is no /tmp/log in the mount namespace of" in v.message
    assert "nsenter --target 20 --mount sh -c 'echo hello > /tmp/log'" in v.message
    assert "exists in the host's mount namespace" not in v.message
    v = grade({"file": base}, files_snap({(20, "/tmp/log"): FileFact("missing"),
                                          (None, "/tmp/log"): FileFact("file", "x")}))
    assert "A /tmp/log exists in the host's mount namespace: it was made outside the container" in v.message
    v = grade({"file": base}, files_snap({(20, "/tmp/log"): FileFact("other", "a directory"), **host_missing}))
    assert v.message == "/tmp/log there is a directory, not a file."
    v = grade({"file": base}, files_snap({(20, "/tmp/log"): FileFact("error", "Permission denied"), **host_missing},
                                         is_root=False))
    assert v.message == "nstutor could not read /proc/20/root/tmp/log: Permission denied; run nstutor as root."
    v = grade({"file": {**base, "contains": "ready"}},
              files_snap({(20, "/tmp/log"): FileFact("file", "starting\n"), **host_missing}))
    assert "does not contain 'ready'; its last line: 'starting'" in v.message
    v = grade({"file": base}, files_snap({(20, "/tmp/log"): FileFact("gone"), **host_missing}))
    assert v.observed == "the process exited while nstutor was looking"


def test_file_seen_by_the_other_process_too_and_made_in_the_host():
    spec = {"file": {"cmdline": "^app-a ", "path": "/tmp/log", "absent_in": "^app-b ", "absent_from_host": True}}
    s = files_snap({(20, "/tmp/log"): FileFact("file", ""), (21, "/tmp/log"): FileFact("file", ""),
                    (None, "/tmp/log"): FileFact("file", "")})
    v = grade(spec, s)
    assert "sees /tmp/log too, although it has its own mount namespace" in v.message
    assert "also exists in the host's mount namespace" in v.message
    assert [st.remove for st in v.strays] == [("rm", "/tmp/log")]
    v = grade({"file": {"cmdline": "^app-a ", "path": "/tmp/log", "absent_from_host": True}}, s)
    assert not v.passed and v.strays and "the host's mount namespace has a /tmp/log too" in v.observed


def test_file_without_its_part_is_not_observed():
    v = grade({"file": {"cmdline": "^app-a ", "path": "/tmp/log"}}, snap(APP))
    assert (v.passed, v.observed) == (False, "not observed")


# --------------------------------------------------------------- pid1 own_proc and procfs
INNER = proc(40, "sleep 1004", own={"pid": 4026532600, "mnt": 4026532601}, nspid=(40, 1))
JOINED = proc(41, "app-b", own={"pid": 4026532600, "mnt": 4026532602}, nspid=(41, 7))


def proc_snap(views: dict, procs=(INNER, JOINED)):
    return replace(snap(*procs), own_proc=frozen_map(views))


def test_own_proc_is_wanted_only_when_asked():
    assert build({"pid1": "^sleep 1004$"}).wants(snap(INNER)) == NOTHING
    assert build({"pid1": {"cmdline": "^sleep 1004$", "own_proc": True}}).wants(snap(INNER)) == \
        Wants(own_proc=frozenset({40}))
    assert build({"procfs": {"cmdline": "^app-b"}}).wants(snap(JOINED)) == Wants(own_proc=frozenset({41}))


def test_own_proc_verdicts():
    spec = {"pid1": {"cmdline": "^sleep 1004$", "own_proc": True}}
    v = grade(spec, proc_snap({40: ProcView(pids=(1, 2), shows_as=1)}))
    assert v.passed and v.observed.endswith("/proc as it sees it lists 2 processes, itself as pid 1")
    assert v.evidence["proc_pids"] == [1, 2]
    v = grade(spec, proc_snap({40: ProcView(pids=(1, 40, 41), shows_as=40)}))
    assert "itself under its host pid 40: it is the host's /proc" in v.observed
    assert "nsenter --target 40 --pid --mount mount -t proc proc /proc" in v.message
    v = grade(spec, proc_snap({40: ProcView()}))
    assert "lists no processes (no procfs is mounted there)" in v.observed
    v = grade(spec, proc_snap({40: ProcView(gone=True)}))
    assert v.observed.endswith("exited while nstutor was looking") and "start it again" in v.message
    v = grade(spec, proc_snap({40: ProcView(error="Permission denied")}))
    assert "nstutor could not list /proc/40/root/proc: Permission denied" in v.message
    assert grade(spec, snap(INNER)).observed == "not observed"


def test_procfs_verdicts():
    spec = {"procfs": {"cmdline": "^app-b"}}
    v = grade(spec, proc_snap({41: ProcView(pids=(1, 7), shows_as=7)}))
    assert v.passed and "itself as pid 7 (pid 41 on the host)" in v.observed
    v = grade(spec, proc_snap({41: ProcView(pids=(1, 40, 41), shows_as=41)}))
    assert "it is the host's /proc" in v.message and "nsenter --target 41 --pid --mount" in v.message


# --------------------------------------------------------------- observe answers only what is asked
def test_answer_reads_only_what_was_asked():
    base = snap(APP)
    assert answer(base, NOTHING) is base
    asked = []
    s = answer(base, lambda standing: Wants(nat=standing is base), read_nat=lambda: asked.append(1) or NatRead(()))
    assert asked == [1] and s.nat == NatRead(()) and s.files == {} and s.own_proc == {}
    s = answer(base, Wants(files=frozenset({(999999, "/x")}), own_proc=frozenset({999999})))
    assert s.files == {} and s.own_proc == {} and s.nat is None     # a pid the snapshot does not have


def test_wants_of_joins_every_expectation_and_survives_a_broken_one():
    class Broken:
        def wants(self, snap):
            raise RuntimeError("bug")
    exps = [build({"masquerade": {"source": SRC}}), Broken(),
            build({"pid1": {"cmdline": "^sleep 1004$", "own_proc": True}})]
    assert wants_of(exps)(snap(INNER)) == Wants(nat=True, own_proc=frozenset({40}))
