"""Issue 18, observation by events (tutor/observe/events.py and the live loop that uses it): a
command a learner runs wakes the loop; what nstutor runs to observe does not; a netlink event in a
kept netns wakes it too, once per snapshot; without any event the safety-net round still sees the
change; and where the process events cannot be had, the loop goes back to looking every second."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import wait_until
from tutor.app import live_checker as live_module
from tutor.app.live_checker import LiveChecker
from tutor.lessons import load_catalog
from tutor.observe import events
from tutor.observe.events import ChangeWatch, ProcessFilter, open_process_events

pytestmark = pytest.mark.needs_root


def sh(command: str) -> None:
    subprocess.run(command, shell=True, check=True, capture_output=True)


class Wakes:
    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self) -> None:
        self.times.append(time.monotonic())

    def after(self, moment: float) -> list[float]:
        return [t for t in self.times if t >= moment]


# ------------------------------------------------------------------------------- process events
def test_the_process_events_are_subscribed_as_root():
    sock = open_process_events()
    sock.close()


def test_a_process_outside_the_initial_namespaces_or_without_root_gets_none():
    """As nobody the subscription is refused, and the watch says it is not live."""
    # /root, where this Python lives, is not readable by nobody: import first, then drop to it
    code = ("import os, sys\nsys.path.insert(0, %r)\n"
            "from tutor.observe.events import ChangeWatch\n"
            "os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
            "w = ChangeWatch(lambda: None); print('LIVE', w.live); w.close()\n") % str(os.getcwd())
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert "LIVE False" in res.stdout, res.stdout + res.stderr


def recorded(action) -> list[bytes]:
    """The raw process-event datagrams the kernel sent while *action* ran (the whole machine's)."""
    sock = open_process_events()
    try:
        action()
        time.sleep(0.05)                     # the last exit is queued before waitpid returns; margin
        out = []
        while True:
            try:
                out.append(sock.recv(1 << 16))
            except BlockingIOError:
                return out
    finally:
        sock.close()


def test_what_the_observing_thread_runs_is_not_a_change_but_what_the_learner_runs_is():
    pids: dict[str, list[int]] = {"observer": [], "learner": []}
    tids: list[int] = []

    def observing():
        tids.append(threading.get_native_id())
        proc = subprocess.Popen(["bash", "-c", "(/bin/true) & wait; /bin/true"])
        proc.wait()
        pids["observer"].append(proc.pid)

    def action():
        thread = threading.Thread(target=observing)
        thread.start()
        thread.join()
        proc = subprocess.Popen(["/bin/true"])
        proc.wait()
        pids["learner"].append(proc.pid)

    datagrams = recorded(action)
    watch_filter = ProcessFilter()
    watch_filter.observing.add(tids[0])
    verdicts = {"observer": [], "learner": []}
    for data in datagrams:
        what = events._EVENT_HEAD.unpack_from(data, events._EVENT_AT)[0]
        pid = events._PID_TGID.unpack_from(data, events._EVENT_AT + events._EVENT_HEAD.size)[0]
        matters = watch_filter.matters(data)
        for who, known in pids.items():
            if what in (events.PROC_EVENT_EXEC, events.PROC_EVENT_EXIT) and pid in known:
                verdicts[who].append(matters)
    # the observer's bash: exec and exit, all ignored; and its children (the subshell, true)
    assert verdicts["observer"] and not any(verdicts["observer"]), verdicts
    assert len(watch_filter.own - set(pids["observer"])) == 0, "descendants are forgotten once they exit"
    assert verdicts["learner"] == [True, True], verdicts          # its exec and its exit


def test_a_learners_command_wakes_the_watch():
    wakes = Wakes()
    watch = ChangeWatch(wakes)
    try:
        assert watch.live
        moment = time.monotonic()
        sh("/bin/true")
        wait_until(lambda: wakes.after(moment), timeout=5, what="a wake-up after a command")
    finally:
        watch.close()


# ------------------------------------------------------------------------------------ netlink
def no_process_events(monkeypatch):
    monkeypatch.setattr(events, "open_process_events", lambda: (_ for _ in ()).throw(OSError("off")))


def test_a_netlink_event_in_a_kept_netns_wakes_the_watch_and_the_next_snapshot_dumps_it(netns, monkeypatch):
    """With the process events off, only the Observer's netlink sockets can wake the watch: a link
    added in a netns it keeps does; the watch reads those events for the Observer, whose next
    snapshot dumps that netns again and shows the link."""
    from tutor.observe import Observer
    name = netns("cw")
    no_process_events(monkeypatch)
    wakes = Wakes()
    observer = Observer(on_change=wakes)
    try:
        assert observer.events_live is False        # no process events: netlink only
        observer.snapshot()                          # opens the netns's socket, and arms the watch
        moment = time.monotonic()
        sh(f"ip -n {name} link add {name}a type veth peer {name}b")
        wait_until(lambda: wakes.after(moment), timeout=5, what="a wake-up from the netlink event")
        wait_until(lambda: observer._changes.causes.get("netlink"), timeout=5, what="the events read")
        snap = observer.snapshot()
        assert any(l.name == f"{name}a" for ns in snap.netns.values() for l in ns.links)
    finally:
        observer.close()


def test_the_kernels_own_neighbour_churn_does_not_wake_but_an_entry_set_by_hand_does(netns, monkeypatch):
    """A neighbour entry in a learned state (what the kernel does by itself every few seconds on a
    busy network) is read but wakes nobody; a permanent one (`ip neigh add`, a learner's) does.
    The next snapshot shows both."""
    from tutor.observe import Observer
    name = netns("ng")
    sh(f"ip -n {name} link add {name}a type veth peer {name}b")
    sh(f"ip -n {name} addr add 10.251.0.1/24 dev {name}a")
    sh(f"ip -n {name} link set {name}a up")
    no_process_events(monkeypatch)
    wakes = Wakes()
    observer = Observer(on_change=wakes)
    try:
        observer.snapshot()
        time.sleep(0.3)                              # the link's own events (carrier, DAD) pass
        observer.snapshot()
        count, read_before = len(wakes.times), observer._changes.events_seen
        sh(f"ip -n {name} neigh add 10.251.0.7 lladdr 02:00:00:00:00:07 dev {name}a nud stale")
        time.sleep(0.5)
        assert len(wakes.times) == count, "a learned-state entry woke the loop"
        snap = observer.snapshot()
        assert any(n.ip == "10.251.0.7" for ns in snap.netns.values() for n in ns.neighbours), \
            "the snapshot after it does not show the entry: its events were read but not passed on"
        moment = time.monotonic()
        sh(f"ip -n {name} neigh add 10.251.0.8 lladdr 02:00:00:00:00:08 dev {name}a nud permanent")
        wait_until(lambda: wakes.after(moment), timeout=5, what="a wake-up from a permanent entry")
        assert observer._changes.events_seen > read_before
    finally:
        observer.close()


# ------------------------------------------------------------------------------ the live loop
class Rounds:
    """What a LiveChecker delivers, and a way to wait for a round that saw something."""

    def __init__(self) -> None:
        self.updates = []

    def __call__(self, update) -> None:
        self.updates.append(update)

    def seen(self, predicate, since: float):
        return next((u for u in self.updates if u.snap is not None and u.snap.monotonic >= since
                     and predicate(u.snap)), None)


def has_netns(name):
    return lambda snap: any(name in ns.names for ns in snap.netns.values())


def sees_a_new_netns(name: str, idle_interval: float, what: str) -> None:
    """A LiveChecker with this safety-net interval sees `ip netns add NAME` (a deadline of 10 s)."""
    rounds = Rounds()
    checker = LiveChecker(rounds, probes=False, run_without_lesson=True, idle_interval=idle_interval)
    checker.start()
    try:
        wait_until(lambda: rounds.updates, timeout=10, what="the first round")
        assert checker.events_live and checker.interval_for(None) == idle_interval
        moment = time.monotonic()
        sh(f"ip netns add {name}")
        wait_until(lambda: rounds.seen(has_netns(name), moment), timeout=10, what=what)
    finally:
        checker.stop()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_events_drive_the_loop_when_the_safety_net_is_far_away(uid):
    """idle_interval 60 s: a netns added is seen within seconds, so an event woke the loop."""
    sees_a_new_netns(f"{uid}ev", 60.0, "the new netns")


class DeadWatch:
    """A change watch that misses everything (but claims to be live)."""
    live = True

    def __init__(self, on_change) -> None:
        pass

    def observing_from(self, thread_id) -> None:
        pass

    def rearm(self, fds) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_safety_net_round_sees_what_no_event_announced(uid, monkeypatch):
    monkeypatch.setattr("tutor.observe.snapshot.ChangeWatch", DeadWatch)
    monkeypatch.setattr("tutor.observe.snapshot.NetnsDirWatcher", lambda callback: DeadWatch(callback))
    sees_a_new_netns(f"{uid}sn", 1.5, "the safety-net round")


def test_the_interval_follows_what_the_lesson_needs():
    catalog = load_catalog()
    checker = LiveChecker(lambda update: None, interval=1.0, idle_interval=5.0)
    checker.events_live = True
    assert checker.interval_for(catalog.find("netns-veth")) == 5.0
    cpu = next(l for l in catalog.lessons if any(e.needs_cpu_rate for s in l.steps for e in s.expectations))
    assert checker.interval_for(cpu) == 1.0              # a CPU rate needs regular samples
    checker.events_live = False
    assert checker.interval_for(catalog.find("netns-veth")) == 1.0


def test_after_a_network_change_probes_repeat_until_it_settles(monkeypatch):
    """A link just set up may drop the first probe: for PROBE_SETTLE seconds after the network
    changed, the loop comes back every PROBE_MIN_GAP to probe again, not only at probe_interval."""
    checker = LiveChecker(lambda update: None, probe_interval=30.0)
    lesson = load_catalog().find("netns-veth")
    assert checker._has_probes(lesson)
    checker._network_changed = time.monotonic()
    assert checker._settling(lesson)
    checker._network_changed = time.monotonic() - live_module.PROBE_SETTLE - 0.1
    assert not checker._settling(lesson)


def test_a_mount_in_a_kept_mount_table_wakes_the_watch(monkeypatch, spawn, tmp_path):
    """With the process events off, the kept /proc/PID/mountinfo (POLLPRI) is what wakes it."""
    from tutor.observe import Observer
    no_process_events(monkeypatch)
    target = tmp_path / "mnt"
    target.mkdir()
    proc = spawn("unshare --mount --propagation private sleep 1013")
    wakes = Wakes()
    observer = Observer(on_change=wakes)
    try:
        wait_until(lambda: any(p.pid == proc.pid for p in observer.snapshot().processes.values()), timeout=5,
                   what="the process in the snapshot")
        observer.snapshot()                          # every mount table kept and read: armed
        time.sleep(0.2)
        moment = time.monotonic()
        # nsenter is a process, but the process events are off: only the mount table can tell
        sh(f"nsenter -t {proc.pid} -m mount -t tmpfs nstutor-cw {target}")
        wait_until(lambda: wakes.after(moment), timeout=5, what="a wake-up from the mount table")
    finally:
        observer.close()


def test_a_new_cgroup_wakes_the_watch(monkeypatch):
    """mkdir in the cgroup tree, by this process itself (no process starts at all)."""
    from tutor.observe import Observer
    from tutor.observe.cgroups import cpu_hierarchy
    no_process_events(monkeypatch)
    wakes = Wakes()
    observer = Observer(on_change=wakes)
    mode, root = cpu_hierarchy()
    if root is None:
        pytest.skip(f"no cpu cgroup tree here ({mode})")
    path = os.path.join(root, f"nstutor-cw{os.getpid()}")
    try:
        observer.snapshot()
        observer.snapshot()                          # the tree's watch is set up by the first read
        if not observer._cgroups.event_fds():
            pytest.skip(f"no watch of the cgroup tree here ({mode}, {root})")
        time.sleep(0.2)
        moment = time.monotonic()
        os.mkdir(path)
        wait_until(lambda: wakes.after(moment), timeout=5, what="a wake-up from the cgroup tree")
    finally:
        observer.close()
        if os.path.isdir(path):
            os.rmdir(path)
