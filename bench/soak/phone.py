"""One simulated boekhouder: a phone that holds the meetings of one spaarkring, one after another.

Online phones send every act as it happens (open, presentielijst, signature, deposits, a loan requested,
decided and paid out, repayments, close); offline phones record the whole meeting and send it as one
`POST /meetings/{id}/sync`. Every POST carries an Idempotency-Key and every create a client-made id, so a
request is simply sent again, unchanged, until the server acknowledges it (2xx):

- a connection error or timeout (the worker died, the answer was lost): same key, same body;
- 503 `database.unavailable`: same key, same body, after a back-off (at most Retry-After);
- 409 `idempotency.in_progress` (an earlier attempt holds the key's lease): same key, after a back-off;
- 409 `idempotency.outcome_unknown` (an earlier attempt committed, its answer was lost): a fresh key with
  the same body; the client-made ids make that harmless;
- 401: log in again, then the same request.

Anything else is an unexpected answer: it is recorded, a 500 is retried a few times, and a refusal stops
the phone (its model of the books can't be trusted any more). The phone keeps its own model of the books
(savings, the box, loans), checks the server's balances against it after every meeting, and writes every
acknowledged write to the journal, which the checker (bench/soak/check.py) holds against the database.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx

if TYPE_CHECKING:
    from bench.soak.faults import Faults

RATE_BP = 500  # flat interest on every loan, 5 %
TERM = 4  # meetings; repaid in two parts, two and three meetings after the disbursement
PROBLEM_JSON = "application/problem+json"


def flat_interest(principal: int, rate_bp: int = RATE_BP) -> int:
    return (principal * rate_bp + 5_000) // 10_000  # half up, as domain/loans.py


class Journal:
    """Append-only JSON lines, flushed line by line so a run that dies keeps what it had:
    journal.jsonl holds every write the server acknowledged (and every sync as planned, before it was
    first sent); requests.jsonl holds every HTTP attempt with its timing and outcome. Times are seconds
    since the start of the run (`clock`)."""

    def __init__(self, run_dir: Path, t0: float) -> None:
        self.t0 = t0
        self._acks = (run_dir / "journal.jsonl").open("a", buffering=1)
        self._requests = (run_dir / "requests.jsonl").open("a", buffering=1)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def ack(self, **record: Any) -> None:
        self._acks.write(json.dumps({"t": round(self.now(), 4), **record}, separators=(",", ":")) + "\n")

    def attempt(self, **record: Any) -> None:
        self._requests.write(json.dumps(record, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._acks.close()
        self._requests.close()


@dataclass
class Kring:
    """What the setup made for one phone (all ids as strings)."""

    client: int
    group_id: str
    cycle_id: str
    members: list[str]  # [voorzitter, boekhouder, geldteller, geldteller, others...]
    meetings: list[str]  # meetings[n - 1] is meeting n
    email: str
    password: str
    offline: bool


@dataclass
class LoanModel:
    id: str
    member: str
    principal: int
    interest: int
    repaid: int = 0

    @property
    def interest_paid(self) -> int:
        return min(self.repaid, self.interest)

    @property
    def outstanding(self) -> int:
        return self.principal - (self.repaid - self.interest_paid)

    @property
    def interest_due(self) -> int:
        return self.interest - self.interest_paid


@dataclass
class Act:
    """A witnessed cash movement of the plan."""

    id: str
    member: str
    amount: int
    counter: str
    witnesses: list[str]
    loan_id: str | None = None


@dataclass
class Plan:
    no: int
    meeting_id: str
    opening: int
    deposits: list[Act]
    loan: Act | None  # the loan requested, decided and paid out at this meeting (id = the loan's id)
    disbursement_id: str | None
    votes: dict[str, str]
    repayments: list[Act]
    closing: int


class Unexpected(Exception):
    """An answer the contract does not allow here: the phone stops."""


@dataclass
class Phone:
    kringen: list[Kring]  # held one after another: the next when a cycle's meetings run out
    base_url: str
    journal: Journal
    faults: Faults
    stop: asyncio.Event
    seed: int
    planned_meetings: int
    timeout: float = 30.0
    think: float = 0.0
    rng: random.Random = field(init=False)
    token: str = ""
    saved: dict[str, int] = field(default_factory=dict)
    cash: int = 0
    loans: dict[str, LoanModel] = field(default_factory=dict)
    repay_due: dict[int, list[tuple[str, int]]] = field(default_factory=dict)  # meeting no -> (loan, amount)
    next_no: int = 1
    meetings_done: int = 0
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str | None = None
    in_flight_sync: str | None = None  # the Idempotency-Key of a sync being sent, for the fault injector
    sent: int = 0
    http: httpx.AsyncClient = field(init=False)

    current: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.start_kring(0)

    @property
    def kring(self) -> Kring:
        return self.kringen[self.current]

    def start_kring(self, index: int) -> None:
        """A fresh cycle: an empty box, nothing saved, no loans, meeting 1 next."""
        self.current = index
        self.saved = {m: 0 for m in self.kring.members}
        self.cash, self.loans, self.repay_due, self.next_no = 0, {}, {}, 1

    # --- the roles of the meeting ---------------------------------------------------------------
    @property
    def voorzitter(self) -> str:
        return self.kring.members[0]

    def counter_and_witnesses(self, owner: str) -> tuple[str, list[str]]:
        m = self.kring.members
        counter = m[2] if owner != m[2] else m[3]
        others = [x for x in m[4:] + m[:2] if x not in (owner, counter)]
        return counter, others[:2]

    # --- the run ----------------------------------------------------------------------------------
    async def run(self) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, limits=limits) as http:
            self.http = http
            try:
                await self.login()
                last = self.planned_meetings - TERM - 2  # never open the last meeting: that starts the share-out
                while not self.stop.is_set():
                    if self.next_no > last:
                        if self.current + 1 == len(self.kringen):
                            self.stopped_by = f"ran out of planned meetings in its {len(self.kringen)} kringen"
                            break
                        self.start_kring(self.current + 1)
                    plan = self.plan(self.next_no)
                    if self.kring.offline:
                        await self.hold_offline(plan)
                    else:
                        await self.hold_online(plan)
                    self.apply(plan)
                    self.meetings_done += 1
                    self.next_no += 1
                    await self.check_balances()
            except Unexpected as problem:
                self.stopped_by = f"unexpected answer: {problem}"

    async def login(self) -> None:
        body = await self.call("login", "POST", "/api/v1/auth/login",
                               {"email": self.kring.email, "password": self.kring.password}, key=False)
        self.token = body["access_token"]

    # --- one request, sent until acknowledged -------------------------------------------------------
    async def call(self, op: str, method: str, path: str, body: Any = None, *, key: bool = True,
                   key_value: str | None = None) -> Any:
        idem = key_value or (str(uuid4()) if key and method == "POST" else None)
        first = self.journal.now()
        attempt = 0
        faulted = False  # an earlier attempt of this request met a fault (connection lost, 503)
        server_errors = 0
        while True:
            attempt += 1
            self.sent += 1
            rid = f"soak-{self.kring.client}-{self.sent}"
            headers = {"Accept-Language": "en", "X-Request-ID": rid}  # the server logs it: joins the two logs
            if self.token and op != "login":
                headers["Authorization"] = f"Bearer {self.token}"
            if idem:
                headers["Idempotency-Key"] = idem
            started = self.journal.now()
            record: dict[str, Any] = {"t": round(started, 4), "c": self.kring.client, "op": op, "n": attempt,
                                      "first": round(first, 4), "after_fault": faulted, "rid": rid}
            try:
                response = await self.http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as error:  # connection refused/reset/closed, or a timeout
                record.update(ms=round((self.journal.now() - started) * 1000, 2), s=0, err=type(error).__name__)
                self.journal.attempt(**record)
                faulted = True
                await self.back_off(attempt)
                continue
            elapsed = self.journal.now() - started
            problem: dict[str, Any] = {}
            if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
                try:
                    problem = response.json()
                except ValueError:
                    problem = {"code": "?unreadable"}
            record.update(ms=round(elapsed * 1000, 2), s=response.status_code)
            if problem:
                record["code"] = problem.get("code")
            if response.headers.get("idempotent-replayed"):
                record["replayed"] = True
            self.journal.attempt(**record)
            status, code = response.status_code, problem.get("code")
            if 200 <= status < 300:
                return response.json() if response.content else None
            if status == 503 and code == "database.unavailable":
                faulted = True
                await self.back_off(attempt, cap=float(response.headers.get("retry-after", 5)))
                continue
            if status == 409 and code == "idempotency.in_progress":
                await self.back_off(attempt, floor=0.5)
                continue
            if status == 409 and code == "idempotency.outcome_unknown":
                idem = str(uuid4())  # the first attempt committed; the client ids make a new key harmless
                continue
            if status == 401 and op != "login":
                await self.login()
                continue
            self.unexpected.append({"t": round(started, 3), "op": op, "path": path, "status": status,
                                    "problem": problem or response.text[:300], "attempt": attempt})
            if status >= 500 and server_errors < 5:
                server_errors += 1
                await self.back_off(attempt)
                continue
            raise Unexpected(f"{op} answered {status} {code or response.text[:200]}")

    async def back_off(self, attempt: int, cap: float = 2.0, floor: float = 0.05) -> None:
        delay = min(cap, max(floor, 0.1 * 2 ** min(attempt - 1, 6))) * self.rng.uniform(0.5, 1.0)
        await asyncio.sleep(delay)

    # --- the meeting, planned from the phone's own model of the books ---------------------------------
    def plan(self, no: int) -> Plan:
        m = self.kring.members
        deposits = []
        for member in m:
            counter, witnesses = self.counter_and_witnesses(member)
            deposits.append(Act(str(uuid4()), member, self.rng.randrange(500, 5_001, 50), counter, witnesses))
        in_box = self.cash + sum(d.amount for d in deposits)
        loan, disbursement_id, votes = None, None, {}
        open_borrowers = {x.member for x in self.loans.values() if x.outstanding or x.interest_due}
        candidates = [x for x in m[4:] if x not in open_borrowers]
        if no % 3 == 2 and candidates:
            borrower = self.rng.choice(candidates)
            saved_now = self.saved[borrower] + next(d.amount for d in deposits if d.member == borrower)
            amount = min(3 * saved_now, in_box, 30_000) // 100 * 100
            if amount >= 1_000:
                counter, witnesses = self.counter_and_witnesses(borrower)
                loan = Act(str(uuid4()), borrower, amount, counter, witnesses)
                disbursement_id = str(uuid4())
                votes = {x: "for" for x in m if x != borrower}
        repayments = []
        for loan_id, amount in self.repay_due.get(no, []):
            borrower = self.loans[loan_id].member
            counter, witnesses = self.counter_and_witnesses(borrower)
            repayments.append(Act(str(uuid4()), borrower, amount, counter, witnesses, loan_id))
        closing = in_box - (loan.amount if loan else 0) + sum(r.amount for r in repayments)
        return Plan(no, self.kring.meetings[no - 1], self.cash, deposits, loan, disbursement_id, votes, repayments,
                    closing)

    def apply(self, plan: Plan) -> None:
        for d in plan.deposits:
            self.saved[d.member] += d.amount
        if plan.loan:
            loan = plan.loan
            model = LoanModel(loan.id, loan.member, loan.amount, flat_interest(loan.amount))
            self.loans[loan.id] = model
            total = model.principal + model.interest
            first = total // 3
            self.repay_due.setdefault(plan.no + 2, []).append((loan.id, first))
            self.repay_due.setdefault(plan.no + 3, []).append((loan.id, total - first))
        for r in plan.repayments:
            assert r.loan_id is not None
            self.loans[r.loan_id].repaid += r.amount
        self.repay_due.pop(plan.no, None)
        self.cash = plan.closing

    # --- online: every act as it happens ---------------------------------------------------------------
    async def hold_online(self, plan: Plan) -> None:
        meeting = f"/api/v1/meetings/{plan.meeting_id}"
        j, mid = self.journal, plan.meeting_id
        c = self.kring.client
        await self.call("open", "POST", f"{meeting}/open", {"opening_cash_cents": plan.opening})
        j.ack(c=c, op="open", meeting_id=mid, opening_cash_cents=plan.opening)
        entries = [{"member_id": x, "status": "present"} for x in self.kring.members]
        await self.call("attendance", "PUT", f"{meeting}/attendance", {"entries": entries})
        j.ack(c=c, op="attendance", meeting_id=mid, present=self.kring.members)
        await self.call("sign", "POST", f"{meeting}/attendance/sign", {"signed_by_member_id": self.voorzitter})
        j.ack(c=c, op="sign", meeting_id=mid, member_id=self.voorzitter)
        for d in plan.deposits:
            await self.pause()
            await self.call("deposit", "POST", f"{meeting}/deposits", {
                "id": d.id, "member_id": d.member, "amount_cents": d.amount, "counted_by_member_id": d.counter,
                "witness_member_ids": d.witnesses})
            j.ack(c=c, op="deposit", meeting_id=mid, entry_id=d.id, member_id=d.member, amount_cents=d.amount)
        if plan.loan:
            loan = plan.loan
            await self.call("loan_request", "POST", f"/api/v1/cycles/{self.kring.cycle_id}/loans", {
                "id": loan.id, "member_id": loan.member, "amount_cents": loan.amount, "term_meetings": TERM})
            j.ack(c=c, op="loan_request", loan_id=loan.id, member_id=loan.member, amount_cents=loan.amount)
            decided = await self.call("decision", "POST", f"/api/v1/loans/{loan.id}/decision", {
                "meeting_id": mid, "votes": [{"member_id": x, "vote": v} for x, v in plan.votes.items()],
                "interest_rate_bp": RATE_BP})
            if decided.get("status") != "approved" or decided.get("interest_cents") != flat_interest(loan.amount):
                self.mismatches.append({"what": "decision", "loan_id": loan.id, "answer": decided})
            j.ack(c=c, op="decision", loan_id=loan.id, meeting_id=mid, votes=len(plan.votes))
            await self.call("disbursement", "POST", f"/api/v1/loans/{loan.id}/disbursement", {
                "id": plan.disbursement_id, "meeting_id": mid, "counted_by_member_id": loan.counter,
                "witness_member_ids": loan.witnesses})
            j.ack(c=c, op="disbursement", loan_id=loan.id, meeting_id=mid, entry_id=plan.disbursement_id,
                  member_id=loan.member, amount_cents=loan.amount)
        for r in plan.repayments:
            await self.call("repayment", "POST", f"/api/v1/loans/{r.loan_id}/repayments", {
                "id": r.id, "meeting_id": mid, "amount_cents": r.amount, "counted_by_member_id": r.counter,
                "witness_member_ids": r.witnesses})
            j.ack(c=c, op="repayment", loan_id=r.loan_id, meeting_id=mid, entry_id=r.id, member_id=r.member,
                  amount_cents=r.amount)
        closed = await self.call("close", "POST", f"{meeting}/close", {"closing_cash_cents": plan.closing})
        j.ack(c=c, op="close", meeting_id=mid, closing_cash_cents=plan.closing)
        self.check_closed(plan, closed)

    # --- offline: the whole meeting in one sync ----------------------------------------------------------
    def sync_body(self, plan: Plan) -> dict[str, Any]:
        body: dict[str, Any] = {
            "opening_cash_cents": plan.opening,
            "attendance": [{"member_id": x, "status": "present"} for x in self.kring.members],
            "attendance_signed_by_member_id": self.voorzitter,
            "deposits": [{"id": d.id, "member_id": d.member, "amount_cents": d.amount, "counted_by_member_id": d.counter,
                          "witness_member_ids": d.witnesses} for d in plan.deposits],
            "closing_cash_cents": plan.closing,
        }
        if plan.loan:
            loan = plan.loan
            body["loan_requests"] = [{"id": loan.id, "member_id": loan.member, "amount_cents": loan.amount,
                                      "term_meetings": TERM}]
            body["loan_decisions"] = [{"loan_id": loan.id, "interest_rate_bp": RATE_BP,
                                       "votes": [{"member_id": x, "vote": v} for x, v in plan.votes.items()]}]
            body["disbursements"] = [{"id": plan.disbursement_id, "loan_id": loan.id, "counted_by_member_id": loan.counter,
                                      "witness_member_ids": loan.witnesses}]
        if plan.repayments:
            body["repayments"] = [{"id": r.id, "loan_id": r.loan_id, "amount_cents": r.amount,
                                   "counted_by_member_id": r.counter, "witness_member_ids": r.witnesses}
                                  for r in plan.repayments]
        return body

    async def hold_offline(self, plan: Plan) -> None:
        await self.pause(8)  # the meeting itself, recorded on the phone
        body = self.sync_body(plan)
        key = str(uuid4())
        self.journal.ack(c=self.kring.client, op="sync_planned", sync_key=key, meeting_id=plan.meeting_id,
                         cycle_id=self.kring.cycle_id, body=body, acknowledged=False)
        victim = self.faults.take_victim(self, plan)
        if victim is not None:
            await victim  # the fault injector holds a lock this sync will wait on, and kills its worker
        self.in_flight_sync = key
        try:
            view = await self.call("sync", "POST", f"/api/v1/meetings/{plan.meeting_id}/sync", body, key_value=key)
        finally:
            self.in_flight_sync = None
        self.journal.ack(c=self.kring.client, op="sync", sync_key=key, meeting_id=plan.meeting_id)
        self.check_closed(plan, view)

    async def pause(self, times: int = 1) -> None:
        if self.think:
            await asyncio.sleep(self.rng.uniform(0, 2 * self.think * times))

    # --- the phone's model against the server's books --------------------------------------------------
    def check_closed(self, plan: Plan, view: dict[str, Any]) -> None:
        totals = view.get("totals", {})
        if view.get("status") != "closed" or totals.get("discrepancy_cents") != 0 \
                or len(view.get("deposits", [])) != len(plan.deposits):
            self.mismatches.append({"what": "closed meeting", "meeting_id": plan.meeting_id, "status": view.get("status"),
                                    "discrepancy_cents": totals.get("discrepancy_cents"),
                                    "deposits": len(view.get("deposits", []))})

    async def check_balances(self) -> None:
        books = await self.call("balances", "GET", f"/api/v1/cycles/{self.kring.cycle_id}/balances")
        server = {x["member_id"]: (x["saved_cents"], x["loan_outstanding_cents"], x["interest_due_cents"])
                  for x in books["members"]}
        mine = {m: (self.saved[m], sum(x.outstanding for x in self.loans.values() if x.member == m),
                    sum(x.interest_due for x in self.loans.values() if x.member == m)) for m in self.kring.members}
        if server != mine or books["cash_expected_cents"] != self.cash:
            self.mismatches.append({"what": "balances", "after_meeting": self.next_no - 1,
                                    "cash": [books["cash_expected_cents"], self.cash],
                                    "members": {m: [server.get(m), mine[m]] for m in mine if server.get(m) != mine[m]}})
