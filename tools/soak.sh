#!/usr/bin/env bash
# Soak the property and fuzz tests: run them ROUNDS times with fresh random seeds and CASES cases
# per property (`cargo test` runs them once, at a few hundred cases). Any failure is shrunk by
# proptest and saved in a `*.proptest-regressions` file next to its test: commit that file with
# the fix, so the case replays first on every later run.
#
# Usage: tools/soak.sh [ROUNDS (default 20)] [CASES (default 3000)]
# About 1-2 minutes per round on 2 cores at the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
cases="${2:-3000}"
export PROPTEST_CASES="$cases"
cargo test --workspace --no-run
for round in $(seq 1 "$rounds"); do
    echo "== soak round $round of $rounds ($cases cases per property)"
    cargo test -q -p yolo11-ghost --test fuzz_props
    cargo test -q -p ghost-layers --test hostile_weights --test layers
    cargo test -q -p ghost-kernels --tests
done
echo "soak: $rounds rounds clean"
