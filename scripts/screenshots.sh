#!/usr/bin/env bash
# Refreshes docs/screenshots/: runs the real-browser tests (the Connect pages, and the Forge
# Custom UI, built first by scripts/forge-ui.sh), which write their screenshots under
# Cargo's target folder (never into the source tree), then copies the fresh PNGs into
# docs/screenshots/ for a human to look at and commit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/forge-ui.sh

target="${CARGO_TARGET_DIR:-target}"
shots="$target/screenshots"
rm -rf "$shots"
cargo test --locked --test it browser::

shopt -s nullglob
pngs=("$shots"/*.png)
if [ ${#pngs[@]} -eq 0 ]; then
  echo "screenshots: the browser test wrote no PNG into $shots" >&2
  exit 1
fi
mkdir -p docs/screenshots
cp "${pngs[@]}" docs/screenshots/
echo "screenshots: copied ${#pngs[@]} PNGs from $shots into docs/screenshots/:"
git status --short docs/screenshots
