"""The badges of Kudos (SPEC F7): each defined once in `BADGES`, with its levels and the measure that earns them.
What earns them is in app/boards/awarding.py; slugs are stored in badge_award.badge and never renamed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.words import times


class Event(StrEnum):
    """Whose badges an event checks."""

    GAVE = "gave"  # the giver of a kudos
    RECEIVED = "received"  # the recipients of a kudos
    RESOLVED = "resolved"  # the resolvers of a completed request
    WON = "won"  # the people who won a monthly award (app.awards)
    ANSWERED_FEEDBACK = "answered_feedback"  # the author of feedback given in answer to an ask (app.feedback)
    ASKED_FEEDBACK = "asked_feedback"  # the person who asked colleagues for feedback


def _fill(text: str, threshold: int) -> str:
    return text.format(n=threshold, times=times(threshold))


@dataclass(frozen=True, slots=True)
class Badge:
    slug: str  # stored in badge_award.badge: never rename
    name: str
    description: str  # what it recognises
    rule: str  # how a level is earned; {n} is the level's threshold, {times} the same as "once", "3 times"
    achieved: str  # what an earned level stands for; {n} and {times} as above
    thresholds: tuple[int, ...]  # level 1, 2, … needs measure >= thresholds[level - 1]
    event: Event
    measure: str  # a key of _MEASURES

    @property
    def levels(self) -> int:
        return len(self.thresholds)

    def rule_for(self, level: int) -> str:
        return _fill(self.rule, self.thresholds[level - 1])

    def achieved_for(self, level: int) -> str:
        return _fill(self.achieved, self.thresholds[level - 1])

    def title_for(self, level: int) -> str:
        """The name with the level ("Recognised (level 2 of 3)"); just the name for a badge with one level."""
        return self.name if self.levels == 1 else f"{self.name} (level {level} of {self.levels})"

    def levels_reached(self, value: int) -> list[int]:
        return [n for n, threshold in enumerate(self.thresholds, start=1) if value >= threshold]


BADGES: tuple[Badge, ...] = (
    Badge(
        slug="first-kudos-given",
        name="First thanks",
        description="Said thank you to a colleague with a first kudos.",
        rule="Give your first kudos.",
        achieved="first kudos given",
        thresholds=(1,),
        event=Event.GAVE,
        measure="given",
    ),
    Badge(
        slug="first-kudos-received",
        name="First kudos",
        description="Was thanked by a colleague for the first time.",
        rule="Receive your first kudos.",
        achieved="first kudos received",
        thresholds=(1,),
        event=Event.RECEIVED,
        measure="received",
    ),
    Badge(
        slug="recognised",
        name="Recognised",
        description="Thanked again and again by colleagues (kudos received, all time).",
        rule="Receive {n} kudos.",
        achieved="{n} kudos received",
        thresholds=(10, 50, 100),
        event=Event.RECEIVED,
        measure="received",
    ),
    Badge(
        slug="bridge-builder",
        name="Bridge builder",
        description="Helps across the organisation: thanked by people from many other departments.",
        rule="Be thanked with kudos by people from {n} departments other than your own.",
        achieved="thanked by people from {n} other departments",
        thresholds=(5,),
        event=Event.RECEIVED,
        measure="departments",
    ),
    Badge(
        slug="fast-responder",
        name="Fast responder",
        description="Resolves internal requests within the target time their service publishes.",
        rule="Resolve {n} requests completed within their service's target turnaround.",
        achieved="{n} requests completed within target",
        thresholds=(5, 25),
        event=Event.RESOLVED,
        measure="within_target",
    ),
    Badge(
        slug="weekly-giver",
        name="Weekly giver",
        description="Makes thanking colleagues a habit.",
        rule="Give kudos {n} weeks in a row.",
        achieved="kudos given {n} weeks in a row",
        thresholds=(4,),
        event=Event.GAVE,
        measure="weekly_streak",
    ),
    Badge(
        slug="award-winner",
        name="Award winner",
        description="Won a monthly award, picked by the award committee from managers' nominations.",
        rule="Win a monthly award {times}.",
        achieved="won a monthly award {times}",
        thresholds=(1, 3),
        event=Event.WON,
        measure="awards_won",
    ),
    Badge(
        slug="feedback-giver",
        name="Feedback giver",
        description="Takes the time to answer colleagues who ask for feedback.",
        rule="Answer {n} requests for feedback.",
        achieved="{n} requests for feedback answered",
        thresholds=(5,),
        event=Event.ANSWERED_FEEDBACK,
        measure="feedback_answered",
    ),
    Badge(
        slug="listener",
        name="Listener",
        description="Asks colleagues how they could do better.",
        rule="Ask colleagues for feedback {n} times.",
        achieved="asked for feedback {n} times",
        thresholds=(3,),
        event=Event.ASKED_FEEDBACK,
        measure="feedback_asked",
    ),
)
BY_SLUG: dict[str, Badge] = {badge.slug: badge for badge in BADGES}
REVOKE_RULE = "Badges stay earned even if a kudos behind them is later revoked."
