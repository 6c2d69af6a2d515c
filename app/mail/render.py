"""Render an email from a pair of templates (`emails/<name>.html` and `emails/<name>.txt`)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from app.mail.links import absolute_url
from app.mail.message import Mail
from app.timeutil import localtime
from app.words import TEMPLATE_FILTERS

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=1)
def mail_environment() -> jinja2.Environment:
    """The Jinja environment for emails outside a web request (workers): HTML autoescaped, text not."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # a worker renders thousands of messages: no stat of every template per render
    )
    env.filters.update({"localtime": localtime, **TEMPLATE_FILTERS})
    env.globals["url_for"] = absolute_url  # absolute links, as the pages' url_for builds relative ones
    return env


def render_mail(
    env: jinja2.Environment,
    template: str,
    *,
    to: str,
    subject: str,
    context: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
) -> Mail:
    """Render the HTML and plain-text parts of `template` into a `Mail`; `subject` is in the context too."""
    values = {"subject": subject, **context}
    return Mail(
        to=to,
        subject=subject,
        text=env.get_template(f"emails/{template}.txt").render(values),
        html=env.get_template(f"emails/{template}.html").render(values),
        headers=dict(headers or {}),
        message_id=message_id,
    )
