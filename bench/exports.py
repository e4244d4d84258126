#!/usr/bin/env python3
"""The funder export benchmark, run by hand (not in CI): GET /api/v1/exports/impact over a programme of
500 and then 2,000 spaarkringen with a year of meetings (~500,000 ledger entries at 2,000), in each
format, against one hand-written SQL aggregate of the same headline totals in the same run.

    .venv/bin/python -m bench.exports                  # 500 then 2,000 groups (about 3 minutes)
    .venv/bin/python -m bench.exports --groups 100 400 # other sizes

From a clean state: creates the database (default kk_bench_exports; dropped at the end unless --keep),
migrates it, and bulk-loads the programme with INSERT … SELECT over generate_series: each group has 10
members and two cycles of 12 fortnightly meetings in 2025 (the first shared out), attendance with a few
absences, a deposit per member present, two loans per cycle (one repaid on time, one late or overdue).
Ledger rows are valid for every aggregate the export reads, but their hash columns are filled with
md5-derived filler, NOT a real chain: the export never reads them, and verifying chains is bench/books.py's.

Each export goes through the real app in-process (Litestar's AsyncTestClient: auth, controller, domain,
the streamed body read to the end) as the programme's funder. Time: the median of --repeat runs after a
warm-up, each export run followed by a floor run (interleaved, so load from elsewhere on the machine
weighs on both alike); the ratio is export / floor of the same runs. Memory: the peak of Python
allocations during one more run (tracemalloc, so that run is slower and not timed), and the process's
peak RSS at the end. The floor is one SQL statement computing the headline totals only (no breakdowns,
no contributor counts, no suppression), through its own engine on the same server, with the same
work_mem as the export. The export's headline figures are checked against the floor's.

Needs a PostgreSQL that lets --pg-user create databases (default postgres@127.0.0.1:5432, trust).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid5

import asyncpg
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from api.app import create_app
from api.settings import Settings
from domain.database import make_engine, make_sessionmaker
from domain.exports import WORK_MEM, Period
from domain.migrate import upgrade
from domain.models import User

NAMESPACE = UUID("0f6c1d2e-8a4b-4c5d-9e7f-be0c00000001")
ORGANISATION, ADMIN, FUNDER, PROGRAMME = (uuid5(NAMESPACE, name) for name in ("org", "admin", "funder", "programme"))
MEMBERS = 10
MEETINGS = 12  # per cycle; two cycles
PERIOD = ("2025-01-01", "2025-12-31")


def log(message: str) -> None:
    print(f"[exports {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the data ----------------------------------------------------------------------------------------
# Ids are md5-derived uuids of (what, group, ...), so each statement can refer to the rows of another
# without a lookup: group g is md5('g' || g), its member m md5('m' || g || '-' || m), and so on.
SETUP = """
INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Bench exports', now());
INSERT INTO users (id, organisation_id, email, password_hash, role, display_name, is_active, created_at) VALUES
  ($2, $1, 'admin@bench.kringkas.nl', 'x', 'admin', 'Bench Admin', true, now()),
  ($3, $1, 'funder@bench.kringkas.nl', 'x', 'funder', 'Bench Fonds', true, now());
INSERT INTO programmes (id, organisation_id, name, created_at, created_by) VALUES ($4, $1, 'Bench 2025', now(), $2);
INSERT INTO programme_funders (programme_id, user_id) VALUES ($4, $3);
"""

GROUPS = """
INSERT INTO groups (id, organisation_id, programme_id, name, kind, status, timezone, created_at, created_by, version)
SELECT md5('g' || g)::uuid, $3, $4, 'Bench groep ' || g, 'spaarkring',
       CASE WHEN g % 3 = 0 THEN 'zelfstandig' ELSE 'begeleid' END, 'Europe/Amsterdam',
       timestamptz '2025-01-02 10:00+00' + (g % 300) * interval '1 hour', $5, 1
FROM generate_series($1::int, $2::int) g;

INSERT INTO members (id, group_id, display_name, joined_on, left_on, created_at, created_by, version)
SELECT md5('m' || g || '-' || m)::uuid, md5('g' || g)::uuid, 'Lid ' || m, date '2025-01-06',
       CASE WHEN m = 10 AND g % 4 = 0 THEN date '2025-03-03' END, now(), $5, 1
FROM generate_series($1::int, $2::int) g, generate_series(1, 10) m;

INSERT INTO cycles (id, group_id, number, starts_on, meeting_interval_days, planned_meetings, meeting_time,
                    min_deposit_cents, max_deposit_cents, max_loan_multiple, max_loan_term_meetings,
                    default_interest_rate_bp, interest_distribution, min_witnesses, approval_threshold_bp,
                    leaver_interest_share, status, entry_count, head_hash, created_at, created_by, closed_at)
SELECT md5('c' || g || '-' || c)::uuid, md5('g' || g)::uuid, c,
       date '2025-01-06' + (c - 1) * 168, 14, 12, '19:00', 500, 5000, 3, 4, 500, 'pro_rata', 2, 5000, false,
       CASE c WHEN 1 THEN 'closed' ELSE 'open' END, 0, repeat('0', 64), now(), $5,
       CASE c WHEN 1 THEN timestamptz '2025-06-09 20:00+00' END
FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c;

INSERT INTO meetings (id, cycle_id, group_id, meeting_no, scheduled_for, status, created_at, created_by)
SELECT md5('t' || g || '-' || c || '-' || n)::uuid, md5('c' || g || '-' || c)::uuid, md5('g' || g)::uuid, n,
       timestamptz '2025-01-06 18:00+00' + ((c - 1) * 168 + (n - 1) * 14) * interval '1 day', 'closed', now(), $5
FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c, generate_series(1, 12) n;

INSERT INTO attendance (meeting_id, member_id, status, recorded_by, recorded_at, after_signature)
SELECT md5('t' || g || '-' || c || '-' || n)::uuid, md5('m' || g || '-' || m)::uuid,
       CASE WHEN (m + n + g) % 7 = 0 THEN 'absent' WHEN (m + n) % 11 = 0 THEN 'late' ELSE 'present' END,
       $5, now(), false
FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c, generate_series(1, 12) n,
     generate_series(1, 10) m;

INSERT INTO loans (id, cycle_id, group_id, member_id, principal_cents, term_meetings, status, requested_at,
                   requested_by, interest_rate_bp, interest_cents, disbursement_meeting_id, due_meeting_no)
SELECT md5('l' || g || '-' || c || '-' || k)::uuid, md5('c' || g || '-' || c)::uuid, md5('g' || g)::uuid,
       md5('m' || g || '-' || k)::uuid, 1000, 4,
       CASE WHEN c = 2 AND k = 2 THEN 'overdue' ELSE 'repaid' END, now(), $5, 500, 50,
       md5('t' || g || '-' || c || '-2')::uuid, 6
FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c, generate_series(1, 2) k;

INSERT INTO ledger_entries (id, cycle_id, seq, meeting_id, member_id, kind, amount_cents, witness_member_ids,
                            loan_id, recorded_by, recorded_at, prev_hash, hash)
SELECT md5(e.key)::uuid, e.cycle_id,
       row_number() OVER (PARTITION BY e.cycle_id ORDER BY e.n, e.ord, e.key), e.meeting_id, e.member_id, e.kind,
       e.amount, '[]'::json, e.loan_id, $5, now(), md5(e.key || 'p') || md5(e.key || 'q'),
       md5(e.key || 'h') || md5(e.key || 'i')  -- filler: not a real chain (see the docstring)
FROM (
  -- a deposit per member present or late
  SELECT 'd' || g || '-' || c || '-' || n || '-' || m AS key, md5('c' || g || '-' || c)::uuid AS cycle_id,
         n, 1 AS ord, md5('t' || g || '-' || c || '-' || n)::uuid AS meeting_id,
         md5('m' || g || '-' || m)::uuid AS member_id, 'deposit' AS kind, 500 + 100 * ((m * 7 + n) % 10) AS amount,
         NULL::uuid AS loan_id
  FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c, generate_series(1, 12) n,
       generate_series(1, 10) m
  WHERE (m + n + g) % 7 <> 0
  UNION ALL  -- two loans paid out at meeting 2
  SELECT 'l' || g || '-' || c || '-' || k, md5('c' || g || '-' || c)::uuid, 2, 2,
         md5('t' || g || '-' || c || '-2')::uuid, md5('m' || g || '-' || k)::uuid, 'loan_disbursement', 1000,
         md5('l' || g || '-' || c || '-' || k)::uuid
  FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c, generate_series(1, 2) k
  UNION ALL  -- repaid, interest first: loan 1 at meeting 5 (on time), loan 2 of cycle 1 at meeting 8 (late)
  SELECT 'r' || g || '-' || c || '-' || k || '-' || part, md5('c' || g || '-' || c)::uuid, r.n, 3,
         md5('t' || g || '-' || c || '-' || r.n)::uuid, md5('m' || g || '-' || k)::uuid,
         CASE part WHEN 1 THEN 'repayment_interest' ELSE 'repayment_principal' END,
         CASE part WHEN 1 THEN 50 ELSE 1000 END, md5('l' || g || '-' || c || '-' || k)::uuid
  FROM generate_series($1::int, $2::int) g, generate_series(1, 2) c, generate_series(1, 2) k,
       generate_series(1, 2) part, LATERAL (SELECT CASE k WHEN 1 THEN 5 ELSE 8 END AS n) r
  WHERE NOT (c = 2 AND k = 2)
) e;

-- the first cycle's share-out at its meeting 12: each member's deposits back, the interest (200) in 20s
INSERT INTO ledger_entries (id, cycle_id, seq, meeting_id, member_id, kind, amount_cents, witness_member_ids,
                            recorded_by, recorded_at, prev_hash, hash)
SELECT md5(s.key)::uuid, s.cycle_id, 10000 + row_number() OVER (PARTITION BY s.cycle_id ORDER BY s.key),
       s.meeting_id, s.member_id, s.kind, s.amount, '[]'::json, $5, now(), md5(s.key || 'p') || md5(s.key || 'q'),
       md5(s.key || 'h') || md5(s.key || 'i')
FROM (
  SELECT 'so' || g || '-' || m || '-' || kind AS key, md5('c' || g || '-1')::uuid AS cycle_id,
         md5('t' || g || '-1-12')::uuid AS meeting_id, md5('m' || g || '-' || m)::uuid AS member_id, kind,
         CASE kind WHEN 'share_out_interest' THEN 20
              ELSE (SELECT sum(500 + 100 * ((m * 7 + n) % 10)) FROM generate_series(1, 12) n
                    WHERE (m + n + g) % 7 <> 0) END AS amount
  FROM generate_series($1::int, $2::int) g, generate_series(1, 10) m,
       unnest(ARRAY['share_out_savings', 'share_out_interest']) kind
) s;

INSERT INTO share_outs (cycle_id, meeting_id, interest_pool_cents, total_payout_cents, sheet, sheet_hash,
                        finalised_at, finalised_by)
SELECT md5('c' || g || '-1')::uuid, md5('t' || g || '-1-12')::uuid, 200, 0, '{}'::json, repeat('0', 64),
       timestamptz '2025-06-09 19:30+00', $5
FROM generate_series($1::int, $2::int) g;
"""


async def load(dsn: str, first: int, last: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        if first == 1:
            await connection.execute(SETUP.replace("$1", f"'{ORGANISATION}'").replace("$2", f"'{ADMIN}'")
                                     .replace("$3", f"'{FUNDER}'").replace("$4", f"'{PROGRAMME}'"))
        constants = GROUPS.replace("$3", f"'{ORGANISATION}'::uuid").replace("$4", f"'{PROGRAMME}'::uuid").replace(
            "$5", f"'{ADMIN}'::uuid")
        for statement in (s.strip() for s in constants.split(";\n") if s.strip()):
            await connection.execute(statement, first, last)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        return {table: await connection.fetchval(f"SELECT count(*) FROM {table}")
                for table in ("groups", "members", "meetings", "attendance", "loans", "ledger_entries")}
    finally:
        await connection.close()


# --- the floor: one statement, headline totals only ---------------------------------------------------
FLOOR = text("""
WITH held AS (
  SELECT m.id, m.group_id, m.scheduled_for FROM meetings m JOIN groups g ON g.id = m.group_id
  WHERE g.programme_id = :programme AND m.status = 'closed' AND m.scheduled_for >= :start AND m.scheduled_for < :end
), roll AS (
  SELECT a.member_id, a.status IN ('present', 'late') AS came FROM attendance a JOIN held ON held.id = a.meeting_id
), money AS (
  SELECT l.member_id, l.kind, l.amount_cents FROM ledger_entries l JOIN held ON held.id = l.meeting_id
), per_saver AS (
  SELECT member_id, sum(amount_cents) AS saved FROM money WHERE kind = 'deposit' GROUP BY member_id
)
SELECT
  (SELECT count(*) FROM held) AS meetings_held,
  (SELECT count(DISTINCT group_id) FROM held) AS groups_active,
  (SELECT count(*) FROM roll) AS attendance_roll,
  (SELECT count(*) FROM roll WHERE came) AS attendance_attended,
  (SELECT count(DISTINCT member_id) FROM roll WHERE came) AS members_active,
  (SELECT sum(amount_cents) FROM money WHERE kind = 'deposit') AS savings_cents,
  (SELECT count(*) FROM per_saver WHERE saved > 0) AS savers,
  (SELECT sum(amount_cents) FROM money WHERE kind IN ('share_out_savings', 'share_out_interest')) AS share_out_paid_cents,
  (SELECT sum(amount_cents) FROM money WHERE kind = 'share_out_interest') AS share_out_interest_cents,
  (SELECT count(*) FROM loans l JOIN held ON held.id = l.disbursement_meeting_id) AS loans_issued,
  (SELECT sum(l.principal_cents) FROM loans l JOIN held ON held.id = l.disbursement_meeting_id) AS loans_issued_cents,
  (SELECT count(*) FROM members mb JOIN groups g ON g.id = mb.group_id
    WHERE g.programme_id = :programme AND mb.joined_on BETWEEN :from_on AND :to_on) AS members_joined,
  (SELECT count(*) FROM members mb JOIN groups g ON g.id = mb.group_id
    WHERE g.programme_id = :programme AND mb.left_on BETWEEN :from_on AND :to_on) AS members_left
""")
FLOOR_KEYS = ("meetings_held", "groups_active", "members_active", "savings_cents", "savers", "share_out_paid_cents",
              "share_out_interest_cents", "loans_issued", "loans_issued_cents", "members_joined", "members_left")


async def floor(sessionmaker: Any) -> dict[str, int]:
    period = Period(date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1]))
    async with sessionmaker() as db:
        await db.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))  # what the export gets too
        row = (await db.execute(FLOOR, {"programme": PROGRAMME, "start": period.start_at, "end": period.end_at,
                                        "from_on": period.from_on, "to_on": period.to_on})).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


# --- measuring ---------------------------------------------------------------------------------------
async def interleaved(export: Any, floor_run: Any, repeat: int) -> tuple[float, float, Any]:
    """Export and floor one after the other, `repeat` times after a warm-up of each: whatever else the
    machine does then weighs on both alike. Returns their medians and the export's last answer."""
    await export()
    await floor_run()
    export_s, floor_s, result = [], [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await export()
        export_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        await floor_run()
        floor_s.append(time.perf_counter() - started)
    return statistics.median(export_s), statistics.median(floor_s), result


async def peak_bytes(run: Any) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def measure(url: str, repeat: int) -> dict[str, Any]:
    app = create_app(Settings(database_url=url, secret_key="bench-exports-" + "b" * 40, env="test"))
    engine = make_engine(url)  # the app's engine lives on the test client's loop; the floor gets its own
    sessionmaker = make_sessionmaker(engine)
    results: dict[str, Any] = {}
    async with AsyncTestClient(app=app, base_url="http://bench.local") as client:
        async with sessionmaker() as db:
            funder = (await db.execute(select(User).where(User.id == FUNDER))).scalar_one()
        token, _ = app.state.tokens.issue(funder, datetime.now(UTC))
        headers = {"Authorization": f"Bearer {token}"}
        async def run_floor() -> dict[str, int]:
            return await floor(sessionmaker)

        for fmt in ("json", "csv", "xlsx"):
            path = (f"/api/v1/exports/impact?programme_id={PROGRAMME}&from={PERIOD[0]}&to={PERIOD[1]}&format={fmt}")

            async def run(path: str = path) -> Any:
                response = await client.get(path, headers=headers)
                assert response.status_code == 200, response.text[:500]
                return response

            seconds, floor_seconds, response = await interleaved(run, run_floor, repeat)
            results[fmt] = {"seconds": seconds, "floor_seconds": floor_seconds, "peak": await peak_bytes(run),
                            "bytes": len(response.content)}
            if fmt == "json":
                results["headline"] = {i["key"]: i["value"] for i in response.json()["indicators"]}
        results["floor"] = {"peak": await peak_bytes(run_floor), "totals": await run_floor()}
    await engine.dispose()
    return results


def check(results: dict[str, Any]) -> list[str]:
    """The export's headline against the floor's totals: the same figures, computed twice."""
    headline, totals = results["headline"], results["floor"]["totals"]
    wrong = [f"{k}: export {headline.get(k)} floor {totals[k]}" for k in FLOOR_KEYS if headline.get(k) != totals[k]]
    rate = totals["attendance_attended"] * 10_000 * 2 + totals["attendance_roll"]
    if headline["attendance_rate_bp"] != rate // (2 * totals["attendance_roll"]):
        wrong.append("attendance_rate_bp")
    return wrong


def report(rows: list[tuple[int, dict[str, int], dict[str, Any]]]) -> str:
    lines = ["| groups | ledger entries | attendance rows | format | export s | floor s | ratio | export peak MiB "
             "| floor peak MiB | body bytes |", "|---|---|---|---|---|---|---|---|---|---|"]
    for groups, sizes, results in rows:
        floor_peak = results["floor"]["peak"]
        for fmt in ("json", "csv", "xlsx"):
            r = results[fmt]
            floor_s = r["floor_seconds"]
            lines.append(f"| {groups:,} | {sizes['ledger_entries']:,} | {sizes['attendance']:,} | {fmt} | "
                         f"{r['seconds']:.3f} | {floor_s:.3f} | {r['seconds'] / floor_s:.2f}× | "
                         f"{r['peak'] / 2**20:.1f} | {floor_peak / 2**20:.1f} | {r['bytes']:,} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    admin_dsn = f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/postgres"
    dsn = f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.database}"
    url = f"postgresql+asyncpg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.database}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{args.database}"')
    await admin.close()
    try:
        await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
        rows, loaded = [], 0
        for groups in sorted(args.groups):
            started = time.perf_counter()
            await load(dsn, loaded + 1, groups)
            loaded = groups
            sizes = await counts(dsn)
            log(f"{groups} groups loaded in {time.perf_counter() - started:.1f} s: {sizes}")
            results = await measure(url, args.repeat)
            wrong = check(results)
            if wrong:
                raise SystemExit(f"the export's headline differs from the floor's totals: {wrong}")
            log(f"{groups} groups measured; headline equals the floor's totals")
            rows.append((groups, sizes, results))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(report(rows))
        print(f"\nProcess peak RSS at the end: {rss:.0f} MiB. Medians of {args.repeat} runs after a warm-up, export "
              f"and floor interleaved; peaks from one more run under tracemalloc.")
    finally:
        if not args.keep:
            admin = await asyncpg.connect(admin_dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="kk_bench_exports")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", default="5432")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
