"""Admin: a department's service catalogue — what it helps with, its hours and the turnaround it promises (its
scorecard measures against it). No HTTP here; every change is audited."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import msgspec

import app.db as db
from app.admin.services.departments import DESCRIPTION_MAX, department_for_change
from app.admin.services.rules import changes, require_admin
from app.audit.services import record as audit
from app.paging import parse_number
from app.people.services import CurrentUser
from app.people.tables import Service
from app.rules import RuleViolation

SERVICE_NAME_MAX = 160
HOURS_MAX = 160
TARGET_HOURS_MAX = 10000
SERVICE_FIELDS = ("name", "description", "hours", "target_hours", "active")


@dataclass(frozen=True, slots=True)
class ServiceValues:
    """A catalogue entry's fields as typed (the target as typed, so a refused form shows it again)."""

    name: str = ""
    description: str = ""
    hours: str = ""
    target_hours: str = ""
    active: bool = True

    @property
    def target(self) -> int | None:
        return parse_number(self.target_hours, low=1, high=TARGET_HOURS_MAX)

    def audited(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "hours": self.hours,
                "target_hours": self.target, "active": self.active}  # fmt: skip


class ServiceForm(msgspec.Struct, frozen=True):
    name: str = ""
    description: str = ""
    hours: str = ""
    target_hours: str = ""
    active: str = ""

    def values(self) -> ServiceValues:
        return ServiceValues(
            name=" ".join(self.name.split()),
            description=self.description.strip(),
            hours=" ".join(self.hours.split()),
            target_hours=self.target_hours.strip(),
            active=self.active == "on",
        )


async def _validate_service(department_id: int, values: ServiceValues, service_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = "Name the service."
    elif len(values.name) > SERVICE_NAME_MAX:
        errors["name"] = f"Keep the name to {SERVICE_NAME_MAX} characters."
    else:
        clash = Service.exists().where((Service.department == department_id) & (Service.name == values.name))
        if service_id is not None:
            clash = clash.where(Service.id != service_id)
        if await clash:
            errors["name"] = f"This department already offers {values.name}."
    if len(values.hours) > HOURS_MAX:
        errors["hours"] = f"Keep the hours to {HOURS_MAX} characters."
    if len(values.description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description to {DESCRIPTION_MAX} characters."
    if values.target is None:
        errors["target_hours"] = f"The target is a whole number of hours from 1 to {TARGET_HOURS_MAX}."
    return errors


async def save_service(
    admin: CurrentUser, department_id: int, values: ServiceValues, service_id: int | None = None
) -> str:
    """Add a service to the catalogue (`service_id` None) or change one; returns its name."""
    require_admin(admin)
    department = await department_for_change(department_id)
    current = None
    if service_id is not None:
        current = (
            await Service.select(*[getattr(Service, f) for f in SERVICE_FIELDS])
            .where((Service.id == service_id) & (Service.department == department_id))
            .first()
        )
        if current is None:
            raise RuleViolation("That service is not in this department's catalogue.", status_code=404)
    else:
        values = replace(values, active=True)  # a new service is offered straight away
    if errors := await _validate_service(department_id, values, service_id):
        raise RuleViolation(errors)
    stored = values.audited()
    async with db.transaction():
        if current is None:
            position = await Service.count().where(Service.department == department_id)
            row = Service(department=department_id, position=position, **stored)
            await row.save()
            service_id = row.id
            before, after = None, stored
            summary = f"Added service {values.name} to {department.name}"
        else:
            before, after = changes(current, stored)
            if not after:
                return values.name
            await Service.update({getattr(Service, f): value for f, value in stored.items()}).where(
                Service.id == service_id
            )
            summary = f"Edited service {values.name} of {department.name}: {', '.join(after)}"
        await audit(
            actor_id=admin.id,
            action="service.create" if current is None else "service.update",
            target_type="service",
            target_id=service_id,
            summary=summary,
            before=before,
            after=after,
        )
    return values.name
