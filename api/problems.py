"""The one place where anything that goes wrong becomes application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.messages import pick_language, render_message
from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Refused,
    TooManyAttempts,
    Unauthenticated,
)

log = logging.getLogger("kringkas.problems")

PROBLEM_JSON = "application/problem+json"
STATUS_BY_KIND: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (Unauthenticated, 401),
    (TooManyAttempts, 429),
    (PreconditionFailed, 412),
    (Refused, 422),
)


def problem_body(
    lang: str, status: int, code: str, params: Mapping[str, object], errors: list[dict[str, str]] | None = None
) -> dict[str, object]:
    title, detail = render_message(code, lang, params)
    body: dict[str, object] = {**params, "type": f"/problems/{code}", "title": title, "status": status,
                               "detail": detail, "code": code}  # a param never overrides a member of RFC 9457
    if errors is not None:
        body["errors"] = errors
    return body


def problem(
    request: Request[Any, Any, Any], status: int, code: str, params: Mapping[str, object] | None = None,
    errors: list[dict[str, str]] | None = None, headers: Mapping[str, str] | None = None,
) -> Response[dict[str, object]]:
    lang = pick_language(request.headers.get("accept-language"))
    body = problem_body(lang, status, code, params or {}, errors)
    body["instance"] = request.url.path
    return Response(body, status_code=status, media_type=PROBLEM_JSON,
                    headers={"Content-Language": lang, **(headers or {})})


def on_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, object]]:
    status = next((s for kind, s in STATUS_BY_KIND if isinstance(exc, kind)), 422)
    headers: dict[str, str] = {}
    if status == 429 and "retry_after" in exc.params:
        headers["Retry-After"] = str(exc.params["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kringkas"'
    errors = None
    if isinstance(path := exc.params.get("path"), str):
        # a rule broken by one item of a larger body (an offline sync): name the item and its field
        _, detail = render_message(exc.code, pick_language(request.headers.get("accept-language")), exc.params)
        errors = [{"field": path, "code": exc.code, "message": detail}]
    return problem(request, status, exc.code, exc.params, errors=errors, headers=headers)


def _field_path(key: str, source: str | None) -> str:
    return key if key else (source or "body")


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, object]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    detail = (exc.detail or "").lower()
    if not extra and ("malformed" in detail or "decode" in detail):
        return problem(request, 400, "request.malformed")
    errors = []
    for item in extra:
        if isinstance(item, Mapping):
            errors.append({"field": _field_path(str(item.get("key") or ""), item.get("source")),
                           "message": str(item.get("message", "invalid"))})
    if not errors:
        errors.append({"field": "body", "message": exc.detail or "invalid"})
    return problem(request, 422, "request.invalid", errors=errors)


HTTP_CODES = {
    400: "request.malformed",
    404: "resource.not_found",
    405: "request.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    401: "auth.token_missing",
    403: "access.role_not_allowed",
    429: "auth.too_many_attempts",
    503: "server.unavailable",
}


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
    if isinstance(exc, NotFoundException):
        return problem(request, 404, "resource.not_found")
    if isinstance(exc, MethodNotAllowedException):
        return problem(request, 405, "request.method_not_allowed", headers=exc.headers or {})
    status = exc.status_code
    code = HTTP_CODES.get(status)
    if code is None:
        if status >= 500:
            log.error("http error %s", status)
            return problem(request, 500, "server.error")
        code = "request.malformed" if status == 400 else "request.invalid"
    return problem(request, status, code)


def on_integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, object]]:
    log.info("integrity error became 409: %s", type(exc.orig).__name__)
    return problem(request, 409, "request.conflict")


DATABASE_UNAVAILABLE = "database.unavailable"
RETRY_AFTER_SECONDS = 5
# SQLSTATEs meaning the database can't be reached or used right now, not that the request is wrong:
# 08 connection exceptions, 53 insufficient resources (e.g. too many connections), 57P01-57P04 the server
# shutting down, crashed, starting up or the database dropped, 3D000 the database does not exist.
UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "57P04", "3D000")


def database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc`, or anything that caused it, means the database can't be reached right now.

    That is: SQLAlchemy saw the connection die (`connection_invalidated`, which also makes it throw the
    pool's older connections away, so later requests reconnect); an OperationalError (SQLite: the file
    can't be opened, or is locked); the pool gave no connection in time; a socket error or timeout while
    connecting (asyncpg raises those unwrapped); or a server answer with one of UNAVAILABLE_SQLSTATES
    (asyncpg's errors carry `sqlstate`, psycopg's `pgcode`).
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OperationalError | PoolTimeout | OSError):  # OSError: refused, reset, TimeoutError
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(UNAVAILABLE_SQLSTATES):
            return True
        if type(current).__name__ == "InterfaceError" and "connection is closed" in str(current):
            return True  # asyncpg: a statement on a connection the server or the network closed
        todo += [current.__cause__, current.__context__]
    return False


def on_database_unavailable(
    request: Request[Any, Any, Any], exc: BaseException, **details: object
) -> Response[dict[str, object]]:
    """503 `database.unavailable`: nothing is wrong with the request, so the same request (same
    Idempotency-Key, same client ids) can simply be sent again."""
    log.warning("database unavailable: %s", type(exc).__name__)  # the class only: messages may hold values
    return problem(request, 503, "database.unavailable", details,  # = DATABASE_UNAVAILABLE, spelled out for
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # tests/test_messages.py's search


def on_db_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, object]]:
    if isinstance(exc, IntegrityError):
        return on_integrity_error(request, exc)
    if database_unavailable(exc):
        return on_database_unavailable(request, exc)
    return on_unexpected(request, exc)


def on_too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, object]]:
    # JSON nested deeper than the decoder recurses (e.g. 10,000 levels of `[`): a malformed request, not our fault
    log.warning("recursion error became 400: %s", exc)
    return problem(request, 400, "request.malformed")


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    if database_unavailable(exc):
        return on_database_unavailable(request, exc)
    log.exception("unexpected error", exc_info=exc)
    return problem(request, 500, "server.error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: on_domain_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    DBAPIError: on_db_error,
    RecursionError: on_too_deep,
    Exception: on_unexpected,
}
