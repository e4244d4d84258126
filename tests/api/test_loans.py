"""Loans decided by the group and the share-out, through HTTP."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from domain import cycles
from domain.models import InterestDistribution, LedgerEntry
from tests.kring import RULES, Kring
from tests.parallel import parallel
from tests.world import World


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world, planned_meetings=6)


def headers(kring: Kring) -> dict[str, str]:
    return kring.world.auth("begeleider_a")


async def call(kring: Kring, path: str, body: dict[str, Any]) -> Any:
    return await kring.world.client.post(path, json=body, headers=headers(kring))


def money(kring: Kring, borrower: UUID, meeting: UUID, **extra: Any) -> dict[str, Any]:
    counter = kring.counter_for(borrower)
    witnesses = [str(x) for x in kring.witnesses_for(borrower)]
    return {"meeting_id": str(meeting), "counted_by_member_id": str(counter), "witness_member_ids": witnesses, **extra}


async def savings(kring: Kring, meeting: UUID, amount: int = 2000) -> None:
    for member in kring.everyone:
        await kring.deposit(meeting, member, amount)


async def request(kring: Kring, borrower: UUID, amount: int, term: int = 2) -> Any:
    return await call(kring, f"/api/v1/cycles/{kring.cycle_id}/loans",
                      {"member_id": str(borrower), "amount_cents": amount, "term_meetings": term})


def votes(kring: Kring, borrower: UUID, vote: str = "for") -> list[dict[str, str]]:
    return [{"member_id": str(m), "vote": vote} for m in kring.everyone if m != borrower]


async def test_a_loan_lives_from_request_to_repaid_through_http(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await savings(kring, meeting)
    loan = (await request(kring, kring.bram, 4000)).json()
    assert loan["status"] == "requested"
    decided = await call(kring, f"/api/v1/loans/{loan['id']}/decision",
                         {"meeting_id": str(meeting), "votes": votes(kring, kring.bram), "interest_rate_bp": 250})
    assert (decided.json()["status"], decided.json()["interest_cents"]) == ("approved", 100)
    paid = await call(kring, f"/api/v1/loans/{loan['id']}/disbursement", money(kring, kring.bram, meeting))
    assert (paid.status_code, paid.json()["status"], paid.json()["due_meeting_no"]) == (201, "disbursed", 3)
    back = await call(kring, f"/api/v1/loans/{loan['id']}/repayments", money(kring, kring.bram, meeting, amount_cents=4100))
    assert back.status_code == 201
    assert [(e["kind"], e["amount_cents"]) for e in back.json()["entries"]] == [("repayment_interest", 100),
                                                                               ("repayment_principal", 4000)]
    final = (await kring.world.client.get(f"/api/v1/loans/{loan['id']}", headers=headers(kring))).json()
    assert (final["status"], final["outstanding_cents"], len(final["votes"])) == ("repaid", 0, 4)
    balances = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/balances", headers=headers(kring))).json()
    assert balances["cash_expected_cents"] == 10_100
    assert {m["loan_outstanding_cents"] for m in balances["members"]} == {0}


async def test_balances_show_what_is_outstanding_on_a_loan(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await savings(kring, meeting)
    loan = (await request(kring, kring.eva, 3000)).json()
    await call(kring, f"/api/v1/loans/{loan['id']}/decision", {"meeting_id": str(meeting), "votes": votes(kring, kring.eva)})
    await call(kring, f"/api/v1/loans/{loan['id']}/disbursement", money(kring, kring.eva, meeting))
    await call(kring, f"/api/v1/loans/{loan['id']}/repayments", money(kring, kring.eva, meeting, amount_cents=100))
    balances = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/balances", headers=headers(kring))).json()
    eva = next(m for m in balances["members"] if m["member_id"] == str(kring.eva))
    assert (eva["loan_outstanding_cents"], eva["interest_due_cents"]) == (3000, 50)  # 150 interest, 100 paid


async def test_each_loan_refusal_answers_its_own_code(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await savings(kring, meeting)
    over_multiple = await request(kring, kring.bram, 6001)
    over_term = await request(kring, kring.bram, 1000, term=5)
    loan = (await request(kring, kring.bram, 1000)).json()
    second = await request(kring, kring.bram, 500)
    self_vote = await call(kring, f"/api/v1/loans/{loan['id']}/decision", {"meeting_id": str(meeting), "votes": [
        {"member_id": str(kring.bram), "vote": "for"}]})
    approved = await call(kring, f"/api/v1/loans/{loan['id']}/decision",
                          {"meeting_id": str(meeting), "votes": votes(kring, kring.bram)})
    assert approved.json()["status"] == "approved"
    assert [(r.status_code, r.json()["code"]) for r in (over_multiple, over_term, second, self_vote)] == [
        (422, "loan.over_multiple"), (422, "loan.term_too_long"), (409, "loan.already_open"), (422, "loan.self_vote")]
    await call(kring, f"/api/v1/loans/{loan['id']}/disbursement", money(kring, kring.bram, meeting))
    over_repayment = await call(kring, f"/api/v1/loans/{loan['id']}/repayments",
                                money(kring, kring.bram, meeting, amount_cents=1051))
    assert (over_repayment.status_code, over_repayment.json()["code"]) == (422, "loan.overpayment")


async def test_a_vote_from_someone_absent_is_refused(kring: Kring) -> None:
    meeting = await kring.open_meeting(sign=False)
    await kring.world.client.put(f"/api/v1/meetings/{meeting}/attendance", headers=headers(kring), json={"entries": [
        {"member_id": str(m), "status": "absent" if m == kring.dewi else "present"} for m in kring.everyone]})
    await call(kring, f"/api/v1/meetings/{meeting}/attendance/sign", {"signed_by_member_id": str(kring.bram)})
    await kring.deposit(meeting, kring.bram, 2000)
    loan = (await request(kring, kring.bram, 1000)).json()
    response = await call(kring, f"/api/v1/loans/{loan['id']}/decision",
                          {"meeting_id": str(meeting), "votes": votes(kring, kring.bram)})
    assert (response.status_code, response.json()["code"]) == (422, "loan.voter_not_present")


async def test_the_borrower_can_not_record_the_decision_on_their_own_loan(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await savings(kring, meeting)
    loan = (await request(kring, kring.amina, 1000)).json()  # Amina, the boekhouder, borrows
    response = await kring.world.client.post(f"/api/v1/loans/{loan['id']}/decision", headers=kring.world.auth("member"),
                                             json={"meeting_id": str(meeting), "votes": votes(kring, kring.amina)})
    assert (response.status_code, response.json()["code"]) == (403, "loan.borrower_may_not_decide")


async def test_a_loan_is_rejected_without_more_than_half_for(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await savings(kring, meeting)
    loan = (await request(kring, kring.bram, 1000)).json()
    split = [{"member_id": str(m), "vote": v} for m, v in zip(
        [kring.amina, kring.chris, kring.dewi, kring.eva], ["for", "for", "against", "abstain"], strict=True)]
    response = await call(kring, f"/api/v1/loans/{loan['id']}/decision", {"meeting_id": str(meeting), "votes": split})
    assert response.json()["status"] == "rejected"


async def test_a_disbursement_larger_than_the_cash_in_the_box_is_refused(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await kring.deposit(meeting, kring.bram, 2000)
    await kring.deposit(meeting, kring.eva, 500)
    loan = (await request(kring, kring.bram, 5000)).json()
    await call(kring, f"/api/v1/loans/{loan['id']}/decision", {"meeting_id": str(meeting), "votes": votes(kring, kring.bram)})
    response = await call(kring, f"/api/v1/loans/{loan['id']}/disbursement", money(kring, kring.bram, meeting))
    assert (response.status_code, response.json()["code"]) == (409, "loan.not_enough_cash")


async def test_a_saving_only_cycle_refuses_loans_and_pays_out_each_members_own_savings(world: World) -> None:
    rules = cycles.CycleRules(500, 5000, 0, 0, 0, InterestDistribution.PRO_RATA)
    kring = await Kring.build(world, rules=rules, planned_meetings=2)
    first = await kring.open_meeting(1)
    await kring.deposit(first, kring.amina, 1200)
    await kring.deposit(first, kring.bram, 800)
    refused = await request(kring, kring.bram, 500)
    assert (refused.status_code, refused.json()["code"]) == (422, "loan.loans_disabled")
    await kring.close(first, 2000)
    last = await kring.open_meeting(2, opening_cash_cents=2000)
    done = await call(kring, f"/api/v1/cycles/{kring.cycle_id}/share-out", {"meeting_id": str(last)})
    assert done.status_code == 201
    assert {m["member_id"]: m["payout_cents"] for m in done.json()["members"]} == {
        str(kring.amina): 1200, str(kring.bram): 800}


async def _cycle_with_interest(kring: Kring) -> tuple[UUID, UUID]:
    first = await kring.open_meeting(1)
    for member, amount in zip(kring.everyone, [5000, 3000, 2000, 1000, 999], strict=True):
        await kring.deposit(first, member, amount)
    loan = (await request(kring, kring.eva, 2000, term=1)).json()
    await call(kring, f"/api/v1/loans/{loan['id']}/decision",
               {"meeting_id": str(first), "votes": votes(kring, kring.eva), "interest_rate_bp": 5005})
    await call(kring, f"/api/v1/loans/{loan['id']}/disbursement", money(kring, kring.eva, first))
    return first, UUID(loan["id"])


async def test_the_share_out_is_refused_while_a_loan_is_outstanding(kring: Kring) -> None:
    first, _ = await _cycle_with_interest(kring)
    await kring.close(first, 10_000 - 1)
    last = await kring.open_meeting(6, opening_cash_cents=9999)
    response = await call(kring, f"/api/v1/cycles/{kring.cycle_id}/share-out", {"meeting_id": str(last)})
    assert (response.status_code, response.json()["code"]) == (409, "share_out.loan_outstanding")


async def test_the_share_out_pays_out_exactly_the_cash_and_its_sheet_stays_the_same(kring: Kring) -> None:
    first, loan = await _cycle_with_interest(kring)
    await call(kring, f"/api/v1/loans/{loan}/repayments", money(kring, kring.eva, first, amount_cents=3001))
    await kring.close(first, 13_000)
    last = await kring.open_meeting(6, opening_cash_cents=13_000)
    preview = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/share-out", headers=headers(kring))).json()
    assert preview["interest_pool_cents"] == 1001 and preview["totals"]["payout_cents"] == 13_000
    done = await call(kring, f"/api/v1/cycles/{kring.cycle_id}/share-out", {"meeting_id": str(last)})
    assert done.status_code == 201 and done.json()["members"] == preview["members"]
    sheet = await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/share-out/sheet", headers=headers(kring))
    again = await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/share-out/sheet", headers=headers(kring))
    assert sheet.status_code == 200 and sheet.json() == again.json()
    assert sheet.json()["sheet"]["totals"]["payout_cents"] == 13_000
    closing = await call(kring, f"/api/v1/meetings/{last}/close", {"closing_cash_cents": 0})
    assert closing.json()["totals"]["discrepancy_cents"] == 0  # the box is empty, as the books say
    cycle = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}", headers=headers(kring))).json()
    assert cycle["status"] == "closed"


async def test_two_parallel_finalises_write_one_share_out(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    await savings(kring, first, 1000)
    await kring.close(first, 5000)
    last = await kring.open_meeting(6, opening_cash_cents=5000)
    path = f"/api/v1/cycles/{kring.cycle_id}/share-out"
    responses = await parallel(kring.world, [("POST", path, {"meeting_id": str(last)}, headers(kring))] * 2)
    assert sorted(r.status_code for r in responses) == [200, 201]
    async with kring.sessionmaker() as db:
        paid = (await db.execute(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind == "share_out_savings"))).scalar_one()
    assert paid == 5


async def test_a_leaver_with_a_loan_outstanding_is_refused_and_one_without_is_paid_out(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await savings(kring, meeting)
    loan = (await request(kring, kring.bram, 1000)).json()
    await call(kring, f"/api/v1/loans/{loan['id']}/decision", {"meeting_id": str(meeting), "votes": votes(kring, kring.bram)})
    await call(kring, f"/api/v1/loans/{loan['id']}/disbursement", money(kring, kring.bram, meeting))
    group = kring.world.groups["a"]
    refused = await call(kring, f"/api/v1/groups/{group}/members/{kring.bram}/leave", {"left_on": "2026-01-05"})
    assert (refused.status_code, refused.json()["code"]) == (409, "member.loan_outstanding")
    left = await call(kring, f"/api/v1/groups/{group}/members/{kring.eva}/leave", {"left_on": "2026-01-05"})
    assert left.status_code == 200
    payout = await call(kring, f"/api/v1/meetings/{meeting}/exit-payouts", {
        "member_id": str(kring.eva), "counted_by_member_id": str(kring.chris),
        "witness_member_ids": [str(kring.dewi), str(kring.amina)], "id": str(uuid4())})
    assert (payout.status_code, payout.json()["amount_cents"]) == (201, 2000)


def test_the_test_rules_allow_loans_of_three_times_savings() -> None:
    assert (RULES.max_loan_multiple, RULES.max_loan_term_meetings) == (3, 4)


async def test_a_sync_carries_loan_requests_decisions_payouts_and_repayments_all_or_nothing(kring: Kring) -> None:
    meeting = kring.meeting_ids[1]
    loan_id = str(uuid4())
    body = {
        "opening_cash_cents": 0,
        "attendance": [{"member_id": str(m), "status": "present"} for m in kring.everyone],
        "attendance_signed_by_member_id": str(kring.bram),
        "deposits": [{**kring.deposit_body(m, 2000), "id": str(uuid4())} for m in kring.everyone],
        "loan_requests": [{"id": loan_id, "member_id": str(kring.eva), "amount_cents": 3000, "term_meetings": 2}],
        "loan_decisions": [{"loan_id": loan_id, "votes": votes(kring, kring.eva)}],
        "disbursements": [{"id": str(uuid4()), "loan_id": loan_id, "counted_by_member_id": str(kring.chris),
                           "witness_member_ids": [str(kring.dewi), str(kring.bram)]}],
        "repayments": [{"id": str(uuid4()), "loan_id": loan_id, "amount_cents": 3151, "counted_by_member_id":
                        str(kring.chris), "witness_member_ids": [str(kring.dewi), str(kring.bram)]}],
        "closing_cash_cents": 10_150,
    }
    refused = await call(kring, f"/api/v1/meetings/{meeting}/sync", body)  # repays 1 cent too much
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "repayments[0].amount_cents")
    async with kring.sessionmaker() as db:
        assert (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == 0
    body["repayments"][0]["amount_cents"] = 3150
    done = await call(kring, f"/api/v1/meetings/{meeting}/sync", body)
    again = await call(kring, f"/api/v1/meetings/{meeting}/sync", body)
    assert (done.status_code, again.status_code) == (200, 200), done.text
    assert done.json()["totals"]["discrepancy_cents"] == 0
    loan = (await kring.world.client.get(f"/api/v1/loans/{loan_id}", headers=headers(kring))).json()
    assert (loan["status"], loan["outstanding_cents"]) == ("repaid", 0)
    async with kring.sessionmaker() as db:
        assert (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == 5 + 1 + 2
