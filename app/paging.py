"""Row ids from URLs and forms, and keyset paging.

A cursor names the last row shown by (created_at, id), so the next page is
`WHERE (created_at, id) < (cursor) ORDER BY created_at DESC, id DESC` — no OFFSET, and rows inserted meanwhile
neither shift nor repeat what the reader sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_SERIAL = 2**31 - 1  # ids are PostgreSQL `serial` (int4): a larger number in a query is an error, not "no row"


def valid_id(value: int | None) -> bool:
    """An id that can exist: a larger number than a serial holds would make the query fail instead of find nothing."""
    return value is not None and 0 < value <= MAX_SERIAL


def parse_id(value: object) -> int | None:
    """A row id from a form field or query string: None when empty, 0 (an id nothing has) when not a valid id."""
    text = str(value or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 and valid_id(int(text)) else 0


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
        if moment is None or not (ident.isascii() and ident.isdigit() and len(ident) <= 10):
            return None
        return cls(moment, int(ident)) if 0 < int(ident) <= MAX_SERIAL else None
