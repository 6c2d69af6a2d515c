"""The sign-in throttle: failed attempts (and reset requests) counted in Redis, so the limits hold across web
processes."""

from __future__ import annotations

from redis.asyncio import Redis


class LoginThrottle:
    """Counts failed sign-ins. Three counters, each over a window that starts at its first failure:

    - `per_pair` failures for one email from one client address lock that email from that address: someone
      guessing a password. Behind one company NAT or proxy address, only the person mistyping is affected.
    - `per_email` failures for one email from any addresses lock it everywhere: guessing spread over many addresses
      (high enough that a stranger cannot easily lock someone out).
    - `per_address` failures from one address, whatever the emails, lock that address: spraying one password over
      many accounts. It is a ceiling far above what a whole office mistypes in a window.

    The client address is what the ASGI server reports: behind a reverse proxy, start uvicorn with the proxy's
    address in `FORWARDED_ALLOW_IPS` so it is the real client's (see the README).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        per_pair: int = 5,
        per_email: int = 20,
        per_address: int = 300,
        window_seconds: int = 900,
        prefix: str = "kudos:login-fail",
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limits = (per_pair, per_email, per_address)
        self.window = window_seconds

    def _keys(self, email: str, address: str) -> list[tuple[str, int]]:
        names = (f"pair:{address}:{email}", f"email:{email}", f"addr:{address}")
        return [(f"{self.prefix}:{name}", limit) for name, limit in zip(names, self.limits, strict=True)]

    async def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when not blocked."""
        wait = 0
        for key, limit in self._keys(email, address):
            count = await self.redis.get(key)
            if count is not None and int(count) >= limit:
                wait = max(wait, await self.redis.ttl(key), 1)
        return wait

    async def record(self, email: str, address: str) -> None:
        """Count one attempt (a failed sign-in, a reset asked for) against the three limits."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(email, address):
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(key)
            await pipe.execute()

    async def reset(self, email: str, address: str) -> None:
        """A successful sign-in clears that email's counters (not the address's ceiling)."""
        await self.redis.delete(*[key for key, _ in self._keys(email, address)[:2]])


def reset_throttle(redis: Redis) -> LoginThrottle:
    """Reset links asked for on the sign-in page (each is a mail): a few an hour per email from one address, a few
    more from anywhere, and a ceiling per address."""
    return LoginThrottle(redis, per_pair=3, per_email=5, per_address=50, window_seconds=3600, prefix="kudos:reset")
