#!/usr/bin/env bash
# `cargo deny check advisories`, offline: clones the RustSec advisory database snapshot kept in
# the repository (.ci/rustsec-advisory-db.bundle, a git bundle) to where cargo-deny looks for
# it (`db-path` in deny.toml, one folder per database URL), then checks with `--offline` (no fetching).
# CI machines cannot reach GitHub; see the README's "Supply chain" for the online check.
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE=.ci/rustsec-advisory-db.bundle
# cargo-deny's folder for https://github.com/rustsec/advisory-db: the URL's last segment and
# its XxHash64 (seed 0xca80de71), as cargo-deny 0.20 names it.
DB=target/advisory-dbs/advisory-db-3157b0e258782691

command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny@0.20.2
rm -rf "$DB"
mkdir -p "$(dirname "$DB")"
git clone --quiet --branch main "$BUNDLE" "$DB"
echo "advisories: RustSec snapshot $(git -C "$DB" log -1 --format=%s)" >&2
# `--offline` also keeps `cargo metadata` offline: every crate of the lock file (all
# platforms) must be downloaded first, from crates.io, which CI can reach.
cargo fetch --locked --quiet
cargo deny --locked --offline check advisories
