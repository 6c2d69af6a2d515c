"""HTTP for `/me/settings`: a person's own preferences, one fieldset per domain (boards, digests).

The form says which sections it carries (`section` fields), and only those are saved, so a form that lacks a
section (an older page, or an empty post) never resets that section's settings — unticked checkboxes send nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.boards import services as boards
from app.digests import services as digests
from app.digests.tables import DigestKind
from app.people.services import CurrentUser
from app.web.templating import render, wants_fragment

SAVED = "Your settings were saved."


async def settings_context(user: CurrentUser) -> dict[str, Any]:
    return {
        "settings": {
            "show_on_boards": await boards.shown_on_boards(user.id),
            "digests": await digests.subscriptions(user.id),
        }
    }


class SettingsController(Controller):
    path = "/me/settings"

    @get("/", name="settings")
    async def page(self, request: HTMXRequest) -> Template:
        context = await settings_context(request.scope["user"])
        return await render(request, "pages/me/settings.html", context, fragment="fragments/me/settings_form.html")

    @post("/", name="settings.post", status_code=200)  # without HTMX the answer is a 303 of its own
    async def save(self, request: HTMXRequest) -> Template | Redirect:
        user: CurrentUser = request.scope["user"]
        form = await request.form()
        sections = set(form.getall("section", []))
        if "boards" in sections:
            await boards.set_shown_on_boards(user.id, form.get("show_on_boards") == "1")
        if "digests" in sections:
            for kind in DigestKind:
                await digests.set_subscribed(user.id, kind, form.get(f"digest_{kind}") == "1")
        if not wants_fragment(request):
            flash(request, SAVED, category="success")
            return Redirect("/me/settings", status_code=303)
        context = {**await settings_context(user), "saved": SAVED}
        return Template("fragments/me/settings_form.html", context=context)
