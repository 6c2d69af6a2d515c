"""The site header's figures (unread notifications, points left to give), read in one query."""

from __future__ import annotations

import pytest

from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.notifications.services import mark_all_read, notify
from app.notifications.tables import Kind
from app.people.services import load_current_user
from app.people.tables import Role
from app.web.header import Header, header_for
from tests.factories import make_employee

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


async def test_the_header_shows_the_budget_before_anything_is_given_then_what_is_left_and_unread() -> None:
    giver = await make_employee("Gus Giver")
    manager = await make_employee("Mia Manager", role=Role.MANAGER)
    user = await load_current_user(giver.id)
    assert user is not None
    assert await header_for(user) == Header(unread=0, remaining=100, budget=100)  # no allowance row yet

    await give_kudos(user, GiveForm(recipient_ids=[manager.id], message="Thank you!", points="30"))
    await mark_all_read(giver.id)  # giving may have earned a badge
    await notify([giver.id, manager.id], Kind.KUDOS_RECEIVED, text="Thanks", subject="kudos:1")
    await notify([giver.id], Kind.BADGE_EARNED, text="A badge", subject="badge_award:1")
    assert await header_for(user) == Header(unread=2, remaining=70, budget=100)

    await mark_all_read(giver.id)
    assert await header_for(user) == Header(unread=0, remaining=70, budget=100)
