"""Optimistic concurrency: what can be edited carries a `version` (also as ETag); a write with
If-Match (or `version` in the body) of the current version succeeds and raises the version; a stale
one answers 412 request.stale_version and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.world import World


def _group(world: World) -> str:
    return f"/api/v1/groups/{world.groups['a']}"


def _member(world: World) -> str:
    return f"/api/v1/groups/{world.groups['a']}/members/{world.members['a.bram']}"


RESOURCES = {
    "group": (_group, {"name": "Groep A, nieuw"}, "name"),
    "member": (_member, {"display_name": "Bram A, nieuw"}, "display_name"),
}


@pytest.mark.parametrize("resource", RESOURCES)
async def test_a_write_with_the_current_version_in_if_match_succeeds_and_raises_the_version(
    world: World, resource: str
) -> None:
    path_of, change, field = RESOURCES[resource]
    path = path_of(world)
    read = await world.client.get(path, headers=world.auth("admin"))
    version = read.json()["version"]
    assert read.headers["etag"] == f'"{version}"'

    written = await world.client.patch(path, json=change, headers=world.auth("admin", **{"If-Match": read.headers["etag"]}))

    assert written.status_code == 200, written.text
    assert written.json()["version"] == version + 1
    assert written.headers["etag"] == f'"{version + 1}"'
    again = await world.client.get(path, headers=world.auth("admin"))
    assert (again.json()[field], again.json()["version"]) == (change[field], version + 1)


@pytest.mark.parametrize("resource", RESOURCES)
async def test_a_write_with_a_stale_if_match_answers_412_stale_version_and_changes_nothing(
    world: World, resource: str
) -> None:
    path_of, change, field = RESOURCES[resource]
    path = path_of(world)
    before = (await world.client.get(path, headers=world.auth("admin"))).json()
    first = await world.client.patch(path, json={field: "Eerst"}, headers=world.auth("admin", **{"If-Match": "1"}))
    assert first.status_code == 200

    stale = await world.client.patch(path, json=change, headers=world.auth("begeleider_a", **{"If-Match": "1"}))

    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["code"] == "request.stale_version"
    assert stale.json()["current_version"] == before["version"] + 1
    after = (await world.client.get(path, headers=world.auth("admin"))).json()
    assert (after[field], after["version"]) == ("Eerst", before["version"] + 1)


@pytest.mark.parametrize("resource", RESOURCES)
async def test_a_version_in_the_body_is_checked_like_if_match(world: World, resource: str) -> None:
    path_of, change, field = RESOURCES[resource]
    path = path_of(world)
    current = await world.client.patch(path, json={**change, "version": 1}, headers=world.auth("admin"))
    stale = await world.client.patch(path, json={field: "Later", "version": 1}, headers=world.auth("admin"))
    disagreeing = await world.client.patch(path, json={field: "Later", "version": 2},
                                           headers=world.auth("admin", **{"If-Match": '"1"'}))
    assert current.status_code == 200 and current.json()["version"] == 2
    assert (stale.status_code, stale.json()["code"]) == (412, "request.stale_version")
    assert (disagreeing.status_code, disagreeing.json()["code"]) == (412, "request.stale_version")
    assert (await world.client.get(path, headers=world.auth("admin"))).json()[field] == change[field]


@pytest.mark.parametrize("if_match", ["abc", "1.0", "-1", "", "9999999999", '"1"x'])
async def test_an_if_match_that_is_not_a_version_answers_422_bad_if_match(world: World, if_match: str) -> None:
    response = await world.client.patch(_group(world), json={"name": "X"},
                                        headers=world.auth("admin", **{"If-Match": if_match}))
    assert (response.status_code, response.json()["code"]) == (422, "request.bad_if_match")


@pytest.mark.parametrize("version", [1.0, "1", True, 0], ids=["float", "string", "bool", "zero"])
async def test_a_version_that_is_not_a_whole_number_is_refused_not_coerced(world: World, version: Any) -> None:
    response = await world.client.patch(_group(world), json={"name": "Nooit", "version": version},
                                        headers=world.auth("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "request.invalid"
    assert [error["field"] for error in response.json()["errors"]] == ["version"]
    after = (await world.client.get(_group(world), headers=world.auth("admin"))).json()
    assert (after["name"], after["version"]) == ("Groep A", 1)
