"""Recurring sessions, as pure functions: RFC 5545 rules checked and expanded, session ids derived.

A series is a rule (`FREQ=WEEKLY;BYDAY=TH;UNTIL=…`), a first start and a time zone. Its occurrences are
never stored: they are expanded on demand with python-dateutil, in local wall-clock time (an aware
local dtstart from zoneinfo), and each is converted to UTC afterwards. So a Thursday 19:00 series stays
at 19:00 in Amsterdam across the clock changes, and its UTC instant moves.

Session ids are derived, not stored: a UUIDv8 (RFC 9562) that carries 60 bits of the series' lineage id
and the original start in seconds, plus a 22-bit check. An id from a listing is therefore resolved with
one indexed lookup (`lineage_key`) and one check that the start is really an occurrence of the rule,
without the client passing anything else, and without writing anything when a listing is read. The
lineage is the first series of a chain of splits, so an occurrence keeps its id when the series is
changed from a date on without changing that occurrence's time.
"""

from __future__ import annotations

import bisect
import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from uuid import UUID
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr

from domain.errors import (
    RruleBeyondHorizon,
    RruleInvalid,
    RruleUnbounded,
    SeriesStartInvalid,
    StartNotInRule,
)

HORIZON_YEARS = 10  # a series ends within ten years of its first session (UNTIL or COUNT)
MAX_COUNT = 520  # ten years of weekly sessions
MAX_INTERVAL = 52
MAX_WINDOW = timedelta(days=366)  # a listing covers at most a year
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2100, 1, 1, tzinfo=UTC)

# What a luistergroep's rule may hold, per frequency. The time of day comes from starts_at, never from the
# rule (no BYHOUR/BYMINUTE/BYSECOND). BYMONTH, BYYEARDAY and BYWEEKNO are left out on purpose: with them a
# rule can be unsatisfiable, and dateutil would search for an occurrence up to the year 9999.
ALLOWED_PARTS: dict[str, frozenset[str]] = {
    "DAILY": frozenset({"INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"}),
    "WEEKLY": frozenset({"INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"}),
    "MONTHLY": frozenset({"INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "WKST"}),
    "YEARLY": frozenset({"INTERVAL", "COUNT", "UNTIL", "WKST"}),
}
KNOWN_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "WKST", "COUNT", "UNTIL")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$")
_MONTHDAY = re.compile(r"^[+-]?([1-9]|[12][0-9]|3[01])$")
_UNTIL = re.compile(r"^(\d{8})(T(\d{6})Z)?$")


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a CPU-bound burst of short-lived, acyclic objects (a
    year of sessions for many series, the lines of a feed). Without it the collector walks the whole heap
    over and over and the listing costs about twice as much (bench/sessions_README.md). Nothing awaits
    inside; reference counting still frees everything at once; the collector runs again right after
    (unless it was off already)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- rules -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rule:
    """A checked rule with its normalised text (parts in a fixed order, UNTIL in UTC)."""

    text: str
    freq: str
    count: int | None
    until: datetime | None  # UTC


def check_start(starts_at: datetime) -> None:
    if starts_at.tzinfo is None:
        raise SeriesStartInvalid(reason="offset")
    if starts_at.second or starts_at.microsecond:
        raise SeriesStartInvalid(reason="whole_minutes")
    if not EARLIEST_START <= starts_at < LATEST_START:
        raise SeriesStartInvalid(reason="range")


def _split_parts(text: str) -> dict[str, str]:
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if not body or any(ch.isspace() for ch in body):
        raise RruleInvalid(part="RRULE")
    parts: dict[str, str] = {}
    for raw in body.split(";"):
        if not raw:
            continue
        name, sep, value = raw.partition("=")
        if not sep or not name or not value:
            raise RruleInvalid(part=raw[:40])
        if name not in KNOWN_PARTS:
            raise RruleInvalid(part=name[:40])
        if name in parts:
            raise RruleInvalid(part=name)
        parts[name] = value
    return parts


def _check_values(parts: dict[str, str], freq: str, local_start: datetime) -> None:
    for name, value in parts.items():
        if name == "INTERVAL" and not (value.isdigit() and 1 <= int(value) <= MAX_INTERVAL):
            raise RruleInvalid(part=name)
        if name == "COUNT" and not (value.isdigit() and 1 <= int(value) <= MAX_COUNT):
            raise RruleInvalid(part=name)
        if name == "WKST" and value not in WEEKDAYS:
            raise RruleInvalid(part=name)
        if name == "BYDAY":
            days = value.split(",")
            matches = [_BYDAY.match(day) for day in days]
            if not all(matches) or len(set(days)) != len(days):
                raise RruleInvalid(part=name)
            if freq != "MONTHLY" and any(m and m.group(1) for m in matches):
                raise RruleInvalid(part=name)  # "2TH" (the second Thursday) only means something per month
        if name in ("BYMONTHDAY", "BYSETPOS"):
            values = value.split(",")
            if not all(_MONTHDAY.match(v) for v in values) or len(set(values)) != len(values):
                raise RruleInvalid(part=name)
    # Cheap necessary conditions for the first start to be an occurrence; checked before dateutil runs.
    weekday = WEEKDAYS[local_start.weekday()]
    if "BYDAY" in parts and weekday not in {day[-2:] for day in parts["BYDAY"].split(",")}:
        raise StartNotInRule(weekday=weekday)
    if "BYMONTHDAY" in parts:
        days_in_month = ((local_start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
        wanted = {int(v) for v in parts["BYMONTHDAY"].split(",")}
        if local_start.day not in wanted and local_start.day - days_in_month - 1 not in wanted:
            raise StartNotInRule(weekday=weekday)


def _until_utc(value: str, tz: ZoneInfo) -> datetime:
    match = _UNTIL.match(value)
    if match is None:
        raise RruleInvalid(part="UNTIL")
    try:
        day = datetime.strptime(match.group(1), "%Y%m%d").date()
        if match.group(3) is None:  # a date: the end of that day, where the group lives
            return datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
        moment = datetime.strptime(match.group(1) + match.group(3), "%Y%m%d%H%M%S")
    except ValueError:
        raise RruleInvalid(part="UNTIL") from None
    return moment.replace(tzinfo=UTC)


def format_until(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_rule(text: str, starts_at: datetime, timezone: str) -> Rule:
    """Check a rule against its first start; raise naming the bad part. Returns the normalised rule.

    Refused: no or an unknown FREQ, unknown or repeated parts, a time of day in the rule, both or neither
    of UNTIL and COUNT, an end more than HORIZON_YEARS after the start, a start that is not itself an
    occurrence (RFC 5545 leaves that case undefined, so calendar apps would disagree with us)."""
    check_start(starts_at)
    tz = zone(timezone)
    local_start = starts_at.astimezone(tz)
    parts = _split_parts(text)
    freq = parts.get("FREQ")
    if freq not in ALLOWED_PARTS:
        raise RruleInvalid(part="FREQ")
    for name in parts:
        if name != "FREQ" and name not in ALLOWED_PARTS[freq]:
            raise RruleInvalid(part=name)
    if "COUNT" in parts and "UNTIL" in parts:
        raise RruleInvalid(part="UNTIL")  # RFC 5545: never both
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise RruleUnbounded()
    _check_values(parts, freq, local_start)
    until = _until_utc(parts["UNTIL"], tz) if "UNTIL" in parts else None
    if until is not None:
        if until < starts_at:
            raise RruleInvalid(part="UNTIL")
        parts["UNTIL"] = format_until(until)
    normalised = ";".join(f"{name}={parts[name]}" for name in KNOWN_PARTS if name in parts)
    try:
        rule = rrulestr(normalised, dtstart=local_start)
    except (ValueError, TypeError):
        raise RruleInvalid(part="RRULE") from None
    assert isinstance(rule, RRule)
    first = rule.after(local_start - timedelta(seconds=1), inc=True)
    if first is None or first.astimezone(UTC) != starts_at.astimezone(UTC):
        raise StartNotInRule(weekday=WEEKDAYS[local_start.weekday()])
    horizon = _add_years(local_start, HORIZON_YEARS)
    if (until is not None and until > horizon.astimezone(UTC)) or rule.after(horizon) is not None:
        raise RruleBeyondHorizon(years=HORIZON_YEARS)
    return Rule(normalised, freq, int(parts["COUNT"]) if "COUNT" in parts else None, until)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


_TEMPLATE_START = datetime(2000, 1, 3, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _parsed(text: str) -> RRule:
    """A stored rule parsed once; `replace(dtstart=…)` makes the real rule (a fifth of parsing's cost).
    dateutil keeps the parts as given, so defaults taken from dtstart (the weekday, the day of the
    month) come from the real start."""
    rule = rrulestr(text, dtstart=_TEMPLATE_START)
    assert isinstance(rule, RRule)
    return rule


def compile_rule(text: str, starts_at: datetime, timezone: str) -> RRule:
    """A stored (already checked) rule as a dateutil rule with an aware local dtstart."""
    return _parsed(text).replace(dtstart=starts_at.astimezone(zone(timezone)))


def expand(rule: RRule, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """The occurrences in [start, end), as UTC instants. Expanded in local time with a day's margin
    (aware datetimes of one zone compare by wall clock), then filtered on the exact instants."""
    tz = zone(timezone)
    low = (start - timedelta(days=1)).astimezone(tz)
    high = (end + timedelta(days=1)).astimezone(tz)
    found = [local.astimezone(UTC) for local in rule.between(low, high, inc=True)]  # in order
    return found[bisect.bisect_left(found, start):bisect.bisect_left(found, end)]


def is_occurrence(rule: RRule, timezone: str, instant: datetime) -> bool:
    local = instant.astimezone(zone(timezone))
    found = rule.after(local - timedelta(seconds=1), inc=True)
    return found is not None and found.astimezone(UTC) == instant.astimezone(UTC)


def first_on_or_after(rule: RRule, timezone: str, instant: datetime) -> datetime | None:
    found = rule.after(instant.astimezone(zone(timezone)) - timedelta(seconds=1), inc=True)
    while found is not None and found.astimezone(UTC) < instant:
        found = rule.after(found)
    return found.astimezone(UTC) if found is not None else None


def count_before(rule: RRule, timezone: str, starts_at: datetime, instant: datetime) -> int:
    return len(expand(rule, timezone, starts_at, instant)) if instant > starts_at else 0


# --- ending a series from a date ---------------------------------------------------------------------
def cut_instant(from_on: date, timezone: str) -> datetime:
    """The first instant of a local date, in UTC: a series ended from that date has nothing from here on."""
    return datetime.combine(from_on, time(0, 0), tzinfo=zone(timezone)).astimezone(UTC)


def rule_ending_before(text: str, cut: datetime) -> str:
    """The same rule with COUNT or UNTIL replaced by an UNTIL one second before the cut."""
    parts = dict(part.split("=", 1) for part in text.split(";"))
    parts.pop("COUNT", None)
    parts["UNTIL"] = format_until(cut - timedelta(seconds=1))
    return ";".join(f"{name}={parts[name]}" for name in KNOWN_PARTS if name in parts)


def rule_with_count(text: str, count: int) -> str:
    parts = dict(part.split("=", 1) for part in text.split(";"))
    parts.pop("UNTIL", None)
    parts["COUNT"] = str(count)
    return ";".join(f"{name}={parts[name]}" for name in KNOWN_PARTS if name in parts)


def rule_count(text: str) -> int | None:
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name == "COUNT":
            return int(value)
    return None


# --- session ids -------------------------------------------------------------------------------------
_CHECK_BITS = 22
_SECONDS_BITS = 40


def lineage_key(lineage_id: UUID) -> int:
    """The 60 bits of a lineage id that every session id of the lineage carries (indexed on the series)."""
    return lineage_id.int >> 68


_CHECK_MASK = (1 << _CHECK_BITS) - 1
_M64 = (1 << 64) - 1


def _check(key: int, seconds: int) -> int:
    """22 bits mixed from the key and the start (a multiply-xorshift hash, the top bits kept): a typo or
    a made-up id fails here, before any lookup. Not a secret: access is checked on the group anyway."""
    x = (key ^ (seconds * 0x9E3779B97F4A7C15)) & _M64
    x = ((x ^ (x >> 31)) * 0xBF58476D1CE4E5B9) & _M64
    return x >> (64 - _CHECK_BITS)


def _high_bits(key: int) -> int:
    return ((key >> 12) << 80) | (0x8 << 76) | ((key & 0xFFF) << 64) | (0b10 << 62)


def session_id(key: int, original_start: datetime) -> UUID:
    """UUIDv8: 48 bits of key | version 8 | 12 bits of key | variant 10 | 40 bits of seconds | 22-bit check."""
    seconds = int(original_start.timestamp())
    if not 0 <= seconds < 1 << _SECONDS_BITS or original_start.microsecond:
        raise ValueError("an original start is a whole second after 1970")
    return UUID(int=_high_bits(key) | (seconds << _CHECK_BITS) | _check(key, seconds))


def decode_session_id(session: UUID) -> tuple[int, datetime] | None:
    """(lineage key, original start) of an id `session_id` made; None for any other UUID."""
    value = session.int
    if (value >> 76) & 0xF != 0x8 or (value >> 62) & 0b11 != 0b10:
        return None
    key = ((value >> 80) << 12) | ((value >> 64) & 0xFFF)
    seconds = (value >> _CHECK_BITS) & ((1 << _SECONDS_BITS) - 1)
    if value & _CHECK_MASK != _check(key, seconds):
        return None
    return key, datetime.fromtimestamp(seconds, UTC)


def session_ids(occurrences: Iterable[tuple[int, datetime]]) -> list[UUID]:
    """The ids of many (lineage key, original start) pairs at once: what `session_id` makes, with the
    constant half of each lineage computed once (a page of a listing)."""
    highs: dict[int, int] = {}
    made = []
    append, limit, shift, uuid = made.append, 1 << _SECONDS_BITS, _CHECK_BITS, UUID
    for key, start in occurrences:
        high = highs.get(key)
        if high is None:
            high = highs[key] = _high_bits(key)
        seconds = int(start.timestamp())
        if not 0 <= seconds < limit or start.microsecond:
            raise ValueError("an original start is a whole second after 1970")
        x = (key ^ (seconds * 0x9E3779B97F4A7C15)) & _M64  # _check, inlined: this runs for every session
        append(uuid(int=high | (seconds << shift) | ((((x ^ (x >> 31)) * 0xBF58476D1CE4E5B9) & _M64) >> 42)))
    return made
