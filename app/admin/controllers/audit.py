"""HTTP for reading the audit log (`/admin/audit`): filters, and newest first with keyset paging."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.admin.services import audit_log
from app.web.auth import admin_only
from app.web.templating import render


class AdminAuditController(Controller):
    path = "/admin/audit"
    guards = [admin_only]

    @get("/", name="admin.audit")
    async def index(
        self,
        request: HTMXRequest,
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
    ) -> Template:
        filters = audit_log.clean_filters(actor, action, since, until, cursor)
        return await render(
            request,
            "pages/admin/audit.html",
            {"page": await audit_log.list_entries(filters), "actors": await audit_log.actors()},
            fragment="fragments/admin/audit_entries.html",
        )
