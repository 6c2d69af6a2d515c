"""The JSON API answers a body it cannot read with its 400 JSON error, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import bearer

BODIES = {
    "invalid UTF-8": b'{"message": "caf\xe9"}',
    "nested 50,000 levels": b"[" * 50_000 + b"]" * 50_000,
    "nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "truncated": b'{"message": "Tha',
    "not JSON": b"\xff\xfe\x00",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize("path", ["/api/v1/kudos", "/api/v1/requests", "/api/v1/requests/complete"])
async def test_an_unreadable_body_is_a_400_json_error(client, make_token, body: bytes, path: str) -> None:
    token = await make_token()
    response = await client.post(path, content=body, headers={**bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["status"] == 400 and error["detail"] and error["errors"]
