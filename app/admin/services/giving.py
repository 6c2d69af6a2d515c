"""Admin: the rules of giving — company values (the kudos tags) and the allowance policy. No HTTP here; every
change is audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import msgspec

import app.db as db
from app.admin.services.rules import changes, require_admin
from app.audit.services import record as audit
from app.kudos import allowance
from app.kudos.tables import AllowancePolicy, CompanyValue
from app.paging import parse_number
from app.people.services import CurrentUser
from app.rules import RuleViolation

VALUE_NAME_MAX = 60
VALUE_DESCRIPTION_MAX = 300
POSITION_MAX = 1000
BUDGET_MAX = 100_000
VALUE_FIELDS = ("name", "description", "position", "active")


@dataclass(frozen=True, slots=True)
class CompanyValueRow:
    id: int
    name: str
    description: str
    position: int
    active: bool


async def all_values() -> list[CompanyValueRow]:
    rows = (
        await CompanyValue.select(
            CompanyValue.id, CompanyValue.name, CompanyValue.description, CompanyValue.position, CompanyValue.active
        )
        .order_by(CompanyValue.position)
        .order_by(CompanyValue.name)
    )
    return [CompanyValueRow(**row) for row in rows]


@dataclass(frozen=True, slots=True)
class ValueInput:
    """A company value's form as typed (the order as typed, so a refused form shows it again)."""

    name: str = ""
    description: str = ""
    position: str = ""
    active: bool = False

    @property
    def position_value(self) -> int | None:
        return parse_number(self.position, low=0, high=POSITION_MAX)

    def stored(self, *, active: bool | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "position": self.position_value,
            "active": self.active if active is None else active,
        }


class ValueForm(msgspec.Struct, frozen=True):
    name: str = ""
    description: str = ""
    position: str = ""
    active: str = ""

    def values(self) -> ValueInput:
        return ValueInput(
            name=" ".join(self.name.split()),
            description=" ".join(self.description.split()),
            position=self.position.strip() or "0",
            active=self.active == "on",
        )


async def _validate_value(values: ValueInput, value_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = "Name the value."
    elif len(values.name) > VALUE_NAME_MAX:
        errors["name"] = f"Keep the name to {VALUE_NAME_MAX} characters."
    else:
        clash = CompanyValue.exists().where(CompanyValue.name == values.name)
        if value_id is not None:
            clash = clash.where(CompanyValue.id != value_id)
        if await clash:
            errors["name"] = f"There already is a value called {values.name}."
    if len(values.description) > VALUE_DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {VALUE_DESCRIPTION_MAX} characters."
    if values.position_value is None:
        errors["position"] = f"The order is a whole number from 0 to {POSITION_MAX}."
    return errors


async def save_value(admin: CurrentUser, values: ValueInput, value_id: int | None = None) -> str:
    """Add a company value (`value_id` None, active) or change one (deactivating keeps it on past kudos)."""
    require_admin(admin)
    current = None
    if value_id is not None:
        current = (
            await CompanyValue.select(*[getattr(CompanyValue, f) for f in VALUE_FIELDS])
            .where(CompanyValue.id == value_id)
            .first()
        )
        if current is None:
            raise RuleViolation("There is no such company value.", status_code=404)
    if errors := await _validate_value(values, value_id):
        raise RuleViolation(errors)
    stored = values.stored(active=True if current is None else None)  # a new value is offered straight away
    async with db.transaction():
        if current is None:
            row = CompanyValue(**stored)
            await row.save()
            value_id, before, after = row.id, None, stored
            action, summary = "value.create", f"Added company value {values.name}"
        else:
            before, after = changes(current, stored)
            if not after:
                return values.name
            await CompanyValue.update({getattr(CompanyValue, f): stored[f] for f in VALUE_FIELDS}).where(
                CompanyValue.id == value_id
            )
            action, summary = "value.update", f"Edited company value {values.name}: {', '.join(after)}"
        await audit(
            actor_id=admin.id,
            action=action,
            target_type="company_value",
            target_id=value_id,
            summary=summary,
            before=before,
            after=after,
        )
    return values.name


# ------------------------------------------------------------------------------------------------ allowances

POLICY_LABELS = {
    "employee_budget": "Monthly points for employees",
    "manager_budget": "Monthly points for managers",
    "admin_budget": "Monthly points for admins",
    "manager_bonus_per_report": "Manager bonus per active direct report",
    "max_points_per_kudos": "Most points per person in one kudos",
}


class PolicyForm(msgspec.Struct, frozen=True):
    """The allowance policy's form: the figures as typed (a refused form shows them again)."""

    employee_budget: str = ""
    manager_budget: str = ""
    admin_budget: str = ""
    manager_bonus_per_report: str = ""
    max_points_per_kudos: str = ""
    value_required: str = ""

    def policy(self) -> tuple[allowance.Policy, dict[str, str]]:
        """The policy this form asks for, and the errors of the figures that are not allowed."""
        figures: dict[str, int] = {}
        errors: dict[str, str] = {}
        for name, label in POLICY_LABELS.items():
            minimum = 1 if name == "max_points_per_kudos" else 0
            number = parse_number(getattr(self, name).strip(), low=minimum, high=BUDGET_MAX)
            if number is None:
                errors[name] = f"{label}: a whole number from {minimum} to {BUDGET_MAX:,}."
            else:
                figures[name] = number
        if errors:
            return allowance.Policy(), errors
        return allowance.Policy(**figures, value_required=self.value_required == "on"), {}


async def save_policy(admin: CurrentUser, form: PolicyForm) -> bool:
    """Change the giving rules; budgets apply to allowances from the next month a person first gives in (this
    month's rows keep the budget they started with). False when nothing changed."""
    require_admin(admin)
    policy, errors = form.policy()
    if errors:
        raise RuleViolation(errors)
    wanted = asdict(policy)
    before, after = changes(asdict(await allowance.get_policy()), {f.name: wanted[f.name] for f in fields(policy)})
    if not after:
        return False
    async with db.transaction():
        await AllowancePolicy.insert(AllowancePolicy(id=allowance.POLICY_ID)).on_conflict(action="DO NOTHING")
        await AllowancePolicy.update({getattr(AllowancePolicy, name): value for name, value in after.items()}).where(
            AllowancePolicy.id == allowance.POLICY_ID
        )
        await audit(
            actor_id=admin.id,
            action="allowance.update",
            target_type="allowance_policy",
            target_id=allowance.POLICY_ID,
            summary="Changed the allowance policy: " + ", ".join(after),
            before=before,
            after=after,
        )
    return True
