"""Dependencies every handler can ask for by name (registered once on the app in app/main.py).

- `user: CurrentUser` — the signed-in person. Every route is behind `login_required` unless it opts out with
  `opt={"public": True}`; on such a route, ask for `viewer` instead.
- `viewer: CurrentUser | None` — the signed-in person or None (public pages: sign-in, password links, errors).

`CurrentUserMiddleware` (app/web/auth.py) puts the person in `scope["user"]`; handlers never read the scope.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException

from app.people.services import CurrentUser


def optional_user(request: Request[Any, Any, Any]) -> CurrentUser | None:
    user: CurrentUser | None = request.scope.get("user")
    return user


def current_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = optional_user(request)
    if user is None:  # a public route asked for `user`: a programming error the guard would have caught
        raise NotAuthorizedException("Please sign in.")
    return user


DEPENDENCIES = {
    "user": Provide(current_user, sync_to_thread=False),
    "viewer": Provide(optional_user, sync_to_thread=False),
}
