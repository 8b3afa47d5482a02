"""The lsns table (processes.namespace_table) on made-up processes: what a steady machine reuses
must still change the moment a count, a lowest process, or a netns name does."""
from __future__ import annotations

from dataclasses import replace

from tutor.observe.model import Process
from tutor.observe.processes import _intern, namespace_table

NET, UTS = 4026532901, 4026532902
NS = {"net": NET, "uts": UTS}


def process(pid: int, command: str) -> Process:
    return Process(pid, 1, command.split()[0], tuple(command.split()), "S", 0, _intern(dict(NS)))


def row(table, nstype: str):
    return next(r for r in table if r.type == nstype)


def test_the_same_processes_make_the_very_same_table():
    first = process(901, "sleep 901")
    table = namespace_table({901: first}, {})
    assert namespace_table({901: first}, {}) is table
    assert namespace_table({901: replace(first)}, {}) is table      # an equal process read again


def test_a_new_member_a_new_lowest_process_and_a_new_name_each_show_at_once():
    first, second = process(911, "sleep 911"), process(912, "sleep 912")
    table = namespace_table({911: first}, {})
    assert row(table, "net").nprocs == 1
    table = namespace_table({911: first, 912: second}, {})
    assert (row(table, "net").nprocs, row(table, "uts").nprocs) == (2, 2)
    renamed = replace(first, cmdline=("sleep", "9110"))             # the lowest one execs
    table = namespace_table({911: renamed, 912: second}, {})
    assert row(table, "net").command == "sleep 9110"
    table = namespace_table({912: second}, {})                       # and exits
    assert (row(table, "net").nprocs, row(table, "net").pid) == (1, 912)
    table = namespace_table({912: second}, {NET: ("RED",)})         # `ip netns attach RED 912`
    assert row(table, "net").names == ("RED",)
    table = namespace_table({912: second}, {})
    assert row(table, "net").names == ()
