"""Admin: company values (the kudos tags) and the allowance policy. No HTTP here; every change is audited."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from app import db
from app.admin.people import changes, require_admin
from app.audit.services import record as audit
from app.kudos import allowance
from app.kudos.tables import AllowancePolicy, CompanyValue
from app.people.services import CurrentUser
from app.rules import RuleViolation

VALUE_NAME_MAX = 60
VALUE_DESCRIPTION_MAX = 300
BUDGET_MAX = 100_000
VALUE_FIELDS = ("name", "description", "position", "active")


async def all_values() -> list[dict]:
    return (
        await CompanyValue.select(
            CompanyValue.id, CompanyValue.name, CompanyValue.description, CompanyValue.position, CompanyValue.active
        )
        .order_by(CompanyValue.position)
        .order_by(CompanyValue.name)
    )


def value_form(form: Any) -> dict[str, Any]:
    return {
        "name": " ".join(str(form.get("name") or "").split()),
        "description": " ".join(str(form.get("description") or "").split()),
        "position": str(form.get("position") or "0").strip(),
        "active": str(form.get("active") or "") == "on",
    }


async def _validate_value(values: dict[str, Any], value_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Name the value."
    elif len(values["name"]) > VALUE_NAME_MAX:
        errors["name"] = f"Keep the name to {VALUE_NAME_MAX} characters."
    else:
        clash = CompanyValue.exists().where(CompanyValue.name == values["name"])
        if value_id is not None:
            clash = clash.where(CompanyValue.id != value_id)
        if await clash:
            errors["name"] = f"There already is a value called {values['name']}."
    if len(values["description"]) > VALUE_DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {VALUE_DESCRIPTION_MAX} characters."
    position = values["position"]
    if not (position.isascii() and position.isdigit()) or int(position) > 1000:
        errors["position"] = "The order is a whole number from 0 to 1000."
    else:
        values["position"] = int(position)
    return errors


async def save_value(admin: CurrentUser, values: dict[str, Any], value_id: int | None = None) -> str:
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
    else:
        values["active"] = True
    if errors := await _validate_value(values, value_id):
        raise RuleViolation(errors)
    async with db.transaction():
        if current is None:
            row = CompanyValue(**values)
            await row.save()
            value_id, before, after = row.id, None, dict(values)
            action, summary = "value.create", f"Added company value {values['name']}"
        else:
            before, after = changes(current, values)
            if not after:
                return values["name"]
            await CompanyValue.update({getattr(CompanyValue, f): values[f] for f in VALUE_FIELDS}).where(
                CompanyValue.id == value_id
            )
            action, summary = "value.update", f"Edited company value {values['name']}: {', '.join(after)}"
        await audit(
            actor_id=admin.id,
            action=action,
            target_type="company_value",
            target_id=value_id,
            summary=summary,
            before=before,
            after=after,
        )
    return values["name"]


# ------------------------------------------------------------------------------------------------ allowances

POLICY_LABELS = {
    "employee_budget": "Monthly points for employees",
    "manager_budget": "Monthly points for managers",
    "admin_budget": "Monthly points for admins",
    "manager_bonus_per_report": "Manager bonus per active direct report",
    "max_points_per_kudos": "Most points per person in one kudos",
}


def policy_form(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in POLICY_LABELS}
    values["value_required"] = str(form.get("value_required") or "") == "on"
    return values


async def save_policy(admin: CurrentUser, values: dict[str, Any]) -> bool:
    """Change the giving rules; budgets apply to allowances from the next month a person first gives in (this
    month's rows keep the budget they started with). False when nothing changed."""
    require_admin(admin)
    errors: dict[str, str] = {}
    for name, label in POLICY_LABELS.items():
        text = values[name]
        minimum = 1 if name == "max_points_per_kudos" else 0
        if not (text.isascii() and text.isdigit()) or not minimum <= int(text) <= BUDGET_MAX:
            errors[name] = f"{label}: a whole number from {minimum} to {BUDGET_MAX:,}."
        else:
            values[name] = int(text)
    if errors:
        raise RuleViolation(errors)
    current = asdict(await allowance.get_policy())
    before, after = changes(current, {f.name: values[f.name] for f in fields(allowance.Policy)})
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
