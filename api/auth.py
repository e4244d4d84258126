"""Bearer tokens: short-lived JWT access tokens (HS256, pinned), and the Actor built from them.

An access token carries iss, aud, sub (the user id), exp, iat, jti and `typ: access`; one handed out by
login or refresh also carries `sid`, the id of its refresh token family, so logging out (or a detected
reuse) ends its access tokens too, not only the refresh tokens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
from litestar.connection import ASGIConnection
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp
from sqlalchemy.ext.asyncio import AsyncSession

from api.settings import Settings
from domain.access import Actor, Caller, load_caller
from domain.errors import TokenExpired, TokenInvalid, TokenMissing
from domain.models import User

ALGORITHM = "HS256"
LEEWAY_SECONDS = 5
VERIFIED_TOKENS_KEPT = 10_000

# Paths that need no bearer token (regular expressions matched against the path).
PUBLIC_PATHS = [
    r"^/health$",
    r"^/schema",
    r"^/api/v1/auth/login$",
    r"^/api/v1/auth/refresh$",
    r"^/api/v1/feeds/",
]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    jti: str
    family_id: UUID | None = None  # the `sid` claim: the refresh token family the token belongs to


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.lifetime = timedelta(minutes=settings.access_token_minutes)
        self._verified: dict[str, tuple[AccessClaims, int]] = {}

    def issue(self, user: User, now: datetime, family_id: UUID | None = None) -> tuple[str, int]:
        claims: dict[str, Any] = {
            "iss": self._issuer, "aud": self._audience, "sub": str(user.id), "typ": "access",
            "iat": int(now.timestamp()), "exp": int((now + self.lifetime).timestamp()), "jti": uuid4().hex,
        }
        if family_id is not None:
            claims["sid"] = str(family_id)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), int(self.lifetime.total_seconds())

    def read(self, token: str) -> AccessClaims:
        """Verified once per token: a phone sends the same token with every request for 15 minutes, so the
        claims of a verified token are kept (bounded, by the exact token text) until it expires; each use
        still checks the expiry. Revocation is checked per request against the database (load_actor)."""
        known = self._verified.get(token)
        if known is not None:
            claims, expires_at = known
            if time.time() <= expires_at + LEEWAY_SECONDS:
                return claims
            self._verified.pop(token, None)
        claims, expires_at = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()  # simple and bounded: the next requests verify again
        self._verified[token] = (claims, expires_at)
        return claims

    def _verify(self, token: str) -> tuple[AccessClaims, int]:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=self._audience, issuer=self._issuer,
                options={"require": ["iss", "aud", "sub", "exp", "iat", "jti"]}, leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired() from None
        except jwt.PyJWTError:
            raise TokenInvalid() from None
        if claims.get("typ") != "access":
            raise TokenInvalid()
        try:
            family = claims.get("sid")
            return (AccessClaims(UUID(str(claims["sub"])), str(claims["jti"]), UUID(str(family)) if family else None),
                    int(claims["exp"]))
        except (TypeError, ValueError):
            raise TokenInvalid() from None


def bearer_token(header: str | None) -> str:
    if not header:
        raise TokenMissing()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid()
    return token.strip()


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Checks the access token of every request outside PUBLIC_PATHS; no database work here."""

    def __init__(self, app: ASGIApp, tokens: TokenService) -> None:
        super().__init__(app, exclude=PUBLIC_PATHS, exclude_from_auth_key="exclude_from_auth",
                         exclude_http_methods=["OPTIONS"], scopes=None)
        self.tokens = tokens

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        claims = self.tokens.read(bearer_token(connection.headers.get("authorization")))
        return AuthenticationResult(user=claims, auth=claims.jti)


async def load_actor(db: AsyncSession, claims: AccessClaims) -> Actor:
    """The caller, in one query of the columns the rules need (domain.access.load_caller)."""
    return await load_caller(db, caller_of(claims))


def caller_of(claims: AccessClaims) -> Caller:
    return Caller(claims.user_id, claims.family_id)
