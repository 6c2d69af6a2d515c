"""Add-ons ("+1") and revokes of a kudos (SPEC F4, F6), and who may see a kudos's message. No HTTP here.

Visibility: a public kudos is seen by every signed-in person; a private one only by its giver, its recipients and
the recipients' managers. Anyone else gets "not found", so a private kudos's existence is not revealed, except to
admins, who see that it exists (to moderate it) but never its message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import app.db as db
from app.audit.services import record as audit
from app.events import AddOnGiven, KudosRevoked, publish
from app.kudos import allowance
from app.kudos.forms import COMMENT_MAX, REASON_MAX, parse_points, trimmed_text
from app.kudos.ledger import Movement, append, reverse_kudos
from app.kudos.tables import AddOn, EntryKind, Kudos, KudosRecipient, Visibility
from app.paging import valid_id
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.rules import RuleViolation
from app.timeutil import month_of, now

_LOCK_KUDOS_SQL = "SELECT id, giver, points, month, revoked_at FROM kudos WHERE id = {} FOR UPDATE"


@dataclass(frozen=True, slots=True)
class _Joined:
    """What adding on to a kudos checks of it."""

    giver: int
    visibility: str
    revoked_at: datetime | None


async def _joined(kudos_id: int) -> _Joined | None:
    row = await Kudos.select(Kudos.giver, Kudos.visibility, Kudos.revoked_at).where(Kudos.id == kudos_id).first()
    return _Joined(**row) if row else None


async def _recipient_ids(kudos_id: int) -> list[int]:
    rows = await KudosRecipient.select(KudosRecipient.employee).where(KudosRecipient.kudos == kudos_id)
    return [row["employee"] for row in rows]


async def add_on(giver: CurrentUser, kudos_id: int, *, comment: str, points: object, at: datetime | None = None) -> int:
    """Join a public kudos with a "+1": a comment and optional points for each of its recipients."""
    moment = at or now()
    kudos = await _joined(kudos_id)
    if kudos is None:
        raise RuleViolation("That kudos does not exist.", status_code=404)
    recipients = await _recipient_ids(kudos_id)
    if kudos.visibility != Visibility.PUBLIC:
        if giver.id != kudos.giver and giver.id not in recipients and not await _manages_any(giver.id, recipients):
            raise RuleViolation("That kudos does not exist.", status_code=404)
        raise RuleViolation("You can add on only to a public kudos.", status_code=403)
    if kudos.revoked_at is not None:
        raise RuleViolation("This kudos was revoked.", status_code=409)
    if giver.id == kudos.giver:
        raise RuleViolation("You can't add on to your own kudos.", status_code=403)
    if giver.id in recipients:
        raise RuleViolation("You can't add on to a kudos you received.", status_code=403)
    errors: dict[str, str] = {}
    text, problem = trimmed_text(comment, maximum=COMMENT_MAX, empty="Add a comment to your +1.", noun="comment")
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
    async with db.transaction():
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
        await publish(
            AddOnGiven(
                addon_id=addon_id,
                kudos_id=kudos_id,
                giver_id=giver.id,
                kudos_giver_id=kudos.giver,
                recipient_ids=tuple(recipients),
                points=amount,
                at=moment,
            )
        )
    return int(addon_id)


async def revoke(admin: CurrentUser, kudos_id: int, *, reason: str, at: datetime | None = None) -> None:
    """Revoke a kudos (admins only): negative ledger entries, never a delete. Allowance spent on it (and on its
    add-ons) goes back to the giver only while the month it was spent in is still running."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins can revoke kudos.", status_code=403)
    text, problem = trimmed_text(reason, maximum=REASON_MAX, empty="Give a reason for revoking.", noun="reason")
    if problem:
        raise RuleViolation({"reason": problem})
    current_month = month_of(moment)
    if not valid_id(kudos_id):
        raise RuleViolation("That kudos does not exist.", status_code=404)
    async with db.transaction():
        rows = await Kudos.raw(_LOCK_KUDOS_SQL, kudos_id)
        if not rows:
            raise RuleViolation("That kudos does not exist.", status_code=404)
        kudos = rows[0]
        if kudos["revoked_at"] is not None:
            raise RuleViolation("This kudos was already revoked.", status_code=409)
        await Kudos.update({Kudos.revoked_at: moment, Kudos.revoked_by: admin.id, Kudos.revoke_reason: text}).where(
            Kudos.id == kudos_id
        )
        reversed_lines = await reverse_kudos(kudos_id, at=moment)
        recipients = len({line.recipient for line in reversed_lines})
        refunds: list[dict[str, Any]] = []
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
        await publish(KudosRevoked(kudos_id=kudos_id, revoked_by=admin.id, at=moment))


async def _manages_any(employee_id: int, people: Sequence[int]) -> bool:
    if not people:
        return False
    return await Employee.exists().where(Employee.id.is_in(list(people)) & (Employee.manager == employee_id))


async def may_see_message(user: CurrentUser, visibility: str, giver_id: int, recipients: Sequence[int]) -> bool:
    if visibility == Visibility.PUBLIC:
        return True
    return user.id == giver_id or user.id in recipients or await _manages_any(user.id, recipients)
