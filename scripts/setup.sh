#!/usr/bin/env bash
# Installs the Debian 12 packages hare needs (only the missing ones) and
# builds hare in Release into build/. Idempotent: a second run installs
# nothing and rebuilds only what changed. Used by scripts/demo.sh and
# scripts/test.sh; run it alone to just build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libopenblas0-openmp      # LibTorch; without OpenBLAS torch is ~18x slower
  libcli11-dev libyaml-cpp-dev libfmt-dev zlib1g-dev nlohmann-json3-dev libssl-dev
  libre2-dev                            # dataset specs' file-name patterns (linear-time regexes)
  libssh-dev libzmq3-dev cppzmq-dev     # deploy (SSH) and runtime (ZeroMQ)
  catch2 python3-torch                  # tests (python3-torch checks models load in Python)
  openssh-server openssh-client iproute2  # the SSH test bed (network namespaces + sshd)
  iptables libnetfilter-queue-dev  # the test bed's one-way latency (hare-netdelay)
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "hare setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

BUILD_DIR=${HARE_BUILD_DIR:-build}
JOBS=${HARE_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${HARE_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" >&2
