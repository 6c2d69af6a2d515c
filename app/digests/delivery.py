"""Sending digests: claim a batch, render, send over the worker's one mail connection, mark each sent.

The delivery table is a work queue with the mail delivery rules of app/mail/queue.py: a worker claims up to `batch`
due pending rows at once, renders them (each section one query for the whole batch) and sends each message, marking
each row `sent` right after the server accepted it; a dead worker's claims go back to the queue once older than the
lease (`KUDOS_DIGEST_LEASE_SECONDS`); a failed send is retried with backoff, then `failed` (an admin can retry).
The Message-ID is stable per (person, period,
kind), so a receiving system can also recognise a repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

import jinja2

from app.digests.content import SECTIONS, build_contexts, private_messages
from app.digests.period import DigestPeriod, Person, load_people
from app.digests.tables import DigestDelivery, DigestKind
from app.digests.tokens import make_token
from app.mail import queue
from app.mail.links import absolute_url
from app.mail.message import PRIVATE_HEADER, Mail, build_messages
from app.mail.queue import DeliveryQueue, MailBackend, Outcome, worker_token
from app.mail.render import mail_environment, render_mail
from app.settings import get_settings

log = logging.getLogger("kudos.digests")

BATCH = 200  # rows claimed at once: sections read the whole batch per query

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


def message_id(employee_id: int, month: date, kind: DigestKind) -> str:
    domain = parseaddr(get_settings().mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<digest.{kind}.{month:%Y-%m}.{employee_id}@{domain}>"


def unsubscribe_url(employee_id: int, kind: DigestKind) -> str:
    return absolute_url("unsubscribe", token=make_token(employee_id, kind))


@dataclass(frozen=True, slots=True)
class SectionTemplates:
    """One section of a digest: its name (the key of its value) and its two templates."""

    name: str
    html: jinja2.Template
    text: jinja2.Template


@lru_cache(maxsize=8)
def section_templates(env: jinja2.Environment, kind: DigestKind) -> tuple[SectionTemplates, ...]:
    """The sections of a `kind` digest with their templates, looked up once rather than by each digest's includes."""
    return tuple(
        SectionTemplates(
            name,
            env.get_template(f"emails/digests/sections/{name}.html"),
            env.get_template(f"emails/digests/sections/{name}.txt"),
        )
        for name in SECTIONS[kind]
    )


def render_digest(kind: DigestKind, period: DigestPeriod, person: Person, values: dict[str, Any]) -> Mail:
    """One person's digest as a Mail: HTML and text parts, unsubscribe headers, the stable Message-ID."""
    settings = get_settings()
    unsubscribe = unsubscribe_url(person.id, kind)
    subject = SUBJECTS[kind].format(label=period.label)
    env = mail_environment()
    return render_mail(
        env,
        f"digests/{kind}",
        to=f"{person.name} <{person.email}>",
        subject=subject,
        context={
            "org_name": settings.org_name,
            "kind": str(kind),
            "person": person,
            "period": period,
            "sections": section_templates(env, kind),
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

STOPPED = "The worker stopped while sending this digest (every attempt)."
QUEUE = DeliveryQueue(
    "digest_delivery",
    columns=("employee", "period", "kind"),
    lease=lambda: timedelta(seconds=get_settings().digest_lease_seconds),
    stopped=STOPPED,
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery row claimed by one sending loop."""

    id: int
    employee: int
    period: date
    kind: DigestKind
    attempts: int


def _digest(row: queue.Claimed) -> Claimed:
    values = row.values
    return Claimed(row.id, values["employee"], values["period"], DigestKind(values["kind"]), row.attempts)


async def claim(token: str, *, batch: int) -> list[Claimed]:
    """Up to `batch` due rows for the loop `token`, the ones a stopped worker had claimed first."""
    return [_digest(row) for row in await QUEUE.claim(token, batch=batch)]


async def reap(*, lease: timedelta | None = None) -> int:
    """Return rows claimed longer ago than the lease (their worker died) to pending (app/mail/queue.py)."""
    return await QUEUE.reap(lease=lease)


def _queued(row: Claimed) -> queue.Claimed:
    return queue.Claimed(row.id, row.attempts, {})


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
        await QUEUE.skip([_queued(row) for row in group if row.employee not in ids])
        keep += [row for row in group if row.employee in ids]
    return keep


async def send_claimed(rows: list[Claimed], backend: MailBackend, token: str) -> Outcome:
    """Render and send a claimed batch; each row ends sent, or pending/failed with the error."""
    outcome = Outcome()
    live = await _skip_ineligible(rows)
    outcome.skipped = len(rows) - len(live)
    sender = get_settings().mail_from
    for (kind, month), group in _by_digest(live).items():
        try:
            mails = await render_for(kind, month, [row.employee for row in group])
            messages = dict(zip(mails, build_messages(list(mails.values()), sender=sender), strict=True))
        except Exception as exc:  # a rendering bug must not leave the batch claimed
            log.exception("could not render %s digests for %s", kind, month)
            outcome.add(await QUEUE.fail_all([_queued(row) for row in group], token, exc))
            continue
        by_row = {row.id: messages[row.employee] for row in group if row.employee in messages}
        outcome.add(await QUEUE.send_each([_queued(row) for row in group], by_row, backend, token))
    return outcome


async def deliver(backend: MailBackend, *, batch: int | None = None) -> Outcome:
    """Send due digests until none is left: the body of the worker's delivery job."""
    token = worker_token()
    total = Outcome()
    while rows := await claim(token, batch=batch or BATCH):
        total.add(await send_claimed(rows, backend, token))
    return total
