"""Signals for begeleiders on hand-made histories."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import event

from domain import cycles, groups, loans, meetings, signals
from domain.models import AttendanceStatus, CycleRole, GroupKind, utcnow
from tests.kring import Kring
from tests.world import World

NOW = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)  # the day after meeting 8 of a cycle starting 5 January


async def new_kring(world: World, key: str, name: str) -> Kring:
    """Another spaarkring of organisation X, guided by begeleider A, with five members."""
    admin = world.actor("admin")
    async with world.sessionmaker() as db:
        group, _ = await groups.create_group(db, admin, groups.NewGroup(
            name, GroupKind.SPAARKRING, None, frozenset({world.users["begeleider_a"].id})))
        world.groups[key] = group.id
        for member in ("amina", "bram", "chris", "dewi", "eva"):
            made, _ = await groups.add_member(db, admin, group.id, groups.NewMember(
                f"{member.title()} {key}", None, date(2026, 1, 1)))
            world.members[f"{key}.{member}"] = made.id
        await db.commit()
    return await Kring.build(world, group=key, planned_meetings=10)


async def hold(kring: Kring, meeting_no: int, *, absent: tuple[UUID, ...] = (), deposit: int = 0,
               short: int = 0, opening: int = 0, signer: UUID | None = None) -> UUID:
    meeting_id = kring.meeting_ids[meeting_no]
    admin = kring.admin
    async with kring.sessionmaker() as db:
        await meetings.open_meeting(db, admin, meeting_id, opening, utcnow())
        await meetings.put_attendance(db, admin, meeting_id, [
            (m, AttendanceStatus.ABSENT if m in absent else AttendanceStatus.PRESENT) for m in kring.everyone], utcnow())
        await meetings.sign_presentielijst(db, admin, meeting_id, signer or kring.bram, utcnow())
        await db.commit()
    if deposit:
        for member in kring.everyone:
            await kring.deposit(meeting_id, member, deposit)
    async with kring.sessionmaker() as db:
        _, expected = await _expected(db, kring)
    await kring.close(meeting_id, expected - short)
    return meeting_id


async def _expected(db: Any, kring: Kring) -> tuple[None, int]:
    from domain.ledger import cycle_books

    _, cash = await cycle_books(db, kring.cycle_id)
    return None, cash


@pytest.fixture
async def kringen(world: World) -> dict[str, Kring]:
    falling = await new_kring(world, "c", "1 Daalt")
    short = await new_kring(world, "d", "2 Kastekort")
    overdue = await new_kring(world, "e", "3 Achterstand")
    healthy = await new_kring(world, "f", "4 Gezond")
    async with healthy.sessionmaker() as db:  # the healthy kring passes the chair and the books on
        await cycles.assign_roles(db, healthy.admin, healthy.cycle_id, [
            cycles.Assignment(healthy.eva, CycleRole.VOORZITTER, 5),
            cycles.Assignment(healthy.bram, CycleRole.BOEKHOUDER, 5),
            cycles.Assignment(healthy.amina, CycleRole.GELDTELLER, 5)])
        await db.commit()
    for n in range(1, 9):
        await hold(falling, n, absent=(falling.dewi, falling.eva) if n > 4 else ())
        await hold(healthy, n, signer=healthy.eva if n >= 5 else None)
    for n in range(1, 9):
        await hold(short, n, deposit=1000 if n == 6 else 0, short=500 if n == 6 else 0, opening=0 if n <= 6 else 4500)
    # the overdue kring: everyone saves at meeting 1, Bram borrows at 2 for two meetings and never pays
    first = overdue.meeting_ids[1]
    await hold_open(overdue, 1)
    for member in overdue.everyone:
        await overdue.deposit(first, member, 1000)
    await overdue.close(first, 5000)
    second = overdue.meeting_ids[2]
    await hold_open(overdue, 2, opening=5000)
    async with overdue.sessionmaker() as db:
        loan, _ = await loans.request_loan(db, overdue.admin, overdue.cycle_id, loans.LoanRequest(overdue.bram, 2000, 2),
                                           loan_id=None, now=utcnow())
        await loans.decide_loan(db, overdue.admin, loan.id, second,
                                {m: "for" for m in overdue.everyone if m != overdue.bram}, None, utcnow())
        await loans.disburse(db, overdue.admin, loan.id, second,
                             loans.CashMove(overdue.chris, (overdue.dewi, overdue.eva)), entry_id=None, now=utcnow())
        await db.commit()
    await overdue.close(second, 3000)
    for n in range(3, 9):
        await hold(overdue, n, opening=3000)
    return {"falling": falling, "short": short, "overdue": overdue, "healthy": healthy}


async def hold_open(kring: Kring, meeting_no: int, opening: int = 0) -> None:
    meeting_id = kring.meeting_ids[meeting_no]
    async with kring.sessionmaker() as db:
        await meetings.open_meeting(db, kring.admin, meeting_id, opening, utcnow())
        await meetings.put_attendance(db, kring.admin, meeting_id,
                                      [(m, AttendanceStatus.PRESENT) for m in kring.everyone], utcnow())
        await meetings.sign_presentielijst(db, kring.admin, meeting_id, kring.bram, utcnow())
        await db.commit()


async def test_signals_put_the_slipping_groups_first_each_with_its_reason(world: World, kringen: dict[str, Kring]) -> None:
    async with world.sessionmaker() as db:
        ranked = await signals.coach_groups(db, world.actor("begeleider_a"), NOW)
    by_name = {s.name: s for s in ranked}
    assert "attendance_falling" in by_name["1 Daalt"].attention_reasons
    assert by_name["1 Daalt"].attendance_trend_bp == -4000
    assert "cash_discrepancy" in by_name["2 Kastekort"].attention_reasons
    assert by_name["2 Kastekort"].discrepancy_total_cents == -500
    assert "loans_overdue" in by_name["3 Achterstand"].attention_reasons
    assert (by_name["3 Achterstand"].overdue_loans, by_name["3 Achterstand"].overdue_cents) == (1, 2100)
    assert by_name["4 Gezond"].attention_reasons == [] and not by_name["4 Gezond"].needs_attention
    order = [s.name for s in ranked if s.name[0].isdigit()]
    assert order[-1] == "4 Gezond", [(s.name, s.attention_score, s.attention_reasons) for s in ranked]
    assert all(s.needs_attention for s in ranked if s.name != "4 Gezond" and s.name[0].isdigit())
    assert [s.attention_score for s in ranked] == sorted((s.attention_score for s in ranked), reverse=True)


async def test_a_begeleider_sees_only_their_own_groups(world: World, kringen: dict[str, Kring]) -> None:
    async with world.sessionmaker() as db:
        seen_b = {s.group_id for s in await signals.coach_groups(db, world.actor("begeleider_b"), NOW)}
    assert seen_b == {world.groups["b"]}


async def _count_statements(world: World) -> int:
    from domain.database import make_engine, make_sessionmaker

    engine = make_engine(str(world.sessionmaker.kw["bind"].url.render_as_string(hide_password=False)))
    count = 0

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        nonlocal count
        count += 1

    async with make_sessionmaker(engine)() as db:
        await signals.coach_groups(db, world.actor("admin"), NOW)
        before = count
        await signals.coach_groups(db, world.actor("admin"), NOW)
        statements = count - before
    await engine.dispose()
    return statements


async def test_the_signals_cost_the_same_number_of_statements_for_3_and_for_30_groups(world: World) -> None:
    for i in range(3):
        kring = await new_kring(world, f"g{i}", f"Kring {i}")
        await hold(kring, 1)
    few = await _count_statements(world)
    for i in range(3, 30):
        kring = await new_kring(world, f"g{i}", f"Kring {i}")
        await hold(kring, 1)
    many = await _count_statements(world)
    assert few == many
    assert few <= 12
