"""The give form and the rules for text and points that giving, add-ons and revokes share (SPEC F3 to F5)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from app.kudos.allowance import Policy
from app.kudos.tables import Visibility

MESSAGE_MAX = 1000
COMMENT_MAX = 500
REASON_MAX = 500
MAX_RECIPIENTS = 20


def new_idempotency_key() -> str:
    """A fresh key for a give form: a double-submitted form carries the same key and creates one kudos."""
    return uuid.uuid4().hex


def parse_points(raw: object, maximum: int) -> tuple[int | None, str | None]:
    """Whole points from 0 to `maximum`; (points, None) or (None, message)."""
    text = str(raw).strip() if raw is not None else ""
    if text == "":
        return 0, None
    try:
        points = int(text)
    except ValueError:
        return None, "Points must be a whole number."
    if points < 0:
        return None, "Points can't be negative."
    if points > maximum:
        return None, f"At most {maximum} points per person per kudos."
    return points, None


def trimmed_text(raw: object, *, maximum: int, empty: str, noun: str) -> tuple[str, str | None]:
    """The text stripped, and the problem with it (None when it is fine)."""
    text = str(raw or "").strip()
    if not text:
        return text, empty
    if len(text) > maximum:
        return text, f"Keep the {noun} to {maximum} characters (it has {len(text)})."
    return text, None


@dataclass(frozen=True, slots=True)
class Value:
    """A company value a kudos can be tagged with."""

    id: int
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Choices:
    """What a give form offers and is checked against: the active company values (in the admin's order) and the
    allowance policy."""

    values: tuple[Value, ...]
    policy: Policy


@dataclass(slots=True)
class GiveForm:
    """What the give form holds; services validate it and controllers re-render it with errors."""

    recipient_ids: list[int] = field(default_factory=list)
    message: str = ""
    value_ids: list[int] = field(default_factory=list)
    points: str = "10"
    visibility: str = Visibility.PUBLIC
    request_id: int | None = None
    idempotency_key: str = field(default_factory=new_idempotency_key)


@dataclass(frozen=True, slots=True)
class Given:
    kudos_id: int
    remaining: int
    budget: int
    created: bool  # False when the same form was submitted before: the existing kudos is returned
    names: tuple[str, ...] = ()  # the recipients' names, in the order they were chosen
    choices: Choices | None = None  # what the form was checked against: the next form offers the same
