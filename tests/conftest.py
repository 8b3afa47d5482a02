"""Shared fixtures: real namespaces, links and processes, always cleaned up.

Every object a test makes carries a unique prefix (``nt`` + 4 random hex chars), so
tests never touch anything they did not create, and a crashed test run is easy to
clean by hand: ``ip netns list | grep ^nt``.
"""
from __future__ import annotations

import errno
import os
import secrets
import shlex
import signal
import subprocess
import tempfile
import time
from typing import Callable

import pytest

#: Podman's settings for this suite (runc + cgroupfs, ulimits within this VM's limits): every
#: podman a test starts, directly or through a lesson's commands, inherits it.
#: The suite reads English unless a test asks for another language (a developer's Korean locale or
#: `nstutor lang ko` must not change what the tests see); tests/test_translations.py sets its own.
os.environ.setdefault("NSTUTOR_LANG", "en")
os.environ.setdefault("CONTAINERS_CONF", os.path.join(os.path.dirname(os.path.abspath(__file__)), "containers.conf"))
#: The lesson parse cache of this run (tutor/lessons/parse_cache.py), not the one in the home of
#: whoever runs the tests; every nstutor a test starts inherits it.
if "NSTUTOR_CACHE_DIR" not in os.environ:
    _TEST_CACHE = os.environ["NSTUTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="nstutor-test-cache-")

    def pytest_unconfigure(config):
        import shutil
        shutil.rmtree(_TEST_CACHE, ignore_errors=True)
#: The pack trust records of this run (tutor/lessons/trust.py), never root's real ones: a test that
#: trusts a pack must not leave it trusted on the developer's machine. Folders of lessons named in
#: the developer's environment (NSTUTOR_LESSONS) are not this suite's.
os.environ.pop("NSTUTOR_LESSONS", None)
if "NSTUTOR_TRUST_DIR" not in os.environ:
    _TEST_TRUST = os.environ["NSTUTOR_TRUST_DIR"] = tempfile.mkdtemp(prefix="nstutor-test-trust-")
    import atexit
    import shutil as _shutil
    atexit.register(_shutil.rmtree, _TEST_TRUST, True)



def wait_until(condition: Callable[[], object], timeout: float = 5.0, interval: float = 0.02, what: str = "condition"):
    """Poll *condition* until it returns something truthy; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def rmdir_once_idle(directory: str) -> bool:
    """rmdir for a cgroup the kernel may still be emptying: True once it is gone, False while it
    is busy (EBUSY: poll it with wait_until); any other error fails the test."""
    try:
        os.rmdir(directory)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return True
        if exc.errno == errno.EBUSY:
            return False
        raise
    return True


def remove_cgroup(directory: str, root: str) -> None:
    """A test's cgroup undone: whatever is still inside moved back to *root* (the spawn fixture kills
    the processes later), then rmdir as soon as the kernel lets it. A cgroup already gone is fine."""
    try:
        with open(f"{directory}/cgroup.procs") as f:
            pids = f.read().split()
    except FileNotFoundError:
        pids = []
    for pid in pids:
        try:
            with open(f"{root}/cgroup.procs", "w") as out:
                out.write(pid)
        except OSError:
            pass                          # exited meanwhile
    wait_until(lambda: rmdir_once_idle(directory), what=f"rmdir {directory}")


def sh(cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a shell command (setup for a test); fail loudly with its stderr."""
    res = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise AssertionError(f"command failed ({res.returncode}): {cmd}\n{res.stderr}")
    return res


@pytest.fixture
def korean():
    """This test speaks Korean (the grader, the CLI run in-process, the app); English again after it,
    whatever happened (the suite runs in English: NSTUTOR_LANG=en)."""
    from tutor import i18n
    i18n.set_language("ko")
    try:
        yield
    finally:
        i18n.set_language("en")


@pytest.fixture
def uid() -> str:
    """A short unique tag for names (interface names are limited to 15 characters)."""
    return "nt" + secrets.token_hex(2)


@pytest.fixture
def netns(uid):
    """Factory: netns(suffix) creates netns '<uid><suffix>' and deletes it at teardown."""
    made: list[str] = []

    def make(suffix: str = "") -> str:
        name = f"{uid}{suffix}"
        sh(f"ip netns add {name}")
        made.append(name)
        return name

    yield make
    for name in reversed(made):
        sh(f"ip netns del {name}", check=False)


@pytest.fixture
def links():
    """Register host-netns links to delete at teardown: links.append('ntab12br')."""
    made: list[str] = []
    yield made
    for name in reversed(made):
        sh(f"ip link del {name}", check=False)


@pytest.fixture
def spawn():
    """Factory: spawn('unshare --uts sleep 1001') starts a process; killed (group) at teardown.

    *cmd* is a string split like a shell would (no shell runs), or an argv list; shell=True runs
    it through /bin/sh. Returns the Popen; the process runs in its own session so the whole
    tree is killed.
    """
    procs: list[subprocess.Popen] = []

    def start(cmd: str | list[str], **kw) -> subprocess.Popen:
        shell = kw.pop("shell", False)
        argv = cmd if shell or isinstance(cmd, list) else shlex.split(cmd)
        for stream in ("stdin", "stdout", "stderr"):
            kw.setdefault(stream, subprocess.DEVNULL)
        proc = subprocess.Popen(argv, shell=shell, start_new_session=True, **kw)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def snapshot():
    """take_snapshot, as a fixture so tests read `snapshot()`."""
    from tutor.observe import take_snapshot
    return take_snapshot


@pytest.fixture(autouse=True, scope="session")
def private_progress_store(tmp_path_factory):
    """Every test (and every nstutor it starts) records progress in a throwaway directory,
    never in the store of the person running the tests."""
    directory = tmp_path_factory.mktemp("nstutor-data")
    old = os.environ.get("NSTUTOR_DATA_DIR")
    os.environ["NSTUTOR_DATA_DIR"] = str(directory)
    yield directory
    if old is None:
        os.environ.pop("NSTUTOR_DATA_DIR", None)
    else:
        os.environ["NSTUTOR_DATA_DIR"] = old


def pytest_collection_modifyitems(config, items):
    # Most tests need root: they build namespaces for real. Say so clearly instead of failing oddly.
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root (tests build real namespaces): run tests/run, as root")
        for item in items:
            if "needs_root" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: builds real kernel objects; skipped without root")
