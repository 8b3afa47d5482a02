"""shared_read.read_chunks: every chunk comes back once, in order, whoever read it; the caller
never depends on its forked helper (dead, never started, or not wanted)."""
from __future__ import annotations

import os
import threading
import time

import pytest

from tutor.observe import shared_read


def _slow_read(chunk: int) -> list:
    """A chunk's result names who read it; slow enough that the helper gets its share."""
    time.sleep(0.01)
    return [chunk, os.getpid()]


def test_every_chunk_once_in_order_and_the_helper_reads_some():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: read_chunks reads alone")
    results = shared_read.read_chunks(list(range(40)), _slow_read)
    assert [r[0] for r in results] == list(range(40))
    readers = {r[1] for r in results}
    assert os.getpid() in readers                 # the caller always reads the first chunk
    assert readers - {os.getpid()}, "the forked helper delivered nothing"
    assert results[-1][1] != os.getpid()          # it starts from the end


def test_finish_runs_in_the_caller_on_every_chunk():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: read_chunks reads alone")
    finished_in = []

    def finish(result):
        finished_in.append(os.getpid())
        return tuple(result)

    results = shared_read.read_chunks(list(range(20)), _slow_read, finish)
    assert [r[0] for r in results] == list(range(20)) and all(isinstance(r, tuple) for r in results)
    assert finished_in == [os.getpid()] * 20


def test_a_helper_that_dies_costs_nothing_but_its_share():
    parent = os.getpid()

    def read(chunk: int) -> list:
        if os.getpid() != parent and chunk < 35:
            os._exit(3)                           # the helper dies after delivering a few
        time.sleep(0.005)
        return [chunk]

    assert shared_read.read_chunks(list(range(40)), read) == [[c] for c in range(40)]


def test_no_helper_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        results = shared_read.read_chunks(list(range(10)), _slow_read)
    finally:
        stop.set()
        other.join()
    assert [r[1] for r in results] == [os.getpid()] * 10


def test_no_helper_when_fork_fails(monkeypatch):
    def refuse():
        raise OSError(11, "fork refused")

    monkeypatch.setattr(shared_read.os, "fork", refuse)
    results = shared_read.read_chunks(list(range(10)), _slow_read)
    assert [r for r in results] == [[c, os.getpid()] for c in range(10)]


def test_the_helper_is_reaped():
    shared_read.read_chunks(list(range(20)), _slow_read)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)                # no child of ours is left, not even a zombie


def test_a_cold_snapshot_with_the_helper_is_the_one_read_alone(monkeypatch):
    """take_snapshot() with its helper (processes read from both ends, the named netns dumped and
    built ahead) describes what one read alone describes (processes that lived through both)."""
    from tutor.observe import take_snapshot
    shared = take_snapshot()
    monkeypatch.setattr(shared_read, "_worth_forking", lambda: False)
    alone = take_snapshot()

    def facts(proc):
        return proc.ppid, proc.cmdline, proc.uid, dict(proc.ns), proc.nspid, proc.root, proc.cgroup

    both = [pid for pid in shared.processes if pid in alone.processes
            and shared.processes[pid].start_ticks == alone.processes[pid].start_ticks]
    assert len(both) > len(alone.processes) // 2
    assert {p: facts(shared.processes[p]) for p in both} == {p: facts(alone.processes[p]) for p in both}
    assert list(shared.processes) == sorted(shared.processes)
    assert shared.netns.keys() == alone.netns.keys()
    for inode, ns in alone.netns.items():
        other = shared.netns[inode]
        assert (other.names, other.is_host, other.links, other.addresses, other.routes) == \
               (ns.names, ns.is_host, ns.links, ns.addresses, ns.routes)
