"""The one helper for plurals and durations, in Python and in both Jinja environments (web and mail)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.boards.badge_rules import BY_SLUG
from app.mail.render import mail_environment
from app.web.templating import template_config
from app.words import duration, hours, plural, plural_form, times


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (0, "request", "0 requests"),
        (1, "request", "1 request"),
        (2, "request", "2 requests"),
        (1, "kudos", "1 kudos"),
        (3, "kudos", "3 kudos"),
        (1, "person", "1 person"),
        (5, "person", "5 people"),
        (0, "+1", "0 +1s"),
        (1, "+1", "1 +1"),
        (1200, "point", "1,200 points"),
    ],
)
def test_plural_puts_the_noun_in_the_form_that_goes_with_the_count(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


def test_plural_forms_and_times() -> None:
    assert plural_form(1, "has") == "has" and plural_form(2, "has") == "have"
    assert plural_form(1, "works", "work") == "works" and plural_form(3, "works", "work") == "work"
    assert [times(n) for n in (1, 2, 3)] == ["once", "twice", "3 times"]


def test_durations_and_targets_share_one_format() -> None:
    assert duration(timedelta(minutes=45)) == "45 min"
    assert duration(timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert duration(timedelta(days=2, hours=19, minutes=5)) == "2 d 19 h"
    assert duration(timedelta(minutes=-5)) == "0 min"
    assert [hours(n) for n in (4, 24, 36, 48)] == ["4 h", "1 d", "1 d 12 h", "2 d"]


def test_the_award_winner_badge_counts_in_words() -> None:
    badge = BY_SLUG["award-winner"]
    assert badge.achieved_for(1) == "won a monthly award once"
    assert badge.rule_for(2) == "Win a monthly award 3 times."


def test_web_and_mail_templates_use_the_same_filters() -> None:
    source = '{{ n | plural("colleague") }} {{ n | plural_form("has") }} · {{ 24 | hours }}'
    web = template_config.to_engine().engine.from_string(source)
    mail = mail_environment().from_string(source)
    for n, expected in ((1, "1 colleague has · 1 d"), (4, "4 colleagues have · 1 d")):
        assert web.render(n=n) == mail.render(n=n) == expected
