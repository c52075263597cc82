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
# Issue 24's cases are replayed here in shell, against the same binary: `links` (copy --to a
# dangling link and another application's SQLite file, restore through a link to the live
# database while it is served) and `stall` (every process of a PostgreSQL cluster of its own
# stopped with SIGSTOP for STALL_SECONDS while requests arrive: their status, how long each was
# held, and whether an acknowledged write was lost), each printing a table of its own.
#
# Environment: BIN (target/release/todo-connect), SECONDS_PER_FLOOD (60), ONLY (all:
# slow,keys,wal,tenants,purge,flap,links,stall), POSTGRES (unset: SQLite; else a throwaway
# PostgreSQL server's URL, e.g. postgres://postgres@127.0.0.1:5432/postgres, on which each
# scenario gets a fresh database), STALL_SECONDS (20), DATABASE_TIMEOUT (5; the stall runs with
# it and, for the "before" row, with 300: a deadline out of the stall's reach). Run time after
# the build: about 3 x SECONDS_PER_FLOOD + 2 x STALL_SECONDS + 1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/todo-connect}
SECONDS_PER_FLOOD=${SECONDS_PER_FLOOD:-60}
ONLY=${ONLY:-slow,keys,wal,tenants,purge,flap,links,stall}
STALL_SECONDS=${STALL_SECONDS:-20}
DATABASE_TIMEOUT=${DATABASE_TIMEOUT:-5}

echo "==> building the release binary and the abuse peer" >&2
# Two commands, as in scripts/loadtest.sh: the binary exactly as `cargo build --release`
# builds it, without the example's dev-dependency features.
cargo build --release --locked --bin todo-connect >&2
cargo build --release --locked --example abuse_peer >&2

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "==> attacking $BIN (open files: $(ulimit -n))" >&2
peer_only=$(tr ',' '\n' <<<"$ONLY" | grep -vxE 'links|stall' | paste -sd, - || true)
if [ -n "$peer_only" ]; then
  echo "| attack | load | service | cost |"
  echo "|---|---|---|---|"
  target/release/examples/abuse_peer --bin "$BIN" --seconds "$SECONDS_PER_FLOOD" \
    --only "$peer_only" ${POSTGRES:+--postgres "$POSTGRES"}
fi

BIN=$(realpath "$BIN")
PG_BIN=$(bash scripts/pg-bindir.sh 2>/dev/null || true)
work=$(mktemp -d)
server_pid=
timeout=$DATABASE_TIMEOUT
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    pg_signal CONT || true
    as_pg "$PG_BIN/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The command line of the binary in $work with the test environment, on $DATABASE_PATH (and
# $DATABASE_URL if set), in the array `cmd`.
todo_cmd() {
  cmd=(env -C "$work" -i PATH=/usr/bin:/bin APP_ENV=test SITE_URL=https://todo-abuse.example
    ADDON_KEY=todo-connect-abuse HOST=127.0.0.1 PORT="${PORT:-0}" RUST_LOG=error
    DATABASE_PATH="$DATABASE_PATH" DATABASE_TIMEOUT="$timeout")
  if [ -n "${DATABASE_URL:-}" ]; then cmd+=(DATABASE_URL="$DATABASE_URL"); fi
  cmd+=("$BIN")
}

todo() {
  todo_cmd
  "${cmd[@]}" "$@"
}

serve() {
  PORT=$(free_port)
  todo_cmd
  # exec: the background job is the server itself, so `kill $server_pid` stops it.
  (exec "${cmd[@]}" serve) 2>>"$work/serve.log" &
  server_pid=$!
  for _ in $(seq 300); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "the server did not start" >&2
  return 1
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# Runs the binary with "$@"; prints "<exit code> | <its one line>".
refused() {
  local code=0 line
  line=$(todo "$@" 2>&1 >/dev/null) || code=$?
  echo "$code | $line"
}

links() {
  DATABASE_PATH=$work/live.sqlite3
  mkdir -p "$work/db"
  todo migrate >/dev/null
  echo
  echo "| link case | exit code | line | afterwards |"
  echo "|---|---|---|---|"
  ln -s "$work/elsewhere.sqlite3" "$work/dangling.sqlite3"
  local answer made="not created"
  answer=$(refused copy --to "$work/dangling.sqlite3")
  [ -e "$work/elsewhere.sqlite3" ] && made="created, mode $(stat -c %a "$work/elsewhere.sqlite3")"
  echo "| copy --to a dangling link | $answer | the link's target $made |"

  python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"); c.commit()' \
    "$work/accounts.sqlite3"
  local before changed=unchanged
  before=$(sha256sum <"$work/accounts.sqlite3")
  answer=$(refused copy --to "$work/accounts.sqlite3")
  [ "$before" = "$(sha256sum <"$work/accounts.sqlite3")" ] ||
    changed="changed: $(sqlite3 "$work/accounts.sqlite3" 'SELECT count(*) FROM sqlite_schema') objects"
  echo "| copy --to another application's SQLite file | $answer | that file $changed |"

  serve
  todo backup "$work/backup.sqlite3" >/dev/null
  ln -s "$work/live.sqlite3" "$work/live-link.sqlite3"
  local kind="still a link"
  answer=$(DATABASE_PATH=$work/live-link.sqlite3 refused restore "$work/backup.sqlite3")
  [ -L "$work/live-link.sqlite3" ] || kind="replaced by a file"
  echo "| restore through a link to the served database | $answer | the link $kind |"
  answer=$(DATABASE_PATH=./db/../live.sqlite3 refused restore "$work/backup.sqlite3")
  echo "| restore of the served database spelled \`./db/../live.sqlite3\` | $answer | |"
  stop_server
}

# PostgreSQL's programs, run as an unprivileged user when we are root (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$(id -u postgres)" --regid="$(id -g postgres)" --clear-groups "$@"
  else
    "$@"
  fi
}

# Sends signal $1 to the cluster's postmaster and every process it started.
pg_signal() {
  local postmaster
  postmaster=$(head -1 "$work/pg/data/postmaster.pid")
  # shellcheck disable=SC2046 # one pid per word
  kill -"$1" "$postmaster" $(pgrep -P "$postmaster")
}

psql_stall() {
  PGOPTIONS=--client-min-messages=warning psql -qtAX \
    "postgres://postgres@127.0.0.1:$pg_port/stall" -c "$1"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# An HS256 Connect context token for site $1 of those the stall inserts.
context_token() {
  local now header payload signature
  now=$(date +%s)
  header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  payload=$(printf '{"iss":"stall-%s","sub":"acc-1","iat":%s,"exp":%s,"qsh":"context-qsh"}' \
    "$1" "$now" "$((now + 3600))" | b64url)
  signature=$(printf '%s.%s' "$header" "$payload" |
    openssl dgst -sha256 -hmac "stall-secret-$1" -binary | b64url)
  echo "$header.$payload.$signature"
}

start_cluster() {
  mkdir -p "$work/pg/socket"
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$work" # mktemp's 0700 would keep the cluster's user out
    chown -R postgres:postgres "$work/pg"
  fi
  as_pg "$PG_BIN/initdb" -D "$work/pg/data" -U postgres -A trust --no-sync >/dev/null
  pg_port=$(free_port)
  as_pg "$PG_BIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $pg_port -k $work/pg/socket -c listen_addresses=127.0.0.1" start >/dev/null
  psql -qtAX "postgres://postgres@127.0.0.1:$pg_port/postgres" -c 'CREATE DATABASE stall'
}

# One stall with DATABASE_TIMEOUT=$1: 20 acknowledged writes, then every PostgreSQL process
# stopped; 1 s into the stall 8 sites send one request each (creates and lists; one per site,
# so no site's budget turns one away); the cluster continues after STALL_SECONDS. One row.
stall_once() {
  timeout=$1
  DATABASE_PATH=$work/unused.sqlite3
  DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/stall"
  psql_stall 'DROP SCHEMA public CASCADE; CREATE SCHEMA public'
  todo migrate >/dev/null
  local i
  for i in $(seq 8); do
    psql_stall "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url,
        product_type, installed_at, updated_at) VALUES ('todo-connect-abuse', 'stall-$i',
        'stall-secret-$i', 'https://stall-$i.atlassian.net/wiki', 'confluence', now(), now())"
  done
  serve
  local api="http://127.0.0.1:$PORT/api/tasks" acknowledged=0
  for i in $(seq 20); do
    if curl -fs -o /dev/null -H "Authorization: JWT $(context_token 1)" \
      -H 'Content-Type: application/json' -d "{\"title\":\"before $i\"}" "$api"; then
      acknowledged=$((acknowledged + 1))
    fi
  done
  pg_signal STOP
  local stopped_at pids=()
  stopped_at=$(date +%s.%N)
  sleep 1
  for i in $(seq 8); do
    local request=(-H "Authorization: JWT $(context_token "$i")")
    if [ $((i % 2)) = 0 ]; then
      request+=(-H 'Content-Type: application/json' -d "{\"title\":\"during $i\"}")
    fi
    curl -s -o /dev/null -m 600 -w '%{http_code} %{time_total}\n' "${request[@]}" "$api" \
      >"$work/during-$i" &
    pids+=($!)
  done
  sleep "$(python3 -c "import time; print(max(0, $stopped_at + $STALL_SECONDS - time.time()))")"
  pg_signal CONT
  wait "${pids[@]}"
  local statuses held after stored
  statuses=$(cut -d' ' -f1 "$work"/during-* | sort | uniq -c | awk '{printf "%s x %s, ", $1, $2}')
  held=$(cut -d' ' -f2 "$work"/during-* | sort -g | tail -1)
  after=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: JWT $(context_token 1)" \
    -H 'Content-Type: application/json' -d '{"title":"after"}' "$api")
  stored=$(psql_stall "SELECT count(*) FROM tasks WHERE title LIKE 'before %'")
  echo "| $STALL_SECONDS s stall, DATABASE_TIMEOUT=$timeout | ${statuses%, } | $held s |" \
    "$after | $((acknowledged - stored)) of $acknowledged |"
  stop_server
  unset DATABASE_URL
}

stall() {
  if [ -z "$PG_BIN" ]; then
    bash scripts/pg-bindir.sh >/dev/null || true # says why
    return 1
  fi
  start_cluster
  echo
  echo "| stall | answers during the stall | longest held | a create after | acknowledged writes lost |"
  echo "|---|---|---|---|---|"
  stall_once 300
  stall_once "$DATABASE_TIMEOUT"
}

case ",$ONLY," in *,links,*) links ;; esac
case ",$ONLY," in *,stall,*) stall ;; esac
