"""Jinja set-up and the one rule for choosing between a full page and an HTMX fragment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litestar.plugins.htmx import HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from app.web.header import header_for

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


def _configure(engine: JinjaTemplateEngine) -> None:
    engine.engine.trim_blocks = True
    engine.engine.lstrip_blocks = True


template_config = TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_configure)


def wants_fragment(request: HTMXRequest) -> bool:
    """HTMX asked for a part of the page (not a boosted navigation or a history restore)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


async def render(
    request: HTMXRequest,
    page: str,
    context: Mapping[str, Any],
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Template:
    """The fragment for an HTMX request, the full page otherwise; the page includes the same fragment file.

    A full page for a signed-in person also gets the header's figures (unread notifications, points left).
    """
    partial = fragment is not None and wants_fragment(request)
    values = dict(context)
    user = request.scope.get("user")
    if not partial and user is not None:
        values["header"] = await header_for(user)
    return Template(
        template_name=fragment if partial else page,
        context=values,
        status_code=status_code,
        headers={"Vary": "HX-Request", **(headers or {})},
    )
