#!/usr/bin/env python3
"""The luistergroep sessions benchmark, run by hand (not in CI): a year of sessions for 1,000 series and
the calendar feed, against the bare dateutil rrule expanding the same rules, in the same run.

    .venv/bin/python -m bench.sessions                 # PostgreSQL on 127.0.0.1:5432 (database kk_bench_sessions)
    .venv/bin/python -m bench.sessions --sqlite        # a SQLite file in a temporary directory
    .venv/bin/python -m bench.sessions --series 200 --runs 5
    .venv/bin/python -m bench.sessions --keep-gc       # without pausing the garbage collector, to compare

From a clean state: creates and migrates the database, makes one luistergroep with N series through the
domain functions (weekly, fortnightly, monthly and twice-weekly rules, in Europe/Amsterdam, started
before the window so dateutil walks into it as it would in real life), moves one and cancels one session
of every series, records a few RSVPs, then times, interleaved, `runs` times each:

  bare           dateutil only: rrulestr(rule, dtstart=aware local start) and rule.between(window) for
                 every series: the floor.
  bare + UTC     the same, each occurrence converted to UTC (what a correct listing must do anyway).
  bare, rules parsed once
                 the same rules parsed beforehand (rule.replace(dtstart=…)), as the listing does with its
                 cache of parsed rules: the floor for expansion alone.
  listing        domain.luistergroepen.list_sessions for the whole year in one page: the group and the
                 series loaded, expanded, the stored exceptions applied, sorted, RSVP counts for the
                 stored ones, and every session's id derived. What GET /groups/{id}/sessions does, less
                 the HTTP edge.
  listing + JSON the same, shaped into the response models and serialised to JSON.
  first page of 500 + JSON
                 what one GET /groups/{id}/sessions?from=…&to=… answers at most (limit=500): the whole
                 year is still expanded, but sessions, ids and JSON only for the page.
  feed           domain.feeds.group_calendar: the series, exceptions and VTIMEZONE as iCalendar bytes.

Prints a Markdown report on stdout (medians and minimums in ms, ratios to the bare expansion), progress
on stderr. Figures go into bench/sessions_README.md, never into timed tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from dateutil.rrule import rrulestr

from api.controllers.luistergroepen import session_out
from api.schemas.common import Page
from api.schemas.luistergroepen import SessionOut
from domain import feeds, groups, luistergroepen, people, scheduling
from domain.access import Actor
from domain.database import make_engine, make_sessionmaker
from domain.migrate import upgrade
from domain.models import GroupKind, Role, RsvpAnswer, SessionStatus, utcnow

ZONE = "Europe/Amsterdam"
TZ = ZoneInfo(ZONE)
WINDOW = (datetime(2027, 1, 1, tzinfo=TZ).astimezone(UTC), datetime(2028, 1, 1, tzinfo=TZ).astimezone(UTC))
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PG = "postgresql://postgres@127.0.0.1:5432"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rules(count: int) -> list[tuple[str, datetime]]:
    """(rule, aware local first start): a mix like real groups have, all reaching through the window."""
    rng = random.Random(20270101)
    made = []
    for n in range(count):
        day = date(2026, 6, 1) + timedelta(days=rng.randrange(0, 180))
        clock = rng.choice([(10, 0), (14, 0), (19, 0), (19, 30)])
        kind = n % 10
        if kind < 6:  # weekly
            text = "FREQ=WEEKLY;BYDAY={wd};COUNT=104"
        elif kind < 8:  # fortnightly, until a date
            text = "FREQ=WEEKLY;INTERVAL=2;BYDAY={wd};UNTIL=20290101"
        elif kind == 8:  # monthly, the first such weekday
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            text = "FREQ=MONTHLY;BYDAY=1{wd};COUNT=36"
        else:  # twice a week
            text = "FREQ=WEEKLY;BYDAY={wd},{wd2};COUNT=200"
        wd = WEEKDAYS[day.weekday()]
        wd2 = WEEKDAYS[(day.weekday() + 3) % 7]
        made.append((text.format(wd=wd, wd2=wd2), datetime(day.year, day.month, day.day, *clock, tzinfo=TZ)))
    return made


async def setup(url: str, count: int) -> tuple[Any, Actor, Any, list[tuple[str, datetime]]]:
    log(f"bench: migrating {url.split('@')[-1]}")
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    made = rules(count)
    async with sessionmaker() as db:
        organisation = await people.get_or_create_organisation(db, "Bench")
        admin_user, _ = await people.add_user(db, organisation.id, people.NewUser(
            "admin@bench.example", "bench-password", Role.ADMIN, "Admin"), password_profile="test")
        admin = Actor(admin_user.id, organisation.id, Role.ADMIN)
        group, _ = await groups.create_group(db, admin, groups.NewGroup(
            "Luistergroep Bench", GroupKind.LUISTERGROEP, None, frozenset()))
        member, _ = await groups.add_member(db, admin, group.id, groups.NewMember("Deelnemer", None, date(2026, 1, 1)))
        log(f"bench: {count} series through domain.luistergroepen.create_series")
        now = datetime(2026, 5, 1, tzinfo=UTC)
        stored = []
        for text, start in made:
            series, _ = await luistergroepen.create_series(db, admin, group.id, luistergroepen.NewSeries(
                text, start, 120, "De Kapel", admin.user_id, 12), series_id=None, now=now)
            stored.append(series)
        await db.commit()
        log("bench: one moved, one cancelled and one RSVP'd session per series")
        for series in stored:
            sessions = await luistergroepen.sessions_between(db, [series], *WINDOW)
            moved, cancelled, answered = sessions[2], sessions[5], sessions[8]
            await luistergroepen.change_session(db, admin, moved.id, luistergroepen.SessionChange(
                starts_at=moved.starts_at + timedelta(days=1), location="Buurthuis"), (), now)
            await luistergroepen.change_session(db, admin, cancelled.id, luistergroepen.SessionChange(
                status=SessionStatus.CANCELLED, reason="zaal bezet"), (), now)
            await luistergroepen.put_rsvp(db, admin, answered.id, member.id, RsvpAnswer.YES, False, now)
        await db.commit()
    bare_rules = [(series.rrule, series.starts_at.astimezone(TZ)) for series in stored]
    return engine, admin, (sessionmaker, group.id), bare_rules


def bare(made: list[tuple[str, datetime]], to_utc: bool, parsed: dict[str, Any] | None = None) -> int:
    low, high = WINDOW[0].astimezone(TZ), WINDOW[1].astimezone(TZ)
    total = 0
    for text, start in made:
        rule = parsed[text].replace(dtstart=start) if parsed is not None else rrulestr(text, dtstart=start)
        found = rule.between(low, high, inc=True)
        if to_utc:
            found = [moment.astimezone(UTC) for moment in found]
        total += len(found)
    return total


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return (time.perf_counter() - started) * 1000, result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--keep-gc", action="store_true",
                        help="leave the cyclic garbage collector running during expansion and feed building, "
                             "to see what scheduling.collector_paused saves")
    args = parser.parse_args()
    if args.keep_gc:
        scheduling.collector_paused = contextlib.nullcontext  # type: ignore[assignment]
    tmp = tempfile.TemporaryDirectory()
    if args.sqlite:
        url, engine_name = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.sqlite3'}", "SQLite"
    else:
        admin_connection = await asyncpg.connect(f"{PG}/postgres")
        await admin_connection.execute("DROP DATABASE IF EXISTS kk_bench_sessions WITH (FORCE)")
        await admin_connection.execute("CREATE DATABASE kk_bench_sessions")
        url, engine_name = "postgresql+asyncpg://postgres@127.0.0.1:5432/kk_bench_sessions", "PostgreSQL"
    engine, admin, (sessionmaker, group_id), made = await setup(url, args.series)

    async def bare_only() -> int:
        return bare(made, to_utc=False)

    async def bare_utc() -> int:
        return bare(made, to_utc=True)

    parsed = {text: rrulestr(text, dtstart=datetime(2000, 1, 3, tzinfo=UTC)) for text, _ in made}

    async def bare_parsed() -> int:
        return bare(made, to_utc=False, parsed=parsed)

    async def listing() -> int:
        async with sessionmaker() as db:
            page = await luistergroepen.list_sessions(db, admin, group_id, *WINDOW, None, 10**7, now=utcnow())
        return len([session.id for session in page.items])  # every session with its id, as handed out

    async def listing_json() -> int:
        async with sessionmaker() as db:
            page = await luistergroepen.list_sessions(db, admin, group_id, *WINDOW, None, 10**7, now=utcnow())
        body = Page[SessionOut](items=[session_out(s) for s in page.items], next_cursor=None).model_dump_json()
        return len(body)

    async def first_page() -> int:
        async with sessionmaker() as db:
            page = await luistergroepen.list_sessions(db, admin, group_id, *WINDOW, None, 500, now=utcnow())
        body = Page[SessionOut](items=[session_out(s) for s in page.items], next_cursor=page.next_cursor)
        return len(body.model_dump_json())

    async def feed() -> int:
        async with sessionmaker() as db:
            return len(await feeds.group_calendar(db, admin, group_id))

    parts = {"bare": bare_only, "bare + UTC": bare_utc, "bare, rules parsed once": bare_parsed, "listing": listing,
             "listing + JSON": listing_json, "first page of 500 + JSON": first_page,
             "feed": feed}
    times: dict[str, list[float]] = {name: [] for name in parts}
    sizes: dict[str, Any] = {}
    for name, work in parts.items():  # warm-up: imports, caches, the VTIMEZONE, connections
        _, sizes[name] = await timed(work)
    log(f"bench: {args.runs} interleaved runs")
    for _ in range(args.runs):
        for name, work in parts.items():
            elapsed, _ = await timed(work)
            times[name].append(elapsed)
    await engine.dispose()
    if not args.sqlite:
        await admin_connection.execute("DROP DATABASE IF EXISTS kk_bench_sessions WITH (FORCE)")
        await admin_connection.close()
    tmp.cleanup()

    floor = statistics.median(times["bare"])
    gc_note = ", collector kept running (--keep-gc)" if args.keep_gc else ""
    print(f"### {args.series} series, a year ({WINDOW[0]:%Y-%m-%d} to {WINDOW[1]:%Y-%m-%d} UTC), {engine_name}{gc_note}\n")
    print(f"Python {platform.python_version()}, {platform.machine()}, {args.runs} interleaved runs after a warm-up; "
          f"{sizes['bare']} occurrences expanded, {sizes['listing']} sessions listed "
          f"(cancelled ones included, moved ones where they now are), feed {sizes['feed']:,} bytes.\n")
    print("| part | median ms | min ms | median / bare |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {min(values):.1f} | {median / floor:.2f}x |")


if __name__ == "__main__":
    asyncio.run(main())
