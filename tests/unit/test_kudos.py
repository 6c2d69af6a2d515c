"""Giving kudos, add-ons, revokes, allowances and the ledger (SPEC F3 to F6), against real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.audit.tables import AuditEntry
from app.kudos import allowance
from app.kudos.changes import add_on, revoke
from app.kudos.feed import feed, get_kudos
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.kudos.tables import AddOn, Allowance, AllowancePolicy, CompanyValue, EntryKind, Kudos, LedgerEntry
from app.notifications.tables import Kind, Notification
from app.people.services import CurrentUser, load_current_user
from app.people.tables import Role
from app.rules import RuleViolation
from app.timeutil import month_of, now
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_request

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


async def user(employee) -> CurrentUser:
    current = await load_current_user(employee.id)
    assert current is not None
    return current


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    boss = await make_employee("Boss Person", department=it, role=Role.MANAGER)
    giver = await make_employee("Gina Giver", department=finance)
    ravi = await make_employee("Ravi Resolver", department=it, manager=boss)
    sam = await make_employee("Sam Second", department=it, manager=boss)
    other = await make_employee("Otto Other", department=finance)
    admin = await make_employee("Ada Admin", department=finance, role=Role.ADMIN)
    value = CompanyValue(name="Teamwork", description="", position=0)
    await value.save()
    return {
        "it": it,
        "finance": finance,
        "boss": boss,
        "giver": await user(giver),
        "ravi": ravi,
        "sam": sam,
        "other": await user(other),
        "admin": await user(admin),
        "value": value,
    }


async def nothing_changed() -> None:
    assert await Kudos.count() == 0
    assert await LedgerEntry.count() == 0
    assert await Notification.count() == 0
    assert await Allowance.count().where(Allowance.spent > 0) == 0


def form(*recipients, **fields) -> GiveForm:
    values = {"message": "Thanks for sorting out my laptop so quickly!", "points": "10", **fields}
    return GiveForm(recipient_ids=[r.id for r in recipients], **values)


async def test_giving_records_kudos_recipients_ledger_allowance_and_notifications(org) -> None:
    given = await give_kudos(org["giver"], form(org["ravi"], org["sam"], points="15", value_ids=[org["value"].id]))

    assert given.created and given.remaining == 100 - 30
    kudos = await Kudos.objects().get(Kudos.id == given.kudos_id)
    assert kudos.points == 15 and kudos.message == "Thanks for sorting out my laptop so quickly!"
    entries = await LedgerEntry.select().where(LedgerEntry.kudos == given.kudos_id).order_by(LedgerEntry.recipient)
    assert [(e["kind"], e["recipient"], e["amount"]) for e in entries] == [
        (EntryKind.KUDOS, org["ravi"].id, 15),
        (EntryKind.KUDOS, org["sam"].id, 15),
    ]
    assert {e["recipient_department"] for e in entries} == {org["it"].id}
    assert {e["giver_department"] for e in entries} == {org["finance"].id}
    assert await allowance.remaining(org["giver"].id, month_of(now())) == (70, 100)
    assert await Notification.count() == 0  # the worker notifies, from the job outbox, once the gift committed
    # notifications, badges, webhooks, chats and email notices of the gift; then the notification, webhook, chat
    # and email notice of each of the three first-kudos badges it earned (given, received twice)
    assert await run_stored_events() == 5 + 3 * 4
    notes = await Notification.select(Notification.recipient, Notification.kind, Notification.subject).where(
        Notification.kind != Kind.BADGE_EARNED  # first-kudos badges are tested in test_badges.py
    )
    assert sorted(n["recipient"] for n in notes) == sorted([org["ravi"].id, org["sam"].id])
    assert {n["kind"] for n in notes} == {Kind.KUDOS_RECEIVED}
    assert {n["subject"] for n in notes} == {f"kudos:{given.kudos_id}"}  # the web layer links it to the kudos


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"recipient_ids": []}, "recipients", "Choose at least one person to thank."),
        ({"recipient_ids": [999999]}, "recipients", "1 of the people you chose is not in the directory."),
        ({"message": "   \n  "}, "message", "Write a message to say what they did."),
        ({"message": "x" * 1001}, "message", "Keep the message to 1000 characters (it has 1001)."),
        ({"points": "-5"}, "points", "Points can't be negative."),
        ({"points": "2.5"}, "points", "Points must be a whole number."),
        ({"points": "51"}, "points", "At most 50 points per person per kudos."),
        ({"value_ids": [424242]}, "values", "Pick company values from the list."),
        ({"visibility": "secret"}, "visibility", "Choose public or private."),
        ({"request_id": 999999}, "request", "That request does not exist."),
    ],
)
async def test_bad_input_is_refused_next_to_its_field_and_changes_nothing(org, fields, field, message) -> None:
    give = form(org["ravi"])
    for name, value in fields.items():
        setattr(give, name, value)
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], give)
    assert refused.value.status_code == 422
    assert refused.value.errors[field] == message
    await nothing_changed()


async def test_a_message_is_trimmed_before_its_length_is_checked(org) -> None:
    given = await give_kudos(org["giver"], form(org["ravi"], message="  " + "y" * 1000 + "  \n"))
    assert (await Kudos.objects().get(Kudos.id == given.kudos_id)).message == "y" * 1000


async def test_self_kudos_and_inactive_recipients_are_refused(org) -> None:
    gone = await make_employee("Gone Person", active=False)
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], GiveForm(recipient_ids=[org["giver"].id], message="me!"))
    assert refused.value.errors["recipients"] == "You can't give kudos to yourself."
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], form(org["ravi"], gone))
    assert refused.value.errors["recipients"] == "Gone Person no longer works here."
    await nothing_changed()


async def test_a_required_value_must_be_picked(org) -> None:
    await AllowancePolicy.insert(AllowancePolicy(id=1, value_required=True))
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], form(org["ravi"]))
    assert refused.value.errors["values"] == "Pick at least one company value."
    await nothing_changed()
    assert (await give_kudos(org["giver"], form(org["ravi"], value_ids=[org["value"].id]))).created


async def test_points_above_what_is_left_are_refused_with_what_is_left(org) -> None:
    await give_kudos(org["giver"], form(org["ravi"], points="50"))
    await give_kudos(org["giver"], form(org["ravi"], points="40"))
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], form(org["ravi"], org["sam"], points="6"))
    assert refused.value.errors["points"] == "You have 10 points left this month; this kudos needs 12."
    assert await Kudos.count() == 2
    assert await allowance.remaining(org["giver"].id, month_of(now())) == (10, 100)
    assert await LedgerEntry.count() == 2


async def test_a_double_submitted_form_creates_one_kudos(org) -> None:
    give = form(org["ravi"], points="20")
    first = await give_kudos(org["giver"], give)
    again = await give_kudos(org["giver"], give)
    assert again.kudos_id == first.kudos_id and not again.created
    assert await Kudos.count() == 1
    assert await LedgerEntry.count() == 1
    assert again.remaining == 80


async def test_linking_a_request_requires_it_completed_and_recipients_among_its_resolvers(org) -> None:
    open_request = await make_request(org["giver"], org["it"], resolvers=(org["ravi"],))
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], form(org["ravi"], request_id=open_request))
    assert refused.value.errors["request"] == "You can link a kudos only to a completed request."
    done = await make_request(org["giver"], org["it"], "VPN access", resolvers=(org["ravi"],), status="completed")
    await Notification.delete(force=True)
    with pytest.raises(RuleViolation) as refused:
        await give_kudos(org["giver"], form(org["ravi"], org["sam"], request_id=done))
    assert refused.value.errors["recipients"] == (
        "Sam Second did not work on “VPN access”; a kudos linked to a request thanks its resolvers."
    )
    await nothing_changed()
    given = await give_kudos(org["giver"], form(org["ravi"], request_id=done))
    assert (await Kudos.objects().get(Kudos.id == given.kudos_id)).request == done


async def test_managers_get_a_bonus_per_active_direct_report(org) -> None:
    await make_employee(manager=org["boss"], active=False)
    boss = await user(org["boss"])
    assert await allowance.remaining(boss.id, month_of(now())) == (120, 120)  # Ravi and Sam; not the inactive one
    await AllowancePolicy.insert(AllowancePolicy(id=1, manager_budget=50, manager_bonus_per_report=5))
    assert await allowance.remaining(boss.id, month_of(now())) == (60, 60)


async def test_unspent_points_expire_at_month_end_and_each_month_starts_afresh(org) -> None:
    last_month = month_of(now()).replace(day=1) - timedelta(days=2)
    await give_kudos(
        org["giver"], form(org["ravi"], points="50"), at=datetime.combine(last_month, datetime.min.time(), UTC)
    )
    assert await allowance.remaining(org["giver"].id, month_of(now())) == (100, 100)


async def test_fifty_concurrent_submissions_never_overspend(org) -> None:
    async def attempt(n: int) -> int | None:
        try:
            return (await give_kudos(org["giver"], form(org["ravi"], points="7", message=f"Thanks #{n}"))).kudos_id
        except RuleViolation:
            return None

    results = await asyncio.gather(*[attempt(n) for n in range(50)])
    accepted = [r for r in results if r is not None]
    assert len(accepted) == 100 // 7
    spent = (await Allowance.select(Allowance.spent).first())["spent"]
    assert spent == 7 * len(accepted) <= 100
    assert sorted(r["kudos"] for r in await LedgerEntry.select(LedgerEntry.kudos)) == sorted(accepted)
    assert await Kudos.count() == len(accepted)
    await run_stored_events()
    assert await Notification.count().where(Notification.kind == Kind.KUDOS_RECEIVED) == len(accepted)
    # badges earned along the way, once each: first kudos given, first kudos received, 10 kudos received
    assert await Notification.count().where(Notification.kind == Kind.BADGE_EARNED) == 3


async def _public_kudos(org, **fields) -> int:
    return (await give_kudos(org["giver"], form(org["ravi"], org["sam"], **fields))).kudos_id


async def test_an_add_on_gives_each_recipient_points_from_the_add_on_givers_allowance(org) -> None:
    kudos_id = await _public_kudos(org)
    addon_id = await add_on(org["other"], kudos_id, comment="  Same here, great work!  ", points="5")

    entries = await LedgerEntry.select().where(LedgerEntry.addon == addon_id)
    assert sorted((e["recipient"], e["amount"], e["giver"]) for e in entries) == sorted(
        [(org["ravi"].id, 5, org["other"].id), (org["sam"].id, 5, org["other"].id)]
    )
    assert await allowance.remaining(org["other"].id, month_of(now())) == (90, 100)
    assert (await AddOn.objects().get(AddOn.id == addon_id)).comment == "Same here, great work!"
    await run_stored_events()
    told = await Notification.select(Notification.recipient).where(Notification.kind == Kind.ADDON_RECEIVED)
    assert sorted(n["recipient"] for n in told) == sorted([org["ravi"].id, org["sam"].id, org["giver"].id])


@pytest.mark.parametrize(
    ("who", "visibility", "status", "message"),
    [
        ("giver", "public", 403, "You can't add on to your own kudos."),
        ("ravi", "public", 403, "You can't add on to a kudos you received."),
        ("boss", "private", 403, "You can add on only to a public kudos."),
        ("other", "private", 404, "That kudos does not exist."),
    ],
)
async def test_add_ons_are_refused_on_own_received_and_private_kudos(org, who, visibility, status, message) -> None:
    kudos_id = await _public_kudos(org, visibility=visibility)
    actor = org[who] if isinstance(org[who], CurrentUser) else await user(org[who])
    with pytest.raises(RuleViolation) as refused:
        await add_on(actor, kudos_id, comment="+1", points="5")
    assert (refused.value.status_code, refused.value.message) == (status, message)
    assert await AddOn.count() == 0
    assert await LedgerEntry.count() == 2


async def test_add_on_input_rules_and_one_add_on_per_person(org) -> None:
    kudos_id = await _public_kudos(org)
    with pytest.raises(RuleViolation) as refused:
        await add_on(org["other"], kudos_id, comment=" ", points="1.5")
    assert refused.value.errors == {"comment": "Add a comment to your +1.", "points": "Points must be a whole number."}
    await give_kudos(org["other"], form(org["ravi"], points="10"))
    with pytest.raises(RuleViolation) as refused:
        await add_on(org["other"], kudos_id, comment="Yes!", points="50")
    assert refused.value.errors == {"points": "You have 90 points left this month; this +1 needs 100."}
    await add_on(org["other"], kudos_id, comment="Yes!", points="")
    with pytest.raises(RuleViolation) as refused:
        await add_on(org["other"], kudos_id, comment="Again", points="")
    assert refused.value.status_code == 409
    assert await AddOn.count() == 1


async def test_revoking_reverses_the_ledger_refunds_this_months_allowance_and_is_audited(org) -> None:
    kudos_id = await _public_kudos(org, points="10")
    await add_on(org["other"], kudos_id, comment="Agreed", points="4")

    await revoke(org["admin"], kudos_id, reason="  Posted by mistake  ")

    kudos = await Kudos.objects().get(Kudos.id == kudos_id)
    assert kudos.revoked_at is not None and kudos.revoke_reason == "Posted by mistake"
    totals = await LedgerEntry.raw(
        "SELECT recipient, sum(amount) AS total, count(*) FILTER (WHERE kind = 'revoke') AS reversals "
        "FROM ledger_entry GROUP BY recipient"
    )
    assert {(t["total"], t["reversals"]) for t in totals} == {(0, 2)}
    assert await allowance.remaining(org["giver"].id, month_of(now())) == (100, 100)
    assert await allowance.remaining(org["other"].id, month_of(now())) == (100, 100)
    audit = await AuditEntry.select().first()
    assert audit["action"] == "kudos.revoke" and audit["actor"] == org["admin"].id
    assert audit["target_id"] == kudos_id
    with pytest.raises(RuleViolation) as refused:
        await revoke(org["admin"], kudos_id, reason="again")
    assert refused.value.status_code == 409
    assert await LedgerEntry.count() == 8


async def test_a_revoke_after_the_month_ended_refunds_nothing(org) -> None:
    last_month = datetime.combine(month_of(now()) - timedelta(days=3), datetime.min.time(), UTC)
    kudos_id = (await give_kudos(org["giver"], form(org["ravi"], points="30"), at=last_month)).kudos_id
    await revoke(org["admin"], kudos_id, reason="Collusion")
    old = await Allowance.select(Allowance.spent).where(Allowance.month == month_of(last_month)).first()
    assert old["spent"] == 30
    assert await allowance.remaining(org["giver"].id, month_of(now())) == (100, 100)


async def test_only_admins_revoke_and_a_reason_is_required(org) -> None:
    kudos_id = await _public_kudos(org)
    with pytest.raises(RuleViolation) as refused:
        await revoke(org["other"], kudos_id, reason="I don't like it")
    assert refused.value.status_code == 403
    with pytest.raises(RuleViolation) as refused:
        await revoke(org["admin"], kudos_id, reason="   ")
    assert refused.value.errors == {"reason": "Give a reason for revoking."}
    assert (await Kudos.objects().get(Kudos.id == kudos_id)).revoked_at is None
    assert await AuditEntry.count() == 0


async def test_the_ledger_is_append_only(org) -> None:
    await _public_kudos(org)
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError, match="append-only"):
        await LedgerEntry.update({LedgerEntry.amount: 1000}).where(LedgerEntry.id > 0)
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError, match="append-only"):
        await LedgerEntry.delete().where(LedgerEntry.id > 0)


async def test_private_kudos_are_seen_only_by_giver_recipients_and_their_managers(org) -> None:
    kudos_id = await _public_kudos(org, visibility="private")
    for viewer in (org["giver"], await user(org["ravi"]), await user(org["boss"])):
        seen = await get_kudos(viewer, kudos_id)
        assert seen is not None and seen.message_visible
    assert await get_kudos(org["other"], kudos_id) is None
    moderated = await get_kudos(org["admin"], kudos_id)
    assert moderated is not None and not moderated.message_visible and moderated.can_revoke
    assert kudos_ids(await feed(org["other"])) == []
    assert [k.id for k in (await feed(await user(org["ravi"]), scope="mine")).items] == [kudos_id]


def kudos_ids(page) -> list[int]:
    """The kudos cards of a feed page (the everyone feed also announces badges earned)."""
    return [item.id for item in page.items if item.type != "badge"]


async def test_the_feed_pages_by_keyset_and_filters_by_department_and_mine(org) -> None:
    start = now() - timedelta(hours=1)
    ids = [
        (
            await give_kudos(
                org["giver"], form(org["ravi"], points="1", message=f"n{n}"), at=start + timedelta(minutes=n)
            )
        ).kudos_id
        for n in range(5)
    ]
    first = await feed(org["other"], limit=2)
    assert kudos_ids(first) == ids[::-1][:2]
    assert first.items[0].recipients[0].name == "Ravi Resolver"
    second = await feed(org["other"], cursor=first.next_cursor, limit=2)
    # a newer kudos arriving between pages does not shift the next page
    await give_kudos(org["giver"], form(org["sam"], points="1", message="newest"))
    third = await feed(org["other"], cursor=second.next_cursor, limit=2)
    assert kudos_ids(second) + kudos_ids(third) == ids[::-1][2:]
    assert third.next_cursor is None

    await revoke(org["admin"], ids[0], reason="test")
    assert ids[0] not in kudos_ids(await feed(org["other"], limit=50))
    ravi = await user(org["ravi"])
    assert len((await feed(ravi, scope="mine", limit=50)).items) == 4
    outsider = await user(await make_employee(department=await make_department("Legal", slug="legal")))
    assert (await feed(outsider, scope="department")).items == []
    assert len((await feed(org["other"], scope="department", limit=50)).items) == 5  # Finance gave them all
