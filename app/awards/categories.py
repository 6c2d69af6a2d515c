"""Award categories (SPEC F9): what managers nominate for, managed by admins.

A category nominates people or departments, allows 1 to 10 winners a month and ranks its shortlist by one figure
(app.awards.shortlist.FIGURES). Who can be nominated is fixed once the category has nominations.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

import app.db as db
from app.audit.services import record as audit
from app.awards.shortlist import FIGURES, REFRESH_JOB
from app.awards.tables import AwardCategory, Nomination, NomineeKind
from app.jobs.outbox import add_job, one_at_a_time
from app.likeness import like_literal
from app.paging import valid_id
from app.people.services import CurrentUser
from app.rules import RuleViolation

CATEGORY_NAME_MAX = 80
DESCRIPTION_MAX = 500
MAX_WINNERS = 10


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    name: str
    description: str
    nominee_kind: str
    winners: int
    shortlist: str
    position: int
    active: bool

    @property
    def for_people(self) -> bool:
        return self.nominee_kind == NomineeKind.PERSON


class CategoryForm(msgspec.Struct, frozen=True):
    """The admin's category form, as sent."""

    name: str = ""
    description: str = ""
    nominee_kind: str = ""
    winners: str = ""
    shortlist: str = ""
    active: str = ""


@dataclass(frozen=True, slots=True)
class _Values:
    """A category form, checked: the columns to write."""

    name: str
    description: str
    nominee_kind: str
    winners: int
    shortlist: str
    active: bool

    def columns(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "nominee_kind": self.nominee_kind,
            "winners": self.winners,
            "shortlist": self.shortlist,
            "active": self.active,
        }


async def categories(*, active_only: bool = True) -> list[Category]:
    query = AwardCategory.select()
    if active_only:
        query = query.where(AwardCategory.active.eq(True))
    rows = await query.order_by(AwardCategory.position).order_by(AwardCategory.name)
    return [Category(**row) for row in rows]


async def get_category(category_id: int | None) -> Category | None:
    if not valid_id(category_id):
        return None
    row = await AwardCategory.select().where(AwardCategory.id == category_id).first()
    return Category(**row) if row else None


def _checked(form: CategoryForm) -> tuple[_Values, dict[str, str]]:
    errors: dict[str, str] = {}
    name = " ".join(form.name.split())
    if not name:
        errors["name"] = "Give the category a name."
    elif len(name) > CATEGORY_NAME_MAX:
        errors["name"] = f"Keep the name to {CATEGORY_NAME_MAX} characters."
    description = form.description.strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX} characters (it has {len(description)})."
    kind = form.nominee_kind
    if kind not in {k.value for k in NomineeKind}:
        errors["nominee_kind"] = "Choose whether a person or a department is nominated."
    winners_text = form.winners.strip()
    winners = int(winners_text) if winners_text.isascii() and winners_text.isdigit() else 0
    if not 1 <= winners <= MAX_WINNERS:
        errors["winners"] = f"Allow from 1 to {MAX_WINNERS} winners."
    if kind in FIGURES and form.shortlist not in FIGURES[kind]:
        errors["shortlist"] = f"Choose what the shortlist ranks {'people' if kind == 'person' else 'departments'} by."
    values = _Values(
        name=name,
        description=description,
        nominee_kind=kind,
        winners=winners,
        shortlist=form.shortlist,
        active=form.active in {"1", "on", "true"},
    )
    return values, errors


async def save_category(admin: CurrentUser, form: CategoryForm, category_id: int | None = None) -> int:
    """Create a category, or update `category_id` (admins only). Its kind is fixed once it has nominations."""
    if not admin.is_admin:
        raise RuleViolation("Only admins manage award categories.", status_code=403)
    before = await get_category(category_id) if category_id is not None else None
    if category_id is not None and before is None:
        raise RuleViolation("There is no such award category.", status_code=404)
    values, errors = _checked(form)
    if not errors and await AwardCategory.exists().where(
        AwardCategory.name.ilike(like_literal(values.name)) & (AwardCategory.id != (category_id or 0))
    ):
        errors["name"] = "Another category already has this name."
    if (
        not errors
        and before is not None
        and before.nominee_kind != values.nominee_kind
        and await Nomination.exists().where(Nomination.category == before.id)
    ):
        errors["nominee_kind"] = "This category has nominations: who can be nominated can no longer change."
    if errors:
        raise RuleViolation(errors)
    after = values.columns()
    async with db.transaction():
        if before is None:
            position = (await AwardCategory.count()) + 1
            rows = await AwardCategory.insert(
                AwardCategory(
                    name=values.name,
                    description=values.description,
                    nominee_kind=values.nominee_kind,
                    winners=values.winners,
                    shortlist=values.shortlist,
                    active=values.active,
                    position=position,
                )
            ).returning(AwardCategory.id)
            saved_id: int = rows[0]["id"]
        else:
            saved_id = before.id
            await AwardCategory.update({getattr(AwardCategory, name): value for name, value in after.items()}).where(
                AwardCategory.id == saved_id
            )
        await audit(
            actor_id=admin.id,
            action="awards.category",
            target_type="award_category",
            target_id=saved_id,
            summary=f"{'Updated' if before else 'Created'} award category “{values.name}”.",
            before={name: getattr(before, name) for name in after} if before else None,
            after=after,
        )
        # the open cycle's list for this category is now missing or ranked by another figure: computed at once
        await add_job(REFRESH_JOB, **one_at_a_time(REFRESH_JOB))
    return saved_id
