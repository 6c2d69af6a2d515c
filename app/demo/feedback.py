"""Demo peer feedback and one closed internal service survey round, through the services with `at=` set.

Feedback: the demo employee asked three colleagues (two answered, one has not yet), a colleague asks the demo
employee (waiting, to try answering), and a few unprompted items, one shared with the manager. Survey: a round
that opened about six weeks ago for each department's internal customers of the two months before, answered by
most of them, and closed two weeks later — so department pages show results and leads have comments to read.
The events published on the way are handled at once (no worker runs during the load), dated when they happened.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from app.feedback import services as feedback
from app.feedback.models import AskInput, GiveInput
from app.handlers import register_all
from app.jobs.handling import run_recorded
from app.notifications.tables import Notification
from app.people.seed import DEMO_LOGINS
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Employee, Role
from app.surveys import lifecycle
from app.surveys import services as surveys
from app.surveys.models import AnswerInput, RoundInput
from app.surveys.tables import SurveyInvite, SurveyRound
from app.timeutil import local_date, now

SEED = 18
ANSWER_SHARE = 0.8  # of the people invited to the demo round, this share answers
COMMENTS = (
    "Quick to pick up my request and clear about what happens next.",
    "Friendly, but I had to chase twice before anything moved.",
    "The self-service page answered half my questions before I even asked.",
    "Great once you reach the right person; finding them is the hard part.",
    "Fixed it the same day. Thank you!",
    "Please tell us when something is waiting on another team.",
    "Consistently helpful. The catalogue's turnaround times are realistic.",
)
ANSWERS = (
    ("You explain the why, not just the what: the rollout plan made sense to everyone.", "Send the agenda earlier."),
    ("Calm and thorough when the deadline moved.", "Loop in Finance a little sooner next time."),
)
UNPROMPTED = (
    "Thanks for pairing with me on the onboarding checklist: it is much clearer now.",
    "Your summary in Monday's meeting saved us an hour of back and forth.",
    "I appreciated how you handled the escalation: firm, fair and quick.",
)


async def _user(email: str) -> CurrentUser | None:
    row = await Employee.select(Employee.id).where(Employee.email == email).first()
    return await load_current_user(row["id"]) if row else None


async def _colleagues(me: CurrentUser, count: int) -> list[CurrentUser]:
    rows = (
        await Employee.select(Employee.id)
        .where(
            Employee.active.eq(True)
            & (Employee.id != me.id)
            & (Employee.role == Role.EMPLOYEE)
            & Employee.email.not_in(list(DEMO_LOGINS.values()))
        )
        .order_by(Employee.id)
        .limit(count)
    )
    found = [await load_current_user(row["id"]) for row in rows]
    return [u for u in found if u is not None]


async def _seed_feedback(moment: datetime) -> int:
    employee = await _user(DEMO_LOGINS[Role.EMPLOYEE])
    if employee is None:
        return 0
    colleagues = await _colleagues(employee, 6)
    if len(colleagues) < 6:
        return 0
    asked_at = moment - timedelta(days=6)
    due_on = local_date(moment) + timedelta(days=8)
    ask_id = await feedback.ask_for_feedback(
        employee,
        AskInput(people=tuple(c.id for c in colleagues[:3]), template="went-well", due_on=due_on),
        at=asked_at,
    )
    for n, colleague in enumerate(colleagues[:2]):
        await feedback.answer(
            colleague, ask_id, ANSWERS[n], share_with_manager=n == 0, at=asked_at + timedelta(days=n + 1)
        )
    # someone waits for the demo employee's feedback
    await feedback.ask_for_feedback(
        colleagues[3],
        AskInput(people=(employee.id,), template="start-stop-continue", subject_kind="project",
                 subject_text="Office move", due_on=due_on),
        at=moment - timedelta(days=2),
    )  # fmt: skip
    for n, text in enumerate(UNPROMPTED):
        author, subject = (colleagues[4], employee) if n == 0 else (employee, colleagues[3 + n])
        await feedback.give(
            author,
            GiveInput(subject=subject.id, text=text, share_with_manager=n == 2),
            at=moment - timedelta(days=10 - n),
        )
    return 2 + len(UNPROMPTED)


async def _seed_survey(moment: datetime) -> int:
    admin = await _user(DEMO_LOGINS[Role.ADMIN])
    if admin is None:
        return 0
    opened = moment - timedelta(days=42)
    start = local_date(opened)
    round_id = await surveys.schedule_round(
        admin,
        RoundInput(
            title="Internal service survey",
            audience="customers",
            period_start=start - timedelta(days=60),
            period_end=start - timedelta(days=1),
            opens_on=start,
            closes_on=start + timedelta(days=13),
        ),
        at=opened,
    )
    await lifecycle.advance(at=opened + timedelta(hours=9))
    invites = (
        await SurveyInvite.select(SurveyInvite.employee, SurveyInvite.department)
        .where(SurveyInvite.round == round_id)
        .order_by(SurveyInvite.id)
    )
    rng = random.Random(SEED)
    for invite in invites:
        if rng.random() > ANSWER_SHARE:
            continue
        person = await load_current_user(invite["employee"])
        if person is None:
            continue
        satisfaction = rng.choice((3, 4, 4, 5, 5))
        answer = AnswerInput(
            satisfaction=satisfaction,
            ease=max(1, min(5, satisfaction + rng.choice((-1, 0, 0, 1)))),
            recommend=min(10, satisfaction * 2 + rng.choice((-1, 0, 0, 1))),
            comment=rng.choice(COMMENTS) if rng.random() < 0.7 else "",
        )
        await surveys.submit_answer(
            person, round_id, invite["department"], answer, at=opened + timedelta(days=rng.randint(1, 12))
        )
    closing = await SurveyRound.select(SurveyRound.closes_at).where(SurveyRound.id == round_id).output(as_list=True)
    closes_at: datetime = closing[0]
    await lifecycle.advance(at=closes_at - timedelta(hours=12))  # the reminder
    await lifecycle.advance(at=closes_at + timedelta(minutes=5))
    return 1


async def seed_feedback(*, at: datetime | None = None) -> dict[str, int]:
    """Demo feedback and a closed survey round; returns counts. Handles the events at once and marks the
    notifications of what happened long ago as read."""
    moment = at or now()
    register_all()
    counts = {"feedback": await _seed_feedback(moment), "survey_rounds": await _seed_survey(moment)}
    await run_recorded()
    await Notification.raw(
        "UPDATE notification SET read_at = created_at + interval '2 hours' WHERE read_at IS NULL AND created_at < {}",
        moment - timedelta(days=7),
    )
    return counts
