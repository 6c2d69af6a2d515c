"""The audit log: every admin action and every revoke, with before and after. Append-only (trigger)."""

from piccolo.columns import JSONB, BigSerial, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.people.tables import Employee


class AuditEntry(Table):
    id = BigSerial(primary_key=True)
    actor = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null, index=True)
    action = Varchar(length=60, index=True)
    target_type = Varchar(length=40)
    target_id = Integer(null=True, default=None)
    summary = Text(default="")
    before = JSONB(null=True, default=None)
    after = JSONB(null=True, default=None)
    created_at = Timestamptz(index=True)
