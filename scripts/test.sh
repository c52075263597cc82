#!/usr/bin/env bash
# The test command: installs the test tools if missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TODO_CONNECT_PYTHON="$PWD/.venv/bin/python"
exec cargo test --locked "$@"
