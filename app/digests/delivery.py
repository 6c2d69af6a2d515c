"""Sending digests: claim a batch, render, send over the worker's one mail connection, mark each sent.

The delivery table is the work queue. A worker claims up to `batch` due pending rows in one statement
(`FOR UPDATE SKIP LOCKED`, so workers never claim the same row) and marks them `sending` with its token, which
commits at once. It then renders the batch (each section one query for the whole batch) and sends each message,
marking each row `sent` right after the server accepted it. A worker killed in the middle leaves its rows in
`sending`; once their claim is older than the lease (`KUDOS_DIGEST_LEASE_SECONDS`) the next claim by any worker
returns them to `pending` first (every claim reaps) and, since they keep their place in the queue (due time, then
id), takes them before the rows nobody has tried yet. Only a message the server accepted whose row was not yet
marked can go out twice — at most one per sending loop at the moment of the kill.

A failed send goes back to `pending` with a growing delay (1, 4, 16, 64 minutes) and after MAX_ATTEMPTS ends
`failed` with the error kept; an admin can retry failed rows. The Message-ID is stable per (person, period,
kind), so a receiving system can also recognise a repeat.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Protocol

from app.digests.content import SECTIONS, build_contexts, private_messages
from app.digests.period import DigestPeriod, Person, load_people
from app.digests.tables import DeliveryStatus, DigestDelivery, DigestKind
from app.digests.tokens import make_token
from app.mail.links import absolute_url
from app.mail.message import Mail, build_messages
from app.mail.render import mail_environment, render_mail
from app.settings import get_settings
from app.timeutil import now

log = logging.getLogger("kudos.digests")

BATCH = 200  # rows claimed at once: sections read the whole batch per query
MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)  # times 4 per attempt: 1, 4, 16, 64 minutes
ERROR_MAX = 2000

SUBJECTS = {
    DigestKind.EMPLOYEE: "Your recognition in {label}",
    DigestKind.MANAGER: "Your team in {label}",
}

# Who receives a digest of one kind for a period: active people who had joined by the period's end and did not opt
# out of that kind; for the manager digest, people who manage (active reports, or a department to lead that is not
# archived). Placeholders: the people to check (NULL: everyone) twice, the period's end, the kind, manager digest?
_ELIGIBLE_SQL = """
SELECT e.id FROM employee e
WHERE ({}::int[] IS NULL OR e.id = ANY({})) AND e.active AND e.created_at < {}
  AND NOT EXISTS (SELECT 1 FROM digest_opt_out o WHERE o.employee = e.id AND o.kind = {})
  AND (NOT {} OR EXISTS (SELECT 1 FROM employee r WHERE r.manager = e.id AND r.active)
              OR EXISTS (SELECT 1 FROM department_lead l JOIN department d ON d.id = l.department
                         WHERE l.employee = e.id AND d.archived_at IS NULL))
"""


async def eligible(kind: DigestKind, end: datetime, among: list[int] | None = None) -> set[int]:
    """Who receives a `kind` digest for a period ending at `end`: of `among`, or of everyone."""
    rows = await DigestDelivery.raw(_ELIGIBLE_SQL, among, among, end, str(kind), kind == DigestKind.MANAGER)
    return {row["id"] for row in rows}


class MailBackend(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def message_id(employee_id: int, month: date, kind: DigestKind) -> str:
    domain = parseaddr(get_settings().mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<digest.{kind}.{month:%Y-%m}.{employee_id}@{domain}>"


def unsubscribe_url(employee_id: int, kind: DigestKind) -> str:
    return absolute_url("unsubscribe", token=make_token(employee_id, kind))


# Marks a mail that shows private kudos messages (their count, never their text): the outbox viewer shows such a
# mail's body only to its recipient.
PRIVATE_HEADER = "X-Kudos-Private-Kudos"


def render_digest(kind: DigestKind, period: DigestPeriod, person: Person, values: dict[str, Any]) -> Mail:
    """One person's digest as a Mail: HTML and text parts, unsubscribe headers, the stable Message-ID."""
    settings = get_settings()
    unsubscribe = unsubscribe_url(person.id, kind)
    subject = SUBJECTS[kind].format(label=period.label)
    return render_mail(
        mail_environment(),
        f"digests/{kind}",
        to=f"{person.name} <{person.email}>",
        subject=subject,
        context={
            "org_name": settings.org_name,
            "kind": str(kind),
            "person": person,
            "period": period,
            "sections": list(SECTIONS[kind]),
            "values": values,
            "unsubscribe_url": unsubscribe,
        },
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            **({PRIVATE_HEADER: str(private)} if (private := private_messages(values)) else {}),
        },
        message_id=message_id(person.id, period.month, kind),
    )


async def render_for(
    kind: DigestKind, month: date, employee_ids: list[int], *, reader_id: int | None = None
) -> dict[int, Mail]:
    """The digests of `kind` for these people (in one pass of each section), by employee id; as `reader_id` may
    read them when that is someone else than their recipients (see `build_contexts`)."""
    period = DigestPeriod.of(month)
    people = await load_people(employee_ids)
    ordered = [people[i] for i in employee_ids if i in people]
    contexts = await build_contexts(kind, period, ordered, reader_id=reader_id)
    return {person.id: render_digest(kind, period, person, contexts[person.id]) for person in ordered}


# ----------------------------------------------------------------------------------------------------- the queue


def worker_token() -> str:
    """Names one sending loop in `claimed_by`: host, process and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


# The rows are picked in a materialized CTE, not an `IN (subquery)`: planned as a subplan, the subquery can run
# again for each row the UPDATE visits, and each run skips the rows this statement already changed and takes the
# next ones, so one claim of a batch of 2 took every pending row on some plans.
_CLAIM_SQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM digest_delivery
    WHERE status = 'pending' AND next_attempt_at <= {}
    ORDER BY next_attempt_at, id
    LIMIT {}
    FOR UPDATE SKIP LOCKED
)
UPDATE digest_delivery d
SET status = 'sending', claimed_at = {}, claimed_by = {}, attempts = d.attempts + 1
FROM picked
WHERE d.id = picked.id
RETURNING d.id, d.employee, d.period, d.kind, d.attempts
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery row claimed by one sending loop."""

    id: int
    employee: int
    period: date
    kind: DigestKind
    attempts: int


async def claim(token: str, *, batch: int) -> list[Claimed]:
    """Up to `batch` due rows for the loop `token`, the ones a stopped worker had claimed first."""
    await reap()
    moment = now()
    rows = await DigestDelivery.raw(_CLAIM_SQL, moment, batch, moment, token)
    return sorted(
        (Claimed(r["id"], r["employee"], r["period"], DigestKind(r["kind"]), r["attempts"]) for r in rows),
        key=lambda row: row.id,
    )


_REAP_SQL = """
UPDATE digest_delivery
SET status = CASE WHEN attempts >= {} THEN 'failed' ELSE 'pending' END,
    last_error = CASE WHEN attempts >= {} THEN {} ELSE last_error END,
    claimed_at = NULL, claimed_by = NULL
WHERE status = 'sending' AND claimed_at < {}
RETURNING id
"""
STOPPED = "The worker stopped while sending this digest (every attempt)."


async def reap(*, lease: timedelta | None = None) -> int:
    """Return rows claimed longer ago than the lease (their worker died) to pending, in their old place in the queue
    (their due time is unchanged); how many."""
    lease = lease if lease is not None else timedelta(seconds=get_settings().digest_lease_seconds)
    rows = await DigestDelivery.raw(_REAP_SQL, MAX_ATTEMPTS, MAX_ATTEMPTS, STOPPED, now() - lease)
    if rows:
        log.warning("returned %d digests stuck in sending to the queue", len(rows))
    return len(rows)


_SENT_SQL = """
UPDATE digest_delivery SET status = 'sent', sent_at = {}, last_error = NULL, claimed_at = NULL
WHERE id = {} AND status = 'sending' AND claimed_by = {}
"""
_FAILED_SQL = """
UPDATE digest_delivery SET status = {}, next_attempt_at = {}, last_error = {}, claimed_at = NULL, claimed_by = NULL
WHERE id = {} AND status = 'sending' AND claimed_by = {}
"""
_RENEW_SQL = "UPDATE digest_delivery SET claimed_at = {} WHERE claimed_by = {} AND status = 'sending'"


async def _mark_sent(delivery_id: int, token: str) -> None:
    await DigestDelivery.raw(_SENT_SQL, now(), delivery_id, token)


async def _mark_failed(row: Claimed, token: str, error: str) -> None:
    final = row.attempts >= MAX_ATTEMPTS
    await DigestDelivery.raw(
        _FAILED_SQL,
        str(DeliveryStatus.FAILED if final else DeliveryStatus.PENDING),
        now() + BACKOFF * 4 ** (row.attempts - 1),
        error[:ERROR_MAX],
        row.id,
        token,
    )


async def _renew(token: str) -> None:
    """Keep this loop's claims fresh while a slow batch is still being sent."""
    await DigestDelivery.raw(_RENEW_SQL, now(), token)


def _by_digest(rows: list[Claimed]) -> dict[tuple[DigestKind, date], list[Claimed]]:
    """Claimed rows grouped by the digest they are (kind, month): each group renders in one pass."""
    groups: dict[tuple[DigestKind, date], list[Claimed]] = {}
    for row in rows:
        groups.setdefault((row.kind, row.period), []).append(row)
    return groups


async def _skip_ineligible(rows: list[Claimed]) -> list[Claimed]:
    """Rows whose person may still receive that digest; the others (left, opted out since) are marked skipped."""
    keep: list[Claimed] = []
    for (kind, month), group in _by_digest(rows).items():
        ids = await eligible(kind, DigestPeriod.of(month).end, [row.employee for row in group])
        skipped = [row.id for row in group if row.employee not in ids]
        if skipped:
            await DigestDelivery.update(
                {DigestDelivery.status: DeliveryStatus.SKIPPED, DigestDelivery.claimed_at: None}
            ).where(DigestDelivery.id.is_in(skipped))
        keep += [row for row in group if row.employee in ids]
    return keep


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other: Outcome) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.skipped += other.skipped


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def send_claimed(rows: list[Claimed], backend: MailBackend, token: str) -> Outcome:
    """Render and send a claimed batch; each row ends sent, or pending/failed with the error."""
    outcome = Outcome()
    live = await _skip_ineligible(rows)
    outcome.skipped = len(rows) - len(live)
    sender = get_settings().mail_from
    renew_every = get_settings().digest_lease_seconds / 4
    for (kind, month), group in _by_digest(live).items():
        try:
            mails = await render_for(kind, month, [row.employee for row in group])
            messages = dict(zip(mails, build_messages(list(mails.values()), sender=sender), strict=True))
        except Exception as exc:  # a rendering bug must not leave the batch claimed
            log.exception("could not render %s digests for %s", kind, month)
            for row in group:
                await _mark_failed(row, token, _describe(exc))
            outcome.failed += len(group)
            continue
        await _renew(token)  # every claim reaps: the lease must not run out because a slow batch took long to render
        renewed = time.monotonic()
        for row in group:
            message = messages.get(row.employee)
            try:
                if message is None:
                    raise LookupError("the person no longer exists")
                await backend.send(message)
            except Exception as exc:
                log.warning("digest %s to employee %s failed: %s", row.id, row.employee, exc)
                await _mark_failed(row, token, _describe(exc))
                outcome.failed += 1
            else:
                await _mark_sent(row.id, token)
                outcome.sent += 1
            if time.monotonic() - renewed > renew_every:
                await _renew(token)
                renewed = time.monotonic()
    return outcome


async def deliver(backend: MailBackend, *, batch: int | None = None) -> Outcome:
    """Send due digests until none is left: the body of the worker's delivery job."""
    token = worker_token()
    total = Outcome()
    while rows := await claim(token, batch=batch or BATCH):
        total.add(await send_claimed(rows, backend, token))
    return total
