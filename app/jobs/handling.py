"""Running the stored handlers of published events (app/events.py): what the worker's `handle_events` job does with
a batch of outbox rows, what the demo and the tests do without a worker, and the sweep that hands over again the
handlers whose job was lost.

Exactly once: each handler's effects commit together with a row of `event_receipt`, unique on (event id,
handler), so a job that runs twice changes nothing the second time and a retry runs only what has not run.
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta
from typing import Any

import msgspec
from piccolo.columns.combination import And, Where

import app.db as db
from app.events import EVENT_TYPES, Event, Registration, registry
from app.jobs.outbox import EVENT_ROWS
from app.jobs.tables import EventReceipt, JobOutbox
from app.timeutil import now

log = logging.getLogger("kudos.events")

SWEEP_GRACE = timedelta(minutes=5)  # a stored handler handed to arq this long ago without a receipt lost its job
SWEEP_HORIZON = timedelta(days=1)  # older hand-overs are not looked at again (the sweep stays cheap)
KEEP = timedelta(days=7)  # outbox rows handed over and receipts written longer ago than this are deleted
PRUNE_BATCH = 10_000  # rows deleted per statement, so no delete holds its locks for long

# A batch's receipts, after a transaction-scoped lock on the handler's name: two workers' batches of one handler
# (which touch the same rows, in different orders) run one after the other instead of deadlocking.
_RECEIPTS_SQL = """
    INSERT INTO event_receipt (event_id, handler, handled_at)
    SELECT e.event_id, h.name, {}
    FROM (SELECT {}::text AS name) AS h
    CROSS JOIN LATERAL (SELECT pg_advisory_xact_lock(hashtext(h.name))) AS locked
    CROSS JOIN unnest({}::text[]) AS e(event_id)
    ON CONFLICT (event_id, handler) DO NOTHING
    RETURNING event_id
"""


async def run_rows(row_ids: list[int]) -> int:
    """Run the stored handlers of these outbox rows (a batch the outbox drain handed over), each once per event, in
    the rows' order; returns how many handler runs happened now (those that had already run, or that this version
    does not know, are skipped). Consecutive events of one type run together: per handler, one transaction writes
    all their receipts and effects (see `_run_together`)."""
    rows = (
        await JobOutbox.select(JobOutbox.kwargs)
        .where(JobOutbox.id.is_in(row_ids) & (JobOutbox.function == EVENT_ROWS))
        .order_by(JobOutbox.id)
        .output(load_json=True)
    )
    return await _run_stored([row["kwargs"] for row in rows])


async def _run_stored(stored_rows: list[dict[str, Any]]) -> int:
    """The handlers of outbox rows' stored events (each row's `kwargs`), in order."""
    stored: list[tuple[list[str], Event]] = []
    for kwargs in stored_rows:
        event_type = EVENT_TYPES.get(kwargs["event"])
        if event_type is not None:
            stored.append((kwargs["handlers"], msgspec.convert(kwargs["payload"], event_type)))
    ran = 0
    for _, group in itertools.groupby(stored, key=lambda item: type(item[1])):
        same_type = list(group)
        for handler in dict.fromkeys(name for handlers, _ in same_type for name in handlers):
            ran += await _run_together(handler, [fact for handlers, fact in same_type if handler in handlers])
    return ran


async def _run_together(handler: str, facts: list[Event]) -> int:
    """`handler` for each of `facts` (events of its type) that it has not handled yet, in one transaction with their
    receipts. When it fails for one of them, the whole batch rolls back and each event runs alone in its own
    transaction: the others are not held back, and the error is the failing one's (arq retries the job). A handler
    registered `alone` (its effect leaves the database: a mail) always runs each event in its own transaction, so a
    failure never rolls back what was already sent."""
    registration = registry.get(handler)
    if registration is None or any(registration.event is not type(fact) for fact in facts):
        return 0
    if len(facts) > 1 and not registration.alone:
        try:
            return await _run_in_one_transaction(registration, facts)
        except Exception as exc:
            log.warning("%s failed for a batch of %d events (%s); running them one by one", handler, len(facts), exc)
    ran = 0
    for fact in facts:
        ran += await _run_in_one_transaction(registration, [fact])
    return ran


async def _run_in_one_transaction(registration: Registration, facts: list[Event]) -> int:
    """The handler for those of `facts` it has not handled yet; their receipts and its effects commit together."""
    async with db.transaction():
        receipts = await EventReceipt.raw(_RECEIPTS_SQL, now(), registration.name, [fact.event_id for fact in facts])
        new = {row["event_id"] for row in receipts}
        todo = [fact for fact in facts if fact.event_id in new]
        if registration.batch is not None and len(todo) > 1:
            await registration.batch(todo)
        else:
            for fact in todo:
                await registration.handler(fact)
    return len(todo)


async def run_recorded(*, handed_over_too: bool = False) -> int:
    """Run, here and now, the stored handlers the worker has not been handed yet (and mark them handed over), in
    outbox order, then those of the events they published in turn (a badge earned from a kudos given); returns how
    many ran. For loading data without a worker (the demo) and for tests (`handed_over_too` runs every stored
    handler again: each still runs at most once)."""
    wanted: Where | And = JobOutbox.function == EVENT_ROWS
    if not handed_over_too:
        wanted &= JobOutbox.enqueued_at.is_null()
    ran = 0
    after = 0
    while rows := (
        await JobOutbox.select(JobOutbox.id, JobOutbox.kwargs)
        .where(wanted & (JobOutbox.id > after))
        .order_by(JobOutbox.id)
        .output(load_json=True)
    ):
        ids = [row["id"] for row in rows]
        ran += await _run_stored([row["kwargs"] for row in rows])
        await JobOutbox.update({JobOutbox.enqueued_at: now()}).where(JobOutbox.id.is_in(ids))
        after = ids[-1]
    return ran


_SWEEP_SQL = """
    UPDATE job_outbox o SET enqueued_at = NULL
    WHERE o.function = {} AND o.enqueued_at < {} AND o.enqueued_at > {}
      AND EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(o.kwargs -> 'handlers') AS h(name)
        WHERE NOT EXISTS (
            SELECT 1 FROM event_receipt r
            WHERE r.event_id = o.kwargs -> 'payload' ->> 'event_id' AND r.handler = h.name
        )
      )
    RETURNING o.id
"""


async def sweep(*, grace: timedelta | None = None) -> int:
    """Hand stored handlers whose job was lost (Redis lost its queue, a worker died and arq gave the job up) to the
    outbox again; how many. PostgreSQL, not Redis, is the record: a handler without a receipt `grace` after it was
    handed over has not run. A job that was merely slow may then run beside the new one: the receipts keep the
    second run from changing anything."""
    moment = now()
    rows = await JobOutbox.raw(_SWEEP_SQL, EVENT_ROWS, moment - (grace or SWEEP_GRACE), moment - SWEEP_HORIZON)
    return len(rows)


# Oldest first through the primary key: ids grow with time, so each batch stops at the first young row it needs.
_PRUNE_OUTBOX_SQL = """
    DELETE FROM job_outbox WHERE id IN (
        SELECT id FROM job_outbox WHERE enqueued_at < {} ORDER BY id LIMIT {}
    )
    RETURNING 1
"""
_PRUNE_RECEIPTS_SQL = """
    DELETE FROM event_receipt WHERE id IN (
        SELECT id FROM event_receipt WHERE handled_at < {} ORDER BY id LIMIT {}
    )
    RETURNING 1
"""


async def prune(*, keep: timedelta = KEEP) -> dict[str, int]:
    """Delete outbox rows handed over, and receipts written, more than `keep` ago (long after any retry or sweep
    could run them again: arq gives up within hours, the sweep looks back SWEEP_HORIZON); how many of each. Rows
    never handed over are kept whatever their age."""
    before = now() - keep
    deleted = {"outbox": 0, "receipts": 0}
    for table, statement in (("outbox", _PRUNE_OUTBOX_SQL), ("receipts", _PRUNE_RECEIPTS_SQL)):
        while rows := await JobOutbox.raw(statement, before, PRUNE_BATCH):
            deleted[table] += len(rows)
            if len(rows) < PRUNE_BATCH:
                break
    return deleted
