"""Forms into typed values: a controller parses a form once, with `read_form`, into a msgspec Struct.

A form Struct's fields are text (`str`, "" when missing) or lists of text (`list[str]`, for repeated fields such
as checkboxes and multi-selects); turning text into ids, numbers or dates is the Struct's own job (properties using
`app.paging.parse_id`, `field_date`, …), so a bad value reaches the service, which answers with its clear 4xx
message, instead of failing in a validation layer with a generic one.

    class RequestForm(msgspec.Struct, frozen=True):
        department: str = ""
        title: str = ""

        @property
        def department_id(self) -> int | None:
            return parse_id(self.department)

    form = await read_form(request, RequestForm)
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

import msgspec
from litestar import Request

FormT = TypeVar("FormT", bound=msgspec.Struct)


async def read_form(request: Request[Any, Any, Any], form_type: type[FormT]) -> FormT:
    """The request's url-encoded (or multipart) form as `form_type`; fields the form lacks keep their defaults."""
    return _convert(await request.form(), form_type)


def read_query(request: Request[Any, Any, Any], form_type: type[FormT]) -> FormT:
    """The query string as `form_type`: a form sent with GET (a search that keeps the form's other fields)."""
    return _convert(request.query_params, form_type)


@functools.cache
def _fields(form_type: type[msgspec.Struct]) -> tuple[tuple[str, bool], ...]:
    """(name, repeated) of each field of a form Struct: read once per form type (msgspec evaluates the class's
    annotations each time it is asked)."""
    fields = msgspec.structs.fields(form_type)
    return tuple((field.encode_name, typing.get_origin(field.type) in (list, tuple)) for field in fields)


def _convert(data: Any, form_type: type[FormT]) -> FormT:
    values: dict[str, object] = {}
    for name, repeated in _fields(form_type):
        if repeated:
            values[name] = [str(value) for value in data.getall(name, [])]
        elif name in data:
            values[name] = str(data.get(name))
    return msgspec.convert(values, form_type)


def field_text(form: Mapping[str, Any], name: str) -> str:
    """A field's text ("" when missing)."""
    return str(form.get(name) or "")


def field_date(form: Mapping[str, Any], name: str) -> date | None:
    """A field's ISO date (YYYY-MM-DD, as `<input type="date">` sends it), None when missing or not a date."""
    return parse_date(field_text(form, name))


def parse_date(text: str) -> date | None:
    """An ISO date (YYYY-MM-DD, as `<input type="date">` sends it), None when empty or not a date."""
    text = text.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
