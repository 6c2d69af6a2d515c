"""Outages at the edge: PostgreSQL connections killed, Redis gone — a retry or a 503, never a 500."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from litestar.stores.redis import RedisStore
from redis.exceptions import ConnectionError as RedisConnectionError

from app.kudos.tables import Kudos
from app.settings import get_settings
from tests.factories import make_employee
from tests.helpers import HTMX, post_form, signed_in
from tests.lifespan import lifespan_running
from tests.plugins.smtp import free_port


async def terminate_connections() -> int:
    """Kill every other connection to this test run's own database (the pool's idle connections among them)."""
    admin = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        return await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()


@pytest.fixture
async def pair():
    return (
        await make_employee("Gina Giver", email="gina@example.com"),
        await make_employee("Ravi Resolver", email="ravi@example.com"),
    )


def give(recipient, key: str) -> dict:
    return {
        "recipients": [str(recipient.id)],
        "message": "Thanks for sorting out the VPN!",
        "points": "10",
        "visibility": "public",
        "idempotency_key": key,
    }


async def test_pages_and_forms_answer_after_the_pooled_connections_were_killed(client, pair) -> None:
    giver, ravi = pair
    await signed_in(client, giver.email)
    for path in ("/", "/people", "/leaderboards"):
        assert (await client.get(path)).status_code == 200
    assert await terminate_connections() >= 1
    statuses = [(await client.get(path)).status_code for path in ("/", "/people", "/leaderboards", "/")]
    assert statuses == [200] * 4
    await terminate_connections()
    response = await post_form(client, "/kudos", give(ravi, "after-kill"))
    assert response.status_code == 303, response.text
    assert await Kudos.count() == 1


async def test_a_connection_lost_mid_request_is_a_503_not_a_500(client, pair, monkeypatch) -> None:
    from app.kudos import giving

    giver, ravi = pair
    await signed_in(client, giver.email)

    async def dropped(*args, **kwargs):
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(giving, "give_kudos", dropped)
    response = await post_form(client, "/kudos", give(ravi, "mid-request"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "Kudos is briefly unavailable" in response.text
    fragment = await post_form(client, "/kudos", give(ravi, "mid-request"), headers=HTMX)
    assert fragment.status_code == 503 and "Please try again in a minute." in fragment.text


@pytest.fixture
async def app_without_redis(db: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app configured with a Redis that is not there (nothing listens on its port)."""
    from app.main import create_app

    settings = dataclasses.replace(get_settings(), redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with (
        lifespan_running(create_app(settings, manage_pool=False)) as application,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as client,
    ):
        yield client


async def test_every_page_answers_503_with_a_friendly_page_when_redis_is_down(app_without_redis, caplog) -> None:
    client = app_without_redis
    client.cookies.set("kudos_session", "a" * 64)
    for path in ("/login", "/", "/people", "/leaderboards"):
        response = await client.get(path)
        assert response.status_code == 503, (path, response.status_code)
        assert response.headers["retry-after"] == "30"
        assert "<h1>Kudos is briefly unavailable</h1>" in response.text
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_committed_kudos_is_not_answered_with_an_error_when_the_session_cannot_be_saved(
    client, pair, monkeypatch
) -> None:
    giver, ravi = pair
    await signed_in(client, giver.email)
    await client.get("/kudos/new")

    async def redis_gone(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(RedisStore, "set", redis_gone)
    response = await post_form(client, "/kudos", give(ravi, "flash-lost"))
    assert response.status_code == 303, response.text
    assert await Kudos.count() == 1
