"""Sending email notices: the mail rows of app/notices/services.py, claimed and sent with the delivery rules of
app/mail/queue.py (claimed once, sent once, retried with backoff; a dead worker's claims go back to the queue after
KUDOS_DIGEST_LEASE_SECONDS).

Whether a person still gets a mail is checked again when it is sent: someone deactivated since gets nothing, and a
notice of a kind they have since set to never is left out (a mail left with nothing is skipped).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from app.mail.links import absolute_url
from app.mail.message import PRIVATE_HEADER, Mail, build_messages
from app.mail.queue import Claimed, DeliveryQueue, MailBackend, Outcome, worker_token
from app.mail.render import mail_environment, render_mail
from app.notices.preferences import DEFAULTS, LABELS
from app.notices.tables import Notice, NoticeKind
from app.settings import get_settings

log = logging.getLogger("kudos.notices")

BATCH = 100
STOPPED = "The worker stopped while sending this notice (every attempt)."
QUEUE = DeliveryQueue(
    "notice_mail",
    columns=("employee", "day"),
    lease=lambda: timedelta(seconds=get_settings().digest_lease_seconds),
    stopped=STOPPED,
)

# kind → the route a notice links to and the path parameter its subject fills (a badge: its owner's profile)
_LINKS: Mapping[NoticeKind, tuple[str, str]] = {
    NoticeKind.KUDOS: ("kudos", "kudos_id"),
    NoticeKind.ADDON: ("kudos", "kudos_id"),
    NoticeKind.AWARD: ("awards.cycle", "cycle_id"),
    NoticeKind.REQUEST: ("request", "request_id"),
}


@dataclass(frozen=True, slots=True)
class Line:
    """One notice as a mail shows it."""

    kind: NoticeKind
    label: str  # the kind, as the settings page names it
    headline: str
    detail: str
    link: str
    private: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    name: str
    email: str


def link(kind: NoticeKind, subject_id: int, reader_id: int) -> str:
    if kind == NoticeKind.BADGE:
        return absolute_url("person", person_id=reader_id) + "#badges"
    route, param = _LINKS[kind]
    return absolute_url(route, **{param: subject_id})


# The notices of these mails that their person still wants (their kind not set to never since), oldest first.
_LINES_SQL = """
    SELECT n.mail, n.employee, n.kind, n.subject_id, n.headline, n.detail, n.private, n.created_at
    FROM notice n
    JOIN unnest({}::text[], {}::text[]) AS d(kind, choice) ON d.kind = n.kind
    LEFT JOIN notice_preference p ON p.employee = n.employee AND p.kind = n.kind
    WHERE n.mail = ANY({}) AND COALESCE(p.choice, d.choice) <> 'never'
    ORDER BY n.mail, n.created_at, n.id
"""
_PEOPLE_SQL = "SELECT id, name, email FROM employee WHERE id = ANY({}) AND active"


async def _lines(mail_ids: list[int]) -> dict[int, list[Line]]:
    kinds = list(DEFAULTS)
    rows = await Notice.raw(_LINES_SQL, [str(k) for k in kinds], [str(DEFAULTS[k]) for k in kinds], mail_ids)
    lines: defaultdict[int, list[Line]] = defaultdict(list)
    for row in rows:
        kind = NoticeKind(row["kind"])
        lines[row["mail"]].append(
            Line(
                kind=kind,
                label=LABELS[kind],
                headline=row["headline"],
                detail=row["detail"],
                link=link(kind, row["subject_id"], row["employee"]),
                private=row["private"],
                at=row["created_at"],
            )
        )
    return dict(lines)


def message_id(mail_id: int) -> str:
    domain = parseaddr(get_settings().mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<notice.{mail_id}@{domain}>"


def subject_of(lines: Sequence[Line], day: date | None) -> str:
    """Who and what: the notice's headline; a summary's first headline and how many more."""
    if day is None:
        return lines[0].headline
    more = f" and {len(lines) - 1} more" if len(lines) > 1 else ""
    return f"Your day on {get_settings().org_name}: {lines[0].headline}{more}"


def render_notice(mail_id: int, person: Recipient, lines: Sequence[Line], day: date | None) -> Mail:
    """One mail: a notice (`day` None) or a day's summary, HTML and text parts."""
    private = sum(1 for line in lines if line.private)
    return render_mail(
        mail_environment(),
        "notices/instant" if day is None else "notices/daily",
        to=f"{person.name} <{person.email}>",
        subject=subject_of(lines, day),
        context={"org_name": get_settings().org_name, "person": person, "lines": lines, "day": day},
        headers={"Auto-Submitted": "auto-generated", **({PRIVATE_HEADER: str(private)} if private else {})},
        message_id=message_id(mail_id),
    )


async def send_claimed(rows: list[Claimed], backend: MailBackend, token: str) -> Outcome:
    """Render and send a claimed batch; a mail whose person was deactivated, or that is left with no notice they
    still want, is skipped; each other row ends sent, or pending/failed with the error."""
    lines = await _lines([row.id for row in rows])
    people = {
        row["id"]: Recipient(row["id"], row["name"], row["email"])
        for row in await Notice.raw(_PEOPLE_SQL, list({row.values["employee"] for row in rows}))
    }
    live = [row for row in rows if row.values["employee"] in people and lines.get(row.id)]
    await QUEUE.skip([row for row in rows if row not in live])
    outcome = Outcome(skipped=len(rows) - len(live))
    try:
        mails = [
            render_notice(row.id, people[row.values["employee"]], lines[row.id], row.values["day"]) for row in live
        ]
        messages = dict(
            zip((row.id for row in live), build_messages(mails, sender=get_settings().mail_from), strict=True)
        )
    except Exception as exc:  # a rendering bug must not leave the batch claimed
        log.exception("could not render email notices")
        outcome.add(await QUEUE.fail_all(live, token, exc))
        return outcome
    outcome.add(await QUEUE.send_each(live, messages, backend, token))
    return outcome


async def deliver(backend: MailBackend, *, batch: int = BATCH) -> Outcome:
    """Send due email notices and summaries until none is left: the body of the worker's job."""
    token = worker_token()
    total = Outcome()
    while rows := await QUEUE.claim(token, batch=batch):
        total.add(await send_claimed(rows, backend, token))
    return total
