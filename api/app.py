"""The one place the app is put together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)

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
from api.problems import EXCEPTION_HANDLERS, PROBLEM_JSON
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

    app = Litestar(
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
    _document_problems_in_openapi(app)
    return app


PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="application/problem+json (RFC 9457) with a stable machine `code`; a refusal may add its own "
                "details (e.g. `retry_after`) and validation problems list the fields in `errors`.",
    required=["type", "title", "status", "detail", "code"],
    properties={
        "type": Schema(type=OpenAPIType.STRING), "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER), "detail": Schema(type=OpenAPIType.STRING),
        "code": Schema(type=OpenAPIType.STRING), "instance": Schema(type=OpenAPIType.STRING),
        "errors": Schema(type=OpenAPIType.ARRAY, items=Schema(
            type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING))),
    },
)
PROBLEM_STATUSES = {
    400: "The body is not JSON (`request.malformed`).",
    401: "No token, or one that is not valid (`auth.*`).",
    403: "The caller may see the resource but not do this.",
    404: "Nothing there that the caller may see.",
    409: "A conflict with what is there (e.g. a client id reused with another body).",
    412: "The version in If-Match (or the body) is not the current one.",
    413: "The body is larger than the limit.",
    415: "The body is not of a media type this endpoint takes.",
    422: "A field, a parameter or a rule refuses the request; `errors` names the fields.",
    429: "Too many attempts; see Retry-After.",
    503: "The database is not reachable; try again after Retry-After.",
}
PUBLIC_AUTH_PATHS = {"/api/v1/auth/login", "/api/v1/auth/refresh"}


def _problem_statuses(path: str, method: str, public: bool) -> set[int]:
    """The problem statuses an operation can answer (every error is application/problem+json)."""
    if path == "/health":
        return {503}
    statuses = {400, 404, 422, 503}
    if not public:
        statuses |= {401, 403}
    if path in PUBLIC_AUTH_PATHS:
        statuses |= {401, 429}
    if method != "get":
        statuses |= {409, 412, 413, 415}
    return statuses


def document_problems(spec: OpenAPI) -> OpenAPI:
    """Document the problem answers of every operation, and the 200 of a create retried with the same client id
    (Litestar would document only its own 400 shape, which our problem handler never answers)."""
    assert spec.components is not None
    spec.components.schemas = {**(spec.components.schemas or {}), "Problem": PROBLEM_SCHEMA}
    problem = {PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))}
    for path, item in (spec.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            responses = dict(operation.responses or {})
            if "201" in responses and "200" not in responses:
                created = responses["201"]
                assert isinstance(created, OpenAPIResponse)
                responses["200"] = OpenAPIResponse(
                    description="The existing resource: a retry with the same client `id` and body.",
                    content=created.content, headers=created.headers)
            if any(getattr(x, "name", "").lower() == "if-none-match" for x in operation.parameters or []):
                responses["304"] = OpenAPIResponse(description="Not modified: the ETag in If-None-Match is current.")
            public = operation.security == [{}] or path in PUBLIC_AUTH_PATHS
            for status in sorted(_problem_statuses(path, method, public)):
                responses[str(status)] = OpenAPIResponse(description=PROBLEM_STATUSES[status], content=problem)
            operation.responses = responses
    return spec


class _ProblemDocumentingOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        return document_problems(super()._build_openapi())


def _document_problems_in_openapi(app: Litestar) -> None:
    """Post-process the OpenAPI document when it is built (lazily, so building an app stays cheap)."""
    app.plugins.get(OpenAPIPlugin).__class__ = _ProblemDocumentingOpenAPIPlugin


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
