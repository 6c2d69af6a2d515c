"""User text inside SQL LIKE / ILIKE patterns: `\\`, `%` and `_` are escaped so they match themselves."""

from __future__ import annotations


def like_literal(text: str) -> str:
    """A pattern that matches `text` exactly (case-insensitively with ILIKE): a name check for duplicates."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_contains(text: str) -> str:
    """A pattern that matches any value containing `text`: search boxes."""
    return f"%{like_literal(text)}%"
