"""The request log names the request and the user, and nothing personal."""

from __future__ import annotations

import logging

import pytest

from tests.world import PASSWORD, World


async def test_the_log_carries_a_request_id_and_the_user_id_but_never_a_name_phone_password_or_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kringkas")
    tokens = await world.login("admin")
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "X-Request-ID": "phone-42"}
    created = await world.client.post(f"/api/v1/groups/{world.groups['a']}/members", headers=headers,
                                      json={"display_name": "Zeynep Yilmaz", "phone": "0687654321"})
    assert created.status_code == 201 and created.headers["x-request-id"] == "phone-42"
    await world.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    await world.client.post("/api/v1/auth/login", json={"email": "admin@example.org", "password": "wrong password!"})
    text = "\n".join(record.getMessage() + str(getattr(record, "fields", "")) for record in caplog.records)
    assert "phone-42" in text and str(world.users["admin"].id) in text
    for secret in ("Zeynep", "0687654321", PASSWORD, "wrong password!", tokens["access_token"], tokens["refresh_token"],
                   "admin@example.org"):
        assert secret not in text


async def test_a_request_without_an_id_gets_one(world: World) -> None:
    response = await world.client.get("/health")
    assert len(response.headers["x-request-id"]) == 32
