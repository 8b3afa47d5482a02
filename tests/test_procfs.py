"""observe/procfs.py: the one /proc/PID/stat parser and the "still the same process" check.

The parser is tested on made-up stat lines (a comm with spaces and parentheses, lines cut short)
and on the kernel's own, for a process whose program file is named "a) (b". same_process is
tested on a real process that exits (first a zombie, then reaped): its pid must never be taken
for it again.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import wait_until
from tutor.observe import procfs
from tutor.observe.procfs import Stat, parse_stat, proc_path, read_stat, same_process

#: A stat line as the kernel writes it, for a comm of "a) (b" (fields 1-22, then more).
ODD = (b"4242 (a) (b) S 1 4242 4200 34816 4242 4194560 97 30 1 2 7 5 0 0 20 0 3 0 123456 "
       b"8216576 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")


def test_the_parser_counts_fields_from_the_last_parenthesis():
    assert parse_stat(ODD) == Stat(pid=4242, comm="a) (b", state="S", ppid=1, pgrp=4242, session=4200,
                                   cpu_ticks=12, threads=3, start_ticks=123456,
                                   child_faults=32)    # cminflt 30 + cmajflt 2, not its own 97 + 1
    assert not parse_stat(ODD).is_zombie
    assert parse_stat(b"7 ((x)) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0").comm == "(x)"
    assert parse_stat(b"7 ((x)) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0").is_zombie


@pytest.mark.parametrize("data", [b"", b"4242 (sleep", b"4242 sleep) S 1", b"4242 (sleep) S 1 2 3",
                                  b"x (sleep) S 1 4242 4200 34816 4242 4194560 97 0 0 0 7 5 0 0 20 0 3 0 12"])
def test_what_is_not_a_stat_line_parses_to_none(data):
    assert parse_stat(data) is None


def test_paths_and_reads_follow_the_one_root(tmp_path, monkeypatch):
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "stat").write_bytes(ODD)
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    assert proc_path(4242, "stat") == f"{tmp_path}/4242/stat" and proc_path() == str(tmp_path)
    assert read_stat(4242).comm == "a) (b"
    assert same_process(4242, 123456).pid == 4242
    assert same_process(4242, 123457) is None          # another process under the same pid
    assert read_stat(4243) is None


def test_the_kernels_stat_of_a_process_named_with_parentheses(tmp_path):
    program = tmp_path / "a) (b"
    shutil.copy(shutil.which("sleep"), program)
    proc = subprocess.Popen([str(program), "30"], stdin=subprocess.DEVNULL)
    try:
        stat = wait_until(lambda: read_stat(proc.pid), what="the process's stat")
        assert (stat.pid, stat.comm, stat.ppid, stat.threads) == (proc.pid, "a) (b", os.getpid(), 1)
        assert stat.state in "RS" and stat.start_ticks > 0
        assert read_stat(os.getpid()).session == os.getsid(0)
    finally:
        proc.kill()
        proc.wait()


def test_same_process_is_false_once_it_exits_and_after_it_is_reaped():
    proc = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        start = wait_until(lambda: read_stat(proc.pid), what="the process's stat").start_ticks
        assert same_process(proc.pid, start).pid == proc.pid
        assert same_process(proc.pid, start + 1) is None        # a reused pid has another start time
        assert same_process(proc.pid, 0) is not None            # start unknown: whoever holds the pid
        proc.kill()
        wait_until(lambda: getattr(read_stat(proc.pid), "is_zombie", False), what="the killed process to be a zombie")
        assert same_process(proc.pid, start) is None            # exited, not yet reaped
        assert read_stat(proc.pid).start_ticks == start         # ... though the pid still shows it
    finally:
        proc.kill()
        proc.wait()
    assert same_process(proc.pid, start) is None                # reaped: the pid is free (or another's)
