"""Who may use which route. Every route of the app must be listed here, so a new one cannot ship untested."""

from __future__ import annotations

import pytest

from app.admin.tables import CsvImport
from app.api import tokens, webhooks
from app.digests.services import Trigger, last_month, start_run
from app.digests.tables import DigestKind
from app.digests.tokens import make_token
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.kudos.tables import CompanyValue
from app.mail.backends import OutboxBackend, list_outbox
from app.mail.message import Mail, build_message
from app.notifications.services import notify
from app.notifications.tables import Kind, Notification
from app.people.services import load_current_user
from app.people.tables import Role
from app.settings import get_settings
from app.timeutil import now
from tests.awards_world import award_world
from tests.factories import make_department, make_employee, make_request, make_service
from tests.helpers import post_form, signed_in
from tests.plugins.database import built_once

# path used in the request (placeholders filled below) → (method, who may use it)
PUBLIC = "public"
SIGNED_IN = "signed in"
ADMIN = "admin"
MANAGER = "manager"  # managers and admins
TOKEN = "api token"  # the JSON API: a bearer token only, never a session (401 JSON without one)
ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/login"): ("/login", PUBLIC),
    ("POST", "/login"): ("/login", PUBLIC),
    ("GET", "/login/forgot"): ("/login/forgot", PUBLIC),
    ("POST", "/login/forgot"): ("/login/forgot", PUBLIC),
    ("GET", "/login/company"): ("/login/company", PUBLIC),
    ("GET", "/login/company/callback"): ("/login/company/callback", PUBLIC),
    ("GET", "/healthz"): ("/healthz", PUBLIC),
    ("GET", "/static"): ("/static/css/app.css", PUBLIC),
    ("POST", "/logout"): ("/logout", SIGNED_IN),
    ("GET", "/"): ("/", SIGNED_IN),
    ("GET", "/people"): ("/people", SIGNED_IN),
    ("GET", "/people/{person_id:int}"): ("/people/{person}", SIGNED_IN),
    ("GET", "/departments"): ("/departments", SIGNED_IN),
    ("GET", "/departments/{slug:str}"): ("/departments/{slug}", SIGNED_IN),
    ("GET", "/departments/{slug:str}/members"): ("/departments/{slug}/members", SIGNED_IN),
    ("GET", "/admin"): ("/admin", ADMIN),
    ("GET", "/requests"): ("/requests", SIGNED_IN),
    ("GET", "/requests/new"): ("/requests/new", SIGNED_IN),
    ("POST", "/requests/new"): ("/requests/new", SIGNED_IN),
    ("GET", "/requests/{request_id:int}"): ("/requests/{request}", SIGNED_IN),
    ("POST", "/requests/{request_id:int}/claim"): ("/requests/{request}/claim", SIGNED_IN),
    ("POST", "/requests/{request_id:int}/resolvers"): ("/requests/{request}/resolvers", SIGNED_IN),
    ("POST", "/requests/{request_id:int}/complete"): ("/requests/{request}/complete", SIGNED_IN),
    ("POST", "/requests/{request_id:int}/cancel"): ("/requests/{request}/cancel", SIGNED_IN),
    ("POST", "/requests/{request_id:int}/rating"): ("/requests/{request}/rating", SIGNED_IN),
    ("GET", "/notifications"): ("/notifications", SIGNED_IN),
    ("GET", "/notifications/badge"): ("/notifications/badge", SIGNED_IN),
    ("POST", "/notifications/{notification_id:int}/read"): ("/notifications/{notification}/read", SIGNED_IN),
    ("POST", "/notifications/read-all"): ("/notifications/read-all", SIGNED_IN),
    ("GET", "/kudos/new"): ("/kudos/new", SIGNED_IN),
    ("POST", "/kudos/new"): ("/kudos/new", SIGNED_IN),
    ("GET", "/kudos/recipients"): ("/kudos/recipients?q=a", SIGNED_IN),
    ("POST", "/kudos"): ("/kudos", SIGNED_IN),
    ("GET", "/kudos/{kudos_id:int}"): ("/kudos/{kudos}", SIGNED_IN),
    ("POST", "/kudos/{kudos_id:int}/addons"): ("/kudos/{kudos}/addons", SIGNED_IN),
    ("POST", "/kudos/{kudos_id:int}/revoke"): ("/kudos/{kudos}/revoke", ADMIN),
    ("GET", "/feed"): ("/feed", SIGNED_IN),
    ("GET", "/leaderboards"): ("/leaderboards?board=departments&period=week&metric=givers_per_head", SIGNED_IN),
    ("GET", "/me/settings"): ("/me/settings", SIGNED_IN),
    ("POST", "/me/settings"): ("/me/settings", SIGNED_IN),
    ("GET", "/admin/tokens"): ("/admin/tokens", ADMIN),
    ("POST", "/admin/tokens"): ("/admin/tokens", ADMIN),
    ("POST", "/admin/tokens/{token_id:int}/revoke"): ("/admin/tokens/{token}/revoke", ADMIN),
    ("GET", "/admin/webhooks"): ("/admin/webhooks", ADMIN),
    ("POST", "/admin/webhooks"): ("/admin/webhooks", ADMIN),
    ("POST", "/admin/webhooks/{webhook_id:int}/remove"): ("/admin/webhooks/{webhook}/remove", ADMIN),
    ("GET", "/schema"): ("/schema", PUBLIC),
    ("GET", "/schema/openapi.json"): ("/schema/openapi.json", PUBLIC),
    ("GET", "/schema/{path:str}"): ("/schema/nothing-here", PUBLIC),
    ("POST", "/api/v1/requests"): ("/api/v1/requests", TOKEN),
    ("POST", "/api/v1/requests/complete"): ("/api/v1/requests/complete", TOKEN),
    ("POST", "/api/v1/kudos"): ("/api/v1/kudos", TOKEN),
    ("GET", "/api/v1/leaderboards"): ("/api/v1/leaderboards", TOKEN),
    ("GET", "/api/v1/people/{person_id:int}"): ("/api/v1/people/{person}", TOKEN),
    ("GET", "/awards"): ("/awards", SIGNED_IN),
    ("GET", "/awards/nominees"): ("/awards/nominees?q=a", SIGNED_IN),
    ("POST", "/awards/nominees"): ("/awards/nominees", SIGNED_IN),
    ("POST", "/awards/nominations"): ("/awards/nominations", SIGNED_IN),
    ("POST", "/awards/nominations/{nomination_id:int}/withdraw"): (
        "/awards/nominations/{nomination}/withdraw",
        SIGNED_IN,
    ),
    ("GET", "/awards/hall-of-fame"): ("/awards/hall-of-fame?category=1&year=2026", SIGNED_IN),
    ("GET", "/awards/{cycle_id:int}"): ("/awards/{cycle}", SIGNED_IN),
    ("POST", "/awards/{cycle_id:int}/winners"): ("/awards/{cycle}/winners", ADMIN),
    ("POST", "/awards/{cycle_id:int}/announce"): ("/awards/{cycle}/announce", ADMIN),
    ("GET", "/admin/awards"): ("/admin/awards", ADMIN),
    ("POST", "/admin/awards/categories"): ("/admin/awards/categories", ADMIN),
    ("POST", "/admin/awards/categories/{category_id:int}"): ("/admin/awards/categories/{category}", ADMIN),
    ("POST", "/admin/awards/calendar"): ("/admin/awards/calendar", ADMIN),
    ("GET", "/admin/people"): ("/admin/people?q=a&role=employee&active=all", ADMIN),
    ("GET", "/admin/people/new"): ("/admin/people/new", ADMIN),
    ("POST", "/admin/people/new"): ("/admin/people/new", ADMIN),
    ("GET", "/admin/people/{person_id:int}"): ("/admin/people/{person}", ADMIN),
    ("POST", "/admin/people/{person_id:int}"): ("/admin/people/{person}", ADMIN),
    ("POST", "/admin/people/{person_id:int}/deactivate"): ("/admin/people/{person}/deactivate", ADMIN),
    ("POST", "/admin/people/{person_id:int}/reactivate"): ("/admin/people/{person}/reactivate", ADMIN),
    ("POST", "/admin/people/{person_id:int}/password-link"): ("/admin/people/{person}/password-link", ADMIN),
    ("POST", "/admin/people/{person_id:int}/invite"): ("/admin/people/{person}/invite", ADMIN),
    ("POST", "/admin/people/{person_id:int}/invitation/revoke"): ("/admin/people/{person}/invitation/revoke", ADMIN),
    ("POST", "/admin/people/invite"): ("/admin/people/invite", ADMIN),
    ("GET", "/password/{token:str}"): ("/password/not-a-token", PUBLIC),
    ("POST", "/password/{token:str}"): ("/password/not-a-token", PUBLIC),
    ("GET", "/admin/departments"): ("/admin/departments", ADMIN),
    ("POST", "/admin/departments"): ("/admin/departments", ADMIN),
    ("GET", "/admin/departments/{department_id:int}"): ("/admin/departments/{department}", ADMIN),
    ("POST", "/admin/departments/{department_id:int}"): ("/admin/departments/{department}", ADMIN),
    ("POST", "/admin/departments/{department_id:int}/leads"): ("/admin/departments/{department}/leads", ADMIN),
    ("POST", "/admin/departments/{department_id:int}/leads/remove"): (
        "/admin/departments/{department}/leads/remove",
        ADMIN,
    ),
    ("POST", "/admin/departments/{department_id:int}/services"): ("/admin/departments/{department}/services", ADMIN),
    ("POST", "/admin/departments/{department_id:int}/services/{service_id:int}"): (
        "/admin/departments/{department}/services/{service}",
        ADMIN,
    ),
    ("POST", "/admin/departments/{department_id:int}/merge"): ("/admin/departments/{department}/merge", ADMIN),
    ("POST", "/admin/departments/{department_id:int}/archive"): ("/admin/departments/{department}/archive", ADMIN),
    ("POST", "/admin/departments/{department_id:int}/restore"): ("/admin/departments/{department}/restore", ADMIN),
    ("GET", "/admin/import"): ("/admin/import", ADMIN),
    ("POST", "/admin/import"): ("/admin/import", ADMIN),
    ("GET", "/admin/import/{import_id:int}"): ("/admin/import/{import}", ADMIN),
    ("GET", "/admin/import/{import_id:int}/progress"): ("/admin/import/{import}/progress", ADMIN),
    ("POST", "/admin/import/{import_id:int}/run"): ("/admin/import/{import}/run", ADMIN),
    ("POST", "/admin/import/{import_id:int}/invite"): ("/admin/import/{import}/invite", ADMIN),
    ("GET", "/admin/values"): ("/admin/values", ADMIN),
    ("POST", "/admin/values"): ("/admin/values", ADMIN),
    ("POST", "/admin/values/{value_id:int}"): ("/admin/values/{value}", ADMIN),
    ("GET", "/admin/allowances"): ("/admin/allowances", ADMIN),
    ("POST", "/admin/allowances"): ("/admin/allowances", ADMIN),
    ("GET", "/admin/audit"): ("/admin/audit?action=person.create&since=2020-01-01&until=2099-12-31", ADMIN),
    ("GET", "/admin/digests"): ("/admin/digests", ADMIN),
    ("POST", "/admin/digests"): ("/admin/digests", ADMIN),
    ("GET", "/admin/digests/preview"): ("/admin/digests/preview?person={person}&month=2026-01&kind=employee", ADMIN),
    ("GET", "/admin/digests/preview/html"): (
        "/admin/digests/preview/html?person={person}&month=2026-01&kind=manager",
        ADMIN,
    ),
    ("GET", "/admin/digests/{month:str}"): ("/admin/digests/{digest_month}", ADMIN),
    ("POST", "/admin/digests/{month:str}/retry"): ("/admin/digests/{digest_month}/retry", ADMIN),
    ("GET", "/admin/outbox"): ("/admin/outbox", ADMIN),
    ("GET", "/admin/outbox/{file:str}"): ("/admin/outbox/{outbox_message}", ADMIN),
    ("GET", "/admin/outbox/{file:str}/html"): ("/admin/outbox/{outbox_message}/html", ADMIN),
    ("GET", "/unsubscribe/{token:str}"): ("/unsubscribe/{unsubscribe_token}", PUBLIC),
    ("POST", "/unsubscribe/{token:str}"): ("/unsubscribe/{unsubscribe_token}", PUBLIC),
    ("GET", "/feedback"): ("/feedback", SIGNED_IN),
    ("GET", "/feedback/{feedback_id:int}"): ("/feedback/1", SIGNED_IN),
    ("GET", "/feedback/ask"): ("/feedback/ask", SIGNED_IN),
    ("POST", "/feedback/ask"): ("/feedback/ask", SIGNED_IN),
    ("GET", "/feedback/asks/{ask_id:int}"): ("/feedback/asks/1", SIGNED_IN),
    ("POST", "/feedback/asks/{ask_id:int}/answer"): ("/feedback/asks/1/answer", SIGNED_IN),
    ("POST", "/feedback/asks/{ask_id:int}/decline"): ("/feedback/asks/1/decline", SIGNED_IN),
    ("POST", "/feedback/asks/{ask_id:int}/close"): ("/feedback/asks/1/close", SIGNED_IN),
    ("GET", "/feedback/give"): ("/feedback/give", SIGNED_IN),
    ("POST", "/feedback/give"): ("/feedback/give", SIGNED_IN),
    ("GET", "/surveys"): ("/surveys", SIGNED_IN),
    ("POST", "/surveys/{round_id:int}/departments/{department_id:int}"): ("/surveys/1/departments/1", SIGNED_IN),
    ("GET", "/surveys/departments/{slug:str}/comments"): ("/surveys/departments/{slug}/comments", SIGNED_IN),
    ("GET", "/admin/surveys"): ("/admin/surveys", ADMIN),
    ("POST", "/admin/surveys"): ("/admin/surveys", ADMIN),
    ("GET", "/insights"): ("/insights?view=equity&period=year", MANAGER),
    ("GET", "/insights/export.csv"): ("/insights/export.csv?view=participation", MANAGER),
    ("GET", "/insights/signals/{finding_id:int}"): ("/insights/signals/999999", MANAGER),
    ("GET", "/admin/insights"): ("/admin/insights?view=map", ADMIN),
    ("GET", "/admin/insights/export.csv"): ("/admin/insights/export.csv?view=invisible", ADMIN),
    ("GET", "/admin/insights/signals/{finding_id:int}"): ("/admin/insights/signals/999999", ADMIN),
    ("POST", "/admin/insights/signals/{finding_id:int}/review"): ("/admin/insights/signals/999999/review", ADMIN),
    ("POST", "/admin/insights/runs"): ("/admin/insights/runs", ADMIN),
    ("POST", "/admin/insights/settings"): ("/admin/insights/settings", ADMIN),
    ("POST", "/integrations/slack/commands"): ("/integrations/slack/commands", PUBLIC),
    ("POST", "/integrations/slack/interactivity"): ("/integrations/slack/interactivity", PUBLIC),
    ("POST", "/integrations/teams/outgoing"): ("/integrations/teams/outgoing", PUBLIC),
    ("GET", "/admin/integrations"): ("/admin/integrations", ADMIN),
    ("POST", "/admin/integrations/slack"): ("/admin/integrations/slack", ADMIN),
    ("POST", "/admin/integrations/teams/token"): ("/admin/integrations/teams/token", ADMIN),
    ("POST", "/admin/integrations/teams/channels"): ("/admin/integrations/teams/channels", ADMIN),
    ("POST", "/admin/integrations/teams/channels/{channel_id:int}/remove"): (
        "/admin/integrations/teams/channels/999999/remove",
        ADMIN,
    ),
}
# Public routes that answer something other than 200/400 to anyone: the schema's catch-all is a "not found" page.
# Slack's and Teams' endpoints answer only requests they sign (401 to anyone else).
PUBLIC_STATUS = {
    ("GET", "/schema/{path:str}"): 404,
    ("POST", "/integrations/slack/commands"): 401,
    ("POST", "/integrations/slack/interactivity"): 401,
    ("POST", "/integrations/teams/outgoing"): 401,
}


def app_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", ()):
            if method in {"HEAD", "OPTIONS"}:
                continue
            path = "/static" if route.path.startswith("/static") else route.path
            found.add((method, path))
    return found


def test_every_route_has_an_access_rule(app) -> None:
    assert app_routes(app) == set(ROUTES), "add new routes to ROUTES with who may use them"


@pytest.fixture
async def world(db: None) -> dict[str, object]:
    """One of everything a route's path can name: built by the first test of this process, its rows restored for
    each later one (hundreds of tests share it)."""
    return await built_once("access world", _build_world)


async def _build_world() -> dict[str, object]:
    department = await make_department("Finance", slug="finance")
    person = await make_employee(department=department)
    await notify([person.id], Kind.KUDOS_RECEIVED, text="Thanks!", subject="kudos:1")
    notification = (await Notification.select(Notification.id).first())["id"]
    request = await make_request(person, department)
    colleague = await make_employee(department=department)
    giver = await load_current_user(person.id)
    kudos = await give_kudos(giver, GiveForm(recipient_ids=[colleague.id], message="Thanks!", points="1"))
    admin = await load_current_user((await make_employee(role=Role.ADMIN)).id)
    token, _ = await tokens.create_token(admin, name="World", scopes=["read"])
    webhook, _ = await webhooks.register(
        admin, name="World", url="https://hooks.example.com/h", events=["badge.earned"]
    )
    awards = await award_world(person.id)
    service = await make_service(department, "Invoices")
    value = CompanyValue(name="Teamwork")
    await value.save()
    csv_import = CsvImport(
        kind="people", filename="people.csv", content="name,email\nX,x@\n", total=1, created_at=now(),
        problems=[{"row": 2, "column": "email", "message": "bad email"}],
    )  # fmt: skip
    await csv_import.save()
    await start_run(last_month(), trigger=Trigger.CLI)
    outbox = get_settings().outbox_dir
    await OutboxBackend(outbox).send(
        build_message(Mail(to="a@example.org", subject="Hi", text="T", html="<p>H</p>"), sender="k@example.org")
    )
    return {
        **awards,
        "person": person.id,
        "slug": department.slug,
        "notification": notification,
        "request": request,
        "kudos": kudos.kudos_id,
        "token": token,
        "webhook": webhook,
        "department": department.id,
        "service": service.id,
        "value": value.id,
        "import": csv_import.id,
        "digest_month": f"{last_month():%Y-%m}",
        "outbox_message": list_outbox(outbox, limit=1)[0].name,
        "unsubscribe_token": make_token(person.id, DigestKind.EMPLOYEE),
    }


async def _request(client, method: str, path: str):
    if method == "GET":
        return await client.get(path)
    return await post_form(client, path)


@pytest.mark.parametrize(("method", "route"), sorted(ROUTES))
async def test_signed_out_visitors_are_sent_to_login(client, world, method: str, route: str) -> None:
    path, rule = ROUTES[(method, route)]
    response = await _request(client, method, path.format(**world))
    if rule == PUBLIC:
        assert response.status_code in (
            {PUBLIC_STATUS[(method, route)]} if (method, route) in PUBLIC_STATUS else {200, 400}
        )
    elif rule == TOKEN:
        assert response.status_code == 401
        assert response.json()["errors"] == {"form": "Send a valid API token: Authorization: Bearer <token>."}
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.MANAGER])
@pytest.mark.parametrize(("method", "route"), sorted(k for k, v in ROUTES.items() if v[1] == ADMIN))
async def test_admin_routes_are_forbidden_to_other_roles(client, world, role: Role, method: str, route: str) -> None:
    person = await make_employee(role=role)
    await signed_in(client, person.email)
    response = await _request(client, method, ROUTES[(method, route)][0].format(**world))
    assert response.status_code == 403
    assert "You don&#39;t have access to this page" in response.text


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "route"), sorted(k for k, v in ROUTES.items() if v[1] == TOKEN))
async def test_a_session_never_opens_the_api(client, world, role: Role, method: str, route: str) -> None:
    person = await make_employee(role=role)
    await signed_in(client, person.email)
    response = await _request(client, method, ROUTES[(method, route)][0].format(**world))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(("method", "route"), sorted(k for k, v in ROUTES.items() if v[1] == MANAGER))
async def test_manager_routes_are_forbidden_to_employees(client, world, method: str, route: str) -> None:
    person = await make_employee(role=Role.EMPLOYEE)
    await signed_in(client, person.email)
    response = await _request(client, method, ROUTES[(method, route)][0].format(**world))
    assert response.status_code == 403


ALLOWED = [
    (role, method, route)
    for (method, route), (_, rule) in sorted(ROUTES.items())
    for role in Role
    if rule == SIGNED_IN or (rule == ADMIN and role == Role.ADMIN) or (rule == MANAGER and role != Role.EMPLOYEE)
]

# Routes a role may use whose empty POST from a newcomer is refused by a rule, not a guard: the form comes back
# with the message (422 bad input, 403 not theirs to act on), never the generic "no access" page; 404 when the
# path names another person's item (from `world`) that the service, checking ownership, does not find.
RULE_REFUSALS: dict[tuple[str, str], set[int]] = {
    ("POST", "/requests/new"): {422},
    ("POST", "/requests/{request_id:int}/claim"): {403},
    ("POST", "/requests/{request_id:int}/resolvers"): {403},
    ("POST", "/requests/{request_id:int}/complete"): {403},
    ("POST", "/requests/{request_id:int}/cancel"): {403},
    ("POST", "/requests/{request_id:int}/rating"): {403},
    ("POST", "/kudos"): {422},
    ("POST", "/kudos/{kudos_id:int}/addons"): {422},
    ("POST", "/kudos/{kudos_id:int}/revoke"): {422},
    ("POST", "/notifications/{notification_id:int}/read"): {404},
    ("POST", "/admin/tokens"): {422},
    ("POST", "/admin/webhooks"): {422},
    ("POST", "/awards/nominations"): {403, 409},
    ("POST", "/awards/nominations/{nomination_id:int}/withdraw"): {404},
    ("POST", "/awards/{cycle_id:int}/winners"): {404},
    ("POST", "/awards/{cycle_id:int}/announce"): {422},
    ("POST", "/admin/awards/categories"): {422},
    ("POST", "/admin/awards/categories/{category_id:int}"): {422},
    ("POST", "/admin/awards/calendar"): {422},
    ("POST", "/admin/people/new"): {422},
    ("POST", "/admin/people/{person_id:int}"): {422},
    ("POST", "/admin/people/{person_id:int}/reactivate"): {409},
    ("POST", "/admin/departments"): {422},
    ("POST", "/admin/departments/{department_id:int}"): {422},
    ("POST", "/admin/departments/{department_id:int}/leads"): {422},
    ("POST", "/admin/departments/{department_id:int}/leads/remove"): {404},
    ("POST", "/admin/departments/{department_id:int}/services"): {422},
    ("POST", "/admin/departments/{department_id:int}/services/{service_id:int}"): {422},
    ("POST", "/admin/departments/{department_id:int}/merge"): {422},
    ("POST", "/admin/departments/{department_id:int}/archive"): {409},
    ("POST", "/admin/departments/{department_id:int}/restore"): {409},
    ("POST", "/admin/import"): {422},
    ("POST", "/admin/import/{import_id:int}/run"): {409},
    ("POST", "/admin/import/{import_id:int}/invite"): {422},  # the import added no one
    ("POST", "/admin/people/invite"): {422},  # no one ticked
    ("POST", "/admin/people/{person_id:int}/invitation/revoke"): {409},  # no open invitation
    ("POST", "/admin/values"): {422},
    ("POST", "/admin/values/{value_id:int}"): {422},
    ("POST", "/admin/allowances"): {422},
    ("POST", "/admin/digests"): {422},
    ("POST", "/admin/digests/{month:str}/retry"): {409},
    ("GET", "/feedback/{feedback_id:int}"): {404},
    ("GET", "/feedback/asks/{ask_id:int}"): {404},
    ("POST", "/feedback/ask"): {422},
    ("POST", "/feedback/asks/{ask_id:int}/answer"): {404},
    ("POST", "/feedback/asks/{ask_id:int}/decline"): {404},
    ("POST", "/feedback/asks/{ask_id:int}/close"): {404},
    ("POST", "/feedback/give"): {422},
    ("POST", "/surveys/{round_id:int}/departments/{department_id:int}"): {404},
    ("GET", "/surveys/departments/{slug:str}/comments"): {200, 404},  # leads and admins read them
    ("POST", "/admin/surveys"): {422},
    ("GET", "/insights/signals/{finding_id:int}"): {404},
    ("GET", "/admin/insights/signals/{finding_id:int}"): {404},
    ("POST", "/admin/insights/signals/{finding_id:int}/review"): {404},
    ("POST", "/admin/insights/settings"): {422},
    ("POST", "/admin/integrations/teams/token"): {422},
    ("POST", "/admin/integrations/teams/channels"): {422},
    ("POST", "/admin/integrations/teams/channels/{channel_id:int}/remove"): {404},
}


@pytest.mark.parametrize(("role", "method", "route"), ALLOWED)
async def test_allowed_roles_get_through(client, world, role: Role, method: str, route: str) -> None:
    path, _ = ROUTES[(method, route)]
    person = await make_employee(role=role)
    await signed_in(client, person.email)
    response = await _request(client, method, path.format(**world))
    if (method, route) in RULE_REFUSALS:
        assert response.status_code in RULE_REFUSALS[(method, route)], response.text
        assert "You don&#39;t have access to this page" not in response.text
        return
    assert response.status_code in {200, 303}
    if response.status_code == 303:
        assert method == "POST"  # a form sent without JS answers 303 (ENGINEERING convention 6)
