"""The give form, the home box, one kudos's page, add-ons, revokes and the feed over HTTP."""

from __future__ import annotations

import asyncio
import re

import pytest

from app.jobs import worker as jobs
from app.jobs.tables import JobOutbox
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.kudos.tables import AddOn, Kudos, LedgerEntry
from app.notifications.tables import Notification
from app.people.services import load_current_user
from app.people.tables import Role
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_request
from tests.helpers import HTMX, csrf_token, post_form, signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    boss = await make_employee("Boss Person", department=it, role=Role.MANAGER, email="boss@example.com")
    return {
        "it": it,
        "giver": await make_employee("Gina Giver", department=finance, email="gina@example.com"),
        "ravi": await make_employee("Ravi Resolver", department=it, manager=boss, email="ravi@example.com"),
        "other": await make_employee("Otto Other", department=finance, email="otto@example.com"),
        "admin": await make_employee("Ada Admin", role=Role.ADMIN, email="ada@example.com"),
        "boss": boss,
    }


async def kudos_from(giver, *recipients, **fields) -> int:
    values = {"message": "Thanks for the quick fix!", "points": "10", **fields}
    current = await load_current_user(giver.id)
    kudos_id = (await give_kudos(current, GiveForm(recipient_ids=[r.id for r in recipients], **values))).kudos_id
    await run_stored_events()  # what the worker does next: notifications, badges, webhooks
    return kudos_id


def give_data(*recipients, **fields) -> dict:
    return {
        "recipients": [str(r.id) for r in recipients],
        "message": "Thank you for setting up my new laptop!",
        "points": "10",
        "visibility": "public",
        "idempotency_key": "key-1",
        **fields,
    }


async def test_home_shows_the_give_box_the_allowance_and_the_feed(client, org) -> None:
    await kudos_from(org["other"], org["ravi"], message="Great <b>work</b> on the VPN")
    await signed_in(client, org["giver"].email)
    response = await client.get("/")
    assert response.status_code == 200
    assert 'id="box-form"' in response.text
    assert "You have <strong>100</strong> of 100 points left" in response.text
    assert 'id="header-allowance"' in response.text
    assert "Great &lt;b&gt;work&lt;/b&gt; on the VPN" in response.text
    assert response.headers["vary"] == "HX-Request"


async def test_home_lists_completed_requests_not_yet_thanked(client, org) -> None:
    done = await make_request(org["giver"], org["it"], "Printer jam", resolvers=(org["ravi"],), status="completed")
    await signed_in(client, org["giver"].email)
    page = (await client.get("/")).text
    assert "Printer jam" in page and f'href="/kudos/new?request={done}"' in page
    await kudos_from(org["giver"], org["ravi"], request_id=done)
    assert f'href="/kudos/new?request={done}"' not in (await client.get("/")).text


async def test_the_thank_link_prefills_every_resolver_and_links_the_request(client, org) -> None:
    sam = await make_employee("Sam Second", department=org["it"])
    done = await make_request(
        org["giver"], org["it"], "New starter kit", resolvers=(org["ravi"], sam), status="completed"
    )
    await signed_in(client, org["giver"].email)
    page = (await client.get(f"/kudos/new?request={done}")).text
    assert f'<input type="checkbox" name="recipients" value="{org["ravi"].id}" checked>' in page
    assert f'<input type="checkbox" name="recipients" value="{sam.id}" checked>' in page
    assert f'<input type="hidden" name="request" value="{done}">' in page
    assert "Thanking the people who completed" in page


async def test_recipient_search_without_javascript_keeps_the_input(client, org) -> None:
    await signed_in(client, org["giver"].email)
    response = await client.get(
        "/kudos/new", params={"q": "ravi", "message": "Half-written thanks", "points": "7", "idempotency_key": "abc"}
    )
    assert response.status_code == 200
    assert f'name="recipients" value="{org["ravi"].id}">' in response.text  # a match to tick
    assert "Half-written thanks</textarea>" in response.text
    assert 'value="7"' in response.text and 'value="abc"' in response.text


async def test_recipient_search_as_you_type_returns_only_the_lists(client, org) -> None:
    await signed_in(client, org["giver"].email)
    response = await client.get(
        "/kudos/recipients", params={"q": "o", "recipients": [str(org["ravi"].id)]}, headers=HTMX
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="picker-lists">')
    assert f'value="{org["ravi"].id}" checked' in response.text  # kept as chosen
    assert f'value="{org["other"].id}">' in response.text and f'value="{org["boss"].id}">' in response.text
    assert f'value="{org["giver"].id}"' not in response.text  # never yourself
    # what was found, for the live region that is on the page before the search (swapped out of band)
    status = r'<p id="picker-status"[^>]*role="status" hx-swap-oob="innerHTML">\d+ people match “o”'
    assert re.search(status, response.text)
    nobody = await client.get("/kudos/recipients", params={"q": "zzz"}, headers=HTMX)
    assert "No one else matches “zzz”." in nobody.text
    page = await client.get("/kudos/new")
    assert re.search(r'<p id="picker-status"[^>]*role="status">\s*</p>', page.text)  # there before any search


async def test_giving_without_javascript_redirects_with_a_flash(client, org) -> None:
    await signed_in(client, org["giver"].email)
    response = await post_form(client, "/kudos", give_data(org["ravi"]))
    assert response.status_code == 303
    kudos = await Kudos.select(Kudos.id).first()
    assert response.headers["location"] == f"/kudos/{kudos['id']}"
    page = (await client.get(response.headers["location"])).text
    assert "Your kudos to Ravi Resolver is on its way." in page
    assert "Thank you for setting up my new laptop!" in page


async def test_giving_from_the_home_box_with_htmx_swaps_form_feed_and_allowance(client, org) -> None:
    await signed_in(client, org["giver"].email)
    response = await post_form(client, "/kudos", give_data(org["ravi"], points="15", box="1"), headers=HTMX)
    assert response.status_code == 200
    body = response.text
    assert "<html" not in body
    assert 'id="box-form"' in body and "Your kudos to Ravi Resolver is on its way." in body
    assert 'name="idempotency_key" value="key-1"' not in body  # a fresh form gets a fresh key
    assert 'hx-swap-oob="afterbegin:#feed-list"' in body and "Thank you for setting up my new laptop!" in body
    assert re.search(r'id="header-allowance"[^>]*hx-swap-oob="true"', body)
    assert "<strong>85</strong>" in body


async def test_giving_from_the_full_page_with_htmx_redirects_to_the_kudos(client, org) -> None:
    await signed_in(client, org["giver"].email)
    response = await post_form(client, "/kudos", give_data(org["ravi"]), headers=HTMX)
    kudos = await Kudos.select(Kudos.id).first()
    assert response.headers["hx-redirect"] == f"/kudos/{kudos['id']}"


@pytest.mark.parametrize("htmx", [False, True])
async def test_bad_input_rerenders_the_form_with_the_error_and_input_kept(client, org, htmx: bool) -> None:
    await signed_in(client, org["giver"].email)
    data = give_data(org["ravi"], points="500", message="Kept message")
    response = await post_form(client, "/kudos", data, headers=HTMX if htmx else None)
    assert response.status_code == 422
    assert "At most 50 points per person per kudos." in response.text
    assert "Kept message</textarea>" in response.text
    assert 'aria-describedby="give-allowance give-points-error" aria-invalid="true"' in response.text
    assert '<small id="give-points-error" class="field-error" role="alert">' in response.text
    assert ("<html" in response.text) is not htmx
    assert await Kudos.count() == 0 and await LedgerEntry.count() == 0


async def test_self_kudos_over_http_is_refused(client, org) -> None:
    await signed_in(client, org["giver"].email)
    response = await post_form(client, "/kudos", give_data(org["giver"]), headers=HTMX)
    assert response.status_code == 422
    assert "You can&#39;t give kudos to yourself." in response.text
    assert await Kudos.count() == 0


async def test_a_double_submitted_form_creates_one_kudos(client, org) -> None:
    await signed_in(client, org["giver"].email)
    first = await post_form(client, "/kudos", give_data(org["ravi"]))
    second = await post_form(client, "/kudos", give_data(org["ravi"]))
    assert first.headers["location"] == second.headers["location"]
    assert await Kudos.count() == 1


async def test_a_gifts_reactions_reach_a_listening_worker_at_once(client, org) -> None:
    """The outbox row's commit notifies the worker, which hands it to arq and runs it: no wait for the periodic
    drain (none runs here), and the web request itself never talks to Redis about it."""
    worker = jobs.build_worker(handle_signals=False, poll_delay=0.05, cron_jobs=[])
    task = asyncio.create_task(worker.async_run())
    try:
        await signed_in(client, org["giver"].email)
        response = await post_form(client, "/kudos", give_data(org["ravi"]))
        assert response.status_code == 303
        # no drain runs in this worker, so only the listener can hand the row over; the deadline allows for the
        # worker's start-up on a busy machine
        async with asyncio.timeout(15):
            while not await Notification.exists().where(Notification.recipient == org["ravi"].id):  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # polling the database: nothing to wait on
    finally:
        await worker.close()
        task.cancel()
    gift = await JobOutbox.select(JobOutbox.enqueued_at).order_by(JobOutbox.id).first()
    assert gift is not None and gift["enqueued_at"] is not None  # handed over by the worker's listener


async def test_a_post_without_the_csrf_token_is_refused(client, org) -> None:
    await signed_in(client, org["giver"].email)
    await csrf_token(client)
    response = await client.post("/kudos", data=give_data(org["ravi"]))
    assert response.status_code == 403
    assert await Kudos.count() == 0


async def test_a_private_kudos_page_is_hidden_from_others_and_shown_to_admins_without_message(
    client_factory, org
) -> None:
    kudos_id = await kudos_from(org["giver"], org["ravi"], visibility="private", message="Between us: thank you")
    outsider = await signed_in(await client_factory(), org["other"].email)
    assert (await outsider.get(f"/kudos/{kudos_id}")).status_code == 404
    manager = await signed_in(await client_factory(), org["boss"].email)
    assert "Between us: thank you" in (await manager.get(f"/kudos/{kudos_id}")).text
    admin = await signed_in(await client_factory(), org["admin"].email)
    page = (await admin.get(f"/kudos/{kudos_id}")).text
    assert "Between us" not in page and "thanked Ravi Resolver privately" in page and "Revoke this kudos" in page


async def test_adding_a_plus_one_with_and_without_htmx(client_factory, org) -> None:
    kudos_id = await kudos_from(org["giver"], org["ravi"])
    otto = await signed_in(await client_factory(), org["other"].email)
    response = await post_form(otto, f"/kudos/{kudos_id}/addons", {"comment": "Seconded!", "points": "5"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="addons"')
    assert "Seconded!" in response.text and "<strong>95</strong>" in response.text

    boss = await signed_in(await client_factory(), org["boss"].email)
    response = await post_form(boss, f"/kudos/{kudos_id}/addons", {"comment": "Well done", "points": ""})
    assert response.status_code == 303
    assert "Your +1 was added." in (await boss.get(response.headers["location"])).text
    assert await AddOn.count() == 2


async def test_add_on_refusals_over_http(client_factory, org) -> None:
    kudos_id = await kudos_from(org["giver"], org["ravi"])
    giver = await signed_in(await client_factory(), org["giver"].email)
    response = await post_form(giver, f"/kudos/{kudos_id}/addons", {"comment": "me too", "points": "1"}, headers=HTMX)
    assert response.status_code == 403 and "You can&#39;t add on to your own kudos." in response.text
    otto = await signed_in(await client_factory(), org["other"].email)
    response = await post_form(otto, f"/kudos/{kudos_id}/addons", {"comment": "", "points": "x"})
    assert response.status_code == 422
    assert "Add a comment to your +1." in response.text and "Points must be a whole number." in response.text
    assert await AddOn.count() == 0


async def test_only_admins_can_revoke(client_factory, org) -> None:
    kudos_id = await kudos_from(org["giver"], org["ravi"])
    otto = await signed_in(await client_factory(), org["other"].email)
    assert (await post_form(otto, f"/kudos/{kudos_id}/revoke", {"reason": "spam"})).status_code == 403
    admin = await signed_in(await client_factory(), org["admin"].email)
    response = await post_form(admin, f"/kudos/{kudos_id}/revoke", {"reason": " "})
    assert response.status_code == 422 and "Give a reason for revoking." in response.text
    assert (await Kudos.objects().get(Kudos.id == kudos_id)).revoked_at is None
    response = await post_form(admin, f"/kudos/{kudos_id}/revoke", {"reason": "Duplicate of another kudos"})
    assert response.status_code == 303
    page = (await admin.get(f"/kudos/{kudos_id}")).text
    assert "Revoked" in page and "Duplicate of another kudos" in page and "Revoke this kudos" not in page


async def test_the_feed_page_fragment_and_load_more(client, org) -> None:
    for n in range(23):
        await kudos_from(org["other"], org["ravi"], points="1", message=f"Thanks number {n}")
    await signed_in(client, org["giver"].email)
    page = await client.get("/feed")
    assert page.status_code == 200 and "<html" in page.text
    assert page.text.count('class="kudos-card"') == 20
    more = re.search(r'href="(/feed\?show=all&amp;cursor=[^"]+)"', page.text)
    assert more is not None
    fragment = await client.get(more.group(1).replace("&amp;", "&"), headers=HTMX)
    assert "<html" not in fragment.text and fragment.text.count('class="kudos-card"') == 3
    assert "Thanks number 0" in fragment.text and "Load more" not in fragment.text
    mine = await client.get("/feed?show=mine", headers=HTMX)
    assert "Kudos you give or receive will show up here." in mine.text


async def test_ids_too_large_for_the_database_are_not_found_or_refused(client, org) -> None:
    await signed_in(client, org["giver"].email)
    assert (await client.get("/kudos/99999999999")).status_code == 404
    response = await post_form(client, "/kudos", give_data(org["ravi"], request="99999999999"))
    assert response.status_code == 422 and "That request does not exist." in response.text
    response = await post_form(client, "/kudos", {**give_data(), "recipients": ["99999999999"]})
    assert response.status_code == 422 and "not in the directory" in response.text


async def test_a_hand_edited_cursor_is_ignored(client, org) -> None:
    await kudos_from(org["other"], org["ravi"])
    await signed_in(client, org["giver"].email)
    response = await client.get("/feed?cursor=not-a-cursor_99999999999999", headers=HTMX)
    assert response.status_code == 200 and response.text.count('class="kudos-card"') == 1


async def test_badges_earned_are_announced_in_the_everyone_feed(client, org) -> None:
    await kudos_from(org["other"], org["ravi"], message="First one for Ravi")
    await signed_in(client, org["giver"].email)
    feed = (await client.get("/feed")).text
    assert "Ravi Resolver</a> earned the" in feed and "First kudos" in feed
    assert "Otto Other</a> earned the" in feed  # first kudos given
    mine = (await client.get("/feed?show=department")).text
    assert "earned the" not in mine


async def test_the_kudos_page_offers_the_plus_one_once_and_counts_none_as_none(client, org) -> None:
    kudos_id = await kudos_from(org["giver"], org["ravi"])
    await signed_in(client, "otto@example.com")
    page = (await client.get(f"/kudos/{kudos_id}")).text
    assert page.count("Add your +1") == 1 and "0 +1s" not in page
    assert f'href="/kudos/{kudos_id}" class="kudos-link"' not in page  # no link to the page you are on
    await post_form(client, f"/kudos/{kudos_id}/addons", {"comment": "Seconded", "points": "0"})
    page = (await client.get(f"/kudos/{kudos_id}")).text
    assert ">1 +1</h2>" in page and page.count("Add your +1") == 0  # Otto has added his
    await signed_in(client, "ravi@example.com")  # a recipient cannot add a +1
    page = (await client.get(f"/kudos/{kudos_id}")).text
    assert ">1 +1</h2>" in page and "Add your +1" not in page
    home = (await client.get("/")).text
    assert "1 +1 · Add your +1" in home


async def test_home_has_one_heading_hierarchy(client, org) -> None:
    await signed_in(client, "gina@example.com")
    home = (await client.get("/")).text
    assert home.count("<h1") == 1 and "<h1>Hello, Gina</h1>" in home
    assert 'class="home-greeting"' not in home  # the greeting is not styled smaller than the h2s below it
