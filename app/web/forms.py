"""Form fields into typed values, for the controllers that parse a form once into a service's input."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any


def field_text(form: Mapping[str, Any], name: str) -> str:
    """A field's text ("" when missing)."""
    return str(form.get(name) or "")


def field_date(form: Mapping[str, Any], name: str) -> date | None:
    """A field's ISO date (YYYY-MM-DD, as `<input type="date">` sends it), None when missing or not a date."""
    text = field_text(form, name).strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
