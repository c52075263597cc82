#!/usr/bin/env bash
# The test command: installs the test tools if missing, then runs every test (library and binary
# unit tests, and the one integration-test binary, tests/it; there are no doc tests) and ends
# with one summary line. Arguments go to cargo test (e.g. a test-name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Forge Custom UI the manifest and browser tests load (forge/build/…).
bash scripts/forge-ui.sh
export TODO_CONNECT_PYTHON="$PWD/.venv/bin/python"
# The image-like test runs the release binary, copied alone into an empty folder.
cargo build --release --locked --bin todo-connect
export TODO_CONNECT_RELEASE_BIN="$PWD/target/release/todo-connect"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --lib --bins --test it "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "total: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
