"""An external tracker's side of the Kudos API: import a ticket (twice: the second time updates it), complete it,
and — given the requester's password — sign in as them and find the "Thank now" prompt in their notifications.

Against `kudos serve` with the demo data (create a token with the `requests:write` scope at /admin/tokens):

    uv run python -m tests.api.tracker_example --base-url http://127.0.0.1:8000 --token kudos_… \\
        --requester admin@example.com --department it --resolver employee@example.com --password demo-password

`tests/api/test_tracker_example.py` runs the same steps against the app in process.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys

import httpx


async def sync_ticket(
    client: httpx.AsyncClient,
    token: str,
    *,
    requester: str,
    department: str,
    resolvers: list[str],
    external_id: str,
    password: str | None = None,
    say=print,
) -> dict:
    """Run the steps; returns the completed request as the API gave it, plus `prompt` (the "Thank now" link the
    requester sees) when `password` was given."""
    api = {"Authorization": f"Bearer {token}"}
    ticket = {
        "source": "example-tracker",
        "external_id": external_id,
        "requester": requester,
        "department": department,
        "title": "Printer on floor 3 jams",
        "resolvers": resolvers,
        "url": f"https://tracker.example.com/tickets/{external_id}",
    }
    created = await client.post("/api/v1/requests", json=ticket, headers=api)
    created.raise_for_status()
    say(f"{created.status_code} imported ticket {external_id} as request {created.json()['url']}")
    updated = await client.post("/api/v1/requests", json={**ticket, "title": "Printer on floor 3 jams A4"}, headers=api)
    updated.raise_for_status()
    say(f"{updated.status_code} the same ticket again updated request {updated.json()['id']} (no duplicate)")
    done = await client.post(
        "/api/v1/requests/complete", json={"source": ticket["source"], "external_id": external_id}, headers=api
    )
    done.raise_for_status()
    result = done.json()
    say(f"{done.status_code} completed; the requester is asked to thank: {result['thank_url']}")
    if password:
        result["prompt"] = await thank_now_prompt(client, requester, password, result["id"])
        say(f"signed in as {requester}: their notifications show “Thank now” → {result['prompt']}")
    return result


async def thank_now_prompt(client: httpx.AsyncClient, email: str, password: str, request_id: int) -> str:
    """Sign in to the web app as `email` and return the "Thank now" link for the request among their notifications."""
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": email, "password": password, "next": "/", "_csrf_token": client.cookies["kudos_csrf"]},
    )
    if response.status_code != 303:
        raise RuntimeError(f"could not sign in as {email} ({response.status_code})")
    page = (await client.get("/notifications")).text
    link = f"/kudos/new?request={request_id}"
    if not re.search(rf'<a href="{re.escape(link)}"[^>]*>Thank now', page):
        raise RuntimeError("no “Thank now” prompt for the request in the requester's notifications")
    return link


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="an API token with the requests:write scope")
    parser.add_argument("--requester", required=True, help="the requester's email")
    parser.add_argument("--department", required=True, help="the slug of the department asked")
    parser.add_argument("--resolver", action="append", required=True, help="a resolver's email (repeatable)")
    parser.add_argument("--external-id", default=f"EX-{secrets.token_hex(3)}")
    parser.add_argument("--password", help="the requester's password, to check their Thank now prompt")
    args = parser.parse_args(argv)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=30) as client:
        try:
            await sync_ticket(
                client,
                args.token,
                requester=args.requester,
                department=args.department,
                resolvers=args.resolver,
                external_id=args.external_id,
                password=args.password,
            )
        except httpx.HTTPStatusError as exc:
            print(f"{exc.response.status_code}: {exc.response.text}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
