"""/me/settings: the email notices section — page, save without JS (303 + flash) and with HTMX (the form), bad input,
signed-out visitors."""

from __future__ import annotations

from app.notices.preferences import preferences
from app.notices.tables import Choice, NoticeKind, NoticePreference
from app.people.tables import Employee
from tests.factories import make_employee
from tests.helpers import HTMX, post_form, signed_in


def checked(html: str, kind: str, choice: str) -> bool:
    return f'name="notice_{kind}" value="{choice}" checked' in html


async def test_the_page_shows_each_kind_with_its_choice_and_saves_without_js(client) -> None:
    ann = await make_employee(name="Ann", email="ann@example.com")
    await signed_in(client, ann.email)
    page = await client.get("/me/settings")
    assert page.status_code == 200
    assert "<legend><strong>Email notices</strong></legend>" in page.text
    assert "<legend>Someone thanks you</legend>" in page.text
    assert checked(page.text, "kudos", "instant") and checked(page.text, "addon", "daily")
    assert checked(page.text, "award", "instant") and checked(page.text, "request", "daily")

    saved = await post_form(
        client, "/me/settings", {"section": "notices", "notice_kudos": "daily", "notice_badge": "never"}
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/me/settings"
    chosen = {p.kind: p.choice for p in await preferences(ann.id)}
    assert chosen[NoticeKind.KUDOS] == Choice.DAILY and chosen[NoticeKind.BADGE] == Choice.NEVER
    again = await client.get("/me/settings")
    assert "Your settings were saved." in again.text  # the flash
    assert checked(again.text, "kudos", "daily") and checked(again.text, "badge", "never")


async def test_htmx_gets_the_form_back_and_other_sections_leave_notices_alone(client) -> None:
    ann = await make_employee(name="Ann", email="ann@example.com")
    await signed_in(client, ann.email)
    fragment = await post_form(client, "/me/settings", {"section": "notices", "notice_award": "daily"}, headers=HTMX)
    assert fragment.status_code == 200
    assert 'id="settings-form"' in fragment.text
    assert "<html" not in fragment.text and "Your settings were saved." in fragment.text
    assert checked(fragment.text, "award", "daily")
    await post_form(client, "/me/settings", {"section": "boards", "show_on_boards": "1"})  # another section only
    assert {p.kind: p.choice for p in await preferences(ann.id)}[NoticeKind.AWARD] == Choice.DAILY
    page = await client.get("/me/settings", headers=HTMX)
    assert page.headers.get("vary", "").lower().find("hx-request") >= 0 and "<html" not in page.text


async def test_an_unknown_choice_is_refused_with_a_clear_message_and_nothing_changes(client) -> None:
    ann = await make_employee(name="Ann", email="ann@example.com")
    await signed_in(client, ann.email)
    bad = {"section": ["notices", "boards"], "notice_kudos": "hourly", "notice_badge": "never"}
    page = await post_form(client, "/me/settings", bad)
    assert page.status_code == 422
    assert "Choose right away, daily or never for “Someone thanks you”." in page.text and "<html" in page.text
    fragment = await post_form(client, "/me/settings", bad, headers=HTMX)
    assert fragment.status_code == 422 and 'role="alert"' in fragment.text and "<html" not in fragment.text
    assert await NoticePreference.count() == 0  # not even the valid badge choice, nor the boards section
    assert not (await Employee.objects().get(Employee.id == ann.id)).board_opt_out
    assert checked(fragment.text, "kudos", "instant")  # the stored choice where the one sent was refused
    assert checked(fragment.text, "badge", "never")  # the valid one kept as sent, to send again


async def test_signed_out_visitors_are_sent_to_sign_in(client) -> None:
    response = await post_form(client, "/me/settings", {"section": "notices", "notice_kudos": "never"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert await NoticePreference.count() == 0
