"""Everything that goes wrong answers application/problem+json (RFC 9457) with a stable `code`, in Dutch
unless English is asked for, and a refused request writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, inspect, select, table

from api.messages import MESSAGES
from tests.world import World

RFC_9457_MEMBERS = {"type", "title", "status", "detail", "code"}


async def row_counts(world: World) -> dict[str, int]:
    """The number of rows in every table the database holds."""
    async with world.sessionmaker() as db:
        names = await db.run_sync(lambda session: inspect(session.connection()).get_table_names())
        return {name: (await db.execute(select(func.count()).select_from(table(name)))).scalar_one()
                for name in names}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert RFC_9457_MEMBERS <= body.keys()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"/problems/{code}")
    return body


def _members(world: World) -> str:
    return f"/api/v1/groups/{world.groups['a']}/members"


async def test_a_body_that_is_not_json_answers_400_malformed_and_writes_nothing(world: World) -> None:
    counts = await row_counts(world)
    for content in (b'{"display_name": "Fatima"', b"display_name=Fatima", b"\xff\xfe"):
        response = await world.client.post(_members(world), content=content, headers=world.auth(
            "admin", **{"Content-Type": "application/json"}))
        assert_problem(response, 400, "request.malformed")
    assert await row_counts(world) == counts


async def test_an_unknown_field_answers_422_invalid_naming_the_field_and_writes_nothing(world: World) -> None:
    counts = await row_counts(world)
    response = await world.client.post(_members(world), json={"display_name": "Fatima", "favourite_colour": "blauw"},
                                       headers=world.auth("admin"))
    body = assert_problem(response, 422, "request.invalid")
    assert [error["field"] for error in body["errors"]] == ["favourite_colour"]
    assert all(error["message"] for error in body["errors"])
    assert await row_counts(world) == counts


async def test_a_missing_or_wrongly_typed_field_answers_422_listing_every_field_at_fault(world: World) -> None:
    counts = await row_counts(world)
    response = await world.client.post("/api/v1/groups", json={"kind": "kookclub", "begeleider_ids": ["nee"]},
                                       headers=world.auth("admin"))
    body = assert_problem(response, 422, "request.invalid")
    fields = {error["field"] for error in body["errors"]}
    assert {"name", "kind"} <= fields and any(field.startswith("begeleider_ids") for field in fields)
    assert await row_counts(world) == counts


async def test_a_string_where_a_date_belongs_answers_422_and_a_number_for_a_name_too(world: World) -> None:
    counts = await row_counts(world)
    for body, field in (({"display_name": "Fatima", "joined_on": "gisteren"}, "joined_on"),
                        ({"display_name": 12345}, "display_name"),
                        ({"display_name": "Fatima", "joined_on": 20260101}, "joined_on")):
        response = await world.client.post(_members(world), json=body, headers=world.auth("admin"))
        problem = assert_problem(response, 422, "request.invalid")
        assert [error["field"] for error in problem["errors"]] == [field], body
    assert await row_counts(world) == counts


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
async def test_a_body_over_the_size_limit_answers_413_too_large_and_writes_nothing(world: World, with_key: bool) -> None:
    limit = world.client.app.state.settings.max_body_bytes
    assert limit == 1024 * 1024
    filler = "x" * (limit + 1 - len('{"display_name": ""}'))
    counts = await row_counts(world)
    headers = world.auth("admin", **({"Idempotency-Key": "big-1"} if with_key else {}))
    too_large = await world.client.post(_members(world), content=f'{{"display_name": "{filler}"}}'.encode(),
                                        headers={**headers, "Content-Type": "application/json"})
    assert_problem(too_large, 413, "request.too_large")
    assert await row_counts(world) == counts


async def test_a_body_just_under_the_size_limit_is_read_and_judged_on_its_fields(world: World) -> None:
    limit = world.client.app.state.settings.max_body_bytes
    filler = "x" * (limit - len('{"display_name": ""}'))
    response = await world.client.post(_members(world), content=f'{{"display_name": "{filler}"}}'.encode(),
                                       headers=world.auth("admin", **{"Content-Type": "application/json"}))
    assert_problem(response, 422, "request.invalid")  # too long a name, but not too large a request


async def test_a_method_the_path_does_not_have_answers_405_with_allow(world: World) -> None:
    counts = await row_counts(world)
    response = await world.client.delete(f"/api/v1/groups/{world.groups['a']}", headers=world.auth("admin"))
    assert_problem(response, 405, "request.method_not_allowed")
    assert {"GET", "PATCH"} <= {method.strip() for method in response.headers["allow"].split(",")}
    assert await row_counts(world) == counts


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/groups/not-a-uuid", "/favicon.ico", "/api/v2/groups"])
async def test_a_path_that_does_not_exist_answers_404_problem_with_or_without_a_token(world: World, path: str) -> None:
    assert_problem(await world.client.get(path), 404, "resource.not_found")
    assert_problem(await world.client.get(path, headers=world.auth("admin")), 404, "resource.not_found")


async def test_a_call_without_a_token_answers_401_problem_with_a_bearer_challenge(world: World) -> None:
    response = await world.client.post(_members(world), json={"display_name": "Fatima"})
    assert_problem(response, 401, "auth.token_missing")
    assert response.headers["www-authenticate"].lower().startswith("bearer")


LANGUAGES = {
    None: "nl",
    "nl": "nl",
    "en": "en",
    "en-GB,en;q=0.9": "en",
    "nl-NL, en;q=0.8": "nl",
    "nl;q=0.5, en;q=0.9": "en",
    "fr, de;q=0.8": "nl",
    "*": "nl",
    "en;q=abc": "nl",
    "en;q=0, nl;q=0.1": "nl",
    "en;q=0": "nl",
}


async def test_title_and_detail_speak_the_language_asked_for_dutch_by_default_and_say_which(world: World) -> None:
    spoken = {}
    for accept, _ in LANGUAGES.items():
        headers = world.auth("admin", **({"Accept-Language": accept} if accept else {}))
        response = await world.client.get(f"/api/v1/groups/{world.groups['y']}", headers=headers)
        body = assert_problem(response, 404, "resource.not_found")
        (nl_title, nl_detail), (en_title, en_detail) = MESSAGES["resource.not_found"]
        language = response.headers["content-language"]
        assert (body["title"], body["detail"]) == ((nl_title, nl_detail) if language == "nl" else (en_title, en_detail))
        spoken[accept] = language
    assert spoken == LANGUAGES


async def test_a_domain_refusal_fills_its_details_in_the_language_asked_for(world: World) -> None:
    member = f"{_members(world)}/{world.members['a.bram']}"
    await world.client.post(f"{member}/leave", json={"left_on": "2026-03-01"}, headers=world.auth("admin"))
    for language in ("nl", "en"):
        response = await world.client.post(f"{member}/leave", json={"left_on": "2026-04-01"},
                                           headers=world.auth("admin", **{"Accept-Language": language}))
        body = assert_problem(response, 409, "member.already_left")
        assert response.headers["content-language"] == language
        assert "2026-03-01" in body["detail"]
        assert body["left_on"] == "2026-03-01"
        expected_title = MESSAGES["member.already_left"][0 if language == "nl" else 1][0]
        assert body["title"] == expected_title


async def test_validation_problems_also_speak_english_when_asked(world: World) -> None:
    response = await world.client.post(_members(world), json={}, headers=world.auth("admin", **{"Accept-Language": "en"}))
    body = assert_problem(response, 422, "request.invalid")
    assert body["title"] == MESSAGES["request.invalid"][1][0]
    assert response.headers["content-language"] == "en"
