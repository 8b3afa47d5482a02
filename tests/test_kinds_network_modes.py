"""netns and listening messages for the mistakes of lesson 12 (network-modes), on the real kernel."""
from __future__ import annotations

import socket

import pytest

from conftest import sh, wait_until
from kinds_process_support import PYTHON
from tutor.checks.registry import build
from tutor.observe import take_snapshot

pytestmark = pytest.mark.needs_root


def grade(item: dict):
    return build(item).grade(take_snapshot())


def test_only_lo_asks_to_delete_one_end_of_a_veth_pair(netns, uid):
    ns = netns("none")
    sh(f"ip -n {ns} link add {uid}a type veth peer name {uid}b")
    v = grade({"netns": {"name": ns, "only_lo": True}})
    assert not v.passed
    assert f"it also has {uid}a, {uid}b: ip -n {ns} link del {uid}a" in v.message
    assert f"link del {uid}b" not in v.message          # deleting one end removes the other
    sh(f"ip -n {ns} link del {uid}a")
    assert grade({"netns": {"name": ns, "only_lo": True}}).passed


def test_server_started_in_the_wrong_namespace_for_host_mode(netns, spawn, uid):
    ns = netns("none")
    sh(f"ip -n {ns} link set lo up")
    with socket.socket() as probe:                       # a free port in the host's netns, to reuse in ns
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spawn(f"ip netns exec {ns} {PYTHON} -m http.server {port} --bind 127.0.0.1")
    spec = {"listening": {"port": port, "ip": "127.0.0.1"}}
    v = wait_until(lambda: (lambda r: r if "is listening in netns" in r.message else None)(grade(spec)),
                   what="the server in the namespace to listen")
    assert v.message == (f"{port} is listening in netns {ns}, but not in the host's (each network namespace has "
                         "its own ports): start a server from a shell on the host itself (not under ip netns exec "
                         "or nsenter)")
    assert "stop" not in v.message                  # that server may be another step's
    assert grade({"listening": {"netns": ns, "port": port, "ip": "127.0.0.1"}}).passed
