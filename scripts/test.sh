#!/usr/bin/env bash
# Set up, then run every test (unit and end to end, with the real models) in one cargo invocation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --release --locked --no-fail-fast 2>&1 | tee target/test-output.txt
echo "test summary:"
grep -E "^test result:" target/test-output.txt | awk '{p+=$4; f+=$6; i+=$8} END {printf "%d passed; %d failed; %d ignored\n", p, f, i}'
