"""Reading kudos (SPEC F4): the feed, a person's recent public kudos, one kudos as a reader may see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from app.boards.badges import recent_awards
from app.kudos.changes import may_see_message
from app.kudos.tables import AddOn, Kudos, Visibility
from app.paging import Cursor, valid_id
from app.people.services import CurrentUser

FEED_PAGE = 20
BADGES_PER_PAGE = 20  # at most, between two pages' worth of kudos
FEED_SCOPES = ("all", "department", "mine")


# Kudos cards, newest first, in one statement: the kudos, its giver, the request it thanks for, how many add-ons it
# has, its recipients (with their manager and department, by name) and its company values (by name). Each query
# below is this select with its own condition: the kudos picked and their cards in one round trip.
_CARDS_SELECT = """
    SELECT k.id, k.message, k.points, k.visibility, k.created_at, k.revoked_at, k.revoke_reason, k.request,
           k.giver AS giver_id, g.name AS giver_name, g.title AS giver_title, r.title AS request_title,
           (SELECT count(*) FROM add_on a WHERE a.kudos = k.id) AS addon_count,
           rec.ids AS recipient_ids, rec.names AS recipient_names, rec.managers AS recipient_managers,
           rec.departments AS recipient_departments, val.names AS value_names
    FROM kudos k JOIN employee g ON g.id = k.giver LEFT JOIN request r ON r.id = k.request
    CROSS JOIN LATERAL (
        SELECT array_agg(e.id ORDER BY e.name, e.id) AS ids, array_agg(e.name ORDER BY e.name, e.id) AS names,
               array_agg(e.manager ORDER BY e.name, e.id) AS managers,
               array_agg(d.name ORDER BY e.name, e.id) AS departments
        FROM kudos_recipient kr JOIN employee e ON e.id = kr.employee LEFT JOIN department d ON d.id = e.department
        WHERE kr.kudos = k.id
    ) AS rec
    CROSS JOIN LATERAL (
        SELECT array_agg(v.name ORDER BY v.name) AS names
        FROM kudos_value kv JOIN company_value v ON v.id = kv.value WHERE kv.kudos = k.id
    ) AS val
"""
_NEWEST_FIRST = " ORDER BY k.created_at DESC, k.id DESC"
_CARDS_SQL = _CARDS_SELECT + "WHERE k.id = ANY({})" + _NEWEST_FIRST

# Pages of the feed: the kudos older than a keyset position (created_at, id), newest first; one more than a page,
# to know whether another follows. The first page starts from FIRST_PAGE, after every kudos.
_ALL_IDS = """
    SELECT k.id FROM kudos k
    WHERE k.revoked_at IS NULL AND k.visibility = 'public' AND (k.created_at, k.id) < ({}, {})
    ORDER BY k.created_at DESC, k.id DESC LIMIT {}
"""
_DEPARTMENT_IDS = """
    SELECT k.id FROM kudos k JOIN employee g ON g.id = k.giver
    WHERE k.revoked_at IS NULL AND k.visibility = 'public' AND (k.created_at, k.id) < ({}, {})
      AND (g.department = {} OR EXISTS (
          SELECT 1 FROM kudos_recipient kr JOIN employee e ON e.id = kr.employee
          WHERE kr.kudos = k.id AND e.department = {}))
    ORDER BY k.created_at DESC, k.id DESC LIMIT {}
"""
_MINE_IDS = """
    SELECT k.id FROM kudos k
    WHERE k.revoked_at IS NULL AND (k.created_at, k.id) < ({}, {})
      AND (k.giver = {} OR EXISTS (SELECT 1 FROM kudos_recipient kr WHERE kr.kudos = k.id AND kr.employee = {}))
    ORDER BY k.created_at DESC, k.id DESC LIMIT {}
"""
# A person's newest public kudos that stand: received, or given. Received ones are found from the newest end of the
# person's ledger (index ledger_entry_recipient_time; a kudos writes one `kudos` entry per recipient, at its own
# moment), given ones by the index kudos_giver_time: a page reads a few rows however many kudos the person has.
_RECEIVED_IDS = """
    SELECT l.kudos FROM ledger_entry l JOIN kudos k ON k.id = l.kudos
    WHERE l.recipient = {} AND l.kind = 'kudos' AND k.revoked_at IS NULL AND k.visibility = 'public'
    ORDER BY l.created_at DESC, l.kudos DESC LIMIT {}
"""
_GIVEN_IDS = """
    SELECT k.id FROM kudos k WHERE k.giver = {} AND k.revoked_at IS NULL AND k.visibility = 'public'
    ORDER BY k.created_at DESC, k.id DESC LIMIT {}
"""
_ALL_SQL, _DEPARTMENT_SQL, _MINE_SQL, _RECEIVED_SQL, _GIVEN_SQL = (
    _CARDS_SELECT + "WHERE k.id IN (" + ids + ")" + _NEWEST_FIRST
    for ids in (_ALL_IDS, _DEPARTMENT_IDS, _MINE_IDS, _RECEIVED_IDS, _GIVEN_IDS)
)
# Both of a profile's lists in one round trip, each card tagged with its list, received ones first, each list newest
# first (a UNION ALL keeps no order of its own). Placeholders: the person and the limit for the received list, then
# for the given one.
_RECENT_SQL = (
    "SELECT true AS received, r.* FROM (" + _RECEIVED_SQL + ") AS r "  # noqa: S608 — constants
    "UNION ALL SELECT false, g.* FROM (" + _GIVEN_SQL + ") AS g "
    "ORDER BY received DESC, created_at DESC, id DESC"
)
FIRST_PAGE = Cursor(datetime(9999, 12, 31, tzinfo=UTC), 0)


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    name: str
    manager: int | None
    department: str | None


@dataclass(frozen=True, slots=True)
class Card:
    """One kudos as a card of the feed, with its recipients and the names of its company values, each by name."""

    type: ClassVar[str] = "kudos"  # feed items of other domains have their own `type`
    id: int
    message: str
    points: int
    visibility: str
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    request: int | None
    giver_id: int
    giver_name: str
    giver_title: str
    request_title: str | None
    addon_count: int
    recipients: list[Recipient]
    values: list[str]


class FeedItem(Protocol):
    """What the feed sorts its items by: kudos cards and other domains' announcements alike."""

    @property
    def type(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


async def cards_of(ids: list[int]) -> list[Card]:
    """The cards of kudos `ids`, newest first, with their recipients and values: one query."""
    if not ids:
        return []
    return [_card(row) for row in await Kudos.raw(_CARDS_SQL, ids)]


def _card(row: dict[str, Any]) -> Card:
    people = zip(
        row.pop("recipient_ids") or (),
        row.pop("recipient_names") or (),
        row.pop("recipient_managers") or (),
        row.pop("recipient_departments") or (),
        strict=True,
    )
    recipients = [
        Recipient(id=i, name=name, manager=manager, department=department) for i, name, manager, department in people
    ]
    values = list(row.pop("value_names") or ())
    return Card(**row, recipients=recipients, values=values)


async def card(kudos_id: int) -> Card | None:
    """One kudos's card, whoever may read it: for its giver's view right after giving it."""
    cards = await cards_of([kudos_id])
    return cards[0] if cards else None


@dataclass(frozen=True, slots=True)
class Recent:
    """A person's newest public kudos that stand, as feed cards: those they received and those they gave."""

    received: list[Card]
    given: list[Card]


async def recent_public(employee_id: int, *, limit: int = 5) -> Recent:
    """A person's newest public kudos that stand (not revoked), received and given, `limit` of each, newest first.
    Private kudos are never included, whoever is looking (for profiles)."""
    recent = Recent(received=[], given=[])
    if valid_id(employee_id):
        for row in await Kudos.raw(_RECENT_SQL, employee_id, limit, employee_id, limit):
            (recent.received if row.pop("received") else recent.given).append(_card(row))
    return recent


@dataclass(frozen=True, slots=True)
class FeedPage:
    scope: str
    items: list[FeedItem]
    next_cursor: str | None
    # The window of this page of the everyone feed, for items of other domains announced between its cards.
    before: Cursor | None = None
    since: datetime | None = None


async def feed(user: CurrentUser, *, scope: str = "all", cursor: str | None = None, limit: int = FEED_PAGE) -> FeedPage:
    """Kudos newest first, paged by keyset on (created_at, id). `all` and `department` show public kudos;
    `mine` shows the kudos I gave or received, private ones included. Revoked kudos leave the feed."""
    scope = scope if scope in FEED_SCOPES else "all"
    position = Cursor.decode(cursor)
    start = position or FIRST_PAGE
    if scope == "mine":
        rows = await Kudos.raw(_MINE_SQL, start.created_at, start.id, user.id, user.id, limit + 1)
    elif scope == "department":
        department = user.department_id
        rows = await Kudos.raw(_DEPARTMENT_SQL, start.created_at, start.id, department, department, limit + 1)
    else:
        rows = await Kudos.raw(_ALL_SQL, start.created_at, start.id, limit + 1)
    cards = [_card(row) for row in rows]
    items: list[FeedItem] = list(cards[:limit])
    last = cards[limit - 1] if len(cards) > limit else None
    if scope == "all":
        # Badges earned and award winners are announced in the everyone feed: those between this page's first and
        # last card.
        before = Cursor(position.created_at, 0) if position is not None else None
        awards = await recent_awards(BADGES_PER_PAGE, before, since=last.created_at if last else None)
        items = sorted([*items, *awards], key=lambda item: item.created_at, reverse=True)
    return FeedPage(
        scope=scope,
        items=items,
        next_cursor=Cursor(last.created_at, last.id).encode() if last else None,
        before=Cursor(position.created_at, 0) if position is not None else None,
        since=last.created_at if last else None,
    )


def merged(page: FeedPage, more: Sequence[FeedItem]) -> FeedPage:
    """`page` with other domains' feed items (award announcements, fetched by the web layer for the same window:
    `page.before` to `page.since`) sorted in among its cards."""
    items = sorted([*page.items, *more], key=lambda item: item.created_at, reverse=True)
    return replace(page, items=items)


@dataclass(frozen=True, slots=True)
class AddOnLine:
    id: int
    comment: str
    points: int
    created_at: datetime
    giver_id: int
    giver_name: str


@dataclass(frozen=True, slots=True)
class KudosDetail:
    """One kudos on its own page: its card, its add-ons and what the reader may do with it."""

    card: Card
    message_visible: bool
    addons: list[AddOnLine]
    can_add_on: bool
    can_revoke: bool


_ADDONS_SQL = """
    SELECT a.id, a.comment, a.points, a.created_at, a.giver AS giver_id, g.name AS giver_name
    FROM add_on a JOIN employee g ON g.id = a.giver WHERE a.kudos = {} ORDER BY a.created_at
"""


async def get_kudos(user: CurrentUser, kudos_id: int) -> KudosDetail | None:
    """One kudos with its add-ons as `user` may see it, or None (also when it is private and not theirs)."""
    if not valid_id(kudos_id):
        return None
    cards = await cards_of([kudos_id])
    if not cards:
        return None
    card = cards[0]
    recipient_ids = [r.id for r in card.recipients]
    message_visible = await may_see_message(user, card.visibility, card.giver_id, recipient_ids)
    if not message_visible and not user.is_admin:
        return None
    addons = [AddOnLine(**row) for row in await AddOn.raw(_ADDONS_SQL, kudos_id)]
    involved = user.id == card.giver_id or user.id in recipient_ids
    already = any(a.giver_id == user.id for a in addons)
    return KudosDetail(
        card=card,
        message_visible=message_visible,
        addons=addons,
        can_add_on=card.visibility == Visibility.PUBLIC and card.revoked_at is None and not involved and not already,
        can_revoke=user.is_admin and card.revoked_at is None,
    )
