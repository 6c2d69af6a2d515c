"""Jinja set-up, the one rule for choosing between a full page and an HTMX fragment, and the one way to answer a
form that succeeded (`done`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar
from litestar.plugins.flash import flash
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from litestar.types.internal_types import PathParameterDefinition

from app.settings import get_settings
from app.timeutil import localtime, now
from app.web.deps import optional_user
from app.web.header import header_for
from app.words import TEMPLATE_FILTERS, plural

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


def ago(moment: datetime | None) -> str:
    """How long ago, in words ("just now", "5 minutes ago", "3 days ago"); older than a week: the date."""
    if moment is None:
        return ""
    seconds = (now() - moment).total_seconds()
    for limit, unit, size in ((3600, "minute", 60), (86400, "hour", 3600), (7 * 86400, "day", 86400)):
        if seconds < limit:
            count = int(seconds // size)
            if count < 1:
                return "just now"
            return f"{plural(count, unit)} ago"
    return localtime(moment, "%-d %b %Y")


@functools.lru_cache(maxsize=1024)
def _route(app: Litestar, name: str) -> tuple[str, tuple[PathParameterDefinition, ...]] | None:
    """A named route's path format ("/people/{person_id}") and parameters; None when the name has several routes
    (route_reverse chooses by the parameters given) or none."""
    index = app.get_handler_index_by_name(name)
    routes = app.asgi_router.route_mapping[index["identifier"]] if index else []
    if len(routes) != 1:
        return None
    return routes[0].path_format, tuple(routes[0].path_parameters.values())


def url_for(context: Mapping[str, Any], name: str, /, **parameters: Any) -> str:
    """Litestar's `url_for` (`route_reverse` by route name) with each route's path format looked up once: a feed or a
    board builds a hundred links, and route_reverse looks the route up again for each (~8 µs a link)."""
    app: Litestar = context["request"].app
    route = _route(app, name)
    if route is None or not all(isinstance(parameters.get(p.name), p.type) for p in route[1]):
        return app.route_reverse(name, **parameters)  # it picks among routes, converts or refuses a parameter
    return route[0].format(**parameters) if parameters else route[0]


def _configure(engine: JinjaTemplateEngine) -> None:
    # templates change with a deploy, not while the process runs: no stat of each template on every render
    engine.engine.auto_reload = get_settings().env == "development"
    engine.engine.trim_blocks = True
    engine.engine.lstrip_blocks = True
    engine.engine.filters.update({"localtime": localtime, "ago": ago, **TEMPLATE_FILTERS})
    engine.register_template_callable("url_for", url_for)


template_config = TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_configure)


# Form fields that never go into a URL: the CSRF token (its form field name, Litestar's default) and the
# give form's one-time idempotency key.
SECRET_FIELDS = frozenset({"_csrf_token", "idempotency_key"})


async def search_redirect(request: HTMXRequest, path: str) -> Redirect:
    """A POSTed form's search button without JavaScript (the form carries a CSRF token, which must not end up in
    a URL): 303 to the page's GET search with every other field kept in the query string."""
    data = await request.form()
    fields = [(key, str(value)) for key, value in data.multi_items() if key not in SECRET_FIELDS]
    return Redirect(f"{path}?{urlencode(fields)}" if fields else path, status_code=303)


def done(request: HTMXRequest, message: str, location: str) -> Redirect | ClientRedirect:
    """A form that succeeded: `message` flashed, then the browser sent to `location` (built with `route_reverse`) —
    a 303 for a plain form, a client-side redirect for HTMX (which would swap a followed redirect into its target)."""
    flash(request, message, category="success")
    if request.htmx:
        return ClientRedirect(location)
    return Redirect(location, status_code=303)


def wants_fragment(request: HTMXRequest) -> bool:
    """HTMX asked for a part of the page (not a boosted navigation or a history restore)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


async def render(
    request: HTMXRequest,
    page: str,
    context: Mapping[str, Any],
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    """The fragment for an HTMX request, the full page otherwise; the page includes the same fragment file.

    A full page for a signed-in person also gets the header's figures (unread notifications, points left), unless
    the page read them already (`context["header"]`, e.g. the home page, whose give box shows the same points left).
    """
    partial = fragment is not None and wants_fragment(request)
    values = dict(context)
    user = optional_user(request)
    if not partial and user is not None and "header" not in values:
        values["header"] = await header_for(user)
    return Template(
        template_name=fragment if partial else page,
        context=values,
        status_code=status_code,
        headers=headers,
    )
