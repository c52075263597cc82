#!/usr/bin/env bash
# The Forge Custom UI. `scripts/forge-ui.sh deps` installs forge/'s npm packages exactly as
# forge/package-lock.json locks them (npm ci, install scripts off), when they are missing or
# older than the lock file. `scripts/forge-ui.sh` does that, then builds forge/src/* with
# @forge/bridge into forge/build/macro-view, forge/build/macro-config, forge/build/global-page
# and forge/build/issue-panel: the resource folders the generated manifest names.
set -euo pipefail
cd "$(dirname "$0")/../forge"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "forge-ui: npm ci in forge/"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
[ "${1:-build}" = deps ] && exit 0
npm run --silent build
