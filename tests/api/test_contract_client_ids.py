"""Client-made ids: a phone creates offline and retries. The same id with the same body answers the
existing resource (200, no second write); the same id with another body answers 409 request.id_reused."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import httpx

from sqlalchemy import func, inspect, select, table

from tests.world import World


async def row_counts(world: World) -> dict[str, int]:
    """The number of rows in every table the database holds."""
    async with world.sessionmaker() as db:
        names = await db.run_sync(lambda session: inspect(session.connection()).get_table_names())
        return {name: (await db.execute(select(func.count()).select_from(table(name)))).scalar_one()
                for name in names}


def _group_body(world: World, **change: Any) -> dict[str, Any]:
    return {"id": str(uuid4()), "name": "Kring Oost", "kind": "spaarkring", "programme_id": str(world.programmes["a"]),
            "begeleider_ids": [str(world.users["begeleider_a"].id)], "timezone": "Europe/Amsterdam", **change}


async def test_a_group_posted_again_with_the_same_id_and_body_answers_the_existing_group_with_200_and_writes_nothing(
    world: World,
) -> None:
    body = _group_body(world)
    first = await world.client.post("/api/v1/groups", json=body, headers=world.auth("admin"))
    assert first.status_code == 201, first.text
    counts = await row_counts(world)

    again = await world.client.post("/api/v1/groups", json=body, headers=world.auth("admin"))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["id"] == body["id"]
    assert await row_counts(world) == counts


async def test_a_group_posted_with_a_used_id_and_another_body_answers_409_id_reused_and_changes_nothing(
    world: World,
) -> None:
    body = _group_body(world)
    first = await world.client.post("/api/v1/groups", json=body, headers=world.auth("admin"))
    assert first.status_code == 201, first.text
    counts = await row_counts(world)

    other = await world.client.post("/api/v1/groups", json={**body, "name": "Kring West"}, headers=world.auth("admin"))

    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "request.id_reused"
    assert await row_counts(world) == counts
    fetched = await world.client.get(f"/api/v1/groups/{body['id']}", headers=world.auth("admin"))
    assert fetched.json()["name"] == "Kring Oost"


async def test_a_group_id_used_by_a_group_elsewhere_is_refused_and_reveals_nothing_of_it(world: World) -> None:
    body = _group_body(world, id=str(world.groups["y"]), programme_id=None, begeleider_ids=[])
    response = await world.client.post("/api/v1/groups", json=body, headers=world.auth("admin"))
    assert response.status_code == 409
    assert response.json()["code"] == "request.id_reused"
    assert "Groep Y" not in response.text


async def test_a_member_posted_again_with_the_same_id_and_body_answers_the_existing_member_with_200_and_writes_nothing(
    world: World,
) -> None:
    path = f"/api/v1/groups/{world.groups['a']}/members"
    body = {"id": str(uuid4()), "display_name": "Fatima A", "phone": "0612345679", "joined_on": "2026-02-02"}
    first = await world.client.post(path, json=body, headers=world.auth("begeleider_a"))
    assert first.status_code == 201, first.text
    counts = await row_counts(world)

    again = await world.client.post(path, json=body, headers=world.auth("begeleider_a"))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert await row_counts(world) == counts


async def test_a_member_posted_with_a_used_id_and_another_body_answers_409_id_reused_and_changes_nothing(
    world: World,
) -> None:
    path = f"/api/v1/groups/{world.groups['a']}/members"
    body = {"id": str(uuid4()), "display_name": "Fatima A", "joined_on": "2026-02-02"}
    first = await world.client.post(path, json=body, headers=world.auth("begeleider_a"))
    assert first.status_code == 201, first.text
    counts = await row_counts(world)

    for other in ({**body, "display_name": "Fatima B"}, {**body, "joined_on": "2026-02-03"},
                  {**body, "phone": "0612345670"}):
        response = await world.client.post(path, json=other, headers=world.auth("begeleider_a"))
        assert (response.status_code, response.json()["code"]) == (409, "request.id_reused"), other

    assert await row_counts(world) == counts
    member = await world.client.get(f"{path}/{body['id']}", headers=world.auth("begeleider_a"))
    assert (member.json()["display_name"], member.json()["joined_on"]) == ("Fatima A", "2026-02-02")


async def test_a_member_id_already_used_in_another_group_answers_409_and_moves_no_one(world: World) -> None:
    used = world.members["b.bram"]
    body = {"id": str(used), "display_name": "Bram B", "phone": "0612345678", "joined_on": "2026-01-05"}
    response = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members", json=body,
                                       headers=world.auth("admin"))
    assert (response.status_code, response.json()["code"]) == (409, "request.id_reused")
    still = await world.client.get(f"/api/v1/groups/{world.groups['b']}/members/{used}", headers=world.auth("admin"))
    assert still.status_code == 200


async def parallel(world: World, requests: list[tuple[str, str, dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    """Send requests at the same time: each from a thread of its own into the app, which the test client
    runs on its own event loop, so the app serves them concurrently on separate database connections."""
    sync_client = httpx.Client(transport=world.client._transport, base_url=world.client.base_url)  # same app
    return list(await asyncio.gather(*(
        asyncio.to_thread(sync_client.request, method, path, json=body, headers=headers)
        for method, path, body, headers in requests)))


async def test_parallel_creates_with_one_client_id_make_one_group_and_all_answer_it(world: World) -> None:
    body = _group_body(world)
    counts = await row_counts(world)
    responses = await parallel(world, [("POST", "/api/v1/groups", body, world.auth("admin"))] * 5)

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert {r.json()["id"] for r in responses} == {body["id"]}
    after = await row_counts(world)
    assert (after["groups"], after["group_begeleiders"]) == (counts["groups"] + 1, counts["group_begeleiders"] + 1)


async def test_parallel_creates_with_one_client_id_make_one_member_and_all_answer_it(world: World) -> None:
    path = f"/api/v1/groups/{world.groups['a']}/members"
    body = {"id": str(uuid4()), "display_name": "Parallel Piet", "joined_on": "2026-02-02"}
    counts = await row_counts(world)
    responses = await parallel(world, [("POST", path, body, world.auth("begeleider_a"))] * 5)

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert {r.json()["id"] for r in responses} == {body["id"]}
    assert (await row_counts(world))["members"] == counts["members"] + 1
