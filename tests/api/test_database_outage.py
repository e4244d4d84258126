"""When the database can't be reached, every request answers 503 application/problem+json with the code
`database.unavailable` (never a 500), `GET /health` says so, and the app recovers by itself once the
database is back: the request that meets a dead pooled connection fails with 503, the next one reconnects.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.app import create_app
from api.controllers import health as health_module
from api.messages import MESSAGES
from api.problems import DATABASE_UNAVAILABLE, database_unavailable
from api.settings import Settings
from domain.models import Member, utcnow
from tests.conftest import DATABASES, POSTGRES, _dsn
from tests.world import World

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


def free_port() -> int:
    """A port on which nothing listens (bound, then closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_unavailable(response: Any, language: str = "nl") -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    assert PROBLEM_MEMBERS <= body.keys()
    assert (body["status"], body["code"], body["type"]) == (503, DATABASE_UNAVAILABLE, f"/problems/{DATABASE_UNAVAILABLE}")
    assert (body["title"], body["detail"]) == MESSAGES[DATABASE_UNAVAILABLE][0 if language == "nl" else 1]
    return body


def unreachable_url(engine: str, tmp_path: Any) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/no-such-directory/kringkas.sqlite3"
    assert POSTGRES is not None
    return make_url(POSTGRES).set(port=free_port(), database="kringkas").render_as_string(hide_password=False)


def unreachable_postgres_url(port: int) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/kringkas"


@pytest.fixture
async def app_without_database(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app pointed at a database that is not there: `request.param` is the engine, sqlite or postgresql."""
    settings = Settings(database_url=unreachable_url(request.param, tmp_path), secret_key="test-only-" + "k" * 40,
                        env="test", password_profile="test")
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        yield client


def token_for(client: AsyncTestClient[Litestar]) -> str:
    """A valid access token for someone; checking who it is would need the database."""
    token, _ = client.app.state.tokens.issue(SimpleNamespace(id=uuid4()), utcnow())
    return str(token)


# --- nothing answers where the database should be ------------------------------------------------
@pytest.mark.parametrize("app_without_database", DATABASES, indirect=True)
async def test_health_answers_503_problem_and_says_the_database_is_unavailable(
    app_without_database: AsyncTestClient[Litestar],
) -> None:
    response = await app_without_database.get("/health")
    body = assert_unavailable(response)
    assert body["database"] == "unavailable"
    assert body["instance"] == "/health"


@pytest.mark.parametrize("app_without_database", DATABASES, indirect=True)
async def test_every_kind_of_request_answers_503_database_unavailable_never_500(
    app_without_database: AsyncTestClient[Litestar],
) -> None:
    client = app_without_database
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    assert_unavailable(await client.post("/api/v1/auth/login", json={"email": "a@b.nl", "password": "x" * 12}))
    assert_unavailable(await client.get("/api/v1/me", headers=auth))
    assert_unavailable(await client.get("/api/v1/groups", headers=auth))
    assert_unavailable(await client.post(  # the Idempotency-Key middleware needs the database first
        "/api/v1/programmes", json={"name": "Noord", "funder_user_ids": []},
        headers={**auth, "Idempotency-Key": "outage-1"}))
    assert_unavailable(await client.post("/api/v1/programmes", json={"name": "Noord", "funder_user_ids": []},
                                         headers=auth))
    assert_unavailable(await client.get("/api/v1/me", headers={**auth, "Accept-Language": "en"}), "en")


@pytest.mark.parametrize("app_without_database", DATABASES, indirect=True)
async def test_what_needs_no_database_still_answers_as_usual(app_without_database: AsyncTestClient[Litestar]) -> None:
    client = app_without_database
    assert (await client.get("/api/v1/me")).status_code == 401  # no token: refused before the database
    assert (await client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_a_database_that_accepts_but_never_answers_makes_health_503_within_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answer; the connection stays open until the client gives up

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(health_module, "DATABASE_TIMEOUT_SECONDS", 0.5)
    settings = Settings(database_url=unreachable_postgres_url(port), secret_key="test-only-" + "k" * 40, env="test",
                        password_profile="test")
    try:
        async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
            started = asyncio.get_running_loop().time()
            response = await client.get("/health")
            assert asyncio.get_running_loop().time() - started < 5
            assert assert_unavailable(response)["database"] == "unavailable"
    finally:
        server.close()


# --- the database goes away under a running app (PostgreSQL) --------------------------------------
# A server that closes connections or drops a database: PostgreSQL only. These tests take the
# database_url fixture with PostgreSQL alone (no SQLite variant to skip); with no PostgreSQL they don't
# exist, as for every PostgreSQL test, and KRINGKAS_REQUIRE_POSTGRES=1 fails such a run.
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"] if POSTGRES else [], indirect=True)


async def admin_execute(sql: str, *args: Any) -> list[Any]:
    assert POSTGRES is not None
    admin = await asyncpg.connect(_dsn(POSTGRES))
    try:
        return list(await admin.fetch(sql, *args))
    finally:
        await admin.close()


def database_name(database_url: str) -> str:
    return str(make_url(database_url).database)


def cut_connection_at(world: World, statement_start: str) -> list[str]:
    """Arm a one-shot fault: the app's connection dies just before it sends the first statement that starts
    with `statement_start`, as a connection does when PostgreSQL restarts mid-request. Whatever the pool
    does at checkout (domain/database.py), this connection was alive when the request took it."""
    engine = world.client.app.state.engine.sync_engine
    fired: list[str] = []

    def cut(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not fired and statement.lstrip().upper().startswith(statement_start):
            fired.append(statement)
            conn.connection.driver_connection.terminate()  # asyncpg: close the socket, no goodbye

    event.listen(engine, "before_cursor_execute", cut)
    return fired


@ON_POSTGRES
async def test_a_connection_that_dies_mid_request_answers_503_and_the_next_request_reconnects(
    world: World, database_url: str,
) -> None:
    assert (await world.client.get("/api/v1/me", headers=world.auth("admin"))).status_code == 200  # a pooled conn.
    fired = cut_connection_at(world, "SELECT")
    assert_unavailable(await world.client.get("/api/v1/me", headers=world.auth("admin")))
    assert fired
    for _ in range(3):  # SQLAlchemy saw the disconnect and threw the pool's older connections away
        assert (await world.client.get("/api/v1/me", headers=world.auth("admin"))).status_code == 200
    assert (await world.client.get("/health")).json() == {"status": "ok", "database": "ok"}


@ON_POSTGRES
async def test_a_write_cut_off_mid_request_wrote_nothing_and_its_retry_with_the_same_key_runs_once(
    world: World, database_url: str,
) -> None:
    path = f"/api/v1/groups/{world.groups['a']}/members"
    headers = world.auth("admin", **{"Idempotency-Key": "phone-retry-1"})
    async with world.sessionmaker() as db:
        before = (await db.execute(select(func.count()).select_from(Member))).scalar_one()
    fired = cut_connection_at(world, "INSERT INTO MEMBERS")  # after the Idempotency-Key was claimed
    assert_unavailable(await world.client.post(path, json={"display_name": "Samira"}, headers=headers))
    assert fired
    async with world.sessionmaker() as db:
        assert (await db.execute(select(func.count()).select_from(Member))).scalar_one() == before
    created = await world.client.post(path, json={"display_name": "Samira"}, headers=headers)
    assert created.status_code == 201, created.text  # the cut-off attempt left no claim behind
    replayed = await world.client.post(path, json={"display_name": "Samira"}, headers=headers)
    assert (replayed.status_code, replayed.json()) == (201, created.json())
    assert replayed.headers["idempotent-replayed"] == "true"
    async with world.sessionmaker() as db:
        assert (await db.execute(select(func.count()).select_from(Member))).scalar_one() == before + 1


@ON_POSTGRES
async def test_after_the_server_closed_every_connection_no_request_answers_500(world: World, database_url: str) -> None:
    """What a restart leaves behind: every pooled connection closed by the server. Whatever the pool's
    checkout does, a request answers 200, or 503 `database.unavailable` at worst, and the app recovers."""
    for _ in range(3):
        assert (await world.client.get("/api/v1/me", headers=world.auth("admin"))).status_code == 200
    terminated = await admin_execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = $1 AND pid <> pg_backend_pid()", database_name(database_url))
    assert terminated
    first = await world.client.get("/api/v1/me", headers=world.auth("admin"))
    if first.status_code != 200:
        assert_unavailable(first)
    for _ in range(3):
        assert (await world.client.get("/api/v1/me", headers=world.auth("admin"))).status_code == 200


@ON_POSTGRES
async def test_a_dropped_database_answers_503_and_health_says_unavailable(world: World, database_url: str) -> None:
    assert (await world.client.get("/api/v1/me", headers=world.auth("admin"))).status_code == 200
    await admin_execute(f'DROP DATABASE "{database_name(database_url)}" WITH (FORCE)')
    assert_unavailable(await world.client.get("/api/v1/me", headers=world.auth("admin")))
    assert_unavailable(await world.client.get("/api/v1/me", headers=world.auth("admin", **{"Accept-Language": "en"})),
                       "en")
    assert assert_unavailable(await world.client.get("/health"))["database"] == "unavailable"


# --- which errors mean "the database is unavailable" -----------------------------------------------
def wrapped(orig: BaseException, *, invalidated: bool = False, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    """What SQLAlchemy raises around a driver error (the driver's error as `orig` and as the cause)."""
    try:
        try:
            raise orig
        except BaseException as cause:
            raise kind("SELECT 1", None, cause, connection_invalidated=invalidated) from cause
    except DBAPIError as error:
        return error


@pytest.mark.parametrize(("error", "unavailable"), [
    (ConnectionRefusedError(111, "Connect call failed"), True),
    (ConnectionResetError(104, "reset by peer"), True),
    (TimeoutError(), True),
    (socket.gaierror(-2, "Name or service not known"), True),
    (PoolTimeout("QueuePool limit of size 10 overflow 10 reached"), True),
    (wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")), True),
    (wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")), True),
    (wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
     True),
    (wrapped(asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")), True),
    (wrapped(asyncpg.exceptions.InvalidCatalogNameError('database "kk" does not exist')), True),
    (wrapped(asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed")), True),
    (wrapped(ValueError("anything"), invalidated=True), True),
    (wrapped(ValueError("unable to open database file"), kind=OperationalError), True),
    (ExceptionGroup("task group", [ValueError("x"), ConnectionRefusedError()]), True),
    (wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key"), kind=IntegrityError), False),
    (wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")), False),
    (wrapped(asyncpg.exceptions.UndefinedTableError('relation "x" does not exist')), False),
    (wrapped(asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress")),
     False),
    (ValueError("not a database problem"), False),
    (KeyError("x"), False),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value))
def test_which_errors_mean_the_database_is_unavailable(error: BaseException, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable


@ON_POSTGRES
async def test_an_answer_whose_idempotency_record_could_not_be_stored_still_reaches_the_phone_once(
    world: World, database_url: str,
) -> None:
    path = f"/api/v1/groups/{world.groups['a']}/members"
    headers = world.auth("admin", **{"Idempotency-Key": "settle-cut-1"})
    fired = cut_connection_at(world, "UPDATE IDEMPOTENCY_KEYS SET STATUS_CODE")  # storing the answer, after the commit
    created = await world.client.post(path, json={"display_name": "Samira"}, headers=headers)
    assert fired and created.status_code == 201, created.text  # the phone has its answer, the connection lives on
    retry = await world.client.post(path, json={"display_name": "Samira"}, headers=headers)
    assert (retry.status_code, retry.json()["code"]) == (409, "idempotency.in_progress")  # never a second member
    async with world.sessionmaker() as db:
        names = (await db.execute(select(func.count()).select_from(Member).where(Member.display_name == "Samira")))
        assert names.scalar_one() == 1
