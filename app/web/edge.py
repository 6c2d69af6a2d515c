"""Input refused once, at the edge, before any controller or service sees it (ENGINEERING convention 17).

PostgreSQL text cannot hold a NUL character (asyncpg refuses it with an error that would be a 500), and no person
types one: a NUL byte in the path, the query string or any text field of a form is answered 400 with one message —
an error page, the JSON error for /api, a toast for HTMX — through the app's exception handlers. Uploaded files are
left to the code that reads them (the CSV import reports a NUL byte as a bad file). JSON bodies are checked by the
API, field by field.

A JSON body that is not UTF-8, or nests deeper than the decoder's recursion limit, escapes Litestar's own "invalid
JSON" 400 (it raises UnicodeDecodeError / RecursionError); `KudosRequest` turns both into that same 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException
from litestar.plugins.htmx import HTMXRequest

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

NUL = "\x00"
NUL_MESSAGE = "Text can't contain NUL characters (\\0). Remove them and try again."
BAD_JSON_MESSAGE = "The body is not valid JSON: send UTF-8 text, nested at most a few hundred levels deep."
FORM_TYPES = {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}


def has_nul(text: str) -> bool:
    return NUL in text


async def _form_has_nul(scope: Scope, receive: Receive) -> bool:
    """Whether a text field of the form body holds a NUL (the parsed form is cached for the handler)."""
    request: Request[Any, Any, Any] = Request(scope, receive)
    if request.content_type[0] not in FORM_TYPES:
        return False
    form = await request.form()
    items = form.multi_items()
    if not any(has_nul(key) or (not isinstance(value, UploadFile) and has_nul(str(value))) for key, value in items):
        return False
    for _, value in items:  # refused before a handler could read (and close) the uploaded files
        if isinstance(value, UploadFile):
            await value.close()
    return True


class RefuseNulMiddleware:
    """Refuses a NUL in the path, the query string or a form's text fields with a 400 (see the module's notes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (
            has_nul(scope["path"])
            or has_nul(unquote_plus(scope["query_string"].decode("latin-1")))
            or await _form_has_nul(scope, receive)
        ):
            raise ClientException(NUL_MESSAGE)
        await self.app(scope, receive, send)


class KudosRequest(HTMXRequest):
    """The app's request class: HTMX details, and an unreadable JSON body refused like any other invalid JSON."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError) as exc:
            raise ClientException(BAD_JSON_MESSAGE) from exc
