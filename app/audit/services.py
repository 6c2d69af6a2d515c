"""Writing to the append-only audit log (called inside the action's own transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.audit.tables import AuditEntry
from app.timeutil import now


async def record(
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    await AuditEntry.insert(
        AuditEntry(
            actor=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            summary=summary,
            before=before,
            after=after,
            created_at=at or now(),
        )
    )
