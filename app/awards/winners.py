"""Winners (SPEC F9): the admins' review of a closed cycle, picking winners and the announcement.

Admins pick winners from the nominees once nominations have closed, at most the category's number, and announce
once (`announce`). The announcement changes the cycle (it then shows in the feed and the hall of fame) and publishes
AwardAnnounced: the other domains react to it (winners notified, badges, the webhook).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import app.db as db
from app.audit.services import record as audit
from app.awards.categories import Category, categories, get_category
from app.awards.cycles import Cycle, deadline_words, get_cycle
from app.awards.nominations import NominationEntry, nominations_in, parse_nominee
from app.awards.queries import Winner, winners_of
from app.awards.tables import AwardCycle, AwardWinner, CycleStatus, Nomination, NomineeKind
from app.events import AwardAnnounced, AwardWon, publish
from app.paging import valid_id
from app.people.services import CurrentUser
from app.rules import RuleViolation
from app.timeutil import now
from app.words import plural

CITATION_MAX = 500


@dataclass(frozen=True, slots=True)
class ReviewedNominee:
    """A nominee of one category in the review, with every nomination they received."""

    token: str
    name: str
    person: int | None
    department_slug: str | None
    nominations: list[NominationEntry] = field(default_factory=list)
    winner: bool = False
    citation: str = ""


@dataclass(frozen=True, slots=True)
class CategoryReview:
    category: Category
    nominees: list[ReviewedNominee]

    @property
    def winners(self) -> list[ReviewedNominee]:
        return [n for n in self.nominees if n.winner]


_PICKED_SQL = """
    SELECT category, citation, CASE WHEN person IS NOT NULL THEN 'p' || person ELSE 'd' || department END AS token
    FROM award_winner WHERE cycle = {}
"""


async def review(cycle: Cycle) -> list[CategoryReview]:
    """Every category (active, or with nominations in the cycle) with its nominees, most nominated first, each
    with all their nominations (reasons, evidence) and whether they are picked as a winner."""
    picked = {(row["category"], row["token"]): row["citation"] for row in await AwardWinner.raw(_PICKED_SQL, cycle.id)}
    by_category: dict[int, dict[str, list[NominationEntry]]] = defaultdict(dict)
    for nomination in await nominations_in(cycle.id):
        by_category[nomination.category].setdefault(nomination.token, []).append(nomination)
    result = []
    for category in await categories(active_only=False):
        nominated = by_category.get(category.id, {})
        if not category.active and not nominated:
            continue
        nominees = [
            ReviewedNominee(
                token=token,
                name=entries[0].nominee_name,
                person=entries[0].person,
                department_slug=entries[0].department_slug,
                nominations=entries,
                winner=(category.id, token) in picked,
                citation=picked.get((category.id, token), ""),
            )
            for token, entries in nominated.items()
        ]
        nominees.sort(key=lambda n: (-len(n.nominations), n.name))
        result.append(CategoryReview(category=category, nominees=nominees))
    return result


async def _locked_cycle(cycle_id: int) -> Cycle:
    row = await AwardCycle.select().where(AwardCycle.id == cycle_id).lock_rows("UPDATE").first()
    if row is None:
        raise RuleViolation("There is no such award cycle.", status_code=404)
    return Cycle(**row)


def _require_review(cycle: Cycle, at: datetime) -> None:
    phase = cycle.phase(at)
    if phase == "open":
        raise RuleViolation(
            f"Winners can be picked once nominations close {deadline_words(cycle.closes_at)}.", status_code=409
        )
    if phase == "announced":
        raise RuleViolation(f"The {cycle.label} awards have already been announced.", status_code=409)


_NOMINATED_SQL = """
    SELECT DISTINCT CASE WHEN person IS NOT NULL THEN 'p' || person ELSE 'd' || department END AS token
    FROM nomination WHERE cycle = {} AND category = {}
"""


async def pick_winners(
    admin: CurrentUser,
    cycle_id: int,
    category_id: int | None,
    picks: list[tuple[str, str]],
    *,
    at: datetime | None = None,
) -> None:
    """Set the winners of one category of a cycle (admins only): `picks` are (nominee token, citation). Replaces
    earlier picks for that category; allowed between the close of nominations and the announcement."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins pick award winners.", status_code=403)
    if not valid_id(cycle_id):
        raise RuleViolation("There is no such award cycle.", status_code=404)
    category = await get_category(category_id)
    if category is None:
        raise RuleViolation("There is no such award category.", status_code=404)
    tokens = list(dict.fromkeys(token for token, _ in picks))
    citations = {token: citation.strip() for token, citation in picks}
    async with db.transaction():
        cycle = await _locked_cycle(cycle_id)
        _require_review(cycle, moment)
        errors: dict[str, str] = {}
        if len(tokens) > category.winners:
            errors["winners"] = (
                f"{category.name} has at most {plural(category.winners, 'winner')}; you picked {len(tokens)}."
            )
        nominated = {row["token"] for row in await Nomination.raw(_NOMINATED_SQL, cycle.id, category.id)}
        if any(token not in nominated for token in tokens):
            errors["winners"] = f"A winner must be one of the nominees for {category.name}."
        if too_long := [t for t in tokens if len(citations[t]) > CITATION_MAX]:
            errors["citation"] = f"Keep each citation to {CITATION_MAX} characters ({len(too_long)} too long)."
        if errors:
            raise RuleViolation(errors)
        await AwardWinner.delete().where((AwardWinner.cycle == cycle.id) & (AwardWinner.category == category.id))
        rows = []
        for token in tokens:
            kind, ident = parse_nominee(token)
            rows.append(
                AwardWinner(
                    cycle=cycle.id,
                    category=category.id,
                    person=ident if kind == NomineeKind.PERSON else None,
                    department=ident if kind == NomineeKind.DEPARTMENT else None,
                    citation=citations[token],
                    picked_by=admin.id,
                    picked_at=moment,
                )
            )
        if rows:
            await AwardWinner.insert(*rows)
        await audit(
            actor_id=admin.id,
            action="awards.pick",
            target_type="award_cycle",
            target_id=cycle.id,
            summary=f"Picked {plural(len(tokens), 'winner')} of {category.name} for {cycle.label}.",
            after={"category": category.id, "winners": tokens},
            at=moment,
        )


@dataclass(frozen=True, slots=True)
class Announcement:
    cycle: Cycle
    winners: list[Winner]


async def announce(admin: CurrentUser, cycle_id: int, *, at: datetime | None = None) -> Announcement:
    """Announce a cycle's winners, once (admins only), in one transaction: the cycle is marked announced (it then
    shows in the feed and the hall of fame) and AwardAnnounced is published, so winners are notified — and every
    active member of a winning department — and winning people get the award-winner badge."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins announce award winners.", status_code=403)
    if not valid_id(cycle_id):
        raise RuleViolation("There is no such award cycle.", status_code=404)
    async with db.transaction():
        cycle = await _locked_cycle(cycle_id)
        _require_review(cycle, moment)
        winners = await winners_of([cycle.id])
        if not winners:
            raise RuleViolation("Pick at least one winner before announcing.", status_code=422)
        await AwardCycle.update(
            {
                AwardCycle.status: CycleStatus.ANNOUNCED,
                AwardCycle.announced_at: moment,
                AwardCycle.announced_by: admin.id,
                AwardCycle.closed_at: cycle.closed_at or moment,
            }
        ).where(AwardCycle.id == cycle.id)
        await publish(
            AwardAnnounced(
                cycle_id=cycle.id,
                month=cycle.month,
                announced_by=admin.id,
                winners=tuple(
                    AwardWon(
                        category=w.category_name,
                        name=w.name,
                        citation=w.citation,
                        person_id=w.person,
                        department_id=w.department,
                    )
                    for w in winners
                ),
                at=moment,
            )
        )
        await audit(
            actor_id=admin.id,
            action="awards.announce",
            target_type="award_cycle",
            target_id=cycle.id,
            summary=f"Announced the {cycle.label} awards: "
            + "; ".join(f"{w.category_name} — {w.name}" for w in winners),
            after={"winners": [w.token for w in winners]},
            at=moment,
        )
    announced = await get_cycle(cycle.id)
    assert announced is not None
    return Announcement(cycle=announced, winners=winners)
