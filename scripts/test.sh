#!/usr/bin/env bash
# The test command: installs the test tools if missing, then runs every test (library and binary
# unit tests, and the one integration-test binary, tests/it; there are no doc tests), then the
# integration tests once more against PostgreSQL (a throwaway cluster the harness starts), prints
# each run's integration-test counts (which must be the same tests), and ends with one summary
# line. Arguments go to cargo test (e.g. a test-name filter).
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
names=$(mktemp -d)
trap 'rm -rf "$log" "$names"' EXIT
BACKENDS=${BACKENDS:-sqlite postgres}
# Every integration test runs on both backends: none is left out by name. A test whose subject
# exists on one backend only (a SQLite file's WAL, links to it, its file backups; a stalled
# PostgreSQL server, its query plans) reports `SKIPPED <test>: <reason>` on the other and
# returns; the rest assert each backend's own behaviour (docs/testing.md lists them). So both
# runs count the same tests, and the run fails when they do not.

# The integration binary's (tests/it) tests in one run's log: one `<name> <outcome>` line each
# (outcome ok, FAILED, ignored or skipped), in `$names/<backend>`.
it_tests() {
  awk '
    /^ *Running / { in_it = ($0 ~ /Running tests\/it\/main\.rs/) }
    !in_it { next }
    { line = $0 }
    # A skip line, alone or after the test`s own `test … ` prefix (--test-threads=1).
    match(line, /SKIPPED [^ ]+: /) {
      name = substr(line, RSTART + 8, RLENGTH - 10); skipped[name] = 1
    }
    # `test <name> ... <outcome>` (or `test <name> - should panic ... <outcome>`).
    /^test [^ ]+ (- should panic )?\.\.\. / {
      name = $2; rest = line; sub(/^[^.]*\.\.\. /, "", rest)
      outcome[name] = rest; pending = (rest !~ /^(ok|FAILED|ignored)/) ? name : ""
      next
    }
    # With a skip line in between, the outcome comes on a line of its own.
    pending != "" && /^(ok|FAILED|ignored)/ { outcome[pending] = $1; pending = "" }
    END {
      for (name in outcome) {
        o = outcome[name]; sub(/[ ,].*/, "", o)
        if (o == "ok" && (name in skipped)) o = "skipped"
        print name, o
      }
    }' "$1" | LC_ALL=C sort
}

status=0
ran=()
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
  one=$(mktemp)
  set +e
  if [ "$backend" = sqlite ]; then
    cargo test --locked --lib --bins --test it "$@" 2>&1 | tee "$one"
  else
    TODO_CONNECT_TEST_BACKEND=postgres cargo test --locked --test it "$@" 2>&1 | tee "$one"
  fi
  run_status=${PIPESTATUS[0]}
  set -e
  cat "$one" >>"$log"
  it_tests "$one" >"$names/$backend"
  rm -f "$one"
  ran+=("$backend")
  [ "$run_status" -eq 0 ] || status=$run_status
done
# A skipped test is reported `ok` by libtest: it counts as skipped here, not as passed.
# (Anywhere in a line: with --test-threads=1 it lands after the test's own `test … ` prefix.)
grep -oE 'SKIPPED ([^ ]*|the PostgreSQL run): .*' "$log" >&2 || true
for backend in "${ran[@]}"; do
  awk -v b="$backend" '{ n[$2]++ } END {
    printf "%s (tests/it): %d passed, %d skipped, %d failed, %d ignored\n",
      b, n["ok"], n["skipped"], n["FAILED"], n["ignored"] }' "$names/$backend"
done
# The same tests on both backends: any test one run lists and the other does not fails the run.
if [ "${#ran[@]}" -eq 2 ]; then
  a=${ran[0]} b=${ran[1]}
  count_a=$(wc -l <"$names/$a") count_b=$(wc -l <"$names/$b")
  only_a=$(LC_ALL=C join -v1 "$names/$a" "$names/$b" | cut -d' ' -f1)
  only_b=$(LC_ALL=C join -v2 "$names/$a" "$names/$b" | cut -d' ' -f1)
  if [ "$count_a" -ne "$count_b" ] || [ -n "$only_a$only_b" ]; then
    echo "error: the backends ran different tests: $count_a on $a, $count_b on $b" >&2
    while read -r t; do [ -z "$t" ] || echo "  only on $a: $t" >&2; done <<<"$only_a"
    while read -r t; do [ -z "$t" ] || echo "  only on $b: $t" >&2; done <<<"$only_b"
    status=1
  else
    echo "both backends: the same $count_a integration tests" >&2
  fi
fi
awk '/^test result:/ { passed += $4; failed += $6 } /SKIPPED [^ ]+: / { skipped++ }
  END { printf "total: %d passed, %d failed, %d skipped\n", passed - skipped, failed, skipped }' "$log"
exit "$status"
