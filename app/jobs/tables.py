"""The job outbox: enqueues decided inside a transaction, handed to arq after it commits."""

from piccolo.columns import JSONB, Serial, Text, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table


class JobOutbox(Table):
    id = Serial(primary_key=True)
    function = Varchar(length=120)
    kwargs = JSONB(default={})
    created_at = Timestamptz()
    enqueued_at = Timestamptz(null=True, default=None, index=True)
    last_error = Text(null=True, default=None)


class EventReceipt(Table):
    """One row per (event, handler) run from the outbox, written in the handler's transaction: a second run of the
    same stored handler finds it and does nothing (app/events.py)."""

    id = Serial(primary_key=True)
    event_id = Varchar(length=32)
    handler = Varchar(length=200)
    handled_at = Timestamptz()

    unique_run = Unique([event_id, handler])
