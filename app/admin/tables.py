"""Admin console state: one-time password links, invitations by email and CSV imports."""

from enum import StrEnum

from piccolo.columns import JSONB, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.people.tables import Employee


class PasswordReset(Table):
    """A one-time link to set a password; only the SHA-256 of its token is stored."""

    id = Serial(primary_key=True)

    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    token_hash = Varchar(length=64, unique=True)
    created_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class Invitation(Table):
    """A person invited by email to sign in (one row per person: resending starts a new round of the same row).

    The mail and its one-time password link are made by the worker (app/signin/handlers.py), never here: only the
    link's hash is ever stored. `round` tells a stale mailing (an earlier round still queued) from the current one.
    """

    id = Serial(primary_key=True)

    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, unique=True)
    round = Integer(default=1)
    invited_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    invited_at = Timestamptz()
    expires_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)  # when this round's mail went out
    accepted_at = Timestamptz(null=True, default=None)  # the person set a password or signed in
    revoked_at = Timestamptz(null=True, default=None)


class ImportKind(StrEnum):
    PEOPLE = "people"
    DEPARTMENTS = "departments"


class ImportStatus(StrEnum):
    CHECKED = "checked"  # dry run done; nothing changed yet
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CsvImport(Table):
    """An uploaded CSV file, its dry run, and the progress and report of the background import."""

    id = Serial(primary_key=True)

    kind = Varchar(length=20, choices=ImportKind)
    filename = Varchar(length=255)
    content = Text()
    status = Varchar(length=20, choices=ImportStatus, default=ImportStatus.CHECKED)
    total = Integer(default=0)  # data rows in the file
    processed = Integer(default=0)  # rows applied so far by the job
    created = Integer(default=0)
    updated = Integer(default=0)
    unchanged = Integer(default=0)
    problems = JSONB(default=[])  # the dry run's [{"row": n, "field": ..., "message": ...}]
    # the dry run's {"new_departments": [name, …], "updates": [{"row": n, "key": ..., "changed": [field, …]}]}
    preview = JSONB(default={})
    report = JSONB(default=[])  # the job's [{"row": n, "key": ..., "outcome": created|updated|unchanged}]
    error = Text(default="")
    created_by = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    heartbeat_at = Timestamptz(null=True, default=None)  # the job's last sign of life (see imports.sweep)
