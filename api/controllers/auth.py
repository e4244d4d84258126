"""Login, refresh (rotation) and logout. The rules live in `domain.sessions`; this is the HTTP edge."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccessClaims, TokenService
from api.schemas.people import LoginIn, RefreshIn, TokenPairOut
from api.settings import Settings
from domain import sessions
from domain.errors import DomainError, TokenMissing
from domain.models import User, utcnow


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
        """Answers a token pair. Unknown email and wrong password answer the same 401; repeated failures
        for one email or from one address answer 429 with Retry-After."""
        now = utcnow()
        tokens: TokenService = state.tokens
        address = request.client.host if request.client else None

        def issue(user: User, family_id: UUID) -> tuple[str, int]:
            return tokens.issue(user, now, family_id)

        result = await sessions.login(db, data.email, data.password, address, state.session_policy, issue, now)
        await db.commit()  # failures are counted even though the answer is an error
        if isinstance(result, DomainError):
            raise result
        return _pair(result)

    @post("/refresh", summary="Swap a refresh token for a new pair (rotation)", status_code=200)
    async def refresh(self, data: RefreshIn, db: AsyncSession, state: State) -> TokenPairOut:
        """The presented refresh token stops working. Presenting it again within the grace window, while
        its successor is unused, answers the same pair (a lost answer retried); any other reuse revokes
        the whole family."""
        now = utcnow()
        tokens: TokenService = state.tokens

        def issue(user: User, family_id: UUID) -> tuple[str, int]:
            return tokens.issue(user, now, family_id)

        result = await sessions.refresh(db, data.refresh_token, state.session_policy, issue, now)
        await db.commit()  # a reuse revokes the family, and that must stick
        if isinstance(result, DomainError):
            raise result
        return _pair(result)

    @post("/logout", summary="Revoke the refresh token's family", status_code=204)
    async def logout(self, data: RefreshIn, db: AsyncSession, request: Request[Any, Any, Any]) -> None:
        """Needs the bearer token and, in the body, a refresh token of the same user. Its whole family
        stops working, refresh and access tokens alike. Saying it again answers 204 again."""
        claims = request.scope.get("user")
        if not isinstance(claims, AccessClaims):
            raise TokenMissing()
        await sessions.logout(db, data.refresh_token, claims.user_id, utcnow())
        await db.commit()
