from __future__ import annotations

import pytest

from domain import errors, meetings
from domain.ledger import cash_expected
from domain.models import utcnow
from tests.kring import Kring
from tests.world import World


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world)


async def test_a_meeting_from_open_to_close_adds_up_to_the_cent(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    for member, amount in [(kring.amina, 1250), (kring.bram, 500), (kring.dewi, 4999)]:
        await kring.deposit(meeting_id, member, amount)
    meeting = await kring.close(meeting_id, 6749)
    assert meeting.expected_cash_cents == 6749
    assert meeting.discrepancy_cents == 0


async def test_a_short_box_is_recorded_as_a_negative_discrepancy_and_never_booked_away(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    await kring.deposit(meeting_id, kring.amina, 1000)
    meeting = await kring.close(meeting_id, 900)
    assert meeting.discrepancy_cents == -100
    async with kring.sessionmaker() as db:
        assert await cash_expected(db, kring.cycle_id) == 1000


async def test_a_deposit_before_the_presentielijst_is_signed_is_refused(kring: Kring) -> None:
    meeting_id = await kring.open_meeting(sign=False)
    with pytest.raises(errors.NotSigned):
        await kring.deposit(meeting_id, kring.amina, 1000)


async def test_a_deposit_counted_by_someone_who_is_not_a_geldteller_is_refused(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    async with kring.sessionmaker() as db:
        with pytest.raises(errors.CounterNotGeldteller):
            await meetings.record_deposit(db, kring.world.actor("admin"), meeting_id, meetings.Deposit(
                kring.amina, 1000, kring.eva, (kring.dewi, kring.bram)), entry_id=None, now=utcnow())
