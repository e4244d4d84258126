"""Who may do what in a luistergroep, seen from its own people: group B of the world, guided by
begeleider_b, with Amina B holding a member account. (The access matrix acts from group A, a spaarkring,
so there only the admin reaches B's series and sessions.) Outside the group everything answers 404,
checked before the role's 403."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import luistergroepen, people, scheduling
from domain.models import Role, utcnow
from tests.world import PASSWORD, World

SPLIT_ID = "9b2f4a56-7f6e-4c1b-8a3d-5e6f7a8b9c0d"


@pytest.fixture
async def b(world: World) -> dict[str, str]:
    """A weekly series in group B from Thursday 8 January 2026, its session of 5 February (begun), and a
    member account for Amina B. Returns the path values."""
    async with world.sessionmaker() as db:
        user, _ = await people.add_user(db, world.organisations["x"], people.NewUser(
            "amina.b@example.org", PASSWORD, Role.MEMBER, "Amina", member_id=world.members["b.amina"]),
            password_profile="test")
        world.users["member_b"] = user
        series, _ = await luistergroepen.create_series(
            db, world.actor("begeleider_b"), world.groups["b"], luistergroepen.NewSeries(
                "FREQ=WEEKLY;BYDAY=TH;COUNT=400", datetime(2026, 1, 8, 19, 0, tzinfo=ZoneInfo("Europe/Amsterdam")),
                120, "De Kapel", world.users["begeleider_b"].id, 8), series_id=None, now=utcnow())
        await db.commit()
    session = scheduling.session_id(series.lineage_key, datetime(2026, 2, 5, 18, 0, tzinfo=UTC))
    return {"group": str(world.groups["b"]), "series": str(series.id), "session": str(session)}


def _amina(world: World) -> dict[str, Any]:
    return {"member_id": str(world.members["b.amina"]), "answer": "yes"}


# (method, path, body): status per caller. The callers act in this order, so a write that can't be repeated
# is answered as a retry (200) after the first.
CALLERS = ("admin", "begeleider_b", "member_b", "funder", None)
ROUTES: dict[tuple[str, str], tuple[Any, tuple[int, ...]]] = {
    ("PUT", "/api/v1/groups/{group}/agreements"): ({"items": ["Alleen luisteren"]}, (200, 200, 403, 404, 401)),
    ("GET", "/api/v1/groups/{group}/agreements/history"): (None, (200, 200, 200, 404, 401)),
    ("POST", "/api/v1/groups/{group}/series"): (
        lambda w: {"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "starts_at": "2030-01-07T10:00:00+01:00",
                   "duration_minutes": 90, "location": "Huiskamer",
                   "facilitator_user_id": str(w.users["begeleider_b"].id)}, (201, 201, 403, 404, 401)),
    ("GET", "/api/v1/groups/{group}/series"): (None, (200, 200, 200, 404, 401)),
    ("GET", "/api/v1/groups/{group}/sessions"): (None, (200, 200, 200, 404, 401)),
    ("GET", "/api/v1/series/{series}"): (None, (200, 200, 200, 404, 401)),
    ("POST", "/api/v1/series/{series}/end"): ({"from_on": "2033-01-01"}, (200, 200, 403, 404, 401)),
    ("POST", "/api/v1/series/{series}/split"): (
        {"id": SPLIT_ID, "from_on": "2032-01-01", "location": "Buurthuis"}, (201, 200, 403, 404, 401)),
    ("GET", "/api/v1/sessions/{session}"): (None, (200, 200, 200, 404, 401)),
    ("PATCH", "/api/v1/sessions/{session}"): ({"location": "Buurthuis"}, (200, 200, 403, 404, 401)),
    ("PUT", "/api/v1/sessions/{session}/rsvp"): (_amina, (200, 200, 200, 404, 401)),
    ("PUT", "/api/v1/sessions/{session}/attendance"): (
        lambda w: {"present_member_ids": [str(w.members["b.amina"])]}, (200, 200, 403, 404, 401)),
    ("GET", "/api/v1/groups/{group}/calendar.ics"): (None, (200, 200, 200, 404, 401)),
    ("POST", "/api/v1/groups/{group}/calendar-token"): (None, (200, 200, 403, 404, 401)),
}
OUTSIDERS = ("begeleider_a", "member", "admin_y", "begeleider_y")


async def _call(world: World, method: str, path: str, body: Any, user: str | None) -> int:
    payload = body(world) if callable(body) else body
    response = await world.client.request(method, path, json=payload, headers=world.auth(user) if user else {})
    return response.status_code


@pytest.mark.parametrize("route", list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
async def test_the_groups_own_people_get_what_their_role_allows_and_everyone_outside_gets_404_first(
    world: World, b: dict[str, str], route: tuple[str, str]
) -> None:
    method, template = route
    body, expected = ROUTES[route]
    path = template.format(**b)
    outside = {user: await _call(world, method, path, body, user) for user in OUTSIDERS}
    inside = {user: await _call(world, method, path, body, user) for user in CALLERS}
    assert outside == dict.fromkeys(OUTSIDERS, 404)
    assert inside == dict(zip(CALLERS, expected, strict=True))


async def test_a_member_may_not_answer_for_another_member_of_their_own_group(world: World, b: dict[str, str]) -> None:
    response = await world.client.put(f"/api/v1/sessions/{b['session']}/rsvp", headers=world.auth("member_b"),
                                      json={"member_id": str(world.members["b.bram"]), "answer": "yes"})
    assert (response.status_code, response.json()["code"]) == (403, "rsvp.not_yourself")


async def test_a_session_id_no_listing_handed_out_answers_404_like_one_outside_the_callers_groups(
    world: World, b: dict[str, str]
) -> None:
    from uuid import UUID, uuid4

    key, start = scheduling.decode_session_id(UUID(b["session"])) or (0, None)
    assert start is not None
    not_an_occurrence = scheduling.session_id(key, datetime(2026, 2, 6, 18, 0, tzinfo=UTC))  # a Friday
    for session_id in (uuid4(), not_an_occurrence):
        response = await world.client.get(f"/api/v1/sessions/{session_id}", headers=world.auth("admin"))
        assert (response.status_code, response.json()["code"]) == (404, "resource.not_found")
