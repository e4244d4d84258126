"""The one place the app is put together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from api.auth import BearerAuthMiddleware, TokenService
from api.controllers.admin import AdminController
from api.controllers.auth import AuthController, session_policy
from api.controllers.coach import CoachController
from api.controllers.exports import ExportController
from api.controllers.groups import GroupController, MemberController
from api.controllers.health import health
from api.controllers.loans import LoanController, ShareOutController
from api.controllers.luistergroepen import (
    AgreementsController,
    CalendarController,
    SeriesController,
    SessionController,
)
from api.controllers.people import MeController, ProgrammeController, UserController
from api.controllers.spaarkring import CycleController, LedgerController, MeetingController
from api.deps import provide_actor, provide_db
from api.idempotency import IdempotencyMiddleware
from api.observability import RequestLogMiddleware
from api.problems import EXCEPTION_HANDLERS
from api.settings import Settings
from domain.database import make_engine, make_sessionmaker

VERSION = "0.1.0"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

ROUTE_HANDLERS: list[Any] = [
    health,
    AuthController,
    MeController,
    UserController,
    ProgrammeController,
    GroupController,
    MemberController,
    CycleController,
    MeetingController,
    LedgerController,
    LoanController,
    ShareOutController,
    CoachController,
    AdminController,
    ExportController,
    AgreementsController,
    SeriesController,
    SessionController,
    CalendarController,
]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Kringkas",
        version=VERSION,
        description="The books and the calendar of spaarkringen and luistergroepen. Money is integer cents (EUR); "
        "errors are application/problem+json with a stable `code`.",
        path="/schema",
        render_plugins=[ScalarRenderPlugin()],
        components=Components(security_schemes={
            "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
        }),
        security=[{"BearerToken": []}],
        use_handler_docstrings=True,
    )


def create_app(settings: Settings) -> Litestar:
    tokens = TokenService(settings)

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    cors = CORSConfig(allow_origins=settings.cors_origins, allow_headers=[
        "Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Accept-Language"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"], expose_headers=["ETag", "Location", "Retry-After"],
    ) if settings.cors_origins else None

    return Litestar(
        route_handlers=ROUTE_HANDLERS,
        dependencies={"db": Provide(provide_db), "actor": Provide(provide_actor)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            RequestLogMiddleware,
            DefineMiddleware(BearerAuthMiddleware, tokens=tokens),
            DefineMiddleware(IdempotencyMiddleware, retention_days=settings.idempotency_retention_days,
                             max_body_bytes=settings.max_body_bytes),
        ],
        lifespan=[database],
        state=_state(settings, tokens),
        openapi_config=openapi_config(),
        cors_config=cors,
        request_max_body_size=settings.max_body_bytes,
        before_send=[_security_headers],
        debug=False,
    )


def _state(settings: Settings, tokens: TokenService) -> State:
    return State({"settings": settings, "tokens": tokens, "session_policy": session_policy(settings)})


async def _security_headers(message: Any, scope: Any) -> None:
    if message["type"] == "http.response.start":
        headers = message.setdefault("headers", [])
        present = {k.lower() for k, _ in headers}
        for name, value in SECURITY_HEADERS.items():
            if name.lower().encode() not in present:
                headers.append((name.lower().encode(), value.encode()))


def app_from_env() -> Litestar:
    """Factory for uvicorn workers: reads the environment (and the generated secret file)."""
    from api.observability import configure_logging
    from api.settings import load_settings

    configure_logging()
    return create_app(load_settings())
