"""Headers on every response: security headers, including a Content-Security-Policy without inline scripts, and
`Vary: HX-Request` (a page and its HTMX fragment share a URL, so caches must keep them apart)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.datastructures import CacheControlHeader, MutableScopeHeaders

if TYPE_CHECKING:
    from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


# For a route whose answer shows a secret (a new API token or webhook secret, a password link): no browser or proxy
# keeps a copy, so the back button or a shared machine's cache cannot show it again.
NO_STORE = CacheControlHeader(no_store=True)


class ResponseHeaders:
    """An app-level `before_send` hook, so every response carries the headers — also the 404 and 405 that routing
    answers before any middleware runs. A header a handler set itself (the mail preview's policy) is kept; `Vary`
    gets `HX-Request` added to whatever the handler set."""

    def __init__(self, *, hsts: bool) -> None:
        self.headers = {
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
            "cross-origin-opener-policy": "same-origin",
        }
        if hsts:
            self.headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            headers = MutableScopeHeaders.from_message(message)
            for name, value in self.headers.items():
                if name not in headers:
                    headers[name] = value
            vary = headers.get("vary")
            if not vary:
                headers["vary"] = "HX-Request"
            elif "hx-request" not in vary.lower():
                headers["vary"] = f"{vary}, HX-Request"
