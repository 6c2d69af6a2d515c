"""The award calendar: when a month's nominations open and close, and the admin setting behind it.

Nominations for month M open on `open_day` of the month after M and close on `close_day`, both at `time_of_day`
in the calendar's time zone (the organisation's unless an admin chose another). Managers who have not nominated
get one reminder a day before the deadline. A cycle copies its times when it opens: changing the calendar
changes later cycles only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec

import app.db as db
from app.audit.services import record as audit
from app.awards.tables import AwardCalendar
from app.people.services import CurrentUser
from app.rules import RuleViolation
from app.settings import get_settings
from app.timeutil import next_month, org_tz

REMIND_BEFORE = timedelta(days=1)
LAST_DAY = 28  # every month has it
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Calendar:
    open_day: int = 1
    close_day: int = 7
    time_of_day: str = "09:00"
    timezone: str = ""  # "" = the organisation's time zone (KUDOS_TIMEZONE)

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else org_tz()

    @property
    def zone_name(self) -> str:
        return self.timezone or get_settings().timezone

    def _at(self, month: date, day: int) -> datetime:
        hours, minutes = map(int, self.time_of_day.split(":"))
        return datetime.combine(month.replace(day=day), time(hours, minutes), tzinfo=self.tz)

    def window(self, month: date) -> tuple[datetime, datetime]:
        """When nominations for `month` (its first day) open and close."""
        following = next_month(month)
        return self._at(following, self.open_day), self._at(following, self.close_day)


async def get_calendar() -> Calendar:
    row = await AwardCalendar.select(*AwardCalendar.all_columns(exclude=[AwardCalendar.id])).first()
    return Calendar(**row) if row else Calendar()


def _day(raw: str, name: str, errors: dict[str, str]) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= LAST_DAY):
        errors[name] = f"Choose a day from 1 to {LAST_DAY}."
        return 0
    return int(text)


class CalendarForm(msgspec.Struct, frozen=True):
    """The admin's calendar form, as sent."""

    open_day: str = ""
    close_day: str = ""
    time_of_day: str = ""
    timezone: str = ""


async def update_calendar(admin: CurrentUser, form: CalendarForm) -> Calendar:
    """Validate and save the calendar (admins only); later cycles follow it."""
    if not admin.is_admin:
        raise RuleViolation("Only admins change the award calendar.", status_code=403)
    errors: dict[str, str] = {}
    open_day = _day(form.open_day, "open_day", errors)
    close_day = _day(form.close_day, "close_day", errors)
    if open_day and close_day and open_day >= close_day:
        errors["close_day"] = "Nominations must close on a later day than they open."
    time_of_day = form.time_of_day.strip()
    if not _TIME.match(time_of_day):
        errors["time_of_day"] = "Give a time as HH:MM, e.g. 09:00."
    timezone = form.timezone.strip()
    if timezone:
        try:
            ZoneInfo(timezone)
            known = timezone in available_timezones()
        except (ZoneInfoNotFoundError, ValueError):
            known = False
        if not known:
            errors["timezone"] = f"“{timezone[:60]}” is not a time zone name such as Europe/Berlin."
    if errors:
        raise RuleViolation(errors)
    before = await get_calendar()
    calendar = Calendar(open_day=open_day, close_day=close_day, time_of_day=time_of_day, timezone=timezone)
    async with db.transaction():
        row = AwardCalendar(id=1, open_day=open_day, close_day=close_day, time_of_day=time_of_day, timezone=timezone)
        await AwardCalendar.insert(row).on_conflict(
            target=AwardCalendar.id,
            action="DO UPDATE",
            values=[AwardCalendar.open_day, AwardCalendar.close_day, AwardCalendar.time_of_day, AwardCalendar.timezone],
        )
        await audit(
            actor_id=admin.id,
            action="awards.calendar",
            target_type="award_calendar",
            target_id=1,
            summary=f"Award nominations now open on day {open_day} and close on day {close_day} at {time_of_day}.",
            before=_as_dict(before),
            after=_as_dict(calendar),
        )
    return calendar


def _as_dict(calendar: Calendar) -> dict[str, object]:
    return {name: getattr(calendar, name) for name in ("open_day", "close_day", "time_of_day", "timezone")}
