#!/usr/bin/env bash
# CI's check of the fuzz crate (fuzz/), so that no target rots: every target compiles and passes
# clippy on the stable toolchain (libFuzzer's C++ runtime is left out: --no-default-features;
# `cargo fuzz` builds the real thing, see scripts/fuzz.sh), every target file is a [[bin]] and
# has seeds, and fuzz/Cargo.lock pins the versions Cargo.lock pins (fuzzed is what ships).
# Shares target/ with the main build, so only the app's library and the targets are checked anew.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx 'todo-connect-fuzz')
for file in fuzz/fuzz_targets/*.rs; do
  name=$(basename "$file" .rs)
  grep -qx "$name" <<<"$targets" || { echo "fuzz: $file has no [[bin]] in fuzz/Cargo.toml"; status=1; }
done
for name in $targets; do
  [ -f "fuzz/fuzz_targets/$name.rs" ] || { echo "fuzz: [[bin]] $name has no fuzz/fuzz_targets/$name.rs"; status=1; }
  [ -n "$(ls -A "fuzz/seeds/$name" 2>/dev/null)" ] || { echo "fuzz: no seeds in fuzz/seeds/$name (python3 fuzz/seeds.py)"; status=1; }
done

# A package both locks have must have the same version in both.
stale=$(awk '
  FNR == 1 { file++; name = "" }
  /^name = /    { name = $3 }
  /^version = / && name != "" { if (file == 1) { known[name] = 1; pinned[name " " $3] = 1 }
                  else if ((name in known) && !((name " " $3) in pinned)) print name " " $3 }
' Cargo.lock fuzz/Cargo.lock | tr -d '"')
if [ -n "$stale" ]; then
  echo "fuzz/Cargo.lock differs from Cargo.lock in:"
  echo "$stale"
  echo "refresh it: cp Cargo.lock fuzz/Cargo.lock && cargo metadata --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null"
  status=1
fi
[ "$status" = 0 ] || exit 1

cargo fmt --manifest-path fuzz/Cargo.toml --check
CARGO_TARGET_DIR="$PWD/target" cargo clippy --manifest-path fuzz/Cargo.toml --locked --bins \
  --no-default-features -- -D warnings
