"""The soak's checker: holds the database against what the phones were told, after the run.

    .venv/bin/python -m bench.soak.check --run-dir /tmp/kk-soak-…                # the run's database
    .venv/bin/python -m bench.soak.check --run-dir DIR --dsn postgresql://postgres@127.0.0.1:5433/kk_soak \\
        --base-url http://127.0.0.1:8000                                          # also through the API

It reads the run directory (setup.json, journal.jsonl, requests.jsonl, events.json) and proves, each as one
check with its counter-examples:

1. acknowledged writes: every write a phone was answered 2xx for is in the database, as sent;
2. syncs all or nothing: every acknowledged sync is there whole; a sync never acknowledged is there whole
   or not at all; no meeting of an offline phone is left open;
3. nothing twice: every ledger entry and loan of the soak's cycles is one a phone made (its client id),
   and every meeting holds exactly the deposits its phone planned;
4. chains: every cycle's hash chain verifies (domain.books.verify; and GET …/ledger/verify with --base-url);
5. balances: per member saved, loan outstanding and interest due, and the box's cash expected, are equal
   three ways: raw SQL sums over ledger_entries and loans, the balances the app serves (GET …/balances with
   --base-url, else domain.books.balances), and the journal's acknowledged writes;
6. what the phones saw: every answer was a 2xx, or 503 `database.unavailable` during the PostgreSQL
   outage, or a lost connection at the worker kill, or 409 `idempotency.in_progress` /
   `idempotency.outcome_unknown` on the retry of an attempt that met one of those faults. No 500, ever.
   Also: the phones' own checks (balances after every meeting, discrepancy 0 at every close) found nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

CASH_IN = ("deposit", "repayment_principal", "repayment_interest")
OUTAGE_GRACE = 5.0  # s after /health is ok again (or PostgreSQL started) in which a 503 still counts as the outage's
KILL_WINDOW = (-0.5, 5.0)  # s around the kill in which a lost connection counts as the killed worker's
FAULT_CODES = {"idempotency.in_progress", "idempotency.outcome_unknown"}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass  # a line cut off by a run that died
    return rows


def flat_interest(principal: int, rate_bp: int = 500) -> int:
    return (principal * rate_bp + 5_000) // 10_000


def principal_entry_id(entry_id: str) -> str:
    from domain.loans import principal_entry_id as derive

    return str(derive(UUID(entry_id)))


class Check:
    def __init__(self, name: str) -> None:
        self.name, self.failures, self.notes, self.count = name, [], [], 0

    def fail(self, what: Any) -> None:
        self.failures.append(what)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "checked": self.count, "failures": self.failures[:20],
                "failures_total": len(self.failures), "notes": self.notes}


# --- what the database holds ---------------------------------------------------------------------
class Db:
    async def load(self, conn: asyncpg.Connection, cycle_ids: list[str]) -> None:
        ids = [UUID(c) for c in cycle_ids]
        self.entries = {str(r["id"]): r for r in await conn.fetch(
            "SELECT id, cycle_id, meeting_id, member_id, kind, amount_cents, loan_id, reverses_id FROM ledger_entries "
            "WHERE cycle_id = ANY($1::uuid[])", ids)}
        self.meetings = {str(r["id"]): r for r in await conn.fetch(
            "SELECT id, cycle_id, meeting_no, status, opening_cash_cents, signed_by_member_id, closing_cash_cents, "
            "discrepancy_cents FROM meetings WHERE cycle_id = ANY($1::uuid[])", ids)}
        self.attendance: dict[str, dict[str, str]] = defaultdict(dict)
        for r in await conn.fetch("SELECT a.meeting_id, a.member_id, a.status FROM attendance a JOIN meetings m "
                                  "ON m.id = a.meeting_id WHERE m.cycle_id = ANY($1::uuid[])", ids):
            self.attendance[str(r["meeting_id"])][str(r["member_id"])] = r["status"]
        self.loans = {str(r["id"]): r for r in await conn.fetch(
            "SELECT l.*, (SELECT count(*) FROM loan_votes v WHERE v.loan_id = l.id) AS votes FROM loans l "
            "WHERE l.cycle_id = ANY($1::uuid[])", ids)}
        self.sums = await conn.fetch(
            """SELECT cycle_id, member_id,
                 COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'deposit'), 0)
                   - COALESCE(SUM(amount_cents) FILTER (WHERE kind IN ('exit_payout', 'share_out_savings')), 0) AS saved,
                 COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'loan_disbursement'), 0)
                   - COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'repayment_principal'), 0) AS outstanding,
                 COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'repayment_interest'), 0) AS interest_paid,
                 SUM(CASE WHEN kind IN ('deposit', 'repayment_principal', 'repayment_interest') THEN amount_cents
                          ELSE -amount_cents END) AS cash
               FROM ledger_entries WHERE cycle_id = ANY($1::uuid[]) GROUP BY cycle_id, member_id""", ids)
        self.interest_charged = {(str(r["cycle_id"]), str(r["member_id"])): int(r["charged"]) for r in await conn.fetch(
            "SELECT cycle_id, member_id, SUM(interest_cents) AS charged FROM loans WHERE cycle_id = ANY($1::uuid[]) "
            "AND status IN ('disbursed', 'overdue', 'repaid') GROUP BY cycle_id, member_id", ids)}

    # one item of a write, present as sent?
    def entry(self, entry_id: str, kind: str, member: str, amount: int, meeting: str, loan: str | None = None) -> bool:
        e = self.entries.get(entry_id)
        return e is not None and (e["kind"], str(e["member_id"]), e["amount_cents"], str(e["meeting_id"])) == (
            kind, member, amount, meeting) and (loan is None or str(e["loan_id"]) == loan)

    def repayment(self, entry_id: str, loan: str, amount: int, meeting: str) -> bool:
        parts = [self.entries.get(i) for i in (entry_id, principal_entry_id(entry_id))]
        parts = [e for e in parts if e is not None]
        return bool(parts) and all(str(e["loan_id"]) == loan and str(e["meeting_id"]) == meeting and e["kind"] in (
            "repayment_interest", "repayment_principal") for e in parts) and sum(e["amount_cents"] for e in parts) == amount

    def repayment_absent(self, entry_id: str) -> bool:
        return entry_id not in self.entries and principal_entry_id(entry_id) not in self.entries


def sync_items(db: Db, body: dict[str, Any], meeting_id: str) -> list[tuple[str, bool, bool]]:
    """(item, present as sent, absent) for every item of a planned sync."""
    meeting = db.meetings.get(meeting_id)
    attendance = db.attendance.get(meeting_id, {})
    items = [
        ("opening", meeting is not None and meeting["opening_cash_cents"] == body["opening_cash_cents"]
         and meeting["status"] in ("open", "closed"), meeting is None or meeting["status"] == "planned"),
        ("attendance", all(attendance.get(a["member_id"]) == a["status"] for a in body["attendance"]), not attendance),
        ("signature", meeting is not None and str(meeting["signed_by_member_id"]) == body["attendance_signed_by_member_id"],
         meeting is None or meeting["signed_by_member_id"] is None),
    ]
    for d in body["deposits"]:
        items.append((f"deposit {d['id']}", db.entry(d["id"], "deposit", d["member_id"], d["amount_cents"], meeting_id),
                      d["id"] not in db.entries))
    for x in body.get("loan_requests", []):
        loan = db.loans.get(x["id"])
        items.append((f"loan {x['id']}", loan is not None and (str(loan["member_id"]), loan["principal_cents"]) == (
            x["member_id"], x["amount_cents"]), loan is None))
    for x in body.get("loan_decisions", []):
        loan = db.loans.get(x["loan_id"])
        items.append((f"decision {x['loan_id']}", loan is not None and str(loan["decided_meeting_id"]) == meeting_id
                      and loan["votes"] == len(x["votes"]), loan is None or loan["decided_meeting_id"] is None))
    for x in body.get("disbursements", []):
        loan = db.loans.get(x["loan_id"])
        amount = loan["principal_cents"] if loan is not None else -1
        member = str(loan["member_id"]) if loan is not None else ""
        items.append((f"disbursement {x['id']}", db.entry(x["id"], "loan_disbursement", member, amount, meeting_id,
                                                          x["loan_id"]), x["id"] not in db.entries))
    for x in body.get("repayments", []):
        items.append((f"repayment {x['id']}", db.repayment(x["id"], x["loan_id"], x["amount_cents"], meeting_id),
                      db.repayment_absent(x["id"])))
    items.append(("close", meeting is not None and meeting["status"] == "closed"
                  and meeting["closing_cash_cents"] == body["closing_cash_cents"],
                  meeting is None or meeting["status"] != "closed"))
    return items


def check_acknowledged(db: Db, acks: list[dict[str, Any]], planned: dict[str, dict[str, Any]]) -> Check:
    check = Check("every acknowledged write is in the database")
    for a in acks:
        op, mid = a["op"], a.get("meeting_id", "")
        meeting = db.meetings.get(mid)
        if op == "sync_planned":
            continue
        check.count += 1
        if op == "open":
            ok = meeting is not None and meeting["opening_cash_cents"] == a["opening_cash_cents"] and \
                meeting["status"] in ("open", "closed")
        elif op == "attendance":
            ok = all(db.attendance.get(mid, {}).get(m) == "present" for m in a["present"])
        elif op == "sign":
            ok = meeting is not None and str(meeting["signed_by_member_id"]) == a["member_id"]
        elif op == "deposit":
            ok = db.entry(a["entry_id"], "deposit", a["member_id"], a["amount_cents"], mid)
        elif op == "loan_request":
            loan = db.loans.get(a["loan_id"])
            ok = loan is not None and (str(loan["member_id"]), loan["principal_cents"]) == (a["member_id"], a["amount_cents"])
        elif op == "decision":
            loan = db.loans.get(a["loan_id"])
            ok = loan is not None and str(loan["decided_meeting_id"]) == mid and loan["votes"] == a["votes"] and \
                loan["status"] in ("approved", "disbursed", "repaid", "overdue")
        elif op == "disbursement":
            ok = db.entry(a["entry_id"], "loan_disbursement", a["member_id"], a["amount_cents"], mid, a["loan_id"])
        elif op == "repayment":
            ok = db.repayment(a["entry_id"], a["loan_id"], a["amount_cents"], mid)
        elif op == "close":
            ok = meeting is not None and meeting["status"] == "closed" and \
                meeting["closing_cash_cents"] == a["closing_cash_cents"]
        elif op == "sync":
            plan = planned[a["sync_key"]]
            missing = [name for name, present, _ in sync_items(db, plan["body"], mid) if not present]
            ok = not missing
            if missing:
                check.fail({"op": "sync", "meeting_id": mid, "missing": missing[:10]})
                continue
        else:
            continue
        if not ok:
            check.fail(a)
    return check


def check_syncs(db: Db, planned: dict[str, dict[str, Any]], acked: set[str], offline_meetings: set[str]) -> Check:
    check = Check("no sync is half-written (all or nothing)")
    unacked_whole = unacked_none = 0
    for key, plan in planned.items():
        check.count += 1
        items = sync_items(db, plan["body"], plan["meeting_id"])
        whole = all(present for _, present, _ in items)
        nothing = all(absent for _, _, absent in items)
        if key in acked:
            if not whole:
                check.fail({"sync": key, "meeting_id": plan["meeting_id"], "acknowledged": True,
                            "missing": [n for n, p, _ in items if not p][:10]})
        elif whole:
            unacked_whole += 1
        elif nothing:
            unacked_none += 1
        else:
            check.fail({"sync": key, "meeting_id": plan["meeting_id"], "acknowledged": False,
                        "present": [n for n, p, _ in items if p][:10], "missing": [n for n, p, _ in items if not p][:10]})
    left_open = [m for m in offline_meetings if db.meetings.get(m) is not None and db.meetings[m]["status"] == "open"]
    for m in left_open:
        check.fail({"meeting_id": m, "problem": "an offline phone's meeting is open: a sync applied in part"})
    check.notes.append(f"{len(acked)} syncs acknowledged; of the {len(planned) - len(acked)} never acknowledged, "
                       f"{unacked_whole} are there whole and {unacked_none} not at all")
    return check


def check_nothing_twice(db: Db, acks: list[dict[str, Any]], planned: dict[str, dict[str, Any]]) -> Check:
    check = Check("nothing written twice or by nobody")
    known_entries: set[str] = set()
    known_loans: set[str] = set()
    deposits_per_meeting: dict[str, int] = Counter()
    for a in acks:
        if a["op"] in ("deposit", "disbursement"):
            known_entries.add(a["entry_id"])
        elif a["op"] == "repayment":
            known_entries |= {a["entry_id"], principal_entry_id(a["entry_id"])}
        elif a["op"] == "loan_request":
            known_loans.add(a["loan_id"])
        if a["op"] == "deposit":
            deposits_per_meeting[a["meeting_id"]] += 1
    for plan in planned.values():
        body = plan["body"]
        known_entries |= {d["id"] for d in body["deposits"]} | {x["id"] for x in body.get("disbursements", [])}
        known_entries |= {i for x in body.get("repayments", []) for i in (x["id"], principal_entry_id(x["id"]))}
        known_loans |= {x["id"] for x in body.get("loan_requests", [])}
        deposits_per_meeting[plan["meeting_id"]] = len(body["deposits"])
    check.count = len(db.entries) + len(db.loans)
    for entry_id, e in db.entries.items():
        if entry_id not in known_entries:
            check.fail({"ledger_entry": entry_id, "kind": e["kind"], "meeting_id": str(e["meeting_id"])})
    for loan_id in db.loans:
        if loan_id not in known_loans:
            check.fail({"loan": loan_id})
    held: dict[str, int] = Counter(str(e["meeting_id"]) for e in db.entries.values() if e["kind"] == "deposit")
    for meeting_id, n in held.items():
        if n > deposits_per_meeting.get(meeting_id, 0):
            check.fail({"meeting_id": meeting_id, "deposits": n, "planned": deposits_per_meeting.get(meeting_id, 0)})
    return check


def journal_books(acks: list[dict[str, Any]], planned: dict[str, dict[str, Any]], cycle_of_meeting: dict[str, str],
                  kringen: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The books as the phones were told they are: from acknowledged writes only."""
    books: dict[str, dict[str, Any]] = {k["cycle_id"]: {"members": {m: [0, 0, 0] for m in k["members"]}, "cash": 0,
                                                         "loans": {}} for k in kringen}
    loan_member: dict[str, tuple[str, str, int]] = {}  # loan -> cycle, member, principal

    def deposit(cycle: str, member: str, amount: int) -> None:
        books[cycle]["members"][member][0] += amount
        books[cycle]["cash"] += amount

    def disburse(loan: str) -> None:
        cycle, member, principal = loan_member[loan]
        books[cycle]["loans"][loan] = {"member": member, "principal": principal, "interest": flat_interest(principal),
                                       "repaid": 0}
        books[cycle]["cash"] -= principal

    def repay(loan: str, amount: int) -> None:
        cycle = loan_member[loan][0]
        books[cycle]["loans"][loan]["repaid"] += amount
        books[cycle]["cash"] += amount

    for a in acks:
        op = a["op"]
        if op == "deposit":
            deposit(cycle_of_meeting[a["meeting_id"]], a["member_id"], a["amount_cents"])
        elif op == "loan_request":
            cycle = next(k["cycle_id"] for k in kringen if a["member_id"] in k["members"])
            loan_member[a["loan_id"]] = (cycle, a["member_id"], a["amount_cents"])
        elif op == "disbursement":
            disburse(a["loan_id"])
        elif op == "repayment":
            repay(a["loan_id"], a["amount_cents"])
        elif op == "sync":
            plan = planned[a["sync_key"]]
            cycle, body = plan["cycle_id"], plan["body"]
            for d in body["deposits"]:
                deposit(cycle, d["member_id"], d["amount_cents"])
            for x in body.get("loan_requests", []):
                loan_member[x["id"]] = (cycle, x["member_id"], x["amount_cents"])
            for x in body.get("disbursements", []):
                disburse(x["loan_id"])
            for x in body.get("repayments", []):
                repay(x["loan_id"], x["amount_cents"])
    for cycle in books.values():
        for loan in cycle["loans"].values():
            line = cycle["members"][loan["member"]]
            interest_paid = min(loan["repaid"], loan["interest"])
            line[1] += loan["principal"] - (loan["repaid"] - interest_paid)
            line[2] += loan["interest"] - interest_paid
    return books


async def served_books(cycle_ids: list[str], setup: dict[str, Any], base_url: str | None,
                       token: str | None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Balances and chain verification as the app gives them: over HTTP, or through the domain functions."""
    balances: dict[str, Any] = {}
    chains: dict[str, Any] = {}
    if base_url and token:
        async with httpx.AsyncClient(base_url=base_url, timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            for cycle_id in cycle_ids:
                b = (await http.get(f"/api/v1/cycles/{cycle_id}/balances")).json()
                balances[cycle_id] = {"cash": b["cash_expected_cents"], "members": {
                    x["member_id"]: [x["saved_cents"], x["loan_outstanding_cents"], x["interest_due_cents"]]
                    for x in b["members"]}}
                chains[cycle_id] = (await http.get(f"/api/v1/cycles/{cycle_id}/ledger/verify")).json()
        return balances, chains, "GET /api/v1/cycles/{id}/balances and …/ledger/verify"
    from domain import books
    from domain.access import Actor
    from domain.database import make_engine, make_sessionmaker
    from domain.models import Role

    engine = make_engine(setup["dsn_sqlalchemy"], pool_size=2)
    actor = Actor(UUID(setup["admin_id"]), UUID(setup["organisation_id"]), Role.ADMIN)
    try:
        async with make_sessionmaker(engine)() as db:
            for cycle_id in cycle_ids:
                b = await books.balances(db, actor, UUID(cycle_id))
                balances[cycle_id] = {"cash": b.cash_expected_cents, "members": {
                    str(x.member_id): [x.saved_cents, x.loan_outstanding_cents, x.interest_due_cents] for x in b.members}}
                report = await books.verify(db, actor, UUID(cycle_id))
                chains[cycle_id] = {"ok": report.ok, "entries": report.entries,
                                    "first_bad_entry_id": str(report.first_bad_entry_id or "") or None}
    finally:
        await engine.dispose()
    return balances, chains, "domain.books.balances and domain.books.verify"


def classify(attempt: dict[str, Any], events: dict[str, Any]) -> str:
    """expected: what the faults explain; unexpected: anything else. The label says which."""
    s, t = attempt["s"], attempt["t"]
    end = t + attempt.get("ms", 0) / 1000
    if 200 <= s < 300:
        return "ok"
    stop = events.get("pg_stop_issued")
    back = events.get("health_ok_again_at") or events.get("pg_started")
    in_outage = stop is not None and back is not None and end >= stop - 0.5 and t <= back + OUTAGE_GRACE
    kill = events.get("kill_at")
    at_kill = kill is not None and end >= kill + KILL_WINDOW[0] and t <= kill + KILL_WINDOW[1]
    if s == 503 and attempt.get("code") == "database.unavailable":
        return "expected: 503 during the PostgreSQL outage" if in_outage else "UNEXPECTED: 503 outside the outage"
    if s == 0:
        if at_kill:
            return f"expected: connection lost at the worker kill ({attempt.get('err')})"
        return f"UNEXPECTED: {attempt.get('err')}" + (" during the outage" if in_outage else "")
    if s == 409 and attempt.get("code") in FAULT_CODES and attempt.get("after_fault"):
        return f"expected: 409 {attempt['code']} on the retry of an attempt that met a fault"
    if s == 401 and attempt.get("code") == "auth.token_expired":
        return "expected: 401 token expired (logged in again)"
    return f"UNEXPECTED: {s} {attempt.get('code') or ''}".strip()


def check_answers(requests: list[dict[str, Any]], events: dict[str, Any], phones: list[dict[str, Any]]) -> Check:
    check = Check("the only errors were the faults' (503 in the outage, lost connections at the kill)")
    labels: Counter[str] = Counter()
    for r in requests:
        label = classify(r, events)
        labels[label] += 1
        check.count += 1
        if label.startswith("UNEXPECTED"):
            check.fail({k: r.get(k) for k in ("t", "c", "op", "n", "s", "code", "err")})
    check.notes.append(dict(labels))
    for p in phones:
        for x in p.get("unexpected", []):
            check.notes.append({"client": p["client"], **x})
        if p.get("stopped_by") and p["stopped_by"].startswith("unexpected"):
            check.fail({"client": p["client"], "stopped_by": p["stopped_by"]})
    return check


async def check(dsn: str, run_dir: Path, base_url: str | None = None) -> dict[str, Any]:
    setup = json.loads((run_dir / "setup.json").read_text())
    setup["dsn_sqlalchemy"] = "postgresql+asyncpg://" + dsn.split("://", 1)[1]
    acks = read_jsonl(run_dir / "journal.jsonl")
    requests = read_jsonl(run_dir / "requests.jsonl")
    meta = json.loads((run_dir / "events.json").read_text()) if (run_dir / "events.json").exists() else {}
    events = meta.get("events", {})
    phones = json.loads((run_dir / "phones.json").read_text()) if (run_dir / "phones.json").exists() else []
    kringen = setup["kringen"]
    cycle_ids = [k["cycle_id"] for k in kringen]
    cycle_of_meeting = {m: k["cycle_id"] for k in kringen for m in k["meetings"]}
    planned = {a["sync_key"]: a for a in acks if a["op"] == "sync_planned"}
    acked_syncs = {a["sync_key"] for a in acks if a["op"] == "sync"}
    offline_meetings = {m for k in kringen if k["offline"] for m in k["meetings"]}

    db = Db()
    conn = await asyncpg.connect(dsn)
    try:
        await db.load(conn, cycle_ids)
    finally:
        await conn.close()

    checks = [check_acknowledged(db, acks, planned), check_syncs(db, planned, acked_syncs, offline_meetings),
              check_nothing_twice(db, acks, planned)]

    token = None
    if base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            login = await http.post("/api/v1/auth/login", json={"email": setup["admin_email"],
                                                                "password": setup["admin_password"]})
            token = login.json().get("access_token") if login.status_code == 200 else None
    served, chains, how = await served_books(cycle_ids, setup, base_url, token)

    chain_check = Check(f"every cycle's hash chain verifies ({how.split(' and ')[-1]})")
    for cycle_id, report in chains.items():
        chain_check.count += 1
        if not report.get("ok"):
            chain_check.fail({"cycle_id": cycle_id, **report})
    chain_check.notes.append(f"{sum(r.get('entries', 0) for r in chains.values())} entries in {len(chains)} chains")
    checks.append(chain_check)

    balance_check = Check(f"balances: raw SQL over the ledger = {how.split(' and ')[0]} = the journal")
    raw: dict[str, dict[str, Any]] = {c: {"cash": 0, "members": {}} for c in cycle_ids}
    for r in db.sums:
        cycle, member = str(r["cycle_id"]), str(r["member_id"])
        charged = db.interest_charged.get((cycle, member), 0)
        raw[cycle]["members"][member] = [int(r["saved"]), int(r["outstanding"]), charged - int(r["interest_paid"])]
        raw[cycle]["cash"] += int(r["cash"])
    told = journal_books(acks, planned, cycle_of_meeting, kringen)
    for k in kringen:
        cycle = k["cycle_id"]
        for member in k["members"]:
            balance_check.count += 1
            three = (raw[cycle]["members"].get(member, [0, 0, 0]), served[cycle]["members"].get(member),
                     told[cycle]["members"][member])
            if not (three[0] == three[1] == three[2]):
                balance_check.fail({"cycle_id": cycle, "member_id": member, "raw_sql": three[0], "served": three[1],
                                    "journal": three[2]})
        balance_check.count += 1
        cash = (raw[cycle]["cash"], served[cycle]["cash"], told[cycle]["cash"])
        if not (cash[0] == cash[1] == cash[2]):
            balance_check.fail({"cycle_id": cycle, "cash_expected": {"raw_sql": cash[0], "served": cash[1],
                                                                     "journal": cash[2]}})
    closed = [m for m in db.meetings.values() if m["status"] == "closed"]
    off = [str(m["id"]) for m in closed if m["discrepancy_cents"] != 0]
    if off:
        balance_check.fail({"meetings closed with a discrepancy": off[:10]})
    balance_check.notes.append(f"{len(closed)} meetings closed, all with discrepancy 0" if not off else
                               f"{len(off)} of {len(closed)} closed meetings have a discrepancy")
    checks.append(balance_check)

    phone_check = Check("the phones' own checks (balances after every meeting, discrepancy 0 at every close)")
    for p in phones:
        phone_check.count += p.get("meetings", 0)
        for m in p.get("mismatches", []):
            phone_check.fail({"client": p["client"], **m})
    checks.append(phone_check)
    checks.append(check_answers(requests, events, phones))

    lost = checks[0].failures
    return {"ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks], "lost": len(lost),
            "acknowledged_writes": checks[0].count, "ledger_entries": len(db.entries), "loans": len(db.loans),
            "meetings_closed": len(closed), "syncs_planned": len(planned), "syncs_acknowledged": len(acked_syncs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak.check", description="Check a soak run's database "
                                     "against its journal (see bench/soak/README.md)")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5433/kk_soak")
    parser.add_argument("--base-url", help="also read balances and chain verification through this running server")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.run_dir / "src") if (args.run_dir / "src").exists() else ".")
    verdict = asyncio.run(check(args.dsn, args.run_dir, args.base_url))
    for c in verdict["checks"]:
        print(f"{'PASS' if c['ok'] else 'FAIL'}  {c['name']}  ({c['checked']} checked"
              + (f", {c['failures_total']} failed" if not c["ok"] else "") + ")")
        for failure in c["failures"][:5]:
            print(f"        {json.dumps(failure, default=str)[:300]}")
        for note in c["notes"][:5]:
            print(f"        note: {json.dumps(note, default=str)[:300]}")
    print(f"lost acknowledged writes: {verdict['lost']}; verdict: {'PASS' if verdict['ok'] else 'FAIL'}")
    raise SystemExit(0 if verdict["ok"] else 1)


if __name__ == "__main__":
    main()
