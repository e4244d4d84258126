-- POST a new member with a fresh Idempotency-Key on every request (what the phone app sends).
-- Keys: BENCH_RUN_ID (unique per wrk run) .. thread .. counter, so no two requests share one.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/report.lua")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end
local counter = 0
local prefix
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none"),
}
local body = '{"display_name": "Bench Member", "phone": null}'
function init(args)
  prefix = (os.getenv("BENCH_RUN_ID") or tostring(os.time())) .. "-" .. tostring(thread_no) .. "-"
end
function request()
  counter = counter + 1
  headers["Idempotency-Key"] = prefix .. counter
  return wrk.format("POST", nil, headers, body)
end
