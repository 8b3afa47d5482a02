#!/usr/bin/env bash
# Install nstutor on a Debian/Ubuntu lab VM: the kernel tools the lessons use, and nstutor itself
# in its own virtual environment (/opt/nstutor), linked as /usr/local/bin/nstutor.
#
#   sudo ./install.sh           tools + nstutor
#   sudo ./install.sh --test    the same, plus what the test suite needs (pytest, tmux, chromium, and
#                               docker.io + nftables for the Docker-host tests, installed but not started)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${NSTUTOR_PREFIX:-/opt/nstutor}"
extras=""
apt_extra=()
engines=()
if [[ "${1:-}" == "--test" ]]; then
  extras="[test]"
  apt_extra=(tmux chromium)
  engines=(docker.io nftables)
fi

if [[ $EUID -ne 0 ]]; then
  echo "install.sh: run it as root (sudo ./install.sh): nstutor's lessons build namespaces, which needs root." >&2
  exit 2
fi

if command -v apt-get >/dev/null; then
  echo "==> installing the lesson tools with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    iproute2 util-linux bridge-utils iputils-ping procps tcpdump iptables psmisc \
    python3 python3-venv "${apt_extra[@]}" >/dev/null
  if (( ${#engines[@]} )) && ! { command -v dockerd && command -v nft; } >/dev/null; then
    # The Docker-host tests start (and stop) a dockerd of their own. A dockerd the package starts would
    # turn every other test's machine into a Docker host, so the package's services are not started:
    # policy-rc.d says "not now" to invoke-rc.d / deb-systemd-invoke during this install only.
    echo "==> installing ${engines[*]} for the Docker-host tests (not started)"
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
      trap '[[ -n $made_policy ]] && rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${engines[@]}" >/dev/null
    if [[ -n $made_policy ]]; then rm -f "$policy"; made_policy=""; fi
  fi
else
  echo "==> no apt-get here: install iproute2, util-linux, bridge-utils, iputils-ping, procps, tcpdump, iptables yourself"
fi

python="${PYTHON:-python3}"
echo "==> installing nstutor into $prefix"
"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install -q --upgrade pip
"$prefix/bin/python" -m pip install -q "$here$extras"
ln -sf "$prefix/bin/nstutor" /usr/local/bin/nstutor
echo "==> done: $(nstutor --version). Start it with: sudo nstutor"
