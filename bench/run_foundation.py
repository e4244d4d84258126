#!/usr/bin/env python3
"""Issue 3's benchmark, run by hand (not in CI): Kringkas's foundation endpoints under concurrent load
on loopback against PostgreSQL, beside two floors measured in the same run.

    .venv/bin/python -m bench.run_foundation              # 10 s a point, concurrency 1, 4, 16
    .venv/bin/python -m bench.run_foundation --seconds 3  # a quick look

From a clean state: creates a fresh database, migrates it, loads the demo data, starts Kringkas
(`kringkas serve --workers 1`) and the bare app (bench/bare_app.py, same uvicorn, 1 worker) on free
ports, then for each concurrency runs every target (a short warm-up, then the measured point; a fresh
access token is fetched before each Kringkas point, since tokens last 15 minutes), stops the servers,
drops the database, and prints Markdown tables.

Targets (wrk for HTTP, pgbench for the database floor; all closed-loop, N connections each sending
its next request when the previous answer is in):
  pgbench.insert     pgbench, custom script: the same single INSERT into members (prepared statements)
  bare.insert        bare app: POST /members, one INSERT per request
  bare.kk-sql        bare app: POST /members/kk-statements, the same INSERT through the statements
                     Kringkas sends for it (pre-ping, 2 SELECTs, savepoint): Kringkas's round trips
                     without Kringkas's Python
  bare.select        bare app: GET /users/{id}, one SELECT by primary key per request
  kk.members         Kringkas: POST /api/v1/groups/{id}/members {"display_name": ..., "phone": null}
  kk.members+idem    the same with a fresh Idempotency-Key on every request (what the phone sends)
  kk.me              Kringkas: GET /api/v1/me with a token fetched before the runs
  kk.login           Kringkas: POST /api/v1/auth/login (argon2id, OWASP profile), always successful
  kk.me|login        GET /api/v1/me at N connections while one more connection logs in over and over
                     (the /me figures are reported: what one login at a time does to everyone else)
Login and /me are measured separately, not as one sequence: wrk has no per-connection state.

Needs: wrk (`apt-get install -y wrk`), pgbench and psql (postgresql-client), a PostgreSQL that lets
--pg-user create databases.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import CpuWatch, children, export_ref, free_port, logger, on_signal, start, stop_children

ROOT = Path(__file__).resolve().parent.parent  # the work tree; the bare app always runs from here
LUA_DIR = ROOT / "bench" / "lua"
ADMIN_EMAIL = "admin@demo.kringkas.nl"
ADMIN_PASSWORD = "kringkas-demo"

ALL_TARGETS = ["pgbench.insert", "bare.insert", "bare.kk-sql", "bare.select", "kk.members", "kk.members+idem", "kk.me",
               "kk.login", "kk.me|login"]
RATIO_ROWS = [  # (measured, compared with): what each ratio isolates
    ("kk.members+idem", "bare.insert"),  # member creation as the phone sends it, against the floor
    ("kk.members", "bare.kk-sql"),  # Kringkas's Python layers (same statements on both sides)
    ("bare.kk-sql", "bare.insert"),  # Kringkas's round trips (same bare Python on both sides)
    ("kk.members+idem", "kk.members"),  # what an Idempotency-Key costs
    ("kk.me", "bare.select"),  # GET /me against one SELECT by primary key
    ("kk.me|login", "kk.me"),  # what one client logging in over and over does to everyone's /me
]


log = logger("bench")
_children = children


def _stop_children() -> None:
    stop_children(timeout=10)


_on_signal = on_signal


# --- HTTP helpers (standard library: nothing here is measured) -----------------------------------
def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw.decode(errors="replace")


def wait_until_up(url: str, proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: server exited with {proc.returncode}; its log:\n{logfile.read_text()[-3000:]}")
        try:
            status, _ = http("GET", url)
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not answer within {timeout:.0f} s; log:\n{logfile.read_text()[-3000:]}")


# --- PostgreSQL --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pg:
    host: str
    port: int
    user: str

    def psql(self, sql: str, db: str = "postgres") -> str:
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
             "-U", self.user, "-d", db, "-c", sql], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"bench: psql failed ({sql[:80]}): {result.stderr.strip()}")
        return result.stdout.strip()

    def url(self, db: str) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{db}"


# --- measuring ---------------------------------------------------------------------------------
@dataclass
class Point:
    target: str
    concurrency: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int
    note: str = ""
    others_cpu: float = float("nan")  # % of one core that other people's processes used during the point
    round: int = 1


@dataclass
class Context:
    args: argparse.Namespace
    pg: Pg
    db: str
    tmp: Path
    kk_base: str = ""
    bare_base: str = ""
    token: str = ""
    group_id: str = ""
    user_id: str = ""
    run_no: int = 0
    source: Path = ROOT  # the Kringkas source that is served: the work tree, or an exported --git-ref
    env_notes: dict[str, str] = field(default_factory=dict)


def wrk_threads(concurrency: int, args: argparse.Namespace) -> int:
    return max(1, min(concurrency, args.wrk_threads))


def run_wrk(ctx: Context, script: str, url: str, concurrency: int, seconds: float,
            extra_env: dict[str, str] | None = None, background: bool = False) -> Any:
    ctx.run_no += 1
    env = dict(os.environ, BENCH_LUA_DIR=str(LUA_DIR), BENCH_TOKEN=ctx.token,
               BENCH_RUN_ID=f"{os.getpid()}-{ctx.run_no}-{secrets.token_hex(3)}", **(extra_env or {}))
    cmd = ["wrk", "-t", str(wrk_threads(concurrency, ctx.args)), "-c", str(concurrency), "-d", f"{seconds:g}s",
           "--timeout", "30s", "-s", str(LUA_DIR / script), url]
    if background:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    result = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    return _wrk_result(result.returncode, result.stdout + result.stderr, cmd)


def _wrk_result(returncode: int, output: str, cmd: list[str]) -> dict[str, Any]:
    match = re.search(r"^BENCH_JSON (\{.*\})$", output, re.M)
    if returncode != 0 or match is None:
        raise SystemExit(f"bench: wrk failed ({' '.join(cmd)}):\n{output[-2000:]}")
    return json.loads(match.group(1))


def wrk_point(target: str, concurrency: int, raw: dict[str, Any], note: str = "") -> Point:
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return Point(target, concurrency, rps=raw["requests"] / (raw["duration_us"] / 1e6), p50_ms=raw["p50"] / 1000,
                 p95_ms=raw["p95"] / 1000, p99_ms=raw["p99"] / 1000, requests=raw["requests"], errors=errors,
                 note=note)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest rank, like wrk's histogram."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(round(pct / 100 * len(sorted_values) + 0.5))))
    return sorted_values[rank - 1]


def run_pgbench(ctx: Context, concurrency: int, seconds: float, measured: bool) -> Point | None:
    script = ctx.tmp / "insert_member.sql"
    if not script.exists():
        script.write_text(
            "INSERT INTO members (id, group_id, display_name, phone, joined_on, created_at, created_by, version)\n"
            f"  VALUES (gen_random_uuid(), '{ctx.group_id}', 'Bench Member', NULL, CURRENT_DATE, now(),"
            f" '{ctx.user_id}', 1);\n")
    logdir = Path(tempfile.mkdtemp(prefix="pgbench-", dir=ctx.tmp))
    threads = max(1, min(concurrency, ctx.args.pgbench_threads))
    cmd = ["pgbench", "-n", "-M", "prepared", "-f", str(script), "-c", str(concurrency), "-j", str(threads),
           "-T", str(max(1, round(seconds))), "-h", ctx.pg.host, "-p", str(ctx.pg.port), "-U", ctx.pg.user]
    if measured:
        cmd += ["-l", "--log-prefix", str(logdir / "txn")]
    cmd.append(ctx.db)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=logdir)
    if result.returncode != 0:
        raise SystemExit(f"bench: pgbench failed:\n{result.stdout[-1500:]}\n{result.stderr[-1500:]}")
    if not measured:
        shutil.rmtree(logdir, ignore_errors=True)
        return None
    out = result.stdout
    tps = float(re.search(r"^tps = ([0-9.]+)", out, re.M).group(1))  # type: ignore[union-attr]
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latencies: list[float] = []
    for path in logdir.glob("txn*"):
        with path.open() as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]) / 1000)  # µs -> ms
    shutil.rmtree(logdir, ignore_errors=True)
    latencies.sort()
    return Point("pgbench.insert", concurrency, rps=tps, p50_ms=percentile(latencies, 50),
                 p95_ms=percentile(latencies, 95), p99_ms=percentile(latencies, 99), requests=len(latencies),
                 errors=int(failed.group(1)) if failed else 0)


# --- who else is using the machine ---------------------------------------------------------------
def wait_for_quiet(ctx: Context) -> None:
    """With --quiet-below: wait (at most --quiet-wait s) until others use less CPU than that, 1 s a look."""
    limit, deadline = ctx.args.quiet_below, time.monotonic() + ctx.args.quiet_wait
    if limit <= 0:
        return
    while True:
        watch = CpuWatch(ctx.db)
        time.sleep(1)
        busy = watch.stop()
        if busy <= limit:
            return
        if time.monotonic() > deadline:
            log(f"    others still use {busy:.0f}% CPU after {ctx.args.quiet_wait:.0f} s; measuring anyway")
            return


def run_target(ctx: Context, target: str, concurrency: int) -> Point:
    args = ctx.args
    wait_for_quiet(ctx)
    if target.startswith("kk."):
        fresh_token(ctx)
    if target == "pgbench.insert":
        if args.warmup > 0:
            run_pgbench(ctx, concurrency, args.warmup, measured=False)
        watch = CpuWatch(ctx.db)
        point = run_pgbench(ctx, concurrency, args.seconds, measured=True)
        assert point is not None
        point.others_cpu = watch.stop()
        return point
    if target == "kk.me|login":
        return run_me_beside_login(ctx, concurrency)
    script, url = {
        "bare.insert": ("post_member.lua", f"{ctx.bare_base}/members"),
        "bare.kk-sql": ("post_member.lua", f"{ctx.bare_base}/members/kk-statements"),
        "bare.select": ("get_bearer.lua", f"{ctx.bare_base}/users/{ctx.user_id}"),
        "kk.members": ("post_member.lua", f"{ctx.kk_base}/api/v1/groups/{ctx.group_id}/members"),
        "kk.members+idem": ("post_member_idempotent.lua", f"{ctx.kk_base}/api/v1/groups/{ctx.group_id}/members"),
        "kk.me": ("get_bearer.lua", f"{ctx.kk_base}/api/v1/me"),
        "kk.login": ("login.lua", f"{ctx.kk_base}/api/v1/auth/login"),
    }[target]
    if args.warmup > 0:
        run_wrk(ctx, script, url, concurrency, args.warmup)
    watch = CpuWatch(ctx.db)
    point = wrk_point(target, concurrency, run_wrk(ctx, script, url, concurrency, args.seconds))
    point.others_cpu = watch.stop()
    return point


def run_me_beside_login(ctx: Context, concurrency: int) -> Point:
    args = ctx.args
    me_url, login_url = f"{ctx.kk_base}/api/v1/me", f"{ctx.kk_base}/api/v1/auth/login"
    if args.warmup > 0:
        run_wrk(ctx, "get_bearer.lua", me_url, concurrency, args.warmup)
    logins = run_wrk(ctx, "login.lua", login_url, 1, args.seconds + 2, background=True)
    _children.append(logins)
    try:
        time.sleep(1)  # the login loop is running before /me is measured, and still runs after
        watch = CpuWatch(ctx.db)
        me = run_wrk(ctx, "get_bearer.lua", me_url, concurrency, args.seconds)
        others = watch.stop()
        output, _ = logins.communicate(timeout=args.seconds + 60)
    finally:
        if logins in _children:
            _children.remove(logins)
    login = _wrk_result(logins.returncode, output, ["wrk", "(login loop)"])
    login_rps = login["requests"] / (login["duration_us"] / 1e6)
    point = wrk_point("kk.me|login", concurrency, me,
                      note=f"beside it: {login_rps:.0f} logins/s, login p50 {login['p50'] / 1000:.0f} ms")
    point.others_cpu = others
    return point


# --- setting up --------------------------------------------------------------------------------
def kringkas_env(ctx: Context, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRINGKAS_")}
    # PYTHONPATH first: with --git-ref the exported tree wins over the editable install of the work tree
    env.update(DATABASE_URL=ctx.pg.url(ctx.db), KRINGKAS_SECRET_KEY=secret, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ctx.source))
    return env


def kringkas_cmd(ctx: Context) -> list[str]:
    """`kringkas ...`: the console script is `api.cli:main`; run it so that it imports from ctx.source."""
    return [sys.executable, "-m", "api.cli"]


def kringkas(ctx: Context, cmd: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([*kringkas_cmd(ctx), *cmd], env=env, cwd=ctx.source, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench: kringkas {' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def describe_machine(ctx: Context) -> dict[str, str]:
    notes: dict[str, str] = {}
    notes["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "?")
    except OSError:
        model = "?"
    notes["cpu"] = f"{os.cpu_count()} cores, {model}"
    notes["python"] = platform.python_version()
    versions = subprocess.run(
        [sys.executable, "-c", "import importlib.metadata as m; print(' '.join(f'{p} {m.version(p)}' for p in "
         "['litestar', 'sqlalchemy', 'asyncpg', 'uvicorn', 'uvloop', 'httptools', 'pydantic', 'argon2-cffi']))"],
        capture_output=True, text=True, check=False)
    notes["packages"] = versions.stdout.strip()
    notes["postgresql"] = ctx.pg.psql("SHOW server_version") + ", fsync=" + ctx.pg.psql("SHOW fsync") + \
        ", synchronous_commit=" + ctx.pg.psql("SHOW synchronous_commit")
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    notes["wrk"] = (wrk.stdout + wrk.stderr).splitlines()[0].split(" Copyright")[0] if (wrk.stdout + wrk.stderr) else "?"
    if ctx.args.git_ref:
        notes["kringkas"] = f"commit {ctx.env_notes.get('commit', '?')} (--git-ref {ctx.args.git_ref}, exported)"
    else:
        git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=False)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "api", "domain", "migrations"],
                               capture_output=True, text=True, check=False)
        notes["kringkas"] = "work tree at " + git.stdout.strip() + (
            " with uncommitted changes in api/, domain/ or migrations/" if dirty.stdout.strip() else "")
    return notes


def check_tools() -> None:
    missing = [tool for tool in ("wrk", "pgbench", "psql") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"bench: missing {', '.join(missing)} (Debian: apt-get install -y wrk postgresql-client)")
    try:
        import litestar  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise SystemExit("bench: run with the project's virtualenv: .venv/bin/python -m bench.run_foundation") from None


def fresh_token(ctx: Context) -> None:
    """Access tokens last 15 minutes and a run takes longer: log in again before every Kringkas point
    (one successful login, outside the measured time)."""
    status, body = http("POST", f"{ctx.kk_base}/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    if status != 200:
        raise SystemExit(f"bench: login answered {status}: {body}")
    ctx.token = body["access_token"]


def setup(ctx: Context) -> None:
    pg, db = ctx.pg, ctx.db
    secret = secrets.token_urlsafe(30)  # 40 characters
    log(f"creating database {db}")
    pg.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    pg.psql(f'CREATE DATABASE "{db}"')
    env = kringkas_env(ctx, secret)
    log("kringkas migrate, kringkas demo")
    kringkas(ctx, ["migrate"], env)
    kringkas(ctx, ["demo"], env)

    kk_port, bare_port = free_port(), free_port()
    while bare_port == kk_port:
        bare_port = free_port()
    ctx.kk_base, ctx.bare_base = f"http://127.0.0.1:{kk_port}", f"http://127.0.0.1:{bare_port}"
    kk_log = ctx.tmp / "kringkas.log"
    log(f"starting kringkas serve on port {kk_port}")
    kk = start([*kringkas_cmd(ctx), "serve", "--host", "127.0.0.1", "--port", str(kk_port), "--workers", "1"],
               env, kk_log, cwd=ctx.source)
    wait_until_up(f"{ctx.kk_base}/health", kk, kk_log)

    fresh_token(ctx)
    status, me = http("GET", f"{ctx.kk_base}/api/v1/me", token=ctx.token)
    if status != 200:
        raise SystemExit(f"bench: /me answered {status}: {me}")
    ctx.user_id = me["id"]
    status, page = http("GET", f"{ctx.kk_base}/api/v1/groups", token=ctx.token)
    if status != 200 or not page["items"]:
        raise SystemExit(f"bench: /groups answered {status}: {page}")
    group = next((g for g in page["items"] if g["status"] != "gestopt"), page["items"][0])
    ctx.group_id = group["id"]
    status, created = http("POST", f"{ctx.kk_base}/api/v1/groups/{ctx.group_id}/members",
                           {"display_name": "Bench Check", "phone": None}, token=ctx.token)
    if status != 201:
        raise SystemExit(f"bench: member creation answered {status}: {created}")
    log(f"token fetched; group {group['name']} ({ctx.group_id}); user {ctx.user_id}")

    bare_env = dict(os.environ, BENCH_DATABASE_URL=pg.url(db), BENCH_GROUP_ID=ctx.group_id, BENCH_USER_ID=ctx.user_id,
                    PYTHONUNBUFFERED="1")
    bare_log = ctx.tmp / "bare.log"
    log(f"starting bench/bare_app.py on port {bare_port}")
    bare = start([sys.executable, "-m", "bench.bare_app", "--host", "127.0.0.1", "--port", str(bare_port)], bare_env,
                 bare_log)
    wait_until_up(f"{ctx.bare_base}/health", bare, bare_log)
    status, body = http("POST", f"{ctx.bare_base}/members", {"display_name": "Bench Check", "phone": None})
    if status != 201:
        raise SystemExit(f"bench: bare POST /members answered {status}: {body}")
    status, body = http("POST", f"{ctx.bare_base}/members/kk-statements", {"display_name": "Bench Check", "phone": None})
    if status != 201:
        raise SystemExit(f"bench: bare POST /members/kk-statements answered {status}: {body}")
    status, body = http("GET", f"{ctx.bare_base}/users/{ctx.user_id}")
    if status != 200:
        raise SystemExit(f"bench: bare GET /users answered {status}: {body}")


# --- the report --------------------------------------------------------------------------------
def md(text: str) -> str:
    """A table cell: a | in a target's name would end the cell."""
    return text.replace("|", "\\|")


def fmt_ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def best_points(points: list[Point]) -> dict[tuple[str, int], tuple[Point, list[Point]]]:
    """The fastest of each (target, concurrency), and all its rounds."""
    rounds: dict[tuple[str, int], list[Point]] = {}
    for p in points:
        rounds.setdefault((p.target, p.concurrency), []).append(p)
    return {key: (max(ps, key=lambda p: p.rps), ps) for key, ps in rounds.items()}


def report(ctx: Context, points: list[Point], started: float) -> str:
    args = ctx.args
    best = best_points(points)
    by = {key: p for key, (p, _) in best.items()}
    lines = [f"### Foundation benchmark, {ctx.env_notes['date']}", ""]
    for key in ("cpu", "python", "packages", "postgresql", "wrk", "kringkas"):
        lines.append(f"- {key}: {ctx.env_notes[key]}")
    lines.append(f"- {args.seconds:g} s a point after {args.warmup:g} s of warm-up; wrk threads = min(c, "
                 f"{args.wrk_threads}), pgbench -M prepared -j min(c, {args.pgbench_threads}); "
                 + (f"best of {args.repeat} rounds; " if args.repeat > 1 else "")
                 + (f"each point waited (≤ {args.quiet_wait:g} s) for others to use < {args.quiet_below:g}% CPU; "
                    if args.quiet_below > 0 else "")
                 + f"whole run {time.monotonic() - started:.0f} s")
    lines.append("- others' CPU: what processes outside this benchmark used during the point, in % of one core "
                 f"(the machine has {os.cpu_count() * 100}%); 0 on a quiet machine")
    spread = args.repeat > 1
    lines += ["", "| target | c | req/s | p50 ms | p95 ms | p99 ms | requests | errors | others' CPU |"
              + (" req/s of each round |" if spread else "") + " |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if spread else "") + "---|"]
    for target in args.targets:
        for c in args.concurrency:
            if (target, c) not in best:
                continue
            p, rounds = best[(target, c)]
            lines.append(f"| {md(target)} | {c} | {p.rps:,.0f} | {fmt_ms(p.p50_ms)} | {fmt_ms(p.p95_ms)} | "
                         f"{fmt_ms(p.p99_ms)} | {p.requests:,} | {p.errors} | {p.others_cpu:.0f}% |"
                         + (" " + ", ".join(f"{r.rps:,.0f}" for r in rounds) + " |" if spread else "")
                         + f" {p.note} |")
    lines += ratio_tables(args, by)
    if any(p.errors for p in points):
        lines += ["", "**Some points had errors (non-2xx answers, timeouts or socket errors): see the errors "
                  "column; their figures do not mean what the others mean.**"]
    return "\n".join(lines) + "\n"


def ratio_tables(args: argparse.Namespace, by: dict[tuple[str, int], Point]) -> list[str]:
    lines: list[str] = []
    cs = [c for c in args.concurrency if all(k in by for k in (("kk.members", c), ("bare.insert", c),
                                                                ("pgbench.insert", c)))]
    if cs:
        lines += ["", "Member creation, Kringkas against both floors. Throughput ratio: Kringkas req/s over the "
                  "floor's (1.00 = as fast). Latency ratio: Kringkas p50 over the floor's (1.00 = as quick).", "",
                  "| c | kk.members req/s | bare.insert req/s | pgbench req/s | kk / bare, req/s | kk / pgbench, req/s "
                  "| kk / bare, p50 | kk / pgbench, p50 |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for c in cs:
            kk, bare, pgb = by[("kk.members", c)], by[("bare.insert", c)], by[("pgbench.insert", c)]
            lines.append(f"| {c} | {kk.rps:,.0f} | {bare.rps:,.0f} | {pgb.rps:,.0f} | {kk.rps / bare.rps:.2f} | "
                         f"{kk.rps / pgb.rps:.3f} | {kk.p50_ms / bare.p50_ms:.1f} | {kk.p50_ms / pgb.p50_ms:.0f} |")
    rows = [(m, f, c) for m, f in RATIO_ROWS for c in args.concurrency if (m, c) in by and (f, c) in by]
    if rows:
        lines += ["", "Other ratios (same definitions):", "",
                  "| measured | compared with | c | req/s ratio | p50 ratio | p99 ratio |", "|---|---|---:|---:|---:|---:|"]
        for m, f, c in rows:
            a, b = by[(m, c)], by[(f, c)]
            lines.append(f"| {md(m)} | {md(f)} | {c} | {a.rps / b.rps:.2f} | {a.p50_ms / b.p50_ms:.1f} | "
                         f"{a.p99_ms / b.p99_ms:.1f} |")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Kringkas foundation benchmark (issue 3): see bench/README.md")
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured point (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up before each point, seconds (default 2)")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated connection counts (default 1,4,16)")
    parser.add_argument("--targets", default=",".join(ALL_TARGETS),
                        help=f"comma-separated subset of {','.join(ALL_TARGETS)}")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads, at most c (default 1)")
    parser.add_argument("--pgbench-threads", type=int, default=2, help="pgbench -j, at most c (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="run every point this many times and report the "
                        "fastest of each (default 1); the spread is shown")
    parser.add_argument("--quiet-below", type=float, default=0, metavar="PCT",
                        help="on a shared machine: before each point wait until other processes use less than PCT%% "
                        "of one core (default 0: don't wait)")
    parser.add_argument("--quiet-wait", type=float, default=120, help="give up waiting after this many s (default 120)")
    parser.add_argument("--db", default="kk_bench", help="database to create and drop (default kk_bench)")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place at the end")
    parser.add_argument("--pg-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    parser.add_argument("--git-ref", help="serve Kringkas as of this commit (exported with git archive) instead "
                        "of the work tree, e.g. HEAD while others edit the tree")
    parser.add_argument("--json", type=Path, help="also write every point as JSON to this file")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if unknown := [t for t in args.targets if t not in ALL_TARGETS]:
        parser.error(f"unknown targets: {', '.join(unknown)}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.db):
        parser.error("--db: lower-case letters, digits and _ only")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_tools()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    atexit.register(_stop_children)
    started = time.monotonic()
    pg = Pg(args.pg_host, args.pg_port, args.pg_user)
    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        ctx = Context(args=args, pg=pg, db=args.db, tmp=Path(tmp))
        points: list[Point] = []
        interrupted: BaseException | None = None
        try:
            if args.git_ref:
                commit = export_ref(args.git_ref, ctx.tmp / "src", "bench")
                ctx.source = ctx.tmp / "src"
                ctx.env_notes["commit"] = commit
                log(f"serving Kringkas as of {args.git_ref} ({commit}), exported to {ctx.source}")
            ctx.env_notes.update(describe_machine(ctx))
            setup(ctx)
            total = args.repeat * len(args.concurrency) * len(args.targets)
            for round_no in range(1, args.repeat + 1):
                for c in args.concurrency:  # every target at one concurrency close together in time
                    for target in args.targets:
                        log(f"[{len(points) + 1}/{total}] {target} at c={c}"
                            + (f" (round {round_no})" if args.repeat > 1 else ""))
                        point = run_target(ctx, target, c)
                        point.round = round_no
                        points.append(point)
                        if args.json:  # written after every point, so an interrupted run keeps what it measured
                            write_json(args.json, ctx, points)
                        log(f"    {point.rps:,.0f} req/s, p50 {fmt_ms(point.p50_ms)} ms, p99 {fmt_ms(point.p99_ms)} ms, "
                            f"others used {point.others_cpu:.0f}% CPU" + (f", {point.errors} errors" if point.errors else ""))
        except (KeyboardInterrupt, SystemExit) as stop:
            interrupted = stop
        finally:
            _stop_children()
            if not args.keep_db:
                try:
                    pg.psql(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
                    log(f"dropped database {args.db}")
                except SystemExit as problem:
                    log(str(problem))
        if points:
            if interrupted is not None:
                print("**Stopped before the end: the points measured until then.**\n")
            print(report(ctx, points, started), end="")
        if interrupted is not None:
            raise interrupted


def write_json(path: Path, ctx: Context, points: list[Point]) -> None:
    path.write_text(json.dumps({"environment": ctx.env_notes, "points": [asdict(p) for p in points]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
