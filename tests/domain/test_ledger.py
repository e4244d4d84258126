from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from domain import books, errors, meetings
from domain.ledger import check_deposit_total, check_witnessed, MeetingFacts, Witnessed
from domain.models import MeetingStatus, utcnow
from tests.kring import Kring
from tests.world import World
from uuid import uuid4


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world)


async def test_the_database_refuses_to_update_a_ledger_entry(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    entry_id = await kring.deposit(meeting_id, kring.amina, 1000)
    async with kring.sessionmaker() as db:
        with pytest.raises(DBAPIError, match="append-only"):
            await db.execute(text("UPDATE ledger_entries SET amount_cents = 1 WHERE id = :id"),
                             {"id": entry_id.hex if "sqlite" in str(db.bind.url) else entry_id})


async def test_the_database_refuses_to_delete_a_ledger_entry(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    await kring.deposit(meeting_id, kring.amina, 1000)
    async with kring.sessionmaker() as db:
        with pytest.raises(DBAPIError, match="append-only"):
            await db.execute(text("DELETE FROM ledger_entries"))


async def test_a_tampered_entry_is_named_by_verify(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    await kring.deposit(meeting_id, kring.amina, 1000)
    tampered = await kring.deposit(meeting_id, kring.bram, 700)
    await kring.deposit(meeting_id, kring.dewi, 800)
    async with kring.sessionmaker() as db:
        sqlite = db.bind.dialect.name == "sqlite"
        # someone with database access goes around the trigger
        if sqlite:
            await db.execute(text("DROP TRIGGER ledger_entries_no_update"))
        else:
            await db.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update"))
        await db.execute(text("UPDATE ledger_entries SET amount_cents = 70 WHERE id = :id"),
                         {"id": tampered.hex if sqlite else tampered})
        await db.commit()
    async with kring.sessionmaker() as db:
        report = await books.verify(db, kring.world.actor("admin"), kring.cycle_id)
    assert not report.ok
    assert report.first_bad_entry_id == tampered


async def test_an_untouched_chain_verifies(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    for member in (kring.amina, kring.bram, kring.dewi):
        await kring.deposit(meeting_id, member, 600)
    async with kring.sessionmaker() as db:
        report = await books.verify(db, kring.world.actor("admin"), kring.cycle_id)
    assert (report.ok, report.entries, report.first_bad_entry_id) == (True, 3, None)


async def test_a_reversal_cancels_the_entry_and_an_entry_is_reversed_only_once(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    wrong = await kring.deposit(meeting_id, kring.amina, 5000)
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        reversal, created = await meetings.reverse_entry(db, admin, wrong, meeting_id, "50 euro in plaats van 5",
                                                         now=utcnow())
        await db.commit()
    assert created and reversal.amount_cents == -5000 and reversal.reverses_id == wrong
    async with kring.sessionmaker() as db:
        with pytest.raises(errors.EntryAlreadyReversed):
            await meetings.reverse_entry(db, admin, wrong, meeting_id, "nog eens", now=utcnow())
        with pytest.raises(errors.ReversalOfReversal):
            await meetings.reverse_entry(db, admin, reversal.id, meeting_id, "terug", now=utcnow())
    async with kring.sessionmaker() as db:
        balance = await books.balances(db, admin, kring.cycle_id)
    assert balance.cash_expected_cents == 0
    assert {m.member_id: m.saved_cents for m in balance.members}[kring.amina] == 0


async def test_a_mistake_fixed_by_a_later_reversal_stops_showing_as_a_discrepancy(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    double = await kring.deposit(first, kring.amina, 1000)
    await kring.deposit(first, kring.amina, 1000)  # written down twice, paid once
    meeting = await kring.close(first, 1000)
    assert meeting.discrepancy_cents == -1000
    second = await kring.open_meeting(2, opening_cash_cents=1000)
    admin = kring.world.actor("admin")
    async with kring.sessionmaker() as db:
        await meetings.reverse_entry(db, admin, double, second, "dubbel opgeschreven", now=utcnow())
        await db.commit()
    async with kring.sessionmaker() as db:
        outstanding = await meetings.outstanding_discrepancies(db, kring.cycle_id)
    assert outstanding[first] == 0


def test_witnesses_must_be_others_than_the_saver_and_the_counter() -> None:
    saver, counter, w1, w2 = uuid4(), uuid4(), uuid4(), uuid4()
    facts = MeetingFacts(MeetingStatus.OPEN, True, frozenset({saver, counter, w1, w2}), frozenset({counter}), 2)
    with pytest.raises(errors.WitnessIsParty):
        check_witnessed(facts, Witnessed(saver, counter, (saver, w1)))
    with pytest.raises(errors.WitnessesRequired):
        check_witnessed(facts, Witnessed(saver, counter, (w1,)))
    with pytest.raises(errors.WitnessesNotDistinct):
        check_witnessed(facts, Witnessed(saver, counter, (w1, w1)))
    with pytest.raises(errors.CounterIsOwner):
        check_witnessed(facts, Witnessed(counter, counter, (w1, w2)))
    check_witnessed(facts, Witnessed(saver, counter, (w1, w2)))


def test_a_members_total_at_one_meeting_stays_within_the_cycle_limits() -> None:
    check_deposit_total(0, 500, 500, 5000)
    check_deposit_total(4000, 1000, 500, 5000)
    with pytest.raises(errors.DepositOutOfLimits):
        check_deposit_total(4500, 501, 500, 5000)
    with pytest.raises(errors.DepositOutOfLimits):
        check_deposit_total(0, 499, 500, 5000)
