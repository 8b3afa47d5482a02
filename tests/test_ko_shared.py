"""The grader's shared phrases in Korean (issue 16), on the real kernel: what refs.py, select.py,
strays.py, link_state.py, procs.py and the runner say when nstutor speaks Korean, through the kinds
that quote them whole. Each test grades in Korean and then in English, so the commands and names
in the Korean are exact and the English is still the English the other tests read.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from conftest import sh, wait_until
from tutor import i18n
from tutor.checks import refs
from tutor.checks.base import Expectation, NotObserved
from tutor.checks.link_state import why_not_up
from tutor.checks.procs import pick
from tutor.checks.registry import build
from tutor.checks.runner import StepResult, distinct_reasons, grade_expectation, lab_advice, wants_of
from tutor.checks.select import capitalised, describe_selector, name
from tutor.observe import take_snapshot
from tutor.progress.attempts import outcome

pytestmark = pytest.mark.needs_root


@contextmanager
def korean():
    i18n.set_language("ko")
    try:
        yield
    finally:
        i18n.set_language("en")


def grade(item, snap=None, **kw):
    exp = build(item)
    return grade_expectation(exp, snap or take_snapshot(wants=wants_of([exp])), **kw)


def test_a_missing_netns_in_korean_names_the_command(uid):
    missing = f"{uid}none"
    with korean():
        v = grade({"netns": missing})
    assert not v.passed
    assert v.message == f"네트워크 네임스페이스 {missing}이(가) 없습니다: ip netns add {missing}", v
    assert v.observed.startswith("네트워크 네임스페이스: "), v
    assert "there is no" not in v.message and "network namespaces" not in v.observed
    v = grade({"netns": missing})                                  # English is as it was
    assert v.message == f"there is no network namespace {missing}: ip netns add {missing}"


def test_a_passing_netns_in_korean(netns):
    hello = netns("h")
    with korean():
        v = grade({"netns": hello})
    assert v.passed, v


def test_a_case_typo_of_the_netns_is_a_stray_with_its_removal(netns, uid):
    stray = netns("Hello")
    wanted = f"{uid}hello"
    with korean():
        v = grade({"netns": wanted})
    assert not v.passed
    assert v.message.startswith(f"네트워크 네임스페이스 {wanted}이(가) 없고, 대신 {stray} 네임스페이스가 있습니다: "
                                "이름은 대소문자를 구분합니다."), v
    assert f"올바른 것을 만드세요: ip netns add {wanted}; 잘못 만든 것을 지우세요: ip netns del {stray}" in v.message
    assert [s.what for s in v.strays] == [f"netns {stray} ({wanted}의 대소문자 오타)"]
    assert "typo" not in v.message and "remove the stray" not in v.message


def test_a_missing_lab_netns_says_build_the_lab_in_korean(uid):
    missing = f"{uid}lab"
    with korean():
        v = grade({"netns": missing})
        lesson = SimpleNamespace(lab=[missing], id="demo")
        (advised,) = lab_advice(lesson, (v,))
    assert advised.message == (f"레슨의 실습 환경이 만들어지지 않았습니다({missing} 없음): 앱에서 b를 누르거나 "
                               "이렇게 실행하세요: nstutor setup demo"), advised


def test_a_missing_link_in_korean_lists_what_is_there(netns):
    red = netns("r")
    with korean():
        v = grade({"address": {"dev": f"{red}/veth9", "cidr": "10.77.0.2/24"}})
    assert not v.passed
    assert v.message == f"{red}에 인터페이스 veth9이(가) 없습니다. 있는 인터페이스: lo", v
    assert v.observed == f"{red}의 인터페이스: lo", v
    assert "has no interface" not in v.message
    assert "lo" in v.context


def test_a_link_made_in_the_host_is_moved_with_the_exact_command(netns, links, uid):
    red = netns("r")
    end, peer = f"{uid}a", f"{uid}b"
    sh(f"ip link add {end} type veth peer name {peer}")
    links.append(end)
    with korean():
        v = grade({"address": {"dev": f"{red}/{end}", "cidr": "10.77.0.2/24"}})
    assert not v.passed
    assert v.message == (f"{end} 인터페이스가 호스트의 netns에 있습니다. {red}에 있어야 합니다: "
                         f"ip link set {end} netns {red}"), v
    assert v.observed.startswith(f"{end} 인터페이스는 호스트의 netns에 있습니다; {red}의 인터페이스: "), v
    v = grade({"address": {"dev": f"{red}/{end}", "cidr": "10.77.0.2/24"}})
    assert v.message == f"{end} is in the root netns, expected {red}: ip link set {end} netns {red}"


def test_a_veth_whose_peer_is_down_in_korean(netns):
    red, blue = netns("r"), netns("b")
    sh(f"ip link add veth0 netns {red} type veth peer name veth1 netns {blue}")
    sh(f"ip -n {red} link set veth0 up")
    with korean():
        v = grade({"link": {"dev": f"{red}/veth0", "up": True}})
        snap = take_snapshot()
        ns = snap.netns_by_name(red)
        assert why_not_up(snap, ns, ns.link("veth0")) == v.message
    assert not v.passed
    assert v.message.startswith(f"{red}의 veth0 인터페이스는 켜져 있지만, 짝인 {blue}의 veth1 인터페이스가 DOWN이라 "
                                "NO-CARRIER, DOWN 상태로 "), v
    assert v.message.endswith(f": ip -n {blue} link set veth1 up"), v
    assert "peer" not in v.message


def test_a_process_that_is_not_running_in_korean(uid):
    marker = f"sleep {random.randint(100000, 999999)}"
    with korean():
        picked = pick(take_snapshot(), {"cmdline": f"^{marker}$"})
        v = grade({"hostname": {"cmdline": f"^{marker}$", "hostname": "box"}})
    assert picked.proc is None
    assert picked.observed.startswith(f"`{marker}` 명령을 실행하는 프로세스가 없습니다"), picked
    assert picked.message.startswith(f"`{marker}` 명령이 실행 중이 아닙니다: 먼저 시작하고(레슨의 명령 참고) "
                                     f"이렇게 찾아보세요: pgrep -a -f '^{marker}$'."), picked
    assert (v.observed, v.message) == (picked.observed, picked.message)
    assert "is not running" not in picked.message


def test_a_process_and_its_unnamed_netns_in_korean(spawn):
    marker = f"sleep {random.randint(100000, 999999)}"
    proc = spawn(f"unshare --net {marker}")
    snap = wait_until(lambda: (lambda s: s if proc.pid in s.processes else None)(take_snapshot()),
                      what="the unshare'd sleep")
    with korean():
        selector = {"comm": "sleep", "cmdline": f"^{marker}$"}
        assert describe_selector(selector) == f"이름이 'sleep'이고 `{marker}` 명령을 실행하는 프로세스"
        assert describe_selector({"container": "web", "engine": "docker"}) == "web 컨테이너 (docker)"
        ns = refs.resolve_netns(snap, {"netns_of": selector})
        assert refs.where(ns, snap) == f"pid {proc.pid}의 netns (net:[{ns.inode}])"
        assert refs.where(snap.host_netns(), snap) == "호스트의 netns"
        assert refs.describe_netns_ref({"netns_of": {"comm": "pause"}}) == "이름이 'pause'인 프로세스의 netns"
        assert name(snap.processes[proc.pid]) == f"'{marker}' (pid {proc.pid})"
    assert refs.where(ns, snap) == f"the netns of pid {proc.pid} (net:[{ns.inode}])"


class _Unobserved(Expectation):
    kind = "ko_shared_unobserved"

    def describe(self) -> str:
        return "something"

    def grade(self, snap):
        raise NotObserved("/tmp/ko-shared")


def test_the_runner_says_in_korean_what_it_could_not_observe_or_probe(netns):
    red = netns("r")
    with korean():
        v = grade_expectation(_Unobserved({}), take_snapshot())
        assert v.observed == "관찰하지 못함"
        assert v.message == "nstutor가 /tmp/ko-shared 없이 이 스냅샷을 찍었습니다(호출한 쪽의 버그입니다. 알려 주세요)."
        probe = grade({"reachable": {"from": red, "to": "10.77.0.9"}}, probes=False)
        assert probe.observed == "프로브를 보내지 않음"
        assert probe.message.startswith("이 검사는 프로브를 보냅니다.") and "nstutor check" in probe.message
        result = StepResult("s", "S", False, (probe,))
        assert result.unprobed                                  # unknown, not failed, in Korean too
        assert outcome(result).passed is None and outcome(result).failures == ()
    v = grade_expectation(_Unobserved({}), take_snapshot())
    assert v.message == "nstutor took this snapshot without /tmp/ko-shared (a bug in the caller; please report it)."


def test_one_missing_object_is_one_reason_in_korean():
    """The runner's Reasons recognise the Korean "no such object" sentences of refs.py as one reason."""
    texts = ["호스트의 netns에 브리지 nsbr9이(가) 없습니다: ip link add nsbr9 type bridge",
             "호스트의 netns에 인터페이스 nsbr9이(가) 없습니다. 있는 인터페이스: lo",
             "pause: 호스트의 netns에 인터페이스 nsbr9이(가) 없습니다. 있는 인터페이스: lo"]
    assert distinct_reasons(texts) == texts[:1]


def test_a_selector_starts_a_sentence_without_changing_a_korean_name():
    assert capitalised("the container web (docker)") == "The container web (docker)"
    with korean():
        words = describe_selector({"container": "web", "engine": "docker"})
        assert capitalised(words) == words == "web 컨테이너 (docker)"
