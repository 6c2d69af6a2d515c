"""The app as the test processes run it, for the browser tests' server too (`tests.plugins.live_app:create_app`).

The one difference from production: argon2 at its lowest cost. A sign-in then verifies a hash in under a
millisecond instead of 0.1-0.5 s of CPU (64 MiB, 3 passes), and hundreds of tests sign in; the hashes the
factories store use the same cost, so nothing is rehashed either. The app's own parameters stay untouched in
app/people/passwords.py, and only processes started by the test suite call this.
"""

from __future__ import annotations

from typing import Any


def cheap_password_hashing() -> None:
    from argon2 import PasswordHasher

    from app.people import passwords

    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._DUMMY_HASH = passwords._hasher.hash("kudos-timing-equaliser")


def create_app() -> Any:
    """uvicorn's factory for the browser tests' server."""
    from app.main import create_app

    cheap_password_hashing()
    return create_app()
