"""API tokens, outgoing webhooks and their deliveries (issue 7)."""

from enum import StrEnum

from piccolo.columns import Array, BigSerial, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.constraints import Check
from piccolo.table import Table

from app.people.tables import Employee


class ApiToken(Table):
    """A named bearer token for integrations. Only a SHA-256 hash of the token is kept; `prefix` (the token's
    public first part) finds the row and identifies the token in lists."""

    id = Serial(primary_key=True)

    name = Varchar(length=80)
    prefix = Varchar(length=16, unique=True)
    token_hash = Varchar(length=64, secret=True)
    scopes = Array(base_column=Varchar(length=30))
    rate_limit = Integer(default=120)  # requests per minute
    created_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)

    rate_limit_positive = Check(rate_limit >= 1)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt
    RETRYING = "retrying"  # an attempt failed; another is scheduled
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed; given up


class Webhook(Table):
    """An admin-registered URL that receives signed POSTs for the events it subscribes to."""

    id = Serial(primary_key=True)

    name = Varchar(length=80)
    url = Varchar(length=1000)
    events = Array(base_column=Varchar(length=40))
    secret = Varchar(length=80, secret=True)  # signs deliveries; needed in clear to sign
    created_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    removed_at = Timestamptz(null=True, default=None)


class WebhookDelivery(Table):
    """One event sent (or to be sent) to one webhook; its body is fixed when the event happens."""

    id = BigSerial(primary_key=True)
    webhook = ForeignKey(Webhook, null=False, on_delete=OnDelete.cascade, index=True)
    event = Varchar(length=40)
    body = Text()  # the JSON document POSTed, byte for byte the same on every attempt
    status = Varchar(length=20, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = Integer(default=0)
    last_error = Text(default="")
    last_status_code = Integer(null=True, default=None)
    created_at = Timestamptz(index=True)
    next_attempt_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
