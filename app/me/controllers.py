"""HTTP for `/me/settings`: a person's own preferences, one fieldset per domain (boards, digests, email notices).

The form says which sections it carries (`section` fields), and only those are saved, so a form that lacks a
section (an older page, or an empty post) never resets that section's settings — unticked checkboxes send nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import msgspec
from litestar import Controller, get, post
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.boards import services as boards
from app.digests import services as digests
from app.digests.tables import DigestKind
from app.notices import preferences as notices
from app.notices.tables import Choice, NoticeKind
from app.rules import RuleViolation
from app.web.deps import CurrentUser
from app.web.forms import read_form
from app.web.templating import done, render, wants_fragment

SAVED = "Your settings were saved."
ON = "1"  # what a ticked switch sends


class SettingsFields(msgspec.Struct, frozen=True):
    section: list[str] = []
    show_on_boards: str = ""
    digest_employee: str = ""
    digest_manager: str = ""
    notice_kudos: str = ""
    notice_addon: str = ""
    notice_badge: str = ""
    notice_award: str = ""
    notice_request: str = ""

    def notice_choices(self) -> dict[str, str]:
        """The choice sent for each kind of email notice (kinds the form left out keep theirs)."""
        sent = {kind: getattr(self, f"notice_{kind}") for kind in NoticeKind}
        return {str(kind): choice for kind, choice in sent.items() if choice}

    def digest_subscriptions(self) -> dict[DigestKind, bool]:
        return {DigestKind.EMPLOYEE: self.digest_employee == ON, DigestKind.MANAGER: self.digest_manager == ON}


@dataclass(frozen=True, slots=True)
class Settings:
    """What the form shows: each section's current values."""

    show_on_boards: bool
    digests: digests.Subscriptions
    notices: list[notices.Preference]
    choices: Mapping[Choice, str]  # each choice as the form names it


async def settings_for(user: CurrentUser) -> Settings:
    return Settings(
        show_on_boards=await boards.shown_on_boards(user.id),
        digests=await digests.subscriptions(user.id),
        notices=await notices.preferences(user.id),
        choices=notices.CHOICE_LABELS,
    )


def _as_sent(settings: Settings, sent: Mapping[str, str]) -> Settings:
    """The settings with the valid notice choices of a refused form kept, as the person picked them."""
    valid = {str(choice) for choice in Choice}
    kept = [replace(p, choice=Choice(sent[p.kind])) if sent.get(p.kind) in valid else p for p in settings.notices]
    return replace(settings, notices=kept)


class SettingsController(Controller):
    path = "/me/settings"

    @get("/", name="settings")
    async def page(self, request: HTMXRequest, user: CurrentUser) -> Template:
        context = {"settings": await settings_for(user)}
        return await render(request, "pages/me/settings.html", context, fragment="fragments/me/settings_form.html")

    @post("/", name="settings.post", status_code=200)  # without HTMX the answer is a 303 of its own
    async def save(self, request: HTMXRequest, user: CurrentUser) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, SettingsFields)
        try:  # every section's input is checked before any is saved
            choices = notices.parse_choices(form.notice_choices()) if "notices" in form.section else {}
        except RuleViolation as exc:
            context = {"settings": _as_sent(await settings_for(user), form.notice_choices()), "error": exc.message}
            return await render(
                request,
                "pages/me/settings.html",
                context,
                fragment="fragments/me/settings_form.html",
                status_code=exc.status_code,
            )
        await notices.set_choices(user.id, choices)
        if "boards" in form.section:
            await boards.set_shown_on_boards(user.id, form.show_on_boards == ON)
        if "digests" in form.section:
            for kind, subscribed in form.digest_subscriptions().items():
                await digests.set_subscribed(user.id, kind, subscribed)
        if not wants_fragment(request):
            return done(request, SAVED, request.app.route_reverse("settings"))
        context = {"settings": await settings_for(user), "saved": SAVED}
        return Template("fragments/me/settings_form.html", context=context)
