"""Issue 17, "silently accepted: wrong types": the lint refuses malformed values in check blocks that it
used to take (a blank or '-x' interface, a pod named '/', an MTU of 0, an infinite CPU limit, the root
cgroup, `source: true`, a hostname with a newline, an fstype of '.'), naming the field, and still takes
the values the shipped lessons use. Each case is one expectation in a small lesson written to tmp_path
and read by parse_lesson, as `nstutor lint` reads it. No kernel, no root."""
from __future__ import annotations

import pytest

from test_lesson_hardening import CHECK, lesson_text, problems, write
from tutor.checks.base import LinkRef, v_cgroup_name
from tutor.checks.registry import build

LINE = 14      # the expectation's line in lesson_text()

#: The kind of values the audit (issue 17) found accepted, as YAML text.
BLANK = ["'   '", '"\\t"', '"a\\nb"']
SHAPES = ["'-x'", "'.'", "'/'", "'RED/'", "'10.0.0.1/99'"]


def flow(spec: dict[str, str]) -> str:
    """A flow mapping from YAML texts: {'dev': 'RED/veth0'} -> {dev: RED/veth0}."""
    return "{" + ", ".join(f"{key}: {value}" for key, value in spec.items()) + "}"


def found_for(tmp_path, kind: str, spec: dict[str, str] | str) -> list[tuple[int | None, str]]:
    """The problems of a lesson whose one expectation is `- KIND: SPEC` (SPEC a mapping or a scalar's text)."""
    text = flow(spec) if isinstance(spec, dict) else spec
    check = CHECK.replace("netns: {name: RED}", f"{kind}: {text}")
    return problems(write(tmp_path, lesson_text(check=check)))


def assert_refused(tmp_path, kind: str, base: dict[str, str], field: str, value: str) -> None:
    found = found_for(tmp_path, kind, {**base, field: value})
    assert any(line == LINE and f"'{kind}.{field}':" in msg for line, msg in found), (value, found)


def assert_accepted(tmp_path, kind: str, base: dict[str, str], field: str, value: str) -> None:
    assert found_for(tmp_path, kind, {**base, field: value}) == []


# --------------------------------------------------------------- 3. container and pod names
CONTAINER = {"name": "web", "engine": "docker"}
POD_MEMBER = {"name": "podweb-a", "engine": "podman", "pod": "podweb"}
BAD_CONTAINER_NAMES = BLANK + SHAPES + ["true", "''", "'web one'"]


@pytest.mark.parametrize("value", BAD_CONTAINER_NAMES)
def test_a_container_name_follows_the_engines_rule(tmp_path, value):
    assert_refused(tmp_path, "container", CONTAINER, "name", value)


@pytest.mark.parametrize("value", BAD_CONTAINER_NAMES + ["'Default/web'", "'default/'", "'a/b/c'"])
def test_a_pod_name_is_a_podman_name_or_a_kubernetes_namespace_and_name(tmp_path, value):
    assert_refused(tmp_path, "container", POD_MEMBER, "pod", value)


@pytest.mark.parametrize("value", ["web", "web-side", "api_made.2", "9lives"])
def test_container_names_the_lessons_use_pass(tmp_path, value):
    assert_accepted(tmp_path, "container", CONTAINER, "name", value)


@pytest.mark.parametrize("spec", [POD_MEMBER, {"name": "myweb2-nginx", "engine": "containerd", "pod": "default/myweb2"}])
def test_pod_names_the_lessons_use_pass(tmp_path, spec):
    assert found_for(tmp_path, "container", spec) == []


# --------------------------------------------------------------- 4. interface references and names
DEV_KINDS = {
    "address": {"cidr": "10.11.11.2/24"},
    "bridge": {},
    "link": {},
    "route": {"dst": "default"},
    "neighbour": {"ip": "10.0.0.2"},
    "fdb": {"mac": "0a:58:ac:10:00:01"},
    "vxlan": {},
}
BAD_NAMES = ['"\\t"', '"a\\nb"', "'-x'", "'.'", "'..'", "'a:b'", "'a b'", "'sixteen-chars-xx'"]
BAD_DEVS = ["'   '"] + BAD_NAMES + ["'RED/-x'", "'RED/.'", "'RED/a/b'", "'-x/veth0'", "'RE D/veth0'", "'/veth0'",
                                   "'RED/'", "true"]


@pytest.mark.parametrize("kind", DEV_KINDS)
@pytest.mark.parametrize("value", BAD_DEVS)
def test_a_dev_is_a_netns_and_an_interface_the_kernel_would_take(tmp_path, kind, value):
    assert_refused(tmp_path, kind, DEV_KINDS[kind], "dev", value)


@pytest.mark.parametrize("kind", DEV_KINDS)
@pytest.mark.parametrize("value", ["RED/veth0", "veth0", "node1/flannel.1", "host/eth0", "fifteen-chars-x"])
def test_interface_references_pass(tmp_path, kind, value):
    assert_accepted(tmp_path, kind, DEV_KINDS[kind], "dev", value)


IFNAME_FIELDS = [
    ("masquerade", {"source": "10.22.0.0/24"}, "not_out"),
    ("vxlan", {"dev": "node1/flannel.1"}, "underlay"),
    ("link", {"dev": "RED/veth0"}, "master"),
    ("link", {"dev": "veth-web"}, "peer_master"),
]


@pytest.mark.parametrize("kind, base, field", IFNAME_FIELDS)
@pytest.mark.parametrize("value", BAD_NAMES + ["'/'", "'RED/'", "'RED/veth0'", "''"])
def test_a_bare_interface_name_follows_the_kernels_rules(tmp_path, kind, base, field, value):
    assert_refused(tmp_path, kind, base, field, value)


@pytest.mark.parametrize("kind, base, field", IFNAME_FIELDS)
@pytest.mark.parametrize("value", ["nsbr0", "docker0", "eth0", "flannel.1"])
def test_bare_interface_names_pass(tmp_path, kind, base, field, value):
    assert_accepted(tmp_path, kind, base, field, value)


def test_the_interface_reference_message_says_why(tmp_path):
    found = found_for(tmp_path, "link", {"dev": "RED/-x"})
    assert found == [(LINE, "step 'rooms': 'link.dev': 'RED/-x' is not an interface reference like RED/veth0 "
                            "(or veth0 for the host): an interface name cannot start with '-' (ip would read it "
                            "as an option)")]


def test_a_links_master_is_beside_it_and_its_peers_master_is_not_named():
    """master is a bridge in the link's own netns (the panel highlights it there); peer_master is in the
    other end's netns, which the expectation does not say, so it names nothing."""
    link = build({"link": {"dev": "RED/veth0", "master": "nsbr0", "peer_master": "docker0"}})
    assert list(link.refers_to()) == [LinkRef("veth0", "RED"), LinkRef("nsbr0", "RED")]


# --------------------------------------------------------------- 5. whole numbers with a range
INT_FIELDS = [
    ("link", {"dev": "RED/veth0"}, "mtu", ["0", "-1", "67", "65537", "0x7fffffffffffffff", "true", "1.5", "'1500'"],
     ["68", "1500", "65535", "65536"]),
    ("vxlan", {"dev": "node1/flannel.1"}, "mtu", ["0", "-1", "65536", "0x7fffffffffffffff", "true"], ["1450"]),
    ("vxlan", {"dev": "node1/flannel.1"}, "port", ["0", "-1", "65536", "0x7fffffffffffffff", "true"],
     ["1", "8472", "4789", "65535"]),
    ("vxlan", {"dev": "node1/flannel.1"}, "vni", ["-1", "16777216", "0x7fffffffffffffff", "false"],
     ["0", "1", "16777215"]),
    ("uid_map", {"cmdline": "'^sleep 1008$'", "outside": "owner"}, "inside",
     ["-1", "4294967295", "0x7fffffffffffffff", "true"], ["0", "1000", "4294967294"]),
    ("uid_map", {"cmdline": "'^sleep 1008$'"}, "outside",
     ["-1", "4294967295", "0x7fffffffffffffff", "true", "root"], ["0", "1000", "4294967294", "owner", "non-root"]),
    ("shm", {"cmdline": "'^sleep 1007$'"}, "size", ["0", "-1", "true", "1.5"], ["1", "4096", "0x7fffffffffffffff"]),
]


@pytest.mark.parametrize("kind, base, field, value", [(k, b, f, v) for k, b, f, bad, _ in INT_FIELDS for v in bad])
def test_a_whole_number_out_of_its_range_is_refused(tmp_path, kind, base, field, value):
    assert_refused(tmp_path, kind, base, field, value)


@pytest.mark.parametrize("kind, base, field, value", [(k, b, f, v) for k, b, f, _, good in INT_FIELDS for v in good])
def test_a_whole_number_in_its_range_passes(tmp_path, kind, base, field, value):
    assert_accepted(tmp_path, kind, base, field, value)


def test_the_range_is_in_the_message(tmp_path):
    found = found_for(tmp_path, "link", {"dev": "RED/veth0", "mtu": "0"})
    assert found == [(LINE, "step 'rooms': 'link.mtu': must be a whole number from 68 to 65536 (an IPv4 link's "
                            "MTU in bytes; lo's is 65536), e.g. 1500")]


# --------------------------------------------------------------- 6. a CPU limit
CGROUP = {"name": "nstutor-cpu"}


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "0", "-1", "100001", "0x7fffffffffffffff", "true", "'10'"])
def test_a_cpu_limit_is_finite_positive_and_bounded(tmp_path, value):
    assert_refused(tmp_path, "cgroup", CGROUP, "cpu_limit_percent", value)


@pytest.mark.parametrize("value", ["10", "0.5", "250", "100000"])
def test_cpu_limits_pass(tmp_path, value):
    assert_accepted(tmp_path, "cgroup", CGROUP, "cpu_limit_percent", value)


# --------------------------------------------------------------- 7. cgroup names
BAD_CGROUPS = BLANK + ["'.'", "'/'", "'..'", "'//'", "'a/..'", "'/lab/../x'", "'./x'", "'nstutor cpu'", "''", "true"]


@pytest.mark.parametrize("kind", ["cgroup", "memory"])
@pytest.mark.parametrize("value", BAD_CGROUPS)
def test_a_cgroup_name_is_below_the_root(tmp_path, kind, value):
    assert_refused(tmp_path, kind, {}, "name", value)


@pytest.mark.parametrize("kind", ["cgroup", "memory"])
@pytest.mark.parametrize("value", BAD_CGROUPS)
def test_the_short_form_is_checked_as_the_name(tmp_path, kind, value):
    found = found_for(tmp_path, kind, value)
    assert any(line == LINE and f"'{kind}.name':" in msg for line, msg in found), (value, found)


@pytest.mark.parametrize("value", ["a\x07b", "a\x85b", "a\u2028b", "a\x00"])
def test_a_control_character_in_a_cgroup_name_is_refused(value):
    """The parser refuses control characters in YAML texts before a validator sees them; the validator
    refuses them too, for a spec built another way (registry.build)."""
    assert v_cgroup_name("nstutor-cpu")(value)


@pytest.mark.parametrize("kind", ["cgroup", "memory"])
@pytest.mark.parametrize("value", ["nstutor-cpu", "/lab/nstutor-mem", "lab/x", "/system.slice/docker.service"])
def test_cgroup_names_pass_in_both_forms(tmp_path, kind, value):
    assert found_for(tmp_path, kind, {"name": value}) == []
    assert found_for(tmp_path, kind, value) == []


# --------------------------------------------------------------- 8. a masquerade's source
@pytest.mark.parametrize("value", ["true", "false", "0", "167772160", "[]"])
def test_a_masquerade_source_is_written_as_text(tmp_path, value):
    assert_refused(tmp_path, "masquerade", {}, "source", value)


def test_a_masquerade_source_passes(tmp_path):
    assert_accepted(tmp_path, "masquerade", {"not_out": "nsbr0"}, "source", "10.22.0.0/24")


# --------------------------------------------------------------- 9. host names
HOSTNAME = {"cmdline": "'^sleep 1003$'"}


@pytest.mark.parametrize("value", BLANK + SHAPES + ["''", "'a-'", "'a..b'", "'.a'", "'a_b'", "'" + "a" * 65 + "'",
                                                    "'" + "a" * 64 + ".b'", "true", "42"])
def test_a_hostname_is_a_host_name(tmp_path, value):
    assert_refused(tmp_path, "hostname", HOSTNAME, "hostname", value)


@pytest.mark.parametrize("value", ["lab-box", "myweb2", "web-1", "node1.example.org", "A1", "a" * 63, "'007'"])
def test_hostnames_pass(tmp_path, value):
    assert_accepted(tmp_path, "hostname", HOSTNAME, "hostname", value)


# --------------------------------------------------------------- 10. a filesystem type, a link kind
TYPE_FIELDS = [("mount", {"cmdline": "'^sleep 1006$'", "target": "/mnt/nstutor-private"}, "fstype"),
               ("link", {"dev": "RED/veth0"}, "kind")]


@pytest.mark.parametrize("kind, base, field", TYPE_FIELDS)
@pytest.mark.parametrize("value", BLANK + SHAPES + ["''", "'Tmpfs'", "'tmp fs'", "true", "1"])
def test_a_type_is_one_lower_case_word(tmp_path, kind, base, field, value):
    assert_refused(tmp_path, kind, base, field, value)


@pytest.mark.parametrize("kind, base, field", TYPE_FIELDS)
@pytest.mark.parametrize("value", ["tmpfs", "proc", "cgroup2", "fuse.sshfs", "veth", "vxlan", "ip6_gre"])
def test_types_pass(tmp_path, kind, base, field, value):
    assert_accepted(tmp_path, kind, base, field, value)
