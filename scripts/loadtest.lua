-- wrk script of scripts/loadtest.sh: sends the request targets of a file (one path?query a
-- line) in turn, each wrk thread from its own offset, so many distinct URLs (each macro URL
-- with its own token) are in flight; then prints one machine-readable RESULT line.
--
--   wrk -t2 -c32 -d10s --timeout 10s -s scripts/loadtest.lua http://127.0.0.1:8080 -- targets.txt
--
-- The requests are built once, when the script starts, so that sending one costs wrk no more
-- than a plain `wrk URL` run beyond a Lua call: /healthz is measured through this script too.

local threads = {}

-- LOADTEST_PORTS="8080 8081" (several replicas, scripts/loadtest-backends.sh): thread n talks
-- to the n-th port, round robin, on 127.0.0.1.
local ports = {}
for port in (os.getenv("LOADTEST_PORTS") or ""):gmatch("%d+") do
  ports[#ports + 1] = port
end

function setup(thread)
  thread:set("thread_index", #threads)
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", ports[#threads % #ports + 1])[1]
  end
  table.insert(threads, thread)
end

local prepared = {}
local next_index = 0

function init(args)
  local file = args[1] or error("usage: -- <file of request targets>")
  for line in io.lines(file) do
    if line ~= "" then
      prepared[#prepared + 1] = wrk.format("GET", line)
    end
  end
  if #prepared == 0 then
    error("no request targets in " .. file)
  end
  -- Threads start half-way apart (with -t2), so they do not send the same URLs in step.
  next_index = math.floor((thread_index or 0) * #prepared / 2) % #prepared
end

function request()
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
