"""Handlers that only read run without a write transaction, and their session can't write."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from domain.models import Cycle, Member
from tests.kring import Kring
from tests.world import World


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world)


async def test_reading_balances_does_not_wait_for_a_writer_holding_the_write_lock(kring: Kring) -> None:
    """SQLite: a GET used to begin IMMEDIATE and so queued behind any writer (up to the 30 s busy
    timeout); a reader now takes no write lock. PostgreSQL: readers never wait for row locks."""
    async with kring.sessionmaker() as writer:  # a write transaction that stays open meanwhile
        await writer.execute(update(Cycle).where(Cycle.id == kring.cycle_id).values(entry_count=Cycle.entry_count))
        response = await asyncio.wait_for(kring.world.client.get(
            f"/api/v1/cycles/{kring.cycle_id}/balances", headers=kring.world.auth("admin")), timeout=10)
        assert response.status_code == 200, response.text
        await writer.rollback()


async def test_a_read_only_session_refuses_to_flush_a_change(kring: Kring) -> None:
    async with kring.sessionmaker() as db:
        db.info["read_only"] = True
        member = await db.get(Member, kring.eva)
        assert member is not None
        member.display_name = "changed by a reader"
        with pytest.raises(RuntimeError, match="READ_ONLY"):
            await db.flush()
