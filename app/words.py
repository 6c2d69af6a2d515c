"""Words for figures, one helper each, shared by Python code, page templates and email templates.

`plural(3, "kudos")` → "3 kudos", `plural(1, "colleague")` → "1 colleague", `plural(2, "person", "people")` →
"2 people"; `times(1)` → "once"; `duration(timedelta(hours=67))` → "2 d 19 h", `hours(24)` → "24 h".
`TEMPLATE_FILTERS` registers them (and nothing else) in the web and the mail Jinja environments.
"""

from __future__ import annotations

from datetime import timedelta


def excerpt(text: str, length: int = 80) -> str:
    """`text` on one line, cut to `length` characters with an ellipsis (notifications, webhooks, citations)."""
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# Nouns whose plural is not the singular + "s".
_IRREGULAR = {"kudos": "kudos", "person": "people", "is": "are", "has": "have", "was": "were"}


def plural_form(count: int, singular: str, plural: str | None = None) -> str:
    """The noun alone, in the form that goes with `count` ("person" / "people")."""
    if count == 1:
        return singular
    return plural or _IRREGULAR.get(singular) or f"{singular}s"


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """The count and the noun in the form that goes with it: "1 request", "0 requests", "2 people"."""
    return f"{count:,} {plural_form(count, singular, plural)}"


def times(count: int) -> str:
    """How often: "once", "twice", "3 times"."""
    return {1: "once", 2: "twice"}.get(count) or f"{count:,} times"


def duration(value: timedelta) -> str:
    """A short duration: "45 min", "3 h 20 min", "2 d 19 h" (negative durations count as 0 min)."""
    minutes = max(0, int(value / timedelta(minutes=1)))
    if minutes < 60:
        return f"{minutes} min"
    whole_hours, minutes = divmod(minutes, 60)
    if whole_hours < 24:
        return f"{whole_hours} h {minutes} min" if minutes else f"{whole_hours} h"
    days, whole_hours = divmod(whole_hours, 24)
    return f"{days} d {whole_hours} h" if whole_hours else f"{days} d"


def hours(value: float) -> str:
    """A number of hours (a service target) as a duration: "4 h", "24 h" → "1 d", "36 h" → "1 d 12 h"."""
    return duration(timedelta(hours=value))


TEMPLATE_FILTERS = {"plural": plural, "plural_form": plural_form, "times": times, "duration": duration, "hours": hours}
