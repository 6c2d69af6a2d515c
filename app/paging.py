"""Row ids and page numbers from URLs and forms, and keyset paging.

Numbers from outside are parsed here into bounded values (ENGINEERING convention 17): an id a `serial` can hold,
a page number that keeps OFFSET within reason. Anything else is "no such row" or the first page, never a query
that fails.

A cursor names the last row shown by (created_at, id), so the next page is
`WHERE (created_at, id) < (cursor) ORDER BY created_at DESC, id DESC` — no OFFSET, and rows inserted meanwhile
neither shift nor repeat what the reader sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_SERIAL = 2**31 - 1  # ids are PostgreSQL `serial` (int4): a larger number in a query is an error, not "no row"
MAX_PAGE = 10_000  # page numbers beyond this are clamped: OFFSET stays a small number whatever the URL says


def valid_id(value: int | None) -> bool:
    """An id that can exist: a larger number than a serial holds would make the query fail instead of find nothing."""
    return value is not None and 0 < value <= MAX_SERIAL


def parse_id(value: object) -> int | None:
    """A row id from a form field or query string: None when empty, 0 (an id nothing has) when not a valid id."""
    if not str(value or "").strip():
        return None
    return parse_number(value, low=1, high=MAX_SERIAL) or 0


def parse_number(value: object, *, low: int, high: int) -> int | None:
    """A whole number in [low, high] written in plain ASCII digits; None for anything else. The length is checked
    before `int()`, so a thousand-digit string costs nothing."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    return int(text) if low <= int(text) <= high else None


def parse_page(value: object) -> int:
    """A page number from a query string: 1 for anything that is not a positive number, at most MAX_PAGE."""
    text = str(value or "").strip().lstrip("0")
    if not (text.isascii() and text.isdigit()):
        return 1
    return parse_number(text, low=1, high=MAX_PAGE) or MAX_PAGE


def encode_moment(moment: datetime) -> str:
    """An aware datetime as URL-safe text (UTC, microseconds, no `+`)."""
    return moment.astimezone(UTC).strftime(_FORMAT)


def decode_moment(text: str | None) -> datetime | None:
    """The datetime `encode_moment` wrote, or None for anything else (including times without a zone)."""
    if not text or len(text) > 40:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{encode_moment(self.created_at)}_{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor `encode` wrote, or None when `text` is not one (a hand-edited or truncated link)."""
        moment_text, _, ident = (text or "").rpartition("_")
        moment = decode_moment(moment_text)
        ident_number = parse_number(ident, low=1, high=MAX_SERIAL)
        return cls(moment, ident_number) if moment is not None and ident_number is not None else None
