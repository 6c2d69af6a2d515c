"""The JSON API, `/api/v1/…`, documented by the OpenAPI schema at `/schema` (HTTP only; rules live in services).

Every route needs `Authorization: Bearer <token>` with the route's scope; a browser session is ignored (sessions
and CSRF are off under /api/). The order of refusals: 401 (no or unknown or revoked token), 429 (over the token's
requests per minute, with Retry-After), 403 (the token lacks the scope). Refused input answers 400 (not JSON of
the documented shape) or 409/422/404 from the rules, always `{"status", "detail", "errors": {field: message}}`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.api import services
from app.api.tokens import RateLimit, authenticate
from app.boards import badges, levels
from app.boards import services as boards
from app.boards.periods import PERIODS
from app.mail.links import absolute_url
from app.paging import valid_id
from app.people.services import get_profile
from app.rules import RuleViolation
from app.web.errors import TooManyRequests, rule_violation_json

REQUIRED_SCOPE = "token_scope"  # the handler opt naming the scope a route needs


# ---------------------------------------------------------------------------------------------------------- auth


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


async def require_token(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The API's only guard: a valid token, within its rate limit, with the route's scope."""
    token = await authenticate(credentials) if (credentials := _bearer(connection)) else None
    if token is None:
        raise NotAuthorizedException(
            "Send a valid API token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="kudos"'},
        )
    if wait := await RateLimit(connection.app.state.redis).retry_after(token):
        raise TooManyRequests(
            f"This token may make {token.rate_limit} requests a minute; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    needed = handler.opt[REQUIRED_SCOPE]
    if needed not in token.scopes:
        raise PermissionDeniedException(f"This token lacks the scope {needed}.")


# ------------------------------------------------------------------------------------------------------ documents

Email = Annotated[str, msgspec.Meta(description="A person's email address in Kudos", examples=["ana@example.com"])]


class Error(msgspec.Struct):
    """Every refusal: `errors` maps a payload field (or `form`, for the request as a whole) to a message."""

    status: int
    detail: str
    errors: dict[str, str]


class TicketIn(msgspec.Struct, forbid_unknown_fields=True):
    """A ticket of an external tracker. The same (source, external_id) again updates the request it created."""

    source: Annotated[str, msgspec.Meta(description="The tracker's name", examples=["jira"])]
    external_id: Annotated[str, msgspec.Meta(description="The ticket's id in the tracker", examples=["HELP-123"])]
    requester: Email
    department: Annotated[str, msgspec.Meta(description="The slug of the department asked", examples=["it"])]
    title: str
    description: str = ""
    service: Annotated[str | None, msgspec.Meta(description="A service's name in the department's catalogue")] = None
    resolvers: Annotated[
        list[Email],
        msgspec.Meta(description="Who works on it; the first (a member or lead of the department) picks it up"),
    ] = []
    url: Annotated[str | None, msgspec.Meta(description="The link back to the ticket")] = None


class CompleteIn(msgspec.Struct, forbid_unknown_fields=True):
    """Which imported ticket is done, and by whom (default: its first resolver)."""

    source: str
    external_id: str
    completed_by: Email | None = None


class RequestOut(msgspec.Struct):
    id: int
    url: str
    source: str | None
    external_id: str | None
    external_url: str | None
    title: str
    description: str
    status: Annotated[str, msgspec.Meta(description="open, in_progress, completed or cancelled")]
    department: str
    service: str | None
    requester: str
    resolvers: list[str]
    created_at: datetime
    completed_at: datetime | None
    thank_url: Annotated[
        str | None, msgspec.Meta(description="Once completed: where the requester's “Thank now” prompt leads")
    ]


class KudosIn(msgspec.Struct, forbid_unknown_fields=True):
    """A kudos, with the same rules and messages as the form. The giver is named by email: a token is no person."""

    giver: Email
    recipients: list[Email]
    message: str
    points: int = 0
    values: Annotated[list[str], msgspec.Meta(description="Company value names")] = []
    visibility: Annotated[str, msgspec.Meta(description="public or private")] = "public"
    request: Annotated[int | None, msgspec.Meta(description="The id of a completed request it thanks for")] = None
    idempotency_key: Annotated[
        str | None, msgspec.Meta(description="Send the same key again and the first kudos is returned, not a second")
    ] = None


class KudosOut(msgspec.Struct):
    id: int
    url: str
    created: Annotated[bool, msgspec.Meta(description="False when the idempotency key was used before")]
    points_left: Annotated[int, msgspec.Meta(description="The giver's allowance left this month")]


class BoardRowOut(msgspec.Struct):
    rank: int
    id: int
    name: str
    department: str | None
    value: float


class BoardOut(msgspec.Struct):
    board: str
    period: str
    period_label: str
    metric: str
    metric_label: str
    rows: list[BoardRowOut]


class BadgeOut(msgspec.Struct):
    slug: str
    name: str
    level: int
    title: str
    awarded_at: datetime


class ProfileOut(msgspec.Struct):
    id: int
    name: str
    title: str
    email: str
    active: bool
    department: str | None
    department_slug: str | None
    manager_id: int | None
    url: str
    level: int
    score: int
    points_received: int
    kudos_given: int
    requests_resolved: int
    badges: list[BadgeOut]


def _errors(*codes: int) -> dict[int, ResponseSpec]:
    described = {
        400: "Not a JSON document of this shape",
        401: "No valid token",
        403: "The token lacks the scope",
        404: "Not found",
        409: "Conflicts with the current state",
        422: "Refused by a rule",
        429: "Over the token's rate limit (see Retry-After)",
    }
    return {code: ResponseSpec(Error, description=described[code]) for code in (401, 403, 429, *codes)}


def _no_nul(document: msgspec.Struct) -> None:
    """PostgreSQL text cannot hold NUL characters: refuse them by field rather than fail."""
    errors = {}
    for name in document.__struct_fields__:
        value = getattr(document, name)
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            errors[name] = "Text can't contain NUL characters."
    if errors:
        raise RuleViolation(errors)


async def _request_out(request_id: int) -> RequestOut:
    """The request as integrations see it, with absolute links back to Kudos (as mail's: app/mail/links.py)."""
    row = await services.ticket_view(request_id)
    return RequestOut(
        id=row.id,
        url=absolute_url("request", request_id=row.id),
        source=row.source,
        external_id=row.external_id,
        external_url=row.external_url,
        title=row.title,
        description=row.description,
        status=row.status,
        department=row.department,
        service=row.service,
        requester=row.requester,
        resolvers=row.resolvers,
        created_at=row.created_at,
        completed_at=row.completed_at,
        thank_url=absolute_url("give") + f"?request={row.id}" if row.completed else None,
    )


# ---------------------------------------------------------------------------------------------------- endpoints


class RequestsApi(Controller):
    path = "/requests"
    tags = ["requests"]
    opt = {REQUIRED_SCOPE: "requests:write"}

    @post(
        "/",
        summary="Create or update a request from an external ticket",
        description="201 when the ticket is new, 200 when it updated the request imported before.",
        responses=_errors(400, 409, 422),
    )
    async def import_ticket(self, data: JSONBody[TicketIn]) -> Response[RequestOut]:
        _no_nul(data)
        ticket = services.Ticket(**{**msgspec.structs.asdict(data), "resolvers": tuple(data.resolvers)})
        request_id, created = await services.import_ticket(ticket)
        return Response(await _request_out(request_id), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post(
        "/complete",
        summary="Mark an imported request completed",
        description="Its requester gets the same “Thank now” notification as when a resolver completes it in Kudos.",
        status_code=HTTP_200_OK,
        responses=_errors(400, 404, 409, 422),
    )
    async def complete(self, data: JSONBody[CompleteIn]) -> RequestOut:
        _no_nul(data)
        request_id = await services.complete_ticket(data.source, data.external_id, data.completed_by)
        return await _request_out(request_id)


class KudosApi(Controller):
    path = "/kudos"
    tags = ["kudos"]
    opt = {REQUIRED_SCOPE: "kudos:write"}

    @post(
        "/",
        summary="Give a kudos",
        description="201 when given, 200 when the idempotency key was used before (the first kudos is returned).",
        responses=_errors(400, 409, 422),
    )
    async def give(self, data: JSONBody[KudosIn]) -> Response[KudosOut]:
        _no_nul(data)
        given = await services.give_by_email(
            giver=data.giver,
            recipients=data.recipients,
            message=data.message,
            points=data.points,
            values=data.values,
            visibility=data.visibility,
            request=data.request if data.request is None or valid_id(data.request) else 0,
            idempotency_key=data.idempotency_key,
        )
        out = KudosOut(
            id=given.kudos_id,
            url=absolute_url("kudos", kudos_id=given.kudos_id),
            created=given.created,
            points_left=given.remaining,
        )
        return Response(out, status_code=HTTP_201_CREATED if given.created else HTTP_200_OK)


class ReadApi(Controller):
    path = "/"
    opt = {REQUIRED_SCOPE: "read"}

    @get("/leaderboards", summary="A leaderboard", tags=["boards"], responses=_errors(400))
    async def leaderboard(
        self,
        board: Annotated[
            str, QueryParameter(description="people or departments", pattern="^(people|departments)$")
        ] = boards.DEFAULT_SCOPE,
        period: Annotated[
            str, QueryParameter(description=", ".join(PERIODS), pattern=f"^({'|'.join(PERIODS)})$")
        ] = "month",
        metric: Annotated[
            str,
            QueryParameter(
                description=", ".join(boards.METRICS) + "; departments also *_per_head",
                pattern=f"^({'|'.join(boards.METRICS)})(_per_head)?$",
            ),
        ] = boards.DEFAULT_METRIC,
        limit: Annotated[int, QueryParameter(ge=1, le=boards.MAX_BOARD_SIZE)] = boards.BOARD_SIZE,
    ) -> BoardOut:
        result = await boards.board(services.NOBODY, scope=board, period=period, metric=metric, limit=limit)
        return BoardOut(
            board=result.scope,
            period=result.window.name,
            period_label=result.window.label,
            metric=result.metric,
            metric_label=result.label,
            rows=[
                BoardRowOut(
                    rank=row.rank,
                    id=row.id,
                    name=row.name,
                    department=row.department,
                    value=float(row.value) if isinstance(row.value, Decimal) else row.value,
                )
                for row in result.rows
            ],
        )

    @get("/people/{person_id:int}", summary="A person's public profile", tags=["people"], responses=_errors(404))
    async def profile(self, person_id: FromPath[int]) -> ProfileOut:
        person = await get_profile(person_id)
        if person is None:
            raise NotFoundException("No one with that id works here.")
        level = await levels.person_level(person_id)
        earned = [
            BadgeOut(
                slug=status.badge.slug,
                name=status.badge.name,
                level=level_status.level,
                title=status.badge.title_for(level_status.level),
                awarded_at=level_status.awarded_at,
            )
            for status in await badges.badge_board(person_id)
            for level_status in status.earned
            if level_status.awarded_at is not None
        ]
        return ProfileOut(
            id=person.id,
            name=person.name,
            title=person.title,
            email=person.email,
            active=person.active,
            department=person.department_name,
            department_slug=person.department_slug,
            manager_id=person.manager_id,
            url=absolute_url("person", person_id=person_id),
            level=level.level,
            score=level.score,
            points_received=level.points_received,
            kudos_given=level.kudos_given,
            requests_resolved=level.requests_resolved,
            badges=earned,
        )


def _rule_violation(request: Request[Any, Any, Any], exc: RuleViolation) -> Response[Any]:
    return rule_violation_json(exc)


api_router = Router(
    path="/api/v1",
    route_handlers=[RequestsApi, KudosApi, ReadApi],
    guards=[require_token],
    opt={"public": True},  # no session sign-in: the token guard decides
    include_in_schema=True,
    security=[{"BearerToken": []}],
    exception_handlers={RuleViolation: _rule_violation},
)
