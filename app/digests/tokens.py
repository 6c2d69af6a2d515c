"""Signed one-click unsubscribe tokens: whose digest and which kind, HMAC-signed with the app's secret key.

A token names one person and one digest kind, so it can only ever turn off that person's digest of that kind;
changing either part breaks the signature. Tokens do not expire: an old digest's link keeps working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from app.digests.tables import DigestKind
from app.settings import get_settings

_PURPOSE = b"kudos.digest-unsubscribe.v1:"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    employee_id: int
    kind: DigestKind


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: bytes) -> bytes:
    return hmac.new(get_settings().secret_key.encode(), _PURPOSE + payload, hashlib.sha256).digest()[:18]


def make_token(employee_id: int, kind: DigestKind) -> str:
    payload = f"{employee_id}.{kind}".encode()
    return f"{_b64(payload)}.{_b64(_signature(payload))}"


def read_token(token: str) -> Unsubscribe | None:
    """The person and kind a genuine token names; None for anything tampered with, malformed or not canonical."""
    try:
        encoded, signature = token.split(".")
        payload = _unb64(encoded)
        if not hmac.compare_digest(_unb64(signature), _signature(payload)):
            return None
        employee, kind = payload.decode().split(".")
        found = Unsubscribe(int(employee), DigestKind(kind))
    except (ValueError, UnicodeDecodeError):
        return None
    # Only the one spelling make_token writes: base64 decoding forgives padding and stray bits, and a link that
    # works under many spellings is a link that can be rewritten (and cached, logged, counted) in many ways.
    return found if hmac.compare_digest(make_token(found.employee_id, found.kind), token) else None
