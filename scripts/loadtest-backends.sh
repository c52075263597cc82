# shellcheck shell=bash
# Sourced by scripts/loadtest.sh: the PostgreSQL and several-replica variants of the load test.
#   BACKEND=postgres  a throwaway PostgreSQL cluster in $WORK (Debian's packages; initdb as the
#                     postgres user when run as root, default durability settings), DATABASE_URL
#   REPLICAS=2        a second server on the same database; wrk's threads split between the two
#                     (LOADTEST_PORTS, read by scripts/loadtest.lua's per-thread address hook),
#                     so each replica takes half the connections
# Both only make sense with BACKEND=postgres for REPLICAS>1 (SQLite refuses a second server).
BACKEND=${BACKEND:-sqlite}
REPLICAS=${REPLICAS:-1}
PG_BIN=""
PG_DATA=""
EXTRA_PIDS=()

# Starts the cluster and exports DATABASE_URL (a no-op for BACKEND=sqlite).
backend_start() {
  if [ "$BACKEND" != postgres ]; then
    if [ "$REPLICAS" -gt 1 ]; then echo "REPLICAS>1 needs BACKEND=postgres" >&2; exit 1; fi
    return
  fi
  PG_BIN=$(bash scripts/pg-bindir.sh) || exit 1
  local as=() port
  if [ "$(id -u)" -eq 0 ]; then
    as=(setpriv --reuid=postgres --regid=postgres --clear-groups)
    mkdir -p "$WORK/pg" && chown postgres:postgres "$WORK/pg" && chmod 755 "$WORK"
  else
    mkdir -p "$WORK/pg"
  fi
  PG_DATA="$WORK/pg/data"
  port=$(free_port)
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C >/dev/null
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/log" -w \
    -o "-p $port -k $WORK/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  PG_AS=("${as[@]}")
  say "PostgreSQL $("$PG_BIN/pg_ctl" --version | awk '{print $NF}') on 127.0.0.1:$port, $REPLICAS replica(s)"
}

# Stops replicas 2..REPLICAS.
replicas_stop() {
  local pid
  for pid in "${EXTRA_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  EXTRA_PIDS=()
}

backend_stop() {
  replicas_stop
  if [ -n "$PG_DATA" ] && [ -d "$PG_DATA" ]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true
  fi
}

# Starts replicas 2..REPLICAS beside the first (their logs: $WORK/server-$1-<n>.log) and
# exports LOADTEST_PORTS, which scripts/loadtest.lua uses to spread wrk's threads over them.
replicas_start() {
  local i port
  [ "$REPLICAS" -gt 1 ] || return 0
  local ports=("$APP_PORT")
  for i in $(seq 2 "$REPLICAS"); do
    port=$(free_port)
    PORT=$port RUST_LOG=${1%%-*} "$BIN" serve >"$WORK/server-$1-$i.log" 2>&1 &
    EXTRA_PIDS+=($!)
    for _ in $(seq 1 200); do
      curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
      sleep 0.05
    done
    ports+=("$port")
  done
  export LOADTEST_PORTS="${ports[*]}"
}
