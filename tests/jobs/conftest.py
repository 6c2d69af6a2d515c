"""Fixtures of the job tests: the app's mail settings pointed at a real SMTP server, and an arq connection.

`app` is imported inside the fixtures: a conftest loads before the test environment is set (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.plugins.smtp import SmtpServer


@pytest.fixture
def smtp_settings(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch):
    """The app's settings pointed at the test's SMTP server (the worker's mail backend reads them at start)."""
    from app.settings import get_settings

    monkeypatch.setenv("KUDOS_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("KUDOS_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("KUDOS_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    yield smtp_server
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
async def arq_redis():
    from arq.connections import create_pool

    from app.jobs.worker import redis_settings

    pool = await create_pool(redis_settings())
    yield pool
    await pool.aclose()
