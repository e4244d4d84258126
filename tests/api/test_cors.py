"""Strict CORS from settings: only the origins named in KRINGKAS_CORS_ORIGINS may call the API from a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from pydantic import ValidationError

from api.app import create_app
from api.settings import Settings

ALLOWED = "https://app.kringkas.nl"
OTHER = "https://evil.example"


def _settings(tmp_path: object, origins: list[str]) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/cors.sqlite3", secret_key="test-only-" + "k" * 40,
                    env="test", password_profile="test", cors_origins=origins)


@pytest.fixture
async def strict(tmp_path: object) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(_settings(tmp_path, [ALLOWED]))) as client:
        yield client


async def test_a_preflight_from_a_named_origin_is_allowed_with_exactly_that_origin(strict: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await strict.options("/api/v1/me", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_a_preflight_from_any_other_origin_gets_no_allow_origin(strict: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await strict.options("/api/v1/me", headers={
        "Origin": OTHER, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code >= 400


async def test_a_simple_request_names_only_an_allowed_origin_back(strict: AsyncTestClient) -> None:  # type: ignore[type-arg]
    allowed = await strict.get("/health", headers={"Origin": ALLOWED})
    other = await strict.get("/health", headers={"Origin": OTHER})
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED
    assert "access-control-allow-origin" not in other.headers


async def test_without_configured_origins_no_browser_origin_is_allowed(tmp_path: object) -> None:
    async with AsyncTestClient(app=create_app(_settings(tmp_path, []))) as client:
        response = await client.get("/health", headers={"Origin": ALLOWED})
        preflight = await client.options("/api/v1/me", headers={
            "Origin": ALLOWED, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("origin", ["*", "https://*.kringkas.nl", "https://app.kringkas.nl/", "app.kringkas.nl",
                                    "https://app.kringkas.nl/pad"])
def test_a_wildcard_or_an_origin_with_a_path_is_refused_at_start_up(origin: str) -> None:
    with pytest.raises(ValidationError, match="exact origin"):
        Settings(cors_origins=[origin])
