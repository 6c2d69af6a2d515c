"""The append-only points ledger (SPEC F6): every movement of points, and every revoke as a negative entry.

Entries are written inside the transaction of the action that causes them, which then publishes `LedgerAppended`
(app/events.py): whatever is derived from the ledger (the board rollups) is kept in step by its inline handler in
that same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.events import LedgerAppended, LedgerLine, publish
from app.kudos.tables import EntryKind, LedgerEntry
from app.people.tables import Employee


@dataclass(frozen=True, slots=True)
class Movement:
    kind: EntryKind
    kudos_id: int
    giver_id: int
    recipient_id: int
    amount: int
    addon_id: int | None = None


async def departments_of(employee_ids: Iterable[int]) -> dict[int, int | None]:
    """Each person's department now, recorded on entries so boards stay fair when people move later."""
    ids = list(set(employee_ids))
    if not ids:
        return {}
    rows = await Employee.select(Employee.id, Employee.department).where(Employee.id.is_in(ids))
    return {row["id"]: row["department"] for row in rows}


async def append(movements: list[Movement], *, at: datetime) -> None:
    """Record movements happening `at` (which is also when they count on boards) and update the rollups."""
    if not movements:
        return
    departments = await departments_of([m.giver_id for m in movements] + [m.recipient_id for m in movements])
    entries = [
        LedgerEntry(
            kind=m.kind,
            kudos=m.kudos_id,
            addon=m.addon_id,
            giver=m.giver_id,
            giver_department=departments.get(m.giver_id),
            recipient=m.recipient_id,
            recipient_department=departments.get(m.recipient_id),
            amount=m.amount,
            created_at=at,
            effective_at=at,
        )
        for m in movements
    ]
    await LedgerEntry.insert(*entries)
    await publish(LedgerAppended(lines=tuple(_line(e) for e in entries), at=at))


def _line(entry: LedgerEntry) -> LedgerLine:
    return LedgerLine(
        kind=entry.kind,
        is_addon=entry.addon is not None,
        kudos_id=entry.kudos,
        giver=entry.giver,
        giver_department=entry.giver_department,
        recipient=entry.recipient,
        recipient_department=entry.recipient_department,
        amount=entry.amount,
        effective_at=entry.effective_at,
    )


async def reverse_kudos(kudos_id: int, *, at: datetime) -> tuple[LedgerLine, ...]:
    """Append a negative REVOKE entry for every entry of a kudos (its own and its add-ons'); returns them.

    Entries with 0 points are reversed too, so counts derived from the ledger (kudos received) drop as well.
    """
    originals = await LedgerEntry.select(
        LedgerEntry.kind,
        LedgerEntry.addon,
        LedgerEntry.giver,
        LedgerEntry.giver_department,
        LedgerEntry.recipient,
        LedgerEntry.recipient_department,
        LedgerEntry.amount,
        LedgerEntry.effective_at,
    ).where((LedgerEntry.kudos == kudos_id) & (LedgerEntry.kind != EntryKind.REVOKE))
    reversals = [
        LedgerEntry(
            kind=EntryKind.REVOKE,
            kudos=kudos_id,
            addon=row["addon"],
            giver=row["giver"],
            giver_department=row["giver_department"],
            recipient=row["recipient"],
            recipient_department=row["recipient_department"],
            amount=-row["amount"],
            created_at=at,
            effective_at=row["effective_at"],  # boards lose the kudos where they counted it
        )
        for row in originals
    ]
    lines = tuple(_line(e) for e in reversals)
    if reversals:
        await LedgerEntry.insert(*reversals)
        await publish(LedgerAppended(lines=lines, at=at))
    return lines
