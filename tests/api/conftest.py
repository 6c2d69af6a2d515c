"""An organisation and tokens for the API tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from app.api import tokens
from app.notices.preferences import set_choices
from app.notices.tables import Choice, NoticeKind
from app.people.services import load_current_user
from app.people.tables import Role
from tests.factories import make_department, make_employee, make_service

TokenFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    vpn = await make_service(it, "VPN help", target_hours=4)
    ravi = await make_employee("Ravi Patel", email="ravi@example.com", department=it)
    olu = await make_employee("Olu Bello", email="olu@example.com", department=it)
    ana = await make_employee("Ana Silva", email="ana@example.com", department=finance)
    admin = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=finance)
    for person in (ravi, olu, ana, admin):  # the API's tests count jobs and deliveries: no email notices among them
        await set_choices(person.id, dict.fromkeys(NoticeKind, Choice.NEVER))
    return {"it": it, "finance": finance, "vpn": vpn, "ravi": ravi, "olu": olu, "ana": ana, "admin": admin}


@pytest.fixture
async def make_token(org) -> TokenFactory:
    """A fresh token with `scopes` (all by default), created by the org's admin."""

    async def make(*scopes: str, rate_limit: int = 1000) -> str:
        admin = await load_current_user(org["admin"].id)
        _, token = await tokens.create_token(
            admin, name="Test", scopes=list(scopes or tokens.SCOPES), rate_limit=rate_limit
        )
        return token

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
