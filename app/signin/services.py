"""The password sign-in policy: the throttle's verdict first, then the password, then the throttle's counters.
No HTTP here: the controller starts the session with the person this returns."""

from __future__ import annotations

import math

from app.audit.services import record as audit
from app.people.passwords import hash_password, needs_rehash, verify_password
from app.people.services import CurrentUser, load_current_user, normalise_email
from app.people.tables import Employee
from app.rules import RuleViolation
from app.settings import get_settings
from app.signin.invitations import request_reset
from app.signin.throttle import LoginThrottle
from app.words import plural

GENERIC_LOGIN_ERROR = "That email and password do not match an active account."
RESET_ON_ITS_WAY = (
    "If an active account uses {email}, a link to set a new password is on its way to that address. "
    "It works once, for an hour."
)
ONLY_COMPANY_SIGN_IN = "Password sign-in is turned off here: use your company sign-in."
EMAIL_MAX = 254
PASSWORD_MAX = 1024


class SignInRefused(RuleViolation):
    """A refused sign-in: the message for the form, its status, and (throttled) the seconds to wait."""

    def __init__(self, message: str, *, status_code: int = 400, retry_after: int = 0) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


def clean_email(email: str) -> str:
    """An email as typed into the sign-in form, as it is looked up and counted."""
    return normalise_email(email)[:EMAIL_MAX]


async def authenticate(email: str, password: str) -> CurrentUser | None:
    """The active person with this email and password, or None (same work either way)."""
    row = (
        await Employee.select(Employee.id, Employee.password_hash, Employee.active)
        .where(Employee.email == normalise_email(email))
        .first()
    )
    stored: str | None = row["password_hash"] if row else None
    if not verify_password(stored, password) or row is None or not row["active"]:
        return None
    if stored and needs_rehash(stored):
        await Employee.update({Employee.password_hash: hash_password(password)}).where(Employee.id == row["id"])
    return await load_current_user(row["id"])


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


async def sign_in(throttle: LoginThrottle, email: str, password: str, address: str) -> CurrentUser:
    """The person signing in with this email and password from `address`; refused with one generic message for
    every wrong email or password, and with a wait once the throttle's limits are reached. With password sign-in
    turned off (KUDOS_PASSWORD_LOGIN=false) only the break-glass admin's email is let through to the password."""
    email, password = clean_email(email), password[:PASSWORD_MAX]
    if wait := await throttle.retry_after(email, address):
        message = f"Too many failed sign-in attempts. Try again in {plural(_minutes(wait), 'minute')}."
        raise SignInRefused(message, status_code=429, retry_after=wait)
    if not email or not password:
        raise SignInRefused("Enter your email and password.")
    settings = get_settings()
    if not settings.password_login and email != settings.break_glass_admin:
        raise SignInRefused(ONLY_COMPANY_SIGN_IN, status_code=403)
    user = await authenticate(email, password)
    if user is None:
        await throttle.record(email, address)
        raise SignInRefused(GENERIC_LOGIN_ERROR)
    if not settings.password_login:
        if not user.is_admin:  # the break-glass email must belong to an admin
            raise SignInRefused(ONLY_COMPANY_SIGN_IN, status_code=403)
        await audit(
            actor_id=user.id,
            action="signin.break_glass",
            target_type="employee",
            target_id=user.id,
            summary="Signed in with a password while password sign-in is off (break-glass admin)",
        )
    await throttle.reset(email, address)
    return user


async def ask_for_reset(throttle: LoginThrottle, email: str, address: str) -> str:
    """A reset link for `email`, asked for from `address` (throttled: each is a mail); the answer is the same
    whether or not anyone has that email. With password sign-in turned off, only the break-glass admin gets one."""
    email = clean_email(email)
    if "@" not in email:
        raise SignInRefused("Enter the email address you sign in with.")
    if wait := await throttle.retry_after(email, address):
        message = f"Too many reset links asked for. Try again in {plural(_minutes(wait), 'minute')}."
        raise SignInRefused(message, status_code=429, retry_after=wait)
    await throttle.record(email, address)
    settings = get_settings()
    if settings.password_login or email == settings.break_glass_admin:  # no one else signs in with a password
        await request_reset(email)
    return RESET_ON_ITS_WAY.format(email=email)
