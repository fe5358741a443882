-- wrk script: POST BENCH_PATH (/api/sequences), a new recipient on every request (as real
-- users are; the benchmark raises the rate limits out of the way).
local thread_number = 0

function setup(thread)
  thread:set("thread_number", thread_number)
  thread_number = thread_number + 1
end

local sent = 0
local path = os.getenv("BENCH_PATH") or "/api/sequences"

request = function()
  sent = sent + 1
  local body = string.format('{"email": "wrk%d-%d@example.com", "length": 10}', thread_number, sent)
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end
