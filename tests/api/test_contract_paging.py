"""Lists are paginated: ?limit= (default 50, at most 500) and ?cursor=, answering {items, next_cursor}.
Walking the pages yields every item exactly once, in a stable order."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from uuid import UUID

import pytest

from domain import groups
from domain.models import GroupKind
from tests.world import World

MEMBERS = 1201


async def big_group(world: World) -> tuple[UUID, list[UUID]]:
    """A group with 1,201 members, made through the domain functions in one session. Many share a
    joined_on, so the order has to fall back on the id to stay stable."""
    admin = world.actor("admin")
    async with world.sessionmaker() as db:
        group, _ = await groups.create_group(db, admin, groups.NewGroup("Grote kring", GroupKind.SPAARKRING, None,
                                                                        frozenset()))
        made = []
        for number in range(MEMBERS):
            member, _ = await groups.add_member(db, admin, group.id, groups.NewMember(
                f"Lid {number:04d}", None, date(2026, 1, 1) + timedelta(days=number % 7)))
            made.append(member.id)
        await db.commit()
    return group.id, made


async def walk(world: World, path: str, limit: int | None) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {} if limit is None else {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await world.client.get(path, params=params, headers=world.auth("admin"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) == (limit or 50) or page["next_cursor"] is None  # only the last page is short
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages


async def test_paging_through_1201_members_yields_each_exactly_once_in_one_stable_order_at_any_page_size(
    world: World,
) -> None:
    group_id, made = await big_group(world)
    path = f"/api/v1/groups/{group_id}/members"

    by_500, pages_of_500 = await walk(world, path, 500)
    by_default, pages_of_50 = await walk(world, path, None)

    assert len(by_500) == MEMBERS and set(by_500) == {str(m) for m in made}
    assert by_default == by_500
    assert (pages_of_500, pages_of_50) == (3, 25)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "veel"])
async def test_a_limit_outside_1_to_500_answers_422_naming_limit_in_errors(world: World, limit: str) -> None:
    response = await world.client.get(f"/api/v1/groups/{world.groups['a']}/members", params={"limit": limit},
                                      headers=world.auth("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "request.invalid"
    assert [error["field"] for error in body["errors"]] == ["limit"]


def _cursor(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


MEMBER_CURSORS = {  # the members list is ordered by (joined_on, id)
    "not-base64": "garbage!",
    "not-json": "bm90IGpzb24",
    "nul": "%00",
    "object": _cursor({"a": 1}),
    "too-short": _cursor(["2026-01-01"]),
    "too-long": _cursor(["2026-01-01", "00000000-0000-0000-0000-000000000000", 1]),
    "numbers": _cursor([1, 2]),
    "number-for-id": _cursor(["2026-01-01", 5]),
    "bad-date": _cursor(["not a date", "00000000-0000-0000-0000-000000000000"]),
    "datetime-for-date": _cursor(["2026-01-01T10:00:00", "00000000-0000-0000-0000-000000000000"]),
    "bad-id": _cursor(["2026-01-01", "not a uuid"]),
    "nulls": _cursor([None, None]),
    "containers": _cursor([[], {}]),
}
GROUP_CURSORS = {  # the groups list is ordered by (name, id)
    "number-for-name": _cursor([5, "00000000-0000-0000-0000-000000000000"]),
    "bool-for-name": _cursor([True, "00000000-0000-0000-0000-000000000000"]),
    "null-name": _cursor([None, "00000000-0000-0000-0000-000000000000"]),
    "bad-id": _cursor(["Groep A", 12]),
}


async def test_a_cursor_the_server_did_not_make_answers_422_bad_cursor(world: World) -> None:
    answers = {}
    for path, cursors in ((f"/api/v1/groups/{world.groups['a']}/members", MEMBER_CURSORS),
                          ("/api/v1/groups", GROUP_CURSORS)):
        for name, cursor in cursors.items():
            response = await world.client.get(path, params={"cursor": cursor}, headers=world.auth("admin"))
            answers[f"{path.rsplit('/', 1)[-1]}: {name}"] = (response.status_code, response.json().get("code"))
    assert answers == dict.fromkeys(answers, (422, "request.bad_cursor"))


async def test_the_group_list_pages_like_any_other_list(world: World) -> None:
    admin = world.actor("admin")
    async with world.sessionmaker() as db:
        for number in range(7):
            await groups.create_group(db, admin, groups.NewGroup(f"Kring {number}", GroupKind.LUISTERGROEP, None,
                                                                 frozenset()))
        await db.commit()
    seen, pages = await walk(world, "/api/v1/groups", 2)
    assert len(seen) == len(set(seen)) == 9  # groups A and B, and these seven
    assert pages == 5
