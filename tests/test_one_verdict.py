"""One verdict: the app's live loop and a fresh `nstutor check` never disagree.

The live loop keeps one Observer for as long as the app runs; `nstutor check` starts from nothing.
The Observer may only keep what cannot change while it keeps it (see tutor/observe/netlink.py and
processes.py), so after any change has settled the two must give the same verdict, step by step.

Two kinds of test:
  * the ways a long-lived Observer went stale, each reproduced on the real kernel with unique names
    (a veth's peer moved after the first look, a process that changed namespace without exec, a
    listener opened in a netns by a process living in another one, a listener handed to a child);
  * a randomized one: the real commands of lessons netns-veth, bridge and pod, typed into one learner
    shell in random orders with random pauses and a few slips, through one long-lived LiveChecker
    (the app's loop, with its own Observer). After each command, the live verdict of every step is
    compared with a fresh check of the same state. These use the lessons' own object names, so they
    clean up with the lessons' own cleanup before and after.

NSTUTOR_PARITY_SEQUENCES (default 2) sets how many random sequences each lesson gets;
NSTUTOR_PARITY_SEED replays one run (every failure prints its seed).
"""
from __future__ import annotations

import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import sh, wait_until
from tutor.checks.runner import grade_step
from tutor.grade import snapshot_for
from tutor.lessons.catalog import load_catalog
from tutor.lessons.cleanup import run_cleanup
from tutor.observe import Observer, take_snapshot

pytestmark = pytest.mark.needs_root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ helpers
def _ns_named(snap, name):
    return next((ns for ns in snap.netns.values() if name in ns.names), None)


def _peer_of(snap, netns_name, link_name):
    ns = _ns_named(snap, netns_name)
    link = next((l for l in ns.links if l.name == link_name), None) if ns else None
    if link is None:
        return None
    peer_ns = snap.netns.get(link.peer_netns) if link.peer_netns else None
    return (peer_ns.names[0] if peer_ns and peer_ns.names else link.peer_netns, link.peer_name)


def _catches(pid: int, sig: int) -> bool:
    """Has *pid* installed a handler for *sig* yet (SigCgt in /proc/PID/status)?"""
    with open(f"/proc/{pid}/status") as f:
        caught = next(int(l.split()[1], 16) for l in f if l.startswith("SigCgt:"))
    return bool(caught & (1 << (sig - 1)))


@pytest.fixture
def observer():
    obs = Observer()
    yield obs
    obs.close()


# ------------------------------------------------------------------ staleness, one way at a time
def test_a_veth_peer_moved_after_the_first_look_is_seen_at_once(observer, netns, uid):
    """The walk-through's reproduction: RED and BLUE, a veth made in the host, one end moved into RED,
    then the other into BLUE, the Observer looking in between. Moving the second end sends RED no
    event, and RED had no id for BLUE yet when the Observer first asked."""
    red, blue = netns("R"), netns("B")
    a, b = f"{uid}a", f"{uid}b"
    for cmd in (f"ip link add {a} type veth peer name {b}", f"ip link set {a} netns {red}",
                f"ip link set {b} netns {blue}"):
        sh(cmd)
        for _ in range(3):
            observer.snapshot()
    assert _peer_of(take_snapshot(), red, a) == (blue, b)          # what a fresh check sees
    assert _peer_of(observer.snapshot(), red, a) == (blue, b)      # the live view, at its next look
    assert _peer_of(observer.snapshot(), red, a) == (blue, b)      # and it stays right


def test_a_process_that_changes_namespace_without_exec_is_seen(observer, spawn, uid):
    """unshare(2) from a running process, no exec: same pid, start time and comm as before."""
    script = textwrap.dedent("""
        import ctypes, os, signal, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        def go(*_):
            if libc.unshare(0x04000000) != 0:      # CLONE_NEWUTS
                sys.exit(3)
        signal.signal(signal.SIGUSR1, go)
        while True:
            time.sleep(0.05)
    """)
    proc = spawn([sys.executable, "-c", script, f"nsv-{uid}"])
    wait_until(lambda: _catches(proc.pid, signal.SIGUSR1), what="the process to be ready")
    host_uts = os.stat("/proc/self/ns/uts").st_ino
    assert observer.snapshot().processes[proc.pid].ns["uts"] == host_uts
    os.kill(proc.pid, signal.SIGUSR1)
    wait_until(lambda: os.stat(f"/proc/{proc.pid}/ns/uts").st_ino != host_uts, what="the unshare")
    new_uts = os.stat(f"/proc/{proc.pid}/ns/uts").st_ino
    assert take_snapshot().processes[proc.pid].ns["uts"] == new_uts
    assert observer.snapshot().processes[proc.pid].ns["uts"] == new_uts


_LISTEN_FROM_OUTSIDE = textwrap.dedent("""
    import ctypes, os, socket, sys, time
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(sys.argv[1], os.O_RDONLY)
    time.sleep(float(sys.argv[3]))
    assert libc.setns(fd, 0x40000000) == 0          # CLONE_NEWNET
    s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[2]))); s.listen()
    assert libc.setns(home, 0x40000000) == 0        # back home: the listener stays in the other netns
    time.sleep(600)
""")


def test_a_listener_opened_from_another_netns_is_seen_at_once(observer, netns, spawn, uid):
    """A process living in the host's netns opens a listener inside another netns (setns there and
    back). Nothing runs in that netns, yet its sockets changed."""
    ns = netns("L")
    observer.snapshot()
    proc = spawn([sys.executable, "-c", _LISTEN_FROM_OUTSIDE, f"/run/netns/{ns}", "8471", "0.3"])
    wait_until(lambda: "8471" in sh(f"ip netns exec {ns} ss -ltnH").stdout, what="the listener")
    for _ in range(3):
        observer.snapshot()                                 # the Observer has looked since, more than once
    fresh = [s.port for s in _ns_named(take_snapshot(), ns).sockets]
    live = [s.port for s in _ns_named(observer.snapshot(), ns).sockets]
    assert fresh == [8471] and live == fresh
    proc.kill()
    proc.wait()
    wait_until(lambda: "8471" not in sh(f"ip netns exec {ns} ss -ltnH").stdout, what="the listener to close")
    assert [s.port for s in _ns_named(observer.snapshot(), ns).sockets] == []


_HAND_OVER = textwrap.dedent("""
    import os, signal, socket, sys, time
    s = socket.socket(); s.bind(("127.0.0.1", 8472)); s.listen()
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    signal.sigwait([signal.SIGUSR1])    # the parent lets go of the listener by exiting
""")


def test_the_holder_of_a_listener_follows_a_hand_over(observer, netns, spawn, uid):
    """A listener made by a parent that forks and then exits: the child alone holds it now."""
    ns = netns("H")
    parent = spawn(["ip", "netns", "exec", ns, sys.executable, "-c", _HAND_OVER])
    wait_until(lambda: "8472" in sh(f"ip netns exec {ns} ss -ltnH").stdout, what="the listener")

    def holders(snap):
        socks = _ns_named(snap, ns).sockets
        return socks[0].pids if socks else ()

    wait_until(lambda: len(holders(observer.snapshot())) == 2, what="parent and child holding it")
    os.kill(parent.pid, signal.SIGUSR1)
    parent.wait(timeout=5)
    fresh = holders(take_snapshot())
    assert len(fresh) == 1 and parent.pid not in fresh
    assert holders(observer.snapshot()) == fresh


# ------------------------------------------------------------------ the randomized comparison
class LearnerShell:
    """One bash, fed line by line like a learner types: variables set by one line stay for the next."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     start_new_session=True, cwd="/tmp")
        self.count = 0

    def type(self, line: str, timeout: float = 20.0) -> str:
        self.count += 1
        marker = f"__nstutor_done_{self.count}__"
        self.proc.stdin.write(f"{line}\necho {marker}\n")
        self.proc.stdin.flush()
        # raw reads of the pipe (a buffered readline would hide lines from select)
        fd, out, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + timeout
        # poll, not select: the Observer in this process keeps descriptors numbered over 1024
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while f"{marker}\n".encode() not in out:
            if not poller.poll(max(deadline - time.monotonic(), 0) * 1000):
                raise AssertionError(f"the shell did not finish within {timeout}s: {line}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"the shell exited while running: {line}")
            out += chunk
        return out.decode(errors="replace").split(marker)[0]

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)


class LiveVerdicts:
    """The app's live loop (LiveChecker with its own long-lived Observer), collecting what it delivers."""

    def __init__(self, probes: bool = False, **options) -> None:
        from tutor.app.live_checker import LiveChecker
        self._cond = threading.Condition()
        self._latest = None
        self.checker = LiveChecker(self._deliver, probes=probes, interval=0.5, **options)
        self.checker.start()

    def _deliver(self, update) -> None:
        with self._cond:
            self._latest = update
            self._cond.notify_all()

    def after(self, moment: float, lesson_id: str, timeout: float = 10.0):
        """The first delivered round whose snapshot was started after *moment* (monotonic)."""
        self.checker.request()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                u = self._latest
                if u is not None and u.snap is not None and u.lesson_id == lesson_id and u.snap.monotonic > moment:
                    return u
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the live loop delivered nothing new in time")
                self._cond.wait(left)

    def close(self) -> None:
        self.checker.stop()


def _outcome(results, without_probes: bool = False) -> tuple:
    """Each step's verdicts as comparable data. *without_probes*: leave the probe verdicts out (the app
    probes on its own schedule; a --no-probe check does not probe at all)."""
    out = []
    for r in results:
        verdicts = tuple((v.kind, v.passed, v.message) for v in r.verdicts
                         if not (without_probes and v.kind == "reachable"))
        out.append((r.id, all(v[1] for v in verdicts), verdicts))
    return tuple(out)


def _fresh(lesson) -> tuple:
    snap = snapshot_for(lesson.steps)          # what `nstutor check` takes
    return _outcome(grade_step(step, snap, probes=False, lesson=lesson) for step in lesson.steps)


#: Slips a learner makes on the way (each undoes part of the lesson), mixed into the commands.
SLIPS = {
    "netns-veth": ["ip netns del BLUE", "ip -n RED link set veth0 down", "ip -n RED addr flush dev veth0",
                   "ip link add veth0 type veth peer name veth1", "ip netns add red"],
    "bridge": ["ip link set veth-c1 nomaster", "ip link set nsbr0 down", "ip netns del c2",
               "ip -n c1 route flush default"],
    "pod": ["pkill -x -n pause", "pkill -f '^app-b'", "nsenter --target $(pgrep -n -x pause) --uts hostname web"],
}


#: Lessons whose ```sh blocks hold only one-shot commands (no interactive shell, nothing that waits):
#: the learner's pool is then everything the text shows, other ways included (lesson 10's veth made in
#: the host and moved end by end), not only the reference solutions.
FROM_TEXT = {"netns-veth", "bridge"}
#: What those other ways and the slips can leave behind that the lesson's cleanup does not declare:
#: host links and netns. The test skips if any of them exists before it starts.
LEFTOVERS = {"netns-veth": {"links": ("veth0", "veth1"), "netns": ("red",)}}


def _commands(lesson, from_text: bool = False) -> list[str]:
    """Every command of every step's reference solution (and, *from_text*, of the lesson's ```sh
    blocks): a line, or the lines that together make one complete command (a quote or loop spanning
    lines), the way an interactive shell reads them. Pings are bounded (one packet, one second)."""
    sources = [step.solution for step in lesson.steps]
    if from_text:
        sources += re.findall(r"^```sh\n(.*?)^```", lesson.body, flags=re.S | re.M)
    out = []
    for text in sources:
        pending = ""
        for line in text.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            if pending.strip() and _complete(pending):
                if not pending.lstrip().startswith("#"):
                    out.append(re.sub(r"\bping -c 1 (?!-W)", "ping -c 1 -W 1 ", pending))
                pending = ""
        assert not pending.strip(), f"{lesson.id}: an incomplete command: {pending!r}"
    return out


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    return subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True).returncode == 0


def _compare(live: LiveVerdicts, lesson, attempts: int = 6):
    """(live, fresh) outcomes of one settled state: a fresh check before and after the live round agree,
    so nothing changed around it. None if the machine never held still (a restart loop, say)."""
    for _ in range(attempts):
        started = time.monotonic()
        before = _fresh(lesson)
        update = live.after(started, lesson.id)
        after = _fresh(lesson)
        if before == after:
            return _outcome(update.results), before
    return None


def _firewall() -> list[str]:
    """The host's rules and policies (iptables-save without counters and the comment lines). A table
    with nothing in it (built-in chains, policy ACCEPT, no rule) is left out: iptables-nft makes one
    the first time any rule is added, and it stays, empty, after the rule is deleted; it filters nothing."""
    res = subprocess.run(["iptables-save"], capture_output=True, text=True)
    lines = [re.sub(r"\s*\[\d+:\d+\]", "", l) for l in res.stdout.splitlines() if l and not l.startswith("#")]
    out, table = [], []
    for line in lines:
        table.append(line)
        if line == "COMMIT":
            empty = all(l.startswith("*") or l == "COMMIT" or re.fullmatch(r":(INPUT|FORWARD|OUTPUT|PREROUTING|"
                                                                        r"POSTROUTING) ACCEPT", l) for l in table)
            if not empty:
                out.extend(table)
            table = []
    return out


def _tables() -> set[str]:
    res = subprocess.run(["iptables-save"], capture_output=True, text=True)
    return {l[1:] for l in res.stdout.splitlines() if l.startswith("*")}


def _drop_empty_table(name: str) -> None:
    """Remove an iptables-nft table this test's commands created, if it holds nothing at all."""
    res = subprocess.run(["iptables-save", "-t", name], capture_output=True, text=True)
    if (shutil.which("nft") and res.returncode == 0 and res.stdout.strip() and "\n-A " not in res.stdout
            and "DROP" not in res.stdout):
        subprocess.run(["nft", "delete", "table", "ip", name], capture_output=True)


def _cleanup(lesson):
    log = run_cleanup(lesson)
    assert log.ok, log.errors
    left = LEFTOVERS.get(lesson.id, {})
    for name in left.get("links", ()):
        sh(f"ip link del {name}", check=False)
    for name in left.get("netns", ()):
        sh(f"ip netns del {name}", check=False)


@pytest.mark.parametrize("lesson_id", ["netns-veth", "bridge", "pod"])
def test_the_live_verdict_equals_a_fresh_check_in_random_orders(lesson_id, record_property):
    lesson = load_catalog().find(lesson_id)
    snap, left = take_snapshot(), LEFTOVERS.get(lesson_id, {})
    there = ({l.name for l in snap.netns[snap.host_ns["net"]].links} & set(left.get("links", ()))
             | {n for ns in snap.netns.values() for n in ns.names} & set(left.get("netns", ())))
    if there:
        pytest.skip(f"this machine already has {sorted(there)}: not touching them")
    sequences = int(os.environ.get("NSTUTOR_PARITY_SEQUENCES", "2"))
    seed = int(os.environ.get("NSTUTOR_PARITY_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    compared = unsettled = 0
    firewall, had_tables = _firewall(), _tables()
    live = LiveVerdicts()
    live.checker.set_lesson(lesson)
    try:
        for sequence in range(sequences):
            _cleanup(lesson)
            commands = _commands(lesson, from_text=lesson_id in FROM_TEXT)
            rng.shuffle(commands)
            for slip in SLIPS[lesson_id]:
                if rng.random() < 0.5:
                    commands.insert(rng.randrange(len(commands) + 1), slip)
            # the right order, after the shuffled one: every step ends up built at least once
            commands += _commands(lesson)
            shell = LearnerShell()
            try:
                for n, command in enumerate(commands):
                    shell.type(command)
                    time.sleep(rng.uniform(0.0, 0.6))    # a learner's pause between two commands
                    pair = _compare(live, lesson)
                    if pair is None:
                        unsettled += 1
                        continue
                    mine, fresh = pair
                    compared += len(fresh)
                    assert mine == fresh, (f"seed {seed}, sequence {sequence}, after command {n}: {command!r}\n"
                                           f"live:  {mine}\nfresh: {fresh}")
            finally:
                shell.close()
            # and the CLI itself, as a learner runs it, on the final state
            cli = subprocess.run([sys.executable, "-m", "tutor.cli", "check", lesson_id, "--json", "--no-probe"],
                                 cwd=REPO, capture_output=True, text=True, timeout=60)
            import json
            steps = json.loads(cli.stdout)["steps"]
            pair = _compare(live, lesson)
            if pair is not None:
                assert [(s["id"], s["passed"]) for s in steps] == [(r[0], r[1]) for r in pair[0]], f"seed {seed}"
    finally:
        live.close()
        _cleanup(lesson)
    assert _firewall() == firewall, "the lesson's cleanup left the host's firewall changed"
    if not had_tables & {"filter"}:
        _drop_empty_table("filter")      # a learner's slip made it (see _firewall): leave none behind
    print(f"{lesson_id}: {compared} step verdicts compared, 0 disagreements, {unsettled} unsettled states, seed {seed}")
    record_property("verdicts_compared", compared)
    assert compared > 0


def _reach_lesson(tmp_path, lesson_id: str, source: str, target: str):
    """A one-step lesson of our own whose step is one probe: *source* reaches *target*."""
    from tutor.lessons import parse_lesson
    path = tmp_path / f"01-{lesson_id}.md"
    path.write_text(f"---\nid: {lesson_id}\ntitle: A probe\n---\n# A probe\n\n```check\nid: reach\n"
                    f"title: {source} reaches {target}\nexpect:\n  - reachable: {{from: {source}, to: {target}}}\n```\n")
    lesson, problems = parse_lesson(path)
    assert lesson is not None, problems
    return lesson


def test_a_cached_probe_verdict_does_not_outlive_the_network_it_was_sent_through(netns, uid, tmp_path):
    """The live loop probes now and then and shows the last probe's verdict in between. When the
    network changes (here: the target's address is removed), it probes again within about a second,
    however long its regular probe interval is, so it never shows a reach that a check would deny."""
    a, b = netns("A"), netns("B")
    sh(f"ip link add {uid}a netns {a} type veth peer name {uid}b netns {b}")
    sh(f"ip -n {a} addr add 10.91.1.1/24 dev {uid}a && ip -n {b} addr add 10.91.1.2/24 dev {uid}b")
    sh(f"ip -n {a} link set {uid}a up && ip -n {b} link set {uid}b up")
    lesson = _reach_lesson(tmp_path, "probe", a, "10.91.1.2")
    live = LiveVerdicts(probes=True, probe_interval=600.0)
    live.checker.set_lesson(lesson)
    try:
        wait_until(lambda: live.after(time.monotonic(), "probe").results[0].passed, timeout=10,
                   what="the first probe to pass")
        sh(f"ip -n {b} addr del 10.91.1.2/24 dev {uid}b")
        assert not grade_step(lesson.steps[0], take_snapshot(), lesson=lesson).passed   # a fresh check
        changed = time.monotonic()
        wait_until(lambda: not live.after(time.monotonic(), "probe").results[0].passed, timeout=5,
                   what="the live verdict to follow the change")
        assert time.monotonic() - changed < 3.0
    finally:
        live.close()


# ------------------------------------------------------------------ the real app
async def test_the_app_agrees_with_a_fresh_check_through_the_walk_through(tmp_path):
    """The walk-through's reproduction in the real app (Pilot), on lesson netns-veth: the learner types
    the five commands a second or so apart in another shell; after each, every step the app shows
    must come to equal a fresh `nstutor check` within a few seconds (before the fix, step 2 stayed red
    with "cannot see the peer of veth0" while the check said PASS)."""
    from tutor.app.app import NstutorApp
    from tutor.app.screens.lesson import LessonScreen
    lesson = load_catalog().find("netns-veth")
    _cleanup(lesson)
    app = NstutorApp("netns-veth", store_path=tmp_path / "progress.db")
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            async def settle(what: str):
                deadline = time.monotonic() + 4.0
                while True:
                    snap = snapshot_for(lesson.steps)
                    fresh = _outcome((grade_step(step, snap, probes=False, lesson=lesson)
                                      for step in lesson.steps), without_probes=True)
                    screen = app.screen if isinstance(app.screen, LessonScreen) else None
                    shown = _outcome((s.result for s in screen.state.steps.values()), without_probes=True) if screen and all(
                        s.result is not None for s in screen.state.steps.values()) else None
                    if shown == fresh:
                        return
                    if time.monotonic() > deadline:
                        pytest.fail(f"after {what!r} the app shows\n{shown}\nbut a fresh check says\n{fresh}")
                    await pilot.pause(0.1)

            await settle("opening the lesson")
            for command in ("ip netns add RED", "ip netns add BLUE", "ip link add veth0 type veth peer name veth1",
                            "ip link set veth0 netns RED", "ip link set veth1 netns BLUE"):
                sh(command)
                await pilot.pause(1.0)          # the learner's pace, as in the walk-through
                await settle(command)
            assert app.screen.state.steps["cable"].passed
    finally:
        _cleanup(lesson)


def test_a_firewall_rule_is_followed_by_the_live_probe_within_seconds(netns, links, uid, tmp_path):
    """A firewall rule sends no rtnetlink event, yet it decides a probe: the live loop listens to
    nftables' own change events and probes again about a second later, instead of at its next
    regular probe (here 600 s away). The rule is the test's own: one address of its own subnet, a
    unique comment, removed afterwards."""
    ns = netns("F")
    sh(f"ip link add {uid}h type veth peer name {uid}c netns {ns}")
    links.append(f"{uid}h")
    sh(f"ip addr add 10.94.1.1/24 dev {uid}h && ip link set {uid}h up")
    sh(f"ip -n {ns} addr add 10.94.1.2/24 dev {uid}c && ip -n {ns} link set {uid}c up")
    lesson = _reach_lesson(tmp_path, "fw", "host", "10.94.1.2")
    rule = f"OUTPUT -d 10.94.1.2/32 -m comment --comment nstutor-test-{uid} -j DROP"
    had_tables = _tables()
    live = LiveVerdicts(probes=True, probe_interval=600.0)
    live.checker.set_lesson(lesson)
    try:
        wait_until(lambda: live.after(time.monotonic(), "fw").results[0].passed, timeout=10,
                   what="the first probe to pass")
        sh(f"iptables -I {rule}")
        changed = time.monotonic()
        wait_until(lambda: not live.after(time.monotonic(), "fw").results[0].passed, timeout=8,
                   what="the live verdict to follow the new rule")
        assert time.monotonic() - changed < 4.0
    finally:
        live.close()
        sh(f"while iptables -D {rule} 2>/dev/null; do :; done")
        if "filter" not in had_tables:
            _drop_empty_table("filter")
