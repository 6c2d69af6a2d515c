"""Three months of demo activity (app.demo.activity), replayed through the services: every invariant holds; and the
feedback and closed survey round the demo adds on top (app.demo.feedback), on the same world."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from app.demo.activity import QUIET_HOURS, READ_AFTER, seed_activity
from app.demo.feedback import seed_feedback
from app.demo.seed import seed_demo
from app.feedback import queries
from app.feedback.tables import Feedback
from app.kudos.tables import AddOn, CompanyValue, Kudos, KudosRecipient, KudosValue
from app.notifications.services import unread_count
from app.notifications.tables import Notification
from app.people.seed import DEMO_LOGINS
from app.people.services import load_current_user
from app.people.tables import Employee, Role
from app.requests.queries import completed_not_thanked, list_requests
from app.requests.tables import Request, RequestRating, Status
from app.settings import get_settings
from app.surveys import models
from app.surveys.tables import RoundStatus, SurveyAnswer, SurveyResult, SurveyRound
from tests.plugins.database import built_once, reset_database

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

# A fixed "now" (a Wednesday afternoon), so two loads plan exactly the same activity.
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)


async def _company_values() -> None:
    """The values a migration seeds (the test harness empties every table before each test)."""
    names = ("Customer first", "Ownership", "Teamwork", "Extra mile", "Clear communication")
    await CompanyValue.insert(*[CompanyValue(name=name, position=i) for i, name in enumerate(names)])


async def _seed() -> dict[str, int]:
    await _company_values()
    counts = await seed_demo(activity=False)
    return counts | await seed_activity(at=NOW)


async def _load() -> dict[str, int]:
    """The demo with its activity at NOW: seeded by the first test of this process, the same rows restored after."""
    return await built_once("demo activity", _seed)


async def _sql(query: str, *args: object) -> list[dict]:
    return await Kudos.raw(query, *args)


async def test_activity_has_believable_volumes_and_keeps_every_rule() -> None:
    counts = await _load()

    # volumes
    assert 230 <= counts["requests"] <= 280
    assert counts["requests_completed"] >= 0.85 * counts["requests"]
    assert 4 <= counts["requests_active"] <= 20
    assert 3 <= counts["requests_cancelled"] <= 20
    assert counts["requests"] == await Request.count()
    completed = counts["requests_completed"]
    thanked = (
        await _sql(
            "SELECT count(*) AS n FROM request r WHERE r.status = 'completed' "
            "AND EXISTS (SELECT 1 FROM kudos k WHERE k.request = r.id)"
        )
    )[0]["n"]
    assert 0.6 * completed <= thanked <= 0.75 * completed
    assert 0.35 * completed <= counts["ratings"] == await RequestRating.count() <= 0.55 * completed
    spontaneous = await Kudos.count().where(Kudos.request.is_null())
    assert 130 <= spontaneous <= 170
    assert counts["kudos"] == spontaneous + await Kudos.count().where(Kudos.request.is_not_null())
    assert 70 <= counts["addons"] == await AddOn.count() <= 90
    assert await AddOn.count().where(AddOn.points > 0) >= 20
    private = await Kudos.count().where(Kudos.request.is_null() & (Kudos.visibility == "private"))
    assert 0.05 * spontaneous <= private <= 0.15 * spontaneous
    tagged = len({row["kudos"] for row in await KudosValue.select(KudosValue.kudos)})
    assert tagged >= 0.75 * counts["kudos"]
    cross = await _sql(
        "SELECT count(*) FILTER (WHERE g.department <> e.department) AS cross, count(*) AS all "
        "FROM kudos k JOIN kudos_recipient kr ON kr.kudos = k.id JOIN employee g ON g.id = k.giver "
        "JOIN employee e ON e.id = kr.employee WHERE k.request IS NULL"
    )
    assert cross[0]["cross"] > cross[0]["all"] / 2
    givers = Counter(row["giver"] for row in await Kudos.select(Kudos.giver).where(Kudos.request.is_null()))
    top = [n for _, n in givers.most_common(5)]
    assert sum(top) >= 0.25 * spontaneous, "a few people give much more than most"

    # allowance: what each giver spent in a month (from the ledger) is what the allowance counted, within budget
    spent = await _sql(
        "SELECT l.giver, a.month, sum(l.amount) AS points, min(a.spent) AS spent, min(a.budget) AS budget "
        "FROM ledger_entry l JOIN allowance a ON a.employee = l.giver "
        "AND a.month = (date_trunc('month', l.created_at AT TIME ZONE {}))::date "
        "WHERE l.kind IN ('kudos', 'addon') GROUP BY l.giver, a.month",
        get_settings().timezone,
    )
    assert spent and all(row["points"] == row["spent"] <= row["budget"] for row in spent)
    entries = await _sql("SELECT count(*) AS n FROM ledger_entry WHERE kind IN ('kudos', 'addon')")
    assert (
        entries[0]["n"]
        == await KudosRecipient.count()
        + (await _sql("SELECT count(*) AS n FROM add_on a JOIN kudos_recipient kr ON kr.kudos = a.kudos"))[0]["n"]
    ), "every recipient of a kudos and of its add-ons has a ledger entry"

    # thanks for a request go to its resolvers, from its requester, after it was completed
    linked = await _sql(
        "SELECT k.id, k.giver, k.created_at, r.requester, r.status, r.completed_at, "
        "ARRAY(SELECT employee FROM kudos_recipient WHERE kudos = k.id) AS recipients, "
        "ARRAY(SELECT employee FROM request_resolver WHERE request = r.id) AS resolvers "
        "FROM kudos k JOIN request r ON r.id = k.request"
    )
    assert len(linked) == counts["kudos"] - spontaneous
    for row in linked:
        assert row["status"] == Status.COMPLETED and row["completed_at"] < row["created_at"]
        assert set(row["recipients"]) <= set(row["resolvers"]) and row["giver"] == row["requester"]

    # nobody thanks or adds on to themselves, nor joins their own kudos
    assert not await _sql(
        "SELECT 1 FROM kudos k JOIN kudos_recipient kr ON kr.kudos = k.id WHERE kr.employee = k.giver"
    )
    assert not await _sql(
        "SELECT 1 FROM add_on a JOIN kudos k ON k.id = a.kudos WHERE a.giver = k.giver OR EXISTS "
        "(SELECT 1 FROM kudos_recipient kr WHERE kr.kudos = k.id AND kr.employee = a.giver)"
    )
    assert not await _sql("SELECT 1 FROM add_on a JOIN kudos k ON k.id = a.kudos WHERE k.visibility <> 'public'")
    assert not await _sql(
        "SELECT 1 FROM request_resolver rr JOIN request r ON r.id = rr.request WHERE rr.employee = r.requester"
    )

    # every moment lies in the last three months, up to a few hours ago, in order
    latest = NOW - timedelta(hours=QUIET_HOURS)
    for table in ("request", "kudos", "add_on", "notification", "request_event", "ledger_entry", "request_rating"):
        bounds = (await _sql(f"SELECT min(created_at) AS first, max(created_at) AS last FROM {table}"))[0]  # noqa: S608
        assert NOW - timedelta(days=91) <= bounds["first"] and bounds["last"] <= latest, table
    assert not await _sql(
        "SELECT 1 FROM request WHERE first_response_at < created_at OR completed_at < first_response_at "
        "OR cancelled_at < created_at OR (status = 'completed') <> (completed_at IS NOT NULL) "
        "OR (status IN ('in_progress', 'completed')) <> (first_response_at IS NOT NULL)"
    )
    assert not await _sql("SELECT 1 FROM add_on a JOIN kudos k ON k.id = a.kudos WHERE a.created_at <= k.created_at")
    assert not await _sql(
        "SELECT 1 FROM request_rating x JOIN request r ON r.id = x.request "
        "WHERE x.created_at <= r.completed_at OR x.rater <> r.requester"
    )

    # notifications older than a week are read; recent ones are not, yet
    old = NOW - READ_AFTER
    assert await Notification.count().where((Notification.created_at < old) & Notification.read_at.is_null()) == 0
    assert await Notification.count().where(Notification.created_at >= old) > 0
    assert await Notification.count().where(Notification.read_at > NOW) == 0


async def test_demo_logins_find_something_to_do() -> None:
    await _load()
    ids = {
        row["email"]: row["id"]
        for row in await Employee.select(Employee.id, Employee.email).where(
            Employee.email.is_in(list(DEMO_LOGINS.values()))
        )
    }
    elena = await load_current_user(ids[DEMO_LOGINS[Role.EMPLOYEE]])
    marcus = await load_current_user(ids[DEMO_LOGINS[Role.MANAGER]])
    assert elena is not None and marcus is not None

    assert await Kudos.count().where(Kudos.giver == elena.id) >= 2
    assert await KudosRecipient.count().where(KudosRecipient.employee == elena.id) >= 3
    assert len(await completed_not_thanked(elena.id)) >= 2, "the home page has requests to thank for"
    assert await unread_count(elena.id) >= 1
    assert await Request.count().where((Request.requester == elena.id) & (Request.status == Status.COMPLETED)) >= 4
    working = await list_requests(elena, box="working", status="in_progress")
    assert working.items, "Elena is working on something"

    queue = await list_requests(marcus, box="queue", status="active")
    statuses = {item.status for item in queue.items}
    assert statuses == {Status.OPEN, Status.IN_PROGRESS}, "the IT queue has new and picked-up requests"
    assert await Kudos.count().where(Kudos.giver == marcus.id) >= 3
    for email in DEMO_LOGINS.values():
        assert await Notification.count().where(Notification.recipient == ids[email]) > 0, email


async def _fingerprint() -> dict[str, list[tuple]]:
    """What was loaded, row by row, ids included."""
    queries = {
        "request": "SELECT id, requester, department, service, title, status, created_at, first_response_at, "
        "completed_at, cancelled_at FROM request",
        "request_resolver": "SELECT request, employee, added_by, added_at FROM request_resolver",
        "request_event": "SELECT request, actor, kind, detail, created_at FROM request_event",
        "request_rating": "SELECT request, timeliness, quality, communication, comment, created_at FROM request_rating",
        "kudos": "SELECT id, giver, message, points, visibility, request, month, created_at FROM kudos",
        "kudos_recipient": "SELECT kudos, employee FROM kudos_recipient",
        "kudos_value": "SELECT kudos, value FROM kudos_value",
        "add_on": "SELECT id, kudos, giver, comment, points, created_at FROM add_on",
        "ledger_entry": "SELECT kind, kudos, addon, giver, recipient, amount, created_at FROM ledger_entry",
        "allowance": "SELECT employee, month, budget, spent FROM allowance",
        "notification": "SELECT recipient, kind, actor, text, created_at, read_at FROM notification",
    }
    return {
        table: sorted(tuple(str(value) for value in row.values()) for row in await _sql(query))
        for table, query in queries.items()
    }


async def test_the_same_moment_gives_the_same_activity() -> None:
    first = await _load()
    before = await _fingerprint()
    await reset_database()
    assert await Kudos.count() == 0
    second = await _seed()  # seeded again for real, never restored
    assert second == first
    assert await _fingerprint() == before


async def test_demo_award_reasons_and_citations_read_as_a_manager_wrote_them() -> None:
    import re

    from app.awards.tables import AwardWinner, Nomination
    from app.demo.awards import seed_awards
    from tests.awards_world import make_category

    await _load()
    await make_category("Internal Service Star", "person", "points", position=1)
    await make_category("Department of the Month", "department", "per_head", position=2)
    await make_category("Bridge Builder", "person", "departments", position=3)
    assert (await seed_awards(at=NOW))["nominations"] >= 6
    reasons = [row["reason"] for row in await Nomination.select(Nomination.reason)]
    assert len(set(reasons)) == len(reasons), "no two managers write the same reason"
    messages = [row["message"] for row in await Kudos.select(Kudos.message)]
    for reason in reasons:
        assert "points received" not in reason and "colleagues" not in reason.split(".")[0], reason
        quote = re.search(r"“(.+?)…?”", reason)
        assert quote and any(m.startswith(quote.group(1)) for m in messages), reason  # a kudos they really got
        assert reason.count("“") == 1, reason  # no quote inside the quote
    citations = [row["citation"] for row in await AwardWinner.select(AwardWinner.citation)]
    assert citations and all("chosen from" not in c for c in citations), citations
    assert len(set(citations)) == len(citations), citations


async def test_demo_feedback_and_a_closed_survey_round_with_results() -> None:
    await _load()
    counts = await seed_feedback(at=NOW)
    assert counts == {"feedback": 5, "survey_rounds": 1}
    assert await Feedback.count() == 5
    row = await Employee.select(Employee.id).where(Employee.email == DEMO_LOGINS[Role.EMPLOYEE]).first()
    employee = await load_current_user(row["id"])
    overview = await queries.overview(employee, at=NOW)
    assert len(overview.waiting) == 1 and len(overview.my_asks) == 1 and overview.my_asks[0].answered == 2
    assert len(overview.received) == 3 and len(overview.given) == 2

    assert (await SurveyRound.select(SurveyRound.status).first())["status"] == RoundStatus.CLOSED
    assert await SurveyAnswer.count() == 0
    shown = await SurveyResult.count().where(SurveyResult.answers >= models.MIN_ANSWERS)
    assert shown >= 3
    with_comments = await SurveyResult.raw("SELECT count(*) AS n FROM survey_result WHERE comments <> '[]'::jsonb")
    assert with_comments[0]["n"] >= 1
