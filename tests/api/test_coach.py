from __future__ import annotations

from tests.world import World


async def test_the_coach_list_shows_a_begeleider_their_groups_with_signals_and_refuses_members_and_funders(
    world: World,
) -> None:
    mine = await world.client.get("/api/v1/coach/groups", headers=world.auth("begeleider_a"))
    assert mine.status_code == 200
    items = mine.json()["items"]
    assert [item["group_id"] for item in items] == [str(world.groups["a"])]
    assert {"needs_attention", "attention_reasons", "attention_score", "attendance", "cash", "loans"} <= items[0].keys()
    assert items[0]["attention_reasons"] == ["no_next_meeting"]  # a spaarkring with no cycle planned
    for user in ("member", "funder"):
        refused = await world.client.get("/api/v1/coach/groups", headers=world.auth(user))
        assert (refused.status_code, refused.json()["code"]) == (403, "access.role_not_allowed")


async def test_the_coach_list_pages_by_cursor(world: World) -> None:
    first = (await world.client.get("/api/v1/coach/groups?limit=1", headers=world.auth("admin"))).json()
    second = (await world.client.get(f"/api/v1/coach/groups?limit=1&cursor={first['next_cursor']}",
                                     headers=world.auth("admin"))).json()
    assert len(first["items"]) == len(second["items"]) == 1
    assert first["items"][0]["group_id"] != second["items"][0]["group_id"]
    assert second["next_cursor"] is None


async def test_a_luistergroep_that_cancels_sessions_shows_it_and_its_next_session_in_the_coach_list(
    world: World,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.api.test_luistergroepen import Circle

    circle = Circle(world)
    now = datetime.now(UTC)
    start = (now - timedelta(days=21)).replace(second=0, microsecond=0)
    await circle.series(rrule="FREQ=WEEKLY;COUNT=10", starts_at=start.isoformat())
    past = await circle.sessions(now - timedelta(days=22), now)
    for session in past[:2]:
        cancelled = await world.client.patch(f"/api/v1/sessions/{session['id']}", headers=circle.auth(),
                                             json={"status": "cancelled", "reason": "gespreksleider ziek"})
        assert cancelled.status_code == 200, cancelled.text
    listed = (await world.client.get("/api/v1/coach/groups", headers=world.auth("begeleider_b"))).json()["items"]
    assert len(listed) == 1
    group = listed[0]
    assert group["sessions"]["cancelled"] == 2 and "sessions_cancelled" in group["attention_reasons"]
    assert group["next_meeting_at"] is not None and "no_next_meeting" not in group["attention_reasons"]
