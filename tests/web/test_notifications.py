"""The notifications page, its "load more", the header badge, and marking read with and without htmx."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.notifications.services import PAGE_SIZE, notify, unread_count
from app.notifications.tables import Kind, Notification
from tests.factories import make_employee
from tests.helpers import HTMX, post_form, signed_in

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def people():
    me = await make_employee("Ana Me", email="ana@example.com")
    actor = await make_employee("Olu Bello", email="olu@example.com")
    other = await make_employee("Other Person", email="other@example.com")
    return {"me": me, "actor": actor, "other": other}


async def _notify(recipient: int, text: str, *, at: datetime = T0, **extra) -> int:
    kind, subject = extra.pop("kind", Kind.KUDOS_RECEIVED), extra.pop("subject", "kudos:1")
    await notify([recipient], kind, text=text, subject=subject, at=at, **extra)
    row = await Notification.select(Notification.id).order_by(Notification.id, ascending=False).first()
    return row["id"]


async def _stored_with_links(recipient: int, text: str, kind: Kind = Kind.KUDOS_RECEIVED, **links: str) -> int:
    """A row as notifications were stored before their links were made from their subject: with its links."""
    row = Notification(recipient=recipient, kind=kind, text=text, created_at=T0, **links)
    await row.save()
    return row.id


def _item(html: str, notification_id: int) -> str:
    item = html[html.index(f'<li id="notification-{notification_id}"') :]
    return item[: item.index("</li>")]


async def _read_at(notification_id: int) -> datetime | None:
    row = await Notification.select(Notification.read_at).where(Notification.id == notification_id).first()
    return row["read_at"]


def _items(html: str) -> list[str]:
    return re.findall(r'<li id="notification-(\d+)"', html)


def _oob_badge(html: str) -> str:
    """The aria-label of the header badge sent out of band."""
    badge = re.search(r'<a id="notification-badge"[^>]*>', html)
    assert badge and 'hx-swap-oob="true"' in badge.group(0), html
    return re.search(r'aria-label="([^"]*)"', badge.group(0)).group(1)


async def test_page_lists_notifications_with_unread_marked_in_text(client, people) -> None:
    me, actor = people["me"], people["actor"]
    read = await _notify(me.id, "Olu thanked you for the VPN fix", subject="kudos:3", actor_id=actor.id)
    await Notification.update({Notification.read_at: T0}).where(Notification.id == read)
    unread = await _notify(
        me.id,
        "Your request “New laptop” was completed",
        kind=Kind.REQUEST_COMPLETED,
        subject="request:12",
        action_label="Thank now",
        at=T0 + timedelta(hours=1),
    )
    await signed_in(client, me.email)
    response = await client.get("/notifications")
    assert response.status_code == 200
    text = response.text
    assert "<html" in text and "<h1>Notifications</h1>" in text
    assert response.headers["vary"] == "HX-Request"
    assert _items(text) == [str(unread), str(read)]
    unread_item = text[text.index(f'id="notification-{unread}"') : text.index(f'id="notification-{read}"')]
    assert "is-unread" in unread_item and ">Unread</span>" in unread_item
    assert '<a href="/requests/12">Your request “New laptop” was completed</a>' in unread_item
    assert 'href="/kudos/new?request=12" role="button"' in unread_item and "Thank now" in unread_item
    assert f'action="/notifications/{unread}/read"' in unread_item and "Mark as read" in unread_item
    read_item = text[text.index(f'id="notification-{read}"') :]
    read_item = read_item[: read_item.index("</li>")]
    assert "Unread" not in read_item and "Mark as read" not in read_item
    assert f'<a href="/people/{actor.id}">Olu Bello</a>' in read_item and "Kudos received" in read_item
    assert '<time datetime="2026-03-02T09:30:00+00:00" title="2 Mar 2026, 09:30">2 Mar 2026</time>' in read_item
    assert "You have 1 unread notification." in text
    assert 'action="/notifications/read-all"' in text and 'name="_csrf_token"' in text
    # the header's badge on the same page
    assert 'aria-label="Notifications, 1 unread"' in text


async def test_page_fragment_for_htmx(client, people) -> None:
    await _notify(people["me"].id, "Hello")
    await signed_in(client, people["me"].email)
    response = await client.get("/notifications", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="notifications">')
    assert len(_items(response.text)) == 1
    assert response.headers["vary"] == "HX-Request"


async def test_empty_list_says_so(client, people) -> None:
    await signed_in(client, people["me"].email)
    response = await client.get("/notifications")
    assert "No notifications yet." in response.text
    assert "You are all caught up." in response.text
    assert "Mark all as read" not in response.text and "Load more" not in response.text


async def test_someone_elses_notifications_are_not_listed(client, people) -> None:
    await _notify(people["other"].id, "Secret to someone else")
    await signed_in(client, people["me"].email)
    assert "Secret to someone else" not in (await client.get("/notifications")).text


async def test_text_is_escaped_and_only_local_stored_links_are_rendered(client, people) -> None:
    me = people["me"].id
    await _stored_with_links(
        me, "<script>alert(1)</script>", url="javascript:alert(1)", action_label="Go", action_url="//evil.test/x"
    )
    await _stored_with_links(me, "Backslash", url="/\\evil.test")
    await _stored_with_links(me, "External", url="https://evil.test/")
    kept = await _stored_with_links(me, "An old form", url="/kudos/3?from=mail")
    await signed_in(client, people["me"].email)
    text = (await client.get("/notifications")).text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "javascript:" not in text and "evil.test" not in text
    assert ">Go<" not in text  # an action without a safe url is left out
    assert '<a href="/kudos/3?from=mail">An old form</a>' in _item(text, kept)


# Each kind's (subject, link, button) as the page shows them, made by route name from the kind and subject: a route
# renamed, moved or dropped, or a kind given no link, fails here. A badge links to its reader's own badges.
KIND_LINKS = {
    Kind.KUDOS_RECEIVED: ("kudos:7", "/kudos/7", ""),
    Kind.ADDON_RECEIVED: ("kudos:7", "/kudos/7", ""),
    Kind.REQUEST_ASSIGNED: ("request:8", "/requests/8", ""),
    Kind.REQUEST_COMPLETED: ("request:8", "/requests/8", "/kudos/new?request=8"),
    Kind.BADGE_EARNED: ("badge_award:9", "/people/{me}#badges", ""),
    Kind.AWARD_WON: ("award_cycle:3", "/awards/3", ""),
    Kind.AWARD_REVIEW: ("award_cycle:3", "/awards/3", ""),
    Kind.NOMINATION_REMINDER: ("award_cycle:3", "/awards", ""),
    Kind.FEEDBACK_REQUESTED: ("feedback_ask:4", "/feedback/asks/4", "/feedback/asks/4"),
    Kind.FEEDBACK_RECEIVED: ("feedback:5", "/feedback/5", ""),
    Kind.FEEDBACK_DECLINED: ("feedback_ask:4", "/feedback", ""),
    Kind.SURVEY_OPEN: ("survey_round:6", "/surveys", "/surveys"),
    Kind.SURVEY_REMINDER: ("survey_round:6", "/surveys", "/surveys"),
}


async def test_every_kind_links_to_its_page_from_its_subject(client, people) -> None:
    me = people["me"].id
    assert set(KIND_LINKS) == set(Kind)
    ids = {}
    for n, (kind, (subject, _, action)) in enumerate(KIND_LINKS.items()):
        label = "Act" if action else ""
        ids[kind] = await _notify(
            me, f"About {kind}", kind=kind, subject=subject, action_label=label, at=T0 + timedelta(minutes=n)
        )
    await signed_in(client, people["me"].email)
    text = (await client.get("/notifications")).text
    for kind, (_, link, action) in KIND_LINKS.items():
        item = _item(text, ids[kind])
        assert f'<a href="{link.format(me=me)}">About {kind}</a>' in item, kind
        assert (f'<a href="{action}" role="button"' in item) if action else 'role="button"' not in item, kind


async def test_stored_links_become_the_subjects_links_and_lead_where_they_did(client, people) -> None:
    """The migration of rows stored with links: those the kind and subject make again lose them (and get the
    subject from them), any other is kept; the page shows the same links before and after."""
    from app.notifications.piccolo_migrations.notifications_2026_12_07t19_00_00_000000 import CONVERT

    me = people["me"].id
    old = [
        (Kind.KUDOS_RECEIVED, {"url": "/kudos/7"}),
        (Kind.ADDON_RECEIVED, {"url": "/kudos/7"}),
        (Kind.REQUEST_ASSIGNED, {"url": "/requests/8"}),
        (
            Kind.REQUEST_COMPLETED,
            {"url": "/requests/8", "action_label": "Thank now", "action_url": "/kudos/new?request=8"},
        ),
        (Kind.BADGE_EARNED, {"url": f"/people/{me}#badges"}),
        (Kind.AWARD_WON, {"url": "/awards/3"}),
        (Kind.AWARD_REVIEW, {"url": "/awards/3", "subject": "award_cycle:3"}),
        (Kind.NOMINATION_REMINDER, {"url": "/awards"}),
        (
            Kind.FEEDBACK_REQUESTED,
            {"url": "/feedback/asks/4", "action_label": "Answer", "action_url": "/feedback/asks/4"},
        ),
        (Kind.FEEDBACK_RECEIVED, {"url": "/feedback/5"}),
        (Kind.FEEDBACK_DECLINED, {"url": "/feedback"}),
        (Kind.SURVEY_OPEN, {"url": "/surveys", "action_label": "Answer", "action_url": "/surveys"}),
        (Kind.SURVEY_REMINDER, {"url": "/surveys", "action_label": "Answer", "action_url": "/surveys"}),
    ]
    kept = [  # links the kind and subject would not make: kept as they were
        (Kind.KUDOS_RECEIVED, {"url": "/kudos/7?from=mail"}),
        (Kind.BADGE_EARNED, {"url": f"/people/{people['other'].id}#badges"}),
        (Kind.AWARD_REVIEW, {"url": "/awards/3", "subject": "award_cycle:4"}),
        (Kind.FEEDBACK_RECEIVED, {"url": "/feedback/5", "action_label": "Read", "action_url": "/feedback/5"}),
    ]
    ids = [await _stored_with_links(me, f"Old {n}", kind, **links) for n, (kind, links) in enumerate(old + kept)]
    await signed_in(client, people["me"].email)
    before = (await client.get("/notifications")).text

    for statement in CONVERT:
        await Notification.raw(statement)
    rows = await Notification.select(Notification.id, Notification.url, Notification.subject).order_by(Notification.id)
    assert [row["url"] == "" for row in rows] == [True] * len(old) + [False] * len(kept)
    subjects = [row["subject"] for row in rows[: len(old)]]
    assert subjects == [
        "kudos:7",
        "kudos:7",
        "request:8",
        "request:8",
        "",
        "award_cycle:3",
        "award_cycle:3",
        "",
        "feedback_ask:4",
        "feedback:5",
        "",
        "",
        "",
    ]
    after = (await client.get("/notifications")).text
    for notification_id in ids:
        assert _item(after, notification_id) == _item(before, notification_id)


async def test_load_more_appends_with_htmx_and_links_without(client, people) -> None:
    me = people["me"].id
    total = PAGE_SIZE + 5
    for n in range(total):
        await _notify(me, f"Notification {n:02d}", at=T0 + timedelta(minutes=n))
    await signed_in(client, people["me"].email)
    first = await client.get("/notifications")
    assert len(_items(first.text)) == PAGE_SIZE
    assert "Notification 34" in first.text and "Notification 04" not in first.text
    match = re.search(r'id="notifications-more" href="(/notifications\?before=[^"]+)"', first.text)
    assert match, first.text
    more_url = match.group(1).replace("&amp;", "&")
    assert f'hx-get="{match.group(1)}"' in first.text
    assert 'hx-target="#notification-items" hx-swap="beforeend"' in first.text

    # a newer one arriving in between does not shift the next page
    await _notify(me, "Brand new", at=T0 + timedelta(days=1))
    more = await client.get(more_url, headers=HTMX)
    assert more.status_code == 200 and "<html" not in more.text
    assert more.text.lstrip().startswith('<li id="notification-')
    assert re.findall(r">Notification (\d\d)</a>", more.text) == ["04", "03", "02", "01", "00"]
    assert "Brand new" not in more.text
    assert 'id="notifications-pager" class="pager" aria-label="Older notifications" hx-swap-oob="true"' in more.text
    assert "No older notifications." in more.text and "Load more" not in more.text

    # without JS the same link is a full page of older notifications with a way back
    page = await client.get(more_url)
    assert "<html" in page.text and len(_items(page.text)) == 5
    assert 'href="/notifications">Back to the newest</a>' in page.text
    assert 'name="next" value="/notifications?before=' in page.text  # forms come back to this page


async def test_a_broken_load_more_link_is_a_400(client, people) -> None:
    await signed_in(client, people["me"].email)
    response = await client.get("/notifications", params={"before": "not-a-cursor"})
    assert response.status_code == 400
    assert "That link to older notifications is not valid." in response.text


async def test_badge_fragment_counts_unread(client, people) -> None:
    me = people["me"].id
    for n in range(3):
        await _notify(me, f"n{n}", at=T0 + timedelta(minutes=n))
    await _notify(people["other"].id, "theirs")
    await signed_in(client, people["me"].email)
    response = await client.get("/notifications/badge", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<a id="notification-badge"')
    assert "<html" not in response.text
    assert 'aria-label="Notifications, 3 unread"' in response.text and '<span class="count">3</span>' in response.text
    assert 'hx-trigger="every 60s"' in response.text and "hx-swap-oob" not in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_badge_without_unread_shows_no_count(client, people) -> None:
    await signed_in(client, people["me"].email)
    response = await client.get("/notifications/badge", headers=HTMX)
    assert response.status_code == 200
    assert 'aria-label="Notifications"' in response.text and "count" not in response.text


async def test_badge_polling_stops_quietly_when_signed_out(client, people) -> None:
    response = await client.get("/notifications/badge", headers=HTMX)
    assert response.status_code == 286  # htmx swaps it and cancels the polling, instead of leaving the page
    assert "hx-redirect" not in response.headers
    assert 'id="notification-badge"' in response.text and "count" not in response.text
    plain = await client.get("/notifications/badge")
    assert plain.status_code == 303 and plain.headers["location"] == "/login?next=%2Fnotifications"


async def test_mark_read_without_htmx_redirects_back_with_a_flash(client, people) -> None:
    me = people["me"].id
    mine = await _notify(me, "Mine")
    await _notify(me, "Also mine", at=T0 + timedelta(minutes=1))
    await signed_in(client, people["me"].email)
    response = await post_form(client, f"/notifications/{mine}/read", {"next": f"/notifications#notification-{mine}"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/notifications#notification-{mine}"
    assert await _read_at(mine) is not None
    page = await client.get("/notifications")
    assert "Notification marked as read." in page.text
    assert "You have 1 unread notification." in page.text


async def test_mark_read_refuses_a_foreign_next(client, people) -> None:
    mine = await _notify(people["me"].id, "Mine")
    await signed_in(client, people["me"].email)
    response = await post_form(client, f"/notifications/{mine}/read", {"next": "//evil.test/"})
    assert response.status_code == 303 and response.headers["location"] == "/notifications"


async def test_mark_read_with_htmx_swaps_the_item_and_refreshes_the_badge(client, people) -> None:
    me = people["me"].id
    mine = await _notify(me, "Mine", kind=Kind.REQUEST_COMPLETED, subject="request:1", action_label="Thank now")
    await _notify(me, "Another", at=T0 + timedelta(minutes=1))
    await signed_in(client, people["me"].email)
    response = await post_form(client, f"/notifications/{mine}/read", headers=HTMX)
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text and text.lstrip().startswith(f'<li id="notification-{mine}" class="notification">')
    assert "Unread</span>" not in text and "Mark as read" not in text
    assert f'<span id="notification-{mine}-mark" class="muted" tabindex="-1">Marked as read</span>' in text
    assert "Thank now" in text  # the action stays available
    assert 'id="notifications-toolbar" class="notifications-toolbar" hx-swap-oob="true"' in text
    assert "You have 1 unread notification." in text
    assert _oob_badge(text) == "Notifications, 1 unread"
    assert await _read_at(mine) is not None


async def test_marking_someone_elses_notification_is_a_404_and_changes_nothing(client, people) -> None:
    theirs = await _notify(people["other"].id, "Theirs")
    await signed_in(client, people["me"].email)
    response = await post_form(client, f"/notifications/{theirs}/read")
    assert response.status_code == 404 and "Page not found" in response.text
    fragment = await post_form(client, f"/notifications/{theirs}/read", headers=HTMX)
    assert fragment.status_code == 404 and fragment.headers["hx-retarget"] == "#toasts"
    assert "You have no notification with that number." in fragment.text
    assert await _read_at(theirs) is None
    assert await unread_count(people["other"].id) == 1
    assert (await post_form(client, "/notifications/99999999999/read")).status_code == 404


async def test_mark_all_read_without_htmx(client, people) -> None:
    me = people["me"].id
    for n in range(3):
        await _notify(me, f"n{n}", at=T0 + timedelta(minutes=n))
    theirs = await _notify(people["other"].id, "theirs")
    await signed_in(client, people["me"].email)
    page = await client.get("/notifications")
    up_to = re.search(r'name="up_to" value="([^"]+)"', page.text).group(1)
    response = await post_form(client, "/notifications/read-all", {"up_to": up_to})
    assert response.status_code == 303 and response.headers["location"] == "/notifications"
    assert await unread_count(me) == 0 and await _read_at(theirs) is None
    after = await client.get("/notifications")
    assert "3 notifications marked as read." in after.text and "You are all caught up." in after.text
    again = await post_form(client, "/notifications/read-all")
    assert again.status_code == 303
    assert "You had no unread notifications." in (await client.get("/notifications")).text


async def test_mark_all_read_with_htmx_rerenders_the_list(client, people) -> None:
    me = people["me"].id
    for n in range(2):
        await _notify(me, f"n{n}", at=T0 + timedelta(minutes=n))
    await signed_in(client, people["me"].email)
    response = await post_form(client, "/notifications/read-all", headers=HTMX)
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text and text.lstrip().startswith('<div id="notifications">')
    assert len(_items(text)) == 2 and "is-unread" not in text
    assert '<p id="mark-all-read" class="muted" tabindex="-1">All notifications marked as read.</p>' in text
    assert _oob_badge(text) == "Notifications"
    assert await unread_count(me) == 0


async def test_mark_all_read_leaves_what_arrived_after_the_page(client, people) -> None:
    me = people["me"].id
    await _notify(me, "seen", at=T0)
    await signed_in(client, people["me"].email)
    page = await client.get("/notifications")
    up_to = re.search(r'name="up_to" value="([^"]+)"', page.text).group(1)
    later = await _notify(me, "arrived later", at=datetime.now(UTC) + timedelta(seconds=5))
    response = await post_form(client, "/notifications/read-all", {"up_to": up_to}, headers=HTMX)
    assert "You have 1 unread notification." in response.text
    assert 'id="mark-all-read"' in response.text and "Mark all as read" in response.text
    assert await _read_at(later) is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/notifications"), ("POST", "/notifications/read-all"), ("POST", "/notifications/1/read")],
)
async def test_signed_out_visitors_are_sent_to_login(client, people, method: str, path: str) -> None:
    mine = await _notify(people["me"].id, "Mine")
    response = await client.get(path) if method == "GET" else await post_form(client, path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert await _read_at(mine) is None
