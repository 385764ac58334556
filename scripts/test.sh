#!/usr/bin/env bash
# Set up, then run every test (unit and end to end, with the real models) in one cargo invocation, then
# the lints (rustfmt, clippy with the `talk` feature, so the microphone build cannot rot unseen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
cargo test --release --locked --no-fail-fast 2>&1 | tee target/test-output.txt || status=$?
echo "test summary:"
grep -E "^test result:" target/test-output.txt | awk '{p+=$4; f+=$6; i+=$8} END {printf "%d passed; %d failed; %d ignored\n", p, f, i}'
echo "lint: cargo fmt --check, cargo clippy --features talk -D warnings"
cargo fmt --check || status=1
cargo clippy --release --locked --all-targets --features talk -- -D warnings || status=1
exit "$status"
