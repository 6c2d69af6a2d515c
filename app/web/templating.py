"""Jinja set-up and the one rule for choosing between a full page and an HTMX fragment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litestar.plugins.htmx import HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


def _configure(engine: JinjaTemplateEngine) -> None:
    engine.engine.trim_blocks = True
    engine.engine.lstrip_blocks = True


template_config = TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_configure)


def wants_fragment(request: HTMXRequest) -> bool:
    """HTMX asked for a part of the page (not a boosted navigation or a history restore)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(
    request: HTMXRequest,
    page: str,
    context: Mapping[str, Any],
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Template:
    """The fragment for an HTMX request, the full page otherwise; the page includes the same fragment file."""
    name = fragment if fragment is not None and wants_fragment(request) else page
    return Template(
        template_name=name,
        context=dict(context),
        status_code=status_code,
        headers={"Vary": "HX-Request", **(headers or {})},
    )
