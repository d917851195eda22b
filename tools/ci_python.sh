#!/usr/bin/env bash
# CI for the Python package ghost_yolo (crates/ghost-yolo-py): a fresh virtual environment, the
# pinned test requirements, the package installed with the README's command, then its pytest suite
# (which compares with the `ghost-yolo` CLI, built here if needed).
#
#   tools/ci_python.sh            # from anywhere; prints its wall time at the end
#
# Environment: PYTHON (interpreter, default python3), GHOST_YOLO_VENV (default
# target/ci-python-venv, gitignored; recreated on every run), GHOST_YOLO_PROFILE (cargo profile of
# the extension, default "test" under CI=true so it reuses what `cargo test --workspace` compiled
# just before, "release" otherwise - the README install is always release).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
PY=${PYTHON:-python3}
VENV=$(realpath -m "${GHOST_YOLO_VENV:-target/ci-python-venv}")
if [ "${CI:-}" = "true" ]; then profile=${GHOST_YOLO_PROFILE:-test}; else profile=${GHOST_YOLO_PROFILE:-release}; fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 RAY_USAGE_STATS_ENABLED=0

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q -r tools/requirements-py-test.txt
# The README's command; the profile only picks which cargo build of the extension goes in.
MATURIN_PEP517_ARGS="--profile $profile" "$VENV/bin/pip" install -q ./crates/ghost-yolo-py

# The CLI the parity tests compare with (a no-op after `cargo test --workspace`).
cargo build -q --profile test --bin ghost-yolo
export GHOST_YOLO_CLI="$PWD/target/debug/ghost-yolo"

cd crates/ghost-yolo-py
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests
rc=$?
set -e
echo "tools/ci_python.sh: pytest exit code $rc, $(( $(date +%s) - start )) s"
# pytest: 0 all passed; 5 no test collected, which must not pass for green.
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
