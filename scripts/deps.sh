#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build and test, if missing.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
PACKAGES=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
          libzmq3-dev libczmq-dev libcmocka-dev libjansson-dev libnats-dev python3 clang)
# Only for tests (without their recommends): the Python worker example,
# curl and promtool (the prometheus package) for the metrics endpoint, strace
# for commit_first (a slow disk by fault injection), iproute2 for the tests
# across network namespaces, chromium for the dashboard's browser
# test (tests/integration/dashboard_browser), and nats-server for the tests
# of the NATS journal (they skip without it).
TEST_PACKAGES=(python3-zmq python3-protobuf protobuf-compiler curl prometheus strace iproute2
               chromium nats-server)
missing=()
missing_tests=()
installed () { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${TEST_PACKAGES[@]}"; do installed "$p" || missing_tests+=("$p"); done
[ ${#missing[@]} -eq 0 ] && [ ${#missing_tests[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]} ${missing_tests[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
[ ${#missing[@]} -eq 0 ] || $SUDO apt-get install -y -q "${missing[@]}"
[ ${#missing_tests[@]} -eq 0 ] || $SUDO apt-get install -y -q --no-install-recommends "${missing_tests[@]}"
