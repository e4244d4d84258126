"""A luistergroep through HTTP: afspraken, series expanded in local time, single sessions moved or
cancelled, RSVPs with a capacity and a waiting list, attendance only, and the calendar feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import func, inspect, select

from domain import groups, people
from domain.models import (
    Role,
    RsvpAnswer,
    SessionAttendance,
    SessionOccurrence,
    SessionRsvp,
    SessionSeries,
)
from tests.kring import Kring
from tests.parallel import parallel
from tests.world import PASSWORD, World

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(year: int, month: int, day: int, hour: int = 19, minute: int = 0) -> datetime:
    """A wall-clock time in Amsterdam."""
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


@dataclass
class Circle:
    """Group B of the world: a luistergroep guided by begeleider_b, with Amina … Eva B."""

    world: World

    @property
    def group_id(self) -> UUID:
        return self.world.groups["b"]

    def auth(self, user: str = "begeleider_b", **extra: str) -> dict[str, str]:
        return self.world.auth(user, **extra)

    def member(self, name: str) -> UUID:
        return self.world.members[f"b.{name}"]

    def series_body(self, **overrides: Any) -> dict[str, Any]:
        body = {"rrule": "FREQ=WEEKLY;BYDAY=TH;UNTIL=20251231", "starts_at": at(2025, 3, 6).isoformat(),
                "duration_minutes": 120, "location": "De Kapel, Noordermarkt 48",
                "facilitator_user_id": str(self.world.users["begeleider_b"].id)}
        return {**body, **overrides}

    async def series(self, user: str = "begeleider_b", **overrides: Any) -> dict[str, Any]:
        response = await self.world.client.post(f"/api/v1/groups/{self.group_id}/series",
                                                json=self.series_body(**overrides), headers=self.auth(user))
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def sessions(self, frm: datetime, to: datetime, user: str = "begeleider_b") -> list[dict[str, Any]]:
        """Every page of the listing."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"from": frm.isoformat(), "to": to.isoformat(), "limit": "20"}
            if cursor:
                params["cursor"] = cursor
            response = await self.world.client.get(f"/api/v1/groups/{self.group_id}/sessions", params=params,
                                                   headers=self.auth(user))
            assert response.status_code == 200, response.text
            page = response.json()
            found += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def session_on(self, day: date, frm: datetime, to: datetime) -> dict[str, Any]:
        return next(s for s in await self.sessions(frm, to)
                    if datetime.fromisoformat(s["starts_at"]).astimezone(AMSTERDAM).date() == day)

    async def patch(self, session_id: str, body: dict[str, Any], user: str = "begeleider_b") -> Any:
        return await self.world.client.patch(f"/api/v1/sessions/{session_id}", json=body, headers=self.auth(user))

    async def rsvp(self, session_id: str, member: UUID, answer: str = "yes", user: str = "begeleider_b",
                   **extra: Any) -> Any:
        return await self.world.client.put(f"/api/v1/sessions/{session_id}/rsvp", headers=self.auth(user),
                                           json={"member_id": str(member), "answer": answer, **extra})

    async def more_members(self, count: int) -> list[UUID]:
        made = []
        async with self.world.sessionmaker() as db:
            for n in range(count):
                member, _ = await groups.add_member(db, self.world.actor("admin"), self.group_id,
                                                    groups.NewMember(f"Deelnemer {n}", None, date(2026, 1, 5)))
                made.append(member.id)
            await db.commit()
        return made

    async def member_account(self, name: str) -> str:
        """A member of B with an account of their own; returns the world's user key."""
        async with self.world.sessionmaker() as db:
            user, _ = await people.add_user(db, self.world.organisations["x"], people.NewUser(
                f"{name}.b@example.org", PASSWORD, Role.MEMBER, name.title(), member_id=self.member(name)),
                password_profile="test")
            await db.commit()
        self.world.users[f"b.{name}"] = user
        return f"b.{name}"

    async def count(self, model: Any, *where: Any) -> int:
        async with self.world.sessionmaker() as db:
            return (await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


@pytest.fixture
async def circle(world: World) -> Circle:
    return Circle(world)


def starts(sessions: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(s["starts_at"]) for s in sessions]


YEAR_2025 = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


# --- afspraken -----------------------------------------------------------------------------------------
async def test_afspraken_are_replaced_as_a_whole_and_every_earlier_version_stays_readable_with_who_and_when(
    circle: Circle
) -> None:
    path = f"/api/v1/groups/{circle.group_id}/agreements"
    empty = await circle.world.client.get(path, headers=circle.auth())
    assert (empty.status_code, empty.json()["version"], empty.json()["items"]) == (200, 0, [])
    first = ["Niks is verplicht, alleen luisteren", "Zeg eerst je naam", "Humor mag"]
    second = ["Niks is verplicht, alleen luisteren", "Wat hier gezegd wordt, blijft hier"]
    one = await circle.world.client.put(path, json={"items": first}, headers=circle.auth())
    two = await circle.world.client.put(path, json={"items": second}, headers=circle.auth("admin"))
    assert (one.status_code, one.json()["version"], two.json()["version"]) == (200, 1, 2)
    again = await circle.world.client.put(path, json={"items": second}, headers=circle.auth())
    assert again.json()["version"] == 2  # the same list again is no new version
    current = await circle.world.client.get(path, headers=circle.auth())
    assert (current.json()["items"], current.headers["etag"]) == (second, '"2"')
    history = (await circle.world.client.get(f"{path}/history", headers=circle.auth())).json()["items"]
    assert [(h["version"], h["items"], h["set_by"]) for h in history] == [
        (1, first, str(circle.world.users["begeleider_b"].id)), (2, second, str(circle.world.users["admin"].id))]
    assert all(h["set_at"] for h in history)


async def test_afspraken_edited_from_a_stale_version_are_refused_with_412(circle: Circle) -> None:
    path = f"/api/v1/groups/{circle.group_id}/agreements"
    await circle.world.client.put(path, json={"items": ["Alleen luisteren"]}, headers=circle.auth())
    stale = await circle.world.client.put(path, json={"items": ["Iets anders"]},
                                          headers=circle.auth(**{"If-Match": "0"}))
    assert (stale.status_code, stale.json()["code"]) == (412, "request.stale_version")


async def test_afspraken_and_series_belong_to_a_luistergroep_and_a_spaarkring_is_refused_with_its_code(
    circle: Circle
) -> None:
    spaarkring = circle.world.groups["a"]
    agreements = await circle.world.client.put(f"/api/v1/groups/{spaarkring}/agreements", json={"items": ["x"]},
                                               headers=circle.auth("admin"))
    series = await circle.world.client.post(f"/api/v1/groups/{spaarkring}/series", json=circle.series_body(),
                                            headers=circle.auth("admin"))
    assert [(r.status_code, r.json()["code"]) for r in (agreements, series)] == [
        (422, "group.not_a_luistergroep")] * 2


# --- series and the sessions they make -----------------------------------------------------------------
async def test_a_weekly_series_keeps_its_local_time_across_the_march_and_october_clock_changes(circle: Circle) -> None:
    await circle.series()
    sessions = await circle.sessions(*YEAR_2025)
    local = [moment.astimezone(AMSTERDAM) for moment in starts(sessions)]
    assert len(sessions) == 43
    assert {(m.weekday(), m.hour, m.minute) for m in local} == {(3, 19, 0)}
    utc_hour = {m.date(): m.astimezone(UTC).hour for m in local}
    assert (utc_hour[date(2025, 3, 27)], utc_hour[date(2025, 4, 3)]) == (18, 17)  # 30 March: clocks forward
    assert (utc_hour[date(2025, 10, 23)], utc_hour[date(2025, 10, 30)]) == (17, 18)  # 26 October: back
    assert all(datetime.fromisoformat(s["ends_at"]) - datetime.fromisoformat(s["starts_at"])
               == (datetime(2025, 1, 1, 21) - datetime(2025, 1, 1, 19)) for s in sessions)


BAD_RULES = {
    "FREQ=HOURLY;COUNT=3": ("series.rrule_invalid", "FREQ"),
    "FREQ=WEEKLY;BYDAY=TH;BYHOUR=20;COUNT=3": ("series.rrule_invalid", "BYHOUR"),
    "FREQ=WEEKLY;BYDAY=THU;COUNT=3": ("series.rrule_invalid", "BYDAY"),
    "FREQ=WEEKLY;BYDAY=TH;COUNT=3;UNTIL=20251231": ("series.rrule_invalid", "UNTIL"),
    "FREQ=WEEKLY;BYDAY=TH": ("series.rrule_unbounded", None),
    "FREQ=WEEKLY;BYDAY=TH;UNTIL=20400101": ("series.beyond_horizon", None),
    "FREQ=WEEKLY;BYDAY=FR;COUNT=3": ("series.start_not_in_rule", None),
}


@pytest.mark.parametrize("rule", list(BAD_RULES))
async def test_a_bad_rule_is_refused_with_a_422_that_names_the_bad_part_and_nothing_is_stored(
    circle: Circle, rule: str
) -> None:
    response = await circle.world.client.post(f"/api/v1/groups/{circle.group_id}/series",
                                              json=circle.series_body(rrule=rule), headers=circle.auth())
    code, part = BAD_RULES[rule]
    assert (response.status_code, response.json()["code"], response.json().get("part")) == (422, code, part)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await circle.count(SessionSeries) == 0


async def test_a_facilitator_must_be_a_begeleider_or_admin_of_the_organisation(circle: Circle) -> None:
    for user in ("funder", "begeleider_y"):
        response = await circle.world.client.post(
            f"/api/v1/groups/{circle.group_id}/series", headers=circle.auth(),
            json=circle.series_body(facilitator_user_id=str(circle.world.users[user].id)))
        assert (response.status_code, response.json()["code"]) == (422, "series.facilitator_invalid")


async def test_the_same_client_id_and_body_answers_the_series_made_first_and_another_body_409(circle: Circle) -> None:
    series_id = str(uuid4())
    body = circle.series_body(id=series_id)
    path = f"/api/v1/groups/{circle.group_id}/series"
    first = await circle.world.client.post(path, json=body, headers=circle.auth())
    retry = await circle.world.client.post(path, json=body, headers=circle.auth())
    other = await circle.world.client.post(path, json={**body, "location": "Elders"}, headers=circle.auth())
    assert [first.status_code, retry.status_code, other.status_code] == [201, 200, 409]
    assert retry.json() == first.json() and other.json()["code"] == "request.id_reused"
    assert await circle.count(SessionSeries) == 1


async def test_session_ids_are_the_same_in_every_listing_and_overlapping_window_and_nothing_is_stored(
    circle: Circle
) -> None:
    await circle.series()
    year = {s["starts_at"]: s["id"] for s in await circle.sessions(*YEAR_2025)}
    spring = {s["starts_at"]: s["id"] for s in await circle.sessions(datetime(2025, 3, 20, tzinfo=UTC),
                                                                     datetime(2025, 5, 1, tzinfo=UTC))}
    assert spring and all(year[start] == session_id for start, session_id in spring.items())
    assert len(set(year.values())) == len(year)
    assert await circle.count(SessionOccurrence) == 0  # listing writes nothing
    one = next(iter(spring.values()))
    detail = await circle.world.client.get(f"/api/v1/sessions/{one}", headers=circle.auth())
    assert (detail.status_code, detail.json()["id"]) == (200, one)


async def test_moving_one_session_keeps_its_id_and_leaves_the_other_sessions_alone(circle: Circle) -> None:
    await circle.series()
    before = await circle.sessions(*YEAR_2025)
    target = next(s for s in before if s["starts_at"].startswith("2025-04-10"))
    moved = await circle.patch(target["id"], {"starts_at": at(2025, 4, 11, 20, 0).isoformat(),
                                              "location": "Buurthuis De Meeuw"})
    assert moved.status_code == 200, moved.text
    after = await circle.sessions(*YEAR_2025)
    changed = [s for s in after if s["moved"]]
    assert [(s["id"], s["starts_at"], s["location"], s["original_starts_at"]) for s in changed] == [
        (target["id"], "2025-04-11T18:00:00Z", "Buurthuis De Meeuw", target["starts_at"])]
    def untouched(sessions: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(s["id"], s["starts_at"], s["location"]) for s in sessions if s["id"] != target["id"]]

    assert untouched(after) == untouched(before)
    assert await circle.count(SessionOccurrence) == 1  # only the exception is stored


async def test_cancelling_one_session_lists_it_as_cancelled_with_its_reason_and_the_rest_untouched(
    circle: Circle
) -> None:
    await circle.series()
    before = await circle.sessions(*YEAR_2025)
    target = before[5]
    cancelled = await circle.patch(target["id"], {"status": "cancelled", "reason": "gespreksleider ziek"})
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    after = await circle.sessions(*YEAR_2025)
    assert [(s["id"], s["status"], s["cancel_reason"]) for s in after if s["status"] != "scheduled"] == [
        (target["id"], "cancelled", "gespreksleider ziek")]
    assert [s["id"] for s in after] == [s["id"] for s in before]
    move = await circle.patch(target["id"], {"location": "Elders"})
    assert (move.status_code, move.json()["code"]) == (409, "session.cancelled")
    back = await circle.patch(target["id"], {"status": "scheduled"})
    assert (back.json()["status"], back.json()["cancel_reason"]) == ("scheduled", None)


async def test_a_session_changed_from_a_stale_version_is_refused_with_412_and_keeps_the_newer_change(
    circle: Circle
) -> None:
    await circle.series()
    session = (await circle.sessions(*YEAR_2025))[0]
    first = await circle.patch(session["id"], {"location": "Tuin"})
    assert (first.json()["version"], first.headers["etag"]) == (2, '"2"')
    stale = await circle.world.client.patch(f"/api/v1/sessions/{session['id']}", json={"location": "Kerkzaal"},
                                            headers=circle.auth(**{"If-Match": '"1"'}))
    assert (stale.status_code, stale.json()["code"]) == (412, "request.stale_version")
    assert (await circle.sessions(*YEAR_2025))[0]["location"] == "Tuin"


@pytest.mark.parametrize("body", [{"status": "cancelled"}, {"status": "cancelled", "reason": "ziek", "location": "x"},
                                  {}, {"reason": "ziek"}, {"notes": "zij huilde"}])
async def test_a_session_change_that_is_not_one_clear_move_or_cancellation_is_refused(
    circle: Circle, body: dict[str, Any]
) -> None:
    await circle.series()
    session = (await circle.sessions(*YEAR_2025))[0]
    response = await circle.patch(session["id"], body)
    assert (response.status_code, response.json()["code"]) == (422, "request.invalid")


async def test_a_session_moved_into_or_out_of_a_window_is_listed_where_it_now_takes_place(circle: Circle) -> None:
    await circle.series()
    april = (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC))
    out_of_april = (await circle.sessions(*april))[0]
    into_april = next(s for s in await circle.sessions(*YEAR_2025) if s["starts_at"].startswith("2025-05-08"))
    await circle.patch(out_of_april["id"], {"starts_at": at(2025, 5, 2).isoformat()})
    await circle.patch(into_april["id"], {"starts_at": at(2025, 4, 30).isoformat()})
    listed = {s["id"]: s["starts_at"] for s in await circle.sessions(*april)}
    assert out_of_april["id"] not in listed
    assert listed[into_april["id"]] == "2025-04-30T17:00:00Z"


async def test_paging_through_a_year_lists_every_session_once_in_order_also_when_moves_cross_pages(
    circle: Circle
) -> None:
    await circle.series()
    listed = await circle.sessions(*YEAR_2025)
    await circle.patch(listed[1]["id"], {"starts_at": at(2025, 10, 3, 10, 0).isoformat()})  # from page 1 to 5
    await circle.patch(listed[35]["id"], {"starts_at": at(2025, 3, 15, 10, 0).isoformat()})  # from page 6 to 1
    seen: list[tuple[str, str]] = []
    cursor = None
    while cursor != "end":
        params = {"from": YEAR_2025[0].isoformat(), "to": YEAR_2025[1].isoformat(), "limit": "7",
                  **({"cursor": cursor} if cursor else {})}
        page = (await circle.world.client.get(f"/api/v1/groups/{circle.group_id}/sessions", params=params,
                                              headers=circle.auth())).json()
        assert len(page["items"]) <= 7
        seen += [(s["starts_at"], s["id"]) for s in page["items"]]
        cursor = page["next_cursor"] or "end"
    assert seen == sorted(seen) and len(seen) == 43
    assert {session_id for _, session_id in seen} == {s["id"] for s in listed}


@pytest.mark.parametrize(("frm", "to"), [("2025-01-01T00:00:00Z", "2026-01-03T00:00:00Z"),
                                         ("2025-06-01T00:00:00Z", "2025-05-01T00:00:00Z"),
                                         ("2025-06-01T00:00:00", "2025-07-01T00:00:00")])
async def test_a_window_longer_than_a_year_backwards_or_without_an_offset_is_refused(
    circle: Circle, frm: str, to: str
) -> None:
    response = await circle.world.client.get(f"/api/v1/groups/{circle.group_id}/sessions",
                                             params={"from": frm, "to": to}, headers=circle.auth())
    assert (response.status_code, response.json()["code"]) == (422, "sessions.window_invalid")


# --- changing a series from a date on ------------------------------------------------------------------
FUTURE = (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 12, 31, tzinfo=UTC))


async def test_changing_a_series_from_a_date_splits_it_earlier_sessions_keep_everything_and_later_ones_follow(
    circle: Circle
) -> None:
    old = await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=20", starts_at=at(2030, 1, 3).isoformat(), capacity=8)
    listed = await circle.sessions(*FUTURE)
    kept_rsvp = next(s for s in listed if s["starts_at"].startswith("2030-03-07"))  # after the date, same time
    await circle.rsvp(kept_rsvp["id"], circle.member("amina"))
    await circle.patch(listed[1]["id"], {"location": "Zaaltje boven"})  # before the date: stays as it is
    before = await circle.sessions(*FUTURE)
    split = await circle.world.client.post(f"/api/v1/series/{old['id']}/split", headers=circle.auth(),
                                           json={"from_on": "2030-03-01", "location": "Buurthuis De Meeuw"})
    assert split.status_code == 201, split.text
    result = split.json()
    assert result["series"]["ended_from_on"] == "2030-03-01" and "UNTIL=20300228T225959Z" in result["series"]["rrule"]
    assert result["continuation"]["rrule"] == "FREQ=WEEKLY;BYDAY=TH;COUNT=11"  # 9 Thursdays were before the date
    assert result["kept_session_ids"] == [kept_rsvp["id"]] and result["dropped_session_ids"] == []
    after = await circle.sessions(*FUTURE)
    assert len(after) == 20
    split_at = datetime(2030, 3, 1, tzinfo=AMSTERDAM)
    assert [s for s in after if datetime.fromisoformat(s["starts_at"]) < split_at] == [
        s for s in before if datetime.fromisoformat(s["starts_at"]) < split_at]  # not touched, not even a version
    later = [s for s in after if datetime.fromisoformat(s["starts_at"]) >= split_at]
    assert {s["location"] for s in later} == {"Buurthuis De Meeuw"}
    assert [s["id"] for s in later] == [s["id"] for s in before if datetime.fromisoformat(s["starts_at"]) >= split_at]
    assert next(s for s in later if s["id"] == kept_rsvp["id"])["rsvps"]["yes"] == 1


async def test_a_split_that_changes_the_time_drops_later_stored_sessions_and_names_them(circle: Circle) -> None:
    old = await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;UNTIL=20300630", starts_at=at(2030, 1, 3).isoformat())
    later = next(s for s in await circle.sessions(*FUTURE) if s["starts_at"].startswith("2030-05-02"))
    await circle.rsvp(later["id"], circle.member("bram"))
    split = await circle.world.client.post(
        f"/api/v1/series/{old['id']}/split", headers=circle.auth(),
        json={"from_on": "2030-04-01", "starts_at": at(2030, 4, 4, 19, 30).isoformat()})
    assert split.status_code == 201, split.text
    assert split.json()["dropped_session_ids"] == [later["id"]]
    after = await circle.sessions(*FUTURE)
    assert {s["starts_at"][11:16] for s in after if s["starts_at"] >= "2030-04-01"} == {"17:30"}
    assert await circle.count(SessionRsvp) == 0


async def test_ending_a_series_from_a_date_keeps_earlier_sessions_and_lists_nothing_from_that_date(
    circle: Circle
) -> None:
    old = await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=20", starts_at=at(2030, 1, 3).isoformat())
    before = await circle.sessions(*FUTURE)
    ended = await circle.world.client.post(f"/api/v1/series/{old['id']}/end", json={"from_on": "2030-02-01"},
                                           headers=circle.auth())
    assert ended.status_code == 200, ended.text
    after = await circle.sessions(*FUTURE)
    assert after == [s for s in before if s["starts_at"] < "2030-02-01"] and len(after) == 5
    retry = await circle.world.client.post(f"/api/v1/series/{old['id']}/end", json={"from_on": "2030-02-01"},
                                           headers=circle.auth())
    later = await circle.world.client.post(f"/api/v1/series/{old['id']}/end", json={"from_on": "2030-03-01"},
                                           headers=circle.auth())
    assert (retry.status_code, retry.json()["series"]) == (200, ended.json()["series"])
    assert (later.status_code, later.json()["code"]) == (409, "series.already_ended")


async def test_a_series_change_from_a_date_that_would_touch_a_session_already_begun_is_refused(circle: Circle) -> None:
    old = await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=200", starts_at=at(2026, 1, 8).isoformat())
    for path, body in (("split", {"from_on": "2026-02-01", "location": "Elders"}), ("end", {"from_on": "2026-02-01"})):
        response = await circle.world.client.post(f"/api/v1/series/{old['id']}/{path}", json=body,
                                                  headers=circle.auth())
        assert (response.status_code, response.json()["code"]) == (409, "series.split_touches_past")


# --- RSVPs ---------------------------------------------------------------------------------------------
async def test_twenty_parallel_yes_answers_for_eight_seats_seat_exactly_eight_and_refuse_twelve_with_409(
    circle: Circle
) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=4", starts_at=at(2030, 1, 3).isoformat(), capacity=8)
    session = (await circle.sessions(*FUTURE))[0]
    members = [circle.member(n) for n in ("amina", "bram", "chris", "dewi", "eva")] + await circle.more_members(15)
    responses = await parallel(circle.world, [
        ("PUT", f"/api/v1/sessions/{session['id']}/rsvp", {"member_id": str(m), "answer": "yes"}, circle.auth())
        for m in members])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 8 + [409] * 12, [r.text for r in responses if r.status_code not in (200, 409)]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"rsvp.session_full"}
    assert await circle.count(SessionRsvp, SessionRsvp.answer == RsvpAnswer.YES) == 8
    listed = next(s for s in await circle.sessions(*FUTURE) if s["id"] == session["id"])
    assert (listed["rsvps"]["yes"], listed["seats_left"]) == (8, 0)


async def test_a_yes_with_waitlist_while_full_gets_a_place_and_the_first_moves_up_when_someone_says_no(
    circle: Circle
) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=4", starts_at=at(2030, 1, 3).isoformat(), capacity=2)
    sid = (await circle.sessions(*FUTURE))[0]["id"]
    amina, bram, chris, dewi = (circle.member(n) for n in ("amina", "bram", "chris", "dewi"))
    assert [(await circle.rsvp(sid, m)).json()["answer"] for m in (amina, bram)] == ["yes", "yes"]
    full = await circle.rsvp(sid, chris)
    assert (full.status_code, full.json()["code"], full.json()["capacity"]) == (409, "rsvp.session_full", 2)
    chris_waits = (await circle.rsvp(sid, chris, waitlist=True)).json()
    dewi_waits = (await circle.rsvp(sid, dewi, waitlist=True)).json()
    assert [(w["answer"], w["waitlist_place"]) for w in (chris_waits, dewi_waits)] == [("waitlisted", 1),
                                                                                      ("waitlisted", 2)]
    assert (await circle.rsvp(sid, chris, waitlist=True)).json()["waitlist_place"] == 1  # asking again keeps the place
    bram_out = (await circle.rsvp(sid, bram, "no")).json()
    assert (bram_out["answer"], bram_out["promoted_member_ids"]) == ("no", [str(chris)])
    detail = (await circle.world.client.get(f"/api/v1/sessions/{sid}", headers=circle.auth())).json()
    assert {(line["member_id"], line["answer"], line["waitlist_place"]) for line in detail["rsvp_lines"]} == {
        (str(amina), "yes", None), (str(bram), "no", None), (str(chris), "yes", None), (str(dewi), "waitlisted", 1)}


async def test_a_member_answers_only_for_themself_and_for_no_one_outside_the_group(circle: Circle) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=4", starts_at=at(2030, 1, 3).isoformat())
    sid = (await circle.sessions(*FUTURE))[0]["id"]
    amina = await circle.member_account("amina")
    own = await circle.rsvp(sid, circle.member("amina"), "maybe", user=amina)
    other = await circle.rsvp(sid, circle.member("bram"), user=amina)
    stranger = await circle.rsvp(sid, circle.world.members["a.bram"])
    assert (own.status_code, own.json()["answer"]) == (200, "maybe")
    assert (other.status_code, other.json()["code"]) == (403, "rsvp.not_yourself")
    assert (stranger.status_code, stranger.json()["code"]) == (422, "member.not_current")
    seen = (await circle.world.client.get(f"/api/v1/sessions/{sid}", headers=circle.auth(amina))).json()
    assert [line["member_id"] for line in seen["rsvp_lines"]] == [str(circle.member("amina"))]


async def test_a_cancelled_session_takes_no_rsvp(circle: Circle) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=4", starts_at=at(2030, 1, 3).isoformat())
    sid = (await circle.sessions(*FUTURE))[0]["id"]
    await circle.patch(sid, {"status": "cancelled", "reason": "zaal niet beschikbaar"})
    response = await circle.rsvp(sid, circle.member("amina"))
    assert (response.status_code, response.json()["code"]) == (409, "session.cancelled")


# --- attendance ----------------------------------------------------------------------------------------
SPRING_2026 = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


async def test_attendance_records_who_came_and_can_be_corrected_and_nothing_else(circle: Circle) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=8", starts_at=at(2026, 2, 5).isoformat())
    sid = (await circle.sessions(*SPRING_2026))[0]["id"]
    path = f"/api/v1/sessions/{sid}/attendance"
    came = [circle.member("amina"), circle.member("chris"), circle.member("eva")]
    first = await circle.world.client.put(path, json={"present_member_ids": [str(m) for m in came]},
                                          headers=circle.auth())
    assert first.status_code == 200, first.text
    fixed = await circle.world.client.put(path, json={"present_member_ids": [str(m) for m in came[:2]]},
                                          headers=circle.auth())
    assert sorted(fixed.json()["present_member_ids"]) == sorted(str(m) for m in came[:2])
    assert await circle.count(SessionAttendance) == 2
    cancel = await circle.patch(sid, {"status": "cancelled", "reason": "vergissing"})
    assert (cancel.status_code, cancel.json()["code"]) == (409, "session.attendance_recorded")


@pytest.mark.parametrize("extra", [{"notes": "Zij vertelde over haar schulden"}, {"topics": ["rouw"]},
                                   {"story": "het verhaal van de week"}, {"spoke": []}, {"remarks": ""}])
async def test_attendance_with_any_field_that_could_carry_what_was_said_is_refused_and_nothing_is_stored(
    circle: Circle, extra: dict[str, Any]
) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=8", starts_at=at(2026, 2, 5).isoformat())
    sid = (await circle.sessions(*SPRING_2026))[0]["id"]
    response = await circle.world.client.put(
        f"/api/v1/sessions/{sid}/attendance", headers=circle.auth(),
        json={"present_member_ids": [str(circle.member("amina"))], **extra})
    assert (response.status_code, response.json()["code"]) == (422, "request.invalid")
    assert [e["field"] for e in response.json()["errors"]] == list(extra)
    assert await circle.count(SessionAttendance) == 0


async def test_attendance_names_only_members_of_the_group_and_only_once_the_session_has_begun(circle: Circle) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=4", starts_at=at(2026, 2, 5).isoformat())
    past = (await circle.sessions(*SPRING_2026))[0]["id"]
    stranger = await circle.world.client.put(f"/api/v1/sessions/{past}/attendance", headers=circle.auth(),
                                             json={"present_member_ids": [str(circle.world.members["a.amina"])]})
    assert (stranger.status_code, stranger.json()["code"]) == (422, "member.not_current")
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=4", starts_at=at(2030, 1, 3).isoformat())
    future = (await circle.sessions(*FUTURE))[0]["id"]
    early = await circle.world.client.put(f"/api/v1/sessions/{future}/attendance", headers=circle.auth(),
                                          json={"present_member_ids": [str(circle.member("amina"))]})
    assert (early.status_code, early.json()["code"]) == (409, "session.not_started")


async def test_no_table_of_a_session_has_a_column_that_could_hold_what_was_said(circle: Circle) -> None:
    async with circle.world.sessionmaker() as db:
        columns = await (await db.connection()).run_sync(lambda c: {
            table: {col["name"] for col in inspect(c).get_columns(table)}
            for table in ("session_attendance", "session_rsvps", "session_occurrences")})
    assert columns == {
        "session_attendance": {"session_id", "member_id", "recorded_by", "recorded_at"},
        "session_rsvps": {"session_id", "member_id", "answer", "waitlist_seq", "answered_at", "recorded_by"},
        "session_occurrences": {"id", "series_id", "original_start", "starts_at", "location", "status",
                                "cancel_reason", "changed_by", "changed_at", "created_at", "version"},
    }


# --- calendar feeds ------------------------------------------------------------------------------------
async def feed(circle: Circle, path: str | None = None, user: str = "begeleider_b") -> Any:
    path = path or f"/api/v1/groups/{circle.group_id}/calendar.ics"
    return await circle.world.client.get(path, headers=circle.auth(user) if user else {})


def expanded(body: bytes, frm: datetime, to: datetime) -> list[Any]:
    return list(recurring_ical_events.of(Calendar.from_ical(body)).between(frm, to))


async def test_the_feed_parses_and_expands_to_exactly_the_sessions_the_api_lists_for_the_same_window(
    circle: Circle
) -> None:
    await circle.series()  # 2025, across both clock changes
    split_me = await circle.series(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;COUNT=10",
                                   starts_at=at(2030, 1, 7, 10, 0).isoformat(), location="Huiskamer")
    sessions = await circle.sessions(*YEAR_2025)
    await circle.patch(sessions[3]["id"], {"starts_at": at(2025, 3, 28, 14, 30).isoformat(), "location": "Tuin"})
    await circle.patch(sessions[10]["id"], {"status": "cancelled", "reason": "zaal bezet"})
    await circle.patch(sessions[33]["id"], {"location": "Kerkzaal"})
    await circle.world.client.post(f"/api/v1/series/{split_me['id']}/split", headers=circle.auth(),
                                   json={"from_on": "2030-03-01", "starts_at": at(2030, 3, 5, 11, 0).isoformat(),
                                         "rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=6"})
    response = await feed(circle)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    for window in (YEAR_2025, FUTURE):
        listed = [s for s in await circle.sessions(*window) if s["status"] == "scheduled"]
        events = expanded(response.content, *window)
        from_feed = sorted((e["DTSTART"].dt.astimezone(UTC), str(e.get("LOCATION"))) for e in events)
        from_api = sorted((datetime.fromisoformat(s["starts_at"]), s["location"]) for s in listed)
        assert from_feed == from_api
        assert all(e["DTEND"].dt - e["DTSTART"].dt == datetime(2025, 1, 1, 21) - datetime(2025, 1, 1, 19)
                   for e in events if e["DTSTART"].dt.year == 2025)
    assert len(expanded(response.content, *YEAR_2025)) == 42  # 43 Thursdays, one cancelled


async def test_the_feed_has_a_vtimezone_an_rrule_stable_uids_and_an_etag_and_answers_304_when_unchanged(
    circle: Circle
) -> None:
    series = await circle.series()
    session = (await circle.sessions(*YEAR_2025))[2]
    await circle.patch(session["id"], {"starts_at": at(2025, 3, 21, 18, 0).isoformat()})
    first, second = await feed(circle), await feed(circle)
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    calendar = Calendar.from_ical(first.content)
    zones = [c for c in calendar.walk("VTIMEZONE")]
    events = calendar.walk("VEVENT")
    assert [str(z["TZID"]) for z in zones] == ["Europe/Amsterdam"]
    assert {str(e["UID"]) for e in events} == {f"series-{series['id']}@kringkas"}
    assert [e["RRULE"].to_ical().decode() for e in events if "RRULE" in e] == [
        "FREQ=WEEKLY;UNTIL=20251231T225959Z;BYDAY=TH"]
    override = next(e for e in events if "RECURRENCE-ID" in e)
    assert override["RECURRENCE-ID"].dt == at(2025, 3, 20) and override["DTSTART"].dt == at(2025, 3, 21, 18, 0)
    unchanged = await circle.world.client.get(f"/api/v1/groups/{circle.group_id}/calendar.ics",
                                              headers=circle.auth(**{"If-None-Match": first.headers["etag"]}))
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    await circle.patch(session["id"], {"location": "Elders"})
    assert (await feed(circle)).headers["etag"] != first.headers["etag"]


async def test_the_feed_shows_times_and_places_and_never_the_name_of_a_member(circle: Circle) -> None:
    await circle.series(rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=8", starts_at=at(2026, 2, 5).isoformat())
    sid = (await circle.sessions(*SPRING_2026))[0]["id"]
    await circle.rsvp(sid, circle.member("amina"))
    await circle.world.client.put(f"/api/v1/sessions/{sid}/attendance", headers=circle.auth(),
                                  json={"present_member_ids": [str(circle.member("bram"))]})
    body = (await feed(circle)).content
    for name in ("Amina", "Bram", "Chris", "Dewi", "Eva"):
        assert name.encode() not in body
    event = Calendar.from_ical(body).walk("VEVENT")[0]
    assert (str(event["LOCATION"]), event["DTSTART"].dt) == ("De Kapel, Noordermarkt 48", at(2026, 2, 5))
    assert set(event) <= {"UID", "DTSTAMP", "DTSTART", "DURATION", "RRULE", "SUMMARY", "LOCATION", "SEQUENCE"}


async def test_a_rotated_feed_token_stops_working_and_the_new_secret_url_serves_the_feed_without_a_bearer(
    circle: Circle
) -> None:
    await circle.series()
    path = f"/api/v1/groups/{circle.group_id}/calendar-token"
    first = (await circle.world.client.post(path, headers=circle.auth())).json()["feed_url"]
    assert first.startswith("http://testserver.local/api/v1/feeds/") and first.endswith(".ics")
    served = await circle.world.client.get(first)
    assert served.status_code == 200 and served.content == (await feed(circle)).content
    second = (await circle.world.client.post(path, headers=circle.auth("admin"))).json()["feed_url"]
    assert second != first
    old, new = await circle.world.client.get(first), await circle.world.client.get(second)
    assert (old.status_code, old.json()["code"]) == (404, "resource.not_found")
    assert new.status_code == 200
    async with circle.world.sessionmaker() as db:
        from domain.models import CalendarFeed

        stored = list((await db.execute(select(CalendarFeed.token_hash))).scalars())
    token = second.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in stored and len(stored) == 1  # only a hash of the token is kept
    assert (await circle.world.client.get("/api/v1/feeds/not-a-token-at-all-xxxxxxxx.ics")).status_code == 404


async def test_a_feed_url_is_never_kept_for_an_idempotent_replay_a_retry_rotates_again(circle: Circle) -> None:
    from domain.models import IdempotencyKey

    path = f"/api/v1/groups/{circle.group_id}/calendar-token"
    headers = circle.auth(**{"Idempotency-Key": "rotate-once"})
    first = await circle.world.client.post(path, headers=headers)
    second = await circle.world.client.post(path, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["feed_url"] != second.json()["feed_url"]
    assert await circle.count(IdempotencyKey) == 0  # the secret URL is in no stored answer


async def test_the_coach_feed_holds_every_session_and_planned_meeting_of_the_callers_groups_and_nothing_else(
    circle: Circle
) -> None:
    await circle.series()
    kring = await Kring.build(circle.world)  # group A, a spaarkring guided by begeleider_a: six planned meetings
    own = Calendar.from_ical((await feed(circle, "/api/v1/coach/calendar.ics")).content)
    assert {str(e["UID"]).split("-")[0] for e in own.walk("VEVENT")} == {"series"}
    everything = Calendar.from_ical((await feed(circle, "/api/v1/coach/calendar.ics", user="admin")).content)
    uids = {str(e["UID"]) for e in everything.walk("VEVENT")}
    assert {f"meeting-{m}@kringkas" for m in kring.meeting_ids.values()} <= uids
    assert any(uid.startswith("series-") for uid in uids)
    url = (await circle.world.client.post("/api/v1/coach/calendar-token", headers=circle.auth())).json()["feed_url"]
    by_url = await circle.world.client.get(url)
    assert by_url.status_code == 200 and by_url.content == (await feed(circle, "/api/v1/coach/calendar.ics")).content
    refused = await circle.world.client.get("/api/v1/coach/calendar.ics", headers=circle.auth("funder"))
    assert refused.status_code == 403
