from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.world import World


async def test_health_answers_ok_when_the_database_answers(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_me_tells_the_caller_who_they_are(world: World) -> None:
    response = await world.client.get("/api/v1/me", headers=world.auth("begeleider_a"))
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "begeleider"
    assert [m["group_id"] for m in body["memberships"]] == [str(world.groups["a"])]
