"""HTTP for digests: the admin's runs, progress, retries and previews, the outbox, and one-click unsubscribe."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.digests import services
from app.digests.period import DigestPeriod
from app.mail.backends import list_outbox, read_outbox
from app.mail.message import PRIVATE_HEADER
from app.rules import RuleViolation
from app.settings import get_settings
from app.timeutil import month_of, now
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.templating import render

# A message's HTML shown in the browser (preview, outbox) runs nothing and loads nothing: its own strict policy,
# in a sandboxed frame of our own pages only. The HTML itself comes from autoescaped templates.
MAIL_HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"
MONTHS_OFFERED = 12
NO_RUN = "There is no digest run for that month."
NO_MESSAGE = "There is no such message in the outbox."
PRIVATE_MAIL = "This message shows private kudos: only its recipient can read it."


class StartForm(msgspec.Struct, frozen=True):
    month: str = ""


def _mail_html(html: str) -> Response[str]:
    return Response(
        content=html,
        media_type="text/html",
        headers={"content-security-policy": MAIL_HTML_POLICY, "x-frame-options": "SAMEORIGIN"},
    )


def _month_or_404(text: str) -> date:
    try:
        return services.parse_month(text)
    except RuleViolation as exc:
        raise NotFoundException(NO_RUN) from exc


def months_offered() -> list[date]:
    """The months an admin can start: the last MONTHS_OFFERED that have ended, newest first."""
    months = [services.last_month()]
    while len(months) < MONTHS_OFFERED:
        months.append(services.last_month(DigestPeriod.of(months[-1]).start))
    return months


class DigestAdminController(Controller):
    path = "/admin/digests"
    guards = [admin_only]

    async def _index(
        self, request: HTMXRequest, *, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
    ) -> Template:
        settings = get_settings()
        return await render(
            request,
            "pages/admin/digests/index.html",
            {
                "runs": await services.runs(),
                "months": months_offered(),
                "errors": errors or {},
                "values": {"month": f"{services.last_month():%Y-%m}", "kind": "employee", **(values or {})},
                "kinds": services.KIND_LABELS,
                "digest_time": settings.digest_time,
                "timezone": settings.timezone,
                "this_month": month_of(now()),
            },
            status_code=422 if errors else 200,
        )

    @get("/", name="admin.digests")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._index(request)

    @post("/", name="admin.digests.start")
    async def start(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect:
        text = (await read_form(request, StartForm)).month
        try:
            started = await services.start_run(services.parse_month(text), trigger=services.Trigger.ADMIN, by=user)
        except RuleViolation as exc:
            return await self._index(request, errors=exc.errors, values={"month": text})
        planned = sum(started.planned.values())
        message = f"Digests for {started.month:%B %Y} started: {planned} to send."
        if not started.new_run:
            message = f"Digests for {started.month:%B %Y} were already started; {planned} newly eligible added."
        flash(request, message, category="success")
        return Redirect(request.app.route_reverse("admin.digests.run", month=f"{started.month:%Y-%m}"), status_code=303)

    @get("/preview", name="admin.digests.preview")
    async def preview(
        self,
        request: HTMXRequest,
        user: CurrentUser,
        person: FromQuery[str] = "",
        month: FromQuery[str] = "",
        kind: FromQuery[str] = "",
    ) -> Template:
        """Any person's digest as it would be sent: the HTML in a sandboxed frame, and the plain text."""
        values = {"person": person, "month": month, "kind": kind}
        try:
            found = await services.preview(person, month, kind, reader=user)
        except RuleViolation as exc:
            return await self._index(request, errors=exc.errors, values=values)
        return await render(
            request,
            "pages/admin/digests/preview.html",
            {
                "preview": found,
                "html_url": request.app.route_reverse("admin.digests.preview.html") + "?" + urlencode(values),
            },
        )

    @get("/preview/html", name="admin.digests.preview.html")
    async def preview_html(
        self,
        user: CurrentUser,
        person: FromQuery[str] = "",
        month: FromQuery[str] = "",
        kind: FromQuery[str] = "",
    ) -> Response[str]:
        try:
            found = await services.preview(person, month, kind, reader=user)
        except RuleViolation as exc:
            raise NotFoundException(exc.message) from exc
        return _mail_html(found.mail.html or "")

    async def _run(self, request: HTMXRequest, month: date, *, error: str = "", status_code: int = 200) -> Template:
        run = await services.get_run(month)
        if run is None:
            raise NotFoundException(NO_RUN)
        return await render(
            request,
            "pages/admin/digests/run.html",
            {
                "run": run,
                "progress": run.progress,
                "failed": await services.failed_deliveries(month),
                "error": error,
            },
            fragment="fragments/digests/progress.html",
            status_code=status_code,
        )

    @get("/{month:str}", name="admin.digests.run")
    async def run(self, request: HTMXRequest, month: FromPath[str]) -> Template:
        """A run's page; with HTMX only its progress (the bar polls it until nothing is left to send)."""
        return await self._run(request, _month_or_404(month))

    @post("/{month:str}/retry", name="admin.digests.retry")
    async def retry(self, request: HTMXRequest, user: CurrentUser, month: FromPath[str]) -> Template | Redirect:
        period = _month_or_404(month)
        if await services.get_run(period) is None:
            raise NotFoundException(NO_RUN)
        try:
            count = await services.retry_failed(period, by=user)
        except RuleViolation as exc:
            return await self._run(request, period, error=exc.message, status_code=exc.status_code)
        flash(request, f"{count} failed digests will be sent again.", category="success")
        return Redirect(request.app.route_reverse("admin.digests.run", month=f"{period:%Y-%m}"), status_code=303)


def _withheld(message: EmailMessage, reader: CurrentUser) -> bool:
    """A mail showing private kudos messages is for its recipient's eyes only (SPEC F3), not every admin's."""
    return message[PRIVATE_HEADER] is not None and parseaddr(str(message["To"] or ""))[1].lower() != reader.email


def _parts(message: EmailMessage) -> tuple[str | None, str | None]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return (
        str(text.get_content()) if text is not None else None,
        str(html.get_content()) if html is not None else None,
    )


def _read(name: str) -> EmailMessage:
    try:
        return read_outbox(get_settings().outbox_dir, name)
    except FileNotFoundError as exc:
        raise NotFoundException(NO_MESSAGE) from exc


class OutboxController(Controller):
    """Mail written by the `outbox` backend (the default): what would have been sent, for admins to read."""

    path = "/admin/outbox"
    guards = [admin_only]

    @get("/", name="admin.outbox")
    async def index(self, request: HTMXRequest) -> Template:
        settings = get_settings()
        return await render(
            request,
            "pages/admin/outbox/index.html",
            {
                "messages": list_outbox(settings.outbox_dir),
                "mail_backend": settings.mail_backend,
                "outbox_dir": settings.outbox_dir,
            },
        )

    @get("/{file:str}", name="admin.outbox.message")
    async def message(self, request: HTMXRequest, user: CurrentUser, file: FromPath[str]) -> Template:
        """One message; `file` is its name in the outbox (a path parameter named `name` would clash with
        `url_for`'s own first argument)."""
        message = _read(file)
        withheld = _withheld(message, user)
        text, html = (None, None) if withheld else _parts(message)
        headers = [
            (header, str(message[header]))
            for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
            if message[header] is not None
        ]
        return await render(
            request,
            "pages/admin/outbox/message.html",
            {
                "name": file,
                "subject": str(message["Subject"] or ""),
                "headers": headers,
                "text": text,
                "html": html,
                "withheld": withheld,
            },
        )

    @get("/{file:str}/html", name="admin.outbox.html")
    async def html(self, user: CurrentUser, file: FromPath[str]) -> Response[str]:
        message = _read(file)
        if _withheld(message, user):
            raise PermissionDeniedException(PRIVATE_MAIL)
        _, html = _parts(message)
        if html is None:
            raise NotFoundException("This message has no HTML part.")
        return _mail_html(html)


class UnsubscribeController(Controller):
    """One-click unsubscribe from a digest's link, without signing in: the signed token names whose digest and
    which kind. GET asks for confirmation (link scanners must not unsubscribe people); POST does it — also the
    RFC 8058 one-click POST mail clients send (`List-Unsubscribe=One-Click`), hence no CSRF token here."""

    path = "/unsubscribe"

    async def _page(self, request: HTMXRequest, token: str, *, done: bool) -> Template:
        try:
            target = await (services.unsubscribe(token) if done else services.unsubscribe_target(token))
        except RuleViolation as exc:
            raise NotFoundException(exc.message) from exc
        return await render(
            request,
            "pages/digests/unsubscribe.html",
            {"target": target, "token": token, "done": done, "kind": str(target.token.kind)},
        )

    @get("/{token:str}", name="unsubscribe", opt={"public": True})
    async def confirm(self, request: HTMXRequest, token: FromPath[str]) -> Template:
        return await self._page(request, token, done=False)

    @post("/{token:str}", name="unsubscribe.post", opt={"public": True}, status_code=200)
    async def unsubscribe(self, request: HTMXRequest, token: FromPath[str]) -> Template:
        return await self._page(request, token, done=True)
