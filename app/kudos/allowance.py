"""Monthly allowances (SPEC F5): budgets from the policy, spending by one conditional UPDATE.

A person's allowance row for a month is created on first use with the budget of that moment (role budget, plus
the manager bonus per active direct report). Unspent points simply stay unspent: the next month has a new row,
which is how they expire at month end in the organisation's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.kudos.tables import Allowance, AllowancePolicy
from app.people.tables import Role

POLICY_ID = 1


@dataclass(frozen=True, slots=True)
class Policy:
    employee_budget: int = 100
    manager_budget: int = 100
    admin_budget: int = 100
    manager_bonus_per_report: int = 10
    max_points_per_kudos: int = 50
    value_required: bool = False

    def base_budget(self, role: str) -> int:
        return {
            Role.EMPLOYEE: self.employee_budget,
            Role.MANAGER: self.manager_budget,
            Role.ADMIN: self.admin_budget,
        }[Role(role)]


DEFAULTS = Policy()


async def get_policy() -> Policy:
    row = await AllowancePolicy.select().where(AllowancePolicy.id == POLICY_ID).first()
    if row is None:
        return DEFAULTS
    return Policy(**{name: row[name] for name in Policy.__dataclass_fields__})


# The budget of a person for a month that has no allowance row yet: the role budget, and for managers the bonus
# for each active direct report. The policy's defaults (bound: manager, admin, employee budget, manager bonus)
# apply when the policy row does not exist.
_BUDGET_SQL = """
    SELECT e.id,
           CASE e.role WHEN 'manager' THEN COALESCE(p.manager_budget, {})
                       WHEN 'admin' THEN COALESCE(p.admin_budget, {})
                       ELSE COALESCE(p.employee_budget, {}) END
         + CASE WHEN e.role = 'manager' THEN COALESCE(p.manager_bonus_per_report, {})
               * (SELECT count(*) FROM employee r WHERE r.manager = e.id AND r.active) ELSE 0 END AS budget
    FROM employee e LEFT JOIN allowance_policy p ON p.id = {}
    WHERE e.id = {}
"""
# (remaining, budget) in one round trip: the month's allowance row, or the budget it would start with. Placeholders:
# the five of _BUDGET_SQL, then the month. Other modules read it inside their own statements (the page header).
REMAINING_SQL = (
    "SELECT COALESCE(a.budget - a.spent, b.budget) AS remaining, COALESCE(a.budget, b.budget) AS budget "
    "FROM (" + _BUDGET_SQL + ") AS b LEFT JOIN allowance a ON a.employee = b.id AND a.month = {}"
)
_OPEN_MONTH_SQL = """
    INSERT INTO allowance (employee, month, budget, spent) VALUES ({}, {}, {}, 0)
    ON CONFLICT (employee, month) DO NOTHING
"""
_SPEND_SQL = """
    UPDATE allowance SET spent = spent + {} WHERE employee = {} AND month = {} AND spent + {} <= budget
    RETURNING budget - spent AS remaining
"""
_REFUND_SQL = "UPDATE allowance SET spent = GREATEST(spent - {}, 0) WHERE employee = {} AND month = {}"


def budget_arguments(employee_id: int) -> tuple[int, ...]:
    """The values _BUDGET_SQL (and so REMAINING_SQL) binds before the month: the policy defaults, the person."""
    return (
        DEFAULTS.manager_budget,
        DEFAULTS.admin_budget,
        DEFAULTS.employee_budget,
        DEFAULTS.manager_bonus_per_report,
        POLICY_ID,
        employee_id,
    )


async def remaining(employee_id: int, month: date) -> tuple[int, int]:
    """(remaining, budget) for `employee_id` in `month`, without writing anything: one statement."""
    rows = await Allowance.raw(REMAINING_SQL, *budget_arguments(employee_id), month)
    return (rows[0]["remaining"], rows[0]["budget"]) if rows else (0, 0)


async def _budget(employee_id: int) -> int:
    rows = await Allowance.raw(_BUDGET_SQL, *budget_arguments(employee_id))
    return rows[0]["budget"] if rows else 0


async def open_month(employee_id: int, month: date) -> None:
    """Create `employee_id`'s allowance row for `month` with the budget of this moment, unless it exists."""
    await Allowance.raw(_OPEN_MONTH_SQL, employee_id, month, await _budget(employee_id))


async def spend(employee_id: int, month: date, points: int) -> int | None:
    """Spend `points` of the month's allowance in the caller's transaction; the remaining points, or None when
    there are not enough. Concurrent calls can never overspend: the UPDATE re-checks under the row lock."""
    await open_month(employee_id, month)
    rows = await Allowance.raw(_SPEND_SQL, points, employee_id, month, points)
    return rows[0]["remaining"] if rows else None


async def refund(employee_id: int, month: date, points: int) -> None:
    """Give back points spent in `month` (only ever called while that month is current)."""
    await Allowance.raw(_REFUND_SQL, points, employee_id, month)
