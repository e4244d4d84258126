from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import TokenService

from api.schemas.people import LoginIn, RefreshIn, TokenPairOut
from api.settings import Settings
from domain import sessions
from domain.access import Actor
from domain.errors import DomainError
from domain.models import utcnow


def session_policy(settings: Settings) -> sessions.SessionPolicy:
    sealing_key = base64.urlsafe_b64encode(hashlib.sha256(b"refresh-seal:" + settings.secret_key.encode()).digest())
    return sessions.SessionPolicy(
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        grace=timedelta(seconds=settings.refresh_grace_seconds),
        max_failures_per_email=settings.login_max_failures_per_email,
        max_failures_per_address=settings.login_max_failures_per_address,
        lockout=timedelta(seconds=settings.login_lockout_seconds),
        password_profile=settings.password_profile,
        sealing_key=sealing_key,
    )


def _pair(pair: sessions.TokenPair) -> TokenPairOut:
    return TokenPairOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", summary="Log in with email and password", status_code=200)
    async def login(self, data: LoginIn, db: AsyncSession, state: State, request: Request[Any, Any, Any]) -> TokenPairOut:
        now = utcnow()
        tokens: TokenService = state.tokens
        address = request.client.host if request.client else None
        result = await sessions.login(db, data.email, data.password, address, state.session_policy,
                                      lambda user: tokens.issue(user, now), now)
        await db.commit()  # failures are counted even though the answer is an error
        if isinstance(result, DomainError):
            raise result
        return _pair(result)

    @post("/refresh", summary="Swap a refresh token for a new pair (rotation)", status_code=200)
    async def refresh(self, data: RefreshIn, db: AsyncSession, state: State) -> TokenPairOut:
        now = utcnow()
        tokens: TokenService = state.tokens
        result = await sessions.refresh(db, data.refresh_token, state.session_policy,
                                        lambda user: tokens.issue(user, now), now)
        await sessions.forget_sealed_pairs(db, state.session_policy, now)
        await db.commit()  # a reuse revokes the family, and that must stick
        if isinstance(result, DomainError):
            raise result
        return _pair(result)

    @post("/logout", summary="Revoke the refresh token's family", status_code=204)
    async def logout(self, data: RefreshIn, db: AsyncSession, actor: Actor) -> None:
        await sessions.logout(db, data.refresh_token, actor.user_id, utcnow())
        await db.commit()
