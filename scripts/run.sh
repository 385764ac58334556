#!/usr/bin/env bash
# The main job: set up, then serve the sample support line (lines/acme-bank) over gRPC on
# 127.0.0.1:50051 with the embedded store (var/helpline.db), on its embedded defaults.
# Place a call from another terminal: ./target/release/helpline call audio-samples/caller-stolen-card-8k.wav --server 127.0.0.1:50051
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./target/release/helpline serve "$@"
