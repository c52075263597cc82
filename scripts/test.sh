#!/usr/bin/env bash
# The test command: installs the test tools if missing, then runs every test (library and binary
# unit tests, and the one integration-test binary, tests/it; there are no doc tests), then the
# integration tests once more against PostgreSQL (a throwaway cluster the harness starts), and
# ends with one summary line. Arguments go to cargo test (e.g. a test-name filter).
# BACKENDS="sqlite" (or "postgres") runs one backend only.
# A test that cannot run here (no browser, no PostgreSQL, no interop Python, no node) prints
# `SKIPPED <test>: <reason>` (testkit/src/skip.rs); the summary counts and lists those apart
# from the passes. With CI=true (.ci/run) a missing tool fails instead.
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
BACKENDS=${BACKENDS:-sqlite postgres}
# Tests that are inherently SQLite (the file, its lock, WAL, file backups) leave the
# PostgreSQL run, by name; PostgreSQL-only ones (POSTGRES_ONLY below) the SQLite run. Run on the
# other backend by hand, such a test prints SKIPPED with the reason and returns.
SQLITE_ONLY=(
  foundation::a_second_server_on_the_same_database_is_refused
  ops::the_binary_alone_in_an_empty_folder
  ops::a_backup_under_concurrent_writers
  ops::restore_is_refused_while_a_server_runs
  ops::a_server_does_not_start_while_a_restore_holds_the_database
  forge::migration::
  abuse::backups::
  abuse::links::
  abuse::wal::
)
# And the reverse: PostgreSQL-only tests leave the SQLite run.
POSTGRES_ONLY=(
  replicas::
  abuse::stall::
  abuse::tenants::on_postgres_a_small_sites_listing_reads_none_of_the_other_sites_rows
)
status=0
for backend in $BACKENDS; do
  # PostgreSQL's programs, looked up as the harness does (scripts/pg-bindir.sh).
  if [ "$backend" = postgres ] && ! why=$(bash scripts/pg-bindir.sh 2>&1 >/dev/null); then
    if [ "${CI:-}" = true ]; then
      echo "error: $why" >&2
      status=1
    else
      echo "SKIPPED the PostgreSQL run: $why" | tee -a "$log" >&2
    fi
    continue
  fi
  echo "==> integration tests on $backend" >&2
  set +e
  if [ "$backend" = sqlite ]; then
    skips=()
    for t in "${POSTGRES_ONLY[@]}"; do skips+=(--skip "$t"); done
    echo "excluded on SQLite (PostgreSQL only): ${POSTGRES_ONLY[*]}" >&2
    cargo test --locked --lib --bins --test it "$@" -- "${skips[@]}" 2>&1 | tee -a "$log"
  else
    skips=()
    for t in "${SQLITE_ONLY[@]}"; do skips+=(--skip "$t"); done
    echo "excluded on PostgreSQL (SQLite only): ${SQLITE_ONLY[*]}" >&2
    TODO_CONNECT_TEST_BACKEND=postgres cargo test --locked --test it "$@" -- "${skips[@]}" 2>&1 | tee -a "$log"
  fi
  run_status=${PIPESTATUS[0]}
  set -e
  [ "$run_status" -eq 0 ] || status=$run_status
done
# A skipped test is reported `ok` by libtest: it counts as skipped here, not as passed.
# (Anywhere in a line: with --test-threads=1 it lands after the test's own `test … ` prefix.)
grep -oE 'SKIPPED ([^ ]*|the PostgreSQL run): .*' "$log" >&2 || true
awk '/^test result:/ { passed += $4; failed += $6 } /SKIPPED [^ ]+: / { skipped++ }
  END { printf "total: %d passed, %d failed, %d skipped\n", passed - skipped, failed, skipped }' "$log"
exit "$status"
