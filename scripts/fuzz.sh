#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds (default 60) with cargo-fuzz on the
# nightly toolchain, seeding the corpora from the qsh vectors. Prints executions per target.
# Any crash is saved under fuzz/artifacts/<target>/ — turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal

# Seed corpora: the request URIs, canonical forms and lifecycle-shaped bodies of the vectors.
python3 - <<'PY'
import json, os, hashlib
vectors = json.load(open("tests/fixtures/connect-qsh-vectors.json"))["vectors"]
def put(target, data):
    d = f"fuzz/corpus/{target}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/seed-{hashlib.sha1(data).hexdigest()[:16]}", "wb").write(data)
for v in vectors:
    path, _, query = v["request_uri"].partition("?")
    base = v["base_url"].split("://", 1)[1].partition("/")[2]
    put("canonical_request", f"{v['method']}\n{path}\n{query}\n/{base}".encode())
    put("verify_token", b"eyJhbGciOiJIUzI1NiJ9." + v["qsh"].encode() + b".c2ln")
    put("install_body", json.dumps({"key": "k", "clientKey": v["name"], "sharedSecret": "s",
        "baseUrl": v["base_url"], "productType": "confluence"}).encode())
PY

for target in canonical_request verify_token install_body; do
  log="fuzz/${target}.log"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 > "$log" 2>&1 || {
    echo "$target: FAILED, see $log and fuzz/artifacts/$target/"; exit 1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  echo "$target: ${seconds}s, ${execs} executions, no crash"
done
