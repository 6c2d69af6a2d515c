"""Settings read once from the environment (and an optional `.env` file) into a frozen object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv


class SettingsError(RuntimeError):
    """The environment describes a configuration Kudos refuses to run with."""


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """Company sign-in with OpenID Connect: the issuer, Kudos's client there, and which claims it reads."""

    issuer: str
    client_id: str
    client_secret: str
    name: str  # shown as "Sign in with <name>"
    scopes: str = "openid email profile"
    department_claim: str = "department"  # a claim naming the person's department (just-in-time creation)
    title_claim: str = ""  # a claim holding the person's job title, if the issuer sends one
    create_people: bool = False  # an unknown verified email becomes a new person (just-in-time creation)


@dataclass(frozen=True, slots=True)
class Settings:
    env: str
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    secret_key: str
    base_url: str
    timezone: str
    mail_backend: str
    mail_from: str
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    smtp_tls: bool
    org_name: str
    digest_time: time = time(8, 0)  # when monthly digests start on the 1st, organisation time
    digest_lease_seconds: int = 300  # a digest claimed this long ago by a worker that vanished is sent again
    notice_daily_time: time = time(17, 0)  # when the daily summary of email notices goes out, organisation time
    webhook_allow_private: bool = False  # webhooks may go to loopback/private/link-local addresses (a LAN chat server)
    oidc: OidcSettings | None = None  # company sign-in, when an issuer is set
    password_login: bool = True  # False: only the break-glass admin may sign in with a password
    break_glass_admin: str | None = None  # the admin email that may use the password form when password_login is off

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _clock(value: str, name: str) -> time:
    """A time of day written HH:MM (24-hour clock)."""
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise SettingsError(f"{name} must be a time of day like 08:00, not {value!r}") from exc


def _development_secret(data_dir: Path) -> str:
    """A secret kept in the data directory so sessions survive restarts in development."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _oidc(environ: dict[str, str], production: bool) -> OidcSettings | None:
    issuer = (environ.get("KUDOS_OIDC_ISSUER") or "").strip().rstrip("/")
    client_id = (environ.get("KUDOS_OIDC_CLIENT_ID") or "").strip()
    client_secret = environ.get("KUDOS_OIDC_CLIENT_SECRET") or ""
    if not (issuer or client_id or client_secret):
        return None
    missing = [
        name
        for name, value in (
            ("KUDOS_OIDC_ISSUER", issuer),
            ("KUDOS_OIDC_CLIENT_ID", client_id),
            ("KUDOS_OIDC_CLIENT_SECRET", client_secret),
        )
        if not value
    ]
    if missing:
        raise SettingsError(f"company sign-in (OpenID Connect) needs {', '.join(missing)} to be set as well")
    scheme = urlsplit(issuer).scheme
    if scheme not in {"http", "https"} or (production and scheme != "https"):
        raise SettingsError(f"KUDOS_OIDC_ISSUER must be an https:// address, not {issuer!r}")
    scopes = " ".join((environ.get("KUDOS_OIDC_SCOPES") or "openid email profile").split())
    if "openid" not in scopes.split():
        raise SettingsError("KUDOS_OIDC_SCOPES must include openid")
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        name=(environ.get("KUDOS_OIDC_NAME") or "").strip() or urlsplit(issuer).hostname or issuer,
        scopes=scopes,
        department_claim=(environ.get("KUDOS_OIDC_DEPARTMENT_CLAIM") or "department").strip(),
        title_claim=(environ.get("KUDOS_OIDC_TITLE_CLAIM") or "").strip(),
        create_people=_flag(environ.get("KUDOS_OIDC_CREATE_PEOPLE")),
    )


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    if environ is None:
        load_dotenv(override=False)
        environ = dict(os.environ)
    env = environ.get("KUDOS_ENV", "development").strip().lower()
    if env not in {"development", "production"}:
        raise SettingsError(f"KUDOS_ENV must be 'development' or 'production', not {env!r}")
    data_dir = Path(environ.get("KUDOS_DATA_DIR", "./var")).expanduser().resolve()
    database_url = environ.get("DATABASE_URL") or None
    redis_url = environ.get("REDIS_URL") or None
    secret_key = environ.get("KUDOS_SECRET_KEY") or ""
    base_url = environ.get("KUDOS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    if env == "production":
        missing = [
            name
            for name, value in (
                ("KUDOS_SECRET_KEY", secret_key),
                ("DATABASE_URL", database_url),
                ("REDIS_URL", redis_url),
            )
            if not value
        ]
        if missing:
            raise SettingsError(f"production mode needs {', '.join(missing)} to be set")
        if len(secret_key) < 32:
            raise SettingsError("KUDOS_SECRET_KEY must be at least 32 characters in production")
        if not base_url.startswith("https://"):
            raise SettingsError("KUDOS_BASE_URL must be an https:// address in production (secure cookies)")
    elif not secret_key:
        secret_key = _development_secret(data_dir)
    timezone = environ.get("KUDOS_TIMEZONE", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"KUDOS_TIMEZONE {timezone!r} is not a known time zone") from exc
    mail_backend = environ.get("KUDOS_MAIL_BACKEND", "outbox")
    if mail_backend not in {"outbox", "smtp"}:
        raise SettingsError(f"KUDOS_MAIL_BACKEND must be 'outbox' or 'smtp', not {mail_backend!r}")
    oidc = _oidc(environ, env == "production")
    password_login = _flag(environ.get("KUDOS_PASSWORD_LOGIN"), default=True)
    if not password_login and oidc is None:
        raise SettingsError("KUDOS_PASSWORD_LOGIN=false needs company sign-in: set KUDOS_OIDC_ISSUER and its client")
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        base_url=base_url,
        timezone=timezone,
        mail_backend=mail_backend,
        mail_from=environ.get("KUDOS_MAIL_FROM", "Kudos <kudos@localhost>"),
        smtp_host=environ.get("KUDOS_SMTP_HOST", "localhost"),
        smtp_port=int(environ.get("KUDOS_SMTP_PORT", "25")),
        smtp_username=environ.get("KUDOS_SMTP_USERNAME") or None,
        smtp_password=environ.get("KUDOS_SMTP_PASSWORD") or None,
        smtp_starttls=_flag(environ.get("KUDOS_SMTP_STARTTLS")),
        smtp_tls=_flag(environ.get("KUDOS_SMTP_TLS")),
        org_name=environ.get("KUDOS_ORG_NAME", "Kudos"),
        digest_time=_clock(environ.get("KUDOS_DIGEST_TIME", "08:00"), "KUDOS_DIGEST_TIME"),
        digest_lease_seconds=int(environ.get("KUDOS_DIGEST_LEASE_SECONDS", "300")),
        notice_daily_time=_clock(environ.get("KUDOS_NOTICE_DAILY_TIME", "17:00"), "KUDOS_NOTICE_DAILY_TIME"),
        webhook_allow_private=_flag(environ.get("KUDOS_WEBHOOK_ALLOW_PRIVATE")),
        oidc=oidc,
        password_login=password_login,
        break_glass_admin=(environ.get("KUDOS_BREAK_GLASS_ADMIN") or "").strip().lower() or None,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
