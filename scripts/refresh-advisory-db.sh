#!/usr/bin/env bash
# Replaces the RustSec advisory database snapshot CI checks against
# (.ci/rustsec-advisory-db.bundle). With an argument, copies that git bundle (e.g. the one the
# team shares in ../shared/rustsec-advisory-db.bundle); without one, bundles the current
# upstream `main` from GitHub (needs network). Then runs the offline check; commit the bundle
# and update the snapshot date in the README and docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=.ci/rustsec-advisory-db.bundle
if [ $# -ge 1 ]; then
  git bundle list-heads "$1" | grep -q ' refs/heads/main$' || { echo "no main branch in $1" >&2; exit 1; }
  cp "$1" "$TARGET"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  git clone --quiet --bare --single-branch --branch main https://github.com/rustsec/advisory-db "$work/db.git"
  git -C "$work/db.git" bundle create "$PWD/$TARGET" main
fi
chmod 644 "$TARGET"
echo "snapshot: $(git bundle list-heads "$TARGET")" >&2
bash scripts/advisories.sh
