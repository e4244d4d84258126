"""A lean deposit, for comparison only: the same rules as Kringkas's POST /api/v1/meetings/{id}/deposits
without Kringkas's middleware, dependency injection, ORM session and pydantic models, and no pool pre-ping.
Not Kringkas: a measuring stick for bench/books.py, to show what the deposit endpoint could cost on the same
stack (Litestar 2, SQLAlchemy 2 async, asyncpg, one uvicorn worker) with nothing around its statements.

    1. the caller: users row by the token's subject
    2. SELECT the cycle FOR UPDATE, through the meeting, scoped to the caller's organisation
                                  (Kringkas reads the caller's row in this same statement: 1 and 2 are one)
    3. one SELECT of everything the rules need, read after the lock: meeting status and signature,
       who is present, the role slates, the member's deposits at this meeting so far, an entry with the
       client id if there is one                                          (Kringkas: one UNION)
    4. INSERT the entry and UPDATE the cycle's chain head in one statement (a CTE)   (Kringkas: the same)
Same checks (domain.ledger.check_witnessed, check_deposit_total, holders_at), same hash chain
(domain.ledger.chain_hash), same JWT verification (api.auth.TokenService). Answers only the admin role
(enough for the benchmark); a rule broken answers 422 with the domain's code, a replay 200.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/kk_bench_books KRINGKAS_SECRET_KEY=... \
    python bench/books_lean.py --port 8200
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from api.auth import TokenService, bearer_token
from api.settings import Settings
from domain import errors as e
from domain.cycles import Assignment, holders_at
from domain.ledger import MeetingFacts, Witnessed, chain_hash, check_deposit_total, check_witnessed
from domain.models import CycleRole, CycleStatus, MeetingStatus, utcnow

USER = text("SELECT organisation_id, role, is_active FROM users WHERE id = :id")
LOCK = text("""
SELECT c.id, c.entry_count, c.head_hash, c.status, c.min_deposit_cents, c.max_deposit_cents, c.min_witnesses
FROM cycles c
WHERE c.id = (SELECT m.cycle_id FROM meetings m WHERE m.id = :meeting
              AND m.group_id IN (SELECT g.id FROM groups g WHERE g.organisation_id = :org))
FOR UPDATE
""")
FACTS = text("""
SELECT m.status, m.signed_at IS NOT NULL AS signed, m.meeting_no,
       ARRAY(SELECT a.member_id FROM attendance a
             WHERE a.meeting_id = m.id AND a.status IN ('present', 'late')) AS present,
       (SELECT json_agg(json_build_array(r.member_id, r.role, r.from_meeting_no))
          FROM role_assignments r WHERE r.cycle_id = m.cycle_id) AS roles,
       (SELECT coalesce(sum(e.amount_cents), 0) FROM ledger_entries e
         WHERE e.meeting_id = m.id AND e.member_id = :member AND e.kind = 'deposit') AS already,
       (SELECT json_build_array(e.meeting_id, e.kind, e.member_id, e.amount_cents, e.counted_by_member_id,
                                e.witness_member_ids, e.seq, e.hash)
          FROM ledger_entries e WHERE e.id = :entry) AS earlier
FROM meetings m WHERE m.id = :meeting
""")
APPEND = text("""
WITH entry AS (
  INSERT INTO ledger_entries (id, cycle_id, seq, meeting_id, member_id, kind, amount_cents, counted_by_member_id,
                              witness_member_ids, loan_id, reverses_id, reason, recorded_by, recorded_at, prev_hash,
                              hash)
  VALUES (:id, :cycle, :seq, :meeting, :member, 'deposit', :amount, :counter, CAST(:witnesses AS json), NULL, NULL,
          NULL, :user, :at, :prev, :hash)
  RETURNING seq, hash
)
UPDATE cycles SET entry_count = entry.seq, head_hash = entry.hash FROM entry WHERE cycles.id = :cycle
""")


@dataclass
class DepositIn:
    member_id: UUID
    amount_cents: int
    counted_by_member_id: UUID
    witness_member_ids: list[UUID]
    id: UUID | None = None


class _Entry:
    __slots__ = ("id", "cycle_id", "seq", "meeting_id", "member_id", "kind", "amount_cents", "counted_by_member_id",
                 "witness_member_ids", "loan_id", "reverses_id", "reason", "recorded_by", "recorded_at")


def _problem(error: e.DomainError, status: int = 422) -> Response[dict[str, Any]]:
    return Response({"code": error.code, **error.params}, status_code=status)


@post("/api/v1/meetings/{meeting_id:uuid}/deposits", status_code=201)
async def deposit(meeting_id: UUID, data: DepositIn, request: Request[Any, Any, Any],
                  state: State) -> Response[dict[str, Any]]:
    try:
        claims = state.tokens.read(bearer_token(request.headers.get("authorization")))
    except e.DomainError as error:
        return _problem(error, 401)
    entry_id = data.id or uuid4()
    witnesses = sorted(str(w) for w in data.witness_member_ids)
    async with state.engine.connect() as conn, conn.begin():
        user = (await conn.execute(USER, {"id": claims.user_id})).one_or_none()
        if user is None or not user.is_active or user.role != "admin":
            return _problem(e.TokenInvalid(), 401)
        cycle = (await conn.execute(LOCK, {"meeting": meeting_id, "org": user.organisation_id})).one_or_none()
        if cycle is None:
            return _problem(e.ResourceNotFound(), 404)
        facts = (await conn.execute(FACTS, {"meeting": meeting_id, "member": data.member_id, "entry": entry_id})).one()
        if facts.earlier is not None:
            m, kind, member, amount, counter, earlier_witnesses, seq, digest = facts.earlier
            if (m, kind, member, amount, counter, sorted(earlier_witnesses)) != (
                    str(meeting_id), "deposit", str(data.member_id), data.amount_cents,
                    str(data.counted_by_member_id), witnesses):
                return _problem(e.IdReused(id=str(entry_id)), 409)
            return Response({"id": str(entry_id), "seq": seq, "hash": digest}, status_code=200)
        try:
            if cycle.status == CycleStatus.CLOSED:
                raise e.CycleClosed()
            holders = holders_at([Assignment(UUID(r[0]), CycleRole(r[1]), r[2]) for r in facts.roles or []],
                                 facts.meeting_no)
            check_witnessed(MeetingFacts(MeetingStatus(facts.status), facts.signed, frozenset(facts.present),
                                         holders[CycleRole.GELDTELLER], cycle.min_witnesses),
                            Witnessed(data.member_id, data.counted_by_member_id, tuple(data.witness_member_ids)))
            check_deposit_total(int(facts.already), data.amount_cents, cycle.min_deposit_cents,
                                cycle.max_deposit_cents)
        except e.DomainError as error:
            return _problem(error)
        entry = _Entry()
        entry.id, entry.cycle_id, entry.seq, entry.meeting_id = entry_id, cycle.id, cycle.entry_count + 1, meeting_id
        entry.member_id, entry.kind, entry.amount_cents = data.member_id, "deposit", data.amount_cents
        entry.counted_by_member_id, entry.witness_member_ids = data.counted_by_member_id, witnesses
        entry.loan_id = entry.reverses_id = entry.reason = None
        entry.recorded_by, entry.recorded_at = claims.user_id, utcnow()
        digest = chain_hash(cycle.head_hash, entry)
        await conn.execute(APPEND, {
            "id": entry_id, "cycle": cycle.id, "seq": entry.seq, "meeting": meeting_id, "member": data.member_id,
            "amount": data.amount_cents, "counter": data.counted_by_member_id, "witnesses": json.dumps(witnesses),
            "user": claims.user_id, "at": entry.recorded_at, "prev": cycle.head_hash, "hash": digest})
    return Response({
        "id": str(entry_id), "cycle_id": str(cycle.id), "seq": entry.seq, "meeting_id": str(meeting_id),
        "member_id": str(data.member_id), "kind": "deposit", "amount_cents": data.amount_cents,
        "counted_by_member_id": str(data.counted_by_member_id), "witness_member_ids": witnesses, "loan_id": None,
        "reverses_id": None, "reason": None, "recorded_by": str(claims.user_id),
        "recorded_at": entry.recorded_at.isoformat(), "hash": digest}, status_code=201)


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(database_url: str, secret_key: str) -> Litestar:
    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        engine = create_async_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=False)
        app.state.engine = engine
        try:
            yield
        finally:
            await engine.dispose()

    settings = Settings(secret_key=secret_key, database_url=database_url)
    return Litestar(route_handlers=[deposit, health], lifespan=[database],
                    state=State({"tokens": TokenService(settings)}), openapi_config=None, debug=False)


def app_from_env() -> Litestar:
    return create_app(os.environ["DATABASE_URL"], os.environ["KRINGKAS_SECRET_KEY"])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    args = parser.parse_args()
    print(f"books_lean: serving on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app_from_env, factory=True, host=args.host, port=args.port, workers=1,
                log_level="info", proxy_headers=False)


if __name__ == "__main__":
    main()
