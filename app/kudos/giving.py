"""Giving a kudos (SPEC F3, F5): the form checked, then one transaction that writes the kudos, its recipients and
values, the allowance spend and the ledger entries in one statement, and publishes what happened (app/events.py):
`LedgerAppended` (the board rollups follow inline) and `KudosGiven` (notifications, badges and webhooks follow from
the job outbox, run by the worker). No other domain's services are called from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import msgspec

import app.db as db
from app.events import KudosGiven, LedgerAppended, LedgerLine, publish
from app.kudos import allowance
from app.kudos.allowance import Policy
from app.kudos.forms import (
    MAX_RECIPIENTS,
    MESSAGE_MAX,
    Choices,
    GiveForm,
    Given,
    Value,
    parse_points,
    trimmed_text,
)
from app.kudos.tables import EntryKind, Kudos, Visibility
from app.people.services import CurrentUser
from app.people.tables import Employee
from app.requests.tables import Request, RequestResolver, Status
from app.rules import RuleViolation
from app.timeutil import month_of, now
from app.words import plural_form


@dataclass(frozen=True, slots=True)
class Gift:
    """A give form that passed every check."""

    recipients: tuple[int, ...]
    names: tuple[str, ...]
    message: str
    values: tuple[int, ...]
    points: int


async def company_values() -> tuple[Value, ...]:
    """The values a kudos may be tagged with (the active ones), in the admin's order."""
    return (await form_choices()).values


async def form_choices() -> Choices:
    """The company values and the allowance policy a give form offers (one statement)."""
    choices, _ = await _check_context([])
    return choices


@dataclass(frozen=True, slots=True)
class Chosen:
    """A person chosen on the give form."""

    id: int
    name: str
    title: str
    active: bool
    department: str | None  # its name


async def people_by_id(ids: Iterable[int]) -> dict[int, Chosen]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = await Employee.select(
        Employee.id, Employee.name, Employee.title, Employee.active, Employee.department.name.as_alias("department")
    ).where(Employee.id.is_in(wanted))
    return {row["id"]: Chosen(**row) for row in rows}


@dataclass(frozen=True, slots=True)
class Resolver:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class ThanksFor:
    """A request a kudos can be linked to, with its resolvers by name."""

    id: int
    title: str
    status: str
    requester: int
    resolvers: list[Resolver]


async def request_for_thanks(request_id: int) -> ThanksFor | None:
    """A request with its status and resolvers, for linking a kudos to it."""
    row = (
        await Request.select(Request.id, Request.title, Request.status, Request.requester)
        .where(Request.id == request_id)
        .first()
    )
    if row is None:
        return None
    resolvers = await RequestResolver.select(
        RequestResolver.employee.as_alias("id"), RequestResolver.employee.name.as_alias("name")
    ).where(RequestResolver.request == request_id)
    return ThanksFor(**row, resolvers=sorted((Resolver(**r) for r in resolvers), key=lambda r: r.name))


# What checking a give form needs, in one statement: the allowance policy (absent: the defaults), the active
# company values in the admin's order (a JSON array), and the chosen people (one row each; one row of NULLs when
# none is found).
_CHECK_SQL = """
    SELECT p.employee_budget, p.manager_budget, p.admin_budget, p.manager_bonus_per_report, p.max_points_per_kudos,
           p.value_required,
           (SELECT coalesce(json_agg(json_build_object('id', v.id, 'name', v.name, 'description', v.description)
                                     ORDER BY v.position, v.name), '[]')
            FROM company_value v WHERE v.active) AS company_values,
           e.id, e.name, e.active
    FROM (SELECT 1) AS one
    LEFT JOIN allowance_policy p ON p.id = {}
    LEFT JOIN employee e ON e.id = ANY({})
"""
_POLICY_FIELDS = tuple(Policy.__dataclass_fields__)


async def _check_context(recipients: list[int]) -> tuple[Choices, dict[int, tuple[str, bool]]]:
    """(the form's choices, {id: (name, active)} of the `recipients` found)."""
    rows = await Employee.raw(_CHECK_SQL, allowance.POLICY_ID, recipients)
    first = rows[0]
    policy = allowance.DEFAULTS if first["value_required"] is None else Policy(**{f: first[f] for f in _POLICY_FIELDS})
    values = tuple(msgspec.json.decode(first["company_values"], type=list[Value]))
    return Choices(values=values, policy=policy), {
        row["id"]: (row["name"], row["active"]) for row in rows if row["id"] is not None
    }


async def validate_give(giver: CurrentUser, form: GiveForm) -> tuple[dict[str, str], Gift, Choices]:
    """Field errors for a give form (empty when valid), the cleaned gift, and what the form was checked against."""
    errors: dict[str, str] = {}
    recipients = list(dict.fromkeys(form.recipient_ids))
    choices, people = await _check_context(recipients)
    max_points, value_required = choices.policy.max_points_per_kudos, choices.policy.value_required
    if not recipients:
        errors["recipients"] = "Choose at least one person to thank."
    elif giver.id in recipients:
        errors["recipients"] = "You can't give kudos to yourself."
    elif len(recipients) > MAX_RECIPIENTS:
        errors["recipients"] = f"Thank at most {MAX_RECIPIENTS} people in one kudos."
    elif missing := [r for r in recipients if r not in people]:
        errors["recipients"] = (
            f"{len(missing)} of the people you chose {plural_form(len(missing), 'is')} not in the directory."
        )
    elif inactive := [people[r][0] for r in recipients if not people[r][1]]:
        errors["recipients"] = f"{', '.join(inactive)} no longer {plural_form(len(inactive), 'works', 'work')} here."

    message, problem = trimmed_text(
        form.message, maximum=MESSAGE_MAX, empty="Write a message to say what they did.", noun="message"
    )
    if problem:
        errors["message"] = problem

    values = list(dict.fromkeys(form.value_ids))
    if values:
        known = {value.id for value in choices.values}
        if any(v not in known for v in values):
            errors["values"] = "Pick company values from the list."
    elif value_required:
        errors["values"] = "Pick at least one company value."

    points, problem = parse_points(form.points, max_points)
    if problem:
        errors["points"] = problem

    if form.visibility not in {Visibility.PUBLIC, Visibility.PRIVATE}:
        errors["visibility"] = "Choose public or private."

    if form.request_id is not None:
        request = await request_for_thanks(form.request_id)
        if request is None:
            errors["request"] = "That request does not exist."
        elif request.status != Status.COMPLETED:
            errors["request"] = "You can link a kudos only to a completed request."
        elif "recipients" not in errors and recipients:
            resolver_ids = {r.id for r in request.resolvers}
            if outsiders := [people[r][0] for r in recipients if r not in resolver_ids]:
                errors["recipients"] = (
                    f"{', '.join(outsiders)} did not work on “{request.title}”; "
                    "a kudos linked to a request thanks its resolvers."
                )
    gift = Gift(
        recipients=tuple(recipients),
        names=tuple(people[r][0] for r in recipients if r in people),
        message=message,
        values=tuple(values),
        points=points or 0,
    )
    return errors, gift, choices


# The gift in one statement: spend the giver's allowance for the month (a conditional UPDATE: concurrent gifts can
# never overspend), and only then insert the kudos (once per idempotency key), its recipients and values, and one
# ledger entry per recipient with the departments of the moment. Returns the kudos id (NULL when the allowance was
# short or the key was used before), what is left of the allowance (NULL when short), whether the month's
# allowance row exists (the first gift of a month creates it, then runs this again) and the departments.
_GIVE_SQL = """
    WITH spend AS (
        UPDATE allowance SET spent = spent + {}::int
        WHERE employee = {} AND month = {} AND spent + {}::int <= budget
        RETURNING budget - spent AS remaining, budget
    ), k AS (
        INSERT INTO kudos (giver, message, points, visibility, request, month, idempotency_key, created_at)
        SELECT {}::int, {}::text, {}::int, {}::text, {}::int, {}::date, {}::text, {}::timestamptz FROM spend
        ON CONFLICT (giver, idempotency_key) DO NOTHING
        RETURNING id
    ), people AS (
        SELECT r.id, r.n, e.department FROM unnest({}::int[]) WITH ORDINALITY AS r(id, n)
        JOIN employee e ON e.id = r.id
    ), giver AS (
        SELECT department FROM employee WHERE id = {}
    ), recipients AS (
        INSERT INTO kudos_recipient (kudos, employee) SELECT k.id, p.id FROM k, people p ORDER BY p.n RETURNING 1
    ), kudos_values AS (
        INSERT INTO kudos_value (kudos, value) SELECT k.id, v FROM k, unnest({}::int[]) AS v RETURNING 1
    ), ledger AS (
        INSERT INTO ledger_entry (kind, kudos, giver, giver_department, recipient, recipient_department, amount,
                                  created_at, effective_at)
        SELECT 'kudos', k.id, {}::int, (SELECT department FROM giver), p.id, p.department, {}::int, {}::timestamptz,
               {}::timestamptz
        FROM k, people p ORDER BY p.n
        RETURNING 1
    )
    SELECT (SELECT id FROM k) AS kudos_id, (SELECT remaining FROM spend) AS remaining,
           (SELECT budget FROM spend) AS budget,
           EXISTS (SELECT 1 FROM allowance WHERE employee = {} AND month = {}) AS has_allowance,
           (SELECT department FROM giver) AS giver_department,
           ARRAY(SELECT department FROM people ORDER BY n) AS recipient_departments
"""

_EXISTING_SQL = "SELECT id FROM kudos WHERE giver = {} AND idempotency_key = {}"


class _Repeated(Exception):
    """The form was submitted before: the allowance just spent goes back with the transaction."""


@dataclass(frozen=True, slots=True)
class _Written:
    """What `_GIVE_SQL` answers."""

    kudos_id: int | None
    remaining: int | None
    budget: int | None
    has_allowance: bool
    giver_department: int | None
    recipient_departments: list[int | None]


async def give_kudos(giver: CurrentUser, form: GiveForm, *, at: datetime | None = None) -> Given:
    """Give a kudos in one transaction (see the module docstring); a form submitted again (same idempotency key)
    returns the kudos it created the first time."""
    moment = at or now()
    errors, gift, choices = await validate_give(giver, form)
    if errors:
        raise RuleViolation(errors)
    month = month_of(moment)
    key = form.idempotency_key[:64]
    total = gift.points * len(gift.recipients)
    try:
        async with db.transaction():
            written = await _give(giver, form, gift, key, total, month, moment)
            if written.kudos_id is None and written.remaining is None and not written.has_allowance:
                await allowance.open_month(giver.id, month)  # the giver's first spend this month
                written = await _give(giver, form, gift, key, total, month, moment)
            if written.remaining is None:
                have, _ = await allowance.remaining(giver.id, month)
                raise RuleViolation({"points": f"You have {have} points left this month; this kudos needs {total}."})
            if written.kudos_id is None:
                raise _Repeated
            await _publish(giver, form, gift, written.kudos_id, written, moment)
    except _Repeated:
        existing = await Kudos.raw(_EXISTING_SQL, giver.id, key)
        left, budget = await allowance.remaining(giver.id, month)
        return Given(
            kudos_id=int(existing[0]["id"]), remaining=left, budget=budget, created=False, names=gift.names,
            choices=choices,
        )  # fmt: skip
    assert written.budget is not None  # the spend succeeded
    return Given(
        kudos_id=written.kudos_id, remaining=written.remaining, budget=written.budget, created=True, names=gift.names,
        choices=choices,
    )  # fmt: skip


async def _give(
    giver: CurrentUser, form: GiveForm, gift: Gift, key: str, total: int, month: date, moment: datetime
) -> _Written:
    rows = await Kudos.raw(
        _GIVE_SQL,
        total,
        giver.id,
        month,
        total,
        giver.id,
        gift.message,
        gift.points,
        form.visibility,
        form.request_id,
        month,
        key,
        moment,
        list(gift.recipients),
        giver.id,
        list(gift.values),
        giver.id,
        gift.points,
        moment,
        moment,
        giver.id,
        month,
    )
    return _Written(**rows[0])


async def _publish(
    giver: CurrentUser, form: GiveForm, gift: Gift, kudos_id: int, written: _Written, moment: datetime
) -> None:
    lines = tuple(
        LedgerLine(
            kind=EntryKind.KUDOS.value,
            is_addon=False,
            kudos_id=kudos_id,
            giver=giver.id,
            giver_department=written.giver_department,
            recipient=recipient,
            recipient_department=department,
            amount=gift.points,
            effective_at=moment,
        )
        for recipient, department in zip(gift.recipients, written.recipient_departments, strict=True)
    )
    await publish(LedgerAppended(lines=lines, at=moment))
    await publish(
        KudosGiven(
            kudos_id=kudos_id,
            giver_id=giver.id,
            recipient_ids=gift.recipients,
            points=gift.points,
            public=form.visibility == Visibility.PUBLIC,
            request_id=form.request_id,
            at=moment,
        )
    )
