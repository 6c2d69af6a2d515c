"""What every digest section works on: the month (`DigestPeriod`) and the batch of recipients (`Person`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.people.tables import Employee
from app.timeutil import month_bounds, previous_month


@dataclass(frozen=True, slots=True)
class DigestPeriod:
    month: date  # first day, organisation time zone
    start: datetime
    end: datetime
    label: str  # "November 2026": formatted once, as every digest shows it several times

    @classmethod
    def of(cls, month: date) -> DigestPeriod:
        start, end = month_bounds(month)
        return cls(month=month, start=start, end=end, label=f"{month:%B %Y}")

    @property
    def previous(self) -> date:
        return previous_month(self.month)


@dataclass(frozen=True, slots=True)
class Person:
    """A digest's recipient as the sections need them."""

    id: int
    name: str
    email: str
    department_id: int | None
    department: str | None
    board_opt_out: bool

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


async def load_people(ids: list[int]) -> dict[int, Person]:
    rows = await Employee.select(
        Employee.id,
        Employee.name,
        Employee.email,
        Employee.department,
        Employee.department.name.as_alias("department_name"),
        Employee.board_opt_out,
    ).where(Employee.id.is_in(ids or [0]))
    return {
        row["id"]: Person(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            department_id=row["department"],
            department=row["department_name"],
            board_opt_out=row["board_opt_out"],
        )
        for row in rows
    }


# A section: for each person of a batch who has something in it, its value as its template reads it.
Section = Callable[[DigestPeriod, list[Person]], Awaitable[dict[int, Any]]]


def ids(people: list[Person]) -> list[int]:
    return [person.id for person in people]
