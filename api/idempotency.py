"""Idempotency-Key on POST: a retry with the same key and body replays the first answer.

Keys are scoped to the caller and kept 30 days (phones stay offline for weeks). Another body with a
used key answers 422; a retry while the first request still runs answers 409. A request that wrote
nothing (it was refused, or its worker died before committing) leaves no claim, so it can simply run
again; one that committed but whose answer could not be stored answers 409 `idempotency.outcome_unknown`
rather than run twice. Login and refresh are not stored here: they hand out secrets (refresh has its
own retry window).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from datetime import timedelta
from typing import Any
from uuid import uuid4

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from api.auth import AccessClaims
from api.deps import IdempotencyClaim
from api.messages import pick_language
from api.problems import PROBLEM_JSON, database_unavailable, problem_body
from domain.models import IdempotencyKey, utcnow

log = logging.getLogger("kringkas.idempotency")
LEASE = timedelta(seconds=60)
KEY_INVALID = "idempotency.key_invalid"
KEY_REUSED = "idempotency.key_reused"
IN_PROGRESS = "idempotency.in_progress"
OUTCOME_UNKNOWN = "idempotency.outcome_unknown"
CODES = (KEY_INVALID, KEY_REUSED, IN_PROGRESS, OUTCOME_UNKNOWN)
NOT_STORED_PREFIXES = ("/api/v1/auth/",)
NOT_STORED_SUFFIXES = ("/calendar-token",)  # answers with a secret feed URL, stored only as a hash
REPLAYED_HEADERS = ("content-type", "location", "content-language", "etag")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, retention_days: int = 30, max_body_bytes: int = 1024 * 1024) -> None:
        self.app = app
        self.retention = timedelta(days=retention_days)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope["headers"] if k.lower() == b"idempotency-key"), None)
        claims = scope.get("user")
        if raw_key is None or not isinstance(claims, AccessClaims) or scope["path"].startswith(NOT_STORED_PREFIXES) \
                or scope["path"].endswith(NOT_STORED_SUFFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = raw_key.decode("latin-1")
        lang = pick_language(headers.get("accept-language"))
        if not (0 < len(key) <= 255) or not key.isprintable():
            await _send_problem(send, lang, 422, KEY_INVALID)
            return
        body, receive = await _buffer(receive, self.max_body_bytes)
        if body is None:  # too large: let the app answer 413
            await self.app(scope, receive, send)
            return
        digest = hashlib.sha256(b"\0".join([scope["path"].encode(), scope.get("query_string", b""), body])).hexdigest()
        sessionmaker = scope["app"].state.sessionmaker
        scope_key = f"user:{claims.user_id}"
        outcome = await self._claim(sessionmaker, scope_key, key, digest)
        if not isinstance(outcome, IdempotencyClaim):
            await outcome(send, lang)
            return
        scope["idempotency_claim"] = outcome  # type: ignore[typeddict-unknown-key]
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            try:
                await self._settle(sessionmaker, outcome, captured)
            except Exception as error:
                if not database_unavailable(error):
                    raise
                # The answer is out already; raising now would make uvicorn close the connection, and with it
                # the next request the phone sent on it. The claim stays until its lease runs out: a retry then
                # takes it over (nothing was committed) or answers 409 idempotency.outcome_unknown (committed).
                log.warning("idempotency key not settled, database unavailable: %s", type(error).__name__)

    async def _claim(self, sessionmaker: Any, scope_key: str, key: str, digest: str) -> Any:
        now = utcnow()
        async with sessionmaker() as db:
            if random.random() < 0.01:
                await db.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
            row = (await db.execute(
                select(IdempotencyKey).where(IdempotencyKey.scope == scope_key, IdempotencyKey.key == key)
            )).scalar_one_or_none()
            if row is not None and row.expires_at < now:
                await db.delete(row)
                await db.flush()
                row = None
            if row is None:
                claim = IdempotencyClaim(uuid4())
                db.add(IdempotencyKey(id=claim.id, scope=scope_key, key=key, request_hash=digest, created_at=now,
                                      expires_at=now + self.retention, lease_until=now + LEASE))
                try:
                    await db.commit()
                except IntegrityError:  # a parallel request with this key claimed it first
                    return _problem(409, IN_PROGRESS)
                return claim
            if row.request_hash != digest:
                return _problem(422, KEY_REUSED)
            if row.status_code is not None and row.response_body is not None:
                return _replay(row.status_code, row.response_headers or {}, row.response_body)
            if row.lease_until > now:  # still running, or committed and about to store its answer
                return _problem(409, IN_PROGRESS)
            if row.committed_at is not None:
                return _problem(409, OUTCOME_UNKNOWN)
            # The first attempt's worker died before committing anything: take the claim over.
            taken = await db.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.id == row.id, IdempotencyKey.lease_until == row.lease_until,
                       IdempotencyKey.committed_at.is_(None))
                .values(lease_until=now + LEASE)
            )
            await db.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return _problem(409, IN_PROGRESS)
            return IdempotencyClaim(row.id)

    async def _settle(self, sessionmaker: Any, claim: IdempotencyClaim, captured: dict[str, Any]) -> None:
        """Store the answer of a request that committed; drop the claim of one that wrote nothing."""
        async with sessionmaker() as db:
            if claim.committed and captured["status"] < 500:
                kept = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in captured["headers"]
                        if k.decode("latin-1").lower() in REPLAYED_HEADERS}
                await db.execute(
                    update(IdempotencyKey).where(IdempotencyKey.id == claim.id)
                    .values(status_code=captured["status"], response_headers=kept, response_body=bytes(captured["body"]))
                )
            elif not claim.committed:
                await db.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim.id,
                                                              IdempotencyKey.committed_at.is_(None)))
            await db.commit()


async def _buffer(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    chunks: list[bytes] = []
    size = 0
    more = True
    messages: list[Message] = []
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        more = message.get("more_body", False)
        if size > limit:
            break
    replay = list(messages)

    async def replayed() -> Message:
        if replay:
            return replay.pop(0)
        return await receive()

    return (b"".join(chunks) if size <= limit else None), replayed


def _problem(status: int, code: str) -> Any:
    async def answer(send: Send, lang: str) -> None:
        await _send_problem(send, lang, status, code)

    return answer


def _replay(status: int, headers: dict[str, str], body: bytes) -> Any:
    async def answer(send: Send, lang: str) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw += [(b"idempotent-replayed", b"true"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return answer


async def _send_problem(send: Send, lang: str, status: int, code: str) -> None:
    body = json.dumps(problem_body(lang, status, code, {})).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", PROBLEM_JSON.encode()), (b"content-language", lang.encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
