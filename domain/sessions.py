"""Logging in and staying logged in: throttled logins, rotating refresh tokens in families.

RFC 9700 rotation: every refresh hands out a new refresh token and retires the presented one. Presenting
a retired token again means it was copied, so the whole family is revoked, except for one case: the
token retired last, presented again within a short grace window, is a phone retrying a refresh whose
answer was lost on bad wifi; it gets the very same pair again (kept encrypted, and only usable while
the token it handed out is still the family's current one).

Refresh tokens are opaque random strings; the table holds only their SHA-256. Every change to a user's
token families (refresh, reuse, logout) first locks the user's row, so two refreshes of one token are
serialised on PostgreSQL (the second one sees the first one's rotation and gets the grace answer) and
no two of them can deadlock on the family's rows. SQLite serialises all writers anyway (BEGIN IMMEDIATE).

Time is passed in as `now`; nothing here reads the clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import (
    AccountClosed,
    InvalidCredentials,
    LoginThrottled,
    RefreshTokenInvalid,
    RefreshTokenReused,
)
from domain.models import LoginThrottle, RefreshToken, User
from domain.passwords import hash_password, needs_rehash, verify_password


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    refresh_lifetime: timedelta
    grace: timedelta
    max_failures_per_email: int
    max_failures_per_address: int
    lockout: timedelta
    password_profile: str
    sealing_key: bytes  # a Fernet key derived from the secret key


# Makes the access token of a pair: (user, token family id) -> (token, lifetime in seconds).
AccessIssuer = Callable[[User, UUID], tuple[str, int]]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- logging in ----------------------------------------------------------------------------------
def _throttle_keys(email: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("email", f"email:{token_digest(email.strip().lower())}")]
    if address:
        keys.append(("addr", f"addr:{token_digest(address)}"))
    return keys


def _retry_after(blocked_until: datetime, now: datetime) -> int:
    return max(1, int((blocked_until - now).total_seconds()) + 1)


async def _check_throttle(db: AsyncSession, keys: list[tuple[str, str]], now: datetime) -> LoginThrottled | None:
    rows = (await db.execute(select(LoginThrottle).where(LoginThrottle.key.in_([k for _, k in keys])))).scalars()
    waits = [_retry_after(row.blocked_until, now) for row in rows
             if row.blocked_until is not None and row.blocked_until > now]
    return LoginThrottled(retry_after=max(waits)) if waits else None


async def _locked_throttle(db: AsyncSession, key: str, now: datetime) -> LoginThrottle:
    """The counter row of a key, made when absent (without a unique-violation race) and locked."""
    insert: Any = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    await db.execute(
        insert(LoginThrottle).values(key=key, failures=0, window_started_at=now).on_conflict_do_nothing(
            index_elements=[LoginThrottle.key])
    )
    stmt = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    return (await db.execute(stmt.execution_options(populate_existing=True))).scalar_one()


async def _record_failure(db: AsyncSession, keys: list[tuple[str, str]], policy: SessionPolicy, now: datetime) -> None:
    for kind, key in keys:  # always email first, then address: one lock order for everyone
        limit = policy.max_failures_per_email if kind == "email" else policy.max_failures_per_address
        row = await _locked_throttle(db, key, now)
        lockout_over = row.blocked_until is not None and row.blocked_until <= now
        if lockout_over or now - row.window_started_at >= policy.lockout:
            row.failures, row.window_started_at, row.blocked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.blocked_until = now + policy.lockout
    await db.flush()


async def login(
    db: AsyncSession, email: str, password: str, address: str | None, policy: SessionPolicy,
    issue_access: AccessIssuer, now: datetime,
) -> TokenPair | LoginThrottled | InvalidCredentials:
    """Check the credentials and open a new token family.

    A failure is returned, not raised, so the caller can commit the failure count before answering.
    Unknown email, wrong password and a closed account give the same answer after the same argon2 work.
    """
    keys = _throttle_keys(email, address)
    if (throttled := await _check_throttle(db, keys, now)) is not None:
        return throttled
    user = (await db.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()
    # argon2 takes tens of milliseconds on purpose: off the event loop, so other requests go on meanwhile
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password,
                                 policy.password_profile)
    if not ok or user is None or not user.is_active:
        await _record_failure(db, keys, policy, now)
        return InvalidCredentials()
    if needs_rehash(user.password_hash, policy.password_profile):
        user.password_hash = hash_password(password, policy.password_profile)
    email_row = await db.get(LoginThrottle, keys[0][1])  # a good login clears the email's count only
    if email_row is not None:
        email_row.failures, email_row.window_started_at, email_row.blocked_until = 0, now, None
    return await _issue_refresh(db, user, uuid4(), policy, issue_access, now)


async def _issue_refresh(
    db: AsyncSession, user: User, family_id: UUID, policy: SessionPolicy, issue_access: AccessIssuer, now: datetime
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    db.add(RefreshToken(id=uuid4(), family_id=family_id, user_id=user.id, token_hash=token_digest(refresh),
                        created_at=now, expires_at=now + policy.refresh_lifetime))
    access, expires_in = issue_access(user, family_id)
    await db.flush()
    return TokenPair(access, refresh, expires_in)


# --- staying logged in ---------------------------------------------------------------------------
def _seal(pair: TokenPair, policy: SessionPolicy) -> bytes:
    payload = json.dumps([pair.access_token, pair.refresh_token, pair.expires_in]).encode()
    return Fernet(policy.sealing_key).encrypt(payload)


def _unseal(sealed: bytes, policy: SessionPolicy) -> TokenPair | None:
    try:
        access, refresh, expires_in = json.loads(Fernet(policy.sealing_key).decrypt(sealed))
    except (InvalidToken, ValueError, TypeError):
        return None
    return TokenPair(access, refresh, expires_in)


async def _lock_owner(db: AsyncSession, digest: str) -> User | None:
    """Lock the row of the user who owns the token (FOR NO KEY UPDATE: logins may still add tokens)."""
    owner = select(RefreshToken.user_id).where(RefreshToken.token_hash == digest).scalar_subquery()
    stmt = select(User).where(User.id == owner).with_for_update(key_share=True)
    return (await db.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def _token(db: AsyncSession, digest: str) -> RefreshToken:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == digest)
    return (await db.execute(stmt.execution_options(populate_existing=True))).scalar_one()


async def revoke_family(db: AsyncSession, family_id: UUID, now: datetime) -> None:
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, successor_sealed=None)
        .execution_options(synchronize_session=False)
    )


async def _forget_sealed_pairs(db: AsyncSession, token: RefreshToken, policy: SessionPolicy, now: datetime) -> None:
    """Drop the user's kept pairs that can no longer be handed out: older ones of this family, and any
    whose grace window has passed. Only ever runs while the user's row is locked."""
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == token.user_id, RefreshToken.successor_sealed.is_not(None),
               RefreshToken.id != token.id,
               or_(RefreshToken.family_id == token.family_id, RefreshToken.rotated_at < now - policy.grace))
        .values(successor_sealed=None)
        .execution_options(synchronize_session=False)
    )


async def _is_current(db: AsyncSession, refresh_token: str, family_id: UUID, now: datetime) -> bool:
    """True when the token is the family's newest: not rotated, not revoked, not expired."""
    return bool((await db.execute(select(exists().where(
        RefreshToken.token_hash == token_digest(refresh_token), RefreshToken.family_id == family_id,
        RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now,
    )))).scalar())


async def refresh(
    db: AsyncSession, presented: str, policy: SessionPolicy, issue_access: AccessIssuer, now: datetime
) -> TokenPair | RefreshTokenReused:
    """Rotate a refresh token. A reuse that revokes the family is returned (to be committed), not raised;
    an unknown, revoked or expired token raises RefreshTokenInvalid (nothing to commit)."""
    digest = token_digest(presented)
    user = await _lock_owner(db, digest)
    if user is None:
        raise RefreshTokenInvalid()
    token = await _token(db, digest)  # read after the lock: sees a rotation that committed meanwhile
    if token.revoked_at is not None or token.expires_at <= now:
        raise RefreshTokenInvalid()
    if not user.is_active:
        raise AccountClosed()
    if token.rotated_at is None:
        pair = await _issue_refresh(db, user, token.family_id, policy, issue_access, now)
        token.rotated_at = now
        token.successor_sealed = _seal(pair, policy)
        await db.flush()
        await _forget_sealed_pairs(db, token, policy, now)
        return pair
    # Presented again after rotation: a lost answer being retried, or a stolen copy.
    if now - token.rotated_at <= policy.grace and token.successor_sealed is not None:
        pair = _unseal(token.successor_sealed, policy)
        if pair is not None and await _is_current(db, pair.refresh_token, token.family_id, now):
            return pair
    await revoke_family(db, token.family_id, now)
    return RefreshTokenReused()


async def logout(db: AsyncSession, presented: str, user_id: UUID, now: datetime) -> None:
    """Revoke the family of the presented refresh token, if it is the caller's. Saying it twice is fine."""
    digest = token_digest(presented)
    user = await _lock_owner(db, digest)
    if user is None or user.id != user_id:
        raise RefreshTokenInvalid()
    token = await _token(db, digest)
    await revoke_family(db, token.family_id, now)  # drops the family's kept pair too

