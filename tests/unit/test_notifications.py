"""Notifications: who is notified, keyset paging, marking read (only one's own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.notifications import services
from app.notifications.tables import Kind, Notification
from app.paging import Cursor, decode_moment, encode_moment
from app.people.services import load_current_user
from tests.events import run_stored_events
from tests.factories import make_department, make_employee, make_request

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def _ids(recipient: int) -> list[int]:
    rows = await Notification.select(Notification.id).where(Notification.recipient == recipient)
    return [row["id"] for row in rows]


async def _read_at(notification_id: int) -> datetime | None:
    row = await Notification.select(Notification.read_at).where(Notification.id == notification_id).first()
    return row["read_at"]


async def _notify_one(recipient: int, text: str, at: datetime, **extra) -> int:
    await services.notify([recipient], Kind.KUDOS_RECEIVED, text=text, at=at, **extra)
    row = await Notification.select(Notification.id).order_by(Notification.id, ascending=False).first()
    return row["id"]


async def test_notify_skips_the_actor_and_notifies_each_recipient_once() -> None:
    actor, ana, ben = await make_employee("Actor"), await make_employee("Ana"), await make_employee("Ben")
    await services.notify(
        [ana.id, actor.id, ben.id, ana.id],
        Kind.KUDOS_RECEIVED,
        text="Actor thanked you",
        subject="kudos:1",
        actor_id=actor.id,
    )
    assert len(await _ids(ana.id)) == 1
    assert len(await _ids(ben.id)) == 1
    assert await _ids(actor.id) == []
    assert await services.unread_count(ana.id) == 1


async def test_notify_with_only_the_actor_writes_nothing() -> None:
    actor = await make_employee()
    await services.notify([actor.id], Kind.ADDON_RECEIVED, text="x", actor_id=actor.id)
    assert await Notification.count() == 0


async def test_list_is_newest_first_with_the_actor_name_and_action() -> None:
    me, actor = await make_employee("Me"), await make_employee("Olu Bello")
    await services.notify([me.id], Kind.KUDOS_RECEIVED, text="older", subject="kudos:1", actor_id=actor.id, at=T0)
    await services.notify(
        [me.id],
        Kind.REQUEST_COMPLETED,
        text="Your request was completed",
        subject="request:12",
        action_label="Thank now",
        at=T0 + timedelta(hours=1),
    )
    page = await services.list_notifications(me.id)
    assert [item.text for item in page.items] == ["Your request was completed", "older"]
    newest, older = page.items
    assert newest.actor_name is None and newest.unread
    assert (newest.action_label, newest.subject) == ("Thank now", "request:12")
    assert newest.url == newest.action_url == ""  # the web layer links it (app/notifications/controllers.py)
    assert newest.kind_label == "Request completed"
    assert older.actor_name == "Olu Bello" and older.actor_id == actor.id
    assert page.next_cursor is None


async def test_list_shows_only_my_notifications() -> None:
    me, other = await make_employee(), await make_employee()
    await services.notify([other.id], Kind.KUDOS_RECEIVED, text="theirs", at=T0)
    assert (await services.list_notifications(me.id)).items == []


async def test_keyset_paging_is_stable_across_inserts_and_ties() -> None:
    me = await make_employee()
    expected = []
    for minute in range(7):
        # two at the same moment: the id breaks the tie
        for n in range(2):
            expected.append(await _notify_one(me.id, f"m{minute}-{n}", T0 + timedelta(minutes=minute)))
    expected.reverse()  # newest first: later moment, then higher id

    seen: list[int] = []
    page = await services.list_notifications(me.id, limit=4)
    seen += [item.id for item in page.items]
    # new notifications arrive while the reader pages: they neither shift nor repeat what follows
    await _notify_one(me.id, "newer", T0 + timedelta(hours=1))
    tied = await _notify_one(me.id, "same moment as the last one shown", page.items[-1].created_at)
    while page.next_cursor is not None:
        cursor = Cursor.decode(page.next_cursor.encode())  # as it travels through a link
        page = await services.list_notifications(me.id, before=cursor, limit=4)
        seen += [item.id for item in page.items]
    assert seen == expected
    # the one tied with the cursor's moment has a higher id, so it sorts above the last one shown, not below it
    everything = [item.id for item in (await services.list_notifications(me.id, limit=100)).items]
    assert everything.index(tied) < everything.index(seen[3])


async def test_a_page_exactly_full_has_no_next_cursor() -> None:
    me = await make_employee()
    for minute in range(3):
        await _notify_one(me.id, str(minute), T0 + timedelta(minutes=minute))
    page = await services.list_notifications(me.id, limit=3)
    assert len(page.items) == 3 and page.next_cursor is None
    page = await services.list_notifications(me.id, limit=2)
    assert page.next_cursor == page.items[-1].cursor


async def test_mark_read_marks_my_notification_once() -> None:
    me = await make_employee()
    notification = await _notify_one(me.id, "hello", T0)
    item = await services.mark_read(me.id, notification)
    assert item is not None and not item.unread and item.text == "hello"
    first_read = await _read_at(notification)
    assert first_read is not None
    again = await services.mark_read(me.id, notification)
    assert again is not None and again.read_at == first_read  # keeps the first time it was read
    assert await services.unread_count(me.id) == 0


async def test_mark_read_of_someone_elses_notification_changes_nothing() -> None:
    me, other = await make_employee(), await make_employee()
    theirs = await _notify_one(other.id, "private to them", T0)
    assert await services.mark_read(me.id, theirs) is None
    assert await _read_at(theirs) is None
    assert await services.unread_count(other.id) == 1


@pytest.mark.parametrize("notification_id", [0, -1, 999_999, 2**31, 10**30])
async def test_mark_read_of_unknown_ids_finds_nothing(notification_id: int) -> None:
    me = await make_employee()
    assert await services.mark_read(me.id, notification_id) is None


async def test_mark_all_read_marks_only_my_unread_ones() -> None:
    me, other = await make_employee(), await make_employee()
    already = await _notify_one(me.id, "already read", T0)
    await services.mark_read(me.id, already)
    first_read = await _read_at(already)
    for minute in range(1, 4):
        await _notify_one(me.id, "unread", T0 + timedelta(minutes=minute))
    theirs = await _notify_one(other.id, "theirs", T0)
    assert await services.mark_all_read(me.id) == 3
    assert await services.unread_count(me.id) == 0
    assert await _read_at(already) == first_read
    assert await _read_at(theirs) is None
    assert await services.mark_all_read(me.id) == 0


async def test_mark_all_read_up_to_leaves_later_arrivals_unread() -> None:
    me = await make_employee()
    await _notify_one(me.id, "seen", T0)
    later = await _notify_one(me.id, "arrived after the page was drawn", T0 + timedelta(seconds=5))
    assert await services.mark_all_read(me.id, up_to=T0 + timedelta(seconds=1)) == 1
    assert await _read_at(later) is None
    assert await services.unread_count(me.id) == 1


def test_cursor_round_trips_and_rejects_anything_else() -> None:
    cursor = Cursor(datetime(2026, 3, 2, 9, 30, 0, 123, tzinfo=UTC), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    assert "+" not in cursor.encode()
    at_zero = Cursor(T0, 7)
    assert Cursor.decode(at_zero.encode()) == at_zero
    for bad in [
        None,
        "",
        "42",
        "nonsense_42",
        "2026-03-02T09:30:00_42",  # no time zone
        "2026-03-02T09:30:00.000000Z_",
        "2026-03-02T09:30:00.000000Z_-1",
        "2026-03-02T09:30:00.000000Z_0",
        "2026-03-02T09:30:00.000000Z_²",
        f"2026-03-02T09:30:00.000000Z_{2**31}",
        "2026-03-02T09:30:00.000000Z_" + "9" * 5000,
    ]:
        assert Cursor.decode(bad) is None, bad


def test_moments_round_trip_in_utc() -> None:
    moment = datetime(2026, 3, 2, 10, 30, 0, 5, tzinfo=UTC)
    assert decode_moment(encode_moment(moment)) == moment
    assert decode_moment("2026-03-02") is None and decode_moment("") is None and decode_moment(None) is None


async def test_thank_now_is_done_once_the_request_is_thanked_and_only_that_one() -> None:
    it = await make_department("IT", slug="it")
    gina = await make_employee("Gina Giver", email="gina@example.com")
    ravi = await make_employee("Ravi Resolver", email="ravi@example.com", department=it)
    first = await make_request(gina, it, "Laptop", resolvers=(ravi,), status="completed")
    second = await make_request(gina, it, "Monitor", resolvers=(ravi,), status="completed")
    await run_stored_events()
    page = await services.list_notifications(gina.id)
    assert [n.action_label for n in page.items] == ["Thank now", "Thank now"]
    form = GiveForm(recipient_ids=[ravi.id], message="Thanks!", points="0", request_id=first)
    await give_kudos(await load_current_user(gina.id), form)
    await run_stored_events()  # the kudos's handler closes the prompt: a lookup by (kind, subject)
    done = {n.subject: n for n in (await services.list_notifications(gina.id)).items if n.action_label}
    assert done[f"request:{first}"].done_at is not None and not done[f"request:{first}"].unread
    assert done[f"request:{second}"].done_at is None and done[f"request:{second}"].unread


async def test_a_kudos_thanked_in_the_same_batch_as_the_completion_still_closes_the_prompt() -> None:
    """The worker runs a batch of events together, but in the order they happened: the completion's "Thank now"
    exists before the kudos's handler looks it up."""
    it = await make_department("IT", slug="it")
    gina = await make_employee("Gina Giver", email="gina@example.com")
    ravi = await make_employee("Ravi Resolver", email="ravi@example.com", department=it)
    laptop = await make_request(gina, it, "Laptop", resolvers=(ravi,), status="completed")
    form = GiveForm(recipient_ids=[ravi.id], message="Thanks!", points="0", request_id=laptop)
    await give_kudos(await load_current_user(gina.id), form)
    await run_stored_events()  # one batch: the completion, then the kudos
    prompt = next(n for n in (await services.list_notifications(gina.id)).items if n.action_label)
    assert prompt.subject == f"request:{laptop}" and prompt.done_at is not None
