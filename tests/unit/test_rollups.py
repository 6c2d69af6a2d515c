"""Board rollups: kept in step with every ledger entry, and equal to a rebuild from the ledger (SPEC F6, F8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from piccolo.engine import engine_finder

from app.boards import rollup_updates, rollups
from app.boards.rollups import period_starts, rebuild
from app.boards.tables import DepartmentPeriod, Period, PersonPeriod
from app.kudos.changes import add_on, revoke
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Role
from app.rules import RuleViolation
from tests.factories import make_department, make_employee

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

AUCKLAND = ZoneInfo("Pacific/Auckland")


@pytest.fixture
def auckland(monkeypatch):
    """Boards in a zone far from UTC, so local periods and UTC dates disagree near midnight."""
    monkeypatch.setattr(rollups, "org_tz", lambda: AUCKLAND)
    monkeypatch.setattr(rollup_updates, "org_tz", lambda: AUCKLAND)  # the inline handler keeping them in step
    return "Pacific/Auckland"


def test_period_starts_follow_the_local_calendar() -> None:
    # 2026-12-31 11:30 UTC is already Friday 1 January 2027, 00:30 in Auckland
    moment = datetime(2026, 12, 31, 11, 30, tzinfo=UTC)
    assert period_starts(moment, AUCKLAND) == {
        Period.WEEK: date(2026, 12, 28),
        Period.MONTH: date(2027, 1, 1),
        Period.QUARTER: date(2027, 1, 1),
        Period.YEAR: date(2027, 1, 1),
        Period.ALL: date(1970, 1, 1),
    }
    assert period_starts(moment, UTC)[Period.YEAR] == date(2026, 1, 1)


async def _people():
    it = await make_department("IT", slug="it")
    hr = await make_department("HR", slug="hr")
    people = [
        await make_employee("Ann", department=it),
        await make_employee("Bo", department=it),
        await make_employee("Cy", department=hr),
        await make_employee("Di", department=hr, role=Role.MANAGER),
    ]
    return [await load_current_user(p.id) for p in people]


async def test_a_kudos_counts_for_recipients_givers_and_departments(auckland) -> None:
    ann, bo, cy, _ = await _people()
    moment = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 1 December in Auckland
    form = GiveForm(recipient_ids=[bo.id, cy.id], message="Thanks both", points="5")
    kudos = await give_kudos(ann, form, at=moment)

    month = await PersonPeriod.select().where((PersonPeriod.period == "month") & (PersonPeriod.employee == cy.id))
    assert [(r["start"], r["points"], r["kudos"], r["givers"], r["cross_givers"]) for r in month] == [
        (date(2026, 12, 1), 5, 1, 1, 1)
    ]
    giver = await PersonPeriod.select().where((PersonPeriod.period == "all") & (PersonPeriod.employee == ann.id))
    assert (giver[0]["given"], giver[0]["given_points"]) == (1, 10)
    teams = await DepartmentPeriod.select(
        DepartmentPeriod.department, DepartmentPeriod.kudos, DepartmentPeriod.cross_kudos, DepartmentPeriod.givers
    ).where(DepartmentPeriod.period == "year")
    assert sorted((t["kudos"], t["cross_kudos"], t["givers"]) for t in teams) == [(1, 0, 1), (1, 1, 1)]

    # a second kudos from the same giver adds a kudos but not a giver; a revoke takes both back where they counted
    second = await give_kudos(ann, GiveForm(recipient_ids=[cy.id], message="Again", points="1"), at=moment)
    admin = await load_current_user((await make_employee(role=Role.ADMIN)).id)
    await revoke(admin, kudos.kudos_id, reason="test", at=moment + timedelta(days=40))
    row = await PersonPeriod.select().where(
        (PersonPeriod.period == "month") & (PersonPeriod.employee == cy.id) & (PersonPeriod.start == date(2026, 12, 1))
    )
    assert (row[0]["points"], row[0]["kudos"], row[0]["givers"]) == (1, 1, 1)
    assert await PersonPeriod.count().where(PersonPeriod.start == date(2027, 1, 1)) == 0
    assert second.created
    assert (await rebuild(check=True, tz_name=auckland)).differences == dict.fromkeys(rollups.ROLLUP_TABLES, 0)


operations = st.lists(
    st.tuples(
        st.sampled_from(["kudos", "kudos", "kudos", "addon", "revoke"]),
        st.integers(0, 3),  # actor
        st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),  # recipients
        st.integers(0, 4),  # points
        st.integers(0, 24 * 400),  # hours before the end of the window
    ),
    min_size=1,
    max_size=25,
)


_PEOPLE_ROWS = """
    SELECT employee, period, start, points, kudos, givers, cross_givers, given, given_points FROM person_period
    WHERE points <> 0 OR kudos <> 0 OR givers <> 0 OR given <> 0 OR given_points <> 0 ORDER BY 1, 2, 3
"""


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations, months_back=st.integers(0, 14))
async def test_rebuild_equals_incremental_after_any_sequence(auckland, steps, months_back) -> None:
    engine = engine_finder()
    await engine.run_ddl(
        "TRUNCATE ledger_entry, add_on, kudos_recipient, kudos_value, kudos, allowance, notification, audit_entry, "
        "person_period, department_period, person_giver_period, employee, department "
        "RESTART IDENTITY CASCADE"
    )
    people = await _people()
    admin = await load_current_user((await make_employee(role=Role.ADMIN)).id)
    end = datetime(2027, 1, 1, 11, 0, tzinfo=UTC)  # around midnight in Auckland at a year edge
    given_ids: list[int] = []
    for n, (kind, actor, recipients, points, hours) in enumerate(steps):
        at = end - timedelta(hours=hours)
        try:
            if kind == "kudos":
                form = GiveForm(recipient_ids=[people[r].id for r in recipients], message=f"m{n}", points=str(points))
                given_ids.append((await give_kudos(people[actor], form, at=at)).kudos_id)
            elif kind == "addon" and given_ids:
                await add_on(people[actor], given_ids[points % len(given_ids)], comment="+1", points=str(points), at=at)
            elif kind == "revoke" and given_ids:
                await revoke(admin, given_ids[actor % len(given_ids)], reason="r", at=end)
        except RuleViolation:
            pass  # refused steps (self-kudos, add-on to your own, revoked twice) change nothing

    check = await rebuild(check=True, tz_name=auckland)
    assert check.differences == dict.fromkeys(rollups.ROLLUP_TABLES, 0)
    before = await PersonPeriod.raw(_PEOPLE_ROWS)
    await rebuild(tz_name=auckland)
    after = await PersonPeriod.raw(_PEOPLE_ROWS)
    assert after == before

    # a month's rows spoilt (with its weeks, and the quarter, year and all-time rows of those it concerns, and a
    # row for someone without a figure that month), then that month rebuilt: the full rebuild's rows again
    month = date(2027 - (months_back + 11) // 12, 12 - (months_back + 11) % 12, 1)
    await _spoil_month(month)
    await rebuild(month=month, tz_name=auckland)
    assert (await rebuild(check=True, tz_name=auckland)).differences == dict.fromkeys(rollups.ROLLUP_TABLES, 0)
    assert await PersonPeriod.raw(_PEOPLE_ROWS) == before


_SPOIL_PEOPLE = """
    UPDATE person_period SET points = points + 1, givers = givers + 2, cross_givers = cross_givers + 1
    WHERE period = 'week' AND start >= {} AND start < {} OR period = 'month' AND start = {}
       OR employee IN (SELECT employee FROM person_period WHERE period = 'month' AND start = {})
          AND (period = 'quarter' AND start = {} OR period = 'year' AND start = {} OR period = 'all')
"""
_SPOIL_DEPARTMENTS = """
    UPDATE department_period SET points = points + 1, givers = givers + 2, cross_kudos = cross_kudos + 1
    WHERE period = 'week' AND start >= {} AND start < {} OR period = 'month' AND start = {}
       OR department IN (SELECT department FROM department_period WHERE period = 'month' AND start = {})
          AND (period = 'quarter' AND start = {} OR period = 'year' AND start = {} OR period = 'all')
"""


async def _spoil_month(month: date) -> None:
    """Change every rollup row of the periods containing some of `month` (coarser ones only for the people and
    departments with a row in the month), and add a month row to someone without a figure that month."""
    first, after = rollups.month_weeks(month)
    quarter = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    for statement in (_SPOIL_PEOPLE, _SPOIL_DEPARTMENTS):
        await PersonPeriod.raw(statement, first, after, month, month, quarter, month.replace(month=1))
    await PersonPeriod.raw("UPDATE person_giver_period SET kudos = kudos + 1 WHERE start = {}", month)
    await PersonPeriod.raw(
        "INSERT INTO person_period (employee, period, start, points, kudos, givers, cross_givers, given, given_points) "
        "SELECT id, 'month', {}, 5, 1, 1, 0, 0, 0 FROM employee ORDER BY id LIMIT 1 ON CONFLICT DO NOTHING",
        month,
    )


async def test_check_reports_a_tampered_rollup() -> None:
    ann, bo, _, _ = await _people()
    await give_kudos(ann, GiveForm(recipient_ids=[bo.id], message="Thanks", points="3"))
    await PersonPeriod.update({PersonPeriod.points: 999}).where(
        (PersonPeriod.employee == bo.id) & (PersonPeriod.period == "month")
    )
    report = await rebuild(check=True)
    assert report.differences["person_period"] == 2  # the stored row and the expected one differ
    await rebuild()
    assert (await rebuild(check=True)).differences["person_period"] == 0
