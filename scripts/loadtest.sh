#!/usr/bin/env bash
# Load test of the TODO macro against the empty route, on loopback only.
#
# Builds the release binary and the `loadtest_peer` example, installs wrk from Debian's
# packages if missing, starts the app on 127.0.0.1 with a fresh database in a temp dir,
# lets the peer (a local Atlassian key server + Confluence site) perform a real signed install
# and create a task, then runs `wrk -t2 -c32` against /healthz and the macro URL (valid token),
# alternating, with RUST_LOG=warn (ROUNDS rounds) and once more with the production default
# RUST_LOG=info. Prints req/s, p99, the macro/healthz ratio, the server's peak RSS and the time
# to ready with an existing database, ending with a Markdown block for docs/performance.md.
#
# Environment: ROUNDS (3), DURATION (10s), THREADS (2), CONNECTIONS (32), READY_RUNS (5);
# BACKEND=postgres and REPLICAS=2 (scripts/loadtest-backends.sh) for PostgreSQL / two replicas.
# Run time after the build: about 7 x DURATION + a few seconds (< 2 minutes by default).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
READY_RUNS=${READY_RUNS:-5}
BIN=target/release/todo-connect
PEER=target/release/examples/loadtest_peer

say() { echo "==> $*" >&2; }

# --- build and tools ------------------------------------------------------------------------
say "building the release binary and the load-test peer"
# Two commands: the binary is built exactly as `cargo build --release` builds it (the example
# needs dev-dependencies, whose features would otherwise be unified into the binary's).
cargo build --release --bin todo-connect >&2
cargo build --release --example loadtest_peer >&2

if ! command -v wrk >/dev/null; then
  say "installing wrk"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq wrk >&2
fi

# --- state and cleanup ----------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/todo-loadtest.XXXXXX")
SERVER_PID=""
PEER_PID=""
stop_server() {
  if declare -F replicas_stop >/dev/null; then replicas_stop; fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  backend_stop
  if [ -n "$PEER_PID" ]; then
    kill -TERM "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: nothing accepts a connection on it.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}
APP_PORT=$(free_port)
PEER_PORT=$(free_port)
while [ "$PEER_PORT" = "$APP_PORT" ]; do PEER_PORT=$(free_port); done
APP="http://127.0.0.1:$APP_PORT"

export APP_ENV=test
export SITE_URL=https://todo-loadtest.example
export ADDON_KEY=todo-connect-loadtest
export HOST=127.0.0.1
export PORT=$APP_PORT
export DATABASE_PATH="$WORK/db/loadtest.sqlite3"
export CONNECT_KEYS_URL="http://127.0.0.1:$PEER_PORT"
# shellcheck source=scripts/loadtest-backends.sh
. scripts/loadtest-backends.sh
backend_start

# Starts the server with RUST_LOG=$1 (its log goes to $WORK/server-$1.log); waits for /healthz.
start_server() {
  RUST_LOG=$1 "$BIN" serve >"$WORK/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$APP/healthz" 2>/dev/null; then return; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$WORK/server-$1.log" >&2
      echo "server exited during start-up" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "server not ready within 10 s" >&2
  exit 1
}
start_server_and_replicas() {
  start_server "$1"
  replicas_start "$1"
}

# VmHWM (peak resident set) of the running server, in MiB.
peak_rss_mib() {
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"
}

# Runs wrk once; prints "req/s p99_ms non2xx socket_errors".
run_wrk() {
  local url=$1 out="$WORK/wrk.txt"
  # shellcheck disable=SC2046
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency $(replicas_wrk_args) "$url" >"$out"
  awk '
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" {
      v = $2
      if (v ~ /us$/) { sub(/us$/, "", v); p99 = v / 1000 }
      else if (v ~ /ms$/) { sub(/ms$/, "", v); p99 = v + 0 }
      else if (v ~ /s$/) { sub(/s$/, "", v); p99 = v * 1000 }
    }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %d %d\n", rps, p99, bad, errs }
  ' "$out"
}

RESULTS="$WORK/results.txt" # mode round route rps p99 non2xx errors
: >"$RESULTS"
# Runs `rounds` rounds of healthz then macro with the server's log level `mode`.
measure() {
  local mode=$1 rounds=$2 round route url line
  for round in $(seq 1 "$rounds"); do
    for route in healthz macro; do
      if [ "$route" = healthz ]; then url=$HEALTHZ_URL; else url=$MACRO_URL; fi
      say "RUST_LOG=$mode round $round/$rounds: $route"
      line=$(run_wrk "$url")
      echo "$mode $round $route $line" >>"$RESULTS"
    done
  done
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- install a site, create a task ----------------------------------------------------------
say "starting the app on $APP (fresh database in $WORK)"
start_server_and_replicas warn
"$PEER" install --app "$APP" --peer-port "$PEER_PORT" >"$WORK/peer.out" 2>"$WORK/peer.err" &
PEER_PID=$!
for _ in $(seq 1 300); do
  if grep -q '^MACRO_URL=' "$WORK/peer.out"; then break; fi
  if ! kill -0 "$PEER_PID" 2>/dev/null; then
    cat "$WORK/peer.err" >&2
    echo "the peer failed" >&2
    exit 1
  fi
  sleep 0.1
done
HEALTHZ_URL=$(sed -n 's/^HEALTHZ_URL=//p' "$WORK/peer.out")
MACRO_URL=$(sed -n 's/^MACRO_URL=//p' "$WORK/peer.out")
if [ -z "$MACRO_URL" ]; then
  echo "the peer printed no macro URL" >&2
  exit 1
fi
if ! curl -fsS "$MACRO_URL" | grep -q 'Load-test the TODO macro'; then
  echo "the macro URL does not render the task" >&2
  exit 1
fi
say "site installed, task created; macro URL is ${#MACRO_URL} bytes"

# --- load -----------------------------------------------------------------------------------
measure warn "$ROUNDS"
RSS_WARN=$(peak_rss_mib)
stop_server

say "again with RUST_LOG=info (the production default; log written to a file)"
start_server_and_replicas info
measure info 1
RSS_INFO=$(peak_rss_mib)
LOG_LINES=$(wc -l <"$WORK/server-info.log")
stop_server

# --- ready with an existing database --------------------------------------------------------
say "time to ready with the existing database ($READY_RUNS starts)"
READY=$(RUST_LOG=warn "$PEER" ready --url "$APP/healthz" --times "$READY_RUNS" -- "$BIN" serve)
READY_MEDIAN=$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' <<<"$READY")

# --- report ---------------------------------------------------------------------------------
summary() { # mode route -> "mean_rps median_p99 worst_p99 bad"
  awk -v m="$1" -v r="$2" '
    $1 == m && $3 == r { n++; rps += $4; p[n] = $5; if ($5 > worst) worst = $5; bad += $6 + $7 }
    END {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (p[j] < p[i]) { t = p[i]; p[i] = p[j]; p[j] = t }
      printf "%.0f %.2f %.2f %d\n", rps / n, p[int((n + 1) / 2)], worst, bad
    }' "$RESULTS"
}
verdict() { # met when $1 $2 $3 (awk comparison) holds
  if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then echo met; else echo MISSED; fi
}
read -r H_RPS H_P99 _ H_BAD <<<"$(summary warn healthz)"
read -r M_RPS M_P99 M_WORST M_BAD <<<"$(summary warn macro)"
read -r HI_RPS HI_P99 _ HI_BAD <<<"$(summary info healthz)"
read -r MI_RPS MI_P99 _ MI_BAD <<<"$(summary info macro)"
RATIO=$(awk -v m="$M_RPS" -v h="$H_RPS" 'BEGIN { printf "%.1f", 100 * m / h }')
RATIO_INFO=$(awk -v m="$MI_RPS" -v h="$HI_RPS" 'BEGIN { printf "%.1f", 100 * m / h }')
if [ $((H_BAD + M_BAD + HI_BAD + MI_BAD)) -ne 0 ]; then
  say "WARNING: some responses were not 2xx or had socket errors (see the table)"
fi

cat <<EOF

### Load test, $(date -u +%Y-%m-%dT%H:%MZ)

Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), \
$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; \
load average before the run: $LOAD_BEFORE. Backend: $BACKEND, $REPLICAS server(s).
\`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` on the same machine, loopback;
macro URL ${#MACRO_URL} bytes (realistic iframe query + HS256 token).

| RUST_LOG | round | route | req/s | p99 ms | non-2xx + socket errors |
|---|---|---|---:|---:|---:|
$(awk '{ printf "| %s | %s | %s | %s | %s | %d |\n", $1, $2, $3, $4, $5, $6 + $7 }' "$RESULTS")

| target | RUST_LOG=warn | RUST_LOG=info | |
|---|---|---|---|
| macro throughput >= 40% of /healthz | $M_RPS / $H_RPS req/s = **$RATIO%** | $MI_RPS / $HI_RPS req/s = **$RATIO_INFO%** | $(verdict "$RATIO" ">=" 40) / $(verdict "$RATIO_INFO" ">=" 40) |
| macro p99 < 5 ms | median **$M_P99 ms**, worst $M_WORST ms | **$MI_P99 ms** | $(verdict "$M_WORST" "<" 5) / $(verdict "$MI_P99" "<" 5) |
| peak RSS < 40 MB (VmHWM) | **$RSS_WARN MiB** | **$RSS_INFO MiB** | $(verdict "$RSS_WARN" "<" 40) / $(verdict "$RSS_INFO" "<" 40) |
| ready < 200 ms, existing database | **$READY_MEDIAN ms** median | | $(verdict "$READY_MEDIAN" "<" 200) |

/healthz p99: median $H_P99 ms (warn), $HI_P99 ms (info). Info round wrote $LOG_LINES log lines.
Ready: $READY
EOF
