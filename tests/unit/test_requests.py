"""Internal requests: every rule of filing, claiming, adding resolvers, completing, cancelling and rating, and
the queries (lists, detail with permissions and rating visibility, thank-now prompts, the filing catalogue)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.kudos.tables import Kudos
from app.notifications.tables import Kind, Notification
from app.people.services import load_current_user
from app.people.tables import Department, Role, Service
from app.requests import queries, workflow
from app.requests.tables import Request, RequestEvent, RequestRating, RequestResolver, Status
from app.rules import RuleViolation
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_lead, make_request, make_service

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    hr = await make_department("HR", slug="hr")
    vpn = await make_service(it, "VPN help", target_hours=4)
    invoices = await make_service(finance, "Invoices")
    head = await make_employee("Marta Quist", role=Role.MANAGER, department=hr)  # leads IT from another department
    await make_lead(it, head)
    ravi = await make_employee("Ravi Patel", department=it)
    olu = await make_employee("Olu Bello", department=it)
    ana = await make_employee("Ana Silva", department=finance)
    hana = await make_employee("Hana Ito", department=hr)
    admin = await make_employee("Ada Admin", role=Role.ADMIN, department=hr)
    gone = await make_employee("Gone Person", department=it, active=False)
    return {
        "it": it,
        "finance": finance,
        "hr": hr,
        "vpn": vpn,
        "invoices": invoices,
        "head": head,
        "ravi": ravi,
        "olu": olu,
        "ana": ana,
        "hana": hana,
        "admin": admin,
        "gone": gone,
    }


async def snapshot(request_id: int) -> dict:
    """Everything a refused action must leave as it was."""
    row = await Request.select().where(Request.id == request_id).first()
    resolvers = await RequestResolver.select(RequestResolver.employee).where(RequestResolver.request == request_id)
    return {
        "request": row,
        "events": await RequestEvent.count().where(RequestEvent.request == request_id),
        "resolvers": sorted(r["employee"] for r in resolvers),
        "notifications": await Notification.count(),
        "ratings": await RequestRating.count(),
    }


async def refused(call, status_code: int, errors: dict[str, str] | str, request_id: int | None = None) -> None:
    before = await snapshot(request_id) if request_id else None
    with pytest.raises(RuleViolation) as caught:
        await call
    expected = {"form": errors} if isinstance(errors, str) else errors
    assert caught.value.errors == expected
    assert caught.value.status_code == status_code
    if request_id:
        assert await snapshot(request_id) == before


async def events(request_id: int) -> list[tuple[str, int | None, str]]:
    rows = (
        await RequestEvent.select(RequestEvent.kind, RequestEvent.actor, RequestEvent.detail)
        .where(RequestEvent.request == request_id)
        .order_by(RequestEvent.id)
    )
    return [(r["kind"], r["actor"], r["detail"]) for r in rows]


async def user(employee):
    return await load_current_user(employee.id)


# --- filing ---------------------------------------------------------------------------------------------------


async def test_file_request_opens_a_request_with_its_history(org) -> None:
    ana = await user(org["ana"])
    request_id = await workflow.file_request(
        ana, org["it"].id, org["vpn"].id, "  VPN drops every hour  ", "  Since Monday.  ", at=T0
    )
    row = await Request.select().where(Request.id == request_id).first()
    assert row["title"] == "VPN drops every hour" and row["description"] == "Since Monday."
    assert row["status"] == Status.OPEN and row["created_at"] == T0
    assert row["requester"] == org["ana"].id and row["department"] == org["it"].id and row["service"] == org["vpn"].id
    assert row["first_response_at"] is None
    assert await events(request_id) == [("filed", org["ana"].id, "")]
    assert (await RequestEvent.select(RequestEvent.created_at).first())["created_at"] == T0


async def test_filing_to_your_own_department_and_without_a_service_is_allowed(org) -> None:
    request_id = await workflow.file_request(org["ravi"].id, org["it"].id, None, "Printer jam")
    assert (await Request.select(Request.service).where(Request.id == request_id).first())["service"] is None


@pytest.mark.parametrize(
    ("title", "description", "errors"),
    [
        ("   ", "", {"title": "Give your request a short title."}),
        ("x" * 201, "", {"title": "Keep the title to 200 characters or fewer (it has 201)."}),
        ("ok", "d" * 5001, {"description": "Keep the description to 5000 characters or fewer (it has 5001)."}),
        (
            "",
            "d" * 5001,
            {
                "title": "Give your request a short title.",
                "description": "Keep the description to 5000 characters or fewer (it has 5001).",
            },
        ),
    ],
)
async def test_filing_refuses_bad_titles_and_descriptions(org, title, description, errors) -> None:
    await refused(workflow.file_request(org["ana"].id, org["it"].id, None, title, description), 422, errors)
    assert await Request.count() == 0 and await RequestEvent.count() == 0


async def test_a_title_of_exactly_200_characters_is_fine(org) -> None:
    await workflow.file_request(org["ana"].id, org["it"].id, None, "x" * 200, "d" * 5000)
    assert await Request.count() == 1


async def test_filing_refuses_missing_unknown_and_archived_departments(org) -> None:
    ana = org["ana"].id
    await refused(
        workflow.file_request(ana, None, None, "Hi"), 422, {"department": "Choose the department you are asking."}
    )
    await refused(
        workflow.file_request(ana, 999999, None, "Hi"), 422, {"department": "Choose a department from the list."}
    )
    await refused(
        workflow.file_request(ana, 2**40, None, "Hi"), 422, {"department": "Choose a department from the list."}
    )
    await Department.update({Department.archived_at: T0}).where(Department.id == org["hr"].id)
    await refused(
        workflow.file_request(ana, org["hr"].id, None, "Hi"), 422, {"department": "HR no longer takes requests."}
    )
    assert await Request.count() == 0


async def test_filing_refuses_a_service_of_another_department_or_an_inactive_one(org) -> None:
    ana = org["ana"].id
    await refused(
        workflow.file_request(ana, org["it"].id, org["invoices"].id, "Hi"),
        422,
        {"service": "That service is offered by Finance, not IT."},
    )
    await Service.update({Service.active: False}).where(Service.id == org["vpn"].id)
    await refused(
        workflow.file_request(ana, org["it"].id, org["vpn"].id, "Hi"),
        422,
        {"service": "Choose a service from IT's catalogue, or none."},
    )
    await refused(
        workflow.file_request(ana, org["it"].id, 424242, ""),
        422,
        {"title": "Give your request a short title.", "service": "Choose a service from IT's catalogue, or none."},
    )
    assert await Request.count() == 0


# --- claiming -------------------------------------------------------------------------------------------------


async def test_a_member_claims_an_open_request(org) -> None:
    request_id = await workflow.file_request(org["ana"].id, org["it"].id, None, "Laptop", at=T0)
    later = T0 + timedelta(minutes=30)
    await workflow.claim(await user(org["ravi"]), request_id, at=later)
    row = await Request.select().where(Request.id == request_id).first()
    assert row["status"] == Status.IN_PROGRESS and row["first_response_at"] == later
    resolver = await RequestResolver.select().where(RequestResolver.request == request_id).first()
    assert resolver["employee"] == org["ravi"].id and resolver["added_by"] == org["ravi"].id
    assert resolver["added_at"] == later
    assert await events(request_id) == [("filed", org["ana"].id, ""), ("claimed", org["ravi"].id, "")]


async def test_claiming_twice_changes_nothing_and_a_second_claimer_keeps_the_first_response(org) -> None:
    request_id = await workflow.file_request(org["ana"].id, org["it"].id, None, "Laptop", at=T0)
    await workflow.claim(org["ravi"].id, request_id, at=T0 + timedelta(hours=1))
    before = await snapshot(request_id)
    await workflow.claim(org["ravi"].id, request_id, at=T0 + timedelta(hours=2))
    assert await snapshot(request_id) == before
    await workflow.claim(org["olu"].id, request_id, at=T0 + timedelta(hours=3))
    row = await Request.select().where(Request.id == request_id).first()
    assert row["first_response_at"] == T0 + timedelta(hours=1)
    assert (await snapshot(request_id))["resolvers"] == sorted([org["ravi"].id, org["olu"].id])


async def test_a_department_lead_from_elsewhere_may_claim(org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    await workflow.claim(org["head"].id, request_id)
    assert (await snapshot(request_id))["resolvers"] == [org["head"].id]


async def test_someone_from_another_department_cannot_claim(org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    for outsider in ("hana", "admin"):
        await refused(
            workflow.claim(org[outsider].id, request_id), 403, "Only members of IT can claim its requests.", request_id
        )


async def test_the_requester_cannot_claim_their_own_request(org) -> None:
    request_id = await make_request(org["ravi"], org["it"])
    await refused(
        workflow.claim(org["ravi"].id, request_id),
        403,
        "You filed this request, so a colleague has to pick it up.",
        request_id,
    )


async def test_closed_requests_cannot_be_claimed(org) -> None:
    done = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await refused(
        workflow.claim(org["olu"].id, done),
        409,
        "This request is already completed and can no longer be claimed.",
        done,
    )
    gone = await make_request(org["ana"], org["it"], status="cancelled")
    await refused(
        workflow.claim(org["olu"].id, gone), 409, "This request was cancelled and can no longer be claimed.", gone
    )


async def test_unknown_requests_are_404(org) -> None:
    for request_id in (999999, 0, -1, 2**40):
        await refused(workflow.claim(org["ravi"].id, request_id), 404, "There is no request with that number.")
        await refused(workflow.complete(org["ravi"].id, request_id), 404, "There is no request with that number.")
        assert await queries.get_request(await user(org["ravi"]), request_id) is None


# --- adding resolvers -----------------------------------------------------------------------------------------


async def test_a_resolver_adds_a_colleague_from_another_department_who_is_notified(org) -> None:
    request_id = await make_request(org["ana"], org["it"], "Laptop won't boot", resolvers=(org["ravi"],))
    moment = T0 + timedelta(days=1)
    name = await workflow.add_resolver(await user(org["ravi"]), request_id, org["hana"].id, at=moment)
    assert name == "Hana Ito"
    assert (await snapshot(request_id))["resolvers"] == sorted([org["ravi"].id, org["hana"].id])
    assert (await events(request_id))[-1] == ("resolver_added", org["ravi"].id, "Hana Ito")
    await run_stored_events()  # the worker notifies from the job outbox
    note = await Notification.select().where(Notification.recipient == org["hana"].id).first()
    assert note["kind"] == Kind.REQUEST_ASSIGNED and note["actor"] == org["ravi"].id
    assert note["text"] == "Ravi Patel added you to the request “Laptop won't boot”"
    assert note["subject"] == f"request:{request_id}" and note["created_at"] == moment


async def test_a_member_adding_someone_to_an_open_request_starts_it(org) -> None:
    request_id = await workflow.file_request(org["ana"].id, org["it"].id, None, "Laptop", at=T0)
    await workflow.add_resolver(org["olu"].id, request_id, org["ravi"].id, at=T0 + timedelta(minutes=5))
    row = await Request.select().where(Request.id == request_id).first()
    assert row["status"] == Status.IN_PROGRESS and row["first_response_at"] == T0 + timedelta(minutes=5)
    added = await RequestResolver.select().where(RequestResolver.request == request_id).first()
    assert added["employee"] == org["ravi"].id and added["added_by"] == org["olu"].id


async def test_adding_yourself_does_not_notify_you(org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    await workflow.add_resolver(org["olu"].id, request_id, org["olu"].id)
    assert await Notification.count() == 0
    assert (await snapshot(request_id))["resolvers"] == [org["olu"].id]


async def test_outsiders_cannot_add_resolvers(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    message = "Only people working on this request or members of IT can add resolvers."
    for outsider in ("hana", "admin", "ana"):
        await refused(workflow.add_resolver(org[outsider].id, request_id, org["olu"].id), 403, message, request_id)


@pytest.mark.parametrize(
    ("who", "message"),
    [
        (None, "Choose the colleague to add."),
        ("unknown", "Choose an active colleague."),
        ("huge", "Choose an active colleague."),
        ("gone", "Choose an active colleague."),
        ("ana", "Ana Silva filed this request and cannot also resolve it."),
        ("ravi", "Ravi Patel already works on this request."),
    ],
)
async def test_adding_resolvers_refuses_bad_choices(org, who, message) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    odd_ids = {None: None, "unknown": 999999, "huge": 2**40}
    employee_id = odd_ids[who] if who in odd_ids else org[who].id
    await refused(
        workflow.add_resolver(org["ravi"].id, request_id, employee_id), 422, {"employee": message}, request_id
    )


async def test_closed_requests_get_no_new_resolvers(org) -> None:
    done = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await refused(
        workflow.add_resolver(org["ravi"].id, done, org["olu"].id),
        409,
        "This request is already completed and can no longer get new resolvers.",
        done,
    )


# --- completing -----------------------------------------------------------------------------------------------


async def test_a_resolver_completes_and_the_requester_is_asked_to_thank(org) -> None:
    request_id = await make_request(org["ana"], org["it"], "Laptop won't boot", resolvers=(org["ravi"], org["olu"]))
    moment = T0 + timedelta(days=2)
    await workflow.complete(await user(org["olu"]), request_id, at=moment)
    row = await Request.select().where(Request.id == request_id).first()
    assert row["status"] == Status.COMPLETED and row["completed_at"] == moment
    assert (await events(request_id))[-1] == ("completed", org["olu"].id, "")
    await run_stored_events()  # the worker notifies from the job outbox
    note = await Notification.select().where(Notification.recipient == org["ana"].id).first()
    assert note["kind"] == Kind.REQUEST_COMPLETED
    assert note["text"] == "Olu Bello completed your request “Laptop won't boot”"
    # what it is about, not links: the web layer links it to the request and "Thank now" to the give form
    assert note["subject"] == f"request:{request_id}" and note["url"] == note["action_url"] == ""
    assert note["action_label"] == "Thank now"
    assert note["created_at"] == moment


async def test_completing_a_request_you_do_not_work_on_is_refused(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    message = "Only the people working on this request can complete it. Claim it first."
    for who in ("olu", "head", "ana", "admin"):
        await refused(workflow.complete(org[who].id, request_id), 403, message, request_id)
    open_id = await make_request(org["ana"], org["it"])
    await refused(workflow.complete(org["ravi"].id, open_id), 403, message, open_id)


async def test_completing_twice_or_after_cancelling_is_a_conflict(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await refused(workflow.complete(org["ravi"].id, request_id), 409, "This request is already completed.", request_id)
    other = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    await workflow.cancel(org["ana"].id, other)
    await refused(workflow.complete(org["ravi"].id, other), 409, "This request was cancelled.", other)


async def test_only_a_request_in_progress_can_be_completed(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    await Request.update({Request.status: Status.OPEN}).where(Request.id == request_id)  # e.g. an imported ticket
    await refused(
        workflow.complete(org["ravi"].id, request_id), 409, "Only a request in progress can be completed.", request_id
    )


# --- cancelling -----------------------------------------------------------------------------------------------


async def test_the_requester_cancels_without_a_reason(org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    await workflow.cancel(await user(org["ana"]), request_id, "  ", at=T0)
    row = await Request.select().where(Request.id == request_id).first()
    assert row["status"] == Status.CANCELLED and row["cancelled_at"] == T0
    assert (await events(request_id))[-1] == ("cancelled", org["ana"].id, "")


async def test_department_staff_cancel_with_a_reason(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    await refused(
        workflow.cancel(org["olu"].id, request_id, " "),
        422,
        {"reason": "Tell the requester why you are cancelling their request."},
        request_id,
    )
    await refused(
        workflow.cancel(org["olu"].id, request_id, "r" * 501),
        422,
        {"reason": "Keep the reason to 500 characters or fewer (it has 501)."},
        request_id,
    )
    await workflow.cancel(org["head"].id, request_id, "Duplicate of #12")
    assert (await events(request_id))[-1] == ("cancelled", org["head"].id, "Duplicate of #12")


async def test_outsiders_cannot_cancel_and_closed_requests_stay_closed(org) -> None:
    request_id = await make_request(org["ana"], org["it"])
    message = "Only the requester or members of IT can cancel this request."
    for who in ("hana", "admin"):
        await refused(workflow.cancel(org[who].id, request_id, "no"), 403, message, request_id)
    done = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await refused(workflow.cancel(org["ana"].id, done), 409, "This request is already completed.", done)
    await workflow.cancel(org["ana"].id, request_id)
    await refused(workflow.cancel(org["ana"].id, request_id), 409, "This request was cancelled.", request_id)


# --- rating ---------------------------------------------------------------------------------------------------


async def test_the_requester_rates_a_completed_request_once(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await workflow.rate(await user(org["ana"]), request_id, 5, "4", 3, "  Quick and kind.  ", at=T0)
    rating = await RequestRating.select().first()
    assert (rating["timeliness"], rating["quality"], rating["communication"]) == (5, 4, 3)
    assert rating["comment"] == "Quick and kind." and rating["rater"] == org["ana"].id and rating["created_at"] == T0
    assert (await events(request_id))[-1] == ("rated", org["ana"].id, "")
    await refused(
        workflow.rate(org["ana"].id, request_id, 1, 1, 1), 409, "You have already rated this request.", request_id
    )


async def test_rating_a_request_you_did_not_file_is_refused(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    for who in ("ravi", "head", "admin", "hana"):
        await refused(
            workflow.rate(org[who].id, request_id, 5, 5, 5),
            403,
            "Only the person who filed this request can rate it.",
            request_id,
        )


async def test_only_completed_requests_can_be_rated(org) -> None:
    in_progress = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],))
    cancelled = await make_request(org["ana"], org["it"], status="cancelled")
    for request_id in (in_progress, cancelled):
        await refused(
            workflow.rate(org["ana"].id, request_id, 5, 5, 5),
            409,
            "You can rate this request once it is completed.",
            request_id,
        )


@pytest.mark.parametrize(
    ("scores", "comment", "errors"),
    [
        ((0, 5, 5), "", {"timeliness": "Rate timeliness from 1 to 5."}),
        ((5, 6, 5), "", {"quality": "Rate quality from 1 to 5."}),
        ((5, 5, None), "", {"communication": "Rate communication from 1 to 5."}),
        (
            ("", "abc", "2.5"),
            "",
            {
                "timeliness": "Rate timeliness from 1 to 5.",
                "quality": "Rate quality from 1 to 5.",
                "communication": "Rate communication from 1 to 5.",
            },
        ),
        (
            (True, "-1", "05"),
            "",
            {"timeliness": "Rate timeliness from 1 to 5.", "quality": "Rate quality from 1 to 5."},
        ),
        ((5, 5, 5), "c" * 2001, {"comment": "Keep the comment to 2000 characters or fewer (it has 2001)."}),
    ],
)
async def test_rating_scores_must_be_whole_numbers_from_1_to_5(org, scores, comment, errors) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await refused(workflow.rate(org["ana"].id, request_id, *scores, comment), 422, errors, request_id)


# --- the seeder replays history with `at` ---------------------------------------------------------------------


async def test_every_timestamp_comes_from_at(org) -> None:
    moments = [T0 + timedelta(hours=n) for n in range(5)]
    request_id = await workflow.file_request(org["ana"].id, org["it"].id, None, "Old request", at=moments[0])
    await workflow.claim(org["ravi"].id, request_id, at=moments[1])
    await workflow.add_resolver(org["ravi"].id, request_id, org["olu"].id, at=moments[2])
    await workflow.complete(org["olu"].id, request_id, at=moments[3])
    await workflow.rate(org["ana"].id, request_id, 4, 4, 4, at=moments[4])
    row = await Request.select().where(Request.id == request_id).first()
    assert (row["created_at"], row["first_response_at"], row["completed_at"]) == (moments[0], moments[1], moments[3])
    history = await RequestEvent.select(RequestEvent.created_at).order_by(RequestEvent.id)
    assert [e["created_at"] for e in history] == moments
    added = await RequestResolver.select(RequestResolver.added_at).order_by(RequestResolver.id)
    assert [r["added_at"] for r in added] == moments[1:3]
    await run_stored_events()  # notifications come from the worker, dated when their event happened
    notes = await Notification.select(Notification.created_at).order_by(Notification.id)
    assert [n["created_at"] for n in notes] == [moments[2], moments[3]]
    assert (await RequestRating.select(RequestRating.created_at).first())["created_at"] == moments[4]


# --- queries --------------------------------------------------------------------------------------------------


async def test_lists_mine_queue_and_working_with_status_filters(org) -> None:
    open_id = await make_request(org["ana"], org["it"], "Open one", created_at=T0)
    busy_id = await make_request(
        org["ana"], org["it"], "Busy one", resolvers=(org["ravi"], org["hana"]), created_at=T0 + timedelta(hours=1)
    )
    done_id = await make_request(
        org["ana"],
        org["it"],
        "Done one",
        resolvers=(org["olu"],),
        status="completed",
        created_at=T0 + timedelta(hours=2),
    )
    hr_id = await make_request(org["ravi"], org["hr"], "HR one", created_at=T0 + timedelta(hours=3))

    def ids(page):
        return [item.id for item in page.items]

    ana_user = await user(org["ana"])
    ravi_user = await user(org["ravi"])
    head_user = await user(org["head"])
    hana_user = await user(org["hana"])
    assert ids(await queries.list_requests(ana_user, box="mine")) == [busy_id, open_id]
    assert ids(await queries.list_requests(ana_user, box="mine", status="all")) == [done_id, busy_id, open_id]
    assert ids(await queries.list_requests(ana_user, box="mine", status="completed")) == [done_id]
    assert ids(await queries.list_requests(ana_user, box="mine", status="open")) == [open_id]
    assert ids(await queries.list_requests(ana_user, box="mine", status="nonsense")) == [busy_id, open_id]
    assert ids(await queries.list_requests(ravi_user, box="queue")) == [busy_id, open_id]
    # the head of IT sits in HR: their queue holds both departments' requests
    assert ids(await queries.list_requests(head_user, box="queue")) == [hr_id, busy_id, open_id]
    assert ids(await queries.list_requests(hana_user, box="working")) == [busy_id]
    assert ids(await queries.list_requests(hana_user, box="unknown")) == []  # falls back to "mine"
    page = await queries.list_requests(ana_user, box="mine")
    busy = page.items[0]
    assert busy.resolver_names == ["Ravi Patel", "Hana Ito"]  # in the order they joined
    assert busy.department_name == "IT" and busy.requester_name == "Ana Silva"
    assert busy.status_label == "In progress" and page.box == "mine" and page.status == "active"
    assert page.items[1].resolver_names == []


async def test_people_without_a_department_have_no_queue(org) -> None:
    loner = await make_employee("Lone Wolf")
    await make_request(org["ana"], org["it"])
    page = await queries.list_requests(await user(loner), box="queue")
    assert page.items == [] and not page.has_queue


async def test_lists_page_by_keyset_newest_first(org) -> None:
    made = [await make_request(org["ana"], org["it"], f"R{n}", created_at=T0 + timedelta(minutes=n)) for n in range(30)]
    ana = await user(org["ana"])
    first = await queries.list_requests(ana, box="mine")
    assert [i.id for i in first.items] == made[::-1][:25] and first.next_cursor and first.cursor is None
    second = await queries.list_requests(ana, box="mine", cursor=first.next_cursor)
    assert [i.id for i in second.items] == made[::-1][25:] and second.next_cursor is None
    assert second.cursor == first.next_cursor
    for bad in ("garbage", "2026-01-01T00:00:00.000000Z_99999999999", "_1"):
        assert [i.id for i in (await queries.list_requests(ana, box="mine", cursor=bad)).items] == made[::-1][:25]


async def test_detail_has_history_permissions_and_a_private_rating(org) -> None:
    request_id = await make_request(org["ana"], org["it"], resolvers=(org["ravi"],), status="completed")
    await workflow.rate(org["ana"].id, request_id, 5, 4, 3, "Private words")
    detail = await queries.get_request(await user(org["ana"]), request_id)
    assert [e.kind for e in detail.events] == ["filed", "claimed", "completed", "rated"]
    assert [e.actor_name for e in detail.events] == ["Ana Silva", "Ravi Patel", "Ravi Patel", "Ana Silva"]
    assert [r.name for r in detail.resolvers] == ["Ravi Patel"]
    assert detail.can_thank and not detail.thanked and not detail.can_rate and not detail.can_cancel
    for who in ("ana", "ravi", "head"):  # requester, resolver, the department's lead
        seen = await queries.get_request(await user(org[who]), request_id)
        assert seen.rating.comment == "Private words" and seen.rating.timeliness == 5
    for who in ("olu", "hana", "admin"):  # a colleague of the resolver, an outsider, an admin
        seen = await queries.get_request(await user(org[who]), request_id)
        assert seen.rating is None and seen.rated


async def test_detail_permissions_follow_role_and_state(org) -> None:
    request_id = await make_request(org["ana"], org["it"])

    async def can(who: str) -> dict:
        detail = await queries.get_request(await user(org[who]), request_id)
        actions = ("can_claim", "can_add_resolver", "can_complete", "can_cancel", "can_rate")
        return {k: getattr(detail, k) for k in actions}

    assert await can("ravi") == {
        "can_claim": True,
        "can_add_resolver": True,
        "can_complete": False,
        "can_cancel": True,
        "can_rate": False,
    }
    assert await can("ana") == {
        "can_claim": False,
        "can_add_resolver": False,
        "can_complete": False,
        "can_cancel": True,
        "can_rate": False,
    }
    assert not any((await can("hana")).values())
    await workflow.claim(org["ravi"].id, request_id)
    assert (await can("ravi"))["can_complete"] and not (await can("ravi"))["can_claim"]
    assert (await can("head"))["can_claim"] and not (await can("head"))["can_complete"]
    await workflow.complete(org["ravi"].id, request_id)
    assert await can("ana") == {
        "can_claim": False,
        "can_add_resolver": False,
        "can_complete": False,
        "can_cancel": False,
        "can_rate": True,
    }
    assert not any((await can("ravi")).values())


async def test_resolver_candidates_exclude_requester_and_resolvers(org) -> None:
    request_id = await make_request(org["ravi"], org["it"], resolvers=(org["olu"],))
    detail = await queries.get_request(await user(org["olu"]), request_id)
    candidates = await queries.resolver_candidates(detail, "")
    assert candidates.members == [] and candidates.matches == []  # Ravi filed it, Olu works on it, Gone left
    candidates = await queries.resolver_candidates(detail, "  hana  ")
    assert [p.name for p in candidates.matches] == ["Hana Ito"] and candidates.query == "hana"
    assert candidates.matches[0].department_name == "HR"
    assert (await queries.resolver_candidates(detail, "ravi")).matches == []


async def _kudos(giver, request_id: int, *, revoked: bool = False) -> None:
    await Kudos.insert(
        Kudos(
            giver=giver.id,
            message="Thanks!",
            points=0,
            request=request_id,
            month=date(2026, 3, 1),
            idempotency_key=f"k-{giver.id}-{request_id}-{revoked}",
            created_at=T0,
            revoked_at=T0 if revoked else None,
        )
    )


async def test_completed_not_thanked_lists_my_unthanked_completed_requests(org) -> None:
    ana = org["ana"]
    first = await make_request(ana, org["it"], "First", resolvers=(org["ravi"], org["olu"]), status="completed")
    thanked = await make_request(ana, org["it"], "Thanked", resolvers=(org["ravi"],), status="completed")
    revoked = await make_request(ana, org["it"], "Revoked", resolvers=(org["ravi"],), status="completed")
    by_other = await make_request(ana, org["it"], "By other", resolvers=(org["ravi"],), status="completed")
    await make_request(ana, org["it"], "Still open")
    await make_request(org["hana"], org["it"], "Not mine", resolvers=(org["ravi"],), status="completed")
    await _kudos(ana, thanked)
    await _kudos(ana, revoked, revoked=True)
    await _kudos(org["hana"], by_other)
    rows = await queries.completed_not_thanked(ana.id)
    assert [r.id for r in rows] == [by_other, revoked, first]
    assert rows[-1].resolver_names == ["Ravi Patel", "Olu Bello"]
    assert rows[-1].department_name == "IT" and rows[-1].title == "First" and rows[-1].completed_at
    assert [r.id for r in await queries.completed_not_thanked(ana.id, limit=1)] == [by_other]
    detail = await queries.get_request(await user(ana), thanked)
    assert detail.thanked and detail.can_thank
    await Request.update({Request.completed_at: T0}).where(Request.id == first)
    since = await queries.completed_not_thanked(ana.id, since=T0 + timedelta(days=1))
    assert first not in [r.id for r in since]


async def test_departments_for_filing_lists_active_departments_and_services(org) -> None:
    await make_service(org["it"], "Accounts", target_hours=8)
    await Service.update({Service.active: False}).where(Service.id == org["invoices"].id)
    await Department.update({Department.archived_at: T0}).where(Department.id == org["hr"].id)
    departments = await queries.departments_for_filing()
    assert [d.name for d in departments] == ["Finance", "IT"]
    assert departments[0].services == []
    assert [s.name for s in departments[1].services] == ["Accounts", "VPN help"]
    assert departments[1].services[1].target_hours == 4
