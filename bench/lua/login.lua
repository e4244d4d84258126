-- POST /api/v1/auth/login with the demo admin's (right) password: every login succeeds, so the
-- throttle, which counts failures only, never steps in. BENCH_EMAIL / BENCH_PASSWORD override.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email": "%s", "password": "%s"}',
  os.getenv("BENCH_EMAIL") or "admin@demo.kringkas.nl", os.getenv("BENCH_PASSWORD") or "kringkas-demo")
