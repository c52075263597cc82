#!/usr/bin/env bash
# The attacks of issue 12 at full size, on loopback only, against the release binary (or the
# binary named by BIN, e.g. one built from an older commit for the "before" figures).
#
# Builds the release binary and the `abuse_peer` example, raises the open-file limit (4,200
# slow clients need as many sockets on both sides), and lets the peer run each scenario on a
# fresh database: slow bodies from 4,200 connections, a flood of made-up install-key ids, 3,000
# writes (WAL size), one site flooding searches while another lists its tasks, and the purge
# order of issue 24 (Connect install, Forge adoption, tasks through Forge, Connect uninstalled,
# `purge --uninstalled-for 0`: are the tasks still there?), and two Forge installation ids of one
# cloud flapping beside another site. Prints one Markdown table row per scenario, for
# docs/security.md.
#
# Environment: BIN (target/release/todo-connect), SECONDS_PER_FLOOD (60), ONLY (all:
# slow,keys,wal,tenants,purge,flap), POSTGRES (unset: SQLite; else a throwaway PostgreSQL server's URL,
# e.g. postgres://postgres@127.0.0.1:5432/postgres, on which each scenario gets a fresh
# database). Run time after the build: about 3 x SECONDS_PER_FLOOD + 1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/todo-connect}
SECONDS_PER_FLOOD=${SECONDS_PER_FLOOD:-60}
ONLY=${ONLY:-slow,keys,wal,tenants,purge,flap}

echo "==> building the release binary and the abuse peer" >&2
# Two commands, as in scripts/loadtest.sh: the binary exactly as `cargo build --release`
# builds it, without the example's dev-dependency features.
cargo build --release --locked --bin todo-connect >&2
cargo build --release --locked --example abuse_peer >&2

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "==> attacking $BIN (open files: $(ulimit -n))" >&2
echo "| attack | load | service | cost |"
echo "|---|---|---|---|"
target/release/examples/abuse_peer --bin "$BIN" --seconds "$SECONDS_PER_FLOOD" --only "$ONLY" \
  ${POSTGRES:+--postgres "$POSTGRES"}
