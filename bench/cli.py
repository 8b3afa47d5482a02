#!/usr/bin/env python3
"""Benchmark: how fast the command line answers, beside the classic tools on the same machine.

1. The catalog, in-process: `load_catalog()` of every shipped lesson (in the language given, and
   in Korean, which also parses the English it keeps the checks of), after the imports:
   * cold: the parse cache empty (a first run, or the first run after nstutor or a lesson changed);
   * warm: read back from the parse cache (tutor/lessons/parse_cache.py), as every later run does.
2. Whole processes, what a learner types, median of --runs each (the first, cold-cache run is
   reported apart):
   * `nstutor list`;
   * `nstutor check netns-veth --no-probe` (a snapshot of the machine, grading every step);
   * for scale, `lsns` and `ip -all netns exec ip -br addr`.
   nstutor is this checkout's (`python -m tutor` from the repository, as bench/app.py runs it), with
   its modules compiled to bytecode first, as pip does when it installs nstutor. Progress and the
   parse cache live in temporary directories (never those of whoever runs the bench).

The last line is machine-readable:
    catalog_ms=<warm, median> list_ms=<median> check_ms=<median> lsns_ms=<median> ip_ms=<median>
Targets (issue 18): catalog < 50 ms, list < 300 ms, check < 400 ms.
Exit status: 0 measured; 1 a command failed or printed what it should not; 2 cannot start (not root,
a tool missing).

Run as root from the repository:   sudo /opt/nstutor/bin/python bench/cli.py
Quicker:                           ... bench/cli.py --runs 3
"""
from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHECK_LESSON = "netns-veth"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(argv: list[str], env: dict, ok_codes=(0,), expect: str = "") -> float:
    """Seconds for one run of *argv*; raises RuntimeError when it fails or does not say *expect*."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - started
    if done.returncode not in ok_codes or expect not in done.stdout or "Traceback" in done.stderr:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-800:]}{done.stderr[-800:]}")
    return took


def catalog_figures(runs: int, cache: Path, language: str) -> tuple[float, float]:
    """(cold ms, warm median ms) of load_catalog() in this process."""
    from tutor.lessons import load_catalog
    os.environ["NSTUTOR_CACHE_DIR"] = str(cache)
    shutil.rmtree(cache, ignore_errors=True)
    started = time.perf_counter()
    catalog = load_catalog(language=language)
    cold = time.perf_counter() - started
    if len(catalog.lessons) < 2 or catalog.problems:
        raise RuntimeError(f"the catalog has {len(catalog.lessons)} lessons and {len(catalog.problems)} problems")
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        again = load_catalog(language=language)
        warm.append(time.perf_counter() - started)
        if [l.id for l in again.lessons] != [l.id for l in catalog.lessons]:
            raise RuntimeError("the catalog read from the cache is not the one parsed")
    return cold * 1000, median_ms(warm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs of each command (default 21)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/cli.py: run it as root (nstutor check reads every namespace)", file=sys.stderr)
        return 2
    for tool in ("lsns", "ip"):
        if shutil.which(tool) is None:
            print(f"bench/cli.py: {tool} is not installed", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="nstutor-bench-cli-"))
    try:
        return measure(args.runs, work)
    except RuntimeError as err:
        print(f"bench/cli.py: could not measure: {err}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(runs: int, work: Path) -> int:
    compiled = compileall.compile_dir(str(REPO / "tutor"), quiet=1, force=False)
    language = os.environ.get("NSTUTOR_LANG") or "en"
    env = dict(os.environ, NSTUTOR_DATA_DIR=str(work / "data"), NSTUTOR_CACHE_DIR=str(work / "cache"),
               NSTUTOR_LANG=language, PYTHONPATH=str(REPO))
    nstutor = [sys.executable, "-m", "tutor"]
    print(f"nstutor from {REPO} (bytecode {'compiled' if compiled else 'NOT compiled'}), "
          f"language {language}, {runs} runs of each, {os.cpu_count()} CPUs")

    cold, warm = catalog_figures(runs, work / "catalog-cache", language)
    cold_ko, warm_ko = catalog_figures(runs, work / "catalog-cache-ko", "ko")
    print(f"catalog in-process   cold {cold:7.1f} ms   warm {warm:6.1f} ms   (Korean: cold {cold_ko:.1f}, "
          f"warm {warm_ko:.1f})")

    first_list = timed(nstutor + ["list"], env, expect=CHECK_LESSON) * 1000      # fills the cache
    # check exits 1 when a step fails, as on a machine where the lesson is not done yet
    check = [timed(nstutor + ["check", CHECK_LESSON, "--no-probe"], env, ok_codes=(0, 1), expect=CHECK_LESSON)
             for _ in range(runs)]
    listing = [timed(nstutor + ["list"], env, expect=CHECK_LESSON) for _ in range(runs)]
    lsns = [timed(["lsns"], env, expect="NS") for _ in range(runs)]
    ip_all = [timed(["ip", "-all", "netns", "exec", "ip", "-br", "addr"], env) for _ in range(runs)]
    netns = len(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else 0

    rows = [("nstutor list", listing, f"(first run, cache empty: {first_list:.0f} ms)"),
            (f"nstutor check {CHECK_LESSON} --no-probe", check, ""),
            ("lsns", lsns, ""),
            (f"ip -all netns exec ip -br addr ({netns} netns)", ip_all, "")]
    for name, samples, note in rows:
        ordered = sorted(samples)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000
        print(f"{name:45} median {median_ms(samples):7.1f} ms   p90 {p90:7.1f} ms  {note}")
    print(f"catalog_ms={warm:.1f} list_ms={median_ms(listing):.1f} check_ms={median_ms(check):.1f} "
          f"lsns_ms={median_ms(lsns):.1f} ip_ms={median_ms(ip_all):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
