"""Sessions: server-side in Redis, a new id at every sign-in, and a per-person index so all of a person's sessions
can be ended (deactivation, a password set through a link)."""

from __future__ import annotations

import copy
import logging
import secrets
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty
from redis.exceptions import RedisError

from app.people.services import CurrentUser
from app.signin.password_links import accept_invitation
from app.timeutil import now

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import Message, ScopeSession

log = logging.getLogger("kudos.web")

SESSION_COOKIE = "kudos_session"
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

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        new_id = connection.scope.get(_NEW_SESSION_ID)
        return new_id if isinstance(new_id, str) else super().get_session_id(connection)

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        # a deep copy: flash() appends to a list in the session, which a shallow copy would share
        connection.scope[_LOADED] = copy.deepcopy(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        has_cookie = bool(connection.cookies.get(self.config.key))
        rotated = _NEW_SESSION_ID in connection.scope
        session: Any = scope_session  # Litestar passes Empty to delete a session; its type does not say so
        if not session and session is not Empty:
            if not has_cookie:
                return
            session = Empty
        if session is not Empty and not rotated and session == connection.scope.get(_LOADED):
            return
        try:
            await super().store_in_message(session, message, connection)
        except RedisError as exc:
            # The response reports work already committed: answer it, losing only its flash message (or a
            # sign-in, which then asks again), rather than turning a done action into an error page.
            log.warning("could not save the session: %s: %s", type(exc).__name__, exc)


def session_config(*, secure: bool) -> ServerSideSessionConfig:
    config = ServerSideSessionConfig(
        key=SESSION_COOKIE,
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


def session_user_id(session: object) -> int | None:
    """The id of the person a session is signed in as, if any."""
    if isinstance(session, dict) and (user_id := session.get(SESSION_USER_KEY)):
        return int(user_id)
    return None


async def start_session(connection: ASGIConnection[Any, Any, Any, Any], user: CurrentUser) -> None:
    """Sign `user` in under a new session id; the old id's data is deleted. Every way of signing in ends here."""
    store = connection.app.stores.get("sessions")
    old_id = connection.cookies.get(SESSION_COOKIE)
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
    await accept_invitation(user.id, at=now())  # signed in: an invitation still open is accepted


async def end_sessions(app: Litestar, employee_id: int) -> None:
    """Sign a person out everywhere (deactivated, or their password was reset). A session renewed past the index's
    expiry is still refused: CurrentUserMiddleware drops any session whose person is no longer active."""
    store = app.stores.get("sessions")
    redis = app.state.redis
    key = _USER_SESSIONS.format(employee_id)
    for session_id in await redis.smembers(key):
        await store.delete(session_id.decode() if isinstance(session_id, bytes) else session_id)
    await redis.delete(key)
