#!/usr/bin/env bash
# Runs every fuzz target — each [[bin]] of fuzz/Cargo.toml, so a new target cannot be left out —
# for the given number of seconds (default 60) with cargo-fuzz on the nightly toolchain, then
# prints executions per target. Usage: scripts/fuzz.sh [seconds] [target…]
# Seeds: fuzz/seeds/<target>/ (committed, read only); what libFuzzer learns goes to
# fuzz/corpus/<target>/ (git-ignored). A crash is saved under fuzz/artifacts/<target>/ — turn it
# into a regression test beside the code. CI only builds the targets: scripts/fuzz-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal

if [ "$#" -gt 0 ]; then
  targets="$*"
else
  targets=$(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build >/dev/null

summary=""
failed=0
for target in $targets; do
  log="fuzz/${target}.log"
  mkdir -p "fuzz/corpus/$target"
  result="no crash"
  # Inputs up to 4 KiB, or the largest seed's size (a backup file is several pages).
  max_len=$(find "fuzz/seeds/$target" -type f -printf '%s\n' | sort -n | tail -1)
  [ "${max_len:-0}" -gt 4096 ] || max_len=4096
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 > "$log" 2>&1 || {
    result="FAILED, see $log and fuzz/artifacts/$target/"; failed=1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  line=$(printf '%-18s %6ss %12s executions  %s' "$target" "$seconds" "${execs:-?}" "$result")
  echo "$line"
  summary+="$line"$'\n'
done
echo
echo "Fuzzing $(git rev-parse --short HEAD) on $(date -u +%Y-%m-%d):"
printf '%s' "$summary"
exit "$failed"
