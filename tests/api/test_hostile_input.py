"""Hostile input against two write endpoints (a member joins a group; a deposit at a meeting): money that is not
a whole positive number of cents, strings where numbers belong, dates that don't exist, bodies too large or too
deep, unknown fields, another organisation's ids and tokens that are not ours. Each answers a clear
problem+json with a stable code, and writes nothing.

(Malformed JSON, an unknown field on a member, a 1 MB + 1 body and bad tokens on GET /me are in
test_contract_problems.py and test_auth.py; this file covers what they leave out.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.api.test_contract_problems import assert_problem, row_counts
from tests.kring import Kring
from tests.world import World

NOT_CENTS: dict[str, object] = {
    "negative": -500,
    "zero": 0,
    "fractional": 1000.5,
    "a_float_that_is_whole": 1000.0,
    "beyond_2_53": 2**53 + 1,
    "beyond_int64": 2**63 + 7,
    "huge": 10**40,
    "a_string": "1000",
    "a_string_with_a_comma": "10,00",
    "a_boolean": True,
    "null": None,
    "a_list": [1000],
}


async def deposit_setup(world: World) -> tuple[Kring, str]:
    kring = await Kring.build(world)
    meeting_id = await kring.open_meeting(1)
    return kring, f"/api/v1/meetings/{meeting_id}/deposits"


@pytest.mark.parametrize("kind", NOT_CENTS)
async def test_a_deposit_of_anything_but_positive_whole_cents_answers_422_and_writes_nothing(
        world: World, kind: str) -> None:
    kring, url = await deposit_setup(world)
    counts = await row_counts(world)
    response = await world.client.post(url, json=kring.deposit_body(kring.eva, NOT_CENTS[kind]),
                                       headers=world.auth("admin"))
    body = assert_problem(response, 422, "request.invalid")
    assert [error["field"] for error in body["errors"]] == ["amount_cents"], body
    assert await row_counts(world) == counts


@pytest.mark.parametrize("field, value", [
    ("member_id", 12345), ("member_id", "not-a-uuid"), ("counted_by_member_id", ""),
    ("witness_member_ids", "all of them"), ("witness_member_ids", [1, 2]), ("witness_member_ids", {"a": 1}),
])
async def test_a_deposit_with_the_wrong_kind_of_value_answers_422_naming_the_field(
        world: World, field: str, value: object) -> None:
    kring, url = await deposit_setup(world)
    counts = await row_counts(world)
    response = await world.client.post(url, json=kring.deposit_body(kring.eva, 1000, **{field: value}),
                                       headers=world.auth("admin"))
    body = assert_problem(response, 422, "request.invalid")
    assert all(error["field"].startswith(field) for error in body["errors"]), body
    assert await row_counts(world) == counts


async def test_a_deposit_with_an_unknown_field_answers_422_and_writes_nothing(world: World) -> None:
    kring, url = await deposit_setup(world)
    counts = await row_counts(world)
    response = await world.client.post(url, json=kring.deposit_body(kring.eva, 1000, currency="USD"),
                                       headers=world.auth("admin"))
    body = assert_problem(response, 422, "request.invalid")
    assert [error["field"] for error in body["errors"]] == ["currency"]
    assert await row_counts(world) == counts


@pytest.mark.parametrize("joined_on", ["2026-02-30", "2026-13-01", "2025-02-29", "2026-00-10", "0000-01-01",
                                       "2026-2-3", "2026-02-03T25:00:00", "+2026-02-03", "99999-01-01"])
async def test_a_member_joining_on_a_date_that_does_not_exist_answers_422(world: World, joined_on: str) -> None:
    counts = await row_counts(world)
    response = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members",
                                       json={"display_name": "Fatima", "joined_on": joined_on},
                                       headers=world.auth("admin"))
    body = assert_problem(response, 422, "request.invalid")
    assert [error["field"] for error in body["errors"]] == ["joined_on"], body
    assert await row_counts(world) == counts


async def test_a_10_mb_body_answers_413_too_large_and_writes_nothing(world: World) -> None:
    counts = await row_counts(world)
    filler = "x" * (10 * 1024 * 1024)
    response = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members",
                                       content=f'{{"display_name": "{filler}"}}'.encode(),
                                       headers=world.auth("admin", **{"Content-Type": "application/json"}))
    assert_problem(response, 413, "request.too_large")
    assert await row_counts(world) == counts


async def test_a_10_mb_body_sent_in_chunks_without_a_length_answers_413_too(world: World) -> None:
    """No Content-Length to refuse up front: the limit holds on the bytes as they stream in (raw ASGI, since the
    test client always announces a length)."""
    counts = await row_counts(world)
    chunks = [b'{"display_name": "', *([b"x" * 65536] * 160), b'"}']
    events = iter([{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                   for i, chunk in enumerate(chunks)])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(events, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = f"/api/v1/groups/{world.groups['a']}/members"
    headers = [(b"host", b"testserver.local"), (b"content-type", b"application/json"),
               (b"authorization", world.auth("admin")["Authorization"].encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 1234), "server": ("testserver.local", 80), "state": {}}
    await world.client.app(scope, receive, send)  # type: ignore[arg-type]
    start = next(x for x in sent if x["type"] == "http.response.start")
    body = json.loads(b"".join(x.get("body", b"") for x in sent if x["type"] == "http.response.body"))
    assert start["status"] == 413, body
    assert dict(start["headers"])[b"content-type"].startswith(b"application/problem+json")
    assert body["code"] == "request.too_large"
    assert await row_counts(world) == counts


@pytest.mark.parametrize("shape", ["lists", "objects", "lists_in_an_unknown_field"])
async def test_json_nested_10000_levels_deep_answers_400_or_422_never_500(world: World, shape: str) -> None:
    kring, url = await deposit_setup(world)
    depth = 10_000
    nested = {"lists": "[" * depth + "]" * depth, "objects": '{"a":' * depth + "1" + "}" * depth,
              "lists_in_an_unknown_field": "[" * depth + "]" * depth}[shape]
    field = "deeply" if shape == "lists_in_an_unknown_field" else "witness_member_ids"
    body = (f'{{"member_id": "{kring.eva}", "amount_cents": 1000, "counted_by_member_id": "{kring.chris}", '
            f'"{field}": {nested}}}')
    counts = await row_counts(world)
    response = await world.client.post(url, content=body.encode(),
                                       headers=world.auth("admin", **{"Content-Type": "application/json"}))
    assert response.status_code in (400, 422), response.text[:500]
    assert_problem(response, response.status_code,
                   "request.malformed" if response.status_code == 400 else "request.invalid")
    assert await row_counts(world) == counts


async def test_a_deposit_at_another_organisations_meeting_answers_404_and_writes_nothing(world: World) -> None:
    theirs = await Kring.build(world, group="y")
    meeting_id = await theirs.open_meeting(1)
    counts = await row_counts(world)
    response = await world.client.post(f"/api/v1/meetings/{meeting_id}/deposits",
                                       json=theirs.deposit_body(theirs.eva, 1000), headers=world.auth("admin"))
    assert_problem(response, 404, "resource.not_found")
    assert await row_counts(world) == counts


async def test_a_deposit_naming_another_organisations_members_answers_404_and_writes_nothing(world: World) -> None:
    kring, url = await deposit_setup(world)
    theirs = {name: world.members[f"y.{name}"] for name in ("eva", "chris", "bram", "amina")}
    counts = await row_counts(world)
    for body in (kring.deposit_body(theirs["eva"], 1000),
                 kring.deposit_body(kring.eva, 1000, counted_by_member_id=str(theirs["chris"])),
                 kring.deposit_body(kring.eva, 1000, witness_member_ids=[str(theirs["bram"]), str(theirs["amina"])])):
        response = await world.client.post(url, json=body, headers=world.auth("admin"))
        assert response.status_code in (404, 422), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"], response.text
    assert await row_counts(world) == counts


async def test_a_member_for_another_organisations_group_answers_404_and_writes_nothing(world: World) -> None:
    counts = await row_counts(world)
    response = await world.client.post(f"/api/v1/groups/{world.groups['y']}/members", json={"display_name": "Fatima"},
                                       headers=world.auth("admin"))
    assert_problem(response, 404, "resource.not_found")
    assert await row_counts(world) == counts


def _forged(world: World, key: str | None = "secret", algorithm: str = "HS256", **changes: Any) -> str:
    """A token like the one the app issues to admin, with some claims changed and signed as asked."""
    token = world.auth("admin")["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    secret = world.client.app.state.settings.secret_key if key == "secret" else key
    return jwt.encode(claims, secret, algorithm=algorithm)


def _long_ago() -> dict[str, int]:
    past = datetime.now(UTC) - timedelta(days=2)
    return {"iat": int(past.timestamp()), "exp": int((past + timedelta(minutes=15)).timestamp())}


BAD_TOKENS = {
    "alg_none": (lambda w: _forged(w, key=None, algorithm="none"), "auth.token_invalid"),
    "wrong_audience": (lambda w: _forged(w, aud="someone-else"), "auth.token_invalid"),
    "wrong_issuer": (lambda w: _forged(w, iss="evil"), "auth.token_invalid"),
    "expired": (lambda w: _forged(w, **_long_ago()), "auth.token_expired"),
    "unknown_user": (lambda w: _forged(w, sub="00000000-0000-0000-0000-000000000000"), None),
}


@pytest.mark.parametrize("kind", [*BAD_TOKENS, "refresh_token"])
async def test_a_deposit_with_a_token_that_is_not_an_access_token_of_ours_answers_401_and_writes_nothing(
        world: World, kind: str) -> None:
    kring, url = await deposit_setup(world)
    if kind == "refresh_token":
        token, code = (await world.login("admin"))["refresh_token"], "auth.token_invalid"
    else:
        make, code = BAD_TOKENS[kind]
        token = make(world)
    counts = await row_counts(world)
    response = await world.client.post(url, json=kring.deposit_body(kring.eva, 1000),
                                       headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == (code or response.json()["code"])
    assert response.json()["code"].startswith("auth.")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await row_counts(world) == counts


async def test_the_same_deposit_with_our_own_token_is_written_so_the_refusals_above_are_about_the_input(
        world: World) -> None:
    kring, url = await deposit_setup(world)
    counts = await row_counts(world)
    response = await world.client.post(url, json=kring.deposit_body(kring.eva, 1000), headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    assert await row_counts(world) != counts
