"""openapi/openapi.json, committed, is exactly what the code generates; the app serves it too."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.cli import openapi_json

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_the_committed_openapi_document_is_what_the_code_generates_now() -> None:
    generated = openapi_json()
    assert COMMITTED.exists(), "openapi/openapi.json is missing: run `kringkas openapi` (or `make openapi`)"
    committed = COMMITTED.read_text()
    if committed != generated:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), generated.splitlines(True),
                                                 "committed", "generated", n=1))[:60])
        raise AssertionError(f"openapi/openapi.json is stale: run `kringkas openapi` and commit it.\n{diff}")


def test_the_openapi_document_names_every_path_of_the_contract_built_so_far() -> None:
    paths = json.loads(openapi_json())["paths"]
    for path in ("/health", "/api/v1/auth/login", "/api/v1/me", "/api/v1/groups", "/api/v1/groups/{group_id}",
                 "/api/v1/groups/{group_id}/members", "/api/v1/groups/{group_id}/members/{member_id}/leave"):
        assert path in paths, path


async def test_the_app_serves_its_openapi_document_without_a_token(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["info"]["title"] == "Kringkas"
    assert served["paths"].keys() == json.loads(openapi_json())["paths"].keys()
