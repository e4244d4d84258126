"""Moving an organisation with `kringkas dump` and `kringkas restore`: the demo organisation goes from
SQLite to the engine under test (PostgreSQL when it answers) and back to a fresh SQLite file, and comes
out the same row for row, balance for balance and chain head for chain head. A restore that is refused,
or fails halfway, writes nothing."""

from __future__ import annotations

import io
import json
import shutil
from hashlib import sha256
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import JSON, func, insert, select
from sqlalchemy.sql.elements import Null
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.settings import Settings
from domain import books, people
from domain.access import Actor
from domain.database import make_engine, make_sessionmaker
from domain.demo import ORGANISATION, PASSWORD, _id, load_demo
from domain.dump import (
    EXCLUDED,
    SCOPES,
    DumpRefused,
    DumpSummary,
    RestoreSummary,
    code_revision,
    decode,
    dump_organisation,
    encode,
    plan,
    restore_organisation,
)
from domain.migrate import migrate, upgrade
from domain.models import Base, Cycle, Group, GroupBegeleider, Meeting, Organisation, Role, SessionSeries, User
from tests.test_cli import Cli

T = TypeVar("T")
TODAY = date.today()  # the demo's dates follow the day, as `kringkas demo` does; the split below is ahead of now
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ADMIN = _id("admin@demo.kringkas.nl")
LUISTERGROEP = _id("Luistergroep De Kapel")
CONTINUATION = UUID("00000000-0000-4000-8000-000000000001")  # sorts before the series it continues
OTHER_ORGANISATION = "Stichting Ander"


# --- helpers -------------------------------------------------------------------------------------
async def in_session(url: str, work: Callable[[AsyncSession], Awaitable[T]], *, commit: bool = True) -> T:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            result = await work(db)
            if commit:
                await db.commit()
            return result
    finally:
        await engine.dispose()


async def dump(url: str, path: Path, organisation: str | None = ORGANISATION) -> DumpSummary:
    with path.open("wb") as sink:
        return await in_session(url, lambda db: dump_organisation(db, sink, organisation, now=NOW))


async def restore(url: str, path: Path) -> RestoreSummary:
    with path.open("rb") as source:
        return await in_session(url, lambda db: restore_organisation(db, source))


def lines(path: Path) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """(header, row lines, end line) of a dump."""
    text = path.read_text(encoding="utf-8").splitlines()
    return json.loads(text[0]), text[1:-1], json.loads(text[-1])


async def row_counts(url: str) -> dict[str, int]:
    async def count(db: AsyncSession) -> dict[str, int]:
        return {table.name: (await db.execute(select(func.count()).select_from(table))).scalar_one()
                for table in Base.metadata.sorted_tables}
    return await in_session(url, count, commit=False)


async def the_books(url: str) -> dict[UUID, tuple[Any, ...]]:
    """What the API shows of every cycle of the demo: balances, the chain's verification and its head."""
    async def read(db: AsyncSession) -> dict[UUID, tuple[Any, ...]]:
        organisation_id = (await db.execute(
            select(Organisation.id).where(Organisation.name == ORGANISATION))).scalar_one()
        admin = Actor(ADMIN, organisation_id, Role.ADMIN)
        cycles = (await db.execute(select(Cycle).join(Group, Group.id == Cycle.group_id)
                                   .where(Group.organisation_id == organisation_id).order_by(Cycle.id))).scalars()
        found = {}
        for cycle in cycles:
            report = await books.verify(db, admin, cycle.id)
            assert report.ok, (cycle.id, report)
            found[cycle.id] = (asdict(await books.balances(db, admin, cycle.id)), report, cycle.entry_count,
                               cycle.head_hash)
        return found
    return await in_session(url, read, commit=False)


def app_settings(url: str) -> Settings:
    return Settings(database_url=url, secret_key="test-only-" + "k" * 40, env="test", password_profile="test")


async def login(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- the source: the demo, the few things the demo leaves empty, and a second organisation ----------
async def discrepancy_meeting(db: AsyncSession) -> UUID:
    return (await db.execute(select(Meeting.id).where(Meeting.discrepancy_cents != 0)
                             .order_by(Meeting.id).limit(1))).scalar_one()


async def fill_source(url: str) -> dict[str, Any]:
    """Load the demo, then through the API add what it leaves empty: a discrepancy explained (with an
    Idempotency-Key), calendar feeds of a group and of a begeleider, a split series and an export (an
    audit event); also a refresh token and a failed login, which are not moved. Returns what the
    round trip checks afterwards."""
    async def demo(db: AsyncSession) -> tuple[UUID, UUID]:
        await load_demo(db, password_profile="test", today=TODAY)
        other = await people.get_or_create_organisation(db, OTHER_ORGANISATION)
        await people.add_user(db, other.id, people.NewUser("ans@ander.nl", PASSWORD, Role.ADMIN, "Ans"),
                              password_profile="test")
        await db.flush()
        series = (await db.execute(select(SessionSeries.id).where(SessionSeries.group_id == LUISTERGROEP))).scalar_one()
        return await discrepancy_meeting(db), series

    meeting_id, series_id = await in_session(url, demo)
    async with AsyncTestClient(app=create_app(app_settings(url)), base_url="http://testserver.local") as client:
        admin = await login(client, "admin@demo.kringkas.nl")
        assert (await client.post("/api/v1/auth/login", json={"email": "admin@demo.kringkas.nl",
                                                               "password": "wrong"})).status_code == 401
        note_request = {"path": f"/api/v1/meetings/{meeting_id}/discrepancy-explanations",
                        "json": {"note": "Vijf euro te weinig: een briefje viel achter de kist."},
                        "headers": {**admin, "Idempotency-Key": "uitleg-1"}}
        note = await client.post(note_request["path"], json=note_request["json"], headers=note_request["headers"])
        assert note.status_code == 201, note.text
        group_feed = await client.post(f"/api/v1/groups/{LUISTERGROEP}/calendar-token", headers=admin)
        youssef = await login(client, "youssef@demo.kringkas.nl")
        coach_feed = await client.post("/api/v1/coach/calendar-token", headers=youssef)
        assert group_feed.status_code == coach_feed.status_code == 200
        split = await client.post(f"/api/v1/series/{series_id}/split", headers=admin, json={
            "id": str(CONTINUATION), "from_on": (TODAY + timedelta(days=14)).isoformat(),
            "location": "Buurthuis De Kaap"})
        assert split.status_code == 201, split.text
        funder = await login(client, "fonds@demo.kringkas.nl")
        export = await client.get(f"/api/v1/exports/impact?programme_id={_id('programme')}&from="
                                  f"{(TODAY - timedelta(days=400)).isoformat()}&to={TODAY.isoformat()}&format=json",
                                  headers=funder)
        assert export.status_code == 200, export.text
    return {"note": note.json(), "note_request": note_request,
            "feeds": [group_feed.json()["feed_url"], coach_feed.json()["feed_url"]]}


@pytest.fixture
def fresh_sqlite(tmp_path: Path, sqlite_template: Path) -> Callable[[str], str]:
    """A new migrated SQLite file, copied from the worker's template as conftest does."""
    def make(name: str) -> str:
        path = tmp_path / f"{name}.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    return make


@pytest.fixture
async def source(fresh_sqlite: Callable[[str], str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    url = fresh_sqlite("source")
    yield url, await fill_source(url)


# --- the tests -----------------------------------------------------------------------------------
def test_every_table_is_either_moved_or_left_out_with_a_reason() -> None:
    tables = {table.name for table in Base.metadata.sorted_tables}
    assert not set(SCOPES) & set(EXCLUDED)
    missing = tables - set(SCOPES) - set(EXCLUDED)
    assert not missing, f"add these tables to SCOPES in domain/dump.py, or to EXCLUDED with a reason: {missing}"
    assert set(SCOPES) | set(EXCLUDED) == tables  # and nothing is listed that no longer exists
    assert all(len(reason) > 20 for reason in EXCLUDED.values())
    moved = plan()  # every column has a codec, every foreign key can be inserted in order
    assert [p.name for p in moved][0] == "organisations"
    assert {p.name for p in moved} == set(SCOPES)
    assert {(p.name, column) for p in moved for column in p.deferred} == {("users", "member_id")}


def test_every_codec_gives_back_exactly_what_it_was_given() -> None:
    moment = datetime(2026, 3, 29, 1, 30, 0, 7, tzinfo=timezone(timedelta(hours=2)))
    assert encode("datetime", moment) == "2026-03-28T23:30:00.000007+00:00"
    assert decode("datetime", encode("datetime", moment)) == moment
    with pytest.raises(ValueError, match="without offset"):
        decode("datetime", "2026-03-28T23:30:00")
    assert decode("bytes", encode("bytes", bytes(range(256)))) == bytes(range(256))
    assert decode("int", encode("int", 2**63 - 1)) == 2**63 - 1
    for wrong in (True, 1.0, "1"):
        with pytest.raises(ValueError):
            decode("int", wrong)
    member = _id("someone")
    assert encode("uuid", member) == str(member) and decode("uuid", str(member)) == member
    assert decode("date", encode("date", TODAY)) == TODAY
    assert encode("str", Role.BEGELEIDER) == "begeleider" and decode("bool", False) is False
    assert encode("json", ["a", {"b": 1}]) == '["a",{"b":1}]' and decode("json", '["a",{"b":1}]') == ["a", {"b": 1}]
    # a stored JSON null and SQL NULL stay apart
    assert decode("json", "null") is JSON.NULL
    assert isinstance(decode("json", None), Null) and decode("uuid", None) is None


async def test_the_demo_goes_to_the_other_engine_and_back_with_every_row_balance_and_chain_head_the_same(
    source: tuple[str, dict[str, Any]], database_url: str, fresh_sqlite: Callable[[str], str], tmp_path: Path
) -> None:
    source_url, made = source
    back_url = fresh_sqlite("back")
    first, second, third = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "third.jsonl"

    dumped = await dump(source_url, first)
    assert dumped.organisation_name == ORGANISATION
    assert all(dumped.rows[name] > 0 for name in SCOPES), dumped.rows  # the proof covers every moved table
    restored = await restore(database_url, first)
    assert restored.rows == dumped.rows and set(restored.excluded) == set(EXCLUDED)
    await dump(database_url, second)
    await restore(back_url, second)
    await dump(back_url, third)

    (h1, rows1, end1), (h2, rows2, end2), (h3, rows3, end3) = lines(first), lines(second), lines(third)
    assert rows1 == rows2 == rows3  # row for row, value for value, in the same order
    assert end1["rows"] == end2["rows"] == end3["rows"] == dumped.rows
    assert h1 == h3  # the same header, both written from SQLite
    assert {k: v for k, v in h2.items() if k != "source_engine"} == {k: v for k, v in h1.items()
                                                                     if k != "source_engine"}
    assert h2["source_engine"] == database_url.split("+")[0]
    assert h1["alembic_revision"] == code_revision()

    expected = await the_books(source_url)
    assert len(expected) == dumped.rows["cycles"] and sum(found[2] for found in expected.values()) > 0
    assert await the_books(database_url) == expected
    assert await the_books(back_url) == expected

    # only this organisation moved, and no sessions or throttles with it
    source_counts, target_counts = await row_counts(source_url), await row_counts(database_url)
    assert source_counts["organisations"] == 2 and target_counts["organisations"] == 1
    assert source_counts["refresh_tokens"] > 0 and source_counts["login_throttles"] > 0
    assert target_counts["refresh_tokens"] == target_counts["login_throttles"] == 0
    assert await row_counts(back_url) == target_counts

    # and the moved organisation works: people log in again, feed URLs still answer, and a retried
    # request whose answer was lost before the move is answered from its Idempotency-Key, not run twice
    async with AsyncTestClient(app=create_app(app_settings(database_url)), base_url="http://testserver.local") as client:
        admin = await login(client, "admin@demo.kringkas.nl")
        for url in made["feeds"]:
            feed = await client.get(url.removeprefix("http://testserver.local"))
            assert feed.status_code == 200 and b"BEGIN:VCALENDAR" in feed.content
        request = made["note_request"]
        retry = await client.post(request["path"], json=request["json"],
                                  headers={**request["headers"], **admin})
        assert retry.status_code == 201 and retry.json() == made["note"]
    assert (await row_counts(database_url))["meeting_notes"] == 1


async def test_a_dump_is_refused_by_a_database_at_another_revision_and_nothing_is_written(
    source: tuple[str, dict[str, Any]], database_url: str, tmp_path: Path
) -> None:
    source_url, _ = source
    path = tmp_path / "demo.jsonl"
    await dump(source_url, path)
    older = tmp_path / "older.sqlite3"
    older_url = f"sqlite+aiosqlite:///{older}"
    await migrate(older_url, "0004")
    with pytest.raises(DumpRefused, match="revision 0005, this database is at 0004"):
        await restore(older_url, path)
    async def organisations(db: AsyncSession) -> int:
        return (await db.execute(select(func.count()).select_from(Organisation))).scalar_one()
    assert await in_session(older_url, organisations) == 0

    header, rows, _ = lines(path)  # and a dump from elsewhere that claims another revision
    header["alembic_revision"] = "0004"
    resealed = reseal(tmp_path / "claims_0004.jsonl", header, rows)
    before = await row_counts(database_url)
    with pytest.raises(DumpRefused, match="revision 0004, this database is at 0005"):
        await restore(database_url, resealed)
    assert await row_counts(database_url) == before


def reseal(path: Path, header: dict[str, Any], rows: list[str]) -> Path:
    """Write a dump with a correct end line, as a dump made elsewhere would have."""
    body = "".join(line + "\n" for line in [json.dumps(header, ensure_ascii=False, separators=(",", ":")), *rows])
    counts = {table["name"]: 0 for table in header["tables"]}
    for line in rows:
        counts[json.loads(line)["table"]] += 1
    end = {"end": True, "rows": counts, "sha256": sha256(body.encode()).hexdigest()}
    path.write_text(body + json.dumps(end) + "\n", encoding="utf-8")
    return path


async def test_restoring_an_organisation_that_is_already_there_is_refused_and_writes_nothing(
    source: tuple[str, dict[str, Any]], database_url: str, tmp_path: Path
) -> None:
    source_url, _ = source
    path = tmp_path / "demo.jsonl"
    await dump(source_url, path)
    await restore(database_url, path)
    after_first = await row_counts(database_url)
    with pytest.raises(DumpRefused, match="already in this database"):
        await restore(database_url, path)
    assert await row_counts(database_url) == after_first
    before = await row_counts(source_url)
    with pytest.raises(DumpRefused, match="already in this database"):
        await restore(source_url, path)
    assert await row_counts(source_url) == before


async def test_a_restore_that_fails_halfway_writes_nothing_at_all(
    source: tuple[str, dict[str, Any]], database_url: str, tmp_path: Path
) -> None:
    source_url, _ = source
    path = tmp_path / "demo.jsonl"
    await dump(source_url, path)
    header, rows, _ = lines(path)
    last = json.loads(rows[-1])
    assert last["table"] == "loan_votes"  # the very last table: everything else is in by then
    last["row"]["member_id"] = "00000000-0000-4000-8000-00000000dead"  # nobody: the foreign key refuses it
    broken = reseal(tmp_path / "broken.jsonl", header, [*rows[:-1], json.dumps(last, separators=(",", ":"))])
    before = await row_counts(database_url)
    with pytest.raises(DumpRefused, match="refused a row of loan_votes"):
        await restore(database_url, broken)
    assert await row_counts(database_url) == before


async def test_a_damaged_or_cut_short_dump_is_refused_before_anything_is_written(
    source: tuple[str, dict[str, Any]], database_url: str, tmp_path: Path
) -> None:
    source_url, _ = source
    path = tmp_path / "demo.jsonl"
    await dump(source_url, path)
    data = path.read_bytes()
    before = await row_counts(database_url)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DumpRefused, match="cut short"):
        await restore(database_url, cut)
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(data.replace(b'"amount_cents":', b'"amount_cents":1', 1))
    with pytest.raises(DumpRefused, match="checksum"):
        await restore(database_url, changed)
    with pytest.raises(DumpRefused, match="not a Kringkas dump"):
        await restore_organisation_from_bytes(database_url, b'{"hello": "world"}\n')
    assert await row_counts(database_url) == before


async def restore_organisation_from_bytes(url: str, data: bytes) -> RestoreSummary:
    return await in_session(url, lambda db: restore_organisation(db, io.BytesIO(data)))


async def test_dump_takes_the_only_organisation_by_default_and_asks_which_when_there_are_several(
    source: tuple[str, dict[str, Any]], fresh_sqlite: Callable[[str], str], tmp_path: Path
) -> None:
    source_url, _ = source
    with pytest.raises(DumpRefused, match="several organisations"):
        await dump(source_url, tmp_path / "which.jsonl", None)
    with pytest.raises(DumpRefused, match="no organisation named or numbered"):
        await dump(source_url, tmp_path / "nobody.jsonl", "Stichting Niemand")
    other = await dump(source_url, tmp_path / "other.jsonl", OTHER_ORGANISATION)
    assert other.rows["users"] == 1 and other.rows["ledger_entries"] == 0
    by_id = await dump(source_url, tmp_path / "by_id.jsonl", str(other.organisation_id))
    assert lines(tmp_path / "by_id.jsonl")[1] == lines(tmp_path / "other.jsonl")[1]
    alone = fresh_sqlite("alone")
    await restore(alone, tmp_path / "other.jsonl")
    only = await dump(alone, tmp_path / "only.jsonl", None)
    assert only.organisation_id == by_id.organisation_id == other.organisation_id


async def test_a_row_that_points_outside_the_organisation_stops_the_dump_before_anything_is_written(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The API never links a group to a begeleider of another organisation; should the data ever say so,
    the dump names it rather than write a file no restore can insert."""
    source_url, _ = source
    async def link_across(db: AsyncSession) -> None:
        stranger = (await db.execute(select(User.id).where(User.email == "ans@ander.nl"))).scalar_one()
        await db.execute(insert(GroupBegeleider).values(group_id=LUISTERGROEP, user_id=stranger))
    await in_session(source_url, link_across)
    path = tmp_path / "demo.jsonl"
    with pytest.raises(DumpRefused, match="group_begeleiders point at users outside the organisation"):
        await dump(source_url, path)
    assert path.read_bytes() == b""


# --- the console script --------------------------------------------------------------------------
def test_kringkas_dump_and_restore_move_the_demo_and_refuse_a_second_restore_in_one_line(
    tmp_path: Path, database_url: str
) -> None:
    cli = Cli(tmp_path)
    cli.db.parent.mkdir()
    upgrade(cli.env["DATABASE_URL"])
    cli.ok("demo")
    out = tmp_path / "moved" / "demo.jsonl"
    out.parent.mkdir()
    said = cli.ok("dump", "--out", str(out))  # the only organisation there: no --organisation needed
    assert ORGANISATION in said and str(out) in said and "refresh_tokens" in said
    assert not list(out.parent.glob("*.partial"))

    done = cli("restore", str(out), DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    restored = done.stdout
    assert "restored" in restored and ORGANISATION in restored and "logs in again" in restored
    again = cli("restore", str(out), DATABASE_URL=database_url)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "already in this database" in again.stderr
    assert "Traceback" not in again.stderr

    back = tmp_path / "back.jsonl"
    done = cli("dump", "--organisation", ORGANISATION, "--out", str(back), DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    assert lines(back)[1] == lines(out)[1]

    missing = cli("dump", "--organisation", "Stichting Niemand", "--out", str(tmp_path / "niemand.jsonl"))
    assert missing.returncode == 1 and "Stichting Niemand" in missing.stderr and missing.stderr.count("\n") == 1
    assert not (tmp_path / "niemand.jsonl").exists() and not (tmp_path / "niemand.jsonl.partial").exists()


def test_kringkas_restore_into_a_database_that_was_never_migrated_says_to_migrate(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.db.parent.mkdir()
    header = {"format": "kringkas-dump", "format_version": 1, "alembic_revision": code_revision(),
              "organisation": {"id": str(_id("elsewhere")), "name": "Elders"},
              "tables": [{"name": p.name, "columns": [list(c) for c in p.columns]} for p in plan()]}
    empty = reseal(tmp_path / "empty.jsonl", header, [])
    done = cli("restore", str(empty))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "kringkas migrate" in done.stderr and "Traceback" not in done.stderr
    done = cli("restore", str(tmp_path / "absent.jsonl"))
    assert done.returncode == 1 and "can't read" in done.stderr and done.stderr.count("\n") == 1
