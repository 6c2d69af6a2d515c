"""One place for exception handling: JSON for /api, a toast for HTMX, an error page otherwise; 401 → sign-in."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import ClientRedirect, HTMXRequest, HTMXTemplate
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap
from redis.exceptions import RedisError

from app.db import UNAVAILABLE as DATABASE_UNAVAILABLE
from app.rules import RuleViolation
from app.web.templating import wants_fragment

log = logging.getLogger("kudos.web")

AnyRequest = Request[Any, Any, Any]

TITLES = {
    400: "That request could not be understood",
    401: "Please sign in",
    403: "You don't have access to this page",
    404: "Page not found",
    405: "That action is not available here",
    409: "That conflicts with the current state",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Kudos is briefly unavailable",
}
CSRF_FAILED = "CSRF token verification failed"
CSRF_MESSAGE = "This form has expired or was sent from elsewhere. Reload the page and try again."


def _is_api(request: AnyRequest) -> bool:
    return request.url.path.startswith("/api/")


class TooManyRequests(HTTPException):
    status_code = HTTP_429_TOO_MANY_REQUESTS


def _api_errors(message: str, extra: object) -> dict[str, str]:
    """Field → message for a JSON error: validation details by their key, else the message for the whole `form`."""
    if isinstance(extra, list):
        fields = {
            str(item["key"]): str(item.get("message") or message)
            for item in extra
            if isinstance(item, dict) and item.get("key")
        }
        if fields:
            return fields
    return {"form": message}


def rule_violation_json(exc: RuleViolation) -> Response[Any]:
    """A rule's refusal on the JSON API: its messages by payload field."""
    return Response(
        {"status": exc.status_code, "detail": exc.message, "errors": exc.errors}, status_code=exc.status_code
    )


def sign_in_location(request: AnyRequest, target: str) -> str:
    """The sign-in page, coming back to `target` (a local path) once signed in."""
    return request.app.route_reverse("login") + "?" + urlencode({"next": target})


def _login_redirect(request: AnyRequest) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" and isinstance(request, HTMXRequest) and request.htmx:
        target = request.htmx.current_url_abs_path or request.app.route_reverse("home")
    location = sign_in_location(request, target)
    if isinstance(request, HTMXRequest) and request.htmx:
        return ClientRedirect(location)
    return Redirect(location, status_code=303)


def error_response(request: AnyRequest, status_code: int, message: str, extra: object = None) -> Response[Any]:
    if _is_api(request):
        body = {"status": status_code, "detail": message, "errors": _api_errors(message, extra)}
        return Response(body, status_code=status_code)
    if isinstance(request, HTMXRequest) and wants_fragment(request):
        return HTMXTemplate(
            template_name="fragments/toast.html",
            context={"message": message, "level": "error"},
            status_code=status_code,
            re_target="#toasts",
            re_swap="beforeend",
        )
    return Template(
        "errors/error.html",
        context={"status_code": status_code, "title": TITLES.get(status_code, "Error"), "message": message},
        status_code=status_code,
    )


def handle_http_exception(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    if exc.status_code == 401 and not _is_api(request):
        return _login_redirect(request)
    message = CSRF_MESSAGE if exc.detail == CSRF_FAILED else exc.detail
    response = error_response(request, exc.status_code, message, exc.extra if _is_api(request) else None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


# What Litestar raises when a client goes away while its request body is read: nothing for an operator to fix.
CLIENT_GONE = "client disconnected prematurely"


def handle_server_error(request: AnyRequest, exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException) and exc.detail == CLIENT_GONE:
        log.info("client went away during %s %s", request.method, request.url.path)
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "The error has been logged. Please try again in a moment.",
    )


UNAVAILABLE_MESSAGE = "Some of the services behind Kudos are not answering just now. Please try again in a minute."
RETRY_AFTER_SECONDS = 30


def handle_unavailable(request: AnyRequest, exc: Exception) -> Response[Any]:
    """PostgreSQL or Redis cannot be reached: a 503 the browser (or client) may retry, and one log line."""
    log.warning("unavailable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    response = error_response(request, HTTP_503_SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# Outages are looked up by exception class: PostgreSQL's connection errors (OSError only as a refused or reset
# connection, not a file error) and any Redis error.
OUTAGES: tuple[type[Exception], ...] = (
    *(cls for cls in DATABASE_UNAVAILABLE if issubclass(cls, Exception) and cls is not OSError),
    ConnectionError,
    RedisError,
)

exception_handlers: ExceptionHandlersMap = {
    HTTPException: handle_http_exception,
    HTTP_500_INTERNAL_SERVER_ERROR: handle_server_error,
    **dict.fromkeys(OUTAGES, handle_unavailable),
}
