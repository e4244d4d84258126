"""Logging in and staying logged in: throttled logins, rotating refresh tokens in families.

RFC 9700 rotation: every refresh hands out a new refresh token and retires the presented one. Presenting
a retired token again means it was copied, so the whole family is revoked, except for one case: the
token retired last, presented again within a short grace window, is a phone retrying a refresh whose
answer was lost on bad wifi; it gets the very same pair again (kept encrypted for the window only).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import AccountClosed, InvalidCredentials, LoginThrottled, RefreshTokenInvalid, RefreshTokenReused
from domain.models import LoginThrottle, RefreshToken, User
from domain.passwords import verify_password


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


AccessIssuer = Callable[[User], tuple[str, int]]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttle_keys(email: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("email", f"email:{token_digest(email.strip().lower())}")]
    if address:
        keys.append(("addr", f"addr:{token_digest(address)}"))
    return keys


async def _check_throttle(db: AsyncSession, keys: list[tuple[str, str]], now: datetime) -> None:
    rows = (await db.execute(select(LoginThrottle).where(LoginThrottle.key.in_([k for _, k in keys])))).scalars()
    for row in rows:
        if row.blocked_until is not None and row.blocked_until > now:
            raise LoginThrottled(retry_after=max(1, int((row.blocked_until - now).total_seconds()) + 1))


async def _record_failure(db: AsyncSession, keys: list[tuple[str, str]], policy: SessionPolicy, now: datetime) -> None:
    for kind, key in keys:
        limit = policy.max_failures_per_email if kind == "email" else policy.max_failures_per_address
        row = await db.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
            db.add(row)
        if now - row.window_started_at > policy.lockout:
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
    Unknown email and wrong password give the same answer after the same work.
    """
    keys = _throttle_keys(email, address)
    try:
        await _check_throttle(db, keys, now)
    except LoginThrottled as throttled:
        return throttled
    user = (await db.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password, policy.password_profile)
    if not ok or user is None or not user.is_active:
        await _record_failure(db, keys, policy, now)
        return InvalidCredentials()
    email_row = await db.get(LoginThrottle, keys[0][1])  # a good login clears the email's count only
    if email_row is not None:
        email_row.failures, email_row.blocked_until = 0, None
    return await _open_family(db, user, uuid4(), policy, issue_access, now)


async def _open_family(
    db: AsyncSession, user: User, family_id: UUID, policy: SessionPolicy, issue_access: AccessIssuer, now: datetime
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    db.add(RefreshToken(id=uuid4(), family_id=family_id, user_id=user.id, token_hash=token_digest(refresh),
                        created_at=now, expires_at=now + policy.refresh_lifetime))
    access, expires_in = issue_access(user)
    await db.flush()
    return TokenPair(access, refresh, expires_in)


def _seal(pair: TokenPair, policy: SessionPolicy) -> bytes:
    payload = json.dumps([pair.access_token, pair.refresh_token, pair.expires_in]).encode()
    return Fernet(policy.sealing_key).encrypt(payload)


def _unseal(sealed: bytes, policy: SessionPolicy) -> TokenPair | None:
    try:
        access, refresh, expires_in = json.loads(Fernet(policy.sealing_key).decrypt(sealed))
    except (InvalidToken, ValueError):
        return None
    return TokenPair(access, refresh, expires_in)


async def revoke_family(db: AsyncSession, family_id: UUID, now: datetime) -> None:
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, successor_sealed=None)
    )


async def refresh(
    db: AsyncSession, presented: str, policy: SessionPolicy, issue_access: AccessIssuer, now: datetime
) -> TokenPair | RefreshTokenReused:
    """Rotate a refresh token. A reuse that revokes the family is returned (to be committed), not raised."""
    token = (
        await db.execute(select(RefreshToken).where(RefreshToken.token_hash == token_digest(presented)).with_for_update())
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise RefreshTokenInvalid()
    user = await db.get(User, token.user_id)
    if user is None or not user.is_active:
        raise AccountClosed()
    if token.rotated_at is None:
        pair = await _open_family(db, user, token.family_id, policy, issue_access, now)
        token.rotated_at = now
        token.successor_sealed = _seal(pair, policy)
        await db.flush()
        return pair
    # Presented again after rotation: a lost answer being retried, or a stolen copy.
    latest_rotated = (
        await db.execute(
            select(RefreshToken.id)
            .where(RefreshToken.family_id == token.family_id, RefreshToken.rotated_at.is_not(None))
            .order_by(RefreshToken.rotated_at.desc(), RefreshToken.created_at.desc())
            .limit(1)
        )
    ).scalar_one()
    within_grace = now - token.rotated_at <= policy.grace
    if latest_rotated == token.id and within_grace and token.successor_sealed is not None:
        pair = _unseal(token.successor_sealed, policy)
        if pair is not None:
            return pair
    await revoke_family(db, token.family_id, now)
    return RefreshTokenReused()


async def logout(db: AsyncSession, presented: str, user_id: UUID, now: datetime) -> None:
    """Revoke the family of the presented refresh token, if it is the caller's."""
    token = (
        await db.execute(select(RefreshToken).where(RefreshToken.token_hash == token_digest(presented)))
    ).scalar_one_or_none()
    if token is None or token.user_id != user_id:
        raise RefreshTokenInvalid()
    await revoke_family(db, token.family_id, now)


async def forget_sealed_pairs(db: AsyncSession, policy: SessionPolicy, now: datetime) -> None:
    """Drop encrypted pairs whose grace window has passed (housekeeping, run on refresh)."""
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.successor_sealed.is_not(None), RefreshToken.rotated_at < now - policy.grace)
        .values(successor_sealed=None)
    )
