"""Peer feedback (SPEC F14): ask colleagues for feedback, answer or decline, give it unprompted.

Who reads what is in app/feedback/queries.py; the typed input and values in models.py.

Rules (RuleViolation, nothing changed): answers 1-2,000 characters; at most 10 people per ask, never yourself,
only active people; at most 5 questions; a due date from tomorrow to 90 days ahead; at most 5 open asks created in
any 7 days per person (a rate limit, stated in the message); only the people asked may answer or decline, and only
while the ask is open (not closed by its asker, due date not passed).

Side effects in other domains (notifications, badges) happen through the events published here (app/events.py).
Giving feedback never earns points.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import app.db as db
from app.events import FeedbackDeclined, FeedbackGiven, FeedbackRequested, publish
from app.feedback.models import (
    MAX_DUE_DAYS,
    MAX_PEOPLE,
    MAX_PROJECT,
    MAX_QUESTION_LENGTH,
    MAX_QUESTIONS,
    MAX_TEXT,
    OPEN_ASKS_PER_WEEK,
    RATE_RULE,
    TEMPLATES,
    TEXT_RULE,
    UNPROMPTED,
    Ask,
    AskInput,
    GiveInput,
    today,
)
from app.feedback.queries import active_department, ask_for_answer, members, resolved_request
from app.feedback.tables import AskStatus, Feedback, FeedbackAsk, FeedbackAskee, SubjectKind
from app.paging import valid_id
from app.people.tables import Employee
from app.rules import Actor, RuleViolation
from app.timeutil import now

# One ask at a time per person, so the weekly limit holds under concurrent submissions.
_LOCK_ASKER_SQL = "SELECT id FROM employee WHERE id = {} FOR UPDATE"


def _clean(text: str) -> str:
    return text.strip()


def _text_ok(text: str) -> bool:
    return 1 <= len(text) <= MAX_TEXT and "\x00" not in text


# ----------------------------------------------------------------------------------------------------- asking


def questions_of(data: AskInput) -> tuple[str, ...]:
    """The template's questions, then the free ones (blank ones dropped)."""
    free = tuple(q for q in (_clean(q) for q in data.questions) if q)
    return TEMPLATES.get(data.template, ()) + free


async def _check_subject(actor: Actor, data: AskInput, errors: dict[str, str]) -> None:
    if data.subject_kind == SubjectKind.REQUEST:
        if not await resolved_request(actor, data.subject_request):
            errors["subject"] = "Choose a completed request you worked on."
    elif data.subject_kind == SubjectKind.DEPARTMENT:
        if not await active_department(data.subject_department):
            errors["subject"] = "Choose a department."
    elif data.subject_kind == SubjectKind.PROJECT:
        if not 1 <= len(_clean(data.subject_text)) <= MAX_PROJECT or "\x00" in data.subject_text:
            errors["subject"] = f"Name the project (1-{MAX_PROJECT} characters)."
    elif data.subject_kind != SubjectKind.NONE:
        errors["subject"] = "Choose what the feedback is about."


async def _check_people(actor: Actor, ids: tuple[int, ...], errors: dict[str, str]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        errors["people"] = "Choose at least one colleague to ask."
        return []
    if len(wanted) > MAX_PEOPLE:
        errors["people"] = f"You can ask at most {MAX_PEOPLE} people at once; you chose {len(wanted)}."
        return []
    if actor.id in wanted:
        errors["people"] = "You cannot ask yourself for feedback."
        return []
    known = await members(wanted)
    if len(known) < len(wanted):
        errors["people"] = "One of the people you chose is not in the directory."
        return []
    inactive = [person.name for person in known.values() if not person.active]
    if inactive:
        errors["people"] = f"{', '.join(sorted(inactive))} no longer works here: choose someone else."
        return []
    return wanted


async def ask_for_feedback(actor: Actor, data: AskInput, *, at: datetime | None = None) -> int:
    """Ask up to 10 colleagues for feedback; returns the ask's id. Publishes FeedbackRequested."""
    moment = at or now()
    errors: dict[str, str] = {}
    people = await _check_people(actor, data.people, errors)
    await _check_subject(actor, data, errors)
    questions = questions_of(data)
    if data.template and data.template not in TEMPLATES:
        errors["questions"] = "Choose one of the question templates."
    elif not questions:
        errors["questions"] = "Ask at least one question: pick a template or write your own."
    elif len(questions) > MAX_QUESTIONS:
        errors["questions"] = f"Ask at most {MAX_QUESTIONS} questions; you have {len(questions)}."
    elif any(len(q) > MAX_QUESTION_LENGTH or "\x00" in q for q in questions):
        errors["questions"] = f"Keep each question under {MAX_QUESTION_LENGTH} characters."
    first, last = today(moment) + timedelta(days=1), today(moment) + timedelta(days=MAX_DUE_DAYS)
    if data.due_on is None or not first <= data.due_on <= last:
        errors["due_on"] = f"Pick a due date from tomorrow to {MAX_DUE_DAYS} days ahead."
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        await Employee.raw(_LOCK_ASKER_SQL, actor.id)
        recent = await FeedbackAsk.count().where(
            (FeedbackAsk.asker == actor.id)
            & (FeedbackAsk.created_at > moment - timedelta(days=7))
            & FeedbackAsk.closed_at.is_null()
            & (FeedbackAsk.due_on >= today(moment))
        )
        if recent >= OPEN_ASKS_PER_WEEK:
            raise RuleViolation({"form": f"{RATE_RULE} Close one of yours or wait a few days."}, status_code=429)
        kind = SubjectKind(data.subject_kind)
        rows = await FeedbackAsk.insert(
            FeedbackAsk(
                asker=actor.id,
                subject_kind=kind,
                subject_request=data.subject_request if kind == SubjectKind.REQUEST else None,
                subject_department=data.subject_department if kind == SubjectKind.DEPARTMENT else None,
                subject_text=_clean(data.subject_text) if kind == SubjectKind.PROJECT else "",
                questions=list(questions),
                due_on=data.due_on,
                created_at=moment,
            )
        ).returning(FeedbackAsk.id)
        ask_id = int(rows[0]["id"])
        await FeedbackAskee.insert(*[FeedbackAskee(ask=ask_id, recipient=person) for person in people])
        await publish(FeedbackRequested(ask_id=ask_id, asker_id=actor.id, recipient_ids=tuple(people), at=moment))
    return ask_id


async def close_ask(actor: Actor, ask_id: int, *, at: datetime | None = None) -> None:
    """The asker closes their ask: no more answers are taken."""
    row = (
        await FeedbackAsk.select(FeedbackAsk.asker).where(FeedbackAsk.id == ask_id).first()
        if valid_id(ask_id)
        else None
    )
    if row is None or row["asker"] != actor.id:
        raise RuleViolation("There is no ask of yours with that number.", status_code=404)
    await FeedbackAsk.update({FeedbackAsk.closed_at: at or now()}).where(
        (FeedbackAsk.id == ask_id) & FeedbackAsk.closed_at.is_null()
    )


# -------------------------------------------------------------------------------------------------- answering


def _check_open(ask: Ask, status: AskStatus) -> None:
    if status != AskStatus.WAITING:
        raise RuleViolation(f"You have already {status.value} this request for feedback.", status_code=409)
    if ask.closed:
        raise RuleViolation("This request for feedback is closed: answers are no longer taken.", status_code=409)


async def _respond(ask_id: int, actor_id: int, status: AskStatus, moment: datetime) -> None:
    """Move the askee row from waiting to `status`, or refuse (a concurrent answer or decline won)."""
    changed = (
        await FeedbackAskee.update({FeedbackAskee.status: status, FeedbackAskee.responded_at: moment})
        .where(
            (FeedbackAskee.ask == ask_id)
            & (FeedbackAskee.recipient == actor_id)
            & (FeedbackAskee.status == AskStatus.WAITING)
        )
        .returning(FeedbackAskee.id)
    )
    if not changed:
        raise RuleViolation("You have already answered this request for feedback.", status_code=409)


async def answer(
    actor: Actor, ask_id: int, answers: tuple[str, ...], *, share_with_manager: bool = False, at: datetime | None = None
) -> int:
    """Answer an ask addressed to `actor` (one answer per question, each 1-2,000 characters); returns the feedback
    item's id. Publishes FeedbackGiven."""
    moment = at or now()
    ask, status = await ask_for_answer(actor, ask_id, at=moment)
    _check_open(ask, status)
    texts = [_clean(a) for a in answers] + [""] * max(0, len(ask.questions) - len(answers))
    errors = {f"answer-{n}": TEXT_RULE for n, text in enumerate(texts[: len(ask.questions)]) if not _text_ok(text)}
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        await _respond(ask.id, actor.id, AskStatus.ANSWERED, moment)
        rows = await Feedback.insert(
            Feedback(
                author=actor.id,
                subject=ask.asker.id,
                ask=ask.id,
                answers=[[q, t] for q, t in zip(ask.questions, texts, strict=False)],
                shared_with_manager=share_with_manager,
                created_at=moment,
            )
        ).returning(Feedback.id)
        feedback_id = int(rows[0]["id"])
        await publish(
            FeedbackGiven(
                feedback_id=feedback_id, author_id=actor.id, subject_id=ask.asker.id, ask_id=ask.id, at=moment
            )
        )
    return feedback_id


async def decline(actor: Actor, ask_id: int, *, at: datetime | None = None) -> None:
    """Decline an ask addressed to `actor`; the asker is told. Publishes FeedbackDeclined."""
    moment = at or now()
    ask, status = await ask_for_answer(actor, ask_id, at=moment)
    _check_open(ask, status)
    async with db.transaction():
        await _respond(ask.id, actor.id, AskStatus.DECLINED, moment)
        await publish(FeedbackDeclined(ask_id=ask.id, asker_id=ask.asker.id, recipient_id=actor.id, at=moment))


# ------------------------------------------------------------------------------------------------------ giving


async def give(actor: Actor, data: GiveInput, *, at: datetime | None = None) -> int:
    """Unprompted feedback to a colleague; returns its id. Publishes FeedbackGiven."""
    moment = at or now()
    errors: dict[str, str] = {}
    subject = (await members([data.subject])).get(data.subject) if data.subject is not None else None
    if data.subject is None:
        errors["subject"] = "Choose the colleague the feedback is for."
    elif subject is None:
        errors["subject"] = "That person is not in the directory."
    elif subject.id == actor.id:
        errors["subject"] = "Feedback is for a colleague, not yourself."
    elif not subject.active:
        errors["subject"] = f"{subject.name} no longer works here."
    text = _clean(data.text)
    if not _text_ok(text):
        errors["text"] = TEXT_RULE
    if errors or subject is None:
        raise RuleViolation(errors)
    async with db.transaction():
        rows = await Feedback.insert(
            Feedback(
                author=actor.id,
                subject=subject.id,
                answers=[[UNPROMPTED, text]],
                shared_with_manager=data.share_with_manager,
                created_at=moment,
            )
        ).returning(Feedback.id)
        feedback_id = int(rows[0]["id"])
        await publish(FeedbackGiven(feedback_id=feedback_id, author_id=actor.id, subject_id=subject.id, at=moment))
    return feedback_id
