#!/usr/bin/env bash
# podium's one entry point for a fresh Debian 12 machine (as root):
#   bash scripts/dev.sh demo    install everything, then play the demo onto real containers
#   bash scripts/dev.sh test    install everything, then run unit and integration tests
#   bash scripts/dev.sh bench   install everything, then run the side-by-side benchmarks
# Installing is idempotent and skipped when nothing changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(runc conmon catatonit busybox-static python3 python3-venv iproute2 iptables procps
              golang-github-containers-common netavark aardvark-dns podman uidmap make zstd nftables
              docker-registry openssl)
PY=/usr/bin/python3
STAMPS=.stamps

need_apt() {
  local want; want=$(printf '%s\n' "${APT_PACKAGES[@]}" | sha256sum | cut -c1-16)
  [ -f "$STAMPS/apt-$want" ] && return 1
  echo "$want"
}

install_apt() {
  local want
  if want=$(need_apt); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
    mkdir -p "$STAMPS"; rm -f "$STAMPS"/apt-*; touch "$STAMPS/apt-$want"
  fi
}

install_venv() {
  local want; want=$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -x .venv/bin/python ] || [ ! -f "$STAMPS/venv-$want" ]; then
    "$PY" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
    mkdir -p "$STAMPS"; rm -f "$STAMPS"/venv-*; touch "$STAMPS/venv-$want"
  fi
}

install_docker_client() {
  # The REST API tests drive podium with the docker CLI. Debian 12 ships the client only
  # inside docker.io (20.10, API 1.41), together with a daemon that must never run here:
  # install it with service starts denied, then mask the units. Skipped when a docker
  # client is already installed (the machine may have a newer one in /usr/local/bin).
  command -v docker >/dev/null 2>&1 && return 0
  export DEBIAN_FRONTEND=noninteractive
  local deny=/usr/sbin/policy-rc.d
  local had=0; [ -e "$deny" ] && had=1
  [ "$had" = 1 ] || printf '#!/bin/sh\nexit 101\n' > "$deny"
  chmod +x "$deny"
  apt-get install -y -q --no-install-recommends docker.io || { [ "$had" = 1 ] || rm -f "$deny"; return 1; }
  [ "$had" = 1 ] || rm -f "$deny"
  if command -v systemctl >/dev/null 2>&1; then
    systemctl mask --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true
  fi
}

podman_conf() {
  # Podman (used by interop tests and benchmarks) must not raise rlimits above
  # this host's hard limits, and crun refuses hybrid cgroup hosts: runc it is.
  # Tests and benches pass their own CONTAINERS_CONF; this is for plain podman.
  local conf=/etc/containers/containers.conf
  if [ ! -f "$conf" ]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = [\n  "nofile=%s:%s",\n]\n\n[engine]\nruntime = "runc"\n' \
      "$(ulimit -Hn)" "$(ulimit -Hn)" > "$conf"
  fi
}

case "${1:-}" in
  demo)
    install_apt; install_venv
    PATH="$PWD/.venv/bin:$PATH" bash examples/demo.sh ;;
  test)
    install_apt; install_venv; podman_conf; install_docker_client
    shift
    exec .venv/bin/python -m pytest -q -ra --durations=15 "${@:-tests}" ;;
  bench)
    install_apt; install_venv; install_docker_client
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine
    exec .venv/bin/python bench/run_bench.py "${@:2}" ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test|bench" >&2; exit 2 ;;
esac
