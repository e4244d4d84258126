"""Moving an organisation between databases: `kringkas dump` and `kringkas restore`.

A dump is one organisation, exactly as stored, in a portable text file that does not care which engine
wrote it: SQLite to PostgreSQL and back gives the same rows, the same balances and the same hash chains.

The format (`kringkas-dump`, version 1) is JSON Lines, UTF-8, one JSON object per line:

1. A header: `{"format": "kringkas-dump", "format_version": 1, "alembic_revision": "0005",
   "organisation": {"id": …, "name": …}, "dumped_at": …, "source_engine": "sqlite",
   "tables": [{"name": "organisations", "columns": [["id", "uuid"], …]}, …], "excluded": {table: reason}}`.
   `tables` lists every table that is moved, in foreign-key order, with its columns and their codecs.
2. One line per row, `{"table": "users", "row": {column: value, …}}`, table after table in the
   header's order, so a parent row always comes before the rows that point at it. Within a table
   that points at itself (a reversal at the entry it reverses, a split series at its predecessor) the
   row pointed at comes first.
3. A last line `{"end": true, "rows": {table: count, …}, "sha256": …}`: the row counts, and the SHA-256
   of every byte before this line. A file without it, or whose bytes don't match, is refused.

Values, per codec: `uuid` the canonical lower-case hyphenated text; `datetime` ISO 8601 in UTC with
microseconds and offset (`2026-06-15T18:30:00.000000+00:00`); `date` ISO 8601; `int` a JSON integer
(cents are whole numbers, never floats); `bool` true/false; `str` the text (enums by their value);
`bytes` standard base64; `json` the stored JSON document as a JSON-encoded string, so that SQL NULL
(`null`) stays distinct from a stored JSON null (`"null"`). SQL NULL is `null` for every codec.

Restore goes into a database migrated to the same Alembic revision that does not hold the organisation
yet (other organisations may be there). Everything is inserted in one transaction by the caller, so a
refused or failed restore writes nothing. Nothing is updated or deleted, so the append-only triggers of
the ledger and the share-out sheets stay as they are; the one column that points forward in the
foreign-key order (`users.member_id`, a cycle between users and members) is filled in by an UPDATE
of the user rows once the members are in.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO
from uuid import UUID

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import (
    Attendance,
    AuditEvent,
    Base,
    CalendarFeed,
    Cycle,
    Group,
    GroupAgreements,
    GroupBegeleider,
    IdempotencyKey,
    LedgerEntry,
    Loan,
    LoanVote,
    Meeting,
    MeetingNote,
    Member,
    Organisation,
    Programme,
    ProgrammeFunder,
    RoleAssignment,
    SessionAttendance,
    SessionOccurrence,
    SessionRsvp,
    SessionSeries,
    ShareOut,
    User,
    UTCDateTime,
)

FORMAT = "kringkas-dump"
FORMAT_VERSION = 1
BATCH_ROWS = 1000
END = b'{"end":'  # how the last line starts; no row line does

# Tables that are not moved, and why. Every table of the models is either here or in SCOPES (a test
# enforces it), so a new table can't be left out of a move by accident.
EXCLUDED: Mapping[str, str] = {
    "refresh_tokens": "sessions, not data: the rotated pairs are sealed with the old server's secret key; "
                      "after a move everyone logs in again",
    "login_throttles": "not per organisation (keyed by hashes of an email or a client address) and "
                       "short-lived (a lockout lasts minutes)",
}

# Per table, which of its rows belong to an organisation. Before anything is written, every foreign key
# of every row in the dump is checked to point inside the dump, so a restore can always insert it.
@dataclass(frozen=True, slots=True)
class _Organisation:
    id: UUID
    user_scopes: tuple[str, ...]  # the Idempotency-Key scopes of its users ("user:<id>")


_Scope = Callable[[_Organisation], ColumnElement[bool]]


def _users(org: _Organisation) -> Any:
    return select(User.id).where(User.organisation_id == org.id)


def _programmes(org: _Organisation) -> Any:
    return select(Programme.id).where(Programme.organisation_id == org.id)


def _groups(org: _Organisation) -> Any:
    return select(Group.id).where(Group.organisation_id == org.id)


def _cycles(org: _Organisation) -> Any:
    return select(Cycle.id).where(Cycle.group_id.in_(_groups(org)))


def _meetings(org: _Organisation) -> Any:
    return select(Meeting.id).where(Meeting.group_id.in_(_groups(org)))


def _loans(org: _Organisation) -> Any:
    return select(Loan.id).where(Loan.group_id.in_(_groups(org)))


def _series(org: _Organisation) -> Any:
    return select(SessionSeries.id).where(SessionSeries.group_id.in_(_groups(org)))


def _sessions(org: _Organisation) -> Any:
    return select(SessionOccurrence.id).where(SessionOccurrence.series_id.in_(_series(org)))


SCOPES: Mapping[str, _Scope] = {
    "organisations": lambda org: Organisation.id == org.id,
    "users": lambda org: User.organisation_id == org.id,
    "audit_events": lambda org: AuditEvent.organisation_id == org.id,
    "programmes": lambda org: Programme.organisation_id == org.id,
    "programme_funders": lambda org: ProgrammeFunder.programme_id.in_(_programmes(org)),
    "groups": lambda org: Group.organisation_id == org.id,
    "group_begeleiders": lambda org: GroupBegeleider.group_id.in_(_groups(org)),
    "members": lambda org: Member.group_id.in_(_groups(org)),
    # moved, so that a phone retrying a request whose answer it lost gets that answer, not a second write
    "idempotency_keys": lambda org: IdempotencyKey.scope.in_(org.user_scopes),
    "calendar_feeds": lambda org: or_(CalendarFeed.group_id.in_(_groups(org)), CalendarFeed.user_id.in_(_users(org))),
    "cycles": lambda org: Cycle.group_id.in_(_groups(org)),
    "role_assignments": lambda org: RoleAssignment.cycle_id.in_(_cycles(org)),
    "meetings": lambda org: Meeting.group_id.in_(_groups(org)),
    "attendance": lambda org: Attendance.meeting_id.in_(_meetings(org)),
    "meeting_notes": lambda org: MeetingNote.meeting_id.in_(_meetings(org)),
    "loans": lambda org: Loan.group_id.in_(_groups(org)),
    "loan_votes": lambda org: LoanVote.loan_id.in_(_loans(org)),
    "ledger_entries": lambda org: LedgerEntry.cycle_id.in_(_cycles(org)),
    "share_outs": lambda org: ShareOut.cycle_id.in_(_cycles(org)),
    "group_agreements": lambda org: GroupAgreements.group_id.in_(_groups(org)),
    "session_series": lambda org: SessionSeries.group_id.in_(_groups(org)),
    "session_occurrences": lambda org: SessionOccurrence.series_id.in_(_series(org)),
    "session_rsvps": lambda org: SessionRsvp.session_id.in_(_sessions(org)),
    "session_attendance": lambda org: SessionAttendance.session_id.in_(_sessions(org)),
}

# The order rows are read in, where it matters: entries by their place in the chain, so a reversal
# already follows what it reverses. Other tables go by primary key (the same on every engine).
ORDER_BY: Mapping[str, tuple[str, ...]] = {"ledger_entries": ("cycle_id", "seq")}


class DumpRefused(Exception):
    """A dump or restore that can't go ahead; the message says why, in one line, and nothing was written."""


# --- codecs: one per column type, the same on every engine --------------------------------------------
def codec_of(column: Any) -> str:
    kind = column.type
    for cls, name in ((Uuid, "uuid"), (UTCDateTime, "datetime"), (Date, "date"), (Boolean, "bool"),
                      (Integer, "int"), (String, "str"), (JSON, "json"), (LargeBinary, "bytes")):
        if isinstance(kind, cls):
            return name
    raise TypeError(f"{column.table.name}.{column.name}: no dump codec for {kind!r}")


def encode(codec: str, value: Any) -> Any:
    if value is None:
        return None
    match codec:
        case "uuid":
            return str(value)
        case "datetime":
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        case "date":
            return value.isoformat()
        case "int":
            return int(value)
        case "bool":
            return bool(value)
        case "str":
            return value.value if isinstance(value, enum.Enum) else str(value)
        case "bytes":
            return base64.b64encode(value).decode("ascii")
        case "json":
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise TypeError(codec)


def decode(codec: str, value: Any) -> Any:
    """The inverse of `encode`, refusing a value of the wrong JSON type rather than guessing."""
    if value is None:
        return null() if codec == "json" else None  # SQL NULL; plain None would store a JSON null
    expected: type | tuple[type, ...] = bool if codec == "bool" else str
    if codec == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"an integer was expected, not {value!r}")
        return value
    if not isinstance(value, expected):
        raise ValueError(f"a {codec} was expected, not {value!r}")
    match codec:
        case "uuid":
            return UUID(value)
        case "datetime":
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError(f"a datetime without offset: {value!r}")
            return moment.astimezone(UTC)
        case "date":
            return date.fromisoformat(value)
        case "bool" | "str":
            return value
        case "bytes":
            return base64.b64decode(value, validate=True)
        case "json":
            document = json.loads(value)
            return JSON.NULL if document is None else document
    raise TypeError(codec)


# --- the plan: which tables, in which order, and what needs care -----------------------------------
@dataclass(frozen=True, slots=True)
class TablePlan:
    table: Table
    columns: tuple[tuple[str, str], ...]  # (name, codec)
    self_reference: str | None  # a column pointing at this table's own primary key
    deferred: tuple[str, ...]  # columns pointing at a table that comes later: inserted NULL, set after

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def key(self) -> str:
        (column,) = self.table.primary_key.columns
        return column.name


def plan() -> list[TablePlan]:
    """Every moved table in foreign-key order (SQLAlchemy's order, which skips `use_alter` keys), the
    organisation itself first (it points at nothing)."""
    order = sorted((t for t in Base.metadata.sorted_tables if t.name in SCOPES),
                   key=lambda t: t.name != "organisations")
    position = {t.name: i for i, t in enumerate(order)}
    plans = []
    for i, table in enumerate(order):
        self_reference, deferred = None, []
        for key in table.foreign_keys:
            target = key.column.table.name
            if target in EXCLUDED:
                raise TypeError(f"{table.name}.{key.parent.name} points at {target}, which is not moved")
            if target == table.name:
                if self_reference is not None or len(table.primary_key.columns) != 1:
                    raise TypeError(f"{table.name}: one self-reference to a one-column key is supported")
                self_reference = key.parent.name
            elif position[target] > i:
                if not key.parent.nullable:
                    raise TypeError(f"{table.name}.{key.parent.name} points forward and can't be NULL")
                deferred.append(key.parent.name)
        plans.append(TablePlan(table, tuple((c.name, codec_of(c)) for c in table.columns), self_reference,
                               tuple(deferred)))
    return plans


def _header_tables(plans: list[TablePlan]) -> list[dict[str, Any]]:
    return [{"name": p.name, "columns": [list(c) for c in p.columns]} for p in plans]


# --- revisions ----------------------------------------------------------------------------------
def code_revision() -> str:
    """The Alembic head this Kringkas was built for: the schema the models describe."""
    from alembic.script import ScriptDirectory

    from domain.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def database_revision(db: AsyncSession) -> str | None:
    return (await db.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()


async def _require_current_schema(db: AsyncSession, what: str) -> str:
    revision, expected = await database_revision(db), code_revision()
    if revision != expected:
        raise DumpRefused(f"{what} is at database revision {revision}, this Kringkas expects {expected}; "
                          "run `kringkas migrate` on it first")
    return revision


# --- dump ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DumpSummary:
    organisation_id: UUID
    organisation_name: str
    rows: dict[str, int]


async def find_organisation(db: AsyncSession, wanted: str | None) -> Organisation:
    """By id or by name; with nothing given, the only organisation there is."""
    if wanted is None:
        found = list((await db.execute(select(Organisation).order_by(Organisation.name).limit(11))).scalars())
        if len(found) == 1:
            return found[0]
        if not found:
            raise DumpRefused("this database holds no organisation; nothing to dump")
        names = ", ".join(repr(o.name) for o in found[:10]) + (", …" if len(found) > 10 else "")
        raise DumpRefused(f"this database holds several organisations ({names}); name one with --organisation")
    try:
        by_id = await db.get(Organisation, UUID(wanted))
    except ValueError:
        by_id = None
    if by_id is not None:
        return by_id
    by_name = (await db.execute(select(Organisation).where(Organisation.name == wanted))).scalar_one_or_none()
    if by_name is None:
        raise DumpRefused(f"no organisation named or numbered {wanted!r} in this database")
    return by_name


async def _check_closed_world(db: AsyncSession, org: _Organisation, plans: list[TablePlan]) -> None:
    """Every foreign key of every row in the dump points at a row in the dump, or the restore could not
    insert it; one COUNT per foreign key, whatever the size of the organisation."""
    for p in plans:
        for key in p.table.foreign_keys:
            parent = key.column.table
            column = key.parent
            outside = (await db.execute(
                select(func.count()).select_from(p.table).where(
                    SCOPES[p.name](org), column.is_not(None),
                    column.not_in(select(key.column).where(SCOPES[parent.name](org))))
            )).scalar_one()
            if outside:
                raise DumpRefused(f"{outside} row(s) of {p.name} point at {parent.name} outside the organisation "
                                  f"(through {column.name}); nothing was dumped")


class _Out:
    """Writes lines and keeps the running SHA-256 of what was written."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()

    def line(self, document: Mapping[str, Any], *, counted: bool = True) -> None:
        data = (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if counted:
            self.digest.update(data)
        try:
            self.sink.write(data)
        except OSError as error:
            raise DumpRefused(f"can't write the dump: {error}") from error


async def dump_organisation(db: AsyncSession, sink: BinaryIO, wanted: str | None, *, now: datetime) -> DumpSummary:
    """Write one organisation to `sink`. Reads in one transaction (a snapshot on PostgreSQL, the write
    lock on SQLite), so the dump is consistent even while the server runs; it writes nothing."""
    if db.bind.dialect.name == "postgresql":
        await db.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
    revision = await _require_current_schema(db, "this database")
    organisation = await find_organisation(db, wanted)
    user_ids = (await db.execute(select(User.id).where(User.organisation_id == organisation.id))).scalars()
    org = _Organisation(organisation.id, tuple(sorted(f"user:{u}" for u in user_ids)))
    plans = plan()
    await _check_closed_world(db, org, plans)
    out = _Out(sink)
    out.line({"format": FORMAT, "format_version": FORMAT_VERSION, "alembic_revision": revision,
              "organisation": {"id": str(organisation.id), "name": organisation.name},
              "dumped_at": encode("datetime", now), "source_engine": db.bind.dialect.name,
              "tables": _header_tables(plans), "excluded": dict(EXCLUDED)})
    counts: dict[str, int] = {}
    for p in plans:
        counts[p.name] = 0
        async for row in _rows(db, org, p):
            out.line({"table": p.name, "row": row})
            counts[p.name] += 1
    out.line({"end": True, "rows": counts, "sha256": out.digest.hexdigest()}, counted=False)
    return DumpSummary(organisation.id, organisation.name, counts)


async def _rows(db: AsyncSession, org: _Organisation, p: TablePlan) -> AsyncIterator[dict[str, Any]]:
    """The table's rows of the organisation, encoded, streamed in an order a restore can insert them in:
    by primary key (or ORDER_BY), except that a row pointing at a row of its own table that is not out
    yet waits for it."""
    columns = [p.table.c[name] for name, _ in p.columns]
    # SQL NULL and a stored JSON null both read as None; ask the database which one it is
    json_nulls = [p.table.c[name].is_(None).label(f"_null_{name}") for name, codec in p.columns if codec == "json"]
    order = [p.table.c[name] for name in ORDER_BY.get(p.name, ())] + list(p.table.primary_key.columns)
    result = await db.stream(select(*columns, *json_nulls).where(SCOPES[p.name](org)).order_by(*order)
                             .execution_options(yield_per=BATCH_ROWS))
    seen: set[str] = set()
    waiting: dict[str, list[dict[str, Any]]] = {}
    async for values in result:
        mapping = values._mapping
        row = {}
        for name, codec in p.columns:
            value = mapping[name]
            if codec == "json" and value is None and not mapping[f"_null_{name}"]:
                row[name] = "null"  # a stored JSON null, not SQL NULL
            else:
                row[name] = encode(codec, value)
        if p.self_reference is None:
            yield row
            continue
        target = row[p.self_reference]
        if target is not None and target not in seen:
            waiting.setdefault(target, []).append(row)
            continue
        ready = [row]
        while ready:
            current = ready.pop(0)
            seen.add(current[p.key])
            yield current
            ready[:0] = waiting.pop(current[p.key], [])
    if waiting:
        raise DumpRefused(f"{p.name}: rows point at rows of their own table in a cycle; nothing was dumped")


# --- restore ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RestoreSummary:
    organisation_id: UUID
    organisation_name: str
    rows: dict[str, int]
    excluded: dict[str, str] = field(default_factory=dict)


def _json_line(raw: bytes, number: int) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise DumpRefused(f"line {number} is not JSON ({error}); is this a Kringkas dump?") from None
    if not isinstance(document, dict):
        raise DumpRefused(f"line {number} is not a JSON object; is this a Kringkas dump?")
    return document


def read_header(source: BinaryIO) -> tuple[dict[str, Any], dict[str, int]]:
    """Check the file end to end (its end line, the SHA-256 of everything before it) and return its
    header and row counts. Reads the whole file and leaves `source` at its start for the second pass."""
    source.seek(0)
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    for number, raw in enumerate(source, start=1):
        if trailer is not None:
            raise DumpRefused(f"line {number} comes after the end line; the file is damaged")
        if number == 1:
            header = _json_line(raw, 1)
            if header.get("format") != FORMAT:
                raise DumpRefused("this is not a Kringkas dump (no kringkas-dump header on the first line)")
            if header.get("format_version") != FORMAT_VERSION:
                raise DumpRefused(f"dump format version {header.get('format_version')!r} is not the one this "
                                  f"Kringkas reads ({FORMAT_VERSION})")
        elif raw.startswith(END):
            trailer = _json_line(raw, number)
            continue
        digest.update(raw)
    if header is None:
        raise DumpRefused("the file is empty")
    if trailer is None or trailer.get("end") is not True or not isinstance(trailer.get("rows"), dict):
        raise DumpRefused("the file has no end line: it was cut short (an interrupted dump or copy?)")
    if trailer.get("sha256") != digest.hexdigest():
        raise DumpRefused("the file's checksum does not match its contents: it was changed or damaged")
    source.seek(0)
    return header, trailer["rows"]


async def _check_target(db: AsyncSession, header: Mapping[str, Any], plans: list[TablePlan]) -> UUID:
    revision = await database_revision(db)
    if header.get("alembic_revision") != revision:
        raise DumpRefused(f"the dump was made at database revision {header.get('alembic_revision')}, this database "
                          f"is at {revision}; both must be at the same revision (run `kringkas migrate` on the "
                          "older one and dump again); nothing was restored")
    await _require_current_schema(db, "this database")
    if header.get("tables") != _header_tables(plans):
        raise DumpRefused("the dump's tables or columns differ from this Kringkas's, although the revision is "
                          "the same; nothing was restored")
    organisation = header.get("organisation") or {}
    try:
        org_id, name = UUID(organisation["id"]), str(organisation["name"])
    except (KeyError, TypeError, ValueError):
        raise DumpRefused("the dump's header names no organisation") from None
    clash = (await db.execute(select(Organisation).where(or_(Organisation.id == org_id, Organisation.name == name))
                              )).scalars().first()
    if clash is not None:
        raise DumpRefused(f"organisation {clash.name!r} ({clash.id}) is already in this database; "
                          "nothing was restored")
    return org_id


async def restore_organisation(db: AsyncSession, source: BinaryIO) -> RestoreSummary:
    """Insert the dumped organisation. Stages everything on `db` and never commits: the caller commits
    once, so a restore that fails anywhere leaves the database as it was. `source` must be seekable:
    it is read twice, once to check it whole and once to insert."""
    header, expected_rows = read_header(source)
    plans = plan()
    org_id = await _check_target(db, header, plans)
    by_name = {p.name: p for p in plans}
    position = {p.name: i for i, p in enumerate(plans)}
    counts = dict.fromkeys(by_name, 0)
    forward: list[tuple[TablePlan, str, Any, Any]] = []  # (table, column, key, value) set once all is in
    batch: list[dict[str, Any]] = []
    current: TablePlan | None = None

    async def flush() -> None:
        if current is not None and batch:
            await _insert(db, current, batch)
            batch.clear()

    for number, raw in enumerate(source, start=1):
        if number == 1 or raw.startswith(END):
            continue
        line = _json_line(raw, number)
        p = by_name.get(str(line.get("table")))
        if p is None or not isinstance(line.get("row"), dict):
            raise DumpRefused(f"line {number} is not a row of a moved table; nothing was restored")
        if current is not p:
            if current is not None and position[p.name] <= position[current.name]:
                raise DumpRefused(f"line {number}: {p.name} rows out of foreign-key order; nothing was restored")
            await flush()
            current = p
        row = _decoded_row(p, line["row"], number)
        if p.name == "organisations" and row["id"] != org_id:
            raise DumpRefused(f"line {number}: an organisation other than the header's; nothing was restored")
        for name in p.deferred:
            if row[name] is not None:
                forward.append((p, name, row[p.key], row[name]))
            row[name] = None
        batch.append(row)
        counts[p.name] += 1
        if len(batch) >= BATCH_ROWS:
            await flush()
    await flush()
    if expected_rows != counts:
        raise DumpRefused("the dump's rows don't match the counts on its end line; nothing was restored")
    if counts["organisations"] != 1:
        raise DumpRefused("the dump holds no organisation row; nothing was restored")
    for p, column, key, value in forward:
        await db.execute(update(p.table).where(p.table.c[p.key] == key).values({column: value}))
    organisation = header["organisation"]
    return RestoreSummary(org_id, organisation["name"], counts, dict(header.get("excluded") or {}))


def _decoded_row(p: TablePlan, row: Mapping[str, Any], number: int) -> dict[str, Any]:
    if list(row) != [name for name, _ in p.columns]:
        raise DumpRefused(f"line {number}: the columns of {p.name} are not the header's; nothing was restored")
    try:
        return {name: decode(codec, row[name]) for name, codec in p.columns}
    except ValueError as error:
        raise DumpRefused(f"line {number}: a value of {p.name} can't be read ({error}); nothing was restored") \
            from None


async def _insert(db: AsyncSession, p: TablePlan, rows: list[dict[str, Any]]) -> None:
    if p.name == "users":  # say which problem it is rather than let the unique index say it
        emails = [row["email"] for row in rows]
        taken = (await db.execute(select(func.count()).where(User.email.in_(emails)))).scalar_one()
        if taken:
            raise DumpRefused(f"{taken} of the dump's user email addresses are in use in this database already; "
                              "nothing was restored")
    try:
        await db.execute(insert(p.table), rows)
    except DBAPIError as error:
        reason = str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__
        raise DumpRefused(f"the database refused a row of {p.name} ({reason}); nothing was restored") from None
