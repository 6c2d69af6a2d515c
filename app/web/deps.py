"""Dependencies every handler can ask for by name (registered once on the app in app/main.py).

- `user: CurrentUser` — the signed-in person. Every route is behind `login_required` unless it opts out with
  `opt={"public": True}`; on such a route, ask for `viewer` instead.
- `viewer: Viewer` — the signed-in person or None (public pages: sign-in, password links, errors).

Import both types from here: they are the person (`app.people.services.CurrentUser`, to mypy and everywhere else)
marked as a named dependency, which Litestar 2.23+ wants (a dependency it has to infer from the parameter's name is
a deprecation warning, an error under the test suite's warning filter). `CurrentUser | None` would hide the mark,
hence `Viewer`.

`CurrentUserMiddleware` (app/web/auth.py) puts the person in `scope["user"]`; handlers never read the scope.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException

from app.people import services as people

CurrentUser: TypeAlias = NamedDependency[people.CurrentUser]
Viewer: TypeAlias = NamedDependency[people.CurrentUser | None]


def optional_user(request: Request[Any, Any, Any]) -> people.CurrentUser | None:
    user: people.CurrentUser | None = request.scope.get("user")
    return user


def current_user(request: Request[Any, Any, Any]) -> people.CurrentUser:
    user = optional_user(request)
    if user is None:  # a public route asked for `user`: a programming error the guard would have caught
        raise NotAuthorizedException("Please sign in.")
    return user


DEPENDENCIES = {
    "user": Provide(current_user, sync_to_thread=False),
    "viewer": Provide(optional_user, sync_to_thread=False),
}
