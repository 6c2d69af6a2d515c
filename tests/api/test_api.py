"""The JSON API: tokens and scopes, tracker import and completion, kudos, boards and profiles, errors, rate limit."""

from __future__ import annotations

import pytest

from app.api import tokens
from app.api.tables import ApiToken
from app.kudos.tables import Allowance, Kudos, LedgerEntry
from app.notifications.tables import Kind, Notification
from app.people.services import load_current_user
from app.requests.tables import Request, RequestEvent, RequestResolver, Status
from tests.api.conftest import bearer
from tests.events import run_stored_events
from tests.helpers import signed_in

TICKET = {
    "source": "jira",
    "external_id": "HELP-1",
    "requester": "ana@example.com",
    "department": "it",
    "title": "VPN drops every hour",
    "service": "VPN help",
    "resolvers": ["ravi@example.com", "olu@example.com"],
    "url": "https://jira.example.com/browse/HELP-1",
}


async def test_a_ticket_is_imported_once_and_updated_after(client, org, make_token) -> None:
    headers = bearer(await make_token("requests:write"))
    first = await client.post("/api/v1/requests", json=TICKET, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == Status.IN_PROGRESS
    assert body["requester"] == "ana@example.com"
    assert body["resolvers"] == ["ravi@example.com", "olu@example.com"]
    assert body["service"] == "VPN help"
    assert body["external_url"] == TICKET["url"]
    assert body["thank_url"] is None

    again = await client.post(
        "/api/v1/requests", json={**TICKET, "title": "VPN drops every hour (Wi-Fi)"}, headers=headers
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == body["id"]
    assert await Request.count() == 1
    row = await Request.select(Request.title, Request.source, Request.external_id).first()
    assert row == {"title": "VPN drops every hour (Wi-Fi)", "source": "jira", "external_id": "HELP-1"}
    kinds = [e["kind"] for e in await RequestEvent.select(RequestEvent.kind).order_by(RequestEvent.id)]
    assert kinds == ["filed", "claimed", "resolver_added", "updated"]

    same = await client.post(
        "/api/v1/requests", json={**TICKET, "title": "VPN drops every hour (Wi-Fi)"}, headers=headers
    )
    assert same.status_code == 200
    assert await RequestEvent.count() == 4  # nothing changed, nothing recorded
    assert await RequestResolver.count() == 2


async def test_import_refusals_name_their_fields_and_change_nothing(client, org, make_token) -> None:
    headers = bearer(await make_token("requests:write"))
    response = await client.post(
        "/api/v1/requests",
        json={**TICKET, "requester": "nobody@example.com", "department": "nowhere", "url": "javascript:alert(1)"},
        headers=headers,
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["requester"] == "No one working here has the email nobody@example.com."
    assert "nowhere" in errors["department"]
    assert "http" in errors["url"]
    # The first resolver must be able to pick the request up, as in the app.
    response = await client.post(
        "/api/v1/requests",
        json={**TICKET, "resolvers": ["ana@example.com"], "requester": "admin@example.com"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"resolvers": "Only members of IT can claim its requests."}
    # Same form messages as the app for a missing title.
    response = await client.post("/api/v1/requests", json={**TICKET, "title": "  "}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == {"title": "Give your request a short title."}
    # Not the documented shape: 400 with the field.
    response = await client.post("/api/v1/requests", json={**TICKET, "resolvers": "ravi@example.com"}, headers=headers)
    assert response.status_code == 400
    assert "resolvers" in response.json()["errors"]
    assert await Request.count() == 0


async def test_completing_a_ticket_asks_the_requester_to_thank_now(client, org, make_token) -> None:
    headers = bearer(await make_token("requests:write"))
    created = (await client.post("/api/v1/requests", json=TICKET, headers=headers)).json()
    response = await client.post(
        "/api/v1/requests/complete", json={"source": "jira", "external_id": "HELP-1"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == Status.COMPLETED
    assert body["thank_url"] == f"http://testserver/kudos/new?request={created['id']}"
    await run_stored_events()  # the worker notifies
    note = await Notification.select().where(Notification.recipient == org["ana"].id).first()
    assert note["kind"] == Kind.REQUEST_COMPLETED
    assert note["action_label"] == "Thank now"
    assert note["subject"] == f"request:{created['id']}"  # the web layer links "Thank now" to the give form
    assert note["actor"] == org["ravi"].id  # the first resolver completed it

    again = await client.post(
        "/api/v1/requests/complete", json={"source": "jira", "external_id": "HELP-1"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["errors"] == {"form": "This request is already completed."}
    missing = await client.post(
        "/api/v1/requests/complete", json={"source": "jira", "external_id": "HELP-404"}, headers=headers
    )
    assert missing.status_code == 404
    assert "external_id" in missing.json()["errors"]


async def test_only_a_resolver_can_complete(client, org, make_token) -> None:
    headers = bearer(await make_token("requests:write"))
    await client.post("/api/v1/requests", json=TICKET, headers=headers)
    response = await client.post(
        "/api/v1/requests/complete",
        json={"source": "jira", "external_id": "HELP-1", "completed_by": "admin@example.com"},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json()["errors"] == {
        "form": "Only the people working on this request can complete it. Claim it first."
    }
    assert (await Request.select(Request.status).first())["status"] == Status.IN_PROGRESS
    assert await Notification.count().where(Notification.kind == Kind.REQUEST_COMPLETED) == 0


async def test_give_kudos_through_the_api(client, org, make_token) -> None:
    headers = bearer(await make_token("kudos:write"))
    payload = {
        "giver": "ana@example.com",
        "recipients": ["ravi@example.com"],
        "message": "Thanks for the VPN fix!",
        "points": 5,
        "idempotency_key": "slack-123",
    }
    response = await client.post("/api/v1/kudos", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True
    assert body["url"] == f"http://testserver/kudos/{body['id']}"
    kudos = await Kudos.select(Kudos.giver, Kudos.points).first()
    assert kudos == {"giver": org["ana"].id, "points": 5}
    retried = await client.post("/api/v1/kudos", json=payload, headers=headers)
    assert retried.status_code == 200
    assert retried.json() == {**body, "created": False}
    assert await Kudos.count() == 1


async def test_a_kudos_breaking_a_rule_is_refused_by_field_and_changes_nothing(client, org, make_token) -> None:
    headers = bearer(await make_token("kudos:write"))
    response = await client.post(
        "/api/v1/kudos",
        json={"giver": "ana@example.com", "recipients": ["ana@example.com"], "message": "", "points": 10_000},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "recipients": "You can't give kudos to yourself.",
        "message": "Write a message to say what they did.",
        "points": "At most 50 points per person per kudos.",
    }
    response = await client.post(
        "/api/v1/kudos",
        json={"giver": "ghost@example.com", "recipients": ["ravi@example.com"], "message": "Hi", "values": ["Nope"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"giver", "values"}
    assert await Kudos.count() == 0
    assert await LedgerEntry.count() == 0
    assert await Allowance.count() == 0
    assert await Notification.count() == 0


async def test_boards_and_profiles_are_read_with_the_read_scope(client, org, make_token) -> None:
    writer = bearer(await make_token("kudos:write"))
    await client.post(
        "/api/v1/kudos",
        json={"giver": "ana@example.com", "recipients": ["ravi@example.com"], "message": "Thanks", "points": 7},
        headers=writer,
    )
    await run_stored_events()  # the worker awards the badges
    reader = bearer(await make_token("read"))
    board = await client.get("/api/v1/leaderboards?board=people&period=month&metric=points", headers=reader)
    assert board.status_code == 200, board.text
    rows = board.json()["rows"]
    assert rows == [{"rank": 1, "id": org["ravi"].id, "name": "Ravi Patel", "department": "IT", "value": 7}]
    departments = await client.get("/api/v1/leaderboards?board=departments&metric=points_per_head", headers=reader)
    assert departments.json()["rows"][0] == {
        "rank": 1,
        "id": org["it"].id,
        "name": "IT",
        "department": None,
        "value": 3.5,
    }
    bad = await client.get("/api/v1/leaderboards?period=decade", headers=reader)
    assert bad.status_code == 400
    assert "period" in bad.json()["errors"]

    profile = await client.get(f"/api/v1/people/{org['ravi'].id}", headers=reader)
    assert profile.status_code == 200
    body = profile.json()
    assert (body["name"], body["department_slug"], body["points_received"]) == ("Ravi Patel", "it", 7)
    assert [b["slug"] for b in body["badges"]] == ["first-kudos-received"]
    assert (await client.get("/api/v1/people/999999", headers=reader)).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/api/v1/requests", "requests:write"),
        ("POST", "/api/v1/requests/complete", "requests:write"),
        ("POST", "/api/v1/kudos", "kudos:write"),
        ("GET", "/api/v1/leaderboards", "read"),
        ("GET", "/api/v1/people/1", "read"),
    ],
)
async def test_a_token_without_the_scope_gets_403(client, org, make_token, method, path, scope) -> None:
    others = [s for s in tokens.SCOPES if s != scope]
    response = await client.request(method, path, json={}, headers=bearer(await make_token(*others)))
    assert response.status_code == 403
    assert response.json() == {
        "status": 403,
        "detail": f"This token lacks the scope {scope}.",
        "errors": {"form": f"This token lacks the scope {scope}."},
    }


async def test_missing_unknown_and_revoked_tokens_get_401(client, org, make_token) -> None:
    token = await make_token("read")
    assert (await client.get("/api/v1/leaderboards", headers=bearer(token))).status_code == 200
    for headers in ({}, bearer("kudos_00000000_nope"), bearer(token + "x"), {"Authorization": f"Basic {token}"}):
        response = await client.get("/api/v1/leaderboards", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="kudos"'
        assert response.json()["errors"] == {"form": "Send a valid API token: Authorization: Bearer <token>."}
    row = await ApiToken.select(ApiToken.id).first()
    await tokens.revoke_token(await load_current_user(org["admin"].id), row["id"])
    assert (await client.get("/api/v1/leaderboards", headers=bearer(token))).status_code == 401


async def test_a_browser_session_alone_does_not_reach_the_api(client, org) -> None:
    await signed_in(client, org["admin"].email)
    response = await client.get("/api/v1/leaderboards")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    response = await client.post("/api/v1/kudos", json={})  # no CSRF token either: still just 401
    assert response.status_code == 401


async def test_only_a_hash_of_the_token_is_stored(db, org, make_token) -> None:
    token = await make_token("read")
    row = await ApiToken.select(ApiToken.prefix, ApiToken.token_hash).first()
    assert token.startswith(f"kudos_{row['prefix']}_")
    assert row["token_hash"] == tokens.hash_token(token) != token
    from piccolo.engine import engine_finder

    dump = await engine_finder().run_ddl("SELECT row_to_json(t)::text AS row FROM api_token t")
    assert token not in dump[0]["row"]
    assert token.split("_", 2)[2] not in dump[0]["row"]


async def test_last_used_is_recorded(client, org, make_token) -> None:
    token = await make_token("read")
    assert (await ApiToken.select(ApiToken.last_used_at).first())["last_used_at"] is None
    await client.get("/api/v1/leaderboards", headers=bearer(token))
    assert (await ApiToken.select(ApiToken.last_used_at).first())["last_used_at"] is not None


async def test_each_token_is_rate_limited(client, org, make_token) -> None:
    limited = bearer(await make_token("read", rate_limit=3))
    other = bearer(await make_token("read", rate_limit=3))
    statuses = [(await client.get("/api/v1/leaderboards", headers=limited)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await client.get("/api/v1/leaderboards", headers=limited)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "3 requests a minute" in refused.json()["errors"]["form"]
    assert (await client.get("/api/v1/leaderboards", headers=other)).status_code == 200
