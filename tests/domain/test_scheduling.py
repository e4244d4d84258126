"""Recurring sessions as pure functions: rules checked and expanded in local time, session ids derived."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain import scheduling
from domain.errors import RruleBeyondHorizon, RruleInvalid, RruleUnbounded, SeriesStartInvalid, StartNotInRule

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
THURSDAY_19 = datetime(2025, 3, 6, 19, 0, tzinfo=AMSTERDAM)


def occurrences(text: str, start: datetime, frm: datetime, to: datetime) -> list[datetime]:
    rule = scheduling.parse_rule(text, start, "Europe/Amsterdam")
    return scheduling.expand(scheduling.compile_rule(rule.text, start, "Europe/Amsterdam"), "Europe/Amsterdam", frm, to)


def test_a_thursday_1900_series_stays_at_1900_in_amsterdam_across_both_clock_changes_its_utc_moves() -> None:
    found = occurrences("FREQ=WEEKLY;BYDAY=TH;UNTIL=20251231", THURSDAY_19, datetime(2025, 3, 1, tzinfo=UTC),
                        datetime(2026, 1, 1, tzinfo=UTC))
    local = [moment.astimezone(AMSTERDAM) for moment in found]
    assert len(found) == 43  # 6 March … 25 December
    assert {(m.weekday(), m.hour, m.minute) for m in local} == {(3, 19, 0)}
    by_day = {m.astimezone(AMSTERDAM).date(): m for m in found}
    assert by_day[date(2025, 3, 27)] == datetime(2025, 3, 27, 18, 0, tzinfo=UTC)  # before 30 March: CET
    assert by_day[date(2025, 4, 3)] == datetime(2025, 4, 3, 17, 0, tzinfo=UTC)  # after: CEST
    assert by_day[date(2025, 10, 23)] == datetime(2025, 10, 23, 17, 0, tzinfo=UTC)  # before 26 October: CEST
    assert by_day[date(2025, 10, 30)] == datetime(2025, 10, 30, 18, 0, tzinfo=UTC)  # after: CET again


def test_an_until_date_is_the_end_of_that_local_day_and_is_stored_in_utc() -> None:
    rule = scheduling.parse_rule("FREQ=DAILY;UNTIL=20250305", datetime(2025, 3, 3, 19, 0, tzinfo=AMSTERDAM),
                                 "Europe/Amsterdam")
    assert rule.text == "FREQ=DAILY;UNTIL=20250305T225959Z"
    assert len(occurrences(rule.text, datetime(2025, 3, 3, 19, 0, tzinfo=AMSTERDAM), datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2026, 1, 1, tzinfo=UTC))) == 3


BAD_PARTS = {
    "FREQ=HOURLY;COUNT=3": "FREQ",
    "BYDAY=TH;COUNT=3": "FREQ",
    "FREQ=WEEKLY;BYDAY=XX;COUNT=3": "BYDAY",
    "FREQ=WEEKLY;BYDAY=2TH;COUNT=3": "BYDAY",
    "FREQ=WEEKLY;BYDAY=TH;BYHOUR=19;COUNT=3": "BYHOUR",
    "FREQ=WEEKLY;BYDAY=TH;COUNT=3;UNTIL=20251231": "UNTIL",
    "FREQ=WEEKLY;BYDAY=TH;UNTIL=2025-12-31": "UNTIL",
    "FREQ=WEEKLY;BYDAY=TH;UNTIL=20240101": "UNTIL",
    "FREQ=WEEKLY;BYDAY=TH;COUNT=0": "COUNT",
    "FREQ=WEEKLY;BYDAY=TH;COUNT=9999": "COUNT",
    "FREQ=WEEKLY;INTERVAL=0;COUNT=2": "INTERVAL",
    "FREQ=MONTHLY;BYMONTH=2;COUNT=3": "BYMONTH",
    "FREQ=WEEKLY;BYMONTHDAY=6;COUNT=3": "BYMONTHDAY",
    "FREQ=WEEKLY;FREQ=DAILY;COUNT=3": "FREQ",
    "FREQ=WEEKLY;COUNT": "COUNT",
}


@pytest.mark.parametrize("text", list(BAD_PARTS))
def test_a_bad_rule_is_refused_naming_the_part_that_is_wrong(text: str) -> None:
    with pytest.raises(RruleInvalid) as refused:
        scheduling.parse_rule(text, THURSDAY_19, "Europe/Amsterdam")
    assert refused.value.params["part"] == BAD_PARTS[text]


def test_a_rule_without_until_or_count_is_refused_as_unbounded() -> None:
    with pytest.raises(RruleUnbounded):
        scheduling.parse_rule("FREQ=WEEKLY;BYDAY=TH", THURSDAY_19, "Europe/Amsterdam")


@pytest.mark.parametrize("text", ["FREQ=WEEKLY;BYDAY=TH;UNTIL=20400101", "FREQ=MONTHLY;BYDAY=1TH;COUNT=200"])
def test_a_rule_that_runs_past_ten_years_is_refused(text: str) -> None:
    with pytest.raises(RruleBeyondHorizon):
        scheduling.parse_rule(text, THURSDAY_19, "Europe/Amsterdam")


@pytest.mark.parametrize("text", ["FREQ=WEEKLY;BYDAY=WE;COUNT=3", "FREQ=MONTHLY;BYDAY=2TH;COUNT=3",
                                  "FREQ=MONTHLY;BYMONTHDAY=5;COUNT=3", "FREQ=DAILY;INTERVAL=7;BYDAY=TU;COUNT=3"])
def test_a_first_start_that_is_not_an_occurrence_of_its_rule_is_refused(text: str) -> None:
    with pytest.raises(StartNotInRule):
        scheduling.parse_rule(text, THURSDAY_19, "Europe/Amsterdam")


@pytest.mark.parametrize("start", [datetime(2025, 3, 6, 19, 0, 30, tzinfo=AMSTERDAM), datetime(2025, 3, 6, 19, 0),
                                   datetime(1999, 3, 4, 19, 0, tzinfo=AMSTERDAM)])
def test_a_start_without_an_offset_off_the_minute_or_out_of_range_is_refused(start: datetime) -> None:
    with pytest.raises(SeriesStartInvalid):
        scheduling.parse_rule("FREQ=WEEKLY;COUNT=3", start, "Europe/Amsterdam")


def test_a_rule_is_stored_normalised_with_its_parts_in_a_fixed_order() -> None:
    rule = scheduling.parse_rule("rrule:count=10;byday=th;freq=weekly", THURSDAY_19, "Europe/Amsterdam")
    assert rule.text == "FREQ=WEEKLY;BYDAY=TH;COUNT=10"


def test_a_session_id_decodes_to_its_lineage_and_original_start_and_is_the_same_every_time() -> None:
    key = scheduling.lineage_key(uuid4())
    start = datetime(2025, 3, 27, 18, 0, tzinfo=UTC)
    made = scheduling.session_id(key, start)
    assert made == scheduling.session_id(key, start)
    assert made.version == 8
    assert scheduling.decode_session_id(made) == (key, start)
    assert scheduling.session_ids([(key, start), (key, start)]) == [made, made]  # the listing's fast path
    assert scheduling.session_id(key, datetime(2025, 4, 3, 17, 0, tzinfo=UTC)) != made


def test_a_uuid_that_no_session_id_can_be_is_not_decoded() -> None:
    made = scheduling.session_id(scheduling.lineage_key(uuid4()), datetime(2025, 3, 27, 18, 0, tzinfo=UTC))
    tampered = type(made)(int=made.int ^ (1 << 30))  # another start with the old check bits
    assert scheduling.decode_session_id(uuid4()) is None
    assert scheduling.decode_session_id(tampered) is None


def test_ending_a_rule_before_a_date_keeps_every_earlier_occurrence_and_nothing_from_the_date_on() -> None:
    text = scheduling.parse_rule("FREQ=WEEKLY;BYDAY=TH;COUNT=20", THURSDAY_19, "Europe/Amsterdam").text
    cut = scheduling.cut_instant(date(2025, 4, 10), "Europe/Amsterdam")
    ended = scheduling.rule_ending_before(text, cut)
    window = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    before = occurrences(text, THURSDAY_19, *window)
    after = scheduling.expand(scheduling.compile_rule(ended, THURSDAY_19, "Europe/Amsterdam"), "Europe/Amsterdam",
                              *window)
    assert "COUNT" not in ended and after == [moment for moment in before if moment < cut]
    assert after[-1].astimezone(AMSTERDAM).date() == date(2025, 4, 3)


def test_the_listing_order_is_start_then_lineage_then_original_also_with_ties_and_sessions_moved_in_or_out() -> None:
    from types import SimpleNamespace

    from domain.luistergroepen import merged_order

    def series(key: int, rule: str, start: datetime) -> SimpleNamespace:
        return SimpleNamespace(id=uuid4(), lineage_key=key, rrule=rule, starts_at=start, timezone="Europe/Amsterdam")

    same_time = [series(key, "FREQ=WEEKLY;BYDAY=TH;COUNT=30", THURSDAY_19) for key in (900, 5, 77)]
    other = series(40, "FREQ=WEEKLY;BYDAY=MO;COUNT=30", datetime(2025, 3, 3, 19, 0, tzinfo=AMSTERDAM))
    window = (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC))

    def row(owner: SimpleNamespace, original: datetime, moved_to: datetime | None) -> SimpleNamespace:
        return SimpleNamespace(series_id=owner.id, original_start=original.astimezone(UTC),
                               starts_at=moved_to.astimezone(UTC) if moved_to else None)

    rows = [row(other, datetime(2025, 3, 24, 19, 0, tzinfo=AMSTERDAM), datetime(2025, 4, 10, 19, 0, tzinfo=AMSTERDAM)),
            row(other, datetime(2025, 6, 2, 19, 0, tzinfo=AMSTERDAM), datetime(2025, 5, 1, 19, 0, tzinfo=AMSTERDAM)),
            row(same_time[0], datetime(2025, 4, 17, 19, 0, tzinfo=AMSTERDAM), datetime(2025, 7, 1, tzinfo=AMSTERDAM)),
            row(same_time[1], datetime(2025, 4, 24, 19, 0, tzinfo=AMSTERDAM), datetime(2025, 5, 1, 19, 0, tzinfo=AMSTERDAM))]
    entries = merged_order([*same_time, other], rows, *window)
    order = [(e[0], e[1], e[2]) for e in entries]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert [(e[0], e[1]) for e in entries if e[0] == datetime(2025, 5, 1, 17, 0, tzinfo=UTC)] == [
        (datetime(2025, 5, 1, 17, 0, tzinfo=UTC), 5), (datetime(2025, 5, 1, 17, 0, tzinfo=UTC), 5),
        (datetime(2025, 5, 1, 17, 0, tzinfo=UTC), 40), (datetime(2025, 5, 1, 17, 0, tzinfo=UTC), 77),
        (datetime(2025, 5, 1, 17, 0, tzinfo=UTC), 900)]
    assert datetime(2025, 4, 17, 17, 0, tzinfo=UTC) not in {e[2] for e in entries if e[1] == 900}
