"""The spaarkring books benchmark, run by hand (not in CI): deposits, sync, balances, the chain's
verification and the share-out, each beside a floor measured in the same run, reported as ratios.

    .venv/bin/python -m bench.books            # the full run (about 10 minutes on 2 cores)
    .venv/bin/python -m bench.books --quick    # every part, smaller and shorter (about 3 minutes)

From a clean state: creates the database (default kk_bench_books), migrates it with `kringkas migrate`,
builds the kringen through the domain functions (the way tests/kring.py and domain/demo_books.py do),
bulk-loads the big ledger with COPY (valid rows, hash chains computed with domain.ledger.chain_hash),
starts `kringkas serve --workers 1`, bench/bare_app.py and bench/books_lean.py on free ports, logs in as
an admin, runs the five parts, stops the servers, drops the database and prints a Markdown report on
stdout (progress on stderr).

 1. deposits     POST /api/v1/meetings/{id}/deposits under wrk at concurrency 1, 4, 16 (a fresh body and
                 client id per request, rotating over the members of 64 open, signed meetings) against
                 bench/bare_app.py's POST /members (one INSERT). Target: >= 50 % of its req/s, p95 <= 2x.
                 Also shown: the same deposits all into ONE meeting (every request takes the same cycle
                 row lock); bench/books_lean.py, the same rules in 4 statements (what folding would buy);
                 the server's CPU time per request (steady when others load the machine).
 2. sync         one POST /meetings/{id}/sync of a 12-member meeting (open, presentielijst, signature, 12
                 deposits, close) against the same meeting done with single requests (open, attendance,
                 sign, 12 deposits, close), meetings one after another, interleaved. Target: the sync's
                 median under 1/4 of the singles'.
 3. balances     GET /cycles/{id}/balances over a ledger of ~1,000,000 entries (500 cycles of ~2,000)
                 against the raw GROUP BY query (asyncpg, prepared) on the same cycles, interleaved.
                 Target: < 2x. Plus the SQL statements of one balances request for 5 and 50 members.
 4. verify       GET /cycles/{id}/ledger/verify of a 10,000-entry cycle: ms and entries/s.
 5. share-out    preview and finalise of a 30-member, 52-meeting cycle with loans: statements and ms;
                 statements for 10 against 30 members.

Also: two queries that scan every meeting of the database, timed beside their cycle-scoped form; with
--profile, py-spy's view of the server during extra deposits and balances requests.

Statements are counted in-process (Litestar's AsyncTestClient on the real app, SQLAlchemy's
`before_cursor_execute` on its engine): what SQLAlchemy sends. The pool's pre-ping, BEGIN and COMMIT come
on top of every request and are not in the counts.

Needs: wrk (`apt-get install -y wrk`), psql, a PostgreSQL that lets --pg-user create databases.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from bench.processes import CpuWatch, children, export_ref, free_port, logger, on_signal, start, stop_children

ROOT = Path(__file__).resolve().parent.parent
ADMIN_EMAIL = "bench-admin@books.kringkas.nl"
ADMIN_PASSWORD = "bench-books-" + "x" * 8


log = logger("books")
_children = children


def _stop_children() -> None:
    stop_children(timeout=10)


_on_signal = on_signal


# --- a keep-alive HTTP client (standard library; its own cost is in every HTTP figure alike) ------
class Client:
    def __init__(self, base: str, token: str | None = None) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port, self.token = parts.hostname or "127.0.0.1", parts.port or 80, token
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def close(self) -> None:
        self.conn.close()

    def send(self, method: str, path: str, data: bytes | None = None) -> tuple[int, bytes, float]:
        """One request; answers (status, body, seconds). The body is encoded by the caller, outside the clock."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                return response.status, raw, time.perf_counter() - started
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> tuple[Any, float]:
        data = json.dumps(body).encode() if body is not None else None
        status, raw, seconds = self.send(method, path, data)
        if status not in expect:
            raise SystemExit(f"books: {method} {path} answered {status}: {raw[:1500].decode(errors='replace')}")
        return (json.loads(raw) if raw else None), seconds


def wait_until_up(base: str, proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"books: server exited with {proc.returncode}; its log:\n{logfile.read_text()[-3000:]}")
        try:
            client = Client(base)
            status, _, _ = client.send("GET", "/health")
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"books: {base} did not answer within {timeout:.0f} s; log:\n{logfile.read_text()[-3000:]}")


# --- figures -----------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def yes(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def wait_for_quiet(ctx: Ctx) -> None:
    """With --quiet-below: before a measured point, wait (at most --quiet-wait s) until processes outside this
    benchmark use less than that much CPU, looking 1 s at a time."""
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


# --- the run's state -----------------------------------------------------------------------------
@dataclass
class Kr:
    """A kring built through the domain functions: its members in order, its cycle and planned meetings."""

    name: str
    group_id: UUID
    cycle_id: UUID
    members: list[UUID]
    meetings: list[UUID]  # meetings[n - 1] is meeting n
    scheduled: list[datetime]
    rotate_at: int | None = None  # a second role slate (shifted by 4) from this meeting on
    held: int = 0  # the last meeting opened
    closing_cents: int = 0

    def slate(self, meeting_no: int) -> list[UUID]:
        shift = 4 if self.rotate_at and meeting_no >= self.rotate_at else 0
        return self.members[shift:] + self.members[:shift]

    def voorzitter(self, meeting_no: int) -> UUID:
        return self.slate(meeting_no)[0]

    def counter_and_witnesses(self, meeting_no: int, owner: UUID) -> tuple[UUID, tuple[UUID, UUID]]:
        m = self.slate(meeting_no)
        counter = m[2] if owner != m[2] else m[3]
        witnesses = [x for x in m[4:] + m[:2] if x not in (owner, counter)]
        return counter, (witnesses[0], witnesses[1])

    def meeting(self, meeting_no: int) -> UUID:
        return self.meetings[meeting_no - 1]


@dataclass
class Ctx:
    args: argparse.Namespace
    db: str
    url: str  # SQLAlchemy
    dsn: str  # asyncpg
    tmp: Path
    secret: str
    source: Path = ROOT  # the Kringkas that is measured: the work tree, or a commit exported by --git-ref
    org_id: UUID | None = None
    admin_id: UUID | None = None
    bare_group_id: UUID | None = None
    kk_base: str = ""
    kk_pid: int = 0
    bare_pid: int = 0
    lean_pid: int = 0
    lean_base: str = ""
    bare_base: str = ""
    token: str = ""
    token_at: float = 0.0
    deposit_kringen: list[Kr] = field(default_factory=list)
    sync_kr: Kr | None = None
    single_kr: Kr | None = None
    count_kr: Kr | None = None
    balance_kringen: dict[int, Kr] = field(default_factory=dict)  # by number of members
    share_kringen: dict[str, Kr] = field(default_factory=dict)  # "A" (30, served), "C" (30, in-process), "B" (10)
    bulk_cycles: list[dict[str, Any]] = field(default_factory=list)
    verify_cycle: dict[str, Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    sql: dict[str, list[str]] = field(default_factory=dict)  # statements of one request, for the appendix


def fresh_token(ctx: Ctx) -> str:
    """An admin's bearer token from POST /auth/login (tokens live 60 min here; a new one per part)."""
    if ctx.token and time.monotonic() - ctx.token_at < 600:
        return ctx.token
    client = Client(ctx.kk_base)
    body, _ = client.call("POST", "/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, expect=(200,))
    client.close()
    ctx.token, ctx.token_at = body["access_token"], time.monotonic()
    return ctx.token


# --- building kringen through the domain functions ------------------------------------------------
def engine_for(ctx: Ctx) -> Any:
    from domain.database import make_engine

    return make_engine(ctx.url, pool_size=4)


def admin_actor(ctx: Ctx) -> Any:
    from domain.access import Actor
    from domain.models import Role

    assert ctx.admin_id and ctx.org_id
    return Actor(ctx.admin_id, ctx.org_id, Role.ADMIN)


def rules(*, min_cents: int, max_cents: int, multiple: int, term: int, distribution: str = "pro_rata") -> Any:
    from domain import cycles
    from domain.models import InterestDistribution

    return cycles.CycleRules(min_deposit_cents=min_cents, max_deposit_cents=max_cents, max_loan_multiple=multiple,
                             max_loan_term_meetings=term, default_interest_rate_bp=500 if multiple else 0,
                             interest_distribution=InterestDistribution(distribution))


SAVING_ONLY = dict(min_cents=1, max_cents=10_000_000, multiple=0, term=0)


async def build_kring(db: Any, admin: Any, name: str, n_members: int, planned: int, cycle_rules: Any, *,
                      starts_on: date, interval_days: int = 7, rotate_at: int | None = None) -> Kr:
    from domain import cycles, groups
    from domain.models import CycleRole, GroupKind

    group, _ = await groups.create_group(db, admin, groups.NewGroup(name, GroupKind.SPAARKRING, None, frozenset()))
    members = []
    for i in range(n_members):
        member, _ = await groups.add_member(db, admin, group.id, groups.NewMember(f"Lid {i + 1:03d}", None, starts_on))
        members.append(member.id)
    cycle, _ = await cycles.create_cycle(db, admin, group.id, cycles.NewCycle(starts_on, interval_days, planned,
                                                                              cycle_rules))
    kr = Kr(name, group.id, cycle.id, members, [], [], rotate_at=rotate_at)
    assignments = []
    for from_no in [1] + ([rotate_at] if rotate_at else []):
        m = kr.slate(from_no)
        assignments += [cycles.Assignment(m[0], CycleRole.VOORZITTER, from_no),
                        cycles.Assignment(m[1], CycleRole.BOEKHOUDER, from_no),
                        cycles.Assignment(m[2], CycleRole.GELDTELLER, from_no),
                        cycles.Assignment(m[3], CycleRole.GELDTELLER, from_no)]
    await cycles.assign_roles(db, admin, cycle.id, assignments)
    planned_rows = await cycles.plan_meetings(db, admin, cycle.id)
    kr.meetings = [m.id for m in planned_rows]
    kr.scheduled = [m.scheduled_for for m in planned_rows]
    return kr


async def open_and_sign(db: Any, admin: Any, kr: Kr, meeting_no: int, at: datetime) -> None:
    from domain import meetings
    from domain.models import AttendanceStatus

    meeting_id = kr.meeting(meeting_no)
    await meetings.open_meeting(db, admin, meeting_id, kr.closing_cents, at)
    await meetings.put_attendance(db, admin, meeting_id, [(m, AttendanceStatus.PRESENT) for m in kr.members],
                                  at + timedelta(minutes=1))
    await meetings.sign_presentielijst(db, admin, meeting_id, kr.voorzitter(meeting_no), at + timedelta(minutes=2))
    kr.held = meeting_no


async def close_at_expected(db: Any, admin: Any, kr: Kr, meeting_no: int, at: datetime) -> None:
    from domain import meetings
    from domain.ledger import cycle_books

    _, expected = await cycle_books(db, kr.cycle_id)
    await meetings.close_meeting(db, admin, kr.meeting(meeting_no), meetings.ClosingCount(expected), at)
    kr.closing_cents = expected


def deposit_cents(meeting_no: int, j: int) -> int:
    return 500 + ((meeting_no * 7 + j * 13) % 19) * 250  # 500 … 5000


LOAN_CENTS, LOAN_TERM, FIRST_REPAYMENT = 3000, 4, 1000  # interest 5 %: 150; repaid 1000, then 2150


async def run_meetings(sessionmaker: Any, admin: Any, kr: Kr, held: int, *, leave_last_open: bool,
                       loans_until: int) -> None:
    """Hold meetings 1..held as a group does: open, presentielijst, signature, everyone deposits; a loan
    (3000, 4 meetings) requested, voted, paid out at every third meeting up to `loans_until`, repaid in
    two parts two and three meetings later; close at the counted (= expected) cash."""
    from domain import loans, meetings

    repayments: dict[int, list[tuple[UUID, UUID, int]]] = {}
    for no in range(1, held + 1):
        at = kr.scheduled[no - 1]
        meeting_id = kr.meeting(no)
        async with sessionmaker() as db:
            await open_and_sign(db, admin, kr, no, at)
            for j, member in enumerate(kr.members):
                counter, witnesses = kr.counter_and_witnesses(no, member)
                await meetings.record_deposit(db, admin, meeting_id,
                                              meetings.Deposit(member, deposit_cents(no, j), counter, witnesses),
                                              entry_id=None, now=at + timedelta(minutes=5, seconds=j))
            for loan_id, borrower, amount in repayments.pop(no, []):
                counter, witnesses = kr.counter_and_witnesses(no, borrower)
                await loans.repay(db, admin, loan_id, meeting_id, amount, loans.CashMove(counter, witnesses),
                                  entry_id=None, now=at + timedelta(minutes=40))
            if no <= loans_until and no % 3 == 2:
                borrower = kr.members[(no // 3) % len(kr.members)]
                loan, _ = await loans.request_loan(db, admin, kr.cycle_id, loans.LoanRequest(
                    borrower, LOAN_CENTS, LOAN_TERM, "naaimachine"), loan_id=None, now=at + timedelta(minutes=45))
                votes = {m: "for" for m in kr.members if m != borrower}
                await loans.decide_loan(db, admin, loan.id, meeting_id, votes, None, at + timedelta(minutes=46))
                counter, witnesses = kr.counter_and_witnesses(no, borrower)
                await loans.disburse(db, admin, loan.id, meeting_id, loans.CashMove(counter, witnesses),
                                     entry_id=None, now=at + timedelta(minutes=47))
                interest = loans.flat_interest_cents(LOAN_CENTS, 500)
                repayments.setdefault(no + 2, []).append((loan.id, borrower, FIRST_REPAYMENT))
                repayments.setdefault(no + 3, []).append((loan.id, borrower, LOAN_CENTS + interest - FIRST_REPAYMENT))
            if no < held or not leave_last_open:
                await close_at_expected(db, admin, kr, no, at + timedelta(minutes=90))
            await db.commit()


async def setup_world(ctx: Ctx) -> None:
    """Everything the HTTP parts need, through the domain functions."""
    from domain import groups, people
    from domain.access import Actor
    from domain.database import make_sessionmaker
    from domain.models import GroupKind, Role

    args = ctx.args
    engine = engine_for(ctx)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as db:
            organisation = await people.get_or_create_organisation(db, "Benchmark spaarkringen")
            user, _ = await people.add_user(db, organisation.id, people.NewUser(
                ADMIN_EMAIL, ADMIN_PASSWORD, Role.ADMIN, "Bench Admin"), password_profile="owasp")
            ctx.org_id, ctx.admin_id = organisation.id, user.id
            admin = Actor(user.id, organisation.id, Role.ADMIN)
            bare_group, _ = await groups.create_group(db, admin, groups.NewGroup(
                "Bare floor (bench/bare_app.py inserts here)", GroupKind.LUISTERGROEP, None, frozenset()))
            ctx.bare_group_id = bare_group.id
            await db.commit()
        today = date.today()
        started = time.monotonic()
        # 1. deposits: 64 saving-only kringen of 12, one meeting open and signed each
        for k in range(args.deposit_groups):
            async with sm() as db:
                kr = await build_kring(db, admin, f"Deposits {k:03d}", 12, 104, rules(**SAVING_ONLY), starts_on=today)
                await db.commit()
            ctx.deposit_kringen.append(kr)
        log(f"  {args.deposit_groups} kringen for the deposits built ({time.monotonic() - started:.0f} s)")
        # 2. sync against singles: two kringen of 12, and one for counting statements in-process
        n = args.sync_meetings + args.sync_warmup
        async with sm() as db:
            ctx.sync_kr = await build_kring(db, admin, "Sync", 12, n + 1, rules(**SAVING_ONLY), starts_on=today)
            ctx.single_kr = await build_kring(db, admin, "Singles", 12, n + 1, rules(**SAVING_ONLY), starts_on=today)
            ctx.count_kr = await build_kring(db, admin, "Counting", 12, 6, rules(**SAVING_ONLY), starts_on=today)
            await db.commit()
        # 3. balances' statements: 5 and 50 members, three meetings, a loan outstanding
        for size in (5, 50):
            async with sm() as db:
                kr = await build_kring(db, admin, f"Balances {size}", size, 6,
                                       rules(min_cents=500, max_cents=5000, multiple=3, term=4),
                                       starts_on=today - timedelta(days=21))
                await db.commit()
            await run_meetings(sm, admin, kr, 3, leave_last_open=False, loans_until=3)
            ctx.balance_kringen[size] = kr
        # 5. share-out: 52 meetings with loans, roles rotated at meeting 27, the last meeting open
        for key, size in (("A", 30), ("C", 30), ("B", 10)):
            t0 = time.monotonic()
            async with sm() as db:
                kr = await build_kring(db, admin, f"Share-out {key} ({size})", size, 52,
                                       rules(min_cents=500, max_cents=5000, multiple=3, term=8,
                                             distribution="time_weighted"),
                                       starts_on=today - timedelta(days=7 * 51), rotate_at=27)
                await db.commit()
            await run_meetings(sm, admin, kr, 52, leave_last_open=True, loans_until=44)
            ctx.share_kringen[key] = kr
            log(f"  share-out kring {key}: {size} members, 52 meetings, "
                f"{len(range(2, 45, 3))} loans ({time.monotonic() - t0:.0f} s)")
    finally:
        await engine.dispose()


async def roll_meetings(ctx: Ctx, kringen: list[Kr]) -> None:
    """Close each kring's open meeting (at the expected cash) and open and sign the next: every measured
    point starts on fresh meetings, as a real meeting holds tens of deposits, not thousands."""
    from domain.database import make_sessionmaker
    from domain.models import utcnow

    engine = engine_for(ctx)
    sm = make_sessionmaker(engine)
    admin = admin_actor(ctx)
    try:
        for kr in kringen:
            async with sm() as db:
                now = utcnow()
                if kr.held:
                    await close_at_expected(db, admin, kr, kr.held, now)
                await open_and_sign(db, admin, kr, kr.held + 1, now)
                await db.commit()
    finally:
        await engine.dispose()


# --- the bulk ledger: COPY of valid rows with their hash chains -------------------------------------
@dataclass(frozen=True)
class BulkSpec:
    name: str
    n_members: int
    held: int
    planned: int
    loan_meetings: tuple[int, ...]
    seed: int


class _Entry:
    """What domain.ledger.entry_content reads, without an ORM object (a million of those is slow)."""

    __slots__ = ("id", "cycle_id", "seq", "meeting_id", "member_id", "kind", "amount_cents", "counted_by_member_id",
                 "witness_member_ids", "loan_id", "reverses_id", "reason", "recorded_by", "recorded_at")


def _bulk_rows(spec: BulkSpec, org_id: UUID, admin_id: UUID, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    from domain.cycles import meeting_start
    from domain.ledger import GENESIS_HASH, chain_hash
    from domain.loans import flat_interest_cents, principal_entry_id

    rng = random.Random(spec.seed)
    created = datetime(2025, 1, 1, 12, tzinfo=UTC)
    starts_on = date(2025, 1, 6)
    group_id, cycle_id = uuid4(), uuid4()
    rows["groups"].append(dict(id=group_id, organisation_id=org_id, programme_id=None, name=spec.name,
                               kind="spaarkring", status="begeleid", timezone="Europe/Amsterdam", created_at=created,
                               created_by=admin_id, stopped_on=None, version=1))
    members = [uuid4() for _ in range(spec.n_members)]
    rows["members"] += [dict(id=m, group_id=group_id, display_name=f"Lid {i + 1:03d}", phone=None, joined_on=starts_on,
                             left_on=None, leave_reason=None, created_at=created, created_by=admin_id, version=1)
                        for i, m in enumerate(members)]
    kr = Kr(spec.name, group_id, cycle_id, members, [], [])
    rows["role_assignments"] += [dict(id=uuid4(), cycle_id=cycle_id, member_id=m, role=role, from_meeting_no=1,
                                      created_at=created, created_by=admin_id)
                                 for m, role in zip(members[:4], ("voorzitter", "boekhouder", "geldteller", "geldteller"),
                                                    strict=True)]
    head, seq, cash, saved = GENESIS_HASH, 0, 0, 0

    def append(meeting_id: UUID, member_id: UUID, kind: str, amount: int, counter: UUID, witnesses: tuple[UUID, ...],
               at: datetime, loan_id: UUID | None = None, entry_id: UUID | None = None) -> UUID:
        nonlocal head, seq
        seq += 1
        e = _Entry()
        e.id, e.cycle_id, e.seq, e.meeting_id, e.member_id, e.kind = entry_id or uuid4(), cycle_id, seq, meeting_id, member_id, kind
        e.amount_cents, e.counted_by_member_id = amount, counter
        e.witness_member_ids = sorted(str(w) for w in witnesses)
        e.loan_id, e.reverses_id, e.reason, e.recorded_by, e.recorded_at = loan_id, None, None, admin_id, at
        digest = chain_hash(head, e)
        rows["ledger_entries"].append(dict(
            id=e.id, cycle_id=cycle_id, seq=seq, meeting_id=meeting_id, member_id=member_id, kind=kind,
            amount_cents=amount, counted_by_member_id=counter, witness_member_ids=json.dumps(e.witness_member_ids),
            loan_id=loan_id, reverses_id=None, reason=None, recorded_by=admin_id, recorded_at=at, prev_hash=head,
            hash=digest))
        head = digest
        return e.id

    repay_at: dict[int, tuple[UUID, UUID, int]] = {}
    for no in range(1, spec.planned + 1):
        meeting_id = uuid4()
        scheduled = meeting_start(starts_on, 7, no, "19:00", "Europe/Amsterdam")
        base = dict(id=meeting_id, cycle_id=cycle_id, group_id=group_id, meeting_no=no, scheduled_for=scheduled,
                    theme=None, created_at=created, created_by=admin_id, closing_counted_by_member_id=None,
                    closing_witness_member_ids=None)
        if no > spec.held:
            rows["meetings"].append(dict(base, status="planned", opened_at=None, opened_by=None, opening_cash_cents=None,
                                         opening_difference_cents=None, signed_at=None, signed_by_member_id=None,
                                         signed_recorded_by=None, closed_at=None, closed_by=None, closing_cash_cents=None,
                                         expected_cash_cents=None, discrepancy_cents=None))
            continue
        opening = cash
        rows["attendance"] += [dict(meeting_id=meeting_id, member_id=m, status="present", recorded_by=admin_id,
                                    recorded_at=scheduled + timedelta(minutes=1), after_signature=False) for m in members]
        for j, member in enumerate(members):
            amount = 500 + rng.randrange(19) * 250
            counter, witnesses = kr.counter_and_witnesses(no, member)
            append(meeting_id, member, "deposit", amount, counter, witnesses,
                   scheduled + timedelta(minutes=5, seconds=j))
            cash += amount
            saved += amount
        if no in repay_at:
            loan_id, borrower, interest = repay_at.pop(no)
            counter, witnesses = kr.counter_and_witnesses(no, borrower)
            first = append(meeting_id, borrower, "repayment_interest", interest, counter, witnesses,
                           scheduled + timedelta(minutes=40), loan_id)
            append(meeting_id, borrower, "repayment_principal", LOAN_CENTS, counter, witnesses,
                   scheduled + timedelta(minutes=40), loan_id, principal_entry_id(first))
            cash += interest + LOAN_CENTS
        if no in spec.loan_meetings:
            loan_id = uuid4()
            borrower = members[(len(repay_at) * 5 + no + 4) % spec.n_members]
            interest = flat_interest_cents(LOAN_CENTS, 500)
            rows["loans"].append(dict(
                id=loan_id, cycle_id=cycle_id, group_id=group_id, member_id=borrower, principal_cents=LOAN_CENTS,
                purpose=None, term_meetings=LOAN_TERM, status="repaid", requested_at=scheduled + timedelta(minutes=45),
                requested_by=admin_id, decided_meeting_id=meeting_id, decided_at=scheduled + timedelta(minutes=46),
                decided_by=admin_id, interest_rate_bp=500, interest_cents=interest, disbursement_meeting_id=meeting_id,
                due_meeting_no=no + LOAN_TERM))
            rows["loan_votes"] += [dict(loan_id=loan_id, member_id=m, vote="for") for m in members if m != borrower]
            counter, witnesses = kr.counter_and_witnesses(no, borrower)
            append(meeting_id, borrower, "loan_disbursement", LOAN_CENTS, counter, witnesses,
                   scheduled + timedelta(minutes=47), loan_id)
            cash -= LOAN_CENTS
            repay_at[no + 2] = (loan_id, borrower, interest)
        rows["meetings"].append(dict(
            base, status="closed", opened_at=scheduled, opened_by=admin_id, opening_cash_cents=opening,
            opening_difference_cents=0, signed_at=scheduled + timedelta(minutes=2), signed_by_member_id=members[0],
            signed_recorded_by=admin_id, closed_at=scheduled + timedelta(minutes=90), closed_by=admin_id,
            closing_cash_cents=cash, expected_cash_cents=cash, discrepancy_cents=0))
    assert not repay_at, "every loan is repaid within the meetings held"
    rows["cycles"].append(dict(
        id=cycle_id, group_id=group_id, number=1, starts_on=starts_on, meeting_interval_days=7,
        planned_meetings=spec.planned, meeting_time="19:00", min_deposit_cents=500, max_deposit_cents=5000,
        max_loan_multiple=3, max_loan_term_meetings=8, default_interest_rate_bp=500, interest_distribution="pro_rata",
        min_witnesses=2, approval_threshold_bp=5000, leaver_interest_share=False, status="open", entry_count=seq,
        head_hash=head, created_at=created, created_by=admin_id, closed_at=None))
    return {"cycle_id": str(cycle_id), "entries": seq, "members": spec.n_members, "saved_cents": saved,
            "cash_cents": cash, "head_hash": head}


COPY_ORDER = ["groups", "members", "cycles", "role_assignments", "meetings", "attendance", "loans", "loan_votes",
              "ledger_entries"]


def _load_chunk(dsn: str, org_id: str, admin_id: str, specs: list[BulkSpec]) -> list[dict[str, Any]]:
    """One worker process: make the rows of some kringen and COPY them in, in one transaction."""
    import asyncpg

    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in COPY_ORDER}
    made = [_bulk_rows(spec, UUID(org_id), UUID(admin_id), rows) for spec in specs]

    async def copy() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                for table in COPY_ORDER:
                    if not rows[table]:
                        continue
                    # the columns the migrated schema has (not the models: they may be ahead of the migrations)
                    schema = await conn.fetch(
                        "SELECT column_name, is_nullable, column_default FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = $1", table)
                    given = rows[table][0].keys()
                    if missing := [r["column_name"] for r in schema if r["column_name"] not in given
                                   and r["is_nullable"] == "NO" and r["column_default"] is None]:
                        raise RuntimeError(f"bench loader: {table} needs {missing}: bench/books.py is behind the schema")
                    columns = [r["column_name"] for r in schema if r["column_name"] in given]
                    records = [tuple(row[c] for c in columns) for row in rows[table]]
                    if records:
                        await conn.copy_records_to_table(table, records=records, columns=columns)
        finally:
            await conn.close()

    asyncio.run(copy())
    return made


def bulk_load(ctx: Ctx) -> None:
    args = ctx.args
    specs = [BulkSpec(f"Bulk {i:04d}", 20, 100, 104, (10, 30, 50, 70), seed=i) for i in range(args.bulk_groups)]
    chunks = [specs[i:i + 25] for i in range(0, len(specs), 25)]
    chunks.append([BulkSpec("Verify 10k", 100, 100, 104, (), seed=10_000)])
    started = time.monotonic()
    done = 0
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_load_chunk, ctx.dsn, str(ctx.org_id), str(ctx.admin_id), chunk) for chunk in chunks]
        for future in futures:
            for made in future.result():
                if made["members"] == 100:
                    ctx.verify_cycle = made
                else:
                    ctx.bulk_cycles.append(made)
                done += made["entries"]
    total = sum(c["entries"] for c in ctx.bulk_cycles)
    log(f"  bulk-loaded {done:,} ledger entries ({len(ctx.bulk_cycles)} cycles of ~"
        f"{total // max(1, len(ctx.bulk_cycles)):,}, and one of {ctx.verify_cycle['entries']:,}) in "  # type: ignore[index]
        f"{time.monotonic() - started:.0f} s")
    ctx.results["bulk"] = {"entries": done, "cycles": len(ctx.bulk_cycles), "per_cycle": total // max(1, len(ctx.bulk_cycles)),
                           "seconds": time.monotonic() - started}


# --- counting statements in-process ----------------------------------------------------------------
class StatementCounter:
    def __init__(self, sync_engine: Any) -> None:
        from sqlalchemy import event

        self.on = False
        self.seen: list[tuple[str, bool, int]] = []
        event.listen(sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if self.on:
            self.seen.append((statement, executemany, len(parameters) if executemany else 1))

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, bool, int]]]:
        self.seen = []
        self.on = True
        try:
            yield self.seen
        finally:
            self.on = False


def describe_sql(seen: list[tuple[str, bool, int]]) -> list[str]:
    lines = []
    for statement, many, rows in seen:
        flat = " ".join(statement.split())
        flat = re.sub(r"SELECT .{60,}? FROM", "SELECT … FROM", flat)
        lines.append((f"[executemany ×{rows}] " if many else "") + (flat[:150] + ("…" if len(flat) > 150 else "")))
    return lines


@contextmanager
def quiet_litestar() -> Iterator[None]:
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


async def in_process(ctx: Ctx, work: Any) -> Any:
    """Run `work(client, counter, headers, own)` against the real app, in-process. The test client runs the
    app on a loop of its own, so the app's engine (counted by `counter`) is the app's only; domain calls
    made here go through `own`, a sessionmaker of a separate engine, with `own.counter` counting them."""
    from types import SimpleNamespace

    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from api.settings import Settings
    from domain.database import make_sessionmaker
    from domain.models import utcnow

    app = create_app(Settings(secret_key=ctx.secret, database_url=ctx.url, env="development"))
    engine = engine_for(ctx)
    try:
        with quiet_litestar():
            async with AsyncTestClient(app=app) as client:
                counter = StatementCounter(app.state.engine.sync_engine)
                token, _ = app.state.tokens.issue(SimpleNamespace(id=ctx.admin_id), utcnow())
                own = make_sessionmaker(engine)
                own.counter = StatementCounter(engine.sync_engine)  # type: ignore[attr-defined]
                return await work(client, counter, {"Authorization": f"Bearer {token}"}, own)
    finally:
        await engine.dispose()


async def counted(client: Any, counter: StatementCounter, headers: dict[str, str], method: str, path: str,
                  body: Any = None, expect: tuple[int, ...] = (200, 201)) -> tuple[Any, int, float, list[str]]:
    with counter.counting() as seen:
        started = time.perf_counter()
        response = await client.request(method, path, json=body, headers=headers)
        seconds = time.perf_counter() - started
    if response.status_code not in expect:
        raise SystemExit(f"books: in-process {method} {path} answered {response.status_code}: {response.text[:1500]}")
    return response.json(), len(seen), seconds, describe_sql(seen)


# --- where the server's CPU goes (py-spy) ---------------------------------------------------------------
def profiled(ctx: Ctx, label: str, action: Any) -> None:
    """Run `action()` while py-spy samples the Kringkas server; keep a summary for the report."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("  py-spy is not installed (pip install py-spy): no profile")
        return
    out = ctx.tmp / f"profile_{label}.txt"
    proc = subprocess.Popen([spy, "record", "--pid", str(ctx.kk_pid), "--rate", "250", "--format", "raw",
                             "--nonblocking", "--output", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    _children.append(proc)
    time.sleep(1.5)
    try:
        action()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc in _children:
                _children.remove(proc)
    if not out.exists():
        log(f"  py-spy wrote no profile: {proc.stderr.read().decode(errors='replace')[-500:] if proc.stderr else ''}")
        return
    ctx.results.setdefault("profiles", {})[label] = summarise_profile(out)
    if ctx.args.output:
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        shutil.copyfile(out, ctx.args.output.with_name(f"{ctx.args.output.stem}_profile_{slug}.txt"))


def _frame(frame: str) -> tuple[str, str]:
    """("function", "where") of a py-spy frame "function (path:line)"."""
    match = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame, ""
    function, path = match.groups()
    if "site-packages/" in path:
        return function, path.split("site-packages/", 1)[1]
    if path.startswith(str(ROOT) + "/"):
        return function, path[len(str(ROOT)) + 1:]
    if "/lib/python3" in path:  # the standard library: /usr/lib/python3.11/json/encoder.py
        return function, "stdlib:" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return function, path


def _area(path: str) -> str:
    if path.startswith(("domain/", "api/")):
        return path.split("/")[0] + "/ (Kringkas)"
    if path.startswith("stdlib:"):
        return "standard library"
    return path.split("/")[0] or "?"


def summarise_profile(path: Path) -> dict[str, Any]:
    total = rooted = 0
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    areas: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        if not frames:
            continue
        total += count
        if any(where == "api/cli.py" for _, where in frames):
            rooted += count
        for name in {f"{fn} ({where})" for fn, where in frames if where.startswith(("domain/", "api/"))}:
            inclusive[name] = inclusive.get(name, 0) + count
        leaf_fn, leaf_where = frames[-1]
        own[f"{leaf_fn} ({leaf_where})"] = own.get(f"{leaf_fn} ({leaf_where})", 0) + count
        areas[_area(leaf_where)] = areas.get(_area(leaf_where), 0) + count

    def top(d: dict[str, int], n: int) -> list[tuple[str, int]]:
        return sorted(d.items(), key=lambda kv: -kv[1])[:n]

    return {"samples": total, "rooted": rooted, "inclusive": top(inclusive, 20), "own": top(own, 15),
            "areas": top(areas, 12)}


def report_profiles(ctx: Ctx) -> list[str]:
    lines = ["## Where the server's CPU goes (py-spy, --profile)", "",
             "Sampled at 250 Hz during extra, unmeasured runs (py-spy --nonblocking); shares of the samples in "
             "which the server was running Python (waiting on the network is not sampled)."]
    for label, p in ctx.results.get("profiles", {}).items():
        n = max(1, p["samples"])
        lines += ["", f"### {label}: {p['samples']:,} samples", "",
                  "| where the CPU was (the innermost frame's package) | share |", "|---|---:|"]
        lines += [f"| {area} | {100 * c / n:.0f}% |" for area, c in p["areas"]]
        lines += ["", f"Only {100 * p.get('rooted', 0) / n:.0f}% of the samples show the whole stack up to the server's "
                  "main: SQLAlchemy runs the ORM in greenlets and asyncpg's coroutines are resumed by the event "
                  "loop, and py-spy sees those stacks without their callers. So the shares of Kringkas functions "
                  "below are lower bounds; the table above (by innermost frame) counts everything.", "",
                  "| Kringkas function (inclusive: it or what it called, where the stack shows it) | share |",
                  "|---|---:|"]
        lines += [f"| `{name}` | {100 * c / n:.0f}% |" for name, c in p["inclusive"]]
        lines += ["", "| innermost function (self time) | share |", "|---|---:|"]
        lines += [f"| `{name}` | {100 * c / n:.1f}% |" for name, c in p["own"]]
    return lines


# --- part 1: deposits/s under wrk --------------------------------------------------------------------
REPORT_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
"""

DEPOSIT_LUA = r"""
-- written by bench/books.py: POST a witnessed deposit with a fresh body and client id per request,
-- rotating over BENCH_TARGETS (a line per meeting x member: meeting member counter witness witness).
local targets, n, counter = {}, 0, 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end
local headers = {["Content-Type"] = "application/json",
                 ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none")}
local run = os.getenv("BENCH_RUN_HEX") or "00000000"
function init(args)
  for line in io.lines(os.getenv("BENCH_TARGETS")) do
    local meeting, member, counted, w1, w2 = line:match("^(%S+) (%S+) (%S+) (%S+) (%S+)$")
    if meeting then
      n = n + 1
      targets[n] = {"/api/v1/meetings/" .. meeting .. "/deposits",
        string.format('"member_id":"%s","counted_by_member_id":"%s","witness_member_ids":["%s","%s"]',
                      member, counted, w1, w2)}
    end
  end
end
function request()
  local t = targets[(counter + (thread_no - 1) * 7919) % n + 1]
  counter = counter + 1
  local body = string.format('{"id":"%s-%04x-4000-8000-%012x","amount_cents":%d,%s}',
                             run, thread_no, counter, counter % 97 + 1, t[2])
  return wrk.format("POST", t[1], headers, body)
end
""" + REPORT_LUA

BARE_LUA = r"""
-- written by bench/books.py: bench/bare_app.py's POST /members, one INSERT per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"display_name": "Bench Member", "phone": null}'
""" + REPORT_LUA


@dataclass
class Point:
    target: str
    concurrency: int
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    errors: int
    others_cpu: float
    round: int
    cpu_ms: float = float("nan")  # CPU time of the server process per request


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(ctx: Ctx, script: Path, url: str, concurrency: int, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    cmd = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "30s", "-s", str(script), url]
    result = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    match = re.search(r"^BENCH_JSON (\{.*\})$", output, re.M)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"books: wrk failed ({' '.join(cmd)}):\n{output[-2000:]}")
    return json.loads(match.group(1))


def deposit_targets(kringen: list[Kr], path: Path) -> None:
    """Member-major: consecutive requests go to different kringen (so different cycle locks)."""
    lines = []
    for j in range(max(len(k.members) for k in kringen)):
        for kr in kringen:
            if j < len(kr.members):
                member = kr.members[j]
                counter, (w1, w2) = kr.counter_and_witnesses(kr.held, member)
                lines.append(f"{kr.meeting(kr.held)} {member} {counter} {w1} {w2}")
    path.write_text("\n".join(lines) + "\n")


def check_deposit(ctx: Ctx, kr: Kr, base: str) -> None:
    member = kr.members[1]
    counter, witnesses = kr.counter_and_witnesses(kr.held, member)
    client = Client(base, fresh_token(ctx))
    client.call("POST", f"/api/v1/meetings/{kr.meeting(kr.held)}/deposits", {
        "id": str(uuid4()), "member_id": str(member), "amount_cents": 1, "counted_by_member_id": str(counter),
        "witness_member_ids": [str(w) for w in witnesses]}, expect=(201,))
    client.close()


def part_deposits(ctx: Ctx) -> None:
    args = ctx.args
    lua_deposit, lua_bare = ctx.tmp / "books_deposit.lua", ctx.tmp / "books_bare.lua"
    lua_deposit.write_text(DEPOSIT_LUA)
    lua_bare.write_text(BARE_LUA)
    points: list[Point] = []
    spread, one = ctx.deposit_kringen, ctx.deposit_kringen[:1]
    for round_no in range(1, args.repeat + 1):
        for c in args.concurrency:
            order = ["bare", "kk.spread", "kk.one"] + (["lean"] if args.lean else [])
            if round_no % 2 == 0:
                order.reverse()
            for target in order:
                env = {"BENCH_TOKEN": fresh_token(ctx), "BENCH_RUN_HEX": secrets.token_hex(4)}
                if target == "bare":
                    script, url = lua_bare, f"{ctx.bare_base}/members"
                    pid = ctx.bare_pid
                else:
                    kringen = one if target == "kk.one" else spread
                    base = ctx.lean_base if target == "lean" else ctx.kk_base
                    asyncio.run(roll_meetings(ctx, kringen))  # fresh meetings for this point
                    check_deposit(ctx, kringen[0], base)
                    targets = ctx.tmp / f"targets_{target}.txt"
                    deposit_targets(kringen, targets)
                    env["BENCH_TARGETS"] = str(targets)
                    script, url = lua_deposit, base
                    pid = ctx.lean_pid if target == "lean" else ctx.kk_pid
                wait_for_quiet(ctx)
                if args.warmup > 0:
                    run_wrk(ctx, script, url, c, args.warmup, dict(env, BENCH_RUN_HEX=secrets.token_hex(4)))
                watch = CpuWatch(ctx.db)
                cpu_before = process_cpu_seconds(pid)
                raw = run_wrk(ctx, script, url, c, args.seconds, env)
                cpu = process_cpu_seconds(pid) - cpu_before
                others = watch.stop()
                errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
                point = Point(target, c, raw["requests"] / (raw["duration_us"] / 1e6), raw["p50"] / 1e6,
                              raw["p95"] / 1e6, raw["p99"] / 1e6, raw["requests"], errors, others, round_no,
                              1000 * cpu / max(1, raw["requests"]))
                points.append(point)
                log(f"  {target:<9} c={c:<2} round {round_no}: {point.rps:,.0f} req/s, p50 {ms(point.p50)} ms, "
                    f"p95 {ms(point.p95)} ms, server CPU {point.cpu_ms:.2f} ms/req, others used {others:.0f}% CPU"
                    + (f", {errors} ERRORS" if errors else ""))
    ctx.results["deposits"] = points
    client = Client(ctx.kk_base, fresh_token(ctx))
    for kr in spread[:3]:  # every deposit written under load is in a chain that verifies
        body, _ = client.call("GET", f"/api/v1/cycles/{kr.cycle_id}/ledger/verify")
        if not body["ok"]:
            raise SystemExit(f"books: after the load, the chain of {kr.name} does not verify: {body}")
    client.close()
    if args.profile:
        c = 4 if 4 in args.concurrency else args.concurrency[-1]
        log(f"  profiling the server: {args.seconds:g} s more of deposits into 64 meetings at c={c}")
        asyncio.run(roll_meetings(ctx, spread))
        targets = ctx.tmp / "targets_profile.txt"
        deposit_targets(spread, targets)
        env = {"BENCH_TOKEN": fresh_token(ctx), "BENCH_RUN_HEX": secrets.token_hex(4), "BENCH_TARGETS": str(targets)}
        profiled(ctx, f"deposits at c={c}", lambda: run_wrk(ctx, lua_deposit, ctx.kk_base, c, args.seconds, env))


def report_deposits(ctx: Ctx) -> list[str]:
    points: list[Point] = ctx.results["deposits"]
    args = ctx.args
    best: dict[tuple[str, int], Point] = {}
    rounds: dict[tuple[str, int], list[Point]] = {}
    for p in points:
        rounds.setdefault((p.target, p.concurrency), []).append(p)
        if (p.target, p.concurrency) not in best or p.rps > best[(p.target, p.concurrency)].rps:
            best[(p.target, p.concurrency)] = p
    names = {"bare": "bare POST /members (floor)", "kk.spread": "kk deposits, 64 meetings",
             "kk.one": "kk deposits, 1 meeting", "lean": "lean deposit (bench/books_lean.py), 64 meetings"}
    lines = ["## 1. Deposits/s: POST /api/v1/meetings/{id}/deposits against the bare INSERT", "",
             f"wrk -t1, {args.seconds:g} s a point after {args.warmup:g} s of warm-up, "
             + (f"best of {args.repeat} rounds (all rounds' req/s shown); " if args.repeat > 1 else "")
             + "each kk point on freshly opened, signed meetings; every deposit has a fresh client id, 1–97 "
             "cents, counted by a geldteller, 2 witnesses; no Idempotency-Key.", "",
             "| target | c | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req | requests | errors | others' CPU "
             "| req/s of each round |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for target in ("bare", "kk.spread", "kk.one", "lean"):
        for c in args.concurrency:
            p = best.get((target, c))
            if p:
                lines.append(f"| {names[target]} | {c} | {p.rps:,.0f} | {ms(p.p50)} | {ms(p.p95)} | {ms(p.p99)} | "
                             f"{p.cpu_ms:.2f} | {p.requests:,} | {p.errors} | {p.others_cpu:.0f}% | "
                             + ", ".join(f"{r.rps:,.0f}" for r in rounds[(target, c)]) + " |")
    cpu = {t: med([p.cpu_ms for p in points if p.target == t]) for t in ("bare", "kk.spread", "kk.one", "lean")}
    lines += ["", "Server CPU per request (the server process's user + system time over the requests it answered, "
              "median over all points; less sensitive to other load than req/s): bare "
              f"{cpu['bare']:.2f} ms, kk deposit {cpu['kk.spread']:.2f} ms ({cpu['kk.spread'] / cpu['bare']:.1f}×), "
              + (f"lean deposit {cpu['lean']:.2f} ms ({cpu['lean'] / cpu['bare']:.1f}×)." if points and
                 any(p.target == "lean" for p in points) else "")]
    lines += ["", "Target: deposits (64 meetings) at least 50 % of the floor's req/s, p95 at most 2× its p95.", "",
              "| c | req/s kk / bare | p95 kk / bare | p50 kk / bare | met? | 1 meeting: req/s / bare | 1 meeting: p95 / bare "
              "| lean: req/s / bare | lean: p95 / bare |",
              "|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    all_met = True
    for c in args.concurrency:
        kk, bare, one = best.get(("kk.spread", c)), best.get(("bare", c)), best.get(("kk.one", c))
        lean = best.get(("lean", c))
        if not (kk and bare):
            continue
        ok = kk.rps / bare.rps >= 0.5 and kk.p95 / bare.p95 <= 2
        all_met &= ok
        lines.append(f"| {c} | {kk.rps / bare.rps:.2f} | {kk.p95 / bare.p95:.2f} | {kk.p50 / bare.p50:.2f} | {yes(ok)} | "
                     + (f"{one.rps / bare.rps:.2f} | {one.p95 / bare.p95:.2f} |" if one else "– | – |")
                     + (f" {lean.rps / bare.rps:.2f} | {lean.p95 / bare.p95:.2f} |" if lean else " – | – |"))
    ctx.results["deposits_met"] = all_met
    if any(p.errors for p in points):
        lines += ["", "**Some points had errors (non-2xx answers or socket errors): their figures don't mean what "
                  "the others mean.**"]
    return lines


# --- part 2: one sync against the same meeting in single requests -----------------------------------
def sync_body(kr: Kr, no: int) -> dict[str, Any]:
    deposits, total = [], 0
    for j, member in enumerate(kr.members):
        counter, witnesses = kr.counter_and_witnesses(no, member)
        amount = deposit_cents(no, j)
        total += amount
        deposits.append({"id": str(uuid4()), "member_id": str(member), "amount_cents": amount,
                         "counted_by_member_id": str(counter), "witness_member_ids": [str(w) for w in witnesses]})
    return {"opening_cash_cents": kr.closing_cents,
            "attendance": [{"member_id": str(m), "status": "present"} for m in kr.members],
            "attendance_signed_by_member_id": str(kr.voorzitter(no)), "deposits": deposits,
            "closing_cash_cents": kr.closing_cents + total}


def singles_requests(kr: Kr, no: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, method, path, body) of the same meeting in single requests, in the order of the room."""
    body = sync_body(kr, no)
    path = f"/api/v1/meetings/{kr.meeting(no)}"
    out = [("open", "POST", f"{path}/open", {"opening_cash_cents": body["opening_cash_cents"]}),
           ("attendance", "PUT", f"{path}/attendance", {"entries": body["attendance"]}),
           ("sign", "POST", f"{path}/attendance/sign", {"signed_by_member_id": body["attendance_signed_by_member_id"]})]
    out += [("deposit", "POST", f"{path}/deposits", d) for d in body["deposits"]]
    out.append(("close", "POST", f"{path}/close", {"closing_cash_cents": body["closing_cash_cents"]}))
    return out


def part_sync(ctx: Ctx) -> None:
    args = ctx.args
    sync_kr, single_kr = ctx.sync_kr, ctx.single_kr
    assert sync_kr and single_kr
    client = Client(ctx.kk_base, fresh_token(ctx))
    sync_s, singles_s, deposits_s, per_label = [], [], [], {}
    for no in range(1, args.sync_warmup + args.sync_meetings + 1):
        measured = no > args.sync_warmup
        client.token = fresh_token(ctx)
        for side in (("sync", "singles") if no % 2 else ("singles", "sync")):
            if side == "sync":
                body = sync_body(sync_kr, no)
                data = json.dumps(body).encode()
                status, raw, seconds = client.send("POST", f"/api/v1/meetings/{sync_kr.meeting(no)}/sync", data)
                view = json.loads(raw)
                if status != 200 or view["status"] != "closed" or len(view["deposits"]) != 12 \
                        or view["totals"]["discrepancy_cents"] != 0:
                    raise SystemExit(f"books: sync answered {status}: {raw[:1500]!r}")
                sync_kr.closing_cents = body["closing_cash_cents"]
                if measured:
                    sync_s.append(seconds)
            else:
                requests = [(label, method, path, json.dumps(body).encode())
                            for label, method, path, body in singles_requests(single_kr, no)]
                total = deposits = 0.0
                for label, method, path, data in requests:
                    status, raw, seconds = client.send(method, path, data)
                    if status not in (200, 201):
                        raise SystemExit(f"books: {label} answered {status}: {raw[:1500]!r}")
                    total += seconds
                    if label == "deposit":
                        deposits += seconds
                    if measured:
                        per_label.setdefault(label, []).append(seconds)
                single_kr.closing_cents = json.loads(requests[-1][3])["closing_cash_cents"]
                if json.loads(raw)["totals"]["discrepancy_cents"] != 0:
                    raise SystemExit("books: the singles' meeting closed with a discrepancy")
                if measured:
                    singles_s.append(total)
                    deposits_s.append(deposits)
    client.close()
    ctx.results["sync"] = {"sync": sync_s, "singles": singles_s, "deposits": deposits_s, "per_label": per_label}
    log(f"  sync median {ms(med(sync_s))} ms; singles median {ms(med(singles_s))} ms "
        f"(of which 12 deposits {ms(med(deposits_s))} ms)")


async def count_sync_and_singles(ctx: Ctx) -> None:
    """Statements of each request of one meeting in singles (meeting 1) and of one sync (meeting 2)."""
    kr = ctx.count_kr
    assert kr

    async def work(client: Any, counter: StatementCounter, headers: dict[str, str], _own: Any) -> None:
        counts: dict[str, list[int]] = {}
        for label, method, path, body in singles_requests(kr, 1):
            _, n, _, sql = await counted(client, counter, headers, method, path, body)
            counts.setdefault(label, []).append(n)
            if label in ("deposit", "open") and f"single {label}" not in ctx.sql:
                ctx.sql[f"single {label}"] = sql
        kr.closing_cents = body["closing_cash_cents"]
        sync = sync_body(kr, 2)
        _, n, _, sql = await counted(client, counter, headers, "POST", f"/api/v1/meetings/{kr.meeting(2)}/sync", sync)
        ctx.sql["sync (12 deposits)"] = sql
        counts["sync"] = [n]
        ctx.results["sync_counts"] = counts

    await in_process(ctx, work)


def report_sync(ctx: Ctx) -> list[str]:
    r = ctx.results["sync"]
    counts = ctx.results.get("sync_counts", {})
    sync, singles, deposits = med(r["sync"]), med(r["singles"]), med(r["deposits"])
    ok = sync < singles / 4
    ok_deposits = sync < deposits / 4
    ctx.results["sync_met"] = ok
    n_single = sum(sum(v) for k, v in counts.items() if k != "sync")
    lines = ["## 2. A 12-member meeting: one sync against single requests", "",
             f"{len(r['sync'])} meetings each, one after another, the two kringen interleaved (after "
             f"{ctx.args.sync_warmup} warm-up meetings each); times are client-side wall clock on a keep-alive "
             "connection, bodies encoded beforehand.", "",
             "| | requests | SQL statements | median ms | p95 ms | min ms |", "|---|---:|---:|---:|---:|---:|",
             f"| sync: open, attendance, signature, 12 deposits, close | 1 | {counts.get('sync', ['?'])[0]} | "
             f"{ms(sync)} | {ms(pct(r['sync'], 95))} | {ms(min(r['sync']))} |",
             f"| singles: open, attendance, sign, 12 deposits, close | 16 | {n_single or '?'} | {ms(singles)} | "
             f"{ms(pct(r['singles'], 95))} | {ms(min(r['singles']))} |",
             f"| of which the 12 deposits | 12 | {sum(counts.get('deposit', [])) or '?'} | {ms(deposits)} | "
             f"{ms(pct(r['deposits'], 95))} | {ms(min(r['deposits']))} |", "",
             "| single request | statements | median ms |", "|---|---:|---:|"]
    for label in ("open", "attendance", "sign", "deposit", "close"):
        if label in r["per_label"]:
            lines.append(f"| {label} | {', '.join(map(str, sorted(set(counts.get(label, []))))) or '?'} | "
                         f"{ms(med(r['per_label'][label]))} |")
    paired = med([a / b for a, b in zip(r["sync"], r["singles"], strict=True)])
    paired_deposits = med([a / b for a, b in zip(r["sync"], r["deposits"], strict=True)])
    lines += ["", f"Target: the sync under a quarter of the singles (medians compared). sync / whole meeting in singles = "
              f"**{sync / singles:.3f}** ({yes(ok)}); sync / the 12 deposit requests alone = "
              f"**{sync / deposits:.3f}** ({'also under' if ok_deposits else 'not under'} a quarter). Median of the "
              f"per-meeting ratios (each sync beside the singles meeting held just before or after it): "
              f"{paired:.3f} and {paired_deposits:.3f}."]
    return lines


# --- part 3: balances over a million entries ----------------------------------------------------------
RAW_BALANCES = ("SELECT member_id, kind, sum(amount_cents) FROM ledger_entries WHERE cycle_id = $1 "
                "GROUP BY member_id, kind")


async def part_balances(ctx: Ctx) -> None:
    import asyncpg

    from domain import books
    from domain.database import make_sessionmaker

    args = ctx.args
    client, bare = Client(ctx.kk_base, fresh_token(ctx)), Client(ctx.bare_base)
    conn = await asyncpg.connect(ctx.dsn)
    engine = engine_for(ctx)
    sm = make_sessionmaker(engine)
    admin = admin_actor(ctx)
    try:
        # sanity: the loader's books are what the API says, and the chains verify
        sample = ctx.bulk_cycles[len(ctx.bulk_cycles) // 2]
        body, _ = client.call("GET", f"/api/v1/cycles/{sample['cycle_id']}/balances")
        if body["totals"]["saved_cents"] != sample["saved_cents"] or body["cash_expected_cents"] != sample["cash_cents"] \
                or len(body["members"]) != sample["members"]:
            raise SystemExit(f"books: the bulk loader's books differ from the API's: {sample} vs {body['totals']}")
        verified, _ = client.call("GET", f"/api/v1/cycles/{sample['cycle_id']}/ledger/verify")
        if not verified["ok"] or verified["entries"] != sample["entries"]:
            raise SystemExit(f"books: a bulk-loaded chain does not verify: {verified}")
        statement = await conn.prepare(RAW_BALANCES)
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + RAW_BALANCES, UUID(sample["cycle_id"]))
        ctx.results["balances_plan"] = [r[0] for r in plan]
        rng = random.Random(7)
        cycles = [rng.choice(ctx.bulk_cycles)["cycle_id"] for _ in range(args.balance_samples + 20)]
        raw_s, http_s, bare_s, domain_s, bare_raw_s, rows = [], [], [], [], [], 0
        sides = ["raw", "http", "bare", "domain", "bare_raw"]
        for i, cycle_id in enumerate(cycles):
            client.token = fresh_token(ctx)
            for side in sides[i % 5:] + sides[:i % 5]:
                if side == "bare_raw":  # the raw GROUP BY over the same HTTP stack (bare_app, no rules)
                    status, raw, seconds = bare.send("GET", f"/raw-balances/{cycle_id}")
                    assert status == 200
                    if i >= 20:
                        bare_raw_s.append(seconds)
                elif side == "bare":  # the HTTP floor: bench/bare_app.py's GET /users/{id}, one SELECT by key
                    status, raw, seconds = bare.send("GET", f"/users/{ctx.admin_id}")
                    assert status == 200
                    if i >= 20:
                        bare_s.append(seconds)
                elif side == "domain":  # domain.books.balances in this process, its own session, no HTTP
                    started = time.perf_counter()
                    async with sm() as db:
                        await books.balances(db, admin, UUID(cycle_id))
                    if i >= 20:
                        domain_s.append(time.perf_counter() - started)
                elif side == "raw":
                    started = time.perf_counter()
                    result = await statement.fetch(UUID(cycle_id))
                    seconds = time.perf_counter() - started
                    rows = len(result)
                    if i >= 20:
                        raw_s.append(seconds)
                else:
                    status, raw, seconds = client.send("GET", f"/api/v1/cycles/{cycle_id}/balances")
                    if status != 200:
                        raise SystemExit(f"books: balances answered {status}: {raw[:500]!r}")
                    if i >= 20:  # the first 20 of each warm up
                        http_s.append(seconds)
        count = await conn.fetchval("SELECT count(*) FROM ledger_entries")
    finally:
        await conn.close()
        await engine.dispose()
        client.close()
        bare.close()
    ctx.results["balances"] = {"raw": raw_s, "http": http_s, "bare": bare_s, "domain": domain_s, "rows": rows,
                               "bare_raw": bare_raw_s, "entries": count}
    log(f"  balances median {ms(med(http_s))} ms, raw GROUP BY median {ms(med(raw_s))} ms "
        f"({count:,} entries in the table)")
    if args.profile:
        log("  profiling the server: 500 more balances requests, one at a time")

        def loop() -> None:
            again = Client(ctx.kk_base, fresh_token(ctx))
            for cycle_id in cycles[:500] * (1 + 500 // max(1, len(cycles))):
                again.call("GET", f"/api/v1/cycles/{cycle_id}/balances")
            again.close()

        profiled(ctx, "balances, c=1", loop)


async def count_balances(ctx: Ctx) -> None:
    from domain import books

    async def work(client: Any, counter: StatementCounter, headers: dict[str, str], own: Any) -> None:
        out = {}
        for size, kr in sorted(ctx.balance_kringen.items()):
            body, n, _, sql = await counted(client, counter, headers, "GET", f"/api/v1/cycles/{kr.cycle_id}/balances")
            assert len(body["members"]) == size and body["totals"]["loan_outstanding_cents"] > 0
            async with own() as db:
                with own.counter.counting() as seen:
                    await books.balances(db, admin_actor(ctx), kr.cycle_id)
            out[size] = (n, len(seen))
            ctx.sql[f"balances ({size} members)"] = sql
        ctx.results["balance_counts"] = out

    await in_process(ctx, work)


def report_balances(ctx: Ctx) -> list[str]:
    r = ctx.results["balances"]
    counts = ctx.results.get("balance_counts", {})
    raw, http_ = med(r["raw"]), med(r["http"])
    ok = http_ < 2 * raw
    same = len({n for n, _ in counts.values()}) == 1 and len({d for _, d in counts.values()}) == 1
    ctx.results["balances_met"] = (ok, same)
    bulk = ctx.results["bulk"]
    lines = ["## 3. Balances over a million ledger entries", "",
             f"The table holds {r['entries']:,} entries: {bulk['cycles']} bulk-loaded cycles of ~{bulk['per_cycle']:,} "
             f"(20 members, 100 meetings held, 4 loans each; COPY with hash chains, {bulk['seconds']:.0f} s), the "
             "10,000-entry cycle, and the kringen built through the domain. Sample: random bulk cycles, the "
             f"request and the raw query on the same cycle, interleaved, {len(r['http'])} each after 20 warm-up "
             f"pairs; the raw query is asyncpg with a prepared statement ({r['rows']} rows per cycle).", "",
             "| | median ms | p95 ms | min ms |", "|---|---:|---:|---:|",
             f"| GET /api/v1/cycles/{{id}}/balances (HTTP, real server) | {ms(http_)} | {ms(pct(r['http'], 95))} | "
             f"{ms(min(r['http']))} |",
             f"| raw `SELECT member_id, kind, sum(amount_cents) … GROUP BY member_id, kind` | {ms(raw)} | "
             f"{ms(pct(r['raw'], 95))} | {ms(min(r['raw']))} |",
             f"| *to see where the time goes:* domain.books.balances in-process (session, 1 statement, no HTTP) | "
             f"{ms(med(r['domain']))} | {ms(pct(r['domain'], 95))} | {ms(min(r['domain']))} |",
             f"| *the HTTP floor:* bench/bare_app.py GET /users/{{id}} (Litestar + SQLAlchemy, one SELECT by key) | "
             f"{ms(med(r['bare']))} | {ms(pct(r['bare'], 95))} | {ms(min(r['bare']))} |",
             f"| *the raw query over HTTP:* bench/bare_app.py GET /raw-balances/{{id}} (the same GROUP BY, no rules) | "
             f"{ms(med(r['bare_raw']))} | {ms(pct(r['bare_raw'], 95))} | {ms(min(r['bare_raw']))} |", "",
             f"Target: under 2× the raw query. balances / raw = **{http_ / raw:.2f}** (median), "
             f"{pct(r['http'], 95) / pct(r['raw'], 95):.2f} (p95): {yes(ok)}. For scale: the bare HTTP floor alone is "
             f"{med(r['bare']) / raw:.2f}× the raw query; balances is {http_ / med(r['bare']):.2f}× the floor, and the "
             f"domain function alone {med(r['domain']) / raw:.2f}× the raw query. Like for like, the raw query served "
             f"over the same HTTP stack: balances / that = **{http_ / med(r['bare_raw']):.2f}** (median), "
             f"{pct(r['http'], 95) / pct(r['bare_raw'], 95):.2f} (p95): "
             f"{yes(http_ < 2 * med(r['bare_raw']))} under 2×. The raw query served over HTTP with nothing else "
             f"is itself {med(r['bare_raw']) / raw:.2f}× the raw query timed in-process: read that way, the target "
             f"is {'out of reach of any endpoint on this stack' if med(r['bare_raw']) >= 2 * raw else 'reachable'}.",
             "",
             "SQL statements of one balances request (the whole request in-process, and domain.books.balances alone):", "",
             "| members | statements per request | in domain.books.balances |", "|---:|---:|---:|"]
    for size, (n, d) in sorted(counts.items()):
        lines.append(f"| {size} | {n} | {d} |")
    lines += ["", f"Statements do not grow with the number of members: {yes(same)}."]
    return lines


# --- part 4: the chain's verification -----------------------------------------------------------------
async def part_verify(ctx: Ctx) -> None:
    from sqlalchemy import select

    from domain.database import make_sessionmaker
    from domain.ledger import verify_chain
    from domain.models import Cycle, LedgerEntry

    cycle = ctx.verify_cycle
    assert cycle
    client = Client(ctx.kk_base, fresh_token(ctx))
    client.call("GET", f"/api/v1/cycles/{cycle['cycle_id']}/ledger/verify")  # warm-up
    times = []
    for _ in range(ctx.args.verify_runs):
        body, seconds = client.call("GET", f"/api/v1/cycles/{cycle['cycle_id']}/ledger/verify")
        if not body["ok"] or body["entries"] != cycle["entries"] or body["head_hash"] != cycle["head_hash"]:
            raise SystemExit(f"books: verify of the 10k cycle: {body}")
        times.append(seconds)
    client.close()
    # where the time goes, in-process: loading the ORM objects, then the hashing
    engine = engine_for(ctx)
    load_s, hash_s, rows_s = [], [], []
    try:
        for _ in range(3):
            async with make_sessionmaker(engine)() as db:
                row = await db.get(Cycle, UUID(cycle["cycle_id"]))
                stmt = select(LedgerEntry).where(LedgerEntry.cycle_id == row.id).order_by(LedgerEntry.seq)
                started = time.perf_counter()
                raw_rows = (await db.execute(select(*LedgerEntry.__table__.columns).where(
                    LedgerEntry.cycle_id == row.id).order_by(LedgerEntry.seq))).all()
                rows_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                entries = list((await db.execute(stmt)).scalars())
                load_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                report = verify_chain(entries, row.entry_count, row.head_hash)
                hash_s.append(time.perf_counter() - started)
                assert report.ok and len(raw_rows) == len(entries)
    finally:
        await engine.dispose()
    ctx.results["verify"] = {"http": times, "orm": load_s, "rows": rows_s, "hash": hash_s, "entries": cycle["entries"]}
    log(f"  verify of {cycle['entries']:,} entries: median {ms(med(times))} ms")


def report_verify(ctx: Ctx) -> list[str]:
    r = ctx.results["verify"]
    n = r["entries"]
    http_ = med(r["http"])
    return ["## 4. Verifying the chain of a 10,000-entry cycle", "",
            f"GET /api/v1/cycles/{{id}}/ledger/verify, {len(r['http'])} runs after one warm-up; the answer is checked "
            "(ok, entries, head hash).", "",
            "| | median ms | min ms | entries/s |", "|---|---:|---:|---:|",
            f"| GET …/ledger/verify ({n:,} entries, HTTP) | {ms(http_)} | {ms(min(r['http']))} | {n / http_:,.0f} |",
            f"| in-process: SELECT of the rows as tuples (Core) | {ms(med(r['rows']))} | {ms(min(r['rows']))} | |",
            f"| in-process: SELECT as LedgerEntry objects (what verify_cycle does) | {ms(med(r['orm']))} | "
            f"{ms(min(r['orm']))} | |",
            f"| in-process: domain.ledger.verify_chain over them (JSON + SHA-256 per entry) | {ms(med(r['hash']))} | "
            f"{ms(min(r['hash']))} | {n / med(r['hash']):,.0f} |", "",
            "No target was set; the figures are for the record."]


# --- part 5: share-out preview and finalise -------------------------------------------------------------
def part_share_out(ctx: Ctx) -> None:
    a, b = ctx.share_kringen["A"], ctx.share_kringen["B"]
    client = Client(ctx.kk_base, fresh_token(ctx))
    out: dict[str, Any] = {}
    for key, kr in (("A", a), ("B", b)):
        path = f"/api/v1/cycles/{kr.cycle_id}/share-out"
        client.call("GET", path)
        times = []
        for _ in range(ctx.args.share_runs):
            body, seconds = client.call("GET", path)
            times.append(seconds)
        assert not body["final"] and body["loans_outstanding"] == 0 and len(body["members"]) == len(kr.members)
        out[f"preview {key}"] = times
    body, seconds = client.call("POST", f"/api/v1/cycles/{a.cycle_id}/share-out", {"meeting_id": str(a.meeting(52))},
                                expect=(201,))
    assert body["final"] and body["totals"]["interest_share_cents"] == body["interest_pool_cents"] > 0
    out["finalise A"] = [seconds]
    client.close()
    ctx.results["share_out"] = out
    log(f"  share-out preview (30 members) median {ms(med(out['preview A']))} ms; finalise {ms(seconds)} ms")


async def count_share_out(ctx: Ctx) -> None:
    from domain import share_out
    from domain.models import utcnow

    async def work(client: Any, counter: StatementCounter, headers: dict[str, str], own: Any) -> None:
        out: dict[str, Any] = {}
        c, b = ctx.share_kringen["C"], ctx.share_kringen["B"]
        # the domain's finalise alone, rolled back, a few times (30 members)
        domain_s = []
        for _ in range(ctx.args.share_domain_runs):
            async with own() as db:
                with own.counter.counting() as seen:
                    started = time.perf_counter()
                    await share_out.finalise(db, admin_actor(ctx), c.cycle_id, c.meeting(52), utcnow())
                    domain_s.append(time.perf_counter() - started)
                await db.rollback()
            out["finalise domain statements"] = len(seen)
        out["finalise domain"] = domain_s
        for size, kr in ((30, c), (10, b)):
            path = f"/api/v1/cycles/{kr.cycle_id}/share-out"
            _, n, seconds, sql = await counted(client, counter, headers, "GET", path)
            out[f"preview {size}"] = (n, seconds)
            ctx.sql[f"share-out preview ({size} members)"] = sql
            body, n, seconds, sql = await counted(client, counter, headers, "POST", path,
                                                  {"meeting_id": str(kr.meeting(52))}, expect=(201,))
            assert body["final"]
            out[f"finalise {size}"] = (n, seconds)
            ctx.sql[f"share-out finalise ({size} members)"] = sql
        ctx.results["share_counts"] = out

    await in_process(ctx, work)


def report_share_out(ctx: Ctx) -> list[str]:
    r, counts = ctx.results["share_out"], ctx.results.get("share_counts", {})
    a = ctx.share_kringen["A"]
    same_preview = counts.get("preview 30", (0,))[0] == counts.get("preview 10", (1,))[0]
    same_finalise = counts.get("finalise 30", (0,))[0] == counts.get("finalise 10", (1,))[0]
    ctx.results["share_met"] = (same_preview, same_finalise)
    entries = len(a.members) * 52 + 15 * 4
    lines = ["## 5. Share-out: preview and finalise", "",
             f"Cycles built through the domain functions: 52 meetings, everyone depositing 5–50 euro every meeting, "
             f"roles rotated at meeting 27, 15 loans (voted, paid out, repaid in two parts), time-weighted interest; "
             f"~{entries:,} ledger entries for 30 members. Three such cycles: A (30 members) is served, C (30) and B "
             "(10) are finalised in-process to count statements.", "",
             "| | members | SQL statements | median ms | p95 ms | runs |", "|---|---:|---:|---:|---:|---:|",
             f"| GET …/share-out (preview), HTTP | 30 | {counts.get('preview 30', ('?',))[0]} | {ms(med(r['preview A']))} | "
             f"{ms(pct(r['preview A'], 95))} | {len(r['preview A'])} |",
             f"| GET …/share-out (preview), HTTP | 10 | {counts.get('preview 10', ('?',))[0]} | {ms(med(r['preview B']))} | "
             f"{ms(pct(r['preview B'], 95))} | {len(r['preview B'])} |",
             f"| POST …/share-out (finalise), HTTP | 30 | {counts.get('finalise 30', ('?',))[0]} | "
             f"{ms(r['finalise A'][0])} | | 1 |"]
    if "finalise 10" in counts:
        lines.append(f"| POST …/share-out (finalise), in-process | 10 | {counts['finalise 10'][0]} | "
                     f"{ms(counts['finalise 10'][1])} | | 1 |")
        lines.append(f"| POST …/share-out (finalise), in-process | 30 | {counts['finalise 30'][0]} | "
                     f"{ms(counts['finalise 30'][1])} | | 1 |")
    if counts.get("finalise domain"):
        d = counts["finalise domain"]
        lines.append(f"| domain.share_out.finalise alone, rolled back | 30 | {counts['finalise domain statements']} | "
                     f"{ms(med(d))} | {ms(pct(d, 95))} | {len(d)} |")
    lines += ["", f"Statements do not grow with the number of members: preview {yes(same_preview)}, "
              f"finalise {yes(same_finalise)} (the ledger entries of a finalise are one executemany)."]
    return lines


# --- two queries that grow with the whole database, not with the cycle ---------------------------------
async def part_diagnose(ctx: Ctx) -> None:
    """On the big database: the 'later fixes' query of domain.meetings.outstanding_discrepancies (run by every
    view of a closed meeting: close, sync, GET meeting) and domain.share_out._time_weights (every preview and
    finalise), as the domain writes them, beside the same queries with the cycle's filters added."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import aliased

    from domain import meetings, share_out
    from domain.database import make_sessionmaker
    from domain.models import Cycle, EntryKind, LedgerEntry, Meeting

    def fixes(cycle_id: UUID, filtered: bool) -> Any:
        original, original_meeting, reversal_meeting = aliased(LedgerEntry), aliased(Meeting), aliased(Meeting)
        stmt = (select(original_meeting.meeting_no, reversal_meeting.meeting_no, LedgerEntry.kind,
                       LedgerEntry.amount_cents)
                .join(original, original.id == LedgerEntry.reverses_id)
                .join(original_meeting, original_meeting.id == original.meeting_id)
                .join(reversal_meeting, reversal_meeting.id == LedgerEntry.meeting_id)
                .where(LedgerEntry.cycle_id == cycle_id, reversal_meeting.meeting_no > original_meeting.meeting_no))
        if filtered:
            stmt = stmt.where(LedgerEntry.reverses_id.is_not(None), reversal_meeting.cycle_id == cycle_id,
                              original_meeting.cycle_id == cycle_id)
        return stmt

    def weights(cycle_id: UUID, filtered: bool) -> Any:
        original, at = aliased(LedgerEntry), aliased(Meeting)
        stmt = (select(LedgerEntry.member_id, LedgerEntry.amount_cents, at.meeting_no)
                .outerjoin(original, original.id == LedgerEntry.reverses_id)
                .join(at, at.id == func.coalesce(original.meeting_id, LedgerEntry.meeting_id))
                .where(LedgerEntry.cycle_id == cycle_id, LedgerEntry.kind == EntryKind.DEPOSIT))
        return stmt.where(at.cycle_id == cycle_id) if filtered else stmt

    sync_kr, share_kr = ctx.sync_kr, ctx.share_kringen["A"]
    assert sync_kr
    engine = engine_for(ctx)
    out: dict[str, list[float]] = {}
    try:
        async with make_sessionmaker(engine)() as db:
            meetings_count = (await db.execute(select(func.count()).select_from(Meeting))).scalar_one()
            cycle = await db.get(Cycle, share_kr.cycle_id)
            for label, run in (
                ("outstanding_discrepancies (domain/meetings.py), whole function",
                 lambda: meetings.outstanding_discrepancies(db, sync_kr.cycle_id)),
                ("its 'later fixes' query as written", lambda: db.execute(fixes(sync_kr.cycle_id, False))),
                ("the same with reverses_id IS NOT NULL and both meetings' cycle_id", lambda: db.execute(
                    fixes(sync_kr.cycle_id, True))),
                ("_time_weights (domain/share_out.py), 30 members × 52 meetings",
                 lambda: share_out._time_weights(db, cycle, {})),
                ("its query with at.cycle_id = the cycle added", lambda: db.execute(weights(share_kr.cycle_id, True))),
            ):
                await run()
                times = []
                for _ in range(ctx.args.diagnose_runs):
                    started = time.perf_counter()
                    await run()
                    times.append(time.perf_counter() - started)
                out[label] = times
    finally:
        await engine.dispose()
    ctx.results["diagnose"] = {"times": out, "meetings": meetings_count}


def report_diagnose(ctx: Ctx) -> list[str]:
    r = ctx.results["diagnose"]
    lines = ["## Two queries that scan every meeting in the database", "",
             f"In-process, on the big database ({r['meetings']:,} meetings). Both join `meetings` without the cycle's "
             "filter, so PostgreSQL hashes the whole meetings table (a parallel seq scan) for a cycle of a few dozen "
             "meetings: their time grows with the database, not with the cycle.", "",
             "| query | median ms | min ms |", "|---|---:|---:|"]
    lines += [f"| {label} | {ms(med(t))} | {ms(min(t))} |" for label, t in r["times"].items()]
    return lines


# --- setting up and tearing down ---------------------------------------------------------------------------
def psql(ctx: Ctx, sql: str, db: str = "postgres") -> str:
    a = ctx.args
    result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", a.pg_host, "-p",
                             str(a.pg_port), "-U", a.pg_user, "-d", db, "-c", sql],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"books: psql failed ({sql[:80]}): {result.stderr.strip()}")
    return result.stdout.strip()


def kringkas_env(ctx: Ctx) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRINGKAS_")}
    env.update(DATABASE_URL=ctx.url, KRINGKAS_SECRET_KEY=ctx.secret, KRINGKAS_ACCESS_TOKEN_MINUTES="60",
               PYTHONUNBUFFERED="1")
    if ctx.source != ROOT:
        env["PYTHONPATH"] = str(ctx.source)  # before the editable install of the work tree
    return env


def kringkas_cmd(ctx: Ctx) -> list[str]:
    """`kringkas …`: the console script of the work tree, or `python -m api.cli` of an exported commit."""
    script = Path(sys.executable).parent / "kringkas"
    return [str(script)] if script.exists() and ctx.source == ROOT else [sys.executable, "-m", "api.cli"]


def start_servers(ctx: Ctx) -> None:
    kk_port = free_port()
    bare_port = free_port()
    while bare_port == kk_port:
        bare_port = free_port()
    ctx.kk_base, ctx.bare_base = f"http://127.0.0.1:{kk_port}", f"http://127.0.0.1:{bare_port}"
    kk_log, bare_log = ctx.tmp / "kringkas.log", ctx.tmp / "bare.log"
    log(f"starting kringkas serve --workers 1 on port {kk_port}, bench/bare_app.py on port {bare_port}")
    kk = start([*kringkas_cmd(ctx), "serve", "--host", "127.0.0.1", "--port", str(kk_port), "--workers", "1"],
               kringkas_env(ctx), kk_log, cwd=ctx.source)
    ctx.kk_pid = kk.pid
    bare_env = dict(os.environ, BENCH_DATABASE_URL=ctx.url, BENCH_GROUP_ID=str(ctx.bare_group_id),
                    BENCH_USER_ID=str(ctx.admin_id), PYTHONUNBUFFERED="1")
    bare = start([sys.executable, "-m", "bench.bare_app", "--host", "127.0.0.1", "--port", str(bare_port)], bare_env,
                 bare_log)
    if ctx.args.lean:
        lean_port = free_port()
        while lean_port in (kk_port, bare_port):
            lean_port = free_port()
        ctx.lean_base = f"http://127.0.0.1:{lean_port}"
        lean_log = ctx.tmp / "lean.log"
        log(f"starting bench/books_lean.py on port {lean_port}")
        # run as a script: with --git-ref it imports the exported Kringkas (PYTHONPATH), like the server
        lean = start([sys.executable, str(ROOT / "bench" / "books_lean.py"), "--host", "127.0.0.1", "--port",
                      str(lean_port)], kringkas_env(ctx), lean_log, cwd=ctx.tmp)
    ctx.bare_pid = bare.pid
    if ctx.args.lean:
        ctx.lean_pid = lean.pid
    wait_until_up(ctx.kk_base, kk, kk_log)
    wait_until_up(ctx.bare_base, bare, bare_log)
    if ctx.args.lean:
        wait_until_up(ctx.lean_base, lean, lean_log)
    client = Client(ctx.bare_base)
    client.call("POST", "/members", {"display_name": "Bench Check", "phone": None}, expect=(201,))
    client.close()
    fresh_token(ctx)


def describe_machine(ctx: Ctx) -> None:
    notes = ctx.notes
    notes["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    model = "?"
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "?")
    except OSError:
        pass
    notes["cpu"] = f"{os.cpu_count()} cores, {model}; load average at the start {os.getloadavg()[0]:.1f}"
    import importlib.metadata as md

    notes["python"] = platform.python_version() + ", " + ", ".join(
        f"{p} {md.version(p)}" for p in ("litestar", "sqlalchemy", "asyncpg", "uvicorn", "uvloop", "pydantic"))
    notes["postgresql"] = (psql(ctx, "SHOW server_version") + ", shared_buffers=" + psql(ctx, "SHOW shared_buffers")
                           + ", fsync=" + psql(ctx, "SHOW fsync") + ", synchronous_commit="
                           + psql(ctx, "SHOW synchronous_commit"))
    if "commit" in notes:
        notes["kringkas"] = f"commit {notes['commit']} (--git-ref {ctx.args.git_ref}, exported)"
        return
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         check=False)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "api", "domain", "migrations"],
                           capture_output=True, text=True, check=False)
    notes["kringkas"] = "work tree at " + git.stdout.strip() + (
        " with uncommitted changes in api/, domain/ or migrations/" if dirty.stdout.strip() else "")


def report(ctx: Ctx, started: float) -> str:
    args = ctx.args
    lines = [f"# Spaarkring books benchmark, {ctx.notes['date']}" + (" (--quick)" if args.quick else ""), ""]
    for key in ("cpu", "python", "postgresql", "kringkas"):
        lines.append(f"- {key}: {ctx.notes[key]}")
    lines.append(f"- whole run {time.monotonic() - started:.0f} s; load average at the end {os.getloadavg()[0]:.1f}; "
                 "others' CPU: what processes outside this benchmark used during a point, in % of one core")
    lines.append("")
    sections = [("deposits", report_deposits), ("sync", report_sync), ("balances", report_balances),
                ("verify", report_verify), ("share_out", report_share_out)]
    for key, make in sections:
        if key in ctx.results:
            section = make(ctx)
            if f"others {key}" in ctx.notes:
                section[0] += f" (others used {ctx.notes[f'others {key}']} CPU meanwhile)"
            lines += section + [""]
    if "diagnose" in ctx.results:
        lines += report_diagnose(ctx) + [""]
    if ctx.results.get("profiles"):
        lines += report_profiles(ctx) + [""]
    lines += ["## Targets", "", "| part | target | result |", "|---|---|---|"]
    if "deposits_met" in ctx.results:
        lines.append(f"| 1 | deposits ≥ 50 % of the bare INSERT's req/s and p95 ≤ 2× at c = "
                     f"{', '.join(map(str, args.concurrency))} | {yes(ctx.results['deposits_met'])} |")
    if "sync_met" in ctx.results:
        lines.append(f"| 2 | sync < ¼ of the meeting in single requests | {yes(ctx.results['sync_met'])} |")
    if "balances_met" in ctx.results:
        ok, same = ctx.results["balances_met"]
        lines.append(f"| 3 | balances < 2× the raw GROUP BY (timed in-process, no HTTP) | {yes(ok)} |")
        r = ctx.results["balances"]
        lines.append(f"| 3 | balances < 2× the raw GROUP BY served over the same HTTP stack | "
                     f"{yes(med(r['http']) < 2 * med(r['bare_raw']))} |")
        lines.append(f"| 3 | balances' statements independent of the number of members | {yes(same)} |")
    if "share_met" in ctx.results:
        p, f = ctx.results["share_met"]
        lines.append(f"| 5 | share-out statements independent of the number of members | preview {yes(p)}, "
                     f"finalise {yes(f)} |")
    if ctx.sql:
        lines += ["", "## Appendix: the SQL statements of one request", "",
                  "What SQLAlchemy sent (before_cursor_execute); the pool's pre-ping, BEGIN and COMMIT come on top.", ""]
        for name, statements in ctx.sql.items():
            lines += [f"<details><summary>{name}: {len(statements)} statements</summary>", "", "```"]
            lines += [f"{i + 1:>3}. {s}" for i, s in enumerate(statements)]
            lines += ["```", "</details>", ""]
    if "balances_plan" in ctx.results:
        lines += ["<details><summary>EXPLAIN (ANALYZE, BUFFERS) of the raw balances query</summary>", "", "```"]
        lines += ctx.results["balances_plan"] + ["```", "</details>", ""]
    return "\n".join(lines) + "\n"


PARTS = ["deposits", "sync", "balances", "verify", "share-out"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Kringkas spaarkring books benchmark: see bench/books_README.md")
    parser.add_argument("--quick", action="store_true", help="every part, smaller and shorter (about 3 minutes)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--seconds", type=float, help="length of a wrk point (default 10; --quick 3)")
    parser.add_argument("--warmup", type=float, help="wrk warm-up before each point (default 2; --quick 1)")
    parser.add_argument("--repeat", type=int, help="rounds of the wrk points; the best of each is reported "
                        "(default 2; --quick 1)")
    parser.add_argument("--concurrency", default="1,4,16", help="wrk connection counts (default 1,4,16)")
    parser.add_argument("--bulk-groups", type=int, help="bulk-loaded cycles of ~2,000 entries (default 500 = "
                        "1,000,000 entries; --quick 50)")
    parser.add_argument("--quiet-below", type=float, default=0, metavar="PCT",
                        help="on a shared machine: before each measured point or part wait until other processes use "
                        "less than PCT%% of one core (default 0: don't wait)")
    parser.add_argument("--quiet-wait", type=float, default=120, help="give up waiting after this many s (default 120)")
    parser.add_argument("--db", default="kk_bench_books", help="database to create and drop (default kk_bench_books)")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place at the end")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--git-ref", help="measure Kringkas as of this commit (exported with git archive) instead of "
                        "the work tree, e.g. HEAD while others edit the tree")
    parser.add_argument("--no-lean", dest="lean", action="store_false", help="leave out the lean deposit "
                        "(bench/books_lean.py: the same rules in 4 statements, for comparison)")
    parser.add_argument("--profile", action="store_true", help="also profile the server with py-spy (pip install "
                        "py-spy) during extra, unmeasured runs of the deposits and balances, and summarise where "
                        "its CPU goes")
    parser.add_argument("--pg-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    args = parser.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds if args.seconds is not None else (3 if quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 2)
    args.repeat = args.repeat if args.repeat is not None else (1 if quick else 2)
    args.bulk_groups = args.bulk_groups if args.bulk_groups is not None else (50 if quick else 500)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := [p for p in args.parts if p not in PARTS]:
        parser.error(f"unknown parts: {', '.join(unknown)}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.db):
        parser.error("--db: lower-case letters, digits and _ only")
    args.deposit_groups = 64
    args.sync_meetings, args.sync_warmup = (12, 2) if quick else (50, 3)
    args.balance_samples = 60 if quick else 300
    args.verify_runs = 3 if quick else 10
    args.share_runs = 5 if quick else 20
    args.share_domain_runs = 2 if quick else 5
    args.diagnose_runs = 5 if quick else 20
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
    for tool in ("wrk", "psql"):
        if shutil.which(tool) is None:
            raise SystemExit(f"books: {tool} is missing (Debian: apt-get install -y wrk postgresql-client)")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    atexit.register(_stop_children)
    started = time.monotonic()
    user, host, port = args.pg_user, args.pg_host, args.pg_port
    with tempfile.TemporaryDirectory(prefix="kk-books-") as tmp:
        ctx = Ctx(args=args, db=args.db, url=f"postgresql+asyncpg://{user}@{host}:{port}/{args.db}",
                  dsn=f"postgresql://{user}@{host}:{port}/{args.db}", tmp=Path(tmp), secret=secrets.token_urlsafe(36))
        try:
            if args.git_ref:
                commit = export_ref(args.git_ref, ctx.tmp / "src", "books")
                ctx.source = ctx.tmp / "src"
                sys.path.insert(0, str(ctx.source))  # the in-process parts import that Kringkas too
                ctx.notes["commit"] = commit
                log(f"measuring Kringkas as of {args.git_ref} ({commit}), exported to {ctx.source}")
            describe_machine(ctx)
            log(f"creating database {args.db}; kringkas migrate")
            psql(ctx, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            psql(ctx, f'CREATE DATABASE "{args.db}"')
            migrate = subprocess.run([*kringkas_cmd(ctx), "migrate"], env=kringkas_env(ctx), cwd=ctx.source,
                                     capture_output=True, text=True, check=False)
            if migrate.returncode != 0:
                raise SystemExit(f"books: kringkas migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
            log("building the kringen through the domain functions")
            t0 = time.monotonic()
            asyncio.run(setup_world(ctx))
            log(f"  built in {time.monotonic() - t0:.0f} s")
            if {"balances", "verify"} & set(args.parts):
                log(f"bulk-loading {args.bulk_groups} cycles of ~2,000 entries and one of 10,000 (COPY, 2 processes)")
                bulk_load(ctx)
            log("VACUUM ANALYZE")
            psql(ctx, "VACUUM ANALYZE", db=args.db)
            start_servers(ctx)
            if "deposits" in args.parts:
                log("part 1: deposits/s against the bare INSERT")
                part_deposits(ctx)
            if "sync" in args.parts:
                log("part 2: a 12-member sync against single requests")
                wait_for_quiet(ctx)
                watch = CpuWatch(ctx.db)
                part_sync(ctx)
                ctx.notes["others sync"] = f"{watch.stop():.0f}%"
                asyncio.run(count_sync_and_singles(ctx))
            if "balances" in args.parts:
                log("part 3: balances over the big ledger")
                wait_for_quiet(ctx)
                watch = CpuWatch(ctx.db)
                asyncio.run(part_balances(ctx))
                ctx.notes["others balances"] = f"{watch.stop():.0f}%"
                asyncio.run(count_balances(ctx))
            if "verify" in args.parts:
                log("part 4: verifying a 10,000-entry chain")
                wait_for_quiet(ctx)
                watch = CpuWatch(ctx.db)
                asyncio.run(part_verify(ctx))
                ctx.notes["others verify"] = f"{watch.stop():.0f}%"
            if "share-out" in args.parts:
                log("part 5: share-out preview and finalise")
                wait_for_quiet(ctx)
                watch = CpuWatch(ctx.db)
                part_share_out(ctx)
                ctx.notes["others share_out"] = f"{watch.stop():.0f}%"
                asyncio.run(count_share_out(ctx))
            if {"balances", "verify"} & set(args.parts) and "share-out" in args.parts:
                asyncio.run(part_diagnose(ctx))
        finally:
            _stop_children()
            if not args.keep_db:
                try:
                    psql(ctx, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
                    log(f"dropped database {args.db}")
                except SystemExit as problem:
                    log(str(problem))
        text = report(ctx, started)
        if args.output:
            args.output.write_text(text)
        print(text, end="")


if __name__ == "__main__":
    main()
