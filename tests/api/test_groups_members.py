"""Groups and their members: a member who leaves is never deleted, and a member-role user sees who is
in their group but not the others' phone numbers."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

from domain import groups
from tests.world import World


def _member(world: World, key: str = "a.bram") -> str:
    group = key.split(".")[0]
    return f"/api/v1/groups/{world.groups[group]}/members/{world.members[key]}"


async def _list(world: World, user: str, group: str = "a") -> list[dict[str, Any]]:
    response = await world.client.get(f"/api/v1/groups/{world.groups[group]}/members", params={"limit": 500},
                                      headers=world.auth(user))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_member_who_leaves_gets_left_on_and_stays_in_the_members_list(world: World) -> None:
    response = await world.client.post(f"{_member(world)}/leave", json={"left_on": "2026-03-01", "reason": "verhuisd"},
                                       headers=world.auth("begeleider_a"))
    assert response.status_code == 200, response.text
    assert (response.json()["left_on"], response.json()["leave_reason"]) == ("2026-03-01", "verhuisd")

    listed = {item["id"]: item for item in await _list(world, "begeleider_a")}
    assert len(listed) == 5
    assert listed[str(world.members["a.bram"])]["left_on"] == "2026-03-01"
    assert [item["left_on"] for key, item in listed.items() if key != str(world.members["a.bram"])] == [None] * 4


async def test_leaving_again_on_the_same_day_for_the_same_reason_is_a_harmless_retry(world: World) -> None:
    body = {"left_on": "2026-03-01", "reason": "verhuisd"}
    first = await world.client.post(f"{_member(world)}/leave", json=body, headers=world.auth("admin"))
    again = await world.client.post(f"{_member(world)}/leave", json=body, headers=world.auth("admin"))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()


async def test_leaving_a_second_time_with_another_date_answers_409_already_left_and_keeps_the_first_date(
    world: World,
) -> None:
    await world.client.post(f"{_member(world)}/leave", json={"left_on": "2026-03-01"}, headers=world.auth("admin"))
    for body in ({"left_on": "2026-04-01"}, {"left_on": "2026-03-01", "reason": "ander verhaal"}):
        response = await world.client.post(f"{_member(world)}/leave", json=body, headers=world.auth("admin"))
        assert response.status_code == 409, body
        assert response.json()["code"] == "member.already_left"
        assert response.json()["left_on"] == "2026-03-01"
    member = await world.client.get(_member(world), headers=world.auth("admin"))
    assert (member.json()["left_on"], member.json()["leave_reason"]) == ("2026-03-01", None)


async def test_leaving_before_the_day_of_joining_answers_422_and_the_member_stays(world: World) -> None:
    response = await world.client.post(f"{_member(world)}/leave", json={"left_on": "2026-01-04"},
                                       headers=world.auth("admin"))
    assert response.status_code == 422
    assert response.json()["code"] == "member.left_before_joined"
    assert response.json()["joined_on"] == "2026-01-05"
    member = await world.client.get(_member(world), headers=world.auth("admin"))
    assert member.json()["left_on"] is None


async def test_leaving_on_the_day_of_joining_is_allowed(world: World) -> None:
    response = await world.client.post(f"{_member(world)}/leave", json={"left_on": "2026-01-05"},
                                       headers=world.auth("admin"))
    assert (response.status_code, response.json()["left_on"]) == (200, "2026-01-05")


async def test_a_member_user_sees_everyone_in_their_group_but_only_their_own_phone_number(world: World) -> None:
    await world.client.post(f"{_member(world)}/leave", json={"left_on": "2026-03-01", "reason": "ziek"},
                            headers=world.auth("admin"))
    as_member = {item["id"]: item for item in await _list(world, "member")}
    as_begeleider = {item["id"]: item for item in await _list(world, "begeleider_a")}

    own = str(world.users["member"].member_id)
    assert as_member.keys() == as_begeleider.keys()
    assert len(as_member) == 5
    assert as_member[own]["phone"] == "0612345678"
    assert all(item["phone"] is None for key, item in as_member.items() if key != own)
    assert all(item["phone"] == "0612345678" for item in as_begeleider.values())
    bram = str(world.members["a.bram"])
    assert (as_member[bram]["left_on"], as_member[bram]["leave_reason"]) == ("2026-03-01", None)
    assert as_begeleider[bram]["leave_reason"] == "ziek"

    one = await world.client.get(_member(world), headers=world.auth("member"))
    mine = await world.client.get(_member(world, "a.amina"), headers=world.auth("member"))
    assert (one.status_code, one.json()["phone"]) == (200, None)
    assert mine.json()["phone"] == "0612345678"


async def test_a_member_user_may_not_add_change_or_remove_members(world: World) -> None:
    path = f"/api/v1/groups/{world.groups['a']}/members"
    answers = [
        await world.client.post(path, json={"display_name": "Zus"}, headers=world.auth("member")),
        await world.client.patch(_member(world), json={"display_name": "Anders"}, headers=world.auth("member")),
        await world.client.post(f"{_member(world)}/leave", json={"left_on": "2026-03-01"}, headers=world.auth("member")),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(403, "access.role_not_allowed")] * 3
    assert len(await _list(world, "admin")) == 5


async def test_a_phone_number_can_be_cleared_by_sending_null(world: World) -> None:
    response = await world.client.patch(_member(world), json={"phone": None}, headers=world.auth("admin"))
    assert (response.status_code, response.json()["phone"]) == (200, None)
    kept = await world.client.patch(_member(world), json={"display_name": "Bram"}, headers=world.auth("admin"))
    assert kept.json()["phone"] is None


async def test_a_member_added_without_joined_on_joins_today_and_a_later_retry_finds_the_same_member(
    world: World,
) -> None:
    admin = world.actor("admin")
    new = groups.NewMember("Hanna A", None, None)
    member_id = uuid4()
    async with world.sessionmaker() as db:
        first, created = await groups.add_member(db, admin, world.groups["a"], new, member_id=member_id,
                                                 today=date(2026, 5, 1))
        await db.commit()
    async with world.sessionmaker() as db:
        again, created_again = await groups.add_member(db, admin, world.groups["a"], new, member_id=member_id,
                                                       today=date(2026, 5, 2))
    assert (created, created_again) == (True, False)
    assert (first.joined_on, again.joined_on, again.id) == (date(2026, 5, 1), date(2026, 5, 1), first.id)


async def test_a_member_added_over_http_without_joined_on_joins_today(world: World) -> None:
    response = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members", json={"display_name": "Ilse"},
                                       headers=world.auth("admin"))
    assert response.status_code == 201
    assert response.json()["joined_on"] == date.today().isoformat()


async def test_a_stopped_group_takes_no_new_members(world: World) -> None:
    stopped = await world.client.patch(f"/api/v1/groups/{world.groups['a']}", json={"status": "gestopt"},
                                       headers=world.auth("admin"))
    assert (stopped.status_code, stopped.json()["status"]) == (200, "gestopt")
    response = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members", json={"display_name": "Laat"},
                                       headers=world.auth("admin"))
    assert (response.status_code, response.json()["code"]) == (409, "group.stopped")
