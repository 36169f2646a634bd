#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build and test, if missing.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
PACKAGES=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
          libzmq3-dev libczmq-dev libcmocka-dev libjansson-dev python3 clang)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${missing[@]}"
