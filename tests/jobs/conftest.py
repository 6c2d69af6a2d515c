"""Fixtures of the job tests: an arq connection (the app's mail settings pointed at a real SMTP server are the
smtp plugin's `smtp_settings`).

`app` is imported inside the fixtures: a conftest loads before the test environment is set (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
async def arq_redis():
    from arq.connections import create_pool

    from app.jobs.worker import redis_settings

    pool = await create_pool(redis_settings())
    yield pool
    await pool.aclose()
