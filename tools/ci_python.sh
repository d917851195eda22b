#!/usr/bin/env bash
# CI for the Python package ghost_yolo (crates/ghost-yolo-py): a fresh virtual environment, the
# pinned test requirements, the package installed with the README's command, then its pytest suite
# (which compares with the `ghost-yolo` CLI, built here if needed).
#
#   tools/ci_python.sh            # from anywhere; prints its wall time at the end
#
# The video tests of model.track need ffmpeg; they fail without it when GHOST_REQUIRE_FFMPEG=1
# (.ci/run), else they are skipped.
#
# Environment: PYTHON (interpreter, default python3), GHOST_YOLO_VENV (default
# target/ci-python-venv, gitignored; recreated on every run). The extension and the CLI are built
# in release mode into the workspace's target/ (the wheel's build is reused by the CLI's).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
PY=${PYTHON:-python3}
VENV=$(realpath -m "${GHOST_YOLO_VENV:-target/ci-python-venv}")
export PIP_DISABLE_PIP_VERSION_CHECK=1 RAY_USAGE_STATS_ENABLED=0

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q -r tools/requirements-py-test.txt
# The README's command.
"$VENV/bin/pip" install -q ./crates/ghost-yolo-py

# The CLI the parity tests compare with (release: shares the wheel's compiled dependencies).
cargo build -q --release --bin ghost-yolo
export GHOST_YOLO_CLI="$PWD/target/release/ghost-yolo"

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
