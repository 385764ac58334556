#!/usr/bin/env bash
# The main job: set up, then run Helpline's demo on its embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./target/release/helpline demo "$@"
