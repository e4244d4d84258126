"""One log line per request, with a request id and the user id, and nothing personal.

Never logged: names, phone numbers, amounts, bodies, query strings, passwords, tokens. Paths are logged
with ids kept (they are opaque) but the secret part of a calendar feed URL replaced.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from uuid import uuid4

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AccessClaims
from api.problems import database_unavailable

log = logging.getLogger("kringkas.requests")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECRET_SEGMENTS = re.compile(r"(/api/v1/feeds/)[^/]+")


def loggable_path(path: str) -> str:
    return SECRET_SEGMENTS.sub(r"\1[redacted]", path)


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object per line; only the fields we chose to put there."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"at": self.formatTime(record), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(line, separators=(",", ":"))


def configure_logging(level: int = logging.INFO) -> None:
    """Written on the event loop's thread: a hand-over to a listener thread measured slower (bench/books.py)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("kringkas")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class RequestLogMiddleware:
    """Outermost: gives every request an id (or takes the caller's X-Request-ID) and logs how it ended."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-request-id"), "")
        if not REQUEST_ID.match(request_id):
            request_id = uuid4().hex
        scope["request_id"] = request_id  # type: ignore[typeddict-unknown-key]
        started = time.perf_counter()
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            if not answered and database_unavailable(error):
                status = 503  # what api/problems.py answers for it, outside this middleware
            raise
        finally:
            user = scope.get("user")
            log.info("request", extra={"fields": {
                "request_id": request_id, "method": scope["method"], "path": loggable_path(scope["path"]),
                "status": status, "ms": int((time.perf_counter() - started) * 1000),
                "user_id": str(user.user_id) if isinstance(user, AccessClaims) else None,
            }})
