"""The kudos domain's services (SPEC F3 to F6), one module per job: giving (app/kudos/giving.py), add-ons and
revokes (changes.py), reading (feed.py), the form's rules (forms.py), allowances (allowance.py) and the ledger
(ledger.py). Other domains react to what happens here through events (app/events.py). No HTTP here."""

from __future__ import annotations

from app.kudos.changes import add_on, may_see_message, revoke
from app.kudos.feed import BADGES_PER_PAGE, FEED_PAGE, FEED_SCOPES, FeedPage, feed, get_kudos, merged, recent_public
from app.kudos.forms import (
    COMMENT_MAX,
    MAX_RECIPIENTS,
    MESSAGE_MAX,
    REASON_MAX,
    GiveForm,
    Given,
    new_idempotency_key,
    parse_points,
)
from app.kudos.giving import (
    company_values,
    give_kudos,
    people_by_id,
    request_for_thanks,
    validate_give,
)

__all__ = [
    "BADGES_PER_PAGE",
    "COMMENT_MAX",
    "FEED_PAGE",
    "FEED_SCOPES",
    "MAX_RECIPIENTS",
    "MESSAGE_MAX",
    "REASON_MAX",
    "FeedPage",
    "GiveForm",
    "Given",
    "add_on",
    "company_values",
    "feed",
    "get_kudos",
    "give_kudos",
    "may_see_message",
    "merged",
    "new_idempotency_key",
    "parse_points",
    "people_by_id",
    "recent_public",
    "request_for_thanks",
    "revoke",
    "validate_give",
]
