"""Idempotency-Key on POST: a retry with the same key and body replays the first answer and writes once;
the same key with another body answers 422. Keys belong to one caller. A refused request leaves no claim
(api/idempotency.py documents this), so the same key can carry the corrected request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, inspect, select, table

from api.messages import MESSAGES
from domain.models import IdempotencyKey, Member
from tests.parallel import parallel
from tests.world import World


async def row_counts(world: World) -> dict[str, int]:
    """The number of rows in every table the database holds."""
    async with world.sessionmaker() as db:
        names = await db.run_sync(lambda session: inspect(session.connection()).get_table_names())
        return {name: (await db.execute(select(func.count()).select_from(table(name)))).scalar_one()
                for name in names}


async def members_named(world: World, name: str) -> int:
    async with world.sessionmaker() as db:
        return (await db.execute(select(func.count()).select_from(Member).where(Member.display_name == name))).scalar_one()


async def stored_keys(world: World) -> int:
    async with world.sessionmaker() as db:
        return (await db.execute(select(func.count()).select_from(IdempotencyKey))).scalar_one()


def _members_path(world: World) -> str:
    return f"/api/v1/groups/{world.groups['a']}/members"


async def test_a_retry_with_the_same_key_and_body_replays_the_first_answer_and_writes_once(world: World) -> None:
    headers = world.auth("begeleider_a", **{"Idempotency-Key": "phone-1:member:7"})
    body = {"display_name": "Fatima A", "joined_on": "2026-02-02"}  # no client id: only the key prevents a double
    first = await world.client.post(_members_path(world), json=body, headers=headers)
    assert first.status_code == 201, first.text
    counts = await row_counts(world)

    again = await world.client.post(_members_path(world), json=body, headers=headers)

    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    for name in ("content-type", "location", "etag"):
        assert again.headers[name] == first.headers[name]
    assert await row_counts(world) == counts
    assert await members_named(world, "Fatima A") == 1


async def test_the_same_key_with_another_body_answers_422_key_reused_and_writes_nothing(world: World) -> None:
    headers = world.auth("begeleider_a", **{"Idempotency-Key": "phone-1:member:8"})
    first = await world.client.post(_members_path(world), json={"display_name": "Fatima A"}, headers=headers)
    assert first.status_code == 201, first.text
    counts = await row_counts(world)

    other = await world.client.post(_members_path(world), json={"display_name": "Gijs A"}, headers=headers)
    elsewhere = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members?x=1",
                                        json={"display_name": "Fatima A"}, headers=headers)

    assert (other.status_code, other.json()["code"]) == (422, "idempotency.key_reused")
    assert other.headers["content-type"].startswith("application/problem+json")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "idempotency.key_reused")
    assert await row_counts(world) == counts


async def test_a_key_belongs_to_its_caller_so_another_user_with_the_same_key_is_not_replayed(world: World) -> None:
    body = {"display_name": "Fatima A", "joined_on": "2026-02-02"}
    by_begeleider = await world.client.post(_members_path(world), json=body,
                                            headers=world.auth("begeleider_a", **{"Idempotency-Key": "k-1"}))
    by_admin = await world.client.post(_members_path(world), json=body,
                                       headers=world.auth("admin", **{"Idempotency-Key": "k-1"}))

    assert (by_begeleider.status_code, by_admin.status_code) == (201, 201)
    assert "idempotent-replayed" not in by_admin.headers
    assert by_admin.json()["id"] != by_begeleider.json()["id"]
    assert await members_named(world, "Fatima A") == 2


async def test_a_refused_request_leaves_no_claim_so_the_same_key_carries_the_corrected_request(
    world: World,
) -> None:
    headers = world.auth("admin", **{"Idempotency-Key": "group-create-1"})
    wrong = {"name": "Kring Oost", "kind": "spaarkring", "timezone": "Europe/Atlantis"}
    refused = await world.client.post("/api/v1/groups", json=wrong, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "group.unknown_timezone")
    assert await stored_keys(world) == 0

    again = await world.client.post("/api/v1/groups", json=wrong, headers=headers)
    assert (again.status_code, again.json()["code"]) == (422, "group.unknown_timezone")
    assert "idempotent-replayed" not in again.headers

    corrected = await world.client.post("/api/v1/groups", json={**wrong, "timezone": "Europe/Amsterdam"},
                                        headers=headers)
    assert corrected.status_code == 201, corrected.text
    replayed = await world.client.post("/api/v1/groups", json={**wrong, "timezone": "Europe/Amsterdam"},
                                       headers=headers)
    assert (replayed.status_code, replayed.headers["idempotent-replayed"]) == (201, "true")
    assert replayed.json()["id"] == corrected.json()["id"]


async def test_a_request_refused_by_validation_or_by_role_leaves_no_claim_either(world: World) -> None:
    invalid = await world.client.post(_members_path(world), json={"display_name": ""},
                                      headers=world.auth("admin", **{"Idempotency-Key": "v-1"}))
    forbidden = await world.client.post(_members_path(world), json={"display_name": "Fatima A"},
                                        headers=world.auth("member", **{"Idempotency-Key": "v-2"}))
    assert (invalid.status_code, forbidden.status_code) == (422, 403)
    assert await stored_keys(world) == 0


async def test_a_key_that_is_empty_or_too_long_answers_422_key_invalid_and_nothing_runs(world: World) -> None:
    counts = await row_counts(world)
    for key in ("x" * 256, ""):
        response = await world.client.post(_members_path(world), json={"display_name": "Fatima A"},
                                           headers=world.auth("admin", **{"Idempotency-Key": key}))
        assert (response.status_code, response.json()["code"]) == (422, "idempotency.key_invalid"), repr(key)
    assert await row_counts(world) == counts


async def test_an_idempotency_problem_speaks_the_language_asked_for(world: World) -> None:
    headers = world.auth("admin", **{"Idempotency-Key": "lang-1"})
    await world.client.post(_members_path(world), json={"display_name": "Fatima A"}, headers=headers)
    other = await world.client.post(_members_path(world), json={"display_name": "Gijs A"},
                                    headers={**headers, "Accept-Language": "en"})
    (_, _), (en_title, _) = MESSAGES["idempotency.key_reused"]
    assert other.json()["title"] == en_title
    assert other.headers["content-language"] == "en"


async def test_parallel_requests_with_one_key_write_one_row_and_the_others_replay_or_answer_in_progress(
    world: World,
) -> None:
    headers = world.auth("begeleider_a", **{"Idempotency-Key": "parallel-1"})
    body = {"display_name": "Parallel Piet", "joined_on": "2026-02-02"}
    responses = await parallel(world, [("POST", _members_path(world), body, headers)] * 6)

    first = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    others = [r for r in responses if r not in first]
    assert len(first) == 1, [(r.status_code, r.text) for r in responses]
    for response in others:
        if response.status_code == 201:
            assert response.headers["idempotent-replayed"] == "true"
            assert response.content == first[0].content
        else:
            assert (response.status_code, response.json()["code"]) == (409, "idempotency.in_progress"), response.text
    assert await members_named(world, "Parallel Piet") == 1
    assert await stored_keys(world) == 1
