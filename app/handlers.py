"""The one place where every domain's event handlers are registered (app/events.py), at start-up of the web app
and of the worker."""

from __future__ import annotations

from app.api import handlers as webhooks
from app.awards import handlers as awards
from app.boards import handlers as boards
from app.events import registry
from app.integrations import handlers as chats
from app.notices import handlers as notices
from app.notifications import handlers as notifications
from app.signin import handlers as signin


def register_all() -> None:
    """Register every handler (idempotent: registering again changes nothing)."""
    for domain in (notifications, boards, awards, webhooks, chats, notices, signin):
        domain.register(registry)
    registry.ready = True
