"""Reading peer feedback: the overview of /feedback, one item, one ask, what an ask may be about, admins' counts.

Privacy is the feature. Feedback text is read only by the person it is about (the subject) and its author, and by
the subject's manager when the author chose to share it (off by default; both see the choice). Admins never read
it: they get counts (`organisation_counts`). Every query that returns text is scoped to one of those readers, so
anyone else's feedback is simply not found (404, never 403: its existence is not revealed either).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.feedback.models import (
    LIST_LIMIT,
    TEAM_DAYS,
    Ask,
    Askee,
    FeedbackItem,
    OrganisationCounts,
    Overview,
    Person,
    SubjectChoices,
    TeamCount,
    today,
)
from app.feedback.tables import AskStatus, Feedback, FeedbackAsk, SubjectKind
from app.paging import valid_id
from app.people.tables import Department, Employee
from app.rules import Actor, RuleViolation
from app.timeutil import now


@dataclass(frozen=True, slots=True)
class Member:
    """A person as the rules need them: whether they still work here."""

    id: int
    name: str
    active: bool


async def members(ids: Sequence[int]) -> dict[int, Member]:
    """People by id (any of them, active or not); ids that are not valid are not looked up."""
    wanted = [i for i in ids if valid_id(i)]
    if not wanted:
        return {}
    rows = await Employee.select(Employee.id, Employee.name, Employee.active).where(Employee.id.is_in(wanted))
    return {row["id"]: Member(row["id"], row["name"], row["active"]) for row in rows}


def _about(row: Mapping[str, Any]) -> str:
    kind = row.get("subject_kind") or SubjectKind.NONE
    if kind == SubjectKind.REQUEST and row.get("request_title"):
        return f"Request #{row['subject_request']}: {row['request_title']}"
    if kind == SubjectKind.DEPARTMENT and row.get("department_name"):
        return f"How I work with {row['department_name']}"
    if kind == SubjectKind.PROJECT:
        return f"Project: {row['subject_text']}"
    return ""


def _is_closed(closed_at: datetime | None, due_on: date, at: datetime | None = None) -> bool:
    return closed_at is not None or due_on < today(at)


def _json_list(value: object) -> list[Any]:
    """A JSONB list column's value (asyncpg hands raw queries' JSONB over as text)."""
    if isinstance(value, str):
        return list(json.loads(value))
    return list(value) if isinstance(value, list | tuple) else []


# ------------------------------------------------------------------------------------------------------- asks

_ASK_SQL = """
SELECT a.id, a.asker, p.name AS asker_name, a.subject_kind, a.subject_request, a.subject_text, a.questions,
       a.due_on, a.created_at, a.closed_at, r.title AS request_title, d.name AS department_name
FROM feedback_ask a
JOIN employee p ON p.id = a.asker
LEFT JOIN request r ON r.id = a.subject_request
LEFT JOIN department d ON d.id = a.subject_department
WHERE a.id = ANY({})
"""

_ASKEES_SQL = """
SELECT k.ask, k.recipient, e.name, k.status, k.responded_at
FROM feedback_askee k JOIN employee e ON e.id = k.recipient
WHERE k.ask = ANY({}) ORDER BY e.name, e.id
"""

# Completed requests a person worked on (the newest 20): what an ask may be about.
_RESOLVED_SQL = """
SELECT r.id, r.title FROM request r JOIN request_resolver rr ON rr.request = r.id
WHERE rr.employee = {} AND r.status = 'completed' ORDER BY r.completed_at DESC, r.id DESC LIMIT 20
"""

_RESOLVED_ONE_SQL = """
SELECT 1 FROM request r JOIN request_resolver rr ON rr.request = r.id
WHERE r.id = {} AND rr.employee = {} AND r.status = 'completed'
"""


async def _asks(ids: list[int], at: datetime | None = None) -> list[Ask]:
    if not ids:
        return []
    rows = {row["id"]: row for row in await FeedbackAsk.raw(_ASK_SQL, ids)}
    askees: dict[int, list[Askee]] = {}
    for row in await FeedbackAsk.raw(_ASKEES_SQL, ids):
        askees.setdefault(row["ask"], []).append(
            Askee(Person(row["recipient"], row["name"]), AskStatus(row["status"]), row["responded_at"])
        )
    return [
        Ask(
            id=row["id"],
            asker=Person(row["asker"], row["asker_name"]),
            about=_about(row),
            questions=tuple(str(q) for q in _json_list(row["questions"])),
            due_on=row["due_on"],
            created_at=row["created_at"],
            closed=_is_closed(row["closed_at"], row["due_on"], at),
            askees=tuple(askees.get(row["id"], [])),
        )
        for ask_id in ids
        if (row := rows.get(ask_id))
    ]


async def ask_for_answer(actor: Actor, ask_id: int, *, at: datetime | None = None) -> tuple[Ask, AskStatus]:
    """An ask as one of the people asked sees it, with their own status. 404 when there is no such ask, 403 when
    it was not addressed to `actor` (the asker may see it too, as its owner)."""
    asks = await _asks([ask_id], at) if valid_id(ask_id) else []
    if not asks:
        raise RuleViolation("There is no request for feedback with that number.", status_code=404)
    ask = asks[0]
    mine = next((a for a in ask.askees if a.person.id == actor.id), None)
    if mine is None:
        raise RuleViolation("This request for feedback was not addressed to you.", status_code=403)
    return ask, mine.status


async def subject_choices(actor: Actor) -> SubjectChoices:
    """What an ask may be about: completed requests `actor` resolved (newest 20) and the active departments."""
    requests = await FeedbackAsk.raw(_RESOLVED_SQL, actor.id)
    departments = (
        await Department.select(Department.id, Department.name)
        .where(Department.archived_at.is_null())
        .order_by(Department.name)
    )
    return SubjectChoices(
        requests=tuple((r["id"], f"#{r['id']}: {r['title']}") for r in requests),
        departments=tuple((d["id"], d["name"]) for d in departments),
    )


async def resolved_request(actor: Actor, request_id: int | None) -> bool:
    """`actor` worked on the completed request `request_id` (an ask may be about it)."""
    return valid_id(request_id) and bool(await FeedbackAsk.raw(_RESOLVED_ONE_SQL, request_id, actor.id))


async def active_department(department_id: int | None) -> bool:
    return valid_id(department_id) and bool(
        await Department.exists().where((Department.id == department_id) & Department.archived_at.is_null())
    )


# ----------------------------------------------------------------------------------------------------- items

# Feedback rows with names and the ask's subject, then one WHERE per statement below, newest first.
_ITEMS_SELECT = """
SELECT f.id, f.author, au.name AS author_name, f.subject, su.name AS subject_name, f.answers,
       f.shared_with_manager, f.created_at, f.ask, a.subject_kind, a.subject_request, a.subject_text,
       r.title AS request_title, d.name AS department_name
FROM feedback f
JOIN employee au ON au.id = f.author
JOIN employee su ON su.id = f.subject
LEFT JOIN feedback_ask a ON a.id = f.ask
LEFT JOIN request r ON r.id = a.subject_request
LEFT JOIN department d ON d.id = a.subject_department
"""
_ITEMS_ORDER = " ORDER BY f.created_at DESC, f.id DESC LIMIT {}"
_RECEIVED_SQL = _ITEMS_SELECT + "WHERE f.subject = {}" + _ITEMS_ORDER
_GIVEN_SQL = _ITEMS_SELECT + "WHERE f.author = {}" + _ITEMS_ORDER
_SHARED_SQL = _ITEMS_SELECT + "WHERE f.shared_with_manager AND su.manager = {}" + _ITEMS_ORDER
# One item for one reader: the subject, the author, or the subject's manager when shared.
_ONE_SQL = (
    _ITEMS_SELECT
    + "WHERE f.id = {} AND (f.subject = {} OR f.author = {} OR (f.shared_with_manager AND su.manager = {}))"
)

_WAITING_SQL = """
SELECT a.id FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask
WHERE k.recipient = {} AND k.status = 'waiting' AND a.closed_at IS NULL AND a.due_on >= {}
ORDER BY a.due_on, a.id LIMIT {}
"""
_MY_ASKS_SQL = """
SELECT id FROM feedback_ask WHERE asker = {}
ORDER BY (closed_at IS NULL AND due_on >= {}) DESC, created_at DESC, id DESC LIMIT {}
"""
# A manager's active direct reports with the feedback they received and gave since a moment (given twice).
_TEAM_SQL = """
SELECT e.id, e.name,
       (SELECT count(*) FROM feedback f WHERE f.subject = e.id AND f.created_at >= {}) AS received,
       (SELECT count(*) FROM feedback f WHERE f.author = e.id AND f.created_at >= {}) AS given
FROM employee e WHERE e.manager = {} AND e.active ORDER BY e.name, e.id
"""
# The organisation's counts since a moment (given six times).
_COUNTS_SQL = """
SELECT (SELECT count(*) FROM feedback WHERE created_at >= {}) AS items,
       (SELECT count(*) FROM feedback WHERE created_at >= {} AND ask IS NULL) AS unprompted,
       (SELECT count(*) FROM feedback_ask WHERE created_at >= {}) AS asks,
       (SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask WHERE a.created_at >= {}) AS asked,
       (SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask
        WHERE a.created_at >= {} AND k.status = 'answered') AS answered,
       (SELECT count(*) FROM feedback_askee k JOIN feedback_ask a ON a.id = k.ask
        WHERE a.created_at >= {} AND k.status = 'declined') AS declined
"""


def _item(row: Mapping[str, Any]) -> FeedbackItem:
    return FeedbackItem(
        id=row["id"],
        author=Person(row["author"], row["author_name"]),
        subject=Person(row["subject"], row["subject_name"]),
        answers=tuple((str(q), str(t)) for q, t in _json_list(row["answers"])),
        shared_with_manager=row["shared_with_manager"],
        created_at=row["created_at"],
        ask_id=row["ask"],
        about=_about(row),
    )


async def get_feedback(actor: Actor, feedback_id: int) -> FeedbackItem | None:
    """One feedback item, when `actor` may read it (subject, author, or the subject's manager if shared)."""
    if not valid_id(feedback_id):
        return None
    rows = await Feedback.raw(_ONE_SQL, feedback_id, actor.id, actor.id, actor.id)
    return _item(rows[0]) if rows else None


async def overview(actor: Actor, *, at: datetime | None = None) -> Overview:
    moment = at or now()
    received = [_item(r) for r in await Feedback.raw(_RECEIVED_SQL, actor.id, LIST_LIMIT)]
    given = [_item(r) for r in await Feedback.raw(_GIVEN_SQL, actor.id, LIST_LIMIT)]
    shared = [_item(r) for r in await Feedback.raw(_SHARED_SQL, actor.id, LIST_LIMIT)]
    waiting_ids = await FeedbackAsk.raw(_WAITING_SQL, actor.id, today(moment), LIST_LIMIT)
    mine_ids = await FeedbackAsk.raw(_MY_ASKS_SQL, actor.id, today(moment), LIST_LIMIT)
    since = moment - timedelta(days=TEAM_DAYS)
    team_rows = await Feedback.raw(_TEAM_SQL, since, since, actor.id)
    return Overview(
        received=tuple(received),
        given=tuple(given),
        waiting=tuple(await _asks([r["id"] for r in waiting_ids], moment)),
        my_asks=tuple(await _asks([r["id"] for r in mine_ids], moment)),
        shared_with_me=tuple(shared),
        team=tuple(TeamCount(Person(r["id"], r["name"]), r["received"], r["given"]) for r in team_rows),
    )


async def organisation_counts(actor: Actor, *, at: datetime | None = None) -> OrganisationCounts:
    """Admins' view of feedback: counts over TEAM_DAYS, never text."""
    if not actor.is_admin:
        raise RuleViolation("Only admins see the organisation's feedback counts.", status_code=403)
    since = (at or now()) - timedelta(days=TEAM_DAYS)
    rows = await Feedback.raw(_COUNTS_SQL, *([since] * 6))
    return OrganisationCounts(days=TEAM_DAYS, **rows[0])


async def people_named(ids: list[int]) -> list[Person]:
    """Active people by id, in the order given (to keep a form's choices when it is shown again)."""
    found = await members(ids)
    return [Person(i, found[i].name) for i in ids if i in found and found[i].active]
