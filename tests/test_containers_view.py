"""The Containers view (tutor/app/panel/containers.py), and containers named in the other views and the topology,
on made-up snapshots in the shapes of lessons docker and real-pod (issue 14).

The scene: Docker's web (bridge) with web-side in its net and pid namespaces, nonet (--network none), hostnet
(--network host) and an exited one; a Podman pod podweb (infra + podweb-a + podweb-b) on podman0. Inodes are
made up (40265327xx) and every relation the view draws is decided by them, never by names.
"""
from __future__ import annotations

import dataclasses

import pytest
from rich.cells import cell_len

import test_views as tv          # the snapshot builders (a module import, so its tests are not collected twice)
from test_views import HOST, HOST_NET, addr, frozen, link, lo, marked, netns, plain, proc, snapshot
from tutor.app.panel import VIEWS, containers, view_for_key
from tutor.app.panel.container_names import group_label, netns_label
from tutor.app.panel.focus import Focus
from tutor.app.panel.topology import render_topology
from tutor.checks.select import selector_problem
from tutor.observe.model import ENGINES, Container, EngineState

WEB_NET, NONET, POD_NET = 4026532701, 4026532702, 4026532703
WEB_PID_NS = 4026532711
POD_NETNS_NAME = "netns-1b2c3d4e-0000-4000-8000-00000000abcd"      # the name Podman gives a pod's netns


def ids(n: int) -> str:
    return f"{n:064x}"


def container_namespaces(k: int, **shared) -> dict:
    """A container's own mnt, ipc, uts, pid (inodes 40265328k0..) with some replaced by *shared*."""
    own = {"mnt": 4026532800 + 10 * k, "ipc": 4026532801 + 10 * k, "uts": 4026532802 + 10 * k,
           "pid": 4026532803 + 10 * k}
    own.update(shared)
    return own


POD_SHARED = {"net": POD_NET, "ipc": 4026532751, "uts": 4026532752}


def engine_processes():
    return [proc(1, 0, "systemd", "/sbin/init"),
            proc(4200, 1, "containerd-shim", "/usr/bin/containerd-shim-runc-v2 -id web"),
            proc(4242, 4200, "httpd", "httpd -f -p 80", container_namespaces(1, net=WEB_NET, pid=WEB_PID_NS)),
            proc(4301, 4200, "sleep", "sleep 3600", container_namespaces(2, net=WEB_NET, pid=WEB_PID_NS)),
            proc(4400, 4200, "sleep", "sleep 3601", container_namespaces(3, net=NONET)),
            proc(4500, 4200, "httpd", "httpd -f -p 8082", {k: v for k, v in container_namespaces(4).items()
                                                            if k != "uts"}),
            proc(4990, 1, "conmon", "/usr/bin/conmon -c infra -n podweb-infra"),
            proc(5000, 4990, "catatonit", "/catatonit -P", container_namespaces(5, **POD_SHARED)),
            proc(5010, 4990, "httpd", "httpd -f -p 8080", container_namespaces(6, **POD_SHARED)),
            proc(5020, 4990, "sleep", "sleep 3602", container_namespaces(7, **POD_SHARED))]


def engine_containers():
    return (Container("docker", ids(1), "web", "nstutor-box", "running", 4242, network="bridge"),
            Container("docker", ids(2), "web-side", "nstutor-box", "running", 4301, network="container:web"),
            Container("docker", ids(3), "nonet", "nstutor-box", "running", 4400, network="none"),
            Container("docker", ids(4), "hostnet", "nstutor-box", "running", 4500, network="host"),
            Container("docker", ids(5), "old", "nstutor-box", "exited", None, network="bridge"),
            Container("podman", ids(6), "podweb-infra", "localhost/podman-pause:4.3.1-0", "running", 5000,
                      pod="podweb", infra=True),
            Container("podman", ids(7), "podweb-a", "localhost/nstutor-box", "running", 5010, pod="podweb"),
            Container("podman", ids(8), "podweb-b", "localhost/nstutor-box", "running", 5020, pod="podweb"))


RUNNING = (EngineState("docker", "running"), EngineState("podman", "running"),
           EngineState("containerd", "absent", "containerd is not installed"))


def engines_scene(containers=None, engines=RUNNING):
    """Docker's four containers on docker0 (or not), Podman's pod podweb on podman0."""
    host = tv.host_netns([link(HOST_NET, 3, "docker0", "bridge"), link(HOST_NET, 4, "podman0", "bridge"),
                          link(HOST_NET, 10, "veth1a2b3c4", "veth", master="docker0", peer=(WEB_NET, 2, "eth0")),
                          link(HOST_NET, 11, "veth0", "veth", master="podman0", peer=(POD_NET, 2, "eth0"))],
                         [addr("docker0", "172.17.0.1/16"), addr("podman0", "10.88.0.1/16")])
    web = netns(WEB_NET, (), [lo(WEB_NET), link(WEB_NET, 2, "eth0", "veth", peer=(HOST_NET, 10, "veth1a2b3c4"))],
                [addr("eth0", "172.17.0.2/16")], pids=(4242, 4301))
    nonet = netns(NONET, (), [lo(NONET)], pids=(4400,))
    pod = netns(POD_NET, (POD_NETNS_NAME,), [lo(POD_NET), link(POD_NET, 2, "eth0", "veth", peer=(HOST_NET, 11, "veth0"))],
                [addr("eth0", "10.88.0.2/16")], pids=(5000, 5010, 5020))
    snap = snapshot([host, web, nonet, pod], engine_processes())
    return dataclasses.replace(snap, containers=engine_containers() if containers is None else containers,
                               engines=engines)


def rows_of(text: str) -> dict[str, str]:
    """Each table line by the name it starts with (after the gutter)."""
    out = {}
    for line in text.splitlines()[2:]:
        words = line[2:].split()
        if words:
            out.setdefault(words[0] if words[0] not in ENGINES else words[1], line)
    return out


# =============================================================== the view and its key
def test_the_containers_view_is_key_9_and_the_help_lists_it():
    assert view_for_key("9").name == "containers" and view_for_key("9").title == "Containers"
    assert [v.key for v in VIEWS][-1] == "9"


def test_the_bar_offers_it_only_where_containers_matter():
    view = view_for_key("9")
    assert not view.offered(tv.red_blue(), None)                     # no engine was read: the old scenes
    assert view.offered(engines_scene(), None)
    none_running = engines_scene(containers=(), engines=(EngineState("docker", "stopped", "dockerd is not running"),))
    assert view.offered(none_running, None)                          # an engine, even stopped: its note is news
    assert view.offered(tv.red_blue(), Focus(processes=({"container": "web"},)))
    assert all(v.offered(tv.red_blue(), None) for v in VIEWS if v.key != "9")


# =============================================================== rows
def test_wide_rows_name_engine_pod_pid_state_veth_and_what_is_shared_by_inode():
    text = plain(containers.render(engines_scene(), None, Focus(), 200), 200)
    assert text == frozen("""
        Containers from their engines' records; what they share, by namespace inode
          ENGINE  NAME          POD              PID  STATE    VETH → PORT                   SHARES
          docker  hostnet       -               4500  running  the host's network            net+uts: host; own: ipc mnt pid
          docker  nonet         -               4400  running  lo only                       own: net ipc uts mnt pid
          docker  old           -                  -  exited   -                             -
          docker  web           -               4242  running  eth0 ═ veth1a2b3c4 → docker0  net+pid: web-side; own: ipc uts mnt
          docker  web-side      -               4301  running  eth0 ═ veth1a2b3c4 → docker0  net+pid: web; own: ipc uts mnt
          podman  podweb-infra  podweb (infra)  5000  running  eth0 ═ veth0 → podman0        net+ipc+uts: podweb-a, podweb-b; own: mnt pid
          podman  podweb-a      podweb          5010  running  eth0 ═ veth0 → podman0        net+ipc+uts: pod podweb infra, podweb-b; own: mnt pid
          podman  podweb-b      podweb          5020  running  eth0 ═ veth0 → podman0        net+ipc+uts: pod podweb infra, podweb-a; own: mnt pid
        """)


def test_shares_are_decided_by_inode_not_by_name():
    snap = engines_scene()
    # web-side renamed "web" too: still one row each, and what they share is still their namespaces'
    twins = tuple(dataclasses.replace(c, name="web") if c.name == "web-side" else c for c in snap.containers)
    snap = dataclasses.replace(snap, containers=twins)
    web = next(c for c in snap.containers if c.pid == 4242)
    assert containers.shares_text(snap, web) == "net+pid: web; own: ipc uts mnt"
    # and a container whose process is in other namespaces shares nothing, whatever it is called
    moved = dataclasses.replace(snap, processes=tv.frozen_map({**snap.processes, 4301: proc(
        4301, 4200, "sleep", "sleep 3600", container_namespaces(2, net=NONET + 50))}))
    assert containers.shares_text(moved, web) == "own: net ipc uts mnt pid"


def test_a_containers_veth_is_followed_to_the_bridge_port_at_the_other_end():
    snap = engines_scene()
    by_name = {c.name: c for c in snap.containers}
    assert containers.veth_text(snap, by_name["web"]) == "eth0 ═ veth1a2b3c4 → docker0"
    assert containers.veth_text(snap, by_name["podweb-a"]) == "eth0 ═ veth0 → podman0"
    assert containers.veth_text(snap, by_name["nonet"]) == "lo only"
    assert containers.veth_text(snap, by_name["hostnet"]) == "the host's network"
    # a cni0 in another netns (a k8s node made with ip netns): that end's netns is said
    node = netns(4026532790, ("node1",), [lo(4026532790), link(4026532790, 3, "cni0", "bridge"),
                                          link(4026532790, 7, "veth-pod1", "veth", master="cni0",
                                               peer=(WEB_NET, 2, "eth0"))])
    web = dataclasses.replace(snap.netns[WEB_NET], links=(
        lo(WEB_NET), link(WEB_NET, 2, "eth0", "veth", peer=(4026532790, 7, "veth-pod1"))))
    elsewhere = tv.replace_netns(snap, web, node)
    assert containers.veth_text(elsewhere, by_name["web"]) == "eth0 ═ node1/veth-pod1 → cni0"
    unplugged = tv.replace_netns(snap, dataclasses.replace(snap.host_netns(), links=tuple(
        dataclasses.replace(l, master=None) if l.name == "veth1a2b3c4" else l for l in snap.host_netns().links)))
    assert containers.veth_text(unplugged, by_name["web"]) == "eth0 ═ veth1a2b3c4 (no bridge)"


def test_a_container_whose_process_is_not_seen_says_so():
    snap = engines_scene()
    ghost = Container("docker", ids(9), "ghost", "nstutor-box", "running", 9999)
    snap = dataclasses.replace(snap, containers=snap.containers + (ghost,))
    row = rows_of(plain(containers.render(snap, None, Focus(), 200), 200))["ghost"]
    assert "(its process is not seen)" in row and " - " in row


def test_narrow_rows_fold_engine_and_pod_into_the_name():
    text = plain(containers.render(engines_scene(), None, Focus(), 100), 100)
    rows = rows_of(text)
    assert text.splitlines()[1].split() == ["CONTAINER", "PID", "VETH", "→", "PORT", "SHARES"]
    assert rows["podweb-a"].startswith("  podweb-a (podman, pod podweb)")
    assert rows["old"].split()[:3] == ["old", "(docker)", "exited"]      # not running: its state where the pid is


def test_no_containers_says_why_from_each_engine():
    stopped = (EngineState("docker", "stopped", "dockerd is not running: start it with dockerd &"),
               EngineState("podman", "absent", "podman is not installed"),
               EngineState("containerd", "denied", "containerd's records need root"))
    text = plain(containers.render(engines_scene(containers=(), engines=stopped), None, Focus(), 80), 80)
    assert text == frozen("""
        Containers from their engines' records; what they share, by namespace inode
        No container on this machine.
          docker: dockerd is not running: start it with dockerd &
          podman: podman is not installed
          containerd: containerd's records need root
        """)
    # with containers, an engine that is not installed is not news
    assert "podman is not installed" not in plain(containers.render(
        engines_scene(engines=stopped), None, Focus(), 120), 120)
    assert "No container engine was read" in plain(containers.render(tv.red_blue(), None, Focus(), 80), 80)


def test_a_long_engine_note_wraps_at_40_columns():
    long = (EngineState("docker", "stopped", "dockerd is not running: start it with sudo dockerd "
                                             "--default-ulimit nofile=4096:4096 &"),)
    lines = plain(containers.render(engines_scene(containers=(), engines=long), None, Focus(), 40), 40).splitlines()
    assert lines[2:] == ["  docker: dockerd is not running:", "    start it with sudo dockerd",
                         "    --default-ulimit nofile=4096:4096 &"]


# =============================================================== widths, Korean and long names
def crowded_scene():
    """The scene and two more: a Korean name in web's netns, a long name in a long-named pod's."""
    snap = engines_scene()
    extra = (Container("docker", ids(20), "웹서버-한국어-이름", "nstutor-box", "running", 4600),
             Container("podman", ids(21), "a-container-name-much-longer-than-any-column-could-ever-hold",
                       "localhost/nstutor-box", "running", 5030, pod="a-pod-with-a-long-name-as-well"))
    procs = {**snap.processes,
             4600: proc(4600, 4200, "httpd", "httpd -f -p 81", container_namespaces(8, net=WEB_NET)),
             5030: proc(5030, 4990, "sleep", "sleep 3603", container_namespaces(9, net=POD_NET))}
    return dataclasses.replace(snap, containers=snap.containers + extra, processes=tv.frozen_map(procs))


@pytest.mark.parametrize("width", [40, 80, 120, 200])
def test_the_view_fits_every_width_with_korean_and_long_names(width):
    snap = crowded_scene()
    for focus in (Focus(), Focus(processes=({"comm": "httpd"},))):
        text = containers.render(snap, snap, focus, width)
        for line in text.plain.splitlines():
            assert cell_len(line) <= width, f"at {width}: {line!r}"
        assert plain(text, width).count("\n") == text.plain.count("\n"), f"wrapped by the terminal at {width}"
        assert "웹서버" in text.plain and "a-container-nam" in text.plain     # long ones wrap in their column


def test_at_40_columns_the_veth_goes_and_names_and_shares_stay():
    text = plain(containers.render(engines_scene(), None, Focus(), 40), 40)
    assert text.splitlines()[1].split() == ["CONTAINER", "PID", "SHARES"]
    assert "veth1a2b3c4" not in text and "web-side" in text and "own: ipc" in text


# =============================================================== focus and changes
def test_the_lessons_containers_are_marked():
    # select() does not know {container: web} on this branch (the kinds part adds it): the focus names
    # the containers' main processes by comm and cmdline, which resolves to the same pids
    focus = Focus(processes=({"comm": "httpd", "cmdline": "-p 80$"}, {"cmdline": "^sleep 3600$"}))
    text = containers.render(engines_scene(), None, focus, 200)
    lines = plain(text, 200).splitlines()
    marked_names = [l.split()[2] for l in lines if l.startswith("▸ ")]
    assert marked_names == ["web", "web-side"]                        # the lesson's first, then the rest
    assert "⟦▸ docker⟧" in marked(text, "bold")


def test_a_focus_by_container_name_marks_it_once_select_knows_containers():
    if selector_problem({"container": "web"}) is not None:
        pytest.skip("tutor.checks.select does not know {container: NAME} yet (issue 14's kinds part adds it)")
    text = plain(containers.render(engines_scene(), None, Focus(processes=({"container": "web"},)), 200), 200)
    assert [l.split()[2] for l in text.splitlines() if l.startswith("▸ ")] == ["web"]


def test_a_container_that_came_or_stopped_is_marked_like_any_changed_row():
    before = engines_scene()
    after = dataclasses.replace(before, containers=tuple(
        dataclasses.replace(c, state="exited", pid=None) if c.name == "nonet" else c for c in before.containers))
    text = marked(containers.render(after, before, Focus(), 200), "reverse")
    nonet = next(l for l in text.splitlines() if "nonet" in l)
    assert "⟦exited" in nonet and "⟦   -⟧" in nonet
    gone = dataclasses.replace(before, containers=())
    struck = marked(containers.render(gone, before, Focus(), 200), "strike")
    assert "⟦  docker⟧  ⟦web " in struck                             # once, struck through


# =============================================================== names in the topology and other views
def test_group_labels():
    cs = {c.name: c for c in engine_containers()}
    assert group_label([cs["web"]]) == "web (docker)"
    assert group_label([cs["web"], cs["web-side"]]) == "web, web-side (docker)"
    assert group_label([cs["podweb-infra"], cs["podweb-a"], cs["podweb-b"]]) == "pod podweb (podman)"
    assert group_label([cs["web"], cs["podweb-a"]]) == "web (docker), podweb-a (podman, pod podweb)"


def test_a_containers_netns_is_named_by_its_containers():
    snap = engines_scene()
    assert netns_label(snap, WEB_NET) == "web, web-side (docker)"
    assert netns_label(snap, POD_NET) == "pod podweb (podman)"       # Podman's netns-<uuid> gives way
    assert netns_label(snap, HOST_NET) == "host"                      # hostnet shares it, it does not own it
    named = tv.replace_netns(snap, dataclasses.replace(snap.netns[NONET], names=("RED",)))
    assert netns_label(named, NONET) == "RED: nonet (docker)"        # a learner's name stays


def test_the_topology_draws_containers_by_name_on_their_bridges():
    text = plain(render_topology(engines_scene(), Focus(), 60), 60)
    assert text == frozen("""
        ┌─ host ─────────────────────────────────────────────┐
        │ eth0 UP 192.0.2.2/24                               │
        │ docker0 bridge UP 172.17.0.1/16                    │
        │  └ veth1a2b3c4 UP                                  │
        │ podman0 bridge UP 10.88.0.1/16                     │
        │  └ veth0 UP                                        │
        └─┬──────────────────────────────────────────────────┘
          ├── veth0 ═════ eth0
          │ ┌─ pod podweb (podman) ──────────────────────────┐
          │ │ eth0 UP 10.88.0.2/16                           │
          │ │ containers: podweb-a, podweb-b + infra         │
          │ │ in it: catatonit(5000) httpd(5010) sleep(5020) │
          │ └────────────────────────────────────────────────┘
          └── veth1a2b3c4 ═════ eth0
            ┌─ web, web-side (docker) ───────────────────────┐
            │ eth0 UP 172.17.0.2/16                          │
            │ in it: httpd(4242) sleep(4301)                 │
            └────────────────────────────────────────────────┘
        """)
    narrow = plain(render_topology(engines_scene(), Focus(), 40), 40)
    assert "┌─ web, web-side (docker) ─" in narrow and "┌─ pod podweb (podman) ─" in narrow


def test_the_topology_with_a_focus_on_a_container_titles_its_box():
    text = render_topology(engines_scene(), Focus(processes=({"comm": "httpd", "cmdline": "-p 80$"},)), 80)
    assert "⟦web, web-side (docker)⟧" in marked(text, "cyan")        # the lesson's box, by name
    assert "net:[" not in text.plain


def test_other_views_carry_container_names():
    snap = engines_scene()
    namespaces = plain(tv.render("namespaces", snap, Focus(), 120), 120)
    assert f"{WEB_NET}  net" in namespaces and "httpd -f -p 80  [web, web-side (docker)]" in namespaces
    assert "sleep 3601  [nonet (docker)]" in namespaces
    assert "/catatonit -P  [pod podweb (podman)]  (netns netns-1b2c3d4e" in namespaces
    assert "httpd -f -p 8080  [podweb-a (podman, pod podweb)]" in namespaces       # its own mnt
    network = plain(tv.render("network", snap, Focus(), 100), 100)
    assert f"web, web-side (docker) net:[{WEB_NET}]" in network and f"pod podweb (podman) net:[{POD_NET}]" in network
    bridges = plain(tv.render("bridges", snap, Focus(), 100), 100)
    assert "veth1a2b3c4  UP <-> web, web-side (docker)/eth0" in bridges
    processes = plain(tv.render("processes", snap, Focus(), 120), 120)
    assert "httpd(4242,ipc,mnt,net,pid,uts) [web (docker)] -f -p 80" in processes
    assert "catatonit(5000,ipc,mnt,net,pid,uts) [podweb-infra (podman, pod podweb)]" in processes


@pytest.mark.parametrize("width", [40, 80, 120, 200])
def test_every_view_fits_with_containers(width):
    snap = crowded_scene()
    for v in VIEWS:
        text = v.render(snap, snap, Focus(), width)
        for line in text.plain.splitlines():
            assert cell_len(line) <= width, f"{v.name} at {width}: {line!r}"


def test_every_view_with_200_containers_stays_fast_and_bounded():
    """tests/test_views.py's machine (200 netns on docker0, 2,000 processes), its nginx processes docker
    containers now. Like the test there, this only catches a blow-up (the panel's budget is 20 ms a view)."""
    def with_containers(snap):
        cs = tuple(Container("docker", ids(1000 + i), f"c{i}", "nginx", "running", 10001 + 2 * i) for i in range(200))
        return dataclasses.replace(snap, containers=cs, engines=RUNNING)
    previous, current = with_containers(tv.big_snapshot()), with_containers(tv.big_snapshot(variant=1))
    focus = Focus(processes=({"comm": "nginx", "cmdline": "process 7$"},))
    for f in (Focus(), focus):
        for v in VIEWS:
            v.render(previous, None, f, 120)
            best = min(tv._timed(lambda: v.render(current, previous, f, 120)) for _ in range(3))
            assert best < 200, f"{v.name}: {best:.0f} ms"
    lines = plain(containers.render(current, previous, focus, 120), 120).splitlines()
    assert lines[2].split()[:3] == ["▸", "docker", "c7"] and "eth0 ═ veth0007 → docker0" in lines[2]   # the lesson's first
    assert [l.split()[1] for l in lines[3:6]] == ["c0", "c1", "c2"]   # then in natural order: c2 before c10


def test_a_kubernetes_pod_shares_with_its_pause_and_says_pause():
    """containerd/CRI: the sandbox is the pause (infra=True, named as the pod); shareProcessNamespace puts all three
    in one pid namespace."""
    shared = {**POD_SHARED, "pid": 4026532760}
    procs = engine_processes()[:1] + [proc(6000, 1, "pause", "/pause", container_namespaces(11, **shared)),
                                      proc(6010, 1, "nginx", "nginx -g daemon off;", container_namespaces(12, **shared)),
                                      proc(6020, 1, "sleep", "sleep 3604", container_namespaces(13, **shared))]
    pod = netns(POD_NET, ("cni-1b2c3d4e-0000-4000-8000-00000000abcd",), [lo(POD_NET)], pids=(6000, 6010, 6020))
    snap = dataclasses.replace(snapshot([tv.host_netns(), pod], procs), engines=RUNNING, containers=(
        Container("containerd", ids(30), "myweb2", "registry.k8s.io/pause:3.6", "running", 6000, pod="default/myweb2",
                  infra=True),
        Container("containerd", ids(31), "myweb2-nginx", "nginx", "running", 6010, pod="default/myweb2"),
        Container("containerd", ids(32), "myweb2-sleep", "busybox", "running", 6020, pod="default/myweb2")))
    rows = rows_of(plain(containers.render(snap, None, Focus(), 200), 200))
    assert "default/myweb2 (pause)" in rows["myweb2"]
    assert rows["myweb2-nginx"].endswith("net+ipc+uts+pid: pod default/myweb2 pause, myweb2-sleep; own: mnt")
    assert netns_label(snap, POD_NET) == "pod default/myweb2 (containerd)"


def test_control_characters_in_an_engines_names_are_not_sent_to_the_terminal():
    snap = engines_scene()
    evil = tuple(dataclasses.replace(c, name=c.name + "\x1b[2J", pod=c.pod and c.pod + "\x07") for c in snap.containers)
    snap = dataclasses.replace(snap, containers=evil)
    for v in VIEWS:
        for width in (40, 200):
            text = v.render(snap, None, Focus(), width).plain
            assert "\x1b" not in text and "\x07" not in text, v.name
