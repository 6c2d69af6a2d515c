"""The README's external-script example, run in process: import, re-import, complete, and the Thank now prompt."""

from __future__ import annotations

from app.requests.tables import Request
from tests.api.tracker_example import sync_ticket
from tests.events import run_stored_events
from tests.factories import PASSWORD


async def test_an_external_script_creates_completes_and_sees_the_thank_now_prompt(client, org, make_token) -> None:
    async def worker(request: object) -> None:  # `kudos serve` runs the worker beside the web app
        await run_stored_events()

    client.event_hooks["request"].append(worker)
    said: list[str] = []
    result = await sync_ticket(
        client,
        await make_token("requests:write"),
        requester="ana@example.com",
        department="it",
        resolvers=["ravi@example.com"],
        external_id="EX-1",
        password=PASSWORD,
        say=said.append,
    )
    assert result["status"] == "completed"
    assert result["prompt"] == f"/kudos/new?request={result['id']}"
    assert await Request.count() == 1
    assert said[0].startswith("201 imported ticket EX-1")
    assert said[1].startswith("200 the same ticket again updated")
