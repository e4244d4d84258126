-- POST a new member (Kringkas: /api/v1/groups/{group_id}/members; bare: /members).
-- The request is built once: wrk sends the same bytes every time. BENCH_TOKEN: an access token.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none")
wrk.body = '{"display_name": "Bench Member", "phone": null}'
