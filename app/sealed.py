"""Secrets an admin pastes into Kudos (Slack's signing secret and bot token, the Teams security token and channel
URLs) sealed at rest: encrypted with a key derived from KUDOS_SECRET_KEY (Fernet: AES-128-CBC with an HMAC), so a
database dump or backup alone does not give them away.

A value stored before sealing existed (no prefix) is read as it is and sealed the next time it is saved. A value
sealed under another secret key cannot be read: it is treated as not set, and the admin page asks for it again.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken

from app.settings import get_settings

log = logging.getLogger("kudos.sealed")

PREFIX = "sealed:v1:"
_PURPOSE = b"kudos: secrets pasted by admins\x00"  # a key of its own, not the session signing key itself


def _box() -> Fernet:
    digest = hashlib.sha256(_PURPOSE + get_settings().secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str) -> str:
    """`value` encrypted for storing ("" stays "": nothing is set)."""
    return PREFIX + _box().encrypt(value.encode()).decode() if value else ""


def unseal(stored: str) -> str:
    """The value `seal` stored ("" when it was sealed under another secret key: it must be pasted again)."""
    if not stored.startswith(PREFIX):
        return stored  # stored in clear before sealing existed
    try:
        return _box().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        log.warning("a stored secret was sealed under another KUDOS_SECRET_KEY; an admin must paste it again")
        return ""
