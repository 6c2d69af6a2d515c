"""The survey round's calendar (job `advance_surveys`): open scheduled rounds and invite their people, remind once a
day before the deadline, and close: results computed, answers deleted (the anonymity design is in
app/surveys/services.py). State is in PostgreSQL, so a missed run is caught up and a repeated one does nothing."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

import app.db as db
from app.events import SurveyReminderDue, SurveyRoundClosed, SurveyRoundOpened, publish
from app.people.tables import Employee
from app.surveys.models import MIN_ANSWERS, NAME_MASK, REMIND_BEFORE, Advance, start_of
from app.surveys.tables import Audience, SurveyAnswer, SurveyInvite, SurveyResult, SurveyRound
from app.timeutil import now

# Every invited person (round, True), or those who have not answered about every department yet (round, False).
_PARTICIPANTS_SQL = """
SELECT DISTINCT employee FROM survey_invite WHERE round = {} AND ({} OR answered_at IS NULL) ORDER BY 1
"""
_OPEN_SQL = """
UPDATE survey_round SET status = 'open', opened_at = {} WHERE status = 'scheduled' AND opens_at <= {}
RETURNING id, audience, period_start, period_end, closes_at
"""
# Rounds due a reminder: (now, now + REMIND_BEFORE, now).
_REMIND_SQL = """
UPDATE survey_round SET reminded_at = {} WHERE status = 'open' AND reminded_at IS NULL
AND closes_at <= {} AND closes_at > {} RETURNING id, closes_at
"""
_CLOSE_SQL = """
UPDATE survey_round SET status = 'closed', closed_at = {} WHERE status = 'open' AND closes_at <= {} RETURNING id
"""
_COMMENTS_SQL = "SELECT department, comment FROM survey_answer WHERE round = {} AND comment <> ''"
_INVITE_CUSTOMERS_SQL = """
INSERT INTO survey_invite (round, employee, department, answered_at)
SELECT DISTINCT {}::int, r.requester, r.department, NULL::timestamptz
FROM request r
JOIN employee e ON e.id = r.requester AND e.active
JOIN department d ON d.id = r.department AND d.archived_at IS NULL
WHERE r.created_at >= {} AND r.created_at < {} AND e.department IS DISTINCT FROM r.department
ON CONFLICT DO NOTHING
"""
_INVITE_EVERYONE_SQL = """
INSERT INTO survey_invite (round, employee, department, answered_at)
SELECT {}::int, e.id, d.id, NULL::timestamptz
FROM employee e CROSS JOIN department d
WHERE e.active AND d.archived_at IS NULL AND e.department IS DISTINCT FROM d.id
ON CONFLICT DO NOTHING
"""


async def _participants(round_id: int, *, only_unanswered: bool = False) -> tuple[int, ...]:
    rows = await SurveyInvite.raw(
        _PARTICIPANTS_SQL,
        round_id,
        not only_unanswered,
    )
    return tuple(row["employee"] for row in rows)


async def open_due(at: datetime) -> list[int]:
    """Open scheduled rounds whose time has come: invite their people (once), tell them."""
    opened = []
    async with db.transaction():
        rows = await SurveyRound.raw(
            _OPEN_SQL,
            at,
            at,
        )
        for row in rows:
            if row["audience"] == Audience.EVERYONE:
                await SurveyInvite.raw(_INVITE_EVERYONE_SQL, row["id"])
            else:
                start, end = start_of(row["period_start"]), start_of(row["period_end"] + timedelta(days=1))
                await SurveyInvite.raw(_INVITE_CUSTOMERS_SQL, row["id"], start, end)
            await publish(
                SurveyRoundOpened(
                    round_id=row["id"],
                    participant_ids=await _participants(row["id"]),
                    closes_at=row["closes_at"],
                    at=at,
                )
            )
            opened.append(row["id"])
    return opened


async def remind_due(at: datetime) -> list[int]:
    """Once per round, a day before it closes: remind the people who have not answered about every department."""
    reminded = []
    async with db.transaction():
        rows = await SurveyRound.raw(
            _REMIND_SQL,
            at,
            at + REMIND_BEFORE,
            at,
        )
        for row in rows:
            people = await _participants(row["id"], only_unanswered=True)
            if people:
                await publish(
                    SurveyReminderDue(round_id=row["id"], participant_ids=people, closes_at=row["closes_at"], at=at)
                )
            reminded.append(row["id"])
    return reminded


_AGGREGATE_SQL = """
SELECT i.department, count(*) AS invited, count(a.id) AS answers,
       avg(a.satisfaction)::float AS satisfaction, avg(a.ease)::float AS ease,
       count(*) FILTER (WHERE a.recommend >= 9) AS promoters,
       count(*) FILTER (WHERE a.recommend BETWEEN 7 AND 8) AS passives,
       count(*) FILTER (WHERE a.recommend <= 6) AS detractors
FROM survey_invite i
LEFT JOIN survey_answer a ON a.round = i.round AND a.department = i.department AND a.respondent = i.employee
WHERE i.round = {}
GROUP BY i.department
ORDER BY i.department
"""


async def _name_pattern() -> re.Pattern[str] | None:
    """Every word of every person's name (2+ letters), as whole words, case-insensitive."""
    words: set[str] = set()
    for row in await Employee.select(Employee.name):
        words.update(w for w in re.split(r"[\s\-']+", row["name"]) if len(w) >= 2)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


_EMAIL = re.compile(r"\S+@\S+")


def scrub(comment: str, names: re.Pattern[str] | None) -> str:
    """A comment with people's names and email addresses replaced by NAME_MASK."""
    text = _EMAIL.sub(NAME_MASK, comment)
    return names.sub(NAME_MASK, text) if names else text


async def close_due(at: datetime) -> list[int]:
    """Close open rounds whose deadline has passed: compute results, delete the answers (see the module notes)."""
    closed = []
    async with db.transaction():
        rows = await SurveyRound.raw(
            _CLOSE_SQL,
            at,
            at,
        )
        names = await _name_pattern() if rows else None
        for row in rows:
            shown = await _compute_results(row["id"], names)
            await SurveyAnswer.delete().where(SurveyAnswer.round == row["id"])
            await publish(SurveyRoundClosed(round_id=row["id"], department_ids=tuple(shown), at=at))
            closed.append(row["id"])
    return closed


async def _compute_results(round_id: int, names: re.Pattern[str] | None) -> list[int]:
    aggregates = await SurveyAnswer.raw(_AGGREGATE_SQL, round_id)
    comment_rows = await SurveyAnswer.raw(_COMMENTS_SQL, round_id)
    comments: dict[int, list[str]] = {}
    for row in comment_rows:
        comments.setdefault(row["department"], []).append(scrub(row["comment"], names))
    results, shown = [], []
    for row in aggregates:
        enough = row["answers"] >= MIN_ANSWERS
        kept = comments.get(row["department"], []) if enough else []
        kept = kept if len(kept) >= MIN_ANSWERS else []
        random.SystemRandom().shuffle(kept)
        results.append(
            SurveyResult(
                round=round_id,
                department=row["department"],
                invited=row["invited"],
                answers=row["answers"],
                satisfaction=row["satisfaction"] if enough else None,
                ease=row["ease"] if enough else None,
                promoters=row["promoters"] if enough else 0,
                passives=row["passives"] if enough else 0,
                detractors=row["detractors"] if enough else 0,
                comments=kept,
            )
        )
        if enough:
            shown.append(row["department"])
    if results:
        await SurveyResult.insert(*results).on_conflict(
            target=(SurveyResult.round, SurveyResult.department), action="DO NOTHING"
        )
    return shown


async def advance(*, at: datetime | None = None) -> Advance:
    """Everything due on the survey calendar, in order (job `advance_surveys`). A round whose whole window passed
    while no worker ran is opened and closed in one call; nothing happens twice."""
    moment = at or now()
    return Advance(opened=await open_due(moment), reminded=await remind_due(moment), closed=await close_due(moment))
