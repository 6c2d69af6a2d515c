"""Sessions, the signed-in person, guards and the sign-in throttle."""

from __future__ import annotations

import copy
import logging
import math
import secrets
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.people.services import CurrentUser, load_current_user
from app.people.tables import Role

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, Message, Receive, Scope, ScopeSession, Send

log = logging.getLogger("kudos.web")

SESSION_USER_KEY = "uid"
SESSION_MAX_AGE = 14 * 24 * 3600
_USER_SESSIONS = "kudos:user-sessions:{}"  # a set of each person's session ids, so they can all be ended
_NEW_SESSION_ID = "kudos.new_session_id"
_LOADED = "kudos.session_loaded"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id can be replaced mid-request (at sign-in, against session fixation).

    Unlike Litestar's backend it writes nothing for a visitor without a session, and writes the store only
    when the session data changed (the store's expiry is renewed on every read anyway).
    """

    def get_session_id(self, connection: ASGIConnection) -> str:
        return connection.scope.get(_NEW_SESSION_ID) or super().get_session_id(connection)  # type: ignore[return-value]

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        # a deep copy: flash() appends to a list in the session, which a shallow copy would share
        connection.scope[_LOADED] = copy.deepcopy(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        has_cookie = bool(connection.cookies.get(self.config.key))
        rotated = _NEW_SESSION_ID in connection.scope
        if not scope_session and scope_session is not Empty:
            if not has_cookie:
                return
            scope_session = Empty
        if scope_session is not Empty and not rotated and scope_session == connection.scope.get(_LOADED):
            return
        try:
            await super().store_in_message(scope_session, message, connection)
        except RedisError as exc:
            # The response reports work already committed: answer it, losing only its flash message (or a
            # sign-in, which then asks again), rather than turning a done action into an error page.
            log.warning("could not save the session: %s: %s", type(exc).__name__, exc)


def session_config(*, secure: bool) -> ServerSideSessionConfig:
    config = ServerSideSessionConfig(
        key="kudos_session",
        store="sessions",
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=secure,
        samesite="lax",
        renew_on_access=True,
        exclude=["^/static/", "^/healthz$", "^/api/", "^/schema"],
    )
    config._backend_class = RotatingSessionBackend
    return config


async def start_session(connection: ASGIConnection, user: CurrentUser) -> None:
    """Sign `user` in under a new session id; the old id's data is deleted."""
    store = connection.app.stores.get("sessions")
    old_id = connection.cookies.get("kudos_session")
    if old_id:
        await store.delete(old_id)
    new_id = secrets.token_hex(32)
    connection.scope[_NEW_SESSION_ID] = new_id  # type: ignore[literal-required]
    connection.scope["session"] = {SESSION_USER_KEY: user.id}
    key = _USER_SESSIONS.format(user.id)
    async with connection.app.state.redis.pipeline(transaction=True) as pipe:
        pipe.sadd(key, new_id)
        pipe.expire(key, SESSION_MAX_AGE)
        await pipe.execute()


async def end_sessions(app: Litestar, employee_id: int) -> None:
    """Sign a person out everywhere (deactivated, or their password was reset). A session renewed past the index's
    expiry is still refused: CurrentUserMiddleware drops any session whose person is no longer active."""
    store = app.stores.get("sessions")
    redis = app.state.redis
    key = _USER_SESSIONS.format(employee_id)
    for session_id in await redis.smembers(key):
        await store.delete(session_id.decode() if isinstance(session_id, bytes) else session_id)
    await redis.delete(key)


class CurrentUserMiddleware:
    """Puts the signed-in person (or None) in `scope["user"]`; a deactivated person's session is dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            user = None
            session = scope.get("session")
            if isinstance(session, dict) and (user_id := session.get(SESSION_USER_KEY)):
                user = await load_current_user(int(user_id))
                if user is None:
                    session.clear()
            scope["user"] = user
        await self.app(scope, receive, send)


def login_required(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """App-wide guard: every route needs a signed-in person unless its handler is marked `public`."""
    if handler.opt.get("public"):
        return
    if connection.scope.get("user") is None:
        raise NotAuthorizedException("Sign in to continue.")


def requires_role(*roles: Role) -> Any:
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user: CurrentUser | None = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException("Sign in to continue.")
        if user.role not in allowed:
            raise PermissionDeniedException("This page is for " + " and ".join(sorted(allowed)) + "s only.")

    return guard


admin_only = requires_role(Role.ADMIN)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything else (other hosts, schemes, `//`) falls back to `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target


class LoginThrottle:
    """Counts failed sign-ins in Redis, so the limits hold across web processes. Three counters, each over a window
    that starts at its first failure:

    - `per_pair` failures for one email from one client address lock that email from that address: someone
      guessing a password. Behind one company NAT or proxy address, only the person mistyping is affected.
    - `per_email` failures for one email from any addresses lock it everywhere: guessing spread over many addresses
      (high enough that a stranger cannot easily lock someone out).
    - `per_address` failures from one address, whatever the emails, lock that address: spraying one password over
      many accounts. It is a ceiling far above what a whole office mistypes in a window.

    The client address is what the ASGI server reports: behind a reverse proxy, start uvicorn with the proxy's
    address in `FORWARDED_ALLOW_IPS` so it is the real client's (see the README).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        per_pair: int = 5,
        per_email: int = 20,
        per_address: int = 300,
        window_seconds: int = 900,
    ) -> None:
        self.redis = redis
        self.limits = (per_pair, per_email, per_address)
        self.window = window_seconds

    def _keys(self, email: str, address: str) -> list[tuple[str, int]]:
        names = (f"pair:{address}:{email}", f"email:{email}", f"addr:{address}")
        return [(f"kudos:login-fail:{name}", limit) for name, limit in zip(names, self.limits, strict=True)]

    async def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when not blocked."""
        wait = 0
        for key, limit in self._keys(email, address):
            count = await self.redis.get(key)
            if count is not None and int(count) >= limit:
                wait = max(wait, await self.redis.ttl(key), 1)
        return wait

    async def record_failure(self, email: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(email, address):
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(key)
            await pipe.execute()

    async def reset(self, email: str, address: str) -> None:
        """A successful sign-in clears that email's counters (not the address's ceiling)."""
        await self.redis.delete(*[key for key, _ in self._keys(email, address)[:2]])


def minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))
