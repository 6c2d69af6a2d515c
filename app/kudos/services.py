"""Giving kudos, add-ons, revokes, the feed and who may see what (SPEC F3 to F6). No HTTP here.

Visibility: a public kudos is seen by every signed-in person; a private one only by its giver, its recipients and
the recipients' managers. Anyone else gets "not found", so a private kudos's existence is not revealed, except to
admins, who see that it exists (to moderate it) but never its message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.api.webhooks import absolute, emit, slack_escape
from app.audit.services import record as audit
from app.boards.badges import award_after_kudos, recent_awards
from app.kudos import allowance
from app.kudos.ledger import Movement, append, reverse_kudos
from app.kudos.tables import AddOn, CompanyValue, EntryKind, Kudos, KudosRecipient, KudosValue, Visibility
from app.notifications.services import mark_done, notify, subject_of
from app.notifications.tables import Kind
from app.paging import Cursor, valid_id
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.requests.tables import Request, RequestResolver, Status
from app.rules import RuleViolation
from app.timeutil import month_of, now
from app.words import excerpt, plural_form

MESSAGE_MAX = 1000
COMMENT_MAX = 500
REASON_MAX = 500
MAX_RECIPIENTS = 20
FEED_PAGE = 20
BADGES_PER_PAGE = 20  # at most, between two pages' worth of kudos
FEED_SCOPES = ("all", "department", "mine")


def thank_url(request_id: int) -> str:
    """Where "Thank now" leads: the give form with the request's resolvers chosen and the request linked."""
    return f"/kudos/new?request={request_id}"


def new_idempotency_key() -> str:
    """A fresh key for a give form: a double-submitted form carries the same key and creates one kudos."""
    return uuid.uuid4().hex


def parse_points(raw: object, maximum: int) -> tuple[int | None, str | None]:
    """Whole points from 0 to `maximum`; (points, None) or (None, message)."""
    text = str(raw).strip() if raw is not None else ""
    if text == "":
        return 0, None
    try:
        points = int(text)
    except ValueError:
        return None, "Points must be a whole number."
    if points < 0:
        return None, "Points can't be negative."
    if points > maximum:
        return None, f"At most {maximum} points per person per kudos."
    return points, None


def _trimmed_text(raw: object, *, maximum: int, empty: str, noun: str) -> tuple[str, str | None]:
    text = str(raw or "").strip()
    if not text:
        return text, empty
    if len(text) > maximum:
        return text, f"Keep the {noun} to {maximum} characters (it has {len(text)})."
    return text, None


@dataclass(slots=True)
class GiveForm:
    """What the give form holds; services validate it and controllers re-render it with errors."""

    recipient_ids: list[int] = field(default_factory=list)
    message: str = ""
    value_ids: list[int] = field(default_factory=list)
    points: str = "10"
    visibility: str = Visibility.PUBLIC
    request_id: int | None = None
    idempotency_key: str = field(default_factory=new_idempotency_key)


@dataclass(frozen=True, slots=True)
class Given:
    kudos_id: int
    remaining: int
    created: bool  # False when the same form was submitted before: the existing kudos is returned


async def company_values(*, active_only: bool = True) -> list[dict]:
    query = CompanyValue.select(CompanyValue.id, CompanyValue.name, CompanyValue.description)
    if active_only:
        query = query.where(CompanyValue.active.eq(True))
    return await query.order_by(CompanyValue.position).order_by(CompanyValue.name)


async def people_by_id(ids: Iterable[int]) -> dict[int, dict]:
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    rows = await Employee.select(
        Employee.id, Employee.name, Employee.title, Employee.active, Employee.department.name.as_alias("department")
    ).where(Employee.id.is_in(ids))
    return {row["id"]: row for row in rows}


async def request_for_thanks(request_id: int) -> dict | None:
    """A request with its status and resolvers, for linking a kudos to it."""
    row = (
        await Request.select(Request.id, Request.title, Request.status, Request.requester)
        .where(Request.id == request_id)
        .first()
    )
    if row is None:
        return None
    resolvers = await RequestResolver.select(
        RequestResolver.employee.as_alias("id"), RequestResolver.employee.name.as_alias("name")
    ).where(RequestResolver.request == request_id)
    row["resolvers"] = sorted(resolvers, key=lambda r: r["name"])
    return row


async def validate_give(giver: CurrentUser, form: GiveForm) -> tuple[dict[str, str], dict]:
    """Field errors for a give form (empty when valid) and the cleaned values."""
    errors: dict[str, str] = {}
    policy = await allowance.get_policy()
    recipients = list(dict.fromkeys(form.recipient_ids))
    people = await people_by_id(recipients)
    if not recipients:
        errors["recipients"] = "Choose at least one person to thank."
    elif giver.id in recipients:
        errors["recipients"] = "You can't give kudos to yourself."
    elif len(recipients) > MAX_RECIPIENTS:
        errors["recipients"] = f"Thank at most {MAX_RECIPIENTS} people in one kudos."
    elif missing := [r for r in recipients if r not in people]:
        errors["recipients"] = (
            f"{len(missing)} of the people you chose {plural_form(len(missing), 'is')} not in the directory."
        )
    elif inactive := [people[r]["name"] for r in recipients if not people[r]["active"]]:
        errors["recipients"] = f"{', '.join(inactive)} no longer {plural_form(len(inactive), 'works', 'work')} here."

    message, problem = _trimmed_text(
        form.message, maximum=MESSAGE_MAX, empty="Write a message to say what they did.", noun="message"
    )
    if problem:
        errors["message"] = problem

    values = list(dict.fromkeys(form.value_ids))
    if values:
        known = {row["id"] for row in await company_values()}
        if any(v not in known for v in values):
            errors["values"] = "Pick company values from the list."
    elif policy.value_required:
        errors["values"] = "Pick at least one company value."

    points, problem = parse_points(form.points, policy.max_points_per_kudos)
    if problem:
        errors["points"] = problem

    if form.visibility not in {Visibility.PUBLIC, Visibility.PRIVATE}:
        errors["visibility"] = "Choose public or private."

    if form.request_id is not None:
        request = await request_for_thanks(form.request_id)
        if request is None:
            errors["request"] = "That request does not exist."
        elif request["status"] != Status.COMPLETED:
            errors["request"] = "You can link a kudos only to a completed request."
        elif "recipients" not in errors and recipients:
            resolver_ids = {r["id"] for r in request["resolvers"]}
            if outsiders := [people[r]["name"] for r in recipients if r not in resolver_ids]:
                errors["recipients"] = (
                    f"{', '.join(outsiders)} did not work on “{request['title']}”; "
                    "a kudos linked to a request thanks its resolvers."
                )
    cleaned = {
        "recipients": recipients,
        "names": [people[r]["name"] for r in recipients if r in people],
        "message": message,
        "values": values,
        "points": points or 0,
    }
    return errors, cleaned


async def give_kudos(giver: CurrentUser, form: GiveForm, *, at: datetime | None = None) -> Given:
    """Give a kudos in one transaction: allowance, kudos, recipients, values, ledger, notifications."""
    moment = at or now()
    errors, cleaned = await validate_give(giver, form)
    if errors:
        raise RuleViolation(errors)
    recipients: list[int] = cleaned["recipients"]
    points: int = cleaned["points"]
    month = month_of(moment)
    async with Kudos._meta.db.transaction():
        inserted = (
            await Kudos.insert(
                Kudos(
                    giver=giver.id,
                    message=cleaned["message"],
                    points=points,
                    visibility=form.visibility,
                    request=form.request_id,
                    month=month,
                    idempotency_key=form.idempotency_key[:64],
                    created_at=moment,
                )
            )
            .on_conflict(target=(Kudos.giver, Kudos.idempotency_key), action="DO NOTHING")
            .returning(Kudos.id)
        )
        if not inserted:
            existing = (
                await Kudos.select(Kudos.id)
                .where((Kudos.giver == giver.id) & (Kudos.idempotency_key == form.idempotency_key[:64]))
                .first()
            )
            left, _ = await allowance.remaining(giver.id, month)
            return Given(kudos_id=existing["id"], remaining=left, created=False)
        kudos_id = inserted[0]["id"]
        left = await allowance.spend(giver.id, month, points * len(recipients))
        if left is None:
            have, _ = await allowance.remaining(giver.id, month)
            raise RuleViolation(
                {"points": f"You have {have} points left this month; this kudos needs {points * len(recipients)}."}
            )
        await KudosRecipient.insert(*[KudosRecipient(kudos=kudos_id, employee=r) for r in recipients])
        if cleaned["values"]:
            await KudosValue.insert(*[KudosValue(kudos=kudos_id, value=v) for v in cleaned["values"]])
        await append(
            [Movement(EntryKind.KUDOS, kudos_id, giver.id, r, points) for r in recipients],
            at=moment,
        )
        await notify(
            recipients,
            Kind.KUDOS_RECEIVED,
            text=f"{giver.name} thanked you{f' (+{points} points)' if points else ''}: “{excerpt(cleaned['message'])}”",
            url=f"/kudos/{kudos_id}",
            actor_id=giver.id,
            at=moment,
        )
        if form.request_id is not None:
            # whoever thanks the people who did the request, its "Thank now" prompt has done its job
            await mark_done(Kind.REQUEST_COMPLETED, subject_of("request", form.request_id), at=moment)
        await award_after_kudos(giver.id, recipients, at=moment)
        if form.visibility == Visibility.PUBLIC:
            await _announce(giver, kudos_id, cleaned, form.request_id, at=moment)
    return Given(kudos_id=kudos_id, remaining=left, created=True)


async def _announce(giver: CurrentUser, kudos_id: int, cleaned: dict, request_id: int | None, *, at: datetime) -> None:
    """The `kudos.given` webhook event of a public kudos (inside give_kudos's transaction)."""
    url = absolute(f"/kudos/{kudos_id}")
    names = slack_escape(", ".join(cleaned["names"]))
    points = f" (+{cleaned['points']} points)" if cleaned["points"] else ""
    said = slack_escape(excerpt(cleaned["message"], 200))
    await emit(
        "kudos.given",
        {
            "text": f"{slack_escape(giver.name)} thanked {names}{points}: “{said}” <{url}|View kudos>",
            "kudos": {
                "id": kudos_id,
                "url": url,
                "message": cleaned["message"],
                "points": cleaned["points"],
                "giver": {"id": giver.id, "name": giver.name},
                "recipients": [
                    {"id": i, "name": n} for i, n in zip(cleaned["recipients"], cleaned["names"], strict=True)
                ],
                "request_id": request_id,
            },
        },
        at=at,
    )


async def _kudos_row(kudos_id: int) -> dict | None:
    return (
        await Kudos.select(
            Kudos.id,
            Kudos.giver,
            Kudos.message,
            Kudos.points,
            Kudos.visibility,
            Kudos.month,
            Kudos.revoked_at,
            Kudos.request,
        )
        .where(Kudos.id == kudos_id)
        .first()
    )


async def _recipient_ids(kudos_id: int) -> list[int]:
    rows = await KudosRecipient.select(KudosRecipient.employee).where(KudosRecipient.kudos == kudos_id)
    return [row["employee"] for row in rows]


async def add_on(giver: CurrentUser, kudos_id: int, *, comment: str, points: object, at: datetime | None = None) -> int:
    """Join a public kudos with a "+1": a comment and optional points for each of its recipients."""
    moment = at or now()
    kudos = await _kudos_row(kudos_id)
    if kudos is None:
        raise RuleViolation("That kudos does not exist.", status_code=404)
    recipients = await _recipient_ids(kudos_id)
    if kudos["visibility"] != Visibility.PUBLIC:
        if giver.id != kudos["giver"] and giver.id not in recipients and not await _manages_any(giver.id, recipients):
            raise RuleViolation("That kudos does not exist.", status_code=404)
        raise RuleViolation("You can add on only to a public kudos.", status_code=403)
    if kudos["revoked_at"] is not None:
        raise RuleViolation("This kudos was revoked.", status_code=409)
    if giver.id == kudos["giver"]:
        raise RuleViolation("You can't add on to your own kudos.", status_code=403)
    if giver.id in recipients:
        raise RuleViolation("You can't add on to a kudos you received.", status_code=403)
    errors: dict[str, str] = {}
    text, problem = _trimmed_text(comment, maximum=COMMENT_MAX, empty="Add a comment to your +1.", noun="comment")
    if problem:
        errors["comment"] = problem
    policy = await allowance.get_policy()
    amount, problem = parse_points(points, policy.max_points_per_kudos)
    if problem:
        errors["points"] = problem
    if errors:
        raise RuleViolation(errors)
    amount = amount or 0
    month = month_of(moment)
    async with AddOn._meta.db.transaction():
        inserted = (
            await AddOn.insert(
                AddOn(kudos=kudos_id, giver=giver.id, comment=text, points=amount, month=month, created_at=moment)
            )
            .on_conflict(target=(AddOn.kudos, AddOn.giver), action="DO NOTHING")
            .returning(AddOn.id)
        )
        if not inserted:
            raise RuleViolation({"comment": "You have already added your +1 to this kudos."}, status_code=409)
        addon_id = inserted[0]["id"]
        if await allowance.spend(giver.id, month, amount * len(recipients)) is None:
            have, _ = await allowance.remaining(giver.id, month)
            raise RuleViolation(
                {"points": f"You have {have} points left this month; this +1 needs {amount * len(recipients)}."}
            )
        await append(
            [Movement(EntryKind.ADDON, kudos_id, giver.id, r, amount, addon_id) for r in recipients], at=moment
        )
        await notify(
            [*recipients, kudos["giver"]],
            Kind.ADDON_RECEIVED,
            text=f"{giver.name} added +1{f' ({amount} points each)' if amount else ''}: “{excerpt(text)}”",
            url=f"/kudos/{kudos_id}",
            actor_id=giver.id,
            at=moment,
        )
    return addon_id


async def revoke(admin: CurrentUser, kudos_id: int, *, reason: str, at: datetime | None = None) -> None:
    """Revoke a kudos (admins only): negative ledger entries, never a delete. Allowance spent on it (and on its
    add-ons) goes back to the giver only while the month it was spent in is still running."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins can revoke kudos.", status_code=403)
    text, problem = _trimmed_text(reason, maximum=REASON_MAX, empty="Give a reason for revoking.", noun="reason")
    if problem:
        raise RuleViolation({"reason": problem})
    current_month = month_of(moment)
    if not valid_id(kudos_id):
        raise RuleViolation("That kudos does not exist.", status_code=404)
    async with Kudos._meta.db.transaction():
        rows = await Kudos.raw(
            "SELECT id, giver, points, month, revoked_at FROM kudos WHERE id = {} FOR UPDATE", kudos_id
        )
        if not rows:
            raise RuleViolation("That kudos does not exist.", status_code=404)
        kudos = rows[0]
        if kudos["revoked_at"] is not None:
            raise RuleViolation("This kudos was already revoked.", status_code=409)
        await Kudos.update({Kudos.revoked_at: moment, Kudos.revoked_by: admin.id, Kudos.revoke_reason: text}).where(
            Kudos.id == kudos_id
        )
        originals = await reverse_kudos(kudos_id, at=moment)
        recipients = len({row["recipient"] for row in originals})
        refunds: list[dict] = []
        if kudos["month"] == current_month and kudos["points"]:
            refunds.append({"giver": kudos["giver"], "points": kudos["points"] * recipients})
        addons = await AddOn.select(AddOn.giver, AddOn.points, AddOn.month).where(AddOn.kudos == kudos_id)
        refunds += [
            {"giver": a["giver"], "points": a["points"] * recipients}
            for a in addons
            if a["month"] == current_month and a["points"]
        ]
        for refund in refunds:
            await allowance.refund(refund["giver"], current_month, refund["points"])
        await audit(
            actor_id=admin.id,
            action="kudos.revoke",
            target_type="kudos",
            target_id=kudos_id,
            summary=f"Revoked kudos #{kudos_id}: {text}",
            before={"revoked": False},
            after={"revoked": True, "reason": text, "refunded": refunds},
            at=moment,
        )


async def _manages_any(employee_id: int, people: Sequence[int]) -> bool:
    if not people:
        return False
    return await Employee.exists().where(Employee.id.is_in(list(people)) & (Employee.manager == employee_id))


async def may_see_message(user: CurrentUser, kudos: dict, recipients: Sequence[int]) -> bool:
    if kudos["visibility"] == Visibility.PUBLIC:
        return True
    return user.id == kudos["giver"] or user.id in recipients or await _manages_any(user.id, recipients)


# ---------------------------------------------------------------------------------------------------- reading


_CARD_SQL = """
    SELECT k.id, k.message, k.points, k.visibility, k.created_at, k.revoked_at, k.revoke_reason, k.request,
           k.giver AS giver_id, g.name AS giver_name, g.title AS giver_title, r.title AS request_title,
           (SELECT count(*) FROM add_on a WHERE a.kudos = k.id) AS addon_count
    FROM kudos k JOIN employee g ON g.id = k.giver LEFT JOIN request r ON r.id = k.request
"""


async def _cards(rows: list[dict]) -> list[dict]:
    """Attach recipients and values to kudos rows: two batched queries, whatever the number of rows."""
    ids = [row["id"] for row in rows]
    if not ids:
        return rows
    recipients = await KudosRecipient.select(
        KudosRecipient.kudos,
        KudosRecipient.employee.as_alias("id"),
        KudosRecipient.employee.name.as_alias("name"),
        KudosRecipient.employee.manager.as_alias("manager"),
        KudosRecipient.employee.department.name.as_alias("department"),
    ).where(KudosRecipient.kudos.is_in(ids))
    values = await KudosValue.select(KudosValue.kudos, KudosValue.value.name.as_alias("name")).where(
        KudosValue.kudos.is_in(ids)
    )
    by_kudos: dict[int, dict[str, list]] = {i: {"recipients": [], "values": []} for i in ids}
    for row in sorted(recipients, key=lambda r: r["name"]):
        by_kudos[row["kudos"]]["recipients"].append(row)
    for row in sorted(values, key=lambda r: r["name"]):
        by_kudos[row["kudos"]]["values"].append(row["name"])
    for row in rows:
        row.update(by_kudos[row["id"]])
    return rows


async def recent_public(employee_id: int, *, received: bool, limit: int = 5) -> list[dict]:
    """A person's newest public kudos that stand (not revoked), as feed cards: those they received, or with
    `received=False` those they gave. Private kudos are never included, whoever is looking (for profiles)."""
    if not valid_id(employee_id):
        return []
    whose = "JOIN kudos_recipient kr ON kr.kudos = k.id WHERE kr.employee = {}" if received else "WHERE k.giver = {}"
    rows = await Kudos.raw(
        f"{_CARD_SQL} {whose} AND k.revoked_at IS NULL AND k.visibility = 'public' "
        "ORDER BY k.created_at DESC, k.id DESC LIMIT {}",
        employee_id,
        limit,
    )
    return await _cards(rows)


@dataclass(frozen=True, slots=True)
class FeedPage:
    scope: str
    items: list[dict]
    next_cursor: str | None


async def feed(user: CurrentUser, *, scope: str = "all", cursor: str | None = None, limit: int = FEED_PAGE) -> FeedPage:
    """Kudos newest first, paged by keyset on (created_at, id). `all` and `department` show public kudos;
    `mine` shows the kudos I gave or received, private ones included. Revoked kudos leave the feed."""
    scope = scope if scope in FEED_SCOPES else "all"
    conditions = ["k.revoked_at IS NULL"]
    args: list[object] = []
    if scope == "mine":
        conditions.append(
            "(k.giver = {} OR EXISTS (SELECT 1 FROM kudos_recipient kr WHERE kr.kudos = k.id AND kr.employee = {}))"
        )
        args += [user.id, user.id]
    else:
        conditions.append("k.visibility = 'public'")
        if scope == "department":
            conditions.append(
                "(g.department = {} OR EXISTS (SELECT 1 FROM kudos_recipient kr JOIN employee e ON e.id = kr.employee "
                "WHERE kr.kudos = k.id AND e.department = {}))"
            )
            args += [user.department_id, user.department_id]
    if (position := Cursor.decode(cursor)) is not None:
        conditions.append("(k.created_at, k.id) < ({}, {})")
        args += [position.created_at, position.id]
    sql = f"{_CARD_SQL} WHERE {' AND '.join(conditions)} ORDER BY k.created_at DESC, k.id DESC LIMIT {{}}"
    rows = await Kudos.raw(sql, *args, limit + 1)
    items = await _cards(rows[:limit])
    last = rows[limit - 1] if len(rows) > limit else None
    if scope == "all":
        # Badges earned and award winners are announced in the everyone feed: those between this page's first and
        # last card.
        before = Cursor(position.created_at, 0) if position is not None else None
        awards = await recent_awards(BADGES_PER_PAGE, before, since=last["created_at"] if last else None)
        from app.awards.queries import recent_announcements  # awards build on kudos: imported when used

        announced = await recent_announcements(BADGES_PER_PAGE, before, since=last["created_at"] if last else None)
        items = sorted(items + awards + announced, key=lambda item: item["created_at"], reverse=True)
    return FeedPage(
        scope=scope, items=items, next_cursor=Cursor(last["created_at"], last["id"]).encode() if last else None
    )


async def get_kudos(user: CurrentUser, kudos_id: int) -> dict | None:
    """One kudos with its add-ons as `user` may see it, or None (also when it is private and not theirs)."""
    if not valid_id(kudos_id):
        return None
    rows = await Kudos.raw(f"{_CARD_SQL} WHERE k.id = {{}}", kudos_id)
    if not rows:
        return None
    kudos = (await _cards(rows))[0]
    kudos["giver"] = kudos["giver_id"]
    recipient_ids = [r["id"] for r in kudos["recipients"]]
    kudos["message_visible"] = await may_see_message(user, kudos, recipient_ids)
    if not kudos["message_visible"] and not user.is_admin:
        return None
    kudos["addons"] = (
        await AddOn.select(
            AddOn.id,
            AddOn.comment,
            AddOn.points,
            AddOn.created_at,
            AddOn.giver.as_alias("giver_id"),
            AddOn.giver.name.as_alias("giver_name"),
        )
        .where(AddOn.kudos == kudos_id)
        .order_by(AddOn.created_at)
    )
    involved = user.id == kudos["giver_id"] or user.id in recipient_ids
    already = any(a["giver_id"] == user.id for a in kudos["addons"])
    kudos["can_add_on"] = (
        kudos["visibility"] == Visibility.PUBLIC and kudos["revoked_at"] is None and not involved and not already
    )
    kudos["can_revoke"] = user.is_admin and kudos["revoked_at"] is None
    return kudos
