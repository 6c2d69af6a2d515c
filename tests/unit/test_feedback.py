"""Peer feedback (SPEC F14): asking, answering, declining, giving, and who may read what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.boards.tables import BadgeAward
from app.digests.delivery import render_for
from app.digests.tables import DigestKind
from app.feedback import models, queries, services
from app.feedback.models import AskInput, GiveInput
from app.feedback.tables import AskStatus, Feedback, FeedbackAsk, FeedbackAskee
from app.handlers import register_all
from app.jobs.tables import JobOutbox
from app.kudos.tables import LedgerEntry
from app.notifications.tables import Kind, Notification
from app.people.tables import Role
from app.rules import RuleViolation
from app.timeutil import month_of, next_month, now
from tests.events import run_stored_events
from tests.factories import as_user, make_department, make_employee, make_request

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

register_all()


@pytest.fixture
async def team():
    it = await make_department("IT", slug="it")
    boss = await make_employee("Bea Boss", department=it, role=Role.MANAGER)
    ann = await make_employee("Ann Asker", department=it, manager=boss)
    bob = await make_employee("Bob Answer", department=it)
    cat = await make_employee("Cat Colleague", department=it)
    admin = await make_employee("Ada Admin", role=Role.ADMIN)
    return {"it": it, "boss": boss, "ann": ann, "bob": bob, "cat": cat, "admin": admin}


def due(days: int = 7):
    return models.today() + timedelta(days=days)


async def ask(asker, *people, **options) -> int:
    data = AskInput(people=tuple(p.id for p in people), template="went-well", due_on=due(), **options)
    return await services.ask_for_feedback(await as_user(asker), data)


async def counts() -> tuple[int, int, int, int]:
    return (
        await FeedbackAsk.count(),
        await FeedbackAskee.count(),
        await Feedback.count(),
        await JobOutbox.count(),
    )


# ------------------------------------------------------------------------------------------------ the flow


async def test_ask_answer_read_notifies_through_events(team) -> None:
    ask_id = await ask(team["ann"], team["bob"], team["cat"])
    assert await Notification.count() == 0  # notifications come from the worker, after commit
    assert await run_stored_events() == 2  # notify the people asked; check the asker's Listener badge
    asked = await Notification.select(Notification.recipient, Notification.subject).where(
        Notification.kind == Kind.FEEDBACK_REQUESTED
    )
    assert {row["recipient"] for row in asked} == {team["bob"].id, team["cat"].id}
    assert {row["subject"] for row in asked} == {f"feedback_ask:{ask_id}"}  # the page links it to the answer form

    bob = await as_user(team["bob"])
    overview = await queries.overview(bob)
    assert [a.id for a in overview.waiting] == [ask_id]
    feedback_id = await services.answer(bob, ask_id, ("Clear plans.", "Shorter meetings."))
    await run_stored_events()
    ann = await as_user(team["ann"])
    item = await queries.get_feedback(ann, feedback_id)
    assert item is not None and item.answers == (
        ("What went well?", "Clear plans."),
        ("What could be better?", "Shorter meetings."),
    )
    assert item.shared_with_manager is False
    mine = (await queries.overview(ann)).my_asks[0]
    assert mine.answered == 1
    assert {a.person.name: a.status for a in mine.askees} == {
        "Bob Answer": AskStatus.ANSWERED,
        "Cat Colleague": AskStatus.WAITING,
    }
    received = await Notification.select(Notification.recipient).where(Notification.kind == Kind.FEEDBACK_RECEIVED)
    assert [row["recipient"] for row in received] == [team["ann"].id]
    assert (await queries.overview(bob)).waiting == ()
    assert await LedgerEntry.count() == 0  # feedback never earns points


async def test_stored_handlers_run_exactly_once(team) -> None:
    await ask(team["ann"], team["bob"])
    assert await run_stored_events() == 2
    assert await run_stored_events() == 0  # a job run twice changes nothing the second time
    assert await Notification.count() == 1


async def test_decline_tells_the_asker(team) -> None:
    ask_id = await ask(team["ann"], team["bob"])
    await services.decline(await as_user(team["bob"]), ask_id)
    await run_stored_events()
    rows = await Notification.select(Notification.recipient).where(Notification.kind == Kind.FEEDBACK_DECLINED)
    assert [row["recipient"] for row in rows] == [team["ann"].id]
    with pytest.raises(RuleViolation) as refused:
        await services.answer(await as_user(team["bob"]), ask_id, ("Too late", "Still"))
    assert refused.value.status_code == 409


async def test_give_unprompted_with_manager_sharing(team) -> None:
    bob = await as_user(team["bob"])
    private = await services.give(bob, GiveInput(subject=team["ann"].id, text="Great demo today."))
    shared = await services.give(
        bob, GiveInput(subject=team["ann"].id, text="Calm under pressure.", share_with_manager=True)
    )
    boss = await as_user(team["boss"])
    assert await queries.get_feedback(boss, private) is None
    item = await queries.get_feedback(boss, shared)
    assert item is not None and item.shared_with_manager
    overview = await queries.overview(boss)
    assert [i.id for i in overview.shared_with_me] == [shared]
    assert [(t.person.name, t.received, t.given) for t in overview.team] == [("Ann Asker", 2, 0)]


# --------------------------------------------------------------------------------------------- privacy rules


async def test_only_subject_author_and_shared_manager_read_feedback(team) -> None:
    feedback_id = await services.give(await as_user(team["bob"]), GiveInput(subject=team["ann"].id, text="Thanks!"))
    assert await queries.get_feedback(await as_user(team["ann"]), feedback_id) is not None  # the subject
    assert await queries.get_feedback(await as_user(team["bob"]), feedback_id) is not None  # the author
    assert await queries.get_feedback(await as_user(team["cat"]), feedback_id) is None  # a colleague
    assert await queries.get_feedback(await as_user(team["boss"]), feedback_id) is None  # the manager: not shared
    assert await queries.get_feedback(await as_user(team["admin"]), feedback_id) is None  # an admin: never
    for reader in ("cat", "boss", "admin"):
        overview = await queries.overview(await as_user(team[reader]))
        texts = [i for i in (*overview.received, *overview.given, *overview.shared_with_me)]
        assert texts == []


async def test_admins_see_counts_only(team) -> None:
    ask_id = await ask(team["ann"], team["bob"], team["cat"])
    await services.answer(await as_user(team["bob"]), ask_id, ("a", "b"))
    await services.decline(await as_user(team["cat"]), ask_id)
    await services.give(await as_user(team["bob"]), GiveInput(subject=team["cat"].id, text="Nice"))
    found = await queries.organisation_counts(await as_user(team["admin"]))
    figures = (found.items, found.unprompted, found.asks, found.asked, found.answered, found.declined)
    assert figures == (2, 1, 1, 2, 1, 1)
    with pytest.raises(RuleViolation) as refused:
        await queries.organisation_counts(await as_user(team["boss"]))
    assert refused.value.status_code == 403


async def test_another_managers_report_is_not_shared_with_me(team) -> None:
    other_boss = await make_employee("Otto Other", role=Role.MANAGER)
    feedback_id = await services.give(
        await as_user(team["bob"]), GiveInput(subject=team["ann"].id, text="Shared", share_with_manager=True)
    )
    assert await queries.get_feedback(await as_user(other_boss), feedback_id) is None


# ------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"people": ()}, "people", 422),
        ({"people": "self"}, "people", 422),
        ({"people": "eleven"}, "people", 422),
        ({"people": "unknown"}, "people", 422),
        ({"people": "inactive"}, "people", 422),
        ({"template": "", "questions": ()}, "questions", 422),
        ({"template": "nope"}, "questions", 422),
        ({"template": "start-stop-continue", "questions": ("a", "b", "c")}, "questions", 422),
        ({"questions": ("x" * 301,)}, "questions", 422),
        ({"due_on": None}, "due_on", 422),
        ({"due_on": "today"}, "due_on", 422),
        ({"due_on": "far"}, "due_on", 422),
        ({"subject_kind": "request", "subject_request": 999}, "subject", 422),
        ({"subject_kind": "department", "subject_department": 0}, "subject", 422),
        ({"subject_kind": "project", "subject_text": "  "}, "subject", 422),
        ({"subject_kind": "weird"}, "subject", 422),
    ],
)
async def test_bad_asks_are_refused_and_change_nothing(team, change, field, status) -> None:
    values = {"people": (team["bob"].id,), "template": "went-well", "due_on": due()}
    values.update(change)
    if values["people"] == "self":
        values["people"] = (team["ann"].id,)
    elif values["people"] == "eleven":
        values["people"] = tuple([(await make_employee()).id for _ in range(11)])
    elif values["people"] == "unknown":
        values["people"] = (team["bob"].id, 0)
    elif values["people"] == "inactive":
        values["people"] = ((await make_employee("Gone Person", active=False)).id,)
    if values["due_on"] == "today":
        values["due_on"] = models.today()
    elif values["due_on"] == "far":
        values["due_on"] = due(models.MAX_DUE_DAYS + 1)
    before = await counts()
    with pytest.raises(RuleViolation) as refused:
        await services.ask_for_feedback(await as_user(team["ann"]), AskInput(**values))
    assert refused.value.status_code == status
    assert field in refused.value.errors
    assert await counts() == before


async def test_asking_about_a_completed_request_i_worked_on(team) -> None:
    hr = await make_department("HR", slug="hr")
    requester = await make_employee("Rita Requester", department=hr)
    mine = await make_request(requester, team["it"], "VPN", resolvers=(team["ann"],), status="completed")
    not_mine = await make_request(requester, team["it"], "Printer", resolvers=(team["cat"],), status="completed")
    open_one = await make_request(requester, team["it"], "Screen", resolvers=(team["ann"],))
    ask_id = await ask(team["ann"], requester, subject_kind="request", subject_request=mine)
    asks = await queries._asks([ask_id])
    assert asks[0].about == f"Request #{mine}: VPN"
    for other in (not_mine, open_one):
        with pytest.raises(RuleViolation) as refused:
            await ask(team["ann"], requester, subject_kind="request", subject_request=other)
        assert refused.value.errors == {"subject": "Choose a completed request you worked on."}


async def test_rate_limit_of_open_asks_per_week(team) -> None:
    for _ in range(models.OPEN_ASKS_PER_WEEK):
        await ask(team["ann"], team["bob"])
    before = await counts()
    with pytest.raises(RuleViolation) as refused:
        await ask(team["ann"], team["bob"])
    assert refused.value.status_code == 429
    assert "at most 5 open asks" in refused.value.message
    assert await counts() == before
    # closing one makes room
    first = (await FeedbackAsk.select(FeedbackAsk.id).order_by(FeedbackAsk.id).first())["id"]
    await services.close_ask(await as_user(team["ann"]), first)
    await ask(team["ann"], team["bob"])


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001, "nul\x00byte"])
async def test_bad_answers_are_refused(team, text) -> None:
    ask_id = await ask(team["ann"], team["bob"])
    before = await counts()
    with pytest.raises(RuleViolation) as refused:
        await services.answer(await as_user(team["bob"]), ask_id, ("Fine", text))
    assert refused.value.errors == {"answer-1": models.TEXT_RULE}
    assert await counts() == before
    with pytest.raises(RuleViolation):
        await services.give(await as_user(team["bob"]), GiveInput(subject=team["ann"].id, text=text))
    assert await counts() == before


async def test_answering_someone_elses_or_a_closed_ask(team) -> None:
    ask_id = await ask(team["ann"], team["bob"])
    for outsider in ("cat", "boss", "admin", "ann"):
        with pytest.raises(RuleViolation) as refused:
            await services.answer(await as_user(team[outsider]), ask_id, ("a", "b"))
        assert refused.value.status_code == 403
        with pytest.raises(RuleViolation):
            await services.decline(await as_user(team[outsider]), ask_id)
    with pytest.raises(RuleViolation) as missing:
        await services.answer(await as_user(team["bob"]), 987654, ("a", "b"))
    assert missing.value.status_code == 404
    with pytest.raises(RuleViolation) as not_asker:
        await services.close_ask(await as_user(team["bob"]), ask_id)
    assert not_asker.value.status_code == 404
    await services.close_ask(await as_user(team["ann"]), ask_id)
    before = await counts()
    with pytest.raises(RuleViolation) as closed:
        await services.answer(await as_user(team["bob"]), ask_id, ("a", "b"))
    assert closed.value.status_code == 409
    assert await counts() == before


async def test_an_ask_past_its_due_date_is_closed(team) -> None:
    ask_id = await ask(team["ann"], team["bob"])
    await FeedbackAsk.update({FeedbackAsk.due_on: models.today() - timedelta(days=1)}).where(FeedbackAsk.id == ask_id)
    with pytest.raises(RuleViolation) as closed:
        await services.answer(await as_user(team["bob"]), ask_id, ("a", "b"))
    assert closed.value.status_code == 409
    assert (await queries.overview(await as_user(team["bob"]))).waiting == ()


@pytest.mark.parametrize("who", ["self", "unknown", "inactive", "none"])
async def test_bad_give_subjects(team, who) -> None:
    subject = {
        "self": team["bob"].id,
        "unknown": 987654,
        "inactive": (await make_employee(active=False)).id,
        "none": None,
    }[who]
    before = await counts()
    with pytest.raises(RuleViolation) as refused:
        await services.give(await as_user(team["bob"]), GiveInput(subject=subject, text="Hello"))
    assert "subject" in refused.value.errors
    assert await counts() == before


# ---------------------------------------------------------------------------------------------------- badges


async def test_listener_and_feedback_giver_badges(team) -> None:
    askers = [await make_employee() for _ in range(5)]
    for asker in askers:
        ask_id = await ask(asker, team["bob"])
        await services.answer(await as_user(team["bob"]), ask_id, ("a", "b"))
    for _ in range(3):
        await ask(team["ann"], team["cat"])
    await run_stored_events()
    badges = {(row["employee"], row["badge"]) for row in await BadgeAward.select(BadgeAward.employee, BadgeAward.badge)}
    assert (team["bob"].id, "feedback-giver") in badges
    assert (team["ann"].id, "listener") in badges
    assert (team["cat"].id, "feedback-giver") not in badges
    # unprompted feedback does not count towards Feedback giver
    for _ in range(5):
        await services.give(await as_user(team["cat"]), GiveInput(subject=team["ann"].id, text="Nice"))
    await run_stored_events()
    assert await BadgeAward.count().where(BadgeAward.employee == team["cat"].id) == 0


# ---------------------------------------------------------------------------------------------------- digests


async def test_digests_count_feedback_without_text(team) -> None:
    await ask(team["bob"], team["ann"])
    await ask(team["cat"], team["ann"])
    await services.give(await as_user(team["bob"]), GiveInput(subject=team["ann"].id, text="Secret words"))
    month = month_of(now())
    # this month's digest, as if the month had ended: the asks are due after it, so they still wait for Ann
    await FeedbackAsk.update({FeedbackAsk.due_on: next_month(month) + timedelta(days=3)}).where(FeedbackAsk.id > 0)
    mail = (await render_for(DigestKind.EMPLOYEE, month, [team["ann"].id]))[team["ann"].id]
    assert "2 colleagues asked for your feedback - answer" in mail.text
    assert "You received 1 feedback item" in mail.text
    assert "Secret words" not in mail.text and "Secret words" not in mail.html
    manager = (await render_for(DigestKind.MANAGER, month, [team["boss"].id]))[team["boss"].id]
    assert "your team of 1 received 1 feedback item and gave 0" in manager.text
