-- wrk script: POST /api/sequences, a new recipient on every request (as real
-- users are; the rate limits are raised out of the way by the benchmark).
local thread_number = 0

function setup(thread)
  thread:set("thread_number", thread_number)
  thread_number = thread_number + 1
end

local sent = 0
local length = os.getenv("BENCH_LENGTH") or "10"

request = function()
  sent = sent + 1
  local body = string.format('{"email": "wrk%d-%d@example.com", "length": %s}', thread_number, sent, length)
  return wrk.format("POST", "/api/sequences", { ["Content-Type"] = "application/json" }, body)
end
