"""Email notices (SPEC F16): recorded by the handlers of other domains' events, sent by the worker.

A notice is one fact for one person (one per person, event and kind: a handler run again adds nothing). An instant
notice gets its own mail row at once; a daily one waits until the daily summary (`plan_summaries`, triggered by the
worker's cron at KUDOS_NOTICE_DAILY_TIME) gives every person with waiting notices one mail row for the day and
attaches the notices to it, in one transaction. app/notices/delivery.py sends the mail rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import app.db as db
from app.jobs.outbox import add_job, one_at_a_time
from app.notices.preferences import choices_of
from app.notices.tables import Choice, Notice, NoticeKind, NoticeMail
from app.settings import get_settings
from app.timeutil import local_date, now

DELIVER_JOB = "deliver_notices"


@dataclass(frozen=True, slots=True)
class Fact:
    """What happened, as every recipient of one notice kind is told."""

    kind: NoticeKind
    event_id: str
    at: datetime
    subject_id: int  # the kudos, badge award, award cycle or request
    headline: str
    detail: str = ""
    actor_id: int | None = None
    private: bool = False


_RECORD_SQL = """
    INSERT INTO notice (employee, kind, event_id, choice, actor, subject_id, headline, detail, private, created_at)
    SELECT r.id, {}, {}, r.choice, {}::int, {}, {}, {}, {}, {}
    FROM unnest({}::int[], {}::text[]) AS r(id, choice)
    ON CONFLICT (employee, event_id, kind) DO NOTHING
    RETURNING id, choice
"""
# One mail per new instant notice: within one event and kind a person has at most one notice.
_INSTANT_SQL = """
    WITH m AS (
        INSERT INTO notice_mail (employee, next_attempt_at, created_at)
        SELECT employee, {}, {} FROM notice WHERE id = ANY({}) ORDER BY id
        RETURNING id, employee
    )
    UPDATE notice n SET mail = m.id FROM m WHERE n.id = ANY({}) AND n.employee = m.employee
"""


async def record(fact: Fact, recipients: Iterable[int]) -> int:
    """Tell these people `fact` by email, as each chose for its kind (the actor is never told of their own action;
    people deactivated or who chose never get nothing); how many notices were new."""
    wanted = [r for r in dict.fromkeys(recipients) if r != fact.actor_id]
    choices = await choices_of(fact.kind, wanted) if wanted else {}
    if not choices:
        return 0
    async with db.transaction():
        ids = [r for r in wanted if r in choices]  # in the order the recipients were named, not the lookup's
        rows = await Notice.raw(
            _RECORD_SQL,
            str(fact.kind),
            fact.event_id,
            fact.actor_id,
            fact.subject_id,
            fact.headline,
            fact.detail,
            fact.private,
            fact.at,
            ids,
            [str(choices[i]) for i in ids],
        )
        instant = [row["id"] for row in rows if row["choice"] == Choice.INSTANT]
        if instant:
            moment = now()
            await Notice.raw(_INSTANT_SQL, moment, moment, instant, instant)
            await add_job(DELIVER_JOB, **one_at_a_time(DELIVER_JOB))
    return len(rows)


# --------------------------------------------------------------------------------------------- the daily summary

# Everyone with daily notices waiting gets one mail for `day` (none when they already have it: a second run the same
# day plans nothing), and their waiting notices are attached to it.
_PLAN_SQL = """
    WITH planned AS (
        INSERT INTO notice_mail (employee, day, next_attempt_at, created_at)
        SELECT DISTINCT employee, {}::date, {}::timestamptz, {}::timestamptz
        FROM notice WHERE mail IS NULL AND choice = 'daily' AND created_at <= {}
        ON CONFLICT (employee, day) DO NOTHING
        RETURNING id, employee
    )
    UPDATE notice n SET mail = planned.id FROM planned
    WHERE n.employee = planned.employee AND n.mail IS NULL AND n.choice = 'daily' AND n.created_at <= {}
    RETURNING planned.id
"""


def summary_due(moment: datetime) -> date | None:
    """The day whose summary is due at `moment`: today once KUDOS_NOTICE_DAILY_TIME has passed (organisation
    time), else none."""
    settings = get_settings()
    local = moment.astimezone(settings.tz)
    return local_date(moment) if local.time() >= settings.notice_daily_time else None


async def plan_summaries(moment: datetime | None = None) -> int:
    """The daily summaries due at `moment` (now): one mail per person per day, with the notices waiting until then;
    how many mails were planned. A repeated or missed run does no harm: the next run plans what is waiting."""
    moment = moment or now()
    day = summary_due(moment)
    if day is None:
        return 0
    async with db.transaction():
        sent_from = now()  # due at once (`moment` is now, except in a test of another hour)
        rows = await NoticeMail.raw(_PLAN_SQL, day, sent_from, sent_from, moment, moment)
        planned = len({row["id"] for row in rows})
        if planned:
            await add_job(DELIVER_JOB, **one_at_a_time(DELIVER_JOB))
    return planned


async def forget_before(moment: datetime) -> int:
    """Notices of what happened before `moment` are never mailed (the demo's replayed months): their pending mails
    and the notices go; how many notices."""
    async with db.transaction():
        old = await Notice.raw("DELETE FROM notice WHERE created_at < {} RETURNING mail", moment)
        mails = [row["mail"] for row in old if row["mail"] is not None]
        await NoticeMail.raw("DELETE FROM notice_mail WHERE id = ANY({}) AND status = 'pending'", mails)
    return len(old)
