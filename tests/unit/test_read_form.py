"""read_form: a form into a msgspec Struct of text and lists of text (no database)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.testing import RequestFactory

from app.paging import parse_id
from app.web.forms import read_form


class GiveForm(msgspec.Struct, frozen=True):
    message: str = ""
    points: str = ""
    recipient: list[str] = []

    @property
    def points_value(self) -> int | None:
        return parse_id(self.points)


def _request(data: dict[str, object]) -> Request[Any, Any, Any]:
    return RequestFactory().post("/", request_media_type=RequestEncodingType.URL_ENCODED, data=data)


async def test_text_lists_and_defaults() -> None:
    form = await read_form(_request({"message": "Thanks a lot", "recipient": ["3", "5"]}), GiveForm)
    assert form == GiveForm(message="Thanks a lot", points="", recipient=["3", "5"])
    assert form.points_value is None  # parse_id: empty is "not given"


async def test_bad_numbers_stay_text_for_the_service_to_refuse() -> None:
    form = await read_form(_request({"points": "ten", "_csrf_token": "x"}), GiveForm)
    assert form.points == "ten"
    assert form.points_value == 0  # parse_id: not an id, so no row matches and the service says which field
