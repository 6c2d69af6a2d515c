"""The mail delivery rules, shared by every table of mails to send (digests, email notices).

Such a table is the work queue: a row per mail with `status` (pending → sending → sent, or back to pending after a
failure, failed after MAX_ATTEMPTS, skipped when its person may no longer receive it), `attempts`,
`next_attempt_at`, `claimed_at`, `claimed_by`, `sent_at` and `last_error`. A sending loop claims up to a batch of
due pending rows in one statement (`FOR UPDATE SKIP LOCKED`, so loops never claim the same row), which commits at
once; it marks each row `sent` right after the server accepted its message. A worker killed in the middle leaves
its rows in `sending`; once their claim is older than the lease, the next claim by any loop returns them to
`pending` first (every claim reaps), in their old place in the queue (due time, then id). Only a message the
server accepted whose row was not yet marked can go out twice — at most one per sending loop at a kill.

A failed send goes back to `pending` with a growing delay (1, 4, 16, 64 minutes) and after MAX_ATTEMPTS ends
`failed` with the error kept.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from piccolo.querystring import QueryString

import app.db as db
from app.mail.message import Outgoing
from app.timeutil import now

log = logging.getLogger("kudos.mail")

MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)  # times 4 per attempt: 1, 4, 16, 64 minutes
ERROR_MAX = 2000


class MailBackend(Protocol):
    async def send(self, message: Outgoing) -> None: ...


def worker_token() -> str:
    """Names one sending loop in `claimed_by`: host, process and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other: Outcome) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.skipped += other.skipped


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row claimed by one sending loop: its id, attempts so far (this one included) and the table's own
    `columns`."""

    id: int
    attempts: int
    values: Mapping[str, Any]


class DeliveryQueue:
    """The claiming, reaping and marking statements of one delivery table (`table`, a constant of the code)."""

    def __init__(self, table: str, *, columns: Sequence[str], lease: Callable[[], timedelta], stopped: str) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.lease = lease  # how long a claim may last before its loop counts as dead
        self.stopped = stopped  # the error kept on a row whose every attempt ended with the worker gone
        returning = ", ".join(f"d.{column}" for column in ("id", "attempts", *self.columns))
        # The rows are picked in a materialized CTE, not an `IN (subquery)`: planned as a subplan, the subquery can
        # run again for each row the UPDATE visits, and each run skips the rows this statement already changed and
        # takes the next ones, so one claim of a batch of 2 took every pending row on some plans.
        self._claim = f"""
            WITH picked AS MATERIALIZED (
                SELECT id FROM {table} WHERE status = 'pending' AND next_attempt_at <= {{}}
                ORDER BY next_attempt_at, id LIMIT {{}} FOR UPDATE SKIP LOCKED
            )
            UPDATE {table} d SET status = 'sending', claimed_at = {{}}, claimed_by = {{}}, attempts = d.attempts + 1
            FROM picked WHERE d.id = picked.id RETURNING {returning}"""  # noqa: S608 — constant table and columns
        self._reap = f"""
            UPDATE {table}
            SET status = CASE WHEN attempts >= {{}} THEN 'failed' ELSE 'pending' END,
                last_error = CASE WHEN attempts >= {{}} THEN {{}} ELSE last_error END,
                claimed_at = NULL, claimed_by = NULL
            WHERE status = 'sending' AND claimed_at < {{}} RETURNING id"""  # noqa: S608 — constant table
        self._sent = f"""
            UPDATE {table} SET status = 'sent', sent_at = {{}}, last_error = NULL, claimed_at = NULL
            WHERE id = {{}} AND status = 'sending' AND claimed_by = {{}}"""  # noqa: S608 — constant table
        self._failed = f"""
            UPDATE {table} SET status = {{}}, next_attempt_at = {{}}, last_error = {{}}, claimed_at = NULL,
                claimed_by = NULL
            WHERE id = {{}} AND status = 'sending' AND claimed_by = {{}}"""  # noqa: S608 — constant table
        self._skip = f"""
            UPDATE {table} SET status = 'skipped', claimed_at = NULL
            WHERE id = ANY({{}}) AND status = 'sending'"""  # noqa: S608 — constant table
        self._renew = f"UPDATE {table} SET claimed_at = {{}} WHERE claimed_by = {{}} AND status = 'sending'"  # noqa: S608

    async def _run(self, sql: str, *values: Any) -> list[Any]:
        rows: list[Any] = await db.engine().run_querystring(QueryString(sql, *values))
        return rows

    async def claim(self, token: str, *, batch: int) -> list[Claimed]:
        """Up to `batch` due rows for the loop `token`, the ones a stopped worker had claimed first."""
        await self.reap()
        moment = now()
        rows = await self._run(self._claim, moment, batch, moment, token)
        claimed = (Claimed(r["id"], r["attempts"], {c: r[c] for c in self.columns}) for r in rows)
        return sorted(claimed, key=lambda row: row.id)

    async def reap(self, *, lease: timedelta | None = None) -> int:
        """Return rows claimed longer ago than the lease (their worker died) to pending, in their old place in the
        queue (their due time is unchanged); how many."""
        cutoff = now() - (lease if lease is not None else self.lease())
        rows = await self._run(self._reap, MAX_ATTEMPTS, MAX_ATTEMPTS, self.stopped, cutoff)
        if rows:
            log.warning("returned %d rows of %s stuck in sending to the queue", len(rows), self.table)
        return len(rows)

    async def mark_sent(self, row: Claimed, token: str) -> None:
        await self._run(self._sent, now(), row.id, token)

    async def mark_failed(self, row: Claimed, token: str, error: str) -> None:
        final = row.attempts >= MAX_ATTEMPTS
        await self._run(
            self._failed,
            "failed" if final else "pending",
            now() + BACKOFF * 4 ** (row.attempts - 1),
            error[:ERROR_MAX],
            row.id,
            token,
        )

    async def skip(self, rows: Sequence[Claimed]) -> None:
        """Claimed rows whose person may no longer receive them."""
        if rows:
            await self._run(self._skip, [row.id for row in rows])

    async def renew(self, token: str) -> None:
        """Keep this loop's claims fresh while a slow batch is still being sent."""
        await self._run(self._renew, now(), token)

    async def send_each(
        self,
        rows: Sequence[Claimed],
        messages: Mapping[int, Outgoing],
        backend: MailBackend,
        token: str,
    ) -> Outcome:
        """Send each claimed row's message (by row id; a row without one fails: its subject no longer exists) and
        mark the row sent right after the server accepted it, or pending/failed with the error."""
        outcome = Outcome()
        await self.renew(token)  # every claim reaps: the lease must not run out because rendering took long
        renewed = time.monotonic()
        renew_every = self.lease().total_seconds() / 4
        for row in rows:
            message = messages.get(row.id)
            try:
                if message is None:
                    raise LookupError("what this mail is about no longer exists")
                await backend.send(message)
            except Exception as exc:
                log.warning("%s %s failed: %s", self.table, row.id, exc)
                await self.mark_failed(row, token, describe(exc))
                outcome.failed += 1
            else:
                await self.mark_sent(row, token)
                outcome.sent += 1
            if time.monotonic() - renewed > renew_every:
                await self.renew(token)
                renewed = time.monotonic()
        return outcome

    async def fail_all(self, rows: Sequence[Claimed], token: str, exc: BaseException) -> Outcome:
        """A batch that could not be rendered: every row back to pending (or failed), none left claimed."""
        for row in rows:
            await self.mark_failed(row, token, describe(exc))
        return Outcome(failed=len(rows))
