"""Who is signed in, and what they may open: the current-user middleware, the guards and `safe_next`.

Signing in and out (the policy, the throttle, sessions, password links) is app/signin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.people.services import CurrentUser, load_current_user
from app.people.tables import Role
from app.signin.sessions import session_user_id

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


class CurrentUserMiddleware:
    """Puts the signed-in person (or None) in `scope["user"]`; a deactivated person's session is dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            user = None
            session = scope.get("session")
            if (user_id := session_user_id(session)) is not None:
                user = await load_current_user(user_id)
                if user is None and isinstance(session, dict):
                    session.clear()
            scope["user"] = user
        await self.app(scope, receive, send)


def _user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    user: CurrentUser | None = connection.scope.get("user")
    return user


async def login_required(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-wide guard: every route needs a signed-in person unless its handler is marked `public`. Guards are
    coroutines: Litestar runs a plain function guard in a worker thread, a hand-off on every request."""
    if handler.opt.get("public"):
        return
    if _user(connection) is None:
        raise NotAuthorizedException("Sign in to continue.")


def requires_role(*roles: Role) -> Guard:
    allowed = frozenset(roles)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = _user(connection)
        if user is None:
            raise NotAuthorizedException("Sign in to continue.")
        if user.role not in allowed:
            raise PermissionDeniedException("This page is for " + " and ".join(sorted(allowed)) + "s only.")

    return guard


admin_only = requires_role(Role.ADMIN)


def safe_next(target: str | None, *, default: str) -> str:
    """A local path to go to after sign-in; anything else (other hosts, schemes, `//`) falls back to `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target
