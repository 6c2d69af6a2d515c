"""API tokens: create (shown once), authenticate, revoke, list; and the per-token rate limit. No HTTP here.

A token reads `kudos_<prefix>_<secret>`: the prefix (8 hex characters) finds its row and names the token in lists;
the whole token has 256 bits of randomness, so a plain SHA-256 of it is a safe thing to store (no slow hash needed
against guessing). The stored hash is compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

import app.db as db
from app.api.tables import ApiToken
from app.audit.services import record as audit
from app.paging import valid_id
from app.people.services import CurrentUser
from app.rules import RuleViolation
from app.timeutil import now

SCOPES: dict[str, str] = {
    "requests:write": "Create, update and complete requests from an external tracker",
    "kudos:write": "Give kudos on someone's behalf (named by email)",
    "read": "Read leaderboards and people's public profiles",
}
NAME_MAX = 80
DEFAULT_RATE_LIMIT = 120  # requests per minute
RATE_LIMIT_MAX = 10_000
LAST_USED_GRANULARITY = timedelta(minutes=1)  # last_used_at is written at most once a minute per token
_PREFIX = "kudos_"
_LOCK_ROW_SQL = "SELECT id, name, revoked_at FROM api_token WHERE id = {} FOR UPDATE"


@dataclass(frozen=True, slots=True)
class Token:
    """An authenticated, unrevoked token."""

    id: int
    name: str
    scopes: frozenset[str]
    rate_limit: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _split(token: str) -> str | None:
    """The prefix of a well-formed token, else None."""
    if not token.startswith(_PREFIX):
        return None
    prefix, _, secret = token.removeprefix(_PREFIX).partition("_")
    if len(prefix) != 8 or not secret or any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


@dataclass(frozen=True, slots=True)
class _Fields:
    """A token's form, cleaned."""

    name: str
    scopes: list[str]
    rate_limit: int  # requests per minute


def _clean_form(name: str, scopes: list[str], rate_limit: object) -> tuple[_Fields, dict[str, str]]:
    errors: dict[str, str] = {}
    name = " ".join(str(name or "").split())
    if not name:
        errors["name"] = "Name the token after what uses it, e.g. “Helpdesk sync”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters (it has {len(name)})."
    chosen = list(dict.fromkeys(scopes))
    if not chosen:
        errors["scopes"] = "Choose at least one scope."
    elif unknown := [s for s in chosen if s not in SCOPES]:
        errors["scopes"] = f"Unknown scope: {', '.join(unknown)}."
    text = str(rate_limit if rate_limit is not None else "").strip() or str(DEFAULT_RATE_LIMIT)
    limit = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
    if not 1 <= limit <= RATE_LIMIT_MAX:
        errors["rate_limit"] = f"Allow from 1 to {RATE_LIMIT_MAX:,} requests per minute."
    return _Fields(name, chosen, limit), errors


async def create_token(
    admin: CurrentUser, *, name: str, scopes: list[str], rate_limit: object = None, at: datetime | None = None
) -> tuple[int, str]:
    """Create a token (admins only); returns its id and the token itself, which is never available again."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins can create API tokens.", status_code=403)
    cleaned, errors = _clean_form(name, scopes, rate_limit)
    if errors:
        raise RuleViolation(errors)
    async with db.transaction():
        while True:  # a clash of two random 32-bit prefixes is rare; the unique index decides
            prefix = secrets.token_hex(4)
            token = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            rows = (
                await ApiToken.insert(
                    ApiToken(
                        name=cleaned.name,
                        prefix=prefix,
                        token_hash=hash_token(token),
                        scopes=cleaned.scopes,
                        rate_limit=cleaned.rate_limit,
                        created_by=admin.id,
                        created_at=moment,
                    )
                )
                .on_conflict(target=ApiToken.prefix, action="DO NOTHING")
                .returning(ApiToken.id)
            )
            if rows:
                break
        token_id = rows[0]["id"]
        await audit(
            actor_id=admin.id,
            action="api_token.create",
            target_type="api_token",
            target_id=token_id,
            summary=f"Created API token “{cleaned.name}” ({', '.join(cleaned.scopes)})",
            after={**asdict(cleaned), "prefix": prefix},
            at=moment,
        )
    return token_id, token


async def revoke_token(admin: CurrentUser, token_id: int, *, at: datetime | None = None) -> str:
    """Revoke a token (admins only): it stops working at once. Returns its name."""
    moment = at or now()
    if not admin.is_admin:
        raise RuleViolation("Only admins can revoke API tokens.", status_code=403)
    if not valid_id(token_id):
        raise RuleViolation("There is no such API token.", status_code=404)
    async with db.transaction():
        rows = await ApiToken.raw(_LOCK_ROW_SQL, token_id)
        if not rows:
            raise RuleViolation("There is no such API token.", status_code=404)
        if rows[0]["revoked_at"] is not None:
            raise RuleViolation(f"The token “{rows[0]['name']}” was already revoked.", status_code=409)
        await ApiToken.update({ApiToken.revoked_at: moment, ApiToken.revoked_by: admin.id}).where(
            ApiToken.id == token_id
        )
        await audit(
            actor_id=admin.id,
            action="api_token.revoke",
            target_type="api_token",
            target_id=token_id,
            summary=f"Revoked API token “{rows[0]['name']}”",
            before={"revoked": False},
            after={"revoked": True},
            at=moment,
        )
    name: str = rows[0]["name"]
    return name


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as the admin's list shows it (never the hash)."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    rate_limit: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_by_name: str | None
    revoked_by_name: str | None


async def list_tokens() -> list[TokenRow]:
    """Every token, newest first, with who created and revoked it."""
    rows = await (
        ApiToken.select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.prefix,
            ApiToken.scopes,
            ApiToken.rate_limit,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
            ApiToken.created_by.name.as_alias("created_by_name"),
            ApiToken.revoked_by.name.as_alias("revoked_by_name"),
        )
        .order_by(ApiToken.created_at, ascending=False)
        .order_by(ApiToken.id, ascending=False)
    )
    return [TokenRow(**row) for row in rows]


async def authenticate(token: str, *, at: datetime | None = None) -> Token | None:
    """The unrevoked token `token` is, or None; records when it was last used (at most once a minute)."""
    prefix = _split(token)
    if prefix is None:
        return None
    row = (
        await ApiToken.select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.token_hash,
            ApiToken.scopes,
            ApiToken.rate_limit,
            ApiToken.revoked_at,
            ApiToken.last_used_at,
        )
        .where(ApiToken.prefix == prefix)
        .first()
    )
    if row is None or not hmac.compare_digest(row["token_hash"], hash_token(token)) or row["revoked_at"] is not None:
        return None
    moment = at or now()
    if row["last_used_at"] is None or moment - row["last_used_at"] >= LAST_USED_GRANULARITY:
        await ApiToken.update({ApiToken.last_used_at: moment}).where(ApiToken.id == row["id"])
    return Token(id=row["id"], name=row["name"], scopes=frozenset(row["scopes"]), rate_limit=row["rate_limit"])


class RateLimit:
    """A fixed one-minute window per token, counted in Redis (so the limit holds across web processes)."""

    WINDOW = 60

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def retry_after(self, token: Token) -> int:
        """Count one request; 0 when allowed, else the seconds until the window ends."""
        window = int(time.time()) // self.WINDOW
        key = f"kudos:api-rate:{token.id}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.WINDOW * 2)
            count, _ = await pipe.execute()
        if count <= token.rate_limit:
            return 0
        return max(1, (window + 1) * self.WINDOW - int(time.time()))
