"""Schemathesis against the OpenAPI schema, in process: generated requests for every operation, no 5xx, and
responses that match the schema. Cases are drawn by Hypothesis first (bounded), then sent through the ASGI app on
the test's event loop (the database pool lives there)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.api.conftest import bearer

EXAMPLES_PER_OPERATION = 25


def draw_cases(operation, count: int) -> list:
    cases = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def collect(case) -> None:
        cases.append(case)

    collect()
    return cases


async def test_the_schema_documents_only_the_api(client) -> None:
    schema = (await client.get("/schema")).json()
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert set(schema["paths"]) == {
        "/api/v1/requests",
        "/api/v1/requests/complete",
        "/api/v1/kudos",
        "/api/v1/leaderboards",
        "/api/v1/people/{person_id}",
    }
    assert schema["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token",
    }
    assert (await client.get("/schema/openapi.json")).json() == schema


async def test_generated_requests_never_fail_on_the_server(client, org, make_token) -> None:
    headers = bearer(await make_token(rate_limit=10_000))
    schema = schemathesis.openapi.from_dict((await client.get("/schema/openapi.json")).json())
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for case in draw_cases(operation, EXAMPLES_PER_OPERATION):
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            response = await client.request(
                kwargs["method"],
                kwargs["url"],
                headers=kwargs.get("headers"),
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                content=kwargs.get("data"),
            )
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
                headers=headers,
            )
            sent += 1
    assert sent >= 5 * 10
