-- wrk script of scripts/loadtest.sh: sends the request targets of a file (one path?query a
-- line) in turn, each wrk thread from its own offset, so many distinct URLs (each macro URL
-- with its own token) are in flight; then prints one machine-readable RESULT line.
--
--   wrk -t2 -c32 -d10s --timeout 10s -s scripts/loadtest.lua http://127.0.0.1:8080 -- targets.txt [sites]
--
-- With `sites`, line j of the file (from 0) is a URL of site j % sites (the peer writes the
-- URLs interleaved so), and the RESULT line says how many distinct sites were sent at least one
-- request (`sites_reached`): with no errors, that many sites were served.
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
  local file = args[1] or error("usage: -- <file of request targets> [sites]")
  sites = tonumber(args[2] or "0") or 0
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
  -- What done() needs to know which lines this thread sent: where it began, how many.
  first_index = next_index
  url_count = #prepared
  sent = 0
end

function request()
  sent = sent + 1
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end

-- Distinct sites among the lines the threads sent: thread t sent lines first..first+sent-1
-- (mod the line count), each line j a URL of site j % sites.
local function sites_reached()
  local seen, reached = {}, 0
  for _, thread in ipairs(threads) do
    local n, count = thread:get("sites"), thread:get("url_count")
    local first, sent = thread:get("first_index"), thread:get("sent")
    if n and n > 0 and count and count > 0 then
      for i = 0, math.min(sent, count) - 1 do
        local site = ((first + i) % count) % n
        if not seen[site] then
          seen[site] = true
          reached = reached + 1
        end
      end
    end
  end
  return reached
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d"
      .. " sites_reached=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, sites_reached()))
end
