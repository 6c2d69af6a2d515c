"""Every page of the app, for each role: the app's GET routes with real ids from the demo organisation.

`site_pages()` fails when a GET route is neither a page here nor listed in NOT_PAGES, so a new page joins the
phone-width and axe sweeps (tests/browser/test_phone_and_a11y.py, tests/browser/sweep.py) without being forgotten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from litestar import Litestar
from litestar.routes import HTTPRoute

from app.admin.services import imports
from app.awards.tables import AwardCycle
from app.digests.controllers import months_offered
from app.digests.tables import DigestKind
from app.digests.tokens import make_token
from app.feedback.tables import Feedback, FeedbackAskee
from app.insights import runs
from app.insights.tables import Finding
from app.kudos.tables import Kudos
from app.mail.backends import OutboxBackend
from app.mail.message import Mail, build_message
from app.people.seed import DEMO_LOGINS, DEMO_PASSWORD
from app.people.services import load_current_user
from app.people.tables import Department, Employee, Role
from app.requests.tables import Request
from app.settings import get_settings
from app.signin.password_links import create_password_link

ROLES = ("signed-out", "employee", "manager", "admin")
LOGINS = {role.value: DEMO_LOGINS[role] for role in (Role.EMPLOYEE, Role.MANAGER, Role.ADMIN)}
PASSWORD = DEMO_PASSWORD

# GET routes that are not pages a person reads: fragments, mail bodies shown in an iframe, API, files.
NOT_PAGES = {
    "/healthz",
    "/notifications/badge",  # the header's count, polled
    "/kudos/recipients",  # the picker's fragment; a plain visit is /kudos/new
    "/awards/nominees",  # the nominee picker's fragment; a plain visit is /awards
    "/admin/import/{import_id:int}/progress",  # the progress fragment; a plain visit is the import page
    "/admin/digests/preview/html",  # a mail body, shown in an iframe
    "/admin/outbox/{file:str}/html",  # a mail body, shown in an iframe
    "/static/{file_path:path}",
    "/admin/digests/{month:str}",  # a digest run's page: the demo has no run (its layout is the run list's)
    # a signal as a manager reads it: the admin's signal page (below) is the same template, and the demo's signals
    # involve people outside the demo manager's reports
    "/insights/signals/{finding_id:int}",
    # company sign-in: redirects to the issuer and back (their pages: tests/browser/test_company_sign_in.py)
    "/login/company",
    "/login/company/callback",
}
# Pages only some roles may open (everyone else gets 403 or 404): the roles that read them in the sweep.
ONLY = {
    "/feedback/{feedback_id:int}": ("employee",),  # feedback the demo employee received
    "/feedback/asks/{ask_id:int}": ("employee",),  # the ask waiting for the demo employee's answer
    "/insights": ("manager",),
    "/insights/export.csv": (),  # a file
    "/admin/insights/export.csv": (),
    "/surveys/departments/{slug:str}/comments": ("admin",),  # a department's leads and admins
}
SIGNED_OUT = ("/login", "/password/{token:str}", "/unsubscribe/{token:str}")
PARAM = re.compile(r"\{(\w+):\w+\}")


@dataclass(frozen=True, slots=True)
class SitePage:
    role: str
    path: str


def page_routes(app: Litestar) -> list[str]:
    """The app's GET page routes (path templates)."""
    paths = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "GET" not in route.methods:
            continue
        if route.path in NOT_PAGES or route.path.startswith(("/api/", "/schema")):
            continue
        paths.append(route.path)
    return sorted(paths)


async def _ids() -> dict[str, list[str]]:
    """Values for each path parameter: real rows of the demo, and the rows the demo has none of."""
    admin = await load_current_user(await _person(LOGINS["admin"]))
    assert admin is not None
    employee = await _person(LOGINS["employee"])
    person_ids = [str(row["id"]) for row in await Employee.select(Employee.id).order_by(Employee.id).limit(3)]
    requests = []
    for status in ("open", "in_progress", "completed", "cancelled"):
        row = await Request.select(Request.id).where(Request.status == status).order_by(Request.id).first()
        if row:
            requests.append(str(row["id"]))
    kudos = await Kudos.select(Kudos.id).where(Kudos.visibility == "public").order_by(Kudos.id).first()
    cycles = await AwardCycle.select(AwardCycle.id, AwardCycle.status).order_by(AwardCycle.month)
    by_status = {row["status"]: str(row["id"]) for row in cycles}
    fixture = Path(__file__).parents[2] / "fixtures" / "import" / "departments.csv"
    import_id = await imports.check_upload(admin, "departments", fixture.name, fixture.read_bytes())
    message = build_message(
        Mail(to=LOGINS["employee"], subject="A test message", text="Kudos can send mail."), sender="kudos@example.com"
    )
    await OutboxBackend(get_settings().outbox_dir).send(message)
    outbox = sorted(p.name for p in get_settings().outbox_dir.glob("*.eml"))[-1]
    link = await create_password_link(admin, int(person_ids[-1]))
    departments = await Department.select(Department.id, Department.slug).order_by(Department.id).limit(2)
    await runs.run_nightly()  # the demo's planted ring and month-end dumper become signals
    findings = await Finding.select(Finding.id).order_by(Finding.id).limit(2)
    received = await Feedback.select(Feedback.id).where(Feedback.subject == employee).order_by(Feedback.id).first()
    waiting = (
        await FeedbackAskee.select(FeedbackAskee.ask)
        .where((FeedbackAskee.recipient == employee) & (FeedbackAskee.status == "waiting"))
        .first()
    )
    return {
        "person_id": person_ids,
        "slug": [row["slug"] for row in departments],
        "department_id": [str(row["id"]) for row in departments],
        "request_id": requests,
        "kudos_id": [str(kudos["id"])] if kudos else [],
        "cycle_id": list(by_status.values()),
        "import_id": [str(import_id)],
        "month": [months_offered()[0].strftime("%Y-%m")],
        "file": [outbox],
        "token": [link.token, make_token(employee, DigestKind.EMPLOYEE)],
        "finding_id": [str(row["id"]) for row in findings],
        "feedback_id": [str(received["id"])] if received else [],
        "ask_id": [str(waiting["ask"])] if waiting else [],
    }


async def _person(email: str) -> int:
    row = await Employee.select(Employee.id).where(Employee.email == email).first()
    assert row, f"the demo has no {email}"
    return row["id"]


async def site_pages(app: Litestar) -> list[SitePage]:
    """Every page for every role. Run after seeding the demo; it adds an import, a mail and a password link."""
    ids = await _ids()
    pages: list[SitePage] = []
    for template in page_routes(app):
        names = PARAM.findall(template)
        if template == "/password/{token:str}":
            values = [ids["token"][0]]
        elif template == "/unsubscribe/{token:str}":
            values = [ids["token"][1]]
        elif names:
            (name,) = names
            values = ids[name]
            assert values, f"no value for {name} in {template}: the demo lacks such a row"
        else:
            values = [""]
        paths = [PARAM.sub(value, template) for value in values]
        if template == "/admin/digests/preview":  # the preview of one person's digest for a month
            paths = [f"{template}?person={LOGINS['employee']}&month={ids['month'][0]}&kind=employee"]
        if template in ONLY:
            roles: tuple[str, ...] = ONLY[template]
        elif template in SIGNED_OUT:
            roles = ("signed-out",)
        elif template.startswith("/admin"):
            roles = ("admin",)
        else:
            roles = ("employee", "manager", "admin")
        pages += [SitePage(role, path) for role in roles for path in paths]
    return pages
