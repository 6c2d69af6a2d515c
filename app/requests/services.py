"""The requests domain's services (SPEC F2, F11), one module per job: the workflow of a request
(app/requests/workflow.py) and reading requests (queries.py). Other domains react to what happens here through
events (app/events.py). No HTTP here."""

from __future__ import annotations

from app.requests.queries import (
    ACTIVE,
    BOXES,
    DEFAULT_BOX,
    DEFAULT_STATUS,
    PAGE_SIZE,
    STATUS_FILTERS,
    STATUS_LABELS,
    RequestPage,
    add_timing,
    completed_not_thanked,
    departments_for_filing,
    duration_label,
    get_request,
    list_requests,
    resolver_candidates,
)
from app.requests.workflow import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    REASON_MAX,
    SCORES,
    TITLE_MAX,
    Actor,
    add_resolver,
    cancel,
    claim,
    complete,
    file_request,
    rate,
)

__all__ = [
    "ACTIVE",
    "BOXES",
    "COMMENT_MAX",
    "DEFAULT_BOX",
    "DEFAULT_STATUS",
    "DESCRIPTION_MAX",
    "PAGE_SIZE",
    "REASON_MAX",
    "SCORES",
    "STATUS_FILTERS",
    "STATUS_LABELS",
    "TITLE_MAX",
    "Actor",
    "RequestPage",
    "add_resolver",
    "add_timing",
    "cancel",
    "claim",
    "complete",
    "completed_not_thanked",
    "departments_for_filing",
    "duration_label",
    "file_request",
    "get_request",
    "list_requests",
    "rate",
    "resolver_candidates",
]
