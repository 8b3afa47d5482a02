"""The benchmarks run, at toy scale, on a machine where nstutor has never started (no learner name yet)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent
LAST_LINE = re.compile(r"^first_frame_ms=(\d+) idle_cpu_pct=([\d.]+) rss_mb=([\d.]+) first_start_ms=(\d+) "
                       r"change_p95_ms=(\d+) probe_p95_ms=(\d+)$")
LESSON_NETNS = ("RED", "BLUE")          # netns-veth's own: bench/app.py makes and deletes them


def test_bench_app_measures_a_first_start_at_toy_scale(tmp_path):
    """A first start shows the name dialog, which takes every key typed, q included: the bench
    answers it as a new learner would, and still measures every start, the idle loop, and the
    latency of the lesson's changes and of its ping step; it deletes the RED and BLUE it made."""
    netns_now = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    if any(name.startswith("nsb-") for name in netns_now):
        pytest.skip("another benchmark run's nsb-* netns exist now (the bench refuses to share them)")
    if any(name in LESSON_NETNS for name in netns_now):
        pytest.skip("a netns RED or BLUE exists now (the bench makes and deletes the lesson's own)")
    fresh = tmp_path / "data"
    fresh.mkdir()
    env = dict(os.environ, XDG_DATA_HOME=str(fresh), NSTUTOR_DATA_DIR=str(fresh / "nstutor"))
    res = subprocess.run([sys.executable, "bench/app.py", "--runs", "2", "--idle", "5", "--warmup", "1",
                          "--netns", "2", "--procs", "10", "--bridges", "1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    last = res.stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, f"last line is not the machine-readable one: {last!r}\n{out}"
    first_frame, cpu, rss, first_start, change_p95, probe_p95 = map(float, match.groups())
    assert 0 < first_frame < 30_000 and 0 < first_start < 30_000 and 0 <= cpu < 100 and 0 < rss < 1024, last
    # the bench fails (exit 1) when a change is not shown within 10 s
    assert 0 <= change_p95 <= 10_000 and 0 <= probe_p95 <= 10_000, last
    assert "run 1 (first start, the name dialog): " in out and "answered it" in out, out
    assert out.count(" shown after ") == 20 + 10, out
    assert "lesson lab: deleted netns RED, BLUE" in out, out
    left = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    assert not any(name in LESSON_NETNS for name in left), left
    assert list(fresh.iterdir()) == [], "the bench wrote into the progress store of whoever ran it"


SNAPSHOT_LAST_LINE = re.compile(r"^snapshot_ms=([\d.]+) tools_ms=([\d.]+) ratio=([\d.]+) cold_ms=([\d.]+) "
                                r"cold_ratio=([\d.]+)$")
CONTAINERS_LINE = re.compile(r"containers +warm snapshot ([\d.]+) ms with 0 \(phases [\d., ]+\), ([\d.]+) ms with 2 "
                             r"\(phases [\d., ]+\): ([+-][\d.]+) ms for 2 containers")


def test_bench_snapshot_runs_at_toy_scale_with_two_containers():
    """bench/snapshot.py end to end, small: the classic tools beside the Observer, and the
    containers case on a dockerd of its own (as the engine tests start one), all removed after."""
    from docker_host import missing_reason, running_dockerd
    if any(name.startswith("nsb-") for name in os.listdir("/run/netns") if os.path.isdir("/run/netns")):
        pytest.skip("another benchmark run's nsb-* netns exist now (the bench refuses to share them)")
    reason = missing_reason() or (running_dockerd() and "a dockerd the tests did not start is running")
    containers = "0" if reason else "2"
    res = subprocess.run([sys.executable, "bench/snapshot.py", "--netns", "3", "--procs", "12", "--bridges", "2",
                          "--iterations", "2", "--cold", "1", "--containers", containers],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    last = res.stdout.strip().splitlines()[-1]
    match = SNAPSHOT_LAST_LINE.match(last)
    assert match, f"last line is not the machine-readable one: {last!r}\n{out}"
    warm, tools, ratio, cold, cold_ratio = map(float, match.groups())
    assert 0 < warm < 10_000 and 0 < tools < 60_000 and ratio > 0 and 0 < cold < 60_000 and cold_ratio > 0, last
    assert "cleanup: killed 12 processes, deleted 4 netns" in out, out
    if containers == "2":
        found = CONTAINERS_LINE.search(out)
        assert found and 0 < float(found[1]) < 10_000 and 0 < float(found[2]) < 10_000, out
        assert abs(float(found[3])) < 10_000, out
        assert "what they add, by part" in out, out
    leftovers = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "nsb-" not in leftovers, leftovers


CLI_LAST_LINE = re.compile(r"^catalog_ms=([\d.]+) list_ms=([\d.]+) check_ms=([\d.]+) lsns_ms=([\d.]+) "
                           r"ip_ms=([\d.]+)$")


def test_bench_cli_runs_at_toy_scale(tmp_path):
    """bench/cli.py end to end, two runs of each command: it completes, its last line parses, and it
    leaves the progress store and the parse cache of whoever ran it alone."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"))
    env.pop("NSTUTOR_DATA_DIR", None)
    env.pop("NSTUTOR_CACHE_DIR", None)
    res = subprocess.run([sys.executable, "bench/cli.py", "--runs", "2"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    match = CLI_LAST_LINE.match(res.stdout.strip().splitlines()[-1])
    assert match, out
    catalog, listing, check, lsns, ip_all = map(float, match.groups())
    assert 0 < catalog < 30_000 and 0 < listing < 30_000 and 0 < check < 30_000 and lsns > 0 and ip_all > 0, out
    assert "nstutor check netns-veth --no-probe" in out and "lsns" in out, out
    assert list(home.iterdir()) == [], "the bench wrote into the home of whoever ran it"
