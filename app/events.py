"""Domain events: small typed facts a service publishes, and the registry of the handlers that react to them.

A service decides and records its own change, then `publish()`es what happened, inside its transaction. It
imports no other domain's services: the domains that care register a handler (in their own `handlers.py`; all of
them are registered once at start-up by `app.handlers.register_all`, in the web app and in the worker).

- An **inline** handler runs at once, in the publisher's transaction: for figures that must agree with the event.
- The other handlers are recorded in the job outbox (`app/jobs/outbox.py`, table `job_outbox`) in the same
  transaction — one row per event naming all of them, so it runs if and only if the event committed — and the
  worker runs them soon after, a batch of rows per job (`handle_events`, app/jobs/handling.py), each handler once
  per event (a receipt commits with its effects).

Events carry ids and plain values, never URLs or rows: the web layer turns ids into links.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, ClassVar

import msgspec
from piccolo.engine import engine_finder

from app.jobs.outbox import EVENT_ROWS, add_job
from app.timeutil import now


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every domain event. `event_id` identifies one publication (for exactly-once handling); `at` is when
    it happened (set by `publish` when the service did not), so a handler run later dates its effects right."""

    name: ClassVar[str] = "event"
    event_id: str = ""
    at: datetime | None = None


# ------------------------------------------------------------------------------------------------ awards (F9)


@dataclass(frozen=True, slots=True, kw_only=True)
class NominationReminderDue(Event):
    """A manager who has not nominated was sent the one reminder of a cycle (by email, in the same transaction)."""

    name: ClassVar[str] = "awards.reminder_due"
    cycle_id: int
    month: date  # the month the awards are for (its first day)
    manager_id: int
    closes_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NominationMade(Event):
    name: ClassVar[str] = "awards.nominated"
    nomination_id: int
    cycle_id: int
    nominator_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NominationsClosed(Event):
    """A cycle's deadline passed: its nominations wait for the admins' review."""

    name: ClassVar[str] = "awards.nominations_closed"
    cycle_id: int
    month: date
    nominations: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AwardWon:
    """One winner of an announcement: a person (`person_id`) or a department (`department_id`)."""

    category: str  # the category's name
    name: str  # the winner's name
    citation: str
    person_id: int | None = None
    department_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AwardAnnounced(Event):
    name: ClassVar[str] = "awards.announced"
    cycle_id: int
    month: date
    announced_by: int
    winners: tuple[AwardWon, ...]  # by category order, then name


# --------------------------------------------------------------------------------------------- feedback (F14)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRequested(Event):
    name: ClassVar[str] = "feedback.requested"
    ask_id: int
    asker_id: int
    recipient_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackGiven(Event):
    """Feedback was written: unprompted (`ask_id` None) or in answer to an ask."""

    name: ClassVar[str] = "feedback.given"
    feedback_id: int
    author_id: int
    subject_id: int
    ask_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackDeclined(Event):
    name: ClassVar[str] = "feedback.declined"
    ask_id: int
    asker_id: int
    recipient_id: int


# ---------------------------------------------------------------------------------------------- surveys (F15)


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyRoundOpened(Event):
    name: ClassVar[str] = "survey.opened"
    round_id: int
    participant_ids: tuple[int, ...]
    closes_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyReminderDue(Event):
    """The round closes soon: `participant_ids` have not answered about every department they were asked about."""

    name: ClassVar[str] = "survey.reminder_due"
    round_id: int
    participant_ids: tuple[int, ...]
    closes_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyRoundClosed(Event):
    name: ClassVar[str] = "survey.closed"
    round_id: int
    department_ids: tuple[int, ...]  # departments whose results can be shown (enough answers)


# ------------------------------------------------------------------------------ ledger, kudos, requests, badges


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerLine:
    """One ledger entry as the figures derived from the ledger (board rollups) count it."""

    kind: str  # "kudos", "addon" or "revoke"
    is_addon: bool
    kudos_id: int
    giver: int
    giver_department: int | None
    recipient: int
    recipient_department: int | None
    amount: int
    effective_at: datetime

    @property
    def kudos_delta(self) -> int:
        """+1 for a kudos entry, -1 for the revoke of one; an add-on moves points, not kudos."""
        if self.is_addon:
            return 0
        return {"kudos": 1, "revoke": -1}.get(self.kind, 0)

    @property
    def cross(self) -> bool:
        """Giver and recipient departments (as recorded on the entry) are both known and differ."""
        return (
            self.giver_department is not None
            and self.recipient_department is not None
            and self.giver_department != self.recipient_department
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerAppended(Event):
    """Entries were appended to the points ledger (a kudos, an add-on, a revoke): handled inline, in the same
    transaction, by whatever must agree with the ledger (the board rollups)."""

    name: ClassVar[str] = "ledger.appended"
    lines: tuple[LedgerLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class KudosGiven(Event):
    name: ClassVar[str] = "kudos.given"
    kudos_id: int
    giver_id: int
    recipient_ids: tuple[int, ...]
    points: int  # per recipient
    public: bool
    request_id: int | None = None  # the completed request it thanks for


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOnGiven(Event):
    name: ClassVar[str] = "kudos.addon_given"
    addon_id: int
    kudos_id: int
    giver_id: int  # who added the +1
    kudos_giver_id: int
    recipient_ids: tuple[int, ...]
    points: int  # per recipient


@dataclass(frozen=True, slots=True, kw_only=True)
class KudosRevoked(Event):
    name: ClassVar[str] = "kudos.revoked"
    kudos_id: int
    revoked_by: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFiled(Event):
    name: ClassVar[str] = "request.filed"
    request_id: int
    requester_id: int
    department_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestClaimed(Event):
    name: ClassVar[str] = "request.claimed"
    request_id: int
    resolver_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolverAdded(Event):
    name: ClassVar[str] = "request.resolver_added"
    request_id: int
    resolver_id: int
    added_by: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCompleted(Event):
    name: ClassVar[str] = "request.completed"
    request_id: int
    completed_by: int
    requester_id: int
    resolver_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCancelled(Event):
    name: ClassVar[str] = "request.cancelled"
    request_id: int
    cancelled_by: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRated(Event):
    name: ClassVar[str] = "request.rated"
    request_id: int
    rater_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BadgeEarned(Event):
    name: ClassVar[str] = "badge.earned"
    award_id: int
    employee_id: int
    badge: str  # the badge's slug (app.boards.badge_rules)
    level: int


# ----------------------------------------------------------------------------------- sign-in (invitations)


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonInvited(Event):
    """An admin invited a person by email (or sent the invitation again: a new `round` of the same invitation);
    the worker mails them a one-time link to set a password."""

    name: ClassVar[str] = "signin.invited"
    invitation_id: int
    employee_id: int
    round: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordResetRequested(Event):
    """Someone asked, on the sign-in page, for a reset link for an active person's email; the worker mails it to
    that address (only there: whoever asked learns nothing)."""

    name: ClassVar[str] = "signin.reset_requested"
    employee_id: int


# ------------------------------------------------------------------------------------------------ registry


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        LedgerAppended,
        KudosGiven,
        AddOnGiven,
        KudosRevoked,
        RequestFiled,
        RequestClaimed,
        ResolverAdded,
        RequestCompleted,
        RequestCancelled,
        RequestRated,
        BadgeEarned,
        FeedbackRequested,
        FeedbackGiven,
        FeedbackDeclined,
        SurveyRoundOpened,
        SurveyReminderDue,
        SurveyRoundClosed,
        NominationReminderDue,
        NominationMade,
        NominationsClosed,
        AwardAnnounced,
        PersonInvited,
        PasswordResetRequested,
    )
}

Handler = Callable[[Any], Awaitable[object]]
BatchHandler = Callable[[list[Any]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Registration:
    name: str  # "event:module.function": the outbox row names the handler by it
    event: type[Event]
    handler: Handler
    inline: bool
    batch: BatchHandler | None = None  # the same reaction to several events at once, when the worker has many
    alone: bool = False  # each event in its own transaction: the effect cannot be rolled back (a mail sent)


class Registry:
    """Which handlers react to which event."""

    def __init__(self) -> None:
        self._by_event: dict[type[Event], list[Registration]] = {}
        self._by_name: dict[str, Registration] = {}
        self.ready = False  # set once every domain registered (app.handlers.register_all)

    def register(
        self,
        event: type[Event],
        handler: Handler,
        *,
        inline: bool = False,
        batch: BatchHandler | None = None,
        alone: bool = False,
    ) -> None:
        """React to `event` with `handler` (again: no effect); `inline` runs it in the publisher's transaction;
        `batch`, when given, is what the worker runs for several stored events of a batch at once; `alone` runs
        each stored event in a transaction of its own (for effects outside the database, such as a mail)."""
        name = f"{event.name}:{handler.__module__}.{handler.__qualname__}"
        if name in self._by_name:
            return
        registration = Registration(name=name, event=event, handler=handler, inline=inline, batch=batch, alone=alone)
        self._by_name[name] = registration
        self._by_event.setdefault(event, []).append(registration)

    def handlers_for(self, event: type[Event]) -> list[Registration]:
        return list(self._by_event.get(event, []))

    def get(self, name: str) -> Registration | None:
        return self._by_name.get(name)


registry = Registry()


def _payload(event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(event)
    return payload


async def publish(event: Event) -> Event:
    """Run the inline handlers of `event` and record the others in the job outbox. Call it inside the publishing
    service's transaction (refused otherwise: an event that is not part of a transaction could be half-done).
    Returns the event with its id."""
    engine = engine_finder()
    if engine is None or engine.current_transaction.get() is None:
        raise RuntimeError(f"publish({type(event).__name__}) outside a transaction")
    if not registry.ready:  # a process that skipped start-up would drop every reaction silently: fail instead
        raise RuntimeError("publish() before the handlers were registered (call app.handlers.register_all)")
    if not event.event_id or event.at is None:
        event = replace(event, event_id=event.event_id or uuid.uuid4().hex, at=event.at or now())
    stored: list[str] = []
    for registration in registry.handlers_for(type(event)):
        if registration.inline:
            await registration.handler(event)
        else:
            stored.append(registration.name)
    if stored:
        await add_job(EVENT_ROWS, handlers=stored, event=event.name, payload=_payload(event))
    return event
