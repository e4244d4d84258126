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
