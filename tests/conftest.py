"""Every database test runs once per database that is there: SQLite always, PostgreSQL when it answers.

Each worker migrates one template database once; every test gets a fresh copy of it (a file copy on
SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL), so tests start from an empty migrated schema
without running the migrations again.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.settings import Settings
from domain.database import make_engine, make_sessionmaker, normalise_url
from domain.migrate import upgrade
from tests.world import World

# One name per test run (set by the first process, inherited by the xdist workers), so two runs that
# share a PostgreSQL server never drop each other's template databases.
RUN = os.environ.setdefault("KRINGKAS_TEST_RUN", uuid.uuid4().hex[:8])
WORKER = f'{RUN}_{os.environ.get("PYTEST_XDIST_WORKER", "main")}'
_counter = itertools.count()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return normalise_url(url)
    if _answers("127.0.0.1", 5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    return None


POSTGRES = postgres_url()
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES else [])


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("KRINGKAS_REQUIRE_POSTGRES") == "1" and POSTGRES is None:
        pytest.exit("KRINGKAS_REQUIRE_POSTGRES=1 but no PostgreSQL answers: the PostgreSQL half can't run", returncode=1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    passed = terminalreporter.stats.get("passed", [])
    on_pg = sum(1 for report in passed if "[postgresql" in report.nodeid)
    terminalreporter.write_line(f"kringkas: databases {', '.join(DATABASES)}; {on_pg} tests passed on PostgreSQL")


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    assert POSTGRES is not None
    connection = await asyncpg.connect(_dsn(POSTGRES))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    if POSTGRES is None:
        yield None
        return
    name = f"kk_tpl_{WORKER}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    upgrade(_with_database(POSTGRES, name))
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=DATABASES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, postgres_template: str | None
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "kringkas.sqlite3"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    assert POSTGRES is not None and postgres_template is not None
    name = f"kk_{WORKER}_{os.getpid()}_{next(_counter)}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield _with_database(POSTGRES, name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="test-only-" + "k" * 40, env="test",
                    password_profile="test", refresh_grace_seconds=30)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def world(client: AsyncTestClient[Litestar], sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    """Two organisations with their people and groups, made through the domain functions."""
    return await World.build(client, sessionmaker)
