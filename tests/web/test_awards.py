"""Award pages and actions over HTTP: the page for each role and phase, the nominee search fragment, nominating
and withdrawing (page and fragment), refusals with their message and nothing changed, the review, picking and
announcing, the hall of fame filters, awards on profiles and department pages, and the admin settings."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.awards import categories, cycles, nominations
from app.awards.calendar import get_calendar
from app.awards.tables import AwardCategory, AwardCycle, AwardShortlist, AwardWinner, Nomination
from app.timeutil import localtime, now, previous_month
from tests.awards_world import World, build_world
from tests.helpers import HTMX, post_form, signed_in


@pytest.fixture
async def world() -> World:
    return await build_world()


async def open_cycle(days_left: float = 3) -> int:
    moment = now()
    cycle_id = await cycles.create_cycle(
        previous_month(moment.date().replace(day=1)),
        moment - timedelta(days=1),
        moment + timedelta(days=days_left),
        at=moment,
    )
    assert cycle_id is not None
    return cycle_id


async def close(cycle_id: int) -> None:
    await AwardCycle.update({AwardCycle.closes_at: now() - timedelta(minutes=1)}).where(AwardCycle.id == cycle_id)


async def test_the_awards_page_for_each_role_while_open(client, world: World) -> None:
    await open_cycle()
    await signed_in(client, "mia@example.com")
    page = await client.get("/awards")
    assert page.status_code == 200
    assert "Nominations are open" in page.text and 'id="nominate-form"' in page.text
    assert "Shortlist from" in page.text and nominations.LEAD_RULE.replace("'", "&#39;") in page.text
    assert '<a href="/awards" aria-current="page">Awards</a>' in page.text
    await client.post("/logout", data={"_csrf_token": client.cookies["kudos_csrf"]})
    await signed_in(client, "ravi@example.com")
    page = await client.get("/awards")
    assert page.status_code == 200 and "Managers nominate" in page.text and "nominate-form" not in page.text


async def test_the_shortlist_is_computed_once_and_says_how_fresh_it_is(client, world: World) -> None:
    cycle_id = await open_cycle()
    await signed_in(client, "mia@example.com")
    page = await client.get("/awards")
    lists = await AwardShortlist.select().where(AwardShortlist.cycle == cycle_id)
    assert len(lists) == len(await categories.categories())  # computed on the first view, stored
    oldest = min(row["computed_at"] for row in lists)
    assert (
        f'Suggestions as of <time datetime="{oldest.isoformat()}">{localtime(oldest, "%-d %b, %H:%M")}</time>'
        in page.text
    )
    await client.get("/awards")
    assert await AwardShortlist.select().where(AwardShortlist.cycle == cycle_id) == lists  # not computed again


async def test_nominee_search_fragment_and_no_js_find(client, world: World) -> None:
    await open_cycle()
    await signed_in(client, "mia@example.com")
    fragment = await client.get(f"/awards/nominees?category={world.star}&q=rav", headers=HTMX)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="nominee-picker">')
    assert f'value="p{world.ravi.id}"' in fragment.text and "Mia Manager" not in fragment.text
    departments = await client.get(f"/awards/nominees?category={world.dept}&q=", headers=HTMX)
    assert f'value="d{world.it.id}"' in departments.text and "you lead it" in departments.text
    chosen = await client.get(f"/awards/nominees?category={world.star}&nominee=p{world.ravi.id}", headers=HTMX)
    assert "checked" in chosen.text and "Evidence (optional)" in chosen.text
    # choosing is a button, not a radio that re-renders on change (WCAG 3.2.2)
    assert 'hx-trigger="change"' not in fragment.text and f'value="p{world.ravi.id}" formaction=' in fragment.text
    # the search finds only the chosen Ravi: no "No person matches" under them
    again = await client.get(f"/awards/nominees?category={world.star}&q=ravi&nominee=p{world.ravi.id}", headers=HTMX)
    assert "No person matches" not in again.text and "data-focus-after-swap" in again.text
    nobody = await client.get(f"/awards/nominees?category={world.star}&q=zzz", headers=HTMX)
    assert "No person matches “zzz”." in nobody.text
    # without JavaScript, a Choose button sends its nominee ahead of the chosen one's radio: the new one wins
    switched = await client.get(
        f"/awards/nominees?category={world.star}&q=olu&nominee=p{world.olu.id}&nominee=p{world.ravi.id}"
    )
    assert f'value="p{world.olu.id}" checked' in switched.text
    page = await client.get(f"/awards/nominees?category={world.star}&q=rav")
    assert page.status_code == 200 and "<html" in page.text and "Ravi Patel" in page.text
    # the Find button posts the form (it carries the CSRF token) and is sent back to that GET, without the token
    found = await post_form(client, "/awards/nominees", {"category": str(world.star), "q": "rav", "reason": "Calm"})
    assert found.status_code == 303
    location = httpx.URL(found.headers["location"])
    assert location.path == "/awards/nominees"
    assert dict(location.params) == {"category": str(world.star), "q": "rav", "reason": "Calm"}
    assert 'formaction="/awards/nominees" formnovalidate' in page.text and 'formmethod="get"' not in page.text


async def test_nominate_and_withdraw_without_and_with_htmx(client, world: World) -> None:
    cycle = await open_cycle()
    await signed_in(client, "mia@example.com")
    data = {"category": str(world.star), "nominee": f"p{world.ravi.id}", "reason": "Saved the close."}
    response = await post_form(client, "/awards/nominations", data)
    assert response.status_code == 303 and response.headers["location"] == "/awards"
    page = await client.get("/awards")
    assert "Your nomination of Ravi Patel was recorded." in page.text and "Saved the close." in page.text
    # duplicate: 409 with the message next to the field, nothing added
    again = await post_form(client, "/awards/nominations", data, headers=HTMX)
    assert again.status_code == 409 and "already nominated Ravi Patel" in again.text
    assert again.text.lstrip().startswith('<section id="nominate"')
    # bad input without JS: the page with the input kept
    empty = await post_form(client, "/awards/nominations", {**data, "nominee": f"p{world.olu.id}", "reason": ""})
    assert empty.status_code == 422 and "Say why they deserve it." in empty.text and "<html" in empty.text
    assert await Nomination.count() == 1
    made = await post_form(client, "/awards/nominations", {**data, "category": str(world.bridge)}, headers=HTMX)
    assert made.status_code == 200 and "was recorded" in made.text
    nomination = (await Nomination.select(Nomination.id).where(Nomination.category == world.bridge).first())["id"]
    withdrawn = await post_form(client, f"/awards/nominations/{nomination}/withdraw", headers=HTMX)
    assert withdrawn.status_code == 200 and "Your nomination was withdrawn." in withdrawn.text
    assert await Nomination.count() == 1
    # someone else's nomination is not found
    await post_form(client, "/logout")
    await signed_in(client, "max@example.com")
    first = (await Nomination.select(Nomination.id).first())["id"]
    other = await post_form(client, f"/awards/nominations/{first}/withdraw")
    assert other.status_code == 404 and "no such nomination" in other.text
    assert await Nomination.count() == 1 and cycle


@pytest.mark.parametrize("who", ["ravi@example.com", "ada@example.com"])
async def test_only_managers_nominate(client, world: World, who: str) -> None:
    await open_cycle()
    await signed_in(client, who)
    data = {"category": str(world.star), "nominee": f"p{world.olu.id}", "reason": "Great"}
    response = await post_form(client, "/awards/nominations", data)
    assert response.status_code == 403 and "Only managers nominate" in response.text
    toast = await post_form(client, "/awards/nominations", data, headers=HTMX)
    assert toast.status_code == 403 and "toast" in toast.text
    assert await Nomination.count() == 0


async def test_nominating_outside_the_window_is_refused(client, world: World) -> None:
    cycle = await open_cycle()
    await close(cycle)
    await signed_in(client, "mia@example.com")
    data = {"category": str(world.star), "nominee": f"p{world.olu.id}", "reason": "Great"}
    response = await post_form(client, "/awards/nominations", data)
    assert response.status_code == 409 and "Nominations are not open right now." in response.text
    assert await Nomination.count() == 0


async def test_review_pick_and_announce(client, world: World) -> None:
    cycle = await open_cycle()
    mia = await world.user(world.mia)
    await nominations.nominate(
        mia, nominations.NominationForm(str(world.star), f"p{world.ravi.id}", "Saved the close.")
    )
    await signed_in(client, "ada@example.com")
    review = await client.get(f"/awards/{cycle}")
    assert review.status_code == 200 and "Saved the close." in review.text and "Mia Manager" in review.text
    assert "You can pick winners once nominations close" in review.text
    early = await post_form(
        client, f"/awards/{cycle}/winners", {"category": str(world.star), "winner": f"p{world.ravi.id}"}
    )
    assert early.status_code == 409 and "once nominations close" in early.text
    await close(cycle)
    wrong = await post_form(
        client, f"/awards/{cycle}/winners", {"category": str(world.star), "winner": f"p{world.olu.id}"}
    )
    assert wrong.status_code == 422 and "must be one of the nominees" in wrong.text
    assert await AwardWinner.count() == 0
    nothing = await post_form(client, f"/awards/{cycle}/announce")
    assert nothing.status_code == 422 and "Pick at least one winner" in nothing.text
    picked = await post_form(
        client,
        f"/awards/{cycle}/winners",
        {
            "category": str(world.star),
            "winner": f"p{world.ravi.id}",
            "nominee": f"p{world.ravi.id}",
            "citation": "Quarter hero",
        },
    )
    assert picked.status_code == 303
    announced = await post_form(client, f"/awards/{cycle}/announce")
    assert announced.status_code == 303
    page = await client.get(f"/awards/{cycle}")
    # both flashes of two redirects in a row are shown
    assert "The winners were saved." in page.text and "are announced" in page.text and "Quarter hero" in page.text
    twice = await post_form(client, f"/awards/{cycle}/announce")
    assert twice.status_code == 409 and "already been announced" in twice.text
    # everyone sees the result: hall of fame (page and fragment), profile, department, feed
    await post_form(client, "/logout")
    await signed_in(client, "sam@example.com")
    hall = await client.get("/awards/hall-of-fame")
    assert hall.status_code == 200 and "Ravi Patel" in hall.text and "Quarter hero" in hall.text
    filtered = await client.get(f"/awards/hall-of-fame?category={world.dept}&year=2026", headers=HTMX)
    assert filtered.text.lstrip().startswith('<section id="hall"') and "Ravi Patel" not in filtered.text
    bad_filter = await client.get("/awards/hall-of-fame?category=abc&year=never")
    assert bad_filter.status_code == 200 and "Ravi Patel" in bad_filter.text
    assert "Service Star" in (await client.get(f"/people/{world.ravi.id}")).text
    assert "Quarter hero" in (await client.get("/departments/it")).text
    assert "awards</a> are announced" in (await client.get("/feed")).text
    public = await client.get(f"/awards/{cycle}")
    assert public.status_code == 200 and "Saved the close." not in public.text  # reasons are for admins


async def test_unknown_cycle_is_not_found(client, world: World) -> None:
    await signed_in(client, "ada@example.com")
    assert (await client.get("/awards/999999")).status_code == 404
    assert (await post_form(client, "/awards/999999/announce")).status_code == 404


async def test_admin_settings_pages(client, world: World) -> None:
    await signed_in(client, "ada@example.com")
    page = await client.get("/admin/awards")
    assert page.status_code == 200 and "Service Star" in page.text and "Save the calendar" in page.text
    bad = await post_form(client, "/admin/awards/calendar", {"open_day": "9", "close_day": "2", "time_of_day": "9"})
    assert bad.status_code == 422 and "must close on a later day" in bad.text and 'value="9"' in bad.text
    ok = await post_form(
        client, "/admin/awards/calendar", {"open_day": "2", "close_day": "9", "time_of_day": "10:30", "timezone": ""}
    )
    assert ok.status_code == 303 and (await get_calendar()).close_day == 9
    new = {"name": "Rookie", "nominee_kind": "person", "winners": "1", "shortlist": "givers", "active": "1"}
    created = await post_form(client, "/admin/awards/categories", new)
    assert created.status_code == 303 and await AwardCategory.count() == 4
    dupe = await post_form(client, "/admin/awards/categories", new)
    assert dupe.status_code == 422 and "Another category already has this name." in dupe.text
    renamed = await post_form(client, f"/admin/awards/categories/{world.star}", {**new, "name": "Star of Service"})
    assert renamed.status_code == 303
    assert (await categories.get_category(world.star)).name == "Star of Service"  # type: ignore[union-attr]
    missing = await post_form(client, "/admin/awards/categories/999999", new)
    assert missing.status_code == 404
