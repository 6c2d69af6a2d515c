"""Run what the worker would: the event handlers recorded in the job outbox (app/events.py)."""

from __future__ import annotations

from app.handlers import register_all
from app.jobs.handling import run_recorded


async def run_stored_events() -> int:
    """Run every stored event handler, in outbox order, and those of the events they publish in turn (a badge
    earned from a kudos given); returns how many ran (a second call runs none)."""
    register_all()
    return await run_recorded(handed_over_too=True)
