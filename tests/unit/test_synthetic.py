"""The synthetic organisation behind the benchmarks (`kudos seed synthetic`): counts, skew, consistency."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from piccolo.engine import engine_finder

from app.boards.rollups import rebuild
from app.demo.synthetic import seed_synthetic
from app.kudos.tables import CompanyValue
from app.people.passwords import verify_password
from app.people.seed import DEMO_PASSWORD, OrganisationNotEmpty
from app.people.tables import Employee

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

MOMENT = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)
PEOPLE, KUDOS = 200, 2_000


async def _value(sql: str) -> int:
    rows = await engine_finder().run_ddl(sql)
    return next(iter(rows[0].values()))


async def test_fills_an_empty_organisation_with_skewed_consistent_history() -> None:
    await CompanyValue.insert(CompanyValue(name="Teamwork"), CompanyValue(name="Ownership"))

    report = await seed_synthetic(PEOPLE, KUDOS, months=6, seed=7, chunk=500, moment=MOMENT)

    counts = report.counts
    assert counts["people"] == PEOPLE and counts["kudos"] == KUDOS
    assert counts["departments"] == 2
    for table, key in (
        ("employee", "people"),
        ("department", "departments"),
        ("kudos", "kudos"),
        ("kudos_recipient", "recipients"),
        ("kudos_value", "values"),
        ("add_on", "addons"),
        ("ledger_entry", "ledger_entries"),
        ("allowance", "allowances"),
    ):
        assert await _value(f"SELECT count(*) FROM {table}") == counts[key], table  # noqa: S608
    assert KUDOS <= counts["recipients"] <= 1.5 * KUDOS
    assert 0.05 * KUDOS <= counts["addons"] <= 0.15 * KUDOS

    # A few very active recipients: the top 1 % receive at least 10 % of all kudos.
    received = await engine_finder().run_ddl(
        "SELECT count(*) AS n FROM kudos_recipient GROUP BY employee ORDER BY n DESC"
    )
    top = math.ceil(PEOPLE * 0.01)
    assert sum(row["n"] for row in received[:top]) >= 0.1 * KUDOS

    # Nobody thanks themselves; every kudos has a recipient, and a ledger entry with its points for each.
    assert not await _value(
        "SELECT count(*) FROM kudos k JOIN kudos_recipient r ON r.kudos = k.id WHERE r.employee = k.giver"
    )
    assert not await _value(
        "SELECT count(*) FROM kudos k WHERE NOT EXISTS (SELECT 1 FROM kudos_recipient r WHERE r.kudos = k.id)"
    )
    assert not await _value(
        "SELECT count(*) FROM kudos_recipient r WHERE NOT EXISTS (SELECT 1 FROM ledger_entry l "
        "JOIN kudos k ON k.id = l.kudos WHERE l.kudos = r.kudos AND l.recipient = r.employee AND l.kind = 'kudos' "
        "AND l.amount = k.points AND l.effective_at = k.created_at AND l.giver = k.giver)"
    )
    # Add-ons: on public kudos, not by its giver or a recipient, one entry per recipient.
    assert not await _value(
        "SELECT count(*) FROM add_on a JOIN kudos k ON k.id = a.kudos WHERE k.visibility <> 'public' "
        "OR a.giver = k.giver OR a.created_at <= k.created_at "
        "OR EXISTS (SELECT 1 FROM kudos_recipient r WHERE r.kudos = a.kudos AND r.employee = a.giver)"
    )
    assert await _value("SELECT count(*) FROM ledger_entry WHERE kind = 'addon'") == await _value(
        "SELECT count(*) FROM add_on a JOIN kudos_recipient r ON r.kudos = a.kudos"
    )
    # Departments on the ledger are the people's; the mix is mostly cross-department, a tenth private.
    assert not await _value(
        "SELECT count(*) FROM ledger_entry l JOIN employee g ON g.id = l.giver JOIN employee r ON r.id = l.recipient "
        "WHERE l.giver_department IS DISTINCT FROM g.department OR l.recipient_department IS DISTINCT FROM r.department"
    )
    cross = await _value(
        "SELECT count(*) FROM ledger_entry WHERE kind = 'kudos' AND giver_department <> recipient_department"
    )
    assert 0.45 <= cross / counts["recipients"] <= 0.75
    private = await _value("SELECT count(*) FROM kudos WHERE visibility = 'private'")
    assert 0.05 <= private / KUDOS <= 0.15
    # The kudos span the six calendar months up to the moment given.
    first, last = (await engine_finder().run_ddl("SELECT min(created_at) AS a, max(created_at) AS b FROM kudos"))[0]
    assert first >= datetime(2025, 10, 1, tzinfo=UTC) and last <= MOMENT
    months = await _value("SELECT count(DISTINCT month) FROM kudos")
    assert months == 6
    assert await _value("SELECT min(month) FROM kudos") == date(2025, 10, 1)

    # Allowances: what each giver spent per month, within the budget.
    assert await _value("SELECT sum(spent) FROM allowance") == await _value("SELECT sum(amount) FROM ledger_entry")
    assert not await _value(
        "SELECT count(*) FROM (SELECT giver, date_trunc('month', effective_at AT TIME ZONE 'UTC')::date AS month, "
        "sum(amount) AS s FROM ledger_entry GROUP BY 1, 2) AS given LEFT JOIN allowance a ON a.employee = given.giver "
        "AND a.month = given.month WHERE coalesce(a.spent, 0) <> given.s"
    )

    # The load skips foreign-key triggers (as a superuser): every reference must hold all the same.
    references = await engine_finder().run_ddl(
        "SELECT c.conrelid::regclass::text AS tab, a.attname AS col, c.confrelid::regclass::text AS ref, "
        "f.attname AS refcol FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = c.confkey[1] "
        "WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND c.connamespace = 'public'::regnamespace"
    )
    assert len(references) > 20
    for fk in references:
        orphans = await _value(
            f'SELECT count(*) FROM "{fk["tab"]}" t WHERE t."{fk["col"]}" IS NOT NULL AND NOT EXISTS '  # noqa: S608
            f'(SELECT 1 FROM "{fk["ref"]}" r WHERE r."{fk["refcol"]}" = t."{fk["col"]}")'
        )
        assert not orphans, fk

    # Ids were set explicitly; the sequences were moved past them.
    newcomer = Employee(name="New Person", email="new.person@example.com")
    await newcomer.save()
    assert newcomer.id == PEOPLE + 1

    # Everyone signs in with the demo password; the rollups the generator rebuilt agree with the ledger.
    assert set(report.logins) == {"admin", "manager", "employee"}
    row = await Employee.select(Employee.password_hash).where(Employee.email == report.logins["employee"]).first()
    assert verify_password(row["password_hash"], DEMO_PASSWORD)
    assert counts["rollup person_period"] > 0
    checked = await rebuild(check=True)
    assert checked.differences == dict.fromkeys(checked.differences, 0)

    with pytest.raises(OrganisationNotEmpty):
        await seed_synthetic(PEOPLE, 10, seed=8, moment=MOMENT)
    assert await _value("SELECT count(*) FROM kudos") == KUDOS


async def test_refuses_an_organisation_that_has_people() -> None:
    await Employee(name="Someone", email="someone@example.com").save()
    with pytest.raises(OrganisationNotEmpty):
        await seed_synthetic(PEOPLE, 10, seed=1, moment=MOMENT)
    assert await _value("SELECT count(*) FROM department") == 0


async def test_refuses_an_organisation_too_small_to_skew() -> None:
    with pytest.raises(ValueError, match="at least"):
        await seed_synthetic(5, 10)
