#!/usr/bin/env bash
# Load test that looks like production, on loopback only: many sites, many tasks, a fresh token
# on every macro URL, and Confluence sites that are fast, slow or down.
#
# Builds the release binary and the `loadtest_peer` example, installs wrk from Debian's packages
# if missing, and starts the app on 127.0.0.1 with a fresh database in a temp dir. The peer plays
# Atlassian's key server and the Confluence sites: it installs SITES sites of each kind with real
# signed installs, creates TASKS tasks on each through the JSON API, and writes TOKENS macro URLs
# per task, each with its own token (Confluence mints one per iframe render):
#   mix    sites whose Confluence answers at once (the many-sites fresh-token mix);
#   slow   sites whose Confluence answers after SLOW_MS (2 s);
#   down   sites whose Confluence refuses connections.
# The server calls none of them (names and publishing are the page's, as the user): slow and
# down show that how a site's Confluence fares does not reach the server.
# Then, ROUNDS times with RUST_LOG=warn and once with the production default RUST_LOG=info (log
# written to a file), a fresh server on the existing database (cold caches, as after a deploy)
# gets `wrk -tTHREADS -cCONNECTIONS -dDURATION` for each route in turn:
#   healthz  GET /healthz, the empty route: the baseline;
#   single   one macro URL replayed (the first pass's round);
#   mix, slow, down  first one request to each site of that kind at once (curl; the slowest is
#            reported: a site's first request loads its installation), then wrk on all the URLs
#            of that kind, rotated by scripts/loadtest.lua.
# Every route goes through the same wrk Lua script, so the client costs the same for each. wrk
# corrects its percentiles for coordinated omission: a request that takes 1.5 s on a connection
# also counts as the ~1,500 requests that connection would have sent meanwhile.
# Then, with SCALE=1 (the default), the scale round (issue 22): SCALE_SITES Connect sites with
# SCALE_TASKS tasks each (10,000 x 200: 2 M tasks), seeded once into the same database through
# the app's stores, one transaction per SCALE_BATCH sites (`loadtest_peer seed`, not over
# HTTP), and SCALE_TOKENS macro URLs per site, each with its own token. Every round, after the
# routes above, two fresh servers in turn get wrk on all those URLs (requests spread over every
# site; no first request beforehand, so first renders of each site are part of the load):
#   scale-down  the sites' Confluence refuses connections (nothing listens on its port);
#   scale-slow  it answers after SLOW_MS (`loadtest_peer sites` on that port).
# Each reports req/s, p50/p99/max, errors, the sites reached and that server's peak RSS
# (VmHWM), and the script prints one line per scale target (throughput >= 0.8 of the 20-site
# mix, p99 < 5 ms, no error, peak RSS < 60 MB): met, or missed by how much.
# Then METRICS_PAIRS times (3; 0 skips), the metrics cost (issue 23): two fresh servers with
# RUST_LOG=warn, one without METRICS_ADDR and one with it and a scraper fetching /metrics every
# second (Prometheus's usual interval is 15 s), in alternating order, each given the mix (its
# first requests, then wrk); the mean req/s with metrics against without, target: under 5%
# lower. The scrape after each "on" run must count the mix's requests.
# Prints req/s, p50/p99/max and errors per route with the load average before each run, the
# server's peak RSS, the time to ready with the existing database, and a Markdown block for
# docs/performance.md. PROFILE=1 also records a CPU profile of the first mix round with perf
# (into target/loadtest/).
#
# Environment: ROUNDS (2), DURATION (10s), THREADS (2), CONNECTIONS (32), READY_RUNS (5),
#   SITES (20), TASKS (50), TOKENS (4), SLOW_MS (2000), PROFILE (0), METRICS_PAIRS (3), KEEP (0: 1 keeps the temp
#   dir with the server logs), SCALE (1; 0 skips the scale round), SCALE_SITES (10000),
#   SCALE_TASKS (200), SCALE_TOKENS (4), SCALE_BATCH (50 sites per transaction), BUILD (release;
#   debug builds the debug binaries: for checking the script, never for figures), and BIN: a
#   todo-connect binary to measure instead of building this
#   tree's (to compare two builds on the same peer); BACKEND=postgres and REPLICAS=2
#   (scripts/loadtest-backends.sh) for PostgreSQL / two replicas on one database.
# Run time after the build: about (ROUNDS + 1) x 7 x DURATION + 30 s (about 4 minutes), plus
# seeding the scale round (release build, quiet machine: under a minute on SQLite, a few on
# PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
READY_RUNS=${READY_RUNS:-5}
SITES=${SITES:-20}
TASKS=${TASKS:-50}
TOKENS=${TOKENS:-4}
SLOW_MS=${SLOW_MS:-2000}
PROFILE=${PROFILE:-0}
SCALE=${SCALE:-1}
METRICS_PAIRS=${METRICS_PAIRS:-3}
SCALE_SITES=${SCALE_SITES:-10000}
SCALE_TASKS=${SCALE_TASKS:-200}
SCALE_TOKENS=${SCALE_TOKENS:-4}
SCALE_BATCH=${SCALE_BATCH:-50}
BUILD=${BUILD:-release}
BIN=${BIN:-}
case $BUILD in
  release) CARGO_PROFILE=(--release) ;;
  debug) CARGO_PROFILE=() ;;
  *) echo "BUILD must be release or debug" >&2; exit 1 ;;
esac
PEER=target/$BUILD/examples/loadtest_peer
LUA=scripts/loadtest.lua
ROUTES="healthz single mix slow down"

say() { echo "==> $*" >&2; }

# --- build and tools ------------------------------------------------------------------------
say "building the $BUILD binary and the load-test peer"
# Two commands: the binary is built exactly as `cargo build --release` builds it (the example
# needs dev-dependencies, whose features would otherwise be unified into the binary's).
if [ -z "$BIN" ]; then
  cargo build "${CARGO_PROFILE[@]}" --bin todo-connect >&2
  BIN=target/$BUILD/todo-connect
fi
cargo build "${CARGO_PROFILE[@]}" --example loadtest_peer >&2

install_apt() {
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >&2
}
if ! command -v wrk >/dev/null; then
  say "installing wrk"
  install_apt wrk
fi
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then
  say "installing perf"
  install_apt linux-perf
fi

# --- state and cleanup ----------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/todo-loadtest.XXXXXX")
SERVER_PID=""
PEER_PID=""
SITES_PID=""
stop_server() {
  if declare -F replicas_stop >/dev/null; then replicas_stop; fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  if declare -F stop_scraper >/dev/null; then stop_scraper; fi
  stop_server
  stop_slow_sites
  if declare -F backend_stop >/dev/null; then backend_stop; fi
  if [ -n "$PEER_PID" ]; then
    kill -TERM "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK (server logs, URL files)" >&2; else rm -rf "$WORK"; fi
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
# The scale sites' Confluence: nothing listens here in the down round, the slow sites in the
# slow round.
SCALE_PORT=$(free_port)
while [ "$SCALE_PORT" = "$APP_PORT" ] || [ "$SCALE_PORT" = "$PEER_PORT" ]; do
  SCALE_PORT=$(free_port)
done
# The metrics listener of the metrics-cost rounds.
METRICS_PORT=$(free_port)
while [ "$METRICS_PORT" = "$APP_PORT" ] || [ "$METRICS_PORT" = "$PEER_PORT" ] ||
  [ "$METRICS_PORT" = "$SCALE_PORT" ]; do
  METRICS_PORT=$(free_port)
done
APP="http://127.0.0.1:$APP_PORT"
TARGETS="$WORK/targets"

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

# Starts the server with RUST_LOG=$1, its log in $WORK/server-$2.log; waits for /healthz.
start_server() {
  RUST_LOG=$1 "$BIN" serve >"$WORK/server-$2.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$APP/healthz" 2>/dev/null; then return; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$WORK/server-$2.log" >&2
      echo "server exited during start-up" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "server not ready within 10 s" >&2
  exit 1
}

# VmHWM (peak resident set) of the running server, in MiB.
peak_rss_mib() {
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"
}

# Runs wrk on the targets of file $1, whose line j is a URL of site j % $2 (0: not sites);
# prints "req/s p50_ms p99_ms max_ms non2xx socket_errors sites_reached".
run_wrk() {
  local out="$WORK/wrk.txt"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$LUA" "$APP" -- "$1" "$2" >"$out"
  awk '
    /^RESULT / {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%.0f %.2f %.2f %.1f %d %d %d\n", v["requests"] / v["seconds"], v["p50_us"] / 1000,
        v["p99_us"] / 1000, v["max_us"] / 1000, v["non2xx"], v["socket_errors"], v["sites_reached"]
    }' "$out"
}

# How many sites the URL file of route $1 spreads over (line j: site j % that).
route_sites() {
  case $1 in
    mix | slow | down) echo "$SITES" ;;
    single) echo 1 ;;
    scale-*) echo "$SCALE_SITES" ;;
    *) echo 0 ;;
  esac
}

# The scale sites' Confluence answering after SLOW_MS on SCALE_PORT (the slow
# round), or not listening at all (the down round).
start_slow_sites() {
  "$PEER" sites --port "$SCALE_PORT" --slow-ms "$SLOW_MS" >"$WORK/sites.out" 2>&1 &
  SITES_PID=$!
  for _ in $(seq 1 200); do
    if grep -q '^SITES_READY' "$WORK/sites.out"; then return; fi
    if ! kill -0 "$SITES_PID" 2>/dev/null; then
      cat "$WORK/sites.out" >&2
      echo "the slow sites did not start" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "the slow sites did not start within 10 s" >&2
  exit 1
}
stop_slow_sites() {
  if [ -n "$SITES_PID" ]; then
    kill -TERM "$SITES_PID" 2>/dev/null || true
    wait "$SITES_PID" 2>/dev/null || true
  fi
  SITES_PID=""
}

# The first request to each site of the kind in file $1 (the first SITES lines: one per site),
# all at once; prints "slowest_ms non200".
# With several replicas, every replica gets its first requests (each loads installations into
# its own cache).
first_requests() {
  local port servers=${LOADTEST_PORTS:-$APP_PORT}
  for port in $servers; do
    head -n "$SITES" "$1" | sed "s|^|http://127.0.0.1:$port|"
  done |
    xargs -P "$((SITES * $(wc -w <<<"$servers")))" -I{} \
      curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "{}" |
    awk '{ if ($2 * 1000 > m) m = $2 * 1000; if ($1 != 200) bad++ } END { printf "%.1f %d\n", m, bad }'
}

# With PROFILE=1, records the server while the first mix round runs (started before wrk).
profile_start() {
  local seconds=${DURATION%s}
  mkdir -p target/loadtest
  perf stat -e task-clock,context-switches -p "$SERVER_PID" -o target/loadtest/perf-stat.txt \
    -- sleep $((seconds - 1)) 2>/dev/null &
  PROFILE_PIDS="$!"
  perf record -e cpu-clock -F 299 --call-graph dwarf,16384 -p "$SERVER_PID" \
    -o target/loadtest/perf.data -- sleep $((seconds - 2)) >/dev/null 2>&1 &
  PROFILE_PIDS="$PROFILE_PIDS $!"
}

RESULTS="$WORK/results.txt" # mode round route load rps p50 p99 max non2xx errors sites_reached
FIRST="$WORK/first.txt"     # mode round route slowest_ms non200
RSS="$WORK/rss.txt"         # mode round MiB
SCALE_RSS="$WORK/scale-rss.txt" # mode round route MiB
: >"$SCALE_RSS"
: >"$RESULTS"
: >"$FIRST"
: >"$RSS"
# One server life: a fresh server with RUST_LOG=$1 on the existing database, every route once.
measure() {
  local mode=$1 round=$2 route load line
  say "RUST_LOG=$mode round $round: starting a fresh server"
  start_server "$mode" "$mode-$round"
  replicas_start "$mode-$round"
  for route in $ROUTES; do
    case $route in mix | slow | down)
      say "RUST_LOG=$mode round $round: $route, the first request of each site"
      echo "$mode $round $route $(first_requests "$TARGETS/$route.txt")" >>"$FIRST"
      ;;
    esac
    load=$(cut -d' ' -f1 /proc/loadavg)
    say "RUST_LOG=$mode round $round: $route (load $load)"
    if [ "$PROFILE" = 1 ] && [ "$route" = mix ] && [ ! -e target/loadtest/perf.data.done ]; then
      profile_start
      line=$(run_wrk "$TARGETS/$route.txt" "$(route_sites "$route")")
      # shellcheck disable=SC2086 # two PIDs
      wait $PROFILE_PIDS || true
      touch target/loadtest/perf.data.done
    else
      line=$(run_wrk "$TARGETS/$route.txt" "$(route_sites "$route")")
    fi
    echo "$mode $round $route $load $line" >>"$RESULTS"
  done
  echo "$mode $round $(peak_rss_mib)" >>"$RSS"
  stop_server
  if [ "$SCALE" != 0 ]; then
    measure_scale "$mode" "$round" down
    measure_scale "$mode" "$round" slow
  fi
}

# The scale round with the sites' Confluence $3 (down or slow): a fresh server (its peak RSS is
# this round's alone), wrk on every scale URL at once, no first requests beforehand.
measure_scale() {
  local mode=$1 round=$2 route=scale-$3 load line
  if [ "$3" = slow ]; then start_slow_sites; fi
  say "RUST_LOG=$mode round $round: $route, a fresh server"
  start_server "$mode" "$mode-$round-$route"
  replicas_start "$mode-$round-$route"
  load=$(cut -d' ' -f1 /proc/loadavg)
  say "RUST_LOG=$mode round $round: $route (load $load), $SCALE_SITES sites"
  line=$(run_wrk "$TARGETS/scale.txt" "$SCALE_SITES")
  echo "$mode $round $route $load $line" >>"$RESULTS"
  echo "$mode $round $route $(peak_rss_mib)" >>"$SCALE_RSS"
  stop_server
  stop_slow_sites
}

METRICS_RESULTS="$WORK/metrics.txt" # arm pair route load rps p50 p99 max non2xx errors sites
: >"$METRICS_RESULTS"
SCRAPER_PID=""
stop_scraper() {
  if [ -n "$SCRAPER_PID" ]; then
    kill "$SCRAPER_PID" 2>/dev/null || true
    wait "$SCRAPER_PID" 2>/dev/null || true
  fi
  SCRAPER_PID=""
}
# One server of the metrics-cost comparison: arm $1 (off: no METRICS_ADDR; on: METRICS_ADDR and
# a scrape a second), pair $2; the mix's first requests, then wrk on the mix.
measure_metrics_arm() {
  local arm=$1 pair=$2 load line counted
  say "metrics $arm, pair $pair: a fresh server"
  if [ "$arm" = on ]; then
    METRICS_ADDR="127.0.0.1:$METRICS_PORT" start_server warn "metrics-$arm-$pair"
    (while :; do curl -s -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"; sleep 1; done) &
    SCRAPER_PID=$!
  else
    start_server warn "metrics-$arm-$pair"
  fi
  first_requests "$TARGETS/mix.txt" >/dev/null
  load=$(cut -d' ' -f1 /proc/loadavg)
  line=$(run_wrk "$TARGETS/mix.txt" "$SITES")
  echo "$arm $pair mix $load $line" >>"$METRICS_RESULTS"
  if [ "$arm" = on ]; then
    stop_scraper
    # The mix's macro requests must have been counted, or "on" measured nothing.
    counted=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
      awk '/^http_requests_total\{.*route="\/confluence\/get_task".*status="2xx"/ { s += $NF }
           END { printf "%d", s }')
    if [ "$counted" -le 0 ]; then
      echo "metrics on, but the scrape counted no macro request" >&2
      exit 1
    fi
    say "metrics on, pair $pair: the scrape counted $counted macro requests"
  fi
  stop_server
}
# METRICS_PAIRS pairs, alternating which arm goes first (so a drifting machine favours neither).
measure_metrics() {
  local pair
  for pair in $(seq 1 "$METRICS_PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then
      measure_metrics_arm off "$pair"
      measure_metrics_arm on "$pair"
    else
      measure_metrics_arm on "$pair"
      measure_metrics_arm off "$pair"
    fi
  done
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f target/loadtest/perf.data.done

# --- install the sites, create the tasks, write the URLs ------------------------------------
say "starting the app on $APP (fresh database in $WORK)"
start_server warn setup
"$PEER" setup --app "$APP" --peer-port "$PEER_PORT" --out "$TARGETS" --sites "$SITES" \
  --tasks "$TASKS" --tokens "$TOKENS" --slow-ms "$SLOW_MS" >"$WORK/peer.out" 2>"$WORK/peer.err" &
PEER_PID=$!
for _ in $(seq 1 1200); do
  if grep -q '^SETUP_DONE' "$WORK/peer.out"; then break; fi
  if ! kill -0 "$PEER_PID" 2>/dev/null; then
    cat "$WORK/peer.err" >&2
    echo "the peer failed" >&2
    exit 1
  fi
  sleep 0.1
done
if ! grep -q '^SETUP_DONE' "$WORK/peer.out"; then
  echo "the peer did not finish setting up within 2 minutes" >&2
  exit 1
fi
cat "$WORK/peer.err" >&2
stop_server
SEED_LINE="not run (SCALE=0)"
if [ "$SCALE" != 0 ]; then
  say "seeding $SCALE_SITES sites x $SCALE_TASKS tasks through the stores ($SCALE_BATCH sites per transaction)"
  SEED_STARTED=$(date +%s.%N)
  SEED_LINE=$("$PEER" seed --sites "$SCALE_SITES" --tasks "$SCALE_TASKS" --tokens "$SCALE_TOKENS" \
    --batch "$SCALE_BATCH" --base-url "http://127.0.0.1:$SCALE_PORT/slow/wiki" --out "$TARGETS")
  SEED_SECS=$(awk -v a="$SEED_STARTED" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  SEED_LINE="$SEED_LINE total_seconds=$SEED_SECS"
  say "$SEED_LINE"
fi
URL_BYTES=$(head -n1 "$TARGETS/mix.txt" | wc -c)
MIX_URLS=$(wc -l <"$TARGETS/mix.txt")

# --- load -----------------------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do measure warn "$round"; done
say "again with RUST_LOG=info (the production default; log written to a file)"
measure info 1
LOG_LINES=$(wc -l <"$WORK/server-info-1.log")
if [ "$METRICS_PAIRS" != 0 ]; then
  say "metrics cost: $METRICS_PAIRS pairs of servers without and with METRICS_ADDR"
  measure_metrics
fi

# --- ready with an existing database --------------------------------------------------------
say "time to ready with the existing database ($READY_RUNS starts)"
READY=$(RUST_LOG=warn "$PEER" ready --url "$APP/healthz" --times "$READY_RUNS" -- "$BIN" serve)
READY_MEDIAN=$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' <<<"$READY")

if [ "$PROFILE" = 1 ]; then
  say "profile: target/loadtest/profile-{self,children}.txt, target/loadtest/perf-stat.txt"
  perf report -i target/loadtest/perf.data --no-children --percent-limit 0.7 --stdio \
    --no-call-graph 2>/dev/null >target/loadtest/profile-self.txt || true
  perf report -i target/loadtest/perf.data --children --percent-limit 2 --stdio \
    --no-call-graph 2>/dev/null >target/loadtest/profile-children.txt || true
fi

# --- report ---------------------------------------------------------------------------------
figure() { # mode route field(rps|p99|max|bad) how(mean|worst) -> number
  awk -v m="$1" -v r="$2" -v f="$3" -v how="$4" '
    $1 == m && $3 == r {
      x = (f == "rps") ? $5 : (f == "p99") ? $7 : (f == "max") ? $8 : $9 + $10
      n++; sum += x; if (n == 1 || x > worst) worst = x
    }
    END { if (how == "mean") printf "%.0f", sum / n; else printf "%s", worst }' "$RESULTS"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
verdict() { # met when $1 $2 $3 (awk comparison) holds
  if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then echo met; else echo MISSED; fi
}
BAD=$(awk '{ s += $9 + $10 } END { print s + 0 }' "$RESULTS")
BAD=$((BAD + $(awk '{ s += $5 } END { print s + 0 }' "$FIRST")))
if [ "$BAD" -ne 0 ]; then
  say "WARNING: $BAD responses were not 2xx or had socket errors (see the table)"
fi
for mode in warn info; do
  declare "H_$mode=$(figure $mode healthz rps mean)"
  declare "M_$mode=$(figure $mode mix rps mean)"
done
# shellcheck disable=SC2154 # M_* and H_* are set by `declare` above
RATIO_WARN=$(ratio "$M_warn" "$H_warn")
# shellcheck disable=SC2154
RATIO_INFO=$(ratio "$M_info" "$H_info")
p99_row() { # route label
  local w i
  w=$(figure warn "$1" p99 worst)
  i=$(figure info "$1" p99 worst)
  echo "| $2 | worst **$w ms** | **$i ms** | $(verdict "$w" "<" 5) / $(verdict "$i" "<" 5) |"
}
MAX_FIRST=$(awk '$3 != "mix" { if ($4 > m) m = $4 } END { print m + 0 }' "$FIRST")
MAX_WAIT=$(awk -v m="$MAX_FIRST" '$3 == "slow" || $3 == "down" { if ($8 > m) m = $8 } END { print m + 0 }' "$RESULTS")
RSS_PEAK=$(awk '{ if ($3 > m) m = $3 } END { print m }' "$RSS")

cat <<EOF

### Load test, $(date -u +%Y-%m-%dT%H:%MZ)

Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), \
$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; \
load average before the run: $LOAD_BEFORE (the load column is the 1-minute figure before each run).
Backend: $BACKEND, $REPLICAS server(s).
\`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout 10s -s scripts/loadtest.lua\` on the same
machine, loopback; every route through the same Lua script. $SITES sites of each kind × $TASKS
tasks × $TOKENS URLs: $MIX_URLS distinct macro URLs per kind (about $URL_BYTES bytes each, every one
with its own token); slow sites' Confluence answers after $SLOW_MS ms, down sites' refuses
connections (the server calls neither). Each round is a fresh server (cold caches) on the same database. Before wrk runs a
kind, one request goes to each of its sites at once (curl): the first request of each site.
wrk's percentiles are corrected for coordinated omission (a request that took 1.5 s counts as
the ~1,500 its connection would have sent meanwhile).

| RUST_LOG | round | route | first request of each site, slowest ms | load | req/s | % of /healthz | p50 ms | p99 ms | max ms | non-2xx + socket errors | sites reached |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(awk '
  FNR == NR { first[$1 " " $2 " " $3] = $4; firstbad[$1 " " $2 " " $3] = $5; next }
  $3 == "healthz" { h[$1 " " $2] = $5 }
  { k = $1 " " $2 " " $3; f = (k in first) ? first[k] : "–"
    printf "| %s | %s | %s | %s | %s | %s | %.1f%% | %s | %s | %s | %d | %s |\n", $1, $2, $3, f, $4,
      $5, 100 * $5 / h[$1 " " $2], $6, $7, $8, $9 + $10 + firstbad[k], ($11 > 0 ? $11 : "–") }' \
  "$FIRST" "$RESULTS")

| target | RUST_LOG=warn | RUST_LOG=info | |
|---|---|---|---|
| mix: throughput >= 40% of /healthz | $M_warn / $H_warn req/s = **$RATIO_WARN%** | $M_info / $H_info req/s = **$RATIO_INFO%** | $(verdict "$RATIO_WARN" ">=" 40) / $(verdict "$RATIO_INFO" ">=" 40) |
$(p99_row mix "mix: p99 < 5 ms")
$(p99_row slow "slow Confluence: p99 < 5 ms")
$(p99_row down "down Confluence: p99 < 5 ms")
| slow, down: the slowest request (first requests and wrk, all rounds) | **$MAX_WAIT ms** | | – |
| peak RSS < 40 MB (VmHWM, largest of $((ROUNDS + 1)) servers) | **$RSS_PEAK MiB** | | $(verdict "$RSS_PEAK" "<" 40) |
| ready < 200 ms, existing database | **$READY_MEDIAN ms** median | | $(verdict "$READY_MEDIAN" "<" 200) |

Peak RSS per server (MiB): $(awk '{ printf "%s%s-%s %s", (NR > 1 ? ", " : ""), $1, $2, $3 }' "$RSS").
Info round wrote $LOG_LINES log lines. Ready: $READY
EOF

if [ "$METRICS_PAIRS" != 0 ]; then
  M_OFF=$(awk '$1 == "off" { s += $5; n++ } END { printf "%.0f", s / n }' "$METRICS_RESULTS")
  M_ON=$(awk '$1 == "on" { s += $5; n++ } END { printf "%.0f", s / n }' "$METRICS_RESULTS")
  M_COST=$(awk -v a="$M_OFF" -v b="$M_ON" 'BEGIN { printf "%.1f", 100 * (a - b) / a }')
  cat <<EOF

#### Metrics cost: the mix without and with \`METRICS_ADDR\`

$METRICS_PAIRS pairs of fresh servers (RUST_LOG=warn, alternating which goes first), each given
the mix's first requests and then wrk on the mix; "on" also has a scraper fetching /metrics
every second.

| metrics | pair | load | req/s | p50 ms | p99 ms | max ms | non-2xx + socket errors |
|---|---:|---:|---:|---:|---:|---:|---:|
$(awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %d |\n", $1, $2, $4, $5, $6, $7, $8, $9 + $10 }' "$METRICS_RESULTS")

| target | measured | |
|---|---|---|
| metrics cost < 5% of the mix's throughput | $M_OFF req/s without, $M_ON with: **$M_COST%** | $(verdict "$M_COST" "<" 5) |
EOF
fi

[ "$SCALE" != 0 ] || exit 0
SCALE_RSS_PEAK=$(awk '{ if ($4 > m) m = $4 } END { print m + 0 }' "$SCALE_RSS")
# "met by D" or "MISSED by D": how far $1 is from the limit $3 on the right side of $2 (">="
# or "<"), with unit $4.
by() {
  awk -v a="$1" -v op="$2" -v b="$3" -v u="$4" 'BEGIN {
    d = (op == ">=") ? a - b : b - a; ok = (op == ">=") ? a >= b : a < b
    printf "%s by %.2f%s", (ok ? "met" : "MISSED"), (d < 0 ? -d : d), u }'
}
# One summary line per scale target for the sites' Confluence $1 (down or slow).
scale_rows() {
  local route=scale-$1 mode rps mix ratio p99 bad cells=() verdicts=()
  for mode in warn info; do
    rps=$(figure $mode "$route" rps mean)
    mix=$(figure $mode mix rps mean)
    ratio=$(awk -v a="$rps" -v b="$mix" 'BEGIN { printf "%.2f", a / b }')
    cells+=("$rps / $mix req/s = **$ratio**")
    verdicts+=("$(by "$ratio" ">=" 0.8 "")")
  done
  echo "| $route: throughput >= 0.8 of the 20-site mix | ${cells[0]} | ${cells[1]} | ${verdicts[0]} / ${verdicts[1]} |"
  cells=() verdicts=()
  for mode in warn info; do
    p99=$(figure $mode "$route" p99 worst)
    cells+=("worst **$p99 ms**")
    verdicts+=("$(by "$p99" "<" 5 " ms")")
  done
  echo "| $route: p99 < 5 ms | ${cells[0]} | ${cells[1]} | ${verdicts[0]} / ${verdicts[1]} |"
  cells=() verdicts=()
  for mode in warn info; do
    bad=$(awk -v m="$mode" -v r="$route" '$1 == m && $3 == r { s += $9 + $10 } END { print s + 0 }' "$RESULTS")
    cells+=("**$bad**")
    if [ "$bad" -eq 0 ]; then verdicts+=(met); else verdicts+=("MISSED by $bad errors"); fi
  done
  echo "| $route: no error (non-2xx + socket errors) | ${cells[0]} | ${cells[1]} | ${verdicts[0]} / ${verdicts[1]} |"
}

cat <<EOF

#### Scale round: $SCALE_SITES sites × $SCALE_TASKS tasks

Seeded once through the stores, $SCALE_BATCH sites per transaction, into the same database
(backend $BACKEND): \`$SEED_LINE\`. $SCALE_TOKENS macro URLs per site, each with its own
token: $(wc -l <"$TARGETS/scale.txt") URLs, requests spread over every site (rows \`scale-down\`:
the sites' Confluence refuses connections, and \`scale-slow\`: it answers after $SLOW_MS ms;
each a fresh server, no first request beforehand).

| target | RUST_LOG=warn | RUST_LOG=info | |
|---|---|---|---|
$(scale_rows down)
$(scale_rows slow)
| peak RSS < 60 MB (VmHWM, largest of $((2 * (ROUNDS + 1))) scale servers) | **$SCALE_RSS_PEAK MiB** | | $(by "$SCALE_RSS_PEAK" "<" 60 " MiB") |

Peak RSS per scale server (MiB): $(awk '{ printf "%s%s-%s-%s %s", (NR > 1 ? ", " : ""), $1, $2, $3, $4 }' "$SCALE_RSS").
EOF
