"""Refresh token rotation, reuse detection, the grace window and login throttling, with explicit `now`."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import TokenService
from api.controllers.auth import session_policy
from api.settings import Settings
from domain import people, sessions
from domain.errors import (
    AccountClosed,
    InvalidCredentials,
    LoginThrottled,
    RefreshTokenInvalid,
    RefreshTokenReused,
)
from domain.models import LoginThrottle, RefreshToken, Role, User
from domain.passwords import hash_password, needs_rehash, verify_password

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@dataclass
class Auth:
    """The session rules on one database, with a user to log in as. Every call is its own transaction."""

    sessionmaker: async_sessionmaker[AsyncSession]
    policy: sessions.SessionPolicy
    tokens: TokenService
    user_id: UUID
    email: str = "saskia@example.org"

    def issuer(self, now: datetime) -> sessions.AccessIssuer:
        return lambda user, family_id: self.tokens.issue(user, now, family_id)

    async def login(self, now: datetime, password: str = PASSWORD, email: str | None = None,
                    address: str | None = "10.0.0.1") -> sessions.TokenPair:
        async with self.sessionmaker() as db:
            result = await sessions.login(db, email or self.email, password, address, self.policy,
                                          self.issuer(now), now)
            await db.commit()
        if isinstance(result, Exception):
            raise result
        return result

    async def refresh(self, token: str, now: datetime) -> sessions.TokenPair:
        async with self.sessionmaker() as db:
            result = await sessions.refresh(db, token, self.policy, self.issuer(now), now)
            await db.commit()
        if isinstance(result, Exception):
            raise result
        return result

    async def logout(self, token: str, now: datetime) -> None:
        async with self.sessionmaker() as db:
            await sessions.logout(db, token, self.user_id, now)
            await db.commit()

    async def rows(self) -> list[RefreshToken]:
        async with self.sessionmaker() as db:
            return list((await db.execute(select(RefreshToken).order_by(RefreshToken.created_at))).scalars())


@pytest.fixture
async def auth(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Auth:
    async with sessionmaker() as db:
        organisation = await people.get_or_create_organisation(db, "Organisatie S")
        user, _ = await people.add_user(db, organisation.id, people.NewUser(
            "saskia@example.org", PASSWORD, Role.BEGELEIDER, "Saskia"), password_profile="test")
        await db.commit()
    return Auth(sessionmaker, session_policy(settings), TokenService(settings), user.id)


async def test_refresh_hands_out_a_new_pair_and_the_presented_token_is_retired(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(minutes=10))
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    third = await auth.refresh(second.refresh_token, T0 + timedelta(minutes=20))
    assert third.refresh_token not in {first.refresh_token, second.refresh_token}
    rows = await auth.rows()
    assert len(rows) == 3 and len({row.family_id for row in rows}) == 1
    assert [row.rotated_at is not None for row in rows] == [True, True, False]


async def test_the_table_holds_only_hashes_of_refresh_tokens_never_the_tokens(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(seconds=5))
    rows = await auth.rows()
    assert {row.token_hash for row in rows} == {
        hashlib.sha256(token.encode()).hexdigest() for token in (first.refresh_token, second.refresh_token)}
    for row in rows:
        stored = " ".join(str(getattr(row, column.key)) for column in RefreshToken.__table__.columns)
        stored += (row.successor_sealed or b"").decode("latin-1")
        for token in (first.refresh_token, second.refresh_token, second.access_token):
            assert token not in stored


async def test_a_retry_of_the_last_rotated_token_within_the_grace_window_answers_the_same_pair(auth: Auth) -> None:
    first = await auth.login(T0)
    rotated_at = T0 + timedelta(minutes=14)
    second = await auth.refresh(first.refresh_token, rotated_at)
    again = await auth.refresh(first.refresh_token, rotated_at + timedelta(seconds=30))  # the window's edge
    assert again == second
    assert len(await auth.rows()) == 2  # nothing new was handed out
    third = await auth.refresh(second.refresh_token, rotated_at + timedelta(seconds=31))  # the pair still works
    assert third.refresh_token != second.refresh_token


async def test_a_retry_after_the_grace_window_revokes_the_family_and_its_newest_token(auth: Auth) -> None:
    first = await auth.login(T0)
    rotated_at = T0 + timedelta(minutes=1)
    second = await auth.refresh(first.refresh_token, rotated_at)
    with pytest.raises(RefreshTokenReused):
        await auth.refresh(first.refresh_token, rotated_at + timedelta(seconds=31))
    with pytest.raises(RefreshTokenInvalid):
        await auth.refresh(second.refresh_token, rotated_at + timedelta(seconds=32))
    assert all(row.revoked_at is not None and row.successor_sealed is None for row in await auth.rows())


async def test_an_older_token_of_the_family_revokes_it_even_within_the_grace_window(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(seconds=1))
    third = await auth.refresh(second.refresh_token, T0 + timedelta(seconds=2))
    with pytest.raises(RefreshTokenReused):
        await auth.refresh(first.refresh_token, T0 + timedelta(seconds=3))  # rotated 2 s ago, but not last
    with pytest.raises(RefreshTokenInvalid):
        await auth.refresh(third.refresh_token, T0 + timedelta(seconds=4))


async def test_a_retry_is_refused_once_the_pair_it_would_repeat_has_been_used(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(seconds=1))
    third = await auth.refresh(second.refresh_token, T0 + timedelta(seconds=2))
    assert await auth.refresh(second.refresh_token, T0 + timedelta(seconds=3)) == third  # last rotated: a retry
    await auth.refresh(third.refresh_token, T0 + timedelta(seconds=4))
    with pytest.raises(RefreshTokenReused):
        await auth.refresh(second.refresh_token, T0 + timedelta(seconds=5))


async def test_reuse_revokes_only_its_own_family_not_the_users_other_logins(auth: Auth) -> None:
    phone = await auth.login(T0)
    tablet = await auth.login(T0 + timedelta(seconds=1))
    await auth.refresh(phone.refresh_token, T0 + timedelta(minutes=1))
    with pytest.raises(RefreshTokenReused):
        await auth.refresh(phone.refresh_token, T0 + timedelta(minutes=2))
    assert (await auth.refresh(tablet.refresh_token, T0 + timedelta(minutes=3))).refresh_token


async def test_an_expired_refresh_token_is_refused_without_revoking_anything(auth: Auth) -> None:
    first = await auth.login(T0)
    with pytest.raises(RefreshTokenInvalid):
        await auth.refresh(first.refresh_token, T0 + auth.policy.refresh_lifetime)
    assert all(row.revoked_at is None for row in await auth.rows())


async def test_logout_revokes_the_family_and_saying_it_twice_is_fine(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(minutes=1))
    await auth.logout(second.refresh_token, T0 + timedelta(minutes=2))
    await auth.logout(second.refresh_token, T0 + timedelta(minutes=3))
    with pytest.raises(RefreshTokenInvalid):
        await auth.refresh(second.refresh_token, T0 + timedelta(minutes=4))
    with pytest.raises(RefreshTokenInvalid):  # not even the grace retry of the one before survives logout
        await auth.refresh(first.refresh_token, T0 + timedelta(minutes=1, seconds=5))


async def test_a_refresh_for_a_closed_account_is_refused(auth: Auth) -> None:
    first = await auth.login(T0)
    async with auth.sessionmaker() as db:
        await db.execute(update(User).where(User.id == auth.user_id).values(is_active=False))
        await db.commit()
    with pytest.raises(AccountClosed):
        await auth.refresh(first.refresh_token, T0 + timedelta(minutes=1))


async def test_two_refreshes_of_one_token_at_once_rotate_it_once_and_both_get_the_same_pair(auth: Auth) -> None:
    first = await auth.login(T0)
    now = T0 + timedelta(minutes=15)
    async with auth.sessionmaker() as db_a:
        pair_a = await sessions.refresh(db_a, first.refresh_token, auth.policy, auth.issuer(now), now)
        # the second refresh starts while the first has rotated but not committed: it has to wait
        second = asyncio.create_task(auth.refresh(first.refresh_token, now))
        await asyncio.sleep(0.3)
        assert not second.done()
        await db_a.commit()
    assert await second == pair_a
    assert len(await auth.rows()) == 2


async def test_a_reuse_racing_a_refresh_also_revokes_the_token_that_refresh_hands_out(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(minutes=1))
    now = T0 + timedelta(minutes=10)
    async with auth.sessionmaker() as db_a:
        third = await sessions.refresh(db_a, second.refresh_token, auth.policy, auth.issuer(now), now)
        stolen = asyncio.create_task(auth.refresh(first.refresh_token, now))
        await asyncio.sleep(0.3)
        await db_a.commit()
    with pytest.raises(RefreshTokenReused):
        await stolen
    with pytest.raises(RefreshTokenInvalid):
        await auth.refresh(third.refresh_token, now + timedelta(seconds=1))
    assert all(row.revoked_at is not None for row in await auth.rows())


async def test_only_the_newest_rotated_token_keeps_its_sealed_pair(auth: Auth) -> None:
    first = await auth.login(T0)
    second = await auth.refresh(first.refresh_token, T0 + timedelta(seconds=1))
    await auth.refresh(second.refresh_token, T0 + timedelta(seconds=2))
    assert [row.successor_sealed is not None for row in await auth.rows()] == [False, True, False]


async def test_failed_logins_lock_the_email_until_the_lockout_has_passed(auth: Auth) -> None:
    for attempt in range(auth.policy.max_failures_per_email):
        with pytest.raises(InvalidCredentials):
            await auth.login(T0 + timedelta(seconds=attempt), password="wrong password!")
    blocked_at = T0 + timedelta(seconds=10)
    with pytest.raises(LoginThrottled) as throttled:
        await auth.login(blocked_at)  # even the right password waits
    lockout_ends = T0 + timedelta(seconds=auth.policy.max_failures_per_email - 1) + auth.policy.lockout
    assert throttled.value.params["retry_after"] == int((lockout_ends - blocked_at).total_seconds()) + 1
    assert (await auth.login(lockout_ends)).access_token


async def test_a_good_login_clears_the_failures_of_the_email(auth: Auth) -> None:
    for attempt in range(auth.policy.max_failures_per_email - 1):
        with pytest.raises(InvalidCredentials):
            await auth.login(T0 + timedelta(seconds=attempt), password="wrong password!")
    await auth.login(T0 + timedelta(seconds=10))
    with pytest.raises(InvalidCredentials):  # counting starts again: one failure is not a lockout
        await auth.login(T0 + timedelta(seconds=11), password="wrong password!")
    assert (await auth.login(T0 + timedelta(seconds=12))).access_token


async def test_failures_spread_over_many_emails_lock_the_client_address(auth: Auth) -> None:
    for attempt in range(auth.policy.max_failures_per_address):
        with pytest.raises(InvalidCredentials):
            await auth.login(T0, email=f"nobody{attempt}@example.org", password="wrong password!")
    with pytest.raises(LoginThrottled):
        await auth.login(T0 + timedelta(seconds=1))
    assert (await auth.login(T0 + timedelta(seconds=1), address="10.0.0.2")).access_token
    async with auth.sessionmaker() as db:
        keys = list((await db.execute(select(LoginThrottle.key))).scalars())
    assert not any("10.0.0.1" in key or "nobody" in key for key in keys)  # stored as digests only


async def test_a_login_stores_a_new_hash_when_the_old_one_was_made_with_other_parameters(auth: Auth) -> None:
    async with auth.sessionmaker() as db:
        old_hash = hash_password(PASSWORD, "owasp")  # made before the profile changed
        await db.execute(update(User).where(User.id == auth.user_id).values(password_hash=old_hash))
        await db.commit()
    await auth.login(T0)
    async with auth.sessionmaker() as db:
        new_hash = (await db.execute(select(User.password_hash).where(User.id == auth.user_id))).scalar_one()
    assert new_hash != old_hash
    assert not needs_rehash(new_hash, auth.policy.password_profile)
    assert verify_password(new_hash, PASSWORD, auth.policy.password_profile)
