from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import func, select

from domain import books, errors, groups, loans, meetings, share_out
from domain.ledger import Witnessed, cash_expected
from domain.models import LedgerEntry, LoanStatus, utcnow
from tests.kring import Kring
from tests.world import World


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world, planned_meetings=6)


def everyone_for(kring: Kring, borrower: UUID) -> dict[UUID, str]:
    return {m: "for" for m in kring.everyone if m != borrower}


async def _lend(kring: Kring, meeting_id: UUID, borrower: UUID, amount: int, term: int = 2) -> UUID:
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        loan, _ = await loans.request_loan(db, admin, kring.cycle_id, loans.LoanRequest(borrower, amount, term),
                                           loan_id=None, now=utcnow())
        await loans.decide_loan(db, admin, loan.id, meeting_id, everyone_for(kring, borrower), None, utcnow())
        await loans.disburse(db, admin, loan.id, meeting_id, loans.CashMove(kring.chris, (kring.dewi, kring.eva)),
                             entry_id=None, now=utcnow())
        await db.commit()
    return loan.id


async def test_a_loan_is_voted_paid_out_repaid_interest_first_and_ends_repaid(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    for member in kring.everyone:
        await kring.deposit(first, member, 2000)
    loan_id = await _lend(kring, first, kring.amina, 5000)
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        view = await loans.view_loan(db, admin, loan_id)
        assert (view.loan.status, view.money.interest_cents, view.money.outstanding_cents, view.loan.due_meeting_no) \
            == (LoanStatus.DISBURSED, 250, 5250, 3)
        _, entries, _ = await loans.repay(db, admin, loan_id, first, 1000, loans.CashMove(kring.chris, (kring.dewi, kring.eva)),
                                          entry_id=None, now=utcnow())
        assert [(x.kind.value, x.amount_cents) for x in entries] == [("repayment_interest", 250),
                                                                       ("repayment_principal", 750)]
        await loans.repay(db, admin, loan_id, first, 4250, loans.CashMove(kring.chris, (kring.dewi, kring.eva)),
                          entry_id=None, now=utcnow())
        await db.commit()
    async with kring.sessionmaker() as db:
        view = await loans.view_loan(db, admin, loan_id)
        assert (view.loan.status, view.money.outstanding_cents) == (LoanStatus.REPAID, 0)
        assert await cash_expected(db, kring.cycle_id) == 10_250


async def test_the_borrower_can_not_vote_on_their_own_loan(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    await kring.deposit(first, kring.amina, 2000)
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        loan, _ = await loans.request_loan(db, admin, kring.cycle_id, loans.LoanRequest(kring.amina, 1000, 2),
                                           loan_id=None, now=utcnow())
        with pytest.raises(errors.BorrowerVotes):
            await loans.decide_loan(db, admin, loan.id, first, {kring.amina: "for", kring.bram: "for"}, None, utcnow())


async def test_a_loan_over_the_multiple_of_savings_is_refused(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    await kring.deposit(first, kring.amina, 1000)
    async with kring.sessionmaker() as db:
        with pytest.raises(errors.LoanOverMultiple):
            await loans.request_loan(db, kring.world.actor("admin"), kring.cycle_id,
                                     loans.LoanRequest(kring.amina, 3001, 2), loan_id=None, now=utcnow())


async def test_a_loan_not_repaid_by_its_due_meeting_becomes_overdue_and_blocks_the_share_out(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    for member in kring.everyone:
        await kring.deposit(first, member, 2000)
    loan_id = await _lend(kring, first, kring.bram, 3000, term=1)
    await kring.close(first, 7000)
    second = await kring.open_meeting(2, opening_cash_cents=7000)
    await kring.close(second, 7000)
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        assert (await loans.view_loan(db, admin, loan_id)).loan.status == LoanStatus.OVERDUE
    last = await kring.open_meeting(6, opening_cash_cents=7000)
    async with kring.sessionmaker() as db:
        with pytest.raises(errors.ShareOutLoanOutstanding):
            await share_out.finalise(db, admin, kring.cycle_id, last, utcnow())


async def test_the_share_out_empties_the_box_to_the_cent_and_a_second_finalise_writes_nothing(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    for member, amount in zip(kring.everyone, [1000, 2000, 3000, 700, 501], strict=True):
        await kring.deposit(first, member, amount)
    loan_id = await _lend(kring, first, kring.bram, 3333, term=1)  # 5% of 3333 = 166.65 → 167 cents
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        await loans.repay(db, admin, loan_id, first, 3333 + 167, loans.CashMove(kring.chris, (kring.dewi, kring.eva)),
                          entry_id=None, now=utcnow())
        await db.commit()
    await kring.close(first, 7368)
    last = await kring.open_meeting(6, opening_cash_cents=7368)
    async with kring.sessionmaker() as db:
        preview = await share_out.preview(db, admin, kring.cycle_id)
        record, created = await share_out.finalise(db, admin, kring.cycle_id, last, utcnow())
        await db.commit()
    assert created
    assert sum(x.payout_cents for x in preview.lines) == 7368
    assert record.sheet["lines"] == [
        {"member_id": str(x.member_id), "saved_cents": x.saved_cents, "weight": x.weight,
         "interest_share_cents": x.interest_share_cents, "payout_cents": x.payout_cents} for x in preview.lines]
    async with kring.sessionmaker() as db:
        assert await cash_expected(db, kring.cycle_id) == 0
        count = (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        again, created_again = await share_out.finalise(db, admin, kring.cycle_id, last, utcnow())
        await db.commit()
        assert not created_again and again.sheet_hash == record.sheet_hash
        assert (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == count


async def test_a_leaver_gets_their_savings_back_witnessed_and_no_interest(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    await kring.deposit(first, kring.eva, 1500)
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        await groups.leave(db, admin, kring.world.groups["a"], kring.eva, utcnow().date(), "verhuisd")
        entry, _ = await meetings.record_exit_payout(db, admin, first, kring.eva,
                                                     Witnessed(kring.eva, kring.chris, (kring.dewi, kring.bram)),
                                                     entry_id=None, now=utcnow())
        await db.commit()
    assert entry.amount_cents == 1500
    async with kring.sessionmaker() as db:
        balance = await books.balances(db, admin, kring.cycle_id)
        assert {m.member_id: m.saved_cents for m in balance.members}[kring.eva] == 0
        assert balance.cash_expected_cents == 0
        assert (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == 2
