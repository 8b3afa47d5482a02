#!/usr/bin/env bash
# Install nstutor on a Debian/Ubuntu lab VM: the kernel tools the lessons use, and nstutor itself
# in its own virtual environment (/opt/nstutor), linked as /usr/local/bin/nstutor.
#
#   ./install.sh           tools + nstutor
#   ./install.sh --test    the same, plus what the test suite needs (pytest, tmux, chromium,
#                          docker.io + nftables for the Docker-host tests, installed but not started,
#                          and podman, catatonit, runc, busybox-static for the container lessons)
#
# Root is needed (packages, /opt, and the lessons build namespaces). In a root shell it just runs;
# as a user with sudo it runs itself again through sudo; with neither it says how to become root.
# What apt-get and pip print goes to a log, shown only when a stage fails: a machine's own pip
# configuration and debconf print notices that are not errors and should not look like them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${NSTUTOR_PREFIX:-/opt/nstutor}"
link="${NSTUTOR_LINK:-/usr/local/bin/nstutor}"

testing=""
case "${1:-}" in
  "") ;;
  --test) testing=1 ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown option '$1' (use --test, or no option)" >&2; exit 2 ;;
esac

if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    echo "==> installing needs root: running install.sh again with sudo"
    exec sudo -- "$here/install.sh" "$@"
  fi
  echo "install.sh: installing needs root, and this machine has no sudo." >&2
  echo "  Log in as root (or run: su -c '$here/install.sh $*') and run it again." >&2
  exit 2
fi

started=$SECONDS
log="$(mktemp /tmp/nstutor-install.XXXXXX.log)"
lesson_tools=(iproute2 util-linux bridge-utils iputils-ping procps tcpdump iptables psmisc python3 python3-venv)
test_tools=(tmux chromium)
engines=(docker.io nftables podman catatonit runc busybox-static curl)
total=3
[[ -n $testing ]] && total=4
n=0

stage() { n=$((n + 1)); printf '==> [%d/%d] %s\n' "$n" "$total" "$*"; }
note() { printf '    %s\n' "$*"; }
# Run a command with its output in the log; on failure show the command and the log's end.
quiet() {
  if ! "$@" >>"$log" 2>&1; then
    echo "install.sh: this step failed: $*" >&2
    echo "--- the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
}
missing_packages() {
  local pkg
  for pkg in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]] || echo "$pkg"
  done
}
apt_updated=""
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z $apt_updated ]]; then quiet apt-get update -q; apt_updated=1; fi
  quiet apt-get install -y -q --no-install-recommends "$@"
}

# ---------------------------------------------------------------- 1. the lessons' tools
stage "the tools the lessons use (${lesson_tools[*]})"
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  note "no apt-get here: install these yourself with your package manager"
else
  mapfile -t need < <(missing_packages "${lesson_tools[@]}")
  if (( ${#need[@]} )); then
    note "installing ${need[*]} with apt-get (a minute or two)"
    apt_install "${need[@]}"
  else
    note "all installed already"
  fi
fi

# ---------------------------------------------------------------- 2. what the tests need
if [[ -n $testing ]] && command -v apt-get >/dev/null; then
  stage "what the tests need (${test_tools[*]}; ${engines[*]}, installed but not started)"
  mapfile -t need < <(missing_packages "${test_tools[@]}" "${engines[@]}")
  if (( ${#need[@]} )); then
    note "installing ${need[*]} with apt-get"
    # The Docker-host tests start (and stop) a dockerd of their own. A dockerd the package starts
    # would turn every other test's machine into a Docker host, so the package's services are not
    # started: policy-rc.d says "not now" to invoke-rc.d / deb-systemd-invoke during this install.
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
      trap '[[ -n $made_policy ]] && rm -f "$policy"' EXIT
    fi
    apt_install "${need[@]}"
    if [[ -n $made_policy ]]; then rm -f "$policy"; made_policy=""; fi
  else
    note "all installed already"
  fi
elif [[ -n $testing ]]; then
  stage "what the tests need: no apt-get here, install ${test_tools[*]} ${engines[*]} yourself"
fi

# ---------------------------------------------------------------- 3. a Python environment of its own
python="${PYTHON:-python3}"
if [[ -x $prefix/bin/python ]]; then
  stage "its Python environment, $prefix (there already: reused)"
else
  stage "its Python environment, $prefix"
fi
quiet "$python" -m venv "$prefix"
quiet "$prefix/bin/python" -m pip install --upgrade pip

# ---------------------------------------------------------------- 4. nstutor itself
what="nstutor"
[[ -n $testing ]] && what="nstutor and the test tools (pytest, ...)"
stage "$what, from $here"
# pip builds in the clone's build/, and setuptools never empties it: a module renamed or removed
# since the last install would be installed again beside its successor. Start from a clean one.
rm -rf "$here/build"
quiet "$prefix/bin/python" -m pip install "$here$([[ -n $testing ]] && echo '[test]')"
quiet ln -sf "$prefix/bin/nstutor" "$link"
version="$("$prefix/bin/nstutor" --version)"
note "$version, linked as $link"
# Parse the lessons once now, into root's parse cache (tutor/lessons/parse_cache.py), so that the
# learner's first start does not wait for it (~130 ms). A failure here costs only that time.
NSTUTOR_LANG=ko "$prefix/bin/nstutor" list >/dev/null 2>&1 || true     # ko parses the English too
rm -f "$log"

# How to start it, for the shell the learner is in: nstutor runs itself through sudo when a user
# who has sudo starts it, so `nstutor` is right in both cases; a sudo user is told that it will ask.
if [[ -n "${SUDO_USER:-}" && "${SUDO_USER}" != root ]]; then
  start="nstutor   (as ${SUDO_USER} it asks sudo for root itself; sudo nstutor works too)"
else
  start="nstutor"
fi
echo "==> done in $((SECONDS - started)) s: $version. Start it with: $start"
