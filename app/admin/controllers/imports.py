"""HTTP for the CSV import: upload (stored with its dry run), the dry run's page, starting the job, and its
progress (polled by the page while the job runs)."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.admin.controllers.responses import invited_message, raise_not_found
from app.admin.services import import_plan, imports
from app.rules import RuleViolation
from app.signin import invitations
from app.web.auth import admin_only
from app.web.deps import CurrentUser
from app.web.templating import done, render


class AdminImportController(Controller):
    path = "/admin/import"
    guards = [admin_only]

    async def _index(
        self,
        request: HTMXRequest,
        *,
        kind: str = "people",
        errors: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render(
            request,
            "pages/admin/import/index.html",
            {
                "recent": await imports.recent_imports(),
                "kind": kind,
                "errors": errors or {},
                "columns": import_plan.COLUMNS,
            },
            status_code=status_code,
        )

    @get("/", name="admin.import")
    async def index(self, request: HTMXRequest) -> Template:
        return await self._index(request)

    @post("/", name="admin.import.upload")
    async def upload(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect:
        form = await request.form()  # a file upload: read as multipart, not through read_form
        kind = str(form.get("kind") or "")
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile):
                raise RuleViolation({"file": "Choose a CSV file to upload."})
            data = await upload.read(import_plan.MAX_BYTES + 1)
            import_id = await imports.check_upload(user, kind, upload.filename, data)
        except RuleViolation as exc:
            return await self._index(request, kind=kind, errors=exc.errors, status_code=exc.status_code)
        return Redirect(request.app.route_reverse("admin.import.detail", import_id=import_id), status_code=303)

    async def _item(self, import_id: int) -> imports.ImportItem:
        item = await imports.get_import(import_id)
        if item is None:
            raise NotFoundException("There is no such import.")
        return item

    @get("/{import_id:int}", name="admin.import.detail")
    async def detail(self, request: HTMXRequest, import_id: FromPath[int]) -> Template:
        return await render(request, "pages/admin/import/detail.html", {"item": await self._item(import_id)})

    @get("/{import_id:int}/progress", name="admin.import.progress")
    async def progress(self, request: HTMXRequest, import_id: FromPath[int]) -> Template:
        """Polled by the progress bar while the job runs; stops polling once the import has finished."""
        return await render(
            request,
            "pages/admin/import/detail.html",
            {"item": await self._item(import_id)},
            fragment="fragments/admin/import_progress.html",
        )

    @post("/{import_id:int}/run", name="admin.import.run")
    async def run(self, request: HTMXRequest, user: CurrentUser, import_id: FromPath[int]) -> Template | Redirect:
        item = await self._item(import_id)
        try:
            await imports.start(user, import_id)
        except RuleViolation as exc:
            raise_not_found(exc)
            return await render(
                request,
                "pages/admin/import/detail.html",
                {"item": item, "errors": exc.errors},
                status_code=exc.status_code,
            )
        # No flash: the page's progress section says whether it is waiting, running or finished, and stays true.
        return Redirect(request.app.route_reverse("admin.import.detail", import_id=import_id), status_code=303)

    @post("/{import_id:int}/invite", name="admin.import.invite")
    async def invite(
        self, request: HTMXRequest, user: CurrentUser, import_id: FromPath[int]
    ) -> Template | Redirect | ClientRedirect:
        """Invite by email everyone this people import created."""
        item = await self._item(import_id)
        try:
            outcome = await invitations.invite(user, await imports.created_people(import_id))
        except RuleViolation as exc:
            context = {"item": item, "errors": exc.errors}
            return await render(request, "pages/admin/import/detail.html", context, status_code=exc.status_code)
        return done(
            request, invited_message(outcome), request.app.route_reverse("admin.import.detail", import_id=import_id)
        )
