"""The job outbox: enqueues decided inside a transaction, handed to arq after it commits."""

from piccolo.columns import JSONB, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class JobOutbox(Table):
    id = Serial(primary_key=True)
    function = Varchar(length=120)
    kwargs = JSONB(default={})
    created_at = Timestamptz()
    enqueued_at = Timestamptz(null=True, default=None, index=True)
    last_error = Text(null=True, default=None)
