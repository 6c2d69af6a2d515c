"""The templates' `url_for` builds the same path as Litestar's route_reverse for every named route, and refuses what
route_reverse refuses."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from litestar.exceptions import NoRouteMatchFoundException

from app.main import create_app, mail_links
from app.web.templating import url_for

SAMPLES: dict[type, object] = {int: 7, str: "it-security"}


def test_url_for_builds_every_named_route_as_route_reverse_does() -> None:
    app = create_app()
    context = {"request": SimpleNamespace(app=app)}
    names = [name for name in app.asgi_router.route_handler_index if app.get_handler_index_by_name(name)]
    assert {"home", "person", "department", "request.claim", "insights", "admin.insights"} <= set(names)
    for name in names:
        index = app.get_handler_index_by_name(name)
        assert index is not None
        route = app.asgi_router.route_mapping[index["identifier"]][0]
        parameters = {p.name: SAMPLES[p.type] for p in route.path_parameters.values() if p.type in SAMPLES}
        if len(parameters) < len(route.path_parameters):
            continue  # a parameter of another type (a static file's path): route_reverse's own business
        # route_reverse's own first parameter is called `name`: a path parameter of that name only url_for can fill
        expected = (
            route.path_format.format(**parameters) if "name" in parameters else app.route_reverse(name, **parameters)
        )
        assert url_for(context, name, **parameters) == expected, name
        assert url_for(context, name, **parameters) == url_for(context, name, **parameters)  # from the cache


def test_url_for_refuses_an_unknown_name_a_missing_or_mistyped_parameter() -> None:
    context = {"request": SimpleNamespace(app=create_app())}
    assert url_for(context, "person", person_id=3) == "/people/3"
    for name, parameters in (("no-such-route", {}), ("person", {}), ("person", {"person_id": None})):
        with pytest.raises(NoRouteMatchFoundException):
            url_for(context, name, **parameters)


def test_registering_mail_links_leaves_the_process_logging_alone() -> None:
    """The worker registers the routes at start; Litestar's default logging set-up would replace the handlers of
    the root logger (the worker's own, and pytest's capture, which hid the worker's Redis warnings from a test)."""
    root = logging.getLogger()
    before = list(root.handlers)
    mail_links()
    assert root.handlers == before
