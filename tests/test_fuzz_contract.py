"""Contract fuzzing: schemathesis generates requests for every operation of the app's own OpenAPI document,
sends them in process as each role, and checks every answer against that document: no 5xx, a documented
status, a documented content type, a body that fits the documented schema, and every 4xx a problem+json
with a `code`.

Bounded and reproducible: a fixed number of derandomized examples per operation. The cases are drawn
first (hypothesis, synchronously) and then sent through the async test client on the test's fresh
database; path ids are the world's own where the path names one, so requests get past the 404 to the
rules behind it.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.kring import Kring
from tests.world import World

# per operation and role: valid requests (as far as the schema says) and requests the schema says are invalid
EXAMPLES = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 3}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BASE_URL = "http://testserver.local"


def draw_cases(operation: Any, path_parameters: dict[str, str], mode: GenerationMode, examples: int) -> list[Case]:
    """Up to `examples` derandomized cases of one operation (no requests are sent here)."""
    cases: list[Case] = []
    known = {k: v for k, v in path_parameters.items() if f"{{{k}}}" in operation.path}

    @hypothesis.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode, path_parameters=known))
    def collect(case: Case) -> None:
        cases.append(case)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return cases


async def world_ids(world: World) -> dict[str, str]:
    kring = await Kring.build(world)
    meeting_id = await kring.open_meeting(1)
    entry_id = await kring.deposit(meeting_id, kring.eva, 1000)
    return {"group_id": str(world.groups["a"]), "member_id": str(kring.bram), "cycle_id": str(kring.cycle_id),
            "meeting_id": str(meeting_id), "entry_id": str(entry_id)}


def problem_failure(response: Any) -> str | None:
    if not 400 <= response.status_code < 500:
        return None
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{response.status_code} is {response.headers.get('content-type')!r}, not application/problem+json"
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or body.get("status") != response.status_code:
        return f"{response.status_code} problem without a code or with another status: {body!r}"
    return None


@pytest.mark.parametrize("role", ["admin", "begeleider_a", "member", "funder"])
async def test_every_operation_answers_within_its_contract_for_each_role(world: World, role: str) -> None:
    schema = schemathesis.openapi.from_dict(world.client.app.openapi_schema.to_schema())
    ids = await world_ids(world)
    auth = world.auth(role)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        cases = [case for mode, examples in EXAMPLES.items() for case in draw_cases(operation, ids, mode, examples)]
        for case in cases:
            sent = case.as_transport_kwargs(base_url=BASE_URL)
            headers = {**{k: str(v) for k, v in (sent.get("headers") or {}).items()}, **auth}
            content = sent.get("data")
            if content is None and "json" in sent:
                content = json.dumps(sent["json"]).encode()
            response = await world.client.request(sent["method"], sent["url"], params=sent.get("params") or None,
                                                  headers=headers, content=content)
            label = f"{case.method} {case.formatted_path} -> {response.status_code}"
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                failures.append(f"{label}: " + "; ".join(f"{x.title}: {x.message[:300]}" for x in group.exceptions))
            except AssertionError as error:
                failures.append(f"{label}: {str(error)[:300]}")
            if (problem := problem_failure(response)) is not None:
                failures.append(f"{label}: {problem}")
    assert operations >= 60
    assert not failures, f"{len(failures)} contract failures:\n" + "\n".join(sorted(set(failures))[:60])


def test_the_problem_check_itself_tells_a_problem_from_plain_json() -> None:
    class Fake:
        def __init__(self, status: int, content_type: str, body: object) -> None:
            self.status_code, self.headers, self._body = status, {"content-type": content_type}, body

        def json(self) -> object:
            return self._body

    assert problem_failure(Fake(404, "application/problem+json", {"code": "resource.not_found", "status": 404})) is None
    assert problem_failure(Fake(404, "application/json", {"code": "x", "status": 404})) is not None
    assert problem_failure(Fake(422, "application/problem+json", {"status": 422})) is not None
    assert problem_failure(Fake(200, "application/json", {})) is None
