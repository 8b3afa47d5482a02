"""A real Docker host for tests: dockerd started as on a fresh lab VM, and everything undone after.

On a fresh VM `net.ipv4.ip_forward` is 0, so dockerd turns it on and, because it did, sets the
filter table's FORWARD policy to DROP; it also loads br_netfilter (bridged frames then pass
iptables). Its rules stay after it stops, as on a real VM until reboot. So `DockerHost`:

1. saves the firewall (`iptables-save`, the nftables table list when `nft` is there) and the
   sysctls dockerd changes, and notes whether docker0 existed;
2. sets ip_forward to 0 and starts `dockerd --default-ulimit nofile=4096:4096` (this VM's hard
   open-files limit is below dockerd's default) with its own data root, exec root, pidfile and
   API socket in a private directory, so nothing of a system docker is touched;
3. waits, with a deadline, until `docker info` answers on that socket;
4. on stop: SIGTERM, waits for dockerd and its containerd to exit (SIGKILL after a deadline),
   then puts the firewall back exactly: `iptables-restore` of the saved tables, and the tables
   that did not exist before (a fresh VM has no filter table) deleted with `nft`; ip_forward and
   the bridge sysctls as they were; docker0 deleted if dockerd made it.

Tests that use it change the host's firewall, so they run under /tmp/nstutor-lesson.lock (see
the helpers' rules); CI runs the suite alone on its machine.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SYSCTLS = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables",
           "/proc/sys/net/bridge/bridge-nf-call-ip6tables")
START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 30.0


def missing_reason() -> str | None:
    """Why these tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "needs root (dockerd and the firewall)"
    if not shutil.which("dockerd"):
        return "dockerd is not installed (Debian/Ubuntu: apt-get install --no-install-recommends docker.io)"
    if not shutil.which("docker"):
        return "the docker client is not installed"
    if not shutil.which("iptables-save"):
        return "iptables is not installed"
    return None


def _run(*argv: str, timeout: float = 15, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)


def ruleset() -> str:
    """`iptables-save` without the lines that change by themselves (comments, counters)."""
    return _normalise(_run("iptables-save").stdout)


def _normalise(saved: str) -> str:
    lines = []
    for line in saved.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(":") and line.endswith("]"):
            line = line[:line.rfind("[")].rstrip()
        lines.append(line)
    return "\n".join(lines) + "\n"


def _nft_tables() -> set[str] | None:
    if not shutil.which("nft"):
        return None
    res = _run("nft", "list", "tables")
    return {line.strip() for line in res.stdout.splitlines() if line.startswith("table ")} if res.returncode == 0 else None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _write(path: str, value: str) -> None:
    try:
        Path(path).write_text(value + "\n")
    except OSError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def running_dockerd() -> list[str]:
    res = _run("pgrep", "-a", "-x", "dockerd")
    return res.stdout.split("\n")[:-1] if res.returncode == 0 else []


class DockerHost:
    """`with DockerHost() as d:` a dockerd runs (d.env has DOCKER_HOST for `docker`)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.base: str | None = None
        self.saved_rules: str | None = None
        self.saved_tables: set[str] | None = None
        self.saved_sysctls: dict[str, str | None] = {}
        self.had_docker0 = False
        self.env: dict[str, str] = {}
        self.started_s: float | None = None

    # ---------------------------------------------------------------- start
    def start(self) -> "DockerHost":
        if running_dockerd():
            raise RuntimeError(f"a dockerd the tests did not start is running ({running_dockerd()[0]}): "
                               "stop it first (lab-state restore), the tests start their own")
        self.saved_rules = _run("iptables-save").stdout
        self.saved_tables = _nft_tables()
        self.saved_sysctls = {p: _read(p) for p in SYSCTLS}
        self.had_docker0 = os.path.exists("/sys/class/net/docker0")
        self.base = tempfile.mkdtemp(prefix="nstd-", dir="/tmp")    # short: containerd's socket paths
        sock = f"unix://{self.base}/docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=sock)
        _write(SYSCTLS[0], "0")               # a fresh VM: dockerd turns forwarding on and sets DROP
        started = time.monotonic()
        log = open(f"{self.base}/dockerd.log", "w")
        self.proc = subprocess.Popen(
            ["dockerd", "--default-ulimit", "nofile=4096:4096", "--data-root", f"{self.base}/data",
             "--exec-root", f"{self.base}/exec", "--pidfile", f"{self.base}/dockerd.pid", "-H", sock],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = started + START_DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                tail = Path(f"{self.base}/dockerd.log").read_text()[-1500:]
                self.stop()
                raise RuntimeError(f"dockerd exited ({self.proc.returncode}) before answering:\n{tail}")
            if _run("docker", "info", "--format", "{{.ServerVersion}}", env=self.env).returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockerd did not answer `docker info` within {START_DEADLINE_S:.0f} s")
            time.sleep(0.1)
        # dockerd answers before it has finished its iptables setup on some versions: wait for DROP
        while "-P FORWARD DROP" not in _run("iptables", "-S", "FORWARD").stdout:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.started_s = time.monotonic() - started
        return self

    # ---------------------------------------------------------------- stop and undo
    def stop(self) -> list[str]:
        """Stop dockerd and put the machine back; returns what could not be put back."""
        return self.stop_daemon() + self.restore()

    def stop_daemon(self) -> list[str]:
        """Stop dockerd (and its containerd) only: its rules stay, as on a real VM until reboot."""
        problems: list[str] = []
        if self.proc is not None:
            pgid = self.proc.pid
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                problems.append("dockerd ignored SIGTERM; killed")
                self.proc.kill()
                self.proc.wait(timeout=10)
            deadline = time.monotonic() + STOP_DEADLINE_S
            while _group_alive(pgid) and time.monotonic() < deadline:      # its containerd
                time.sleep(0.05)
            if _group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
            self.proc = None
        return problems

    def restore(self) -> list[str]:
        """The firewall, the sysctls and the links as they were before start()."""
        problems: list[str] = []
        if self.saved_rules is not None:
            res = _run("iptables-restore", input=self.saved_rules)
            if res.returncode != 0:
                problems.append(f"iptables-restore: {res.stderr.strip()}")
            # iptables-restore only rewrites the tables it is given: one dockerd made is deleted
            if self.saved_tables is not None:
                for table in sorted((_nft_tables() or set()) - self.saved_tables):
                    res = _run("nft", "delete", *table.split())
                    if res.returncode != 0:
                        problems.append(f"nft delete {table}: {res.stderr.strip()}")
            elif ruleset() != _normalise(self.saved_rules):
                problems.append("dockerd made iptables tables that only nft can delete (apt-get install nftables)")
            self.saved_rules = None
        for path, value in self.saved_sysctls.items():
            if value is not None:
                _write(path, value)
        self.saved_sysctls = {}
        if not self.had_docker0 and os.path.exists("/sys/class/net/docker0"):
            _run("ip", "link", "del", "docker0")
        if self.base:
            for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
                point = line.split()[4]
                if point.startswith(self.base + "/"):
                    _run("umount", "-l", point)
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        return problems

    def __enter__(self) -> "DockerHost":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def started_for_a_module():
    """The body of a module-scoped fixture: a started DockerHost (a skip with the reason where
    dockerd cannot run here), stopped after the module's tests, with its clean-up checked.

        @pytest.fixture(scope="module")
        def dockerd():
            yield from started_for_a_module()
    """
    import pytest
    reason = missing_reason()
    if reason:
        pytest.skip(f"Docker: {reason}")
    host = DockerHost().start()
    try:
        yield host
    finally:
        problems = host.stop()
    assert not problems, problems
