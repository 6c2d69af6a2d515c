"""People and departments (SPEC F1, F13)."""

from enum import StrEnum

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table


class Role(StrEnum):
    EMPLOYEE = "employee"
    MANAGER = "manager"
    ADMIN = "admin"


class Department(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=120)
    slug = Varchar(length=80, unique=True)
    parent: "ForeignKey[Department]" = ForeignKey("self", null=True, on_delete=OnDelete.set_null)
    description = Text(default="")
    archived_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class Service(Table):
    """An entry in a department's published service catalogue."""

    id = Serial(primary_key=True)

    department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=160)
    description = Text(default="")
    hours = Varchar(length=160, default="")
    target_hours = Integer()
    position = Integer(default=0)
    active = Boolean(default=True)

    target_positive = Check(target_hours > 0)
    unique_name = Unique([department, name])


class Employee(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=160)
    email = Varchar(length=254, unique=True)
    title = Varchar(length=160, default="")
    department = ForeignKey(Department, null=True, on_delete=OnDelete.set_null, index=True)
    manager: "ForeignKey[Employee]" = ForeignKey("self", null=True, on_delete=OnDelete.set_null, index=True)
    role = Varchar(length=20, choices=Role, default=Role.EMPLOYEE)
    active = Boolean(default=True)
    password_hash = Varchar(length=255, null=True, default=None, secret=True)
    board_opt_out = Boolean(default=False)  # kept off individual leaderboards (SPEC F8); still receives kudos
    created_at = Timestamptz()


class DepartmentLead(Table):
    id = Serial(primary_key=True)
    department = ForeignKey(Department, null=False, on_delete=OnDelete.cascade)
    employee = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade, index=True)

    unique_lead = Unique([department, employee])
