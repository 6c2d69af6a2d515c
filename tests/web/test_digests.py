"""Digest pages: the admin's runs, progress, retries and previews, the outbox, unsubscribe links, settings."""

from __future__ import annotations

from app.digests.delivery import deliver, render_for
from app.digests.services import Trigger, start_run
from app.digests.tables import DeliveryStatus, DigestDelivery, DigestKind, DigestOptOut, DigestRun
from app.digests.tokens import make_token
from app.mail.backends import get_backend, list_outbox
from app.mail.message import PRIVATE_HEADER
from app.people.tables import Employee, Role
from app.settings import get_settings
from tests.digest_org import small_org
from tests.factories import make_employee
from tests.helpers import HTMX, post_form, signed_in


async def _admin(client):
    admin = await make_employee("Ada Admin", role=Role.ADMIN)
    return await signed_in(client, admin.email)


async def test_admin_starts_a_run_and_follows_its_progress(client) -> None:
    org = await small_org()
    await _admin(client)
    page = await client.get("/admin/digests")
    assert page.status_code == 200
    assert f'<option value="{org.month:%Y-%m}" selected>' in page.text
    assert "No digests have been sent yet." in page.text

    started = await post_form(client, "/admin/digests", {"month": f"{org.month:%Y-%m}"})
    assert started.status_code == 303 and started.headers["location"] == f"/admin/digests/{org.month:%Y-%m}"
    run = await client.get(started.headers["location"])
    assert f"Digests for {org.month:%B %Y} started: 6 to send." in run.text
    assert 'hx-trigger="every 2s"' in run.text and 'data-count="pending">6<' in run.text

    async with get_backend(get_settings()) as backend:
        await deliver(backend)
    fragment = await client.get(f"/admin/digests/{org.month:%Y-%m}", headers=HTMX)
    assert fragment.status_code == 200
    assert '<section id="digest-progress"' in fragment.text and "<html" not in fragment.text
    assert 'data-count="sent">6<' in fragment.text and "hx-trigger" not in fragment.text  # done: polling stops
    index = await client.get("/admin/digests")
    assert "6 sent · 0 pending · 0 failed" in index.text

    again = await post_form(client, "/admin/digests", {"month": f"{org.month:%Y-%m}"})
    followed = await client.get(again.headers["location"])
    assert "were already started; 0 newly eligible added." in followed.text
    assert await DigestRun.count() == 1 and await DigestDelivery.count() == 6


async def test_a_month_that_has_not_ended_or_makes_no_sense_is_refused_with_the_form_kept(client) -> None:
    await _admin(client)
    for month, message in (("2999-01", "has not ended yet"), ("soon", "Choose a month, written like 2026-10.")):
        response = await post_form(client, "/admin/digests", {"month": month})
        assert response.status_code == 422
        assert message in response.text and 'aria-invalid="true"' in response.text
    assert await DigestRun.count() == 0


async def test_retry_requeues_failed_digests_and_refuses_when_there_are_none(client) -> None:
    org = await small_org()
    await start_run(org.month, trigger=Trigger.CLI)
    await _admin(client)
    refused = await post_form(client, f"/admin/digests/{org.month:%Y-%m}/retry")
    assert refused.status_code == 409 and "No failed digests to retry" in refused.text
    await DigestDelivery.update(
        {DigestDelivery.status: DeliveryStatus.FAILED, DigestDelivery.last_error: "SMTPRecipientsRefused: <gone>"}
    ).where(DigestDelivery.employee == org.gus.id)
    page = await client.get(f"/admin/digests/{org.month:%Y-%m}")
    assert "Gus Quiet" in page.text and "SMTPRecipientsRefused: &lt;gone&gt;" in page.text
    done = await post_form(client, f"/admin/digests/{org.month:%Y-%m}/retry")
    assert done.status_code == 303
    assert await DigestDelivery.count().where(DigestDelivery.status == DeliveryStatus.FAILED) == 0


async def test_unknown_runs_are_404(client) -> None:
    await _admin(client)
    assert (await client.get("/admin/digests/2020-01")).status_code == 404
    assert (await client.get("/admin/digests/nonsense")).status_code == 404
    assert (await post_form(client, "/admin/digests/2020-01/retry")).status_code == 404


async def _ann_preview(client):
    """An admin's preview of Ann's digest for last month: the page and its HTML frame."""
    org = await small_org()
    await _admin(client)
    query = f"person=ann@example.com&month={org.month:%Y-%m}&kind=employee"
    page = await client.get(f"/admin/digests/preview?{query}")
    assert page.status_code == 200
    return page, await client.get(f"/admin/digests/preview/html?{query}")


async def test_preview_shows_html_in_a_sandboxed_frame_and_the_text(client) -> None:
    page, html = await _ann_preview(client)
    assert "<iframe" in page.text and "sandbox" in page.text and "They receive this digest." in page.text
    assert "Thanks for rescuing my &lt;b&gt;laptop&lt;/b&gt; &amp; data!" in page.text  # text part, escaped
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    policy = html.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert "&lt;b&gt;laptop&lt;/b&gt;" in html.text and "<b>laptop</b>" not in html.text
    bad = await client.get("/admin/digests/preview?person=nobody@example.com&month=2026-10&kind=employee")
    assert bad.status_code == 422 and "No one with that email" in bad.text
    assert (await client.get("/admin/digests/preview/html?person=x&month=y&kind=z")).status_code == 404
    assert await DigestDelivery.count() == 0


async def test_outbox_lists_messages_and_shows_one(client) -> None:
    org = await small_org()
    await start_run(org.month, trigger=Trigger.CLI)
    async with get_backend(get_settings()) as backend:
        await deliver(backend)
    await _admin(client)
    page = await client.get("/admin/outbox")
    assert page.status_code == 200 and f"Your team in {org.month:%B %Y}" in page.text
    name = next(e.name for e in list_outbox(get_settings().outbox_dir) if e.to.endswith("<mia@example.com>"))
    message = await client.get(f"/admin/outbox/{name}")
    assert message.status_code == 200
    assert "List-Unsubscribe-Post" in message.text and "Gus Quiet" in message.text
    html = await client.get(f"/admin/outbox/{name}/html")
    assert html.status_code == 200 and "sandbox" in html.headers["content-security-policy"]
    assert "Gus Quiet" in html.text
    for wrong in ("nothing.eml", "..%2Fsecret_key", ".hidden.eml"):
        assert (await client.get(f"/admin/outbox/{wrong}")).status_code == 404


async def test_unsubscribe_link_works_signed_out_and_only_for_its_person_and_kind(client) -> None:
    org = await small_org()
    token = make_token(org.ann.id, DigestKind.EMPLOYEE)
    confirm = await client.get(f"/unsubscribe/{token}")
    assert confirm.status_code == 200 and "Unsubscribe from the monthly recognition digest?" in confirm.text
    assert await DigestOptOut.count() == 0  # a GET (a link scanner) changes nothing
    done = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no CSRF
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert await DigestOptOut.select(DigestOptOut.employee, DigestOptOut.kind) == [
        {"employee": org.ann.id, "kind": "employee"}
    ]
    assert "you already do not receive" in (await client.get(f"/unsubscribe/{token}")).text

    mia_payload = make_token(org.mia.id, DigestKind.EMPLOYEE).split(".")[0]
    for forged in (f"{mia_payload}.{token.split('.')[1]}", token[:-3] + "xyz", "garbage"):
        assert (await client.get(f"/unsubscribe/{forged}")).status_code == 404
        assert (await client.post(f"/unsubscribe/{forged}")).status_code == 404
    assert await DigestOptOut.count() == 1


async def test_settings_turn_each_digest_on_and_off(client) -> None:
    org = await small_org()
    await signed_in(client, "mia@example.com")
    page = await client.get("/me/settings")
    assert 'name="digest_employee" value="1" role="switch" checked' in page.text
    assert 'name="digest_manager" value="1" role="switch" checked' in page.text
    saved = await post_form(
        client, "/me/settings", {"section": "digests", "digest_employee": "1", "show_on_boards": "1"}
    )
    assert saved.status_code == 303
    assert await DigestOptOut.select(DigestOptOut.kind).where(DigestOptOut.employee == org.mia.id) == [
        {"kind": "manager"}
    ]
    fragment = await post_form(
        client,
        "/me/settings",
        {"section": "digests", "digest_employee": "1", "digest_manager": "1"},
        headers=HTMX,
    )
    assert fragment.status_code == 200 and "Your settings were saved." in fragment.text
    assert await DigestOptOut.count() == 0
    await post_form(client, "/me/settings", {"section": "boards", "show_on_boards": "1"})  # other sections only
    assert await DigestOptOut.count() == 0


PRIVATE = "Private thanks for covering my shift."


async def test_an_admin_previewing_someone_elses_digest_does_not_read_their_private_kudos(client) -> None:
    page, html = await _ann_preview(client)
    assert PRIVATE not in page.text
    assert "A private kudos from Ben" in page.text and "can read its message" in page.text
    assert PRIVATE not in html.text and "A private kudos from Ben" in html.text
    assert "Thanks for rescuing my" in html.text  # public kudos are shown as sent


async def test_private_kudos_stay_in_the_mail_of_those_who_may_read_them(db) -> None:
    org = await small_org()
    mine = (await render_for(DigestKind.EMPLOYEE, org.month, [org.ann.id]))[org.ann.id]
    assert PRIVATE in mine.text and PRIVATE in (mine.html or "")
    assert mine.headers[PRIVATE_HEADER] == "1"
    for reader in (org.ann, org.ben, org.mia):  # the recipient, the giver, the recipient's manager
        seen = (await render_for(DigestKind.EMPLOYEE, org.month, [org.ann.id], reader_id=reader.id))[org.ann.id]
        assert PRIVATE in seen.text
    other = (await render_for(DigestKind.EMPLOYEE, org.month, [org.ann.id], reader_id=org.carl.id))[org.ann.id]
    assert PRIVATE not in other.text and PRIVATE not in (other.html or "")
    assert PRIVATE_HEADER not in other.headers


async def test_the_outbox_shows_a_mail_with_private_kudos_only_to_its_recipient(client_factory) -> None:
    org = await small_org()
    await start_run(org.month, trigger=Trigger.CLI)
    async with get_backend(get_settings()) as backend:
        await deliver(backend)
    name = next(
        e.name
        for e in list_outbox(get_settings().outbox_dir)
        if e.to.endswith("<ann@example.com>") and "recognition" in e.subject.lower()
    )
    admin = await _admin(await client_factory())
    message = await admin.get(f"/admin/outbox/{name}")
    assert message.status_code == 200
    assert PRIVATE not in message.text and "its text is not shown here" in message.text
    assert "<iframe" not in message.text
    html = await admin.get(f"/admin/outbox/{name}/html")
    assert html.status_code == 403 and PRIVATE not in html.text
    await Employee.update({Employee.role: Role.ADMIN}).where(Employee.id == org.ann.id)
    ann = await signed_in(await client_factory(), org.ann.email)
    assert PRIVATE in (await ann.get(f"/admin/outbox/{name}")).text
    assert PRIVATE in (await ann.get(f"/admin/outbox/{name}/html")).text
