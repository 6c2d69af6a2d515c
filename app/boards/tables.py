"""Rollups behind leaderboards, profiles and badges (SPEC F7, F8), kept in step with the ledger.

Every ledger entry updates, in its own transaction, one row per calendar period that contains the moment it
counts for (`LedgerEntry.effective_at`: the kudos's or add-on's time, also for the revoke that reverses it):
the week, month, quarter and year in the organisation's time zone, and all time. Distinct givers cannot be
added up: a pair's standing kudos in a period going from 0 to 1 adds a giver, from 1 to 0 removes one (counted
from the ledger, see app/boards/rollups.py). PersonGiverPeriod keeps, per month only, how many standing kudos
each giver gave each recipient.
"""

from enum import StrEnum

from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table

from app.people.tables import Department, Employee


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ALL = "all"


class PersonPeriod(Table):
    id = Serial(primary_key=True)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    period = Varchar(length=8, choices=Period)
    start = Date()
    points = Integer(default=0)  # points received
    kudos = Integer(default=0)  # kudos received (add-ons add points, not kudos)
    givers = Integer(default=0)  # distinct people who gave them kudos
    cross_givers = Integer(default=0)  # ... of those, from another department than theirs at the time
    given = Integer(default=0)  # kudos they gave
    given_points = Integer(default=0)  # points they gave (kudos and add-ons)

    unique_person_period = Unique([employee, period, start])


class DepartmentPeriod(Table):
    id = Serial(primary_key=True)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade)
    period = Varchar(length=8, choices=Period)
    start = Date()
    points = Integer(default=0)
    kudos = Integer(default=0)
    givers = Integer(default=0)
    cross_givers = Integer(default=0)
    cross_kudos = Integer(default=0)  # kudos received from people of other departments

    unique_department_period = Unique([department, period, start])


class PersonGiverPeriod(Table):
    """Standing kudos from one giver to one recipient in one month (period is always "month")."""

    id = Serial(primary_key=True)

    recipient = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    giver = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    period = Varchar(length=8, choices=Period)
    start = Date()
    kudos = Integer(default=0)
    cross_kudos = Integer(default=0)

    unique_person_pair = Unique([recipient, giver, period, start])


class BadgeAward(Table):
    """A badge earned, once per (badge, level); never removed, not even when the kudos behind it is revoked."""

    id = Serial(primary_key=True)

    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)
    badge = Varchar(length=40)
    level = Integer(default=1)
    awarded_at = Timestamptz()

    unique_award = Unique([employee, badge, level])
