from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from domain import errors, meetings, sync
from domain.models import AttendanceStatus, LedgerEntry, Meeting, MeetingStatus, utcnow
from tests.kring import Kring
from tests.world import World


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world)


def batch(kring: Kring, deposits: list[tuple[UUID, UUID, int]], *, closing: int | None) -> sync.SyncBatch:
    return sync.SyncBatch(
        opening_cash_cents=0,
        attendance=[(m, AttendanceStatus.PRESENT) for m in kring.everyone],
        attendance_signed_by_member_id=kring.bram,
        deposits=[(entry_id, meetings.Deposit(member, amount, kring.counter_for(member), kring.witnesses_for(member)))
                  for entry_id, member, amount in deposits],
        closing=meetings.ClosingCount(closing) if closing is not None else None,
    )


async def _count_entries(kring: Kring) -> int:
    async with kring.sessionmaker() as db:
        return (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()


async def test_a_sync_that_fails_on_its_last_item_writes_nothing_at_all(kring: Kring) -> None:
    meeting_id = kring.meeting_ids[1]
    bad = batch(kring, [(uuid4(), kring.amina, 1000), (uuid4(), kring.bram, 1000), (uuid4(), kring.dewi, 99)],
                closing=2099)
    async with kring.sessionmaker() as db:
        with pytest.raises(errors.DepositOutOfLimits) as refused:
            await sync.apply_sync(db, kring.world.actor("admin"), meeting_id, bad, utcnow())
        await db.rollback()
    assert refused.value.params["path"] == "deposits[2].amount_cents"
    assert await _count_entries(kring) == 0
    async with kring.sessionmaker() as db:
        meeting = await db.get(Meeting, meeting_id)
        assert meeting is not None and meeting.status == MeetingStatus.PLANNED


async def test_the_same_sync_sent_twice_writes_once(kring: Kring) -> None:
    meeting_id = kring.meeting_ids[1]
    same = batch(kring, [(uuid4(), kring.amina, 1000), (uuid4(), kring.bram, 1500)], closing=2500)
    for _ in range(2):
        async with kring.sessionmaker() as db:
            await sync.apply_sync(db, kring.world.actor("admin"), meeting_id, same, utcnow())
            await db.commit()
    assert await _count_entries(kring) == 2
    async with kring.sessionmaker() as db:
        meeting = await db.get(Meeting, meeting_id)
        assert meeting is not None and (meeting.status, meeting.discrepancy_cents) == (MeetingStatus.CLOSED, 0)


async def test_a_sync_over_a_meeting_partly_recorded_online_merges_by_id(kring: Kring) -> None:
    meeting_id = await kring.open_meeting()
    online = await kring.deposit(meeting_id, kring.amina, 1000)
    offline = batch(kring, [(online, kring.amina, 1000), (uuid4(), kring.bram, 700)], closing=1700)
    async with kring.sessionmaker() as db:
        await sync.apply_sync(db, kring.world.actor("admin"), meeting_id, offline, utcnow())
        await db.commit()
    assert await _count_entries(kring) == 2
