"""Absolute links in mail — the one way: from a route's name and KUDOS_BASE_URL, without a request.

Mail is rendered outside a request (by the worker, the CLI, an admin's preview), so its templates build links with
`url_for(name, **params)` (the same call the pages use), which this module answers as KUDOS_BASE_URL + the route's
path. The routes belong to the web layer: whatever starts the program registers them once (`use_routes`, called
by `app.main.create_app` and `app.main.mail_links`); services never build URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from app.settings import get_settings

Reverse = Callable[..., str]
_routes: list[Reverse] = []  # the one registered route reverser


def use_routes(reverse: Reverse) -> None:
    """Register how a route's name becomes its path (the app's `route_reverse`)."""
    _routes[:] = [reverse]
    _path.cache_clear()


def absolute_url(name: str, /, **params: Any) -> str:
    """KUDOS_BASE_URL + the path of route `name` with its path parameters."""
    if not _routes:
        raise RuntimeError("No routes for mail links: the program registers them at start-up (app.main.mail_links).")
    return get_settings().base_url + _path(name, tuple(params.items()))


@lru_cache(maxsize=8192)  # a digest has some 30 links, most of them the same in every digest; reversing costs ~50 µs
def _path(name: str, params: tuple[tuple[str, Any], ...]) -> str:
    return _routes[0](name, **dict(params))
