"""Login, tokens, refresh, logout, /me and /users through HTTP, on a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import argon2
import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from api.app import create_app
from api.settings import Settings
from domain.models import RefreshToken, User
from tests.world import PASSWORD, World

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def refresh_rows(world: World) -> list[RefreshToken]:
    async with world.sessionmaker() as db:
        return list((await db.execute(select(RefreshToken).order_by(RefreshToken.created_at))).scalars())


# --- login ---------------------------------------------------------------------------------------
async def test_login_answers_a_bearer_pair_with_a_15_minute_access_token(world: World, settings: Settings) -> None:
    pair = await world.login("begeleider_a")
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    claims = jwt.decode(pair["access_token"], settings.secret_key, algorithms=["HS256"],
                        audience=settings.jwt_audience, issuer=settings.jwt_issuer)
    assert {"iss", "aud", "sub", "exp", "iat", "jti"} <= claims.keys()
    assert claims["sub"] == str(world.users["begeleider_a"].id)
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert (await world.client.get("/api/v1/me", headers=bearer(pair))).status_code == 200


async def test_login_takes_the_email_in_any_case(world: World) -> None:
    response = await world.client.post(LOGIN, json={"email": "Begeleider_A@Example.org", "password": PASSWORD})
    assert response.status_code == 200, response.text


async def test_unknown_email_and_wrong_password_answer_the_same_401_after_the_same_argon2_work(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def counting_verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        verified.append(hash if isinstance(hash, str) else hash.decode())
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    unknown = await world.client.post(LOGIN, json={"email": "nobody@example.org", "password": PASSWORD})
    assert len(verified) == 1  # a dummy hash is verified for an unknown email
    wrong = await world.client.post(LOGIN, json={"email": "admin@example.org", "password": "not the password"})
    assert len(verified) == 2
    assert verified[0].split("$")[1:4] == verified[1].split("$")[1:4]  # same algorithm, version, cost
    assert verified[0] != world.users["admin"].password_hash
    assert_problem(unknown, 401, "auth.invalid_credentials")
    assert unknown.json() == wrong.json()
    assert unknown.headers.get("retry-after") is None


async def test_a_closed_account_can_not_log_in_and_its_tokens_stop_working(world: World) -> None:
    pair = await world.login("begeleider_a")
    async with world.sessionmaker() as db:
        await db.execute(update(User).where(User.id == world.users["begeleider_a"].id).values(is_active=False))
        await db.commit()
    assert_problem(await world.client.get("/api/v1/me", headers=bearer(pair)), 401, "auth.account_closed")
    assert_problem(await world.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401,
                   "auth.account_closed")
    login = await world.client.post(LOGIN, json={"email": "begeleider_a@example.org", "password": PASSWORD})
    assert_problem(login, 401, "auth.invalid_credentials")


async def test_repeated_failures_for_one_email_answer_429_with_retry_after(
    world: World, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures_per_email):
        response = await world.client.post(LOGIN, json={"email": "admin@example.org", "password": "wrong password"})
        assert_problem(response, 401, "auth.invalid_credentials")
    locked = await world.client.post(LOGIN, json={"email": "admin@example.org", "password": PASSWORD})
    assert_problem(locked, 429, "auth.too_many_attempts")
    assert 0 < int(locked.headers["retry-after"]) <= settings.login_lockout_seconds + 1
    assert locked.json()["retry_after"] == int(locked.headers["retry-after"])
    other = await world.client.post(LOGIN, json={"email": "begeleider_a@example.org", "password": PASSWORD})
    assert other.status_code == 200  # another email from the same address still gets in


async def test_failures_from_one_address_across_emails_answer_429(world: World, settings: Settings) -> None:
    for attempt in range(settings.login_max_failures_per_address):
        response = await world.client.post(LOGIN, json={"email": f"guess{attempt}@example.org",
                                                        "password": "wrong password"})
        assert_problem(response, 401, "auth.invalid_credentials")
    locked = await world.client.post(LOGIN, json={"email": "funder@example.org", "password": PASSWORD})
    assert_problem(locked, 429, "auth.too_many_attempts")
    assert int(locked.headers["retry-after"]) > 0


async def test_a_lockout_holds_for_every_app_instance_on_the_same_database(world: World, settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings)) as one, AsyncTestClient(app=create_app(settings)) as two:
        for _ in range(settings.login_max_failures_per_email):
            await one.post(LOGIN, json={"email": "admin@example.org", "password": "wrong password"})
        response = await two.post(LOGIN, json={"email": "admin@example.org", "password": PASSWORD})
    assert_problem(response, 429, "auth.too_many_attempts")
    assert "retry-after" in response.headers


# --- access tokens -------------------------------------------------------------------------------
def _claims(world: World, settings: Settings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": str(world.users["admin"].id),
        "typ": "access", "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


BAD_TOKENS = {
    "alg_none": lambda w, s: jwt.encode(_claims(w, s), None, algorithm="none"),
    "wrong_audience": lambda w, s: jwt.encode(_claims(w, s, aud="someone-else"), s.secret_key, algorithm="HS256"),
    "wrong_issuer": lambda w, s: jwt.encode(_claims(w, s, iss="evil"), s.secret_key, algorithm="HS256"),
    "another_key": lambda w, s: jwt.encode(_claims(w, s), "another-key-" + "z" * 40, algorithm="HS256"),
    "another_algorithm": lambda w, s: jwt.encode(_claims(w, s), s.secret_key, algorithm="HS512"),
    "no_jti": lambda w, s: jwt.encode(_claims(w, s, jti=None), s.secret_key, algorithm="HS256"),
    "not_an_access_token": lambda w, s: jwt.encode(_claims(w, s, typ="refresh"), s.secret_key, algorithm="HS256"),
    "garbage": lambda w, s: "not.a.jwt",
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 with our key, on purpose
@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_a_token_that_is_not_ours_answers_401_token_invalid(world: World, settings: Settings, kind: str) -> None:
    token = BAD_TOKENS[kind](world, settings)
    response = await world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "auth.token_invalid")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_expired_access_token_answers_401_token_expired(world: World, settings: Settings) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    token = jwt.encode(_claims(world, settings, iat=int(past.timestamp()),
                               exp=int((past + timedelta(minutes=15)).timestamp())), settings.secret_key,
                       algorithm="HS256")
    response = await world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "auth.token_expired")


async def test_a_refresh_token_is_not_an_access_token(world: World) -> None:
    pair = await world.login("admin")
    response = await world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['refresh_token']}"})
    assert_problem(response, 401, "auth.token_invalid")


@pytest.mark.parametrize("header", ["Bearer", "Basic YWRtaW46YWRtaW4=", "Token abc", "Bearer a b c"])
async def test_a_malformed_authorization_header_answers_401_token_invalid(world: World, header: str) -> None:
    assert_problem(await world.client.get("/api/v1/me", headers={"Authorization": header}), 401, "auth.token_invalid")


async def test_no_authorization_header_answers_401_token_missing(world: World) -> None:
    assert_problem(await world.client.get("/api/v1/me"), 401, "auth.token_missing")


# --- refresh and logout --------------------------------------------------------------------------
async def test_refresh_rotates_and_reusing_a_rotated_token_revokes_the_whole_family(world: World) -> None:
    first = await world.login("begeleider_a")
    response = await world.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json()
    third = (await world.client.post(REFRESH, json={"refresh_token": second["refresh_token"]})).json()
    reuse = await world.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert_problem(reuse, 401, "auth.refresh_token_reused")
    newest = await world.client.post(REFRESH, json={"refresh_token": third["refresh_token"]})
    assert_problem(newest, 401, "auth.refresh_token_invalid")
    assert_problem(await world.client.get("/api/v1/me", headers=bearer(third)), 401, "auth.token_invalid")


async def test_a_refresh_retried_within_the_grace_window_answers_the_same_pair(world: World) -> None:
    first = await world.login("begeleider_a")
    answer = await world.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    retry = await world.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert retry.status_code == 200
    assert retry.json() == answer.json()
    assert len(await refresh_rows(world)) == 2
    assert (await world.client.get("/api/v1/me", headers=bearer(retry.json()))).status_code == 200


async def test_two_parallel_refreshes_of_one_token_rotate_once_and_answer_the_same_pair(world: World) -> None:
    first = await world.login("funder")
    one, two = await asyncio.gather(*(world.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
                                      for _ in range(2)))
    assert (one.status_code, two.status_code) == (200, 200)
    assert one.json() == two.json()
    assert len(await refresh_rows(world)) == 2


async def test_logout_revokes_the_family_refresh_and_access_tokens_alike(world: World) -> None:
    pair = await world.login("begeleider_a")
    other_login = await world.login("begeleider_a")
    response = await world.client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]}, headers=bearer(pair))
    assert response.status_code == 204
    assert_problem(await world.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401,
                   "auth.refresh_token_invalid")
    assert_problem(await world.client.get("/api/v1/me", headers=bearer(pair)), 401, "auth.token_invalid")
    assert (await world.client.get("/api/v1/me", headers=bearer(other_login))).status_code == 200
    again = await world.client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]}, headers=bearer(pair))
    assert again.status_code == 204  # a retried logout is not an error


async def test_logout_needs_a_bearer_token(world: World) -> None:
    pair = await world.login("admin")
    response = await world.client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]})
    assert_problem(response, 401, "auth.token_missing")
    assert (await world.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 200


async def test_logout_can_not_end_another_users_session(world: World) -> None:
    victim = await world.login("begeleider_a")
    attacker = await world.login("begeleider_b")
    response = await world.client.post(LOGOUT, json={"refresh_token": victim["refresh_token"]},
                                       headers=bearer(attacker))
    assert_problem(response, 401, "auth.refresh_token_invalid")
    assert (await world.client.post(REFRESH, json={"refresh_token": victim["refresh_token"]})).status_code == 200


async def test_refresh_with_an_unknown_token_answers_401(world: World) -> None:
    response = await world.client.post(REFRESH, json={"refresh_token": "made-up-token"})
    assert_problem(response, 401, "auth.refresh_token_invalid")


# --- me and users --------------------------------------------------------------------------------
async def test_me_answers_who_the_caller_is(world: World) -> None:
    response = await world.client.get("/api/v1/me", headers=world.auth("admin"))
    assert response.status_code == 200
    body = response.json()
    admin = world.users["admin"]
    assert {k: body[k] for k in ("id", "email", "role", "organisation_id", "display_name")} == {
        "id": str(admin.id), "email": "admin@example.org", "role": "admin",
        "organisation_id": str(admin.organisation_id), "display_name": admin.display_name}
    assert {m["group_id"] for m in body["memberships"]} == {str(world.groups["a"]), str(world.groups["b"])}


@pytest.mark.parametrize("caller", ["begeleider_a", "funder", "member"])
async def test_only_an_admin_may_create_users(world: World, caller: str) -> None:
    response = await world.client.post("/api/v1/users", headers=world.auth(caller), json={
        "email": "new@example.org", "password": "a long password", "role": "begeleider", "display_name": "Nieuw"})
    assert_problem(response, 403, "access.role_not_allowed")
    async with world.sessionmaker() as db:
        assert (await db.execute(select(func.count()).where(User.email == "new@example.org"))).scalar() == 0


async def test_creating_a_user_with_an_email_in_use_answers_409(world: World) -> None:
    response = await world.client.post("/api/v1/users", headers=world.auth("admin"), json={
        "email": "Begeleider_A@example.org", "password": "a long password", "role": "funder",
        "display_name": "Dubbel"})
    assert_problem(response, 409, "user.email_taken")


async def test_a_member_account_needs_a_member_id(world: World) -> None:
    response = await world.client.post("/api/v1/users", headers=world.auth("admin"), json={
        "email": "lid@example.org", "password": "a long password", "role": "member", "display_name": "Lid"})
    assert_problem(response, 422, "user.member_required")


async def test_a_member_account_made_by_an_admin_logs_in_and_sees_its_own_group_only(world: World) -> None:
    member_id = world.members["b.bram"]
    response = await world.client.post("/api/v1/users", headers=world.auth("admin"), json={
        "email": "bram@example.org", "password": "bram's long password", "role": "member",
        "display_name": "Bram", "member_id": str(member_id)})
    assert response.status_code == 201, response.text
    assert response.json()["member_id"] == str(member_id)
    login = await world.client.post(LOGIN, json={"email": "bram@example.org", "password": "bram's long password"})
    assert login.status_code == 200
    me = (await world.client.get("/api/v1/me", headers=bearer(login.json()))).json()
    assert me["role"] == "member" and me["member_id"] == str(member_id)
    assert [m["group_id"] for m in me["memberships"]] == [str(world.groups["b"])]
    groups = await world.client.get("/api/v1/groups", headers=bearer(login.json()))
    assert [g["id"] for g in groups.json()["items"]] == [str(world.groups["b"])]


@pytest.fixture
async def second_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_a_pair_from_one_app_instance_refreshes_on_another(world: World,
                                                                 second_client: AsyncTestClient[Litestar]) -> None:
    pair = await world.login("admin")
    response = await second_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200
    assert (await second_client.get("/api/v1/me", headers=bearer(response.json()))).status_code == 200


def test_a_token_is_verified_once_and_its_kept_claims_still_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    from api import auth

    tokens = auth.TokenService(Settings(secret_key="test-only-" + "k" * 40))
    user = User(id=uuid4())
    now = datetime.now(UTC)
    token, lifetime = tokens.issue(user, now)
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting_decode)
    assert tokens.read(token).user_id == user.id
    assert tokens.read(token).user_id == user.id
    assert decoded == [token]
    later = now.timestamp() + lifetime + auth.LEEWAY_SECONDS + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr(auth.jwt.api_jwt, "datetime", _FrozenDatetime(later), raising=False)
    with pytest.raises(auth.TokenExpired):
        tokens.read(token)


def test_a_kept_token_does_not_make_a_forged_one_pass() -> None:
    from api import auth

    tokens = auth.TokenService(Settings(secret_key="test-only-" + "k" * 40))
    token, _ = tokens.issue(User(id=uuid4()), datetime.now(UTC))
    tokens.read(token)
    head, body, signature = token.split(".")
    forged = ".".join([head, body, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    with pytest.raises(auth.TokenInvalid):
        tokens.read(forged)


class _FrozenDatetime:
    """PyJWT reads the clock through datetime.now(tz=timezone.utc); this one stands still at `at`."""

    def __init__(self, at: float) -> None:
        self._at = at

    def now(self, tz: Any = None) -> datetime:
        return datetime.fromtimestamp(self._at, tz or UTC)

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)
