"""The soak: Kringkas under load with faults, then a checker that proves nothing was lost (issue 8, point 4).

    .venv/bin/python -m bench.soak --minutes 3 --clients 40 --workers 3
    .venv/bin/python -m bench.soak --git-ref HEAD --overlay api/problems.py   # serve a commit, not the work tree

What one run does (see bench/soak/README.md for the method and a real run's figures):

1. Makes sure its own throw-away PostgreSQL cluster runs (--pgdata, default /tmp/soakpg/data, port 5433):
   initdb as the postgres user when it does not exist (trust auth, fsync=off), started when it is down. It
   never touches any other cluster: it refuses port 5432 and checks the server's data_directory first.
2. Creates the database (--db, dropped first), runs `kringkas migrate`, and builds through the domain
   functions an organisation, an admin, and per simulated phone a begeleider, a spaarkring of --members
   members with a cycle (loans allowed: 3× savings, 5 % flat), roles and --planned meetings.
3. Starts `kringkas serve --workers N` with KRINGKAS_ENV=production and a random secret key.
4. Runs --clients phones (bench/soak/phone.py) for --minutes: whole meetings back to back, a share of them
   (--offline-share) offline, sending each meeting as one sync. Every request is retried until acknowledged.
5. Meanwhile (bench/soak/faults.py): at --kill-at of the run, kills the worker that is inside a sync's
   transaction with SIGKILL; at --restart-at, stops PostgreSQL (fast), waits --outage-seconds, starts it.
6. At the end the phones finish the meeting they are in (at most --drain-seconds), then the checker
   (bench/soak/check.py) runs against the database and the server, and the report is printed and written
   to the run directory (--run-dir), with the journal, the request log, the events and the server log.

The cluster and the database are left in place, so `python -m bench.soak.check --run-dir DIR` can be run
again; stop the cluster with `su postgres -s /bin/sh -c "pg_ctl -D /tmp/soakpg/data stop"`.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.processes import children, export_ref, free_port, logger, on_signal, stop_children
from bench.soak import report
from bench.soak.faults import Faults, workers
from bench.soak.phone import Journal, Kring, Phone

ROOT = Path(__file__).resolve().parent.parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN_EMAIL = "admin@soak.kringkas.nl"
CONF = """
# bench/soak: a throw-away cluster, restarted during the run
port = {port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
fsync = off
max_connections = 200
shared_buffers = 128MB
"""


log = logger("soak")
_children = children


def _stop_children() -> None:
    stop_children(timeout=15)  # uvicorn's supervisor and its workers


_on_signal = on_signal


# --- the throw-away PostgreSQL cluster ----------------------------------------------------------------
def owner_cmd(args: argparse.Namespace, *cmd: str) -> list[str]:
    """A command run as the cluster's owner: through `su` when we are root, directly otherwise."""
    if os.geteuid() == 0:
        return ["su", args.pg_os_user, "-s", "/bin/sh", "-c", shlex.join(cmd)]
    return list(cmd)


def as_owner(args: argparse.Namespace, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(owner_cmd(args, *cmd), capture_output=True, text=True, check=False)


def ensure_cluster(args: argparse.Namespace) -> None:
    pgdata = Path(args.pgdata)
    if not (pgdata / "PG_VERSION").exists():
        log(f"initdb {pgdata} (port {args.pg_port}, trust, fsync=off)")
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(pgdata.parent, args.pg_os_user, args.pg_os_user)
        done = as_owner(args, str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", args.pg_user, "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8")
        if done.returncode != 0:
            raise SystemExit(f"soak: initdb failed: {done.stdout}{done.stderr}")
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write(CONF.format(port=args.pg_port, socket_dir=pgdata.parent))
    status = as_owner(args, str(PG_BIN / "pg_ctl"), "status", "-D", str(pgdata))
    if status.returncode != 0:
        log(f"starting the cluster in {pgdata}")
        done = as_owner(args, str(PG_BIN / "pg_ctl"), "start", "-D", str(pgdata), "-l", args.pg_log, "-w")
        if done.returncode != 0:
            raise SystemExit(f"soak: pg_ctl start failed: {done.stdout}{done.stderr}")


async def check_cluster(args: argparse.Namespace) -> dict[str, str]:
    """The server on --pg-port must be the cluster in --pgdata: that is the one the soak restarts."""
    conn = await asyncpg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, database="postgres")
    try:
        data_directory = await conn.fetchval("SHOW data_directory")
        if Path(data_directory).resolve() != Path(args.pgdata).resolve():
            raise SystemExit(f"soak: the server on port {args.pg_port} serves {data_directory}, not --pgdata "
                             f"{args.pgdata}; the soak only restarts its own cluster")
        return {key: await conn.fetchval(f"SHOW {key}") for key in ("server_version", "fsync", "synchronous_commit",
                                                                    "max_connections", "shared_buffers")}
    finally:
        await conn.close()


async def recreate_database(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{args.db}"')
    finally:
        await conn.close()


# --- what is served -------------------------------------------------------------------------------
def export_source(args: argparse.Namespace, into: Path) -> str:
    """The tree of --git-ref (git archive: the repository is only read), with the --overlay files copied
    from the work tree on top, so edits others make in the work tree during the run change nothing."""
    commit = export_ref(args.git_ref, into, "soak")
    for item in args.overlay:
        path, _, origin = item.partition("=")  # "api/x.py" from the work tree, or "api/x.py=/some/other/x.py"
        shutil.copyfile(Path(origin) if origin else ROOT / path, into / path)
    return commit


def kringkas_cmd(source: Path) -> list[str]:
    script = Path(sys.executable).parent / "kringkas"
    return [str(script)] if script.exists() and source == ROOT else [sys.executable, "-m", "api.cli"]


def kringkas_env(args: argparse.Namespace, source: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRINGKAS_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db}",
               KRINGKAS_ENV="production", KRINGKAS_SECRET_KEY=secret, KRINGKAS_ACCESS_TOKEN_MINUTES="60",
               PYTHONUNBUFFERED="1")
    if source != ROOT:
        env["PYTHONPATH"] = str(source)
    return env


# --- the world the phones work in, through the domain functions --------------------------------------
async def build_world(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    from domain import cycles, groups, people
    from domain.access import Actor
    from domain.database import make_engine, make_sessionmaker
    from domain.models import CycleRole, GroupKind, InterestDistribution, Role

    engine = make_engine(f"postgresql+asyncpg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db}", pool_size=2)
    sm = make_sessionmaker(engine)
    admin_password = secrets.token_urlsafe(18)
    phone_password = secrets.token_urlsafe(18)
    starts_on = date.today() - timedelta(days=1)
    rules = cycles.CycleRules(min_deposit_cents=100, max_deposit_cents=10_000, max_loan_multiple=3,
                              max_loan_term_meetings=6, default_interest_rate_bp=500,
                              interest_distribution=InterestDistribution.PRO_RATA)
    world: dict[str, Any] = {"admin_email": ADMIN_EMAIL, "admin_password": admin_password, "kringen": []}
    try:
        async with sm() as db:
            organisation = await people.get_or_create_organisation(db, "Soak spaarkringen")
            admin_user, _ = await people.add_user(db, organisation.id, people.NewUser(
                ADMIN_EMAIL, admin_password, Role.ADMIN, "Soak Admin"), password_profile="owasp")
            await db.commit()
        world.update(organisation_id=str(organisation.id), admin_id=str(admin_user.id))
        admin = Actor(admin_user.id, organisation.id, Role.ADMIN)
        for i, k in ((i, k) for i in range(args.clients) for k in range(args.kringen_per_phone)):
            async with sm() as db:
                email = f"boekhouder-{i:03d}@soak.kringkas.nl"
                if k == 0:
                    user, _ = await people.add_user(db, organisation.id, people.NewUser(
                        email, phone_password, Role.BEGELEIDER, f"Boekhouder {i:03d}"), password_profile="owasp")
                group, _ = await groups.create_group(db, admin, groups.NewGroup(
                    f"Soak kring {i:03d}.{k}", GroupKind.SPAARKRING, None, frozenset({user.id})))
                members = []
                for j in range(args.members):
                    member, _ = await groups.add_member(db, admin, group.id, groups.NewMember(
                        f"Lid {j + 1}", None, starts_on))
                    members.append(member.id)
                cycle, _ = await cycles.create_cycle(db, admin, group.id, cycles.NewCycle(
                    starts_on, 7, args.planned, rules))
                await cycles.assign_roles(db, admin, cycle.id, [
                    cycles.Assignment(members[0], CycleRole.VOORZITTER, 1),
                    cycles.Assignment(members[1], CycleRole.BOEKHOUDER, 1),
                    cycles.Assignment(members[2], CycleRole.GELDTELLER, 1),
                    cycles.Assignment(members[3], CycleRole.GELDTELLER, 1)])
                planned = await cycles.plan_meetings(db, admin, cycle.id)
                await db.commit()
            offline = int((i + 1) * args.offline_share) > int(i * args.offline_share)
            world["kringen"].append(asdict(Kring(i, str(group.id), str(cycle.id), [str(m) for m in members],
                                                 [str(m.id) for m in planned], email, phone_password, offline)))
    finally:
        await engine.dispose()
    (run_dir / "setup.json").write_text(json.dumps(world, indent=1) + "\n")
    return world


# --- the server ---------------------------------------------------------------------------------------
def start_server(args: argparse.Namespace, source: Path, secret: str, run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    out = (run_dir / "server.log").open("wb")
    proc = subprocess.Popen([*kringkas_cmd(source), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                             str(args.workers)], env=kringkas_env(args, source, secret), cwd=source, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    _children.append(proc)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soak: the server exited with {proc.returncode}:\n"
                             f"{(run_dir / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200 and len(workers(proc.pid)) == args.workers:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"soak: the server did not come up:\n{(run_dir / 'server.log').read_text()[-3000:]}")


# --- whose CPU -------------------------------------------------------------------------------------------
class CpuSampler:
    """CPU time used during the run, ours against everyone else's (other sessions' tests on a shared machine),
    in % of one core. Ours: this process group, the server's session (supervisor and workers), and the
    throw-away cluster's postmaster and its children. Sampled every few seconds, so processes that live
    shorter than that are missed: a lower bound for both."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, server_pgrp: int, pgdata: str) -> None:
        self.server_pgrp, self.pidfile = server_pgrp, Path(pgdata) / "postmaster.pid"
        self.seen: dict[tuple[int, str], int] = {}
        self.ours = self.others = 0
        self.started = time.monotonic()
        self.sample()
        self.ours = self.others = 0

    def sample(self) -> None:
        try:
            postmaster = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            postmaster = -1
        mine = {os.getpgrp(), self.server_pgrp}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid, pgrp = int(entry.name), int(fields[1]), int(fields[2])
            ticks, key = int(fields[11]) + int(fields[12]), (int(entry.name), fields[19])
            delta = ticks - self.seen.get(key, 0)
            self.seen[key] = ticks
            if pgrp in mine or pid == postmaster or ppid == postmaster:
                self.ours += delta
            else:
                self.others += delta

    def shares(self) -> dict[str, float]:
        seconds = max(time.monotonic() - self.started, 1e-6) * self.TICK
        return {"ours": round(100 * self.ours / seconds), "others": round(100 * self.others / seconds)}


# --- the run ----------------------------------------------------------------------------------------------
async def soak(args: argparse.Namespace, world: dict[str, Any], base: str, master_pid: int, run_dir: Path,
               t0: float) -> dict[str, Any]:
    journal = Journal(run_dir, t0)
    clock = journal.now
    dsn = f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db}"
    faults = Faults(dsn=dsn, pg_port=args.pg_port, base_url=base, master_pid=master_pid, pg_ctl=lambda *a: owner_cmd(args, str(PG_BIN / "pg_ctl"), *a),
                    pgdata=str(Path(args.pgdata).resolve()), pg_log=args.pg_log, clock=clock)
    faults.events.update(workers_at_start=workers(master_pid), master_pid=master_pid)
    stop = asyncio.Event()
    by_phone: dict[int, list[Kring]] = {}
    for k in world["kringen"]:
        by_phone.setdefault(k["client"], []).append(Kring(**k))
    phones = [Phone(kringen, base, journal, faults, stop, seed=args.seed * 1000 + client,
                    planned_meetings=args.planned, think=args.think) for client, kringen in sorted(by_phone.items())]
    duration = args.minutes * 60
    faults.events["start"] = round(clock(), 3)
    tasks = [asyncio.create_task(p.run()) for p in phones]

    cpu = CpuSampler(master_pid, args.pgdata)

    async def progress() -> None:
        last_n, last_t = 0, clock()
        while True:
            for _ in range(2):
                await asyncio.sleep(5)
                cpu.sample()
            lines = (run_dir / "requests.jsonl").read_text().count("\n")
            t = clock()
            log(f"  t={t:5.0f} s  {(lines - last_n) / (t - last_t):6.0f} req/s  meetings {sum(p.meetings_done for p in phones):5d}"
                f"  unexpected {sum(len(p.unexpected) for p in phones)}  mismatches {sum(len(p.mismatches) for p in phones)}")
            last_n, last_t = lines, t

    ticker = asyncio.create_task(progress())

    async def timeline() -> None:
        if not args.no_kill:
            await asyncio.sleep(max(0.0, args.kill_at * duration - clock()))
            log("fault 1: kill the worker inside a sync's transaction (SIGKILL)")
            await faults.kill_worker_mid_sync()
            log(f"  killed worker {faults.events.get('killed_worker')} "
                f"({faults.events.get('blocked_statement', '')[:40]}…); {faults.events.get('kill_failed', '')}")
        if not args.no_restart:
            await asyncio.sleep(max(0.0, args.restart_at * duration - clock()))
            log(f"fault 2: PostgreSQL stop (fast), {args.outage_seconds:g} s down, start")
            await faults.restart_postgres(args.outage_seconds)
            log(f"  PostgreSQL back at t={faults.events.get('pg_started')}; /health ok again at "
                f"t={faults.events.get('health_ok_again_at')}")

    faults_task = asyncio.create_task(timeline())
    await asyncio.sleep(max(0.0, duration - clock()))
    faults.events["stop"] = round(clock(), 3)
    stop.set()
    log(f"time is up: the phones finish their meetings (at most {args.drain_seconds:g} s)")
    done, pending = await asyncio.wait(tasks, timeout=args.drain_seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    faults.events["drained"] = round(clock(), 3)
    faults.events["phones_cut_off"] = len(pending)
    for task in done:
        if task.exception() is not None:
            faults.events.setdefault("phone_crashes", []).append(repr(task.exception()))
    await faults_task
    ticker.cancel()
    cpu.sample()
    faults.events["cpu"] = cpu.shares()
    journal.close()
    faults.events["workers_at_end"] = workers(master_pid)
    phones_summary = [{"client": p.kring.client, "offline": p.kring.offline, "meetings": p.meetings_done,
                       "stopped_by": p.stopped_by, "unexpected": p.unexpected, "mismatches": p.mismatches}
                      for p in phones]
    (run_dir / "events.json").write_text(json.dumps({"events": faults.events, "health": faults.health}, indent=1) + "\n")
    (run_dir / "phones.json").write_text(json.dumps(phones_summary, indent=1) + "\n")
    return {"events": faults.events, "health": faults.health, "phones": phones_summary}


def describe(args: argparse.Namespace, pg: dict[str, str], commit: str | None) -> dict[str, str]:
    import importlib.metadata as md

    model = "?"
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "?")
    except OSError:
        pass
    if commit:
        served = f"commit {commit} (--git-ref {args.git_ref})" + (
            f" with the work tree's {', '.join(args.overlay)}" if args.overlay else "")
    else:
        git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=False)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "api", "domain", "migrations"],
                               capture_output=True, text=True, check=False)
        served = "work tree at " + git.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {model}; load average at the start {os.getloadavg()[0]:.1f}",
        "python": platform.python_version() + ", " + ", ".join(
            f"{p} {md.version(p)}" for p in ("litestar", "sqlalchemy", "asyncpg", "uvicorn", "httpx")),
        "postgresql": f"{pg['server_version']}, fsync={pg['fsync']}, synchronous_commit={pg['synchronous_commit']}, "
                      f"max_connections={pg['max_connections']}, shared_buffers={pg['shared_buffers']}",
        "kringkas": served,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description="Kringkas under load with faults: "
                                "see bench/soak/README.md")
    p.add_argument("--minutes", type=float, default=3, help="length of the load (default 3)")
    p.add_argument("--clients", type=int, default=40, help="simulated phones, one spaarkring each (default 40)")
    p.add_argument("--workers", type=int, default=3, help="uvicorn worker processes (default 3)")
    p.add_argument("--offline-share", type=float, default=0.4, help="share of phones that send whole meetings "
                   "as one sync (default 0.4)")
    p.add_argument("--kringen-per-phone", type=int, default=3, help="spaarkringen per phone, held one after the "
                   "other when a cycle's meetings run out (default 3)")
    p.add_argument("--members", type=int, default=8, help="members per spaarkring, at least 6 (default 8)")
    p.add_argument("--planned", type=int, default=104, help="planned meetings per cycle, at most 104 (default 104); a "
                   "phone stops when its cycle runs out")
    p.add_argument("--think", type=float, default=0.0, help="mean pause between a phone's acts, s (default 0)")
    p.add_argument("--kill-at", type=float, default=0.3, help="when to kill a worker, as a share of the run (0.3)")
    p.add_argument("--restart-at", type=float, default=0.6, help="when to restart PostgreSQL, as a share (0.6)")
    p.add_argument("--outage-seconds", type=float, default=5, help="how long PostgreSQL stays down (default 5)")
    p.add_argument("--no-kill", action="store_true", help="leave the workers alone")
    p.add_argument("--no-restart", action="store_true", help="leave PostgreSQL alone")
    p.add_argument("--drain-seconds", type=float, default=180, help="at the end, how long the phones may take to "
                   "finish their meetings (default 180)")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--pgdata", default="/tmp/soakpg/data", help="the throw-away cluster (default /tmp/soakpg/data)")
    p.add_argument("--pg-log", default="/tmp/soakpg/log")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5433)
    p.add_argument("--pg-user", default="postgres", help="database user (trust auth)")
    p.add_argument("--pg-os-user", default="postgres", help="the system user that owns the cluster")
    p.add_argument("--db", default="kk_soak", help="database to (re)create (default kk_soak)")
    p.add_argument("--run-dir", type=Path, help="where the journal, logs and report go (default "
                   "/tmp/kk-soak-<time>)")
    p.add_argument("--output", type=Path, help="also write the report to this file")
    p.add_argument("--git-ref", help="serve this commit (git archive) instead of the work tree")
    p.add_argument("--overlay", default="", help="with --git-ref: comma-separated files copied on top: PATH from the "
                   "work tree, or PATH=FILE from elsewhere (e.g. a change being tried)")
    args = p.parse_args(argv)
    args.overlay = [x.strip() for x in args.overlay.split(",") if x.strip()]
    if args.overlay and not args.git_ref:
        p.error("--overlay needs --git-ref")
    if args.pg_port == 5432:
        p.error("the soak restarts its PostgreSQL: give it a throw-away cluster, not the shared one on 5432")
    if args.members < 6:
        p.error("--members: at least 6 (voorzitter, boekhouder, two geldtellers, two witnesses)")
    if not 0 < args.kill_at < args.restart_at < 1:
        p.error("--kill-at and --restart-at: 0 < kill-at < restart-at < 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    atexit.register(_stop_children)
    run_dir = args.run_dir or Path(f"/tmp/kk-soak-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in ("journal.jsonl", "requests.jsonl"):
        (run_dir / name).unlink(missing_ok=True)
    source, commit = ROOT, None
    if args.git_ref:
        source = run_dir / "src"
        shutil.rmtree(source, ignore_errors=True)
        commit = export_source(args, source)
        log(f"serving Kringkas as of {args.git_ref} ({commit}) from {source}"
            + (f", with {', '.join(args.overlay)} from the work tree" if args.overlay else ""))
    sys.path.insert(0, str(source))  # the in-process setup and checker import this Kringkas too
    started = time.monotonic()
    ensure_cluster(args)
    pg = asyncio.run(check_cluster(args))
    notes = describe(args, pg, commit)
    log(f"database {args.db} on port {args.pg_port}: create, migrate")
    asyncio.run(recreate_database(args))
    secret = secrets.token_urlsafe(36)
    migrate = subprocess.run([*kringkas_cmd(source), "migrate"], env=kringkas_env(args, source, secret), cwd=source,
                             capture_output=True, text=True, check=False)
    if migrate.returncode != 0:
        raise SystemExit(f"soak: kringkas migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
    log(f"building {args.clients * args.kringen_per_phone} spaarkringen of {args.members} members with {args.planned} "
        "planned meetings")
    t = time.monotonic()
    world = asyncio.run(build_world(args, run_dir))
    log(f"  built in {time.monotonic() - t:.0f} s; "
        f"{sum(k['offline'] for k in world['kringen']) // args.kringen_per_phone} of the phones are offline (sync)")
    try:
        server, base = start_server(args, source, secret, run_dir)
        log(f"kringkas serve --workers {args.workers} on {base} (supervisor pid {server.pid}, workers "
            f"{workers(server.pid)})")
        t0 = time.monotonic()
        log(f"load: {args.clients} phones for {args.minutes:g} min")
        outcome = asyncio.run(soak(args, world, base, server.pid, run_dir, t0))
        log("checking the database against the journal")
        from bench.soak.check import check

        verdict = asyncio.run(check(f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db}", run_dir,
                                    base_url=base))
    finally:
        _stop_children()
    text = report.render(args, notes, outcome, verdict, run_dir, time.monotonic() - started)
    (run_dir / "report.md").write_text(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    print(text, end="")
    log(f"run directory: {run_dir}; verdict: {'PASS' if verdict['ok'] else 'FAIL'}")
    if not verdict["ok"]:
        raise SystemExit(1)
