"""HTTP for notifications: the list (with keyset "load more"), the header badge, marking read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Litestar, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.notifications import services
from app.notifications.tables import Kind
from app.paging import Cursor, decode_moment, encode_moment
from app.timeutil import now
from app.web.auth import safe_next
from app.web.deps import CurrentUser, Viewer
from app.web.errors import sign_in_location
from app.web.forms import read_form
from app.web.templating import done, render, wants_fragment
from app.words import plural

BADGE = "fragments/notifications/badge.html"
STOP_POLLING = 286  # htmx swaps the response and cancels the element's `every 60s` trigger


class ReadFields(msgspec.Struct, frozen=True):
    next: str = ""  # where the no-JS form comes back to: the page of the list it was on


class ReadAllFields(msgspec.Struct, frozen=True):
    up_to: str = ""  # "mark all as read" covers what was there when the page was drawn

    @property
    def moment(self) -> datetime | None:
        return decode_moment(self.up_to)


# kind → the route its notification links to, and the path parameter its subject's id fills (None: a page without
# one, e.g. the awards page a reminder to nominate opens). A badge links to its reader's badges (`_kind_links`).
_LINKS: dict[Kind, tuple[str, str | None]] = {
    Kind.KUDOS_RECEIVED: ("kudos", "kudos_id"),
    Kind.ADDON_RECEIVED: ("kudos", "kudos_id"),
    Kind.REQUEST_ASSIGNED: ("request", "request_id"),
    Kind.REQUEST_COMPLETED: ("request", "request_id"),
    Kind.AWARD_WON: ("awards.cycle", "cycle_id"),
    Kind.AWARD_REVIEW: ("awards.cycle", "cycle_id"),
    Kind.NOMINATION_REMINDER: ("awards", None),
    Kind.FEEDBACK_REQUESTED: ("feedback-answer", "ask_id"),
    Kind.FEEDBACK_RECEIVED: ("feedback-item", "feedback_id"),
    Kind.FEEDBACK_DECLINED: ("feedback", None),
    Kind.SURVEY_OPEN: ("surveys", None),
    Kind.SURVEY_REMINDER: ("surveys", None),
}


def _kind_links(app: Litestar, item: services.NotificationItem, reader_id: int) -> tuple[str, str]:
    """(link, action link) of a notification, from its kind and subject. A prompt's button (`action_label`) goes
    where the link goes, but a completed request's "Thank now" opens the give form with its resolvers chosen and
    the request linked."""
    try:
        kind = Kind(item.kind)
    except ValueError:
        return "", ""
    key = item.subject.partition(":")[2]
    if kind == Kind.BADGE_EARNED:
        link = app.route_reverse("person", person_id=reader_id) + "#badges"
    elif kind in _LINKS:
        route, param = _LINKS[kind]
        if param is not None and not key.isdigit():
            return "", ""
        link = app.route_reverse(route, **({param: int(key)} if param else {}))
    else:
        return "", ""
    if not item.action_label:
        return link, ""
    if kind == Kind.REQUEST_COMPLETED:
        return link, f"{app.route_reverse('give')}?{urlencode({'request': int(key)})}"
    return link, link


def _linkable(app: Litestar, item: services.NotificationItem, reader_id: int) -> services.NotificationItem:
    """The item with its links, made from its kind and subject; an old row that kept the links it was stored with
    (see the migration 2026-12-07T19:00) keeps them only when they are local paths (anything else is shown as plain
    text)."""
    if not item.url and not item.action_url:
        url, action_url = _kind_links(app, item, reader_id)
        return replace(item, url=url, action_url=action_url)
    return replace(item, url=safe_next(item.url, default=""), action_url=safe_next(item.action_url, default=""))


async def _list_context(request: HTMXRequest, user: CurrentUser, before: Cursor | None = None) -> dict[str, Any]:
    page = await services.list_notifications(user.id, before=before)
    back = request.app.route_reverse("notifications")
    return {
        "items": [_linkable(request.app, item, user.id) for item in page.items],
        "next_before": page.next_cursor.encode() if page.next_cursor else None,
        "older": before is not None,
        # where the no-JS forms come back to: this page of the list
        "back": back + (f"?{urlencode({'before': before.encode()})}" if before else ""),
        "unread": await services.unread_count(user.id),
        "up_to": encode_moment(now()),  # "mark all as read" covers what was there when the page was drawn
    }


class NotificationController(Controller):
    path = "/notifications"

    @get("/", name="notifications")
    async def index(self, request: HTMXRequest, user: CurrentUser, before: FromQuery[str | None] = None) -> Template:
        """The list, newest first. With `before`, the page after that cursor: HTMX appends its items."""
        cursor = None
        if before:
            cursor = Cursor.decode(before)
            if cursor is None:
                raise ValidationException("That link to older notifications is not valid.")
        return await render(
            request,
            "pages/notifications/index.html",
            await _list_context(request, user, cursor),
            fragment="fragments/notifications/more.html" if cursor else "fragments/notifications/list.html",
        )

    @get("/badge", name="notifications-badge", opt={"public": True})
    async def badge(self, request: HTMXRequest, viewer: Viewer) -> Template | Redirect:
        """The header's badge alone, polled by htmx. Signed out (e.g. in another tab), polling stops quietly
        rather than pulling the page away to the sign-in form."""
        if viewer is None:
            if request.htmx:
                return Template(BADGE, context={"unread": 0}, status_code=STOP_POLLING)
            return Redirect(sign_in_location(request, request.app.route_reverse("notifications")), status_code=303)
        return Template(
            BADGE, context={"unread": await services.unread_count(viewer.id)}, headers={"Cache-Control": "no-store"}
        )

    @post("/{notification_id:int}/read", name="notification-read")
    async def mark_read(
        self, request: HTMXRequest, user: CurrentUser, notification_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, ReadFields)
        item = await services.mark_read(user.id, notification_id)
        if item is None:
            raise NotFoundException("You have no notification with that number.")
        if wants_fragment(request):
            return Template(
                "fragments/notifications/marked_read.html",
                context={
                    "n": _linkable(request.app, item, user.id),
                    "just_marked": True,
                    "unread": await services.unread_count(user.id),
                    "up_to": encode_moment(now()),
                },
            )
        back = safe_next(form.next, default=request.app.route_reverse("notifications"))
        return done(request, "Notification marked as read.", back)

    @post("/read-all", name="notifications-read-all")
    async def mark_all_read(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, ReadAllFields)
        changed = await services.mark_all_read(user.id, up_to=form.moment)
        if wants_fragment(request):
            context = await _list_context(request, user)
            return Template(
                "fragments/notifications/all_read.html",
                context={**context, "just_marked_all": True},
            )
        message = (
            f"{plural(changed, 'notification')} marked as read." if changed else "You had no unread notifications."
        )
        return done(request, message, request.app.route_reverse("notifications"))
