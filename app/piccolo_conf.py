"""Piccolo's configuration: the engine from settings and the registry of the domain apps."""

from piccolo.conf.apps import AppRegistry

from app.db import ResilientEngine
from app.settings import get_settings

DB = ResilientEngine(
    config={"dsn": get_settings().database_url or "postgresql:///kudos"},
    extensions=(),
    log_queries=False,
)

APP_REGISTRY = AppRegistry(
    apps=[
        "app.people.piccolo_app",
        "app.jobs.piccolo_app",
        "app.requests.piccolo_app",
        "app.kudos.piccolo_app",
        "app.notifications.piccolo_app",
        "app.audit.piccolo_app",
        "app.boards.piccolo_app",
        "app.api.piccolo_app",
        "app.awards.piccolo_app",
        "app.admin.piccolo_app",
        "app.digests.piccolo_app",
        "app.feedback.piccolo_app",
        "app.surveys.piccolo_app",
        "app.insights.piccolo_app",
        "app.integrations.piccolo_app",
        "app.notices.piccolo_app",
    ]
)
