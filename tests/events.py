"""Run what the worker would: the event handlers recorded in the job outbox (app/events.py)."""

from __future__ import annotations

from app.events import HANDLE_EVENT_JOB, run_stored
from app.handlers import register_all
from app.jobs.tables import JobOutbox


async def run_stored_events() -> int:
    """Run every stored event handler once, in outbox order; returns how many ran (a second call runs none)."""
    register_all()
    rows = (
        await JobOutbox.select(JobOutbox.kwargs)
        .where(JobOutbox.function == HANDLE_EVENT_JOB)
        .order_by(JobOutbox.id)
        .output(load_json=True)
    )
    ran = 0
    for row in rows:
        ran += await run_stored(**row["kwargs"])
    return ran
