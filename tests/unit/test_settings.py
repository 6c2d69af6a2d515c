"""Settings from the environment; production refuses unsafe configurations."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings

PRODUCTION = {
    "KUDOS_ENV": "production",
    "KUDOS_SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql://kudos@db/kudos",
    "REDIS_URL": "redis://cache:6379/0",
    "KUDOS_BASE_URL": "https://kudos.example.com",
}


def test_development_generates_and_keeps_a_secret(tmp_path) -> None:
    first = load_settings({"KUDOS_DATA_DIR": str(tmp_path)})
    second = load_settings({"KUDOS_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.database_url is None and first.mail_backend == "outbox" and first.timezone == "UTC"


def test_production_accepts_a_complete_configuration(tmp_path) -> None:
    settings = load_settings({**PRODUCTION, "KUDOS_DATA_DIR": str(tmp_path)})
    assert settings.production and settings.base_url == "https://kudos.example.com"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("KUDOS_SECRET_KEY", "KUDOS_SECRET_KEY"),
        ("DATABASE_URL", "DATABASE_URL"),
        ("REDIS_URL", "REDIS_URL"),
    ],
)
def test_production_refuses_to_start_without(tmp_path, missing: str, message: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=message):
        load_settings({**environ, "KUDOS_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"KUDOS_SECRET_KEY": "short"}, "at least 32"),
        ({"KUDOS_BASE_URL": "http://kudos.example.com"}, "https"),
        ({"KUDOS_TIMEZONE": "Mars/Olympus"}, "time zone"),
        ({"KUDOS_MAIL_BACKEND": "pigeon"}, "KUDOS_MAIL_BACKEND"),
        ({"KUDOS_ENV": "staging"}, "KUDOS_ENV"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(tmp_path, override: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**PRODUCTION, "KUDOS_DATA_DIR": str(tmp_path), **override})


OIDC = {
    "KUDOS_OIDC_ISSUER": "https://login.example.com/",
    "KUDOS_OIDC_CLIENT_ID": "kudos",
    "KUDOS_OIDC_CLIENT_SECRET": "s3cret",
}


def test_company_sign_in_is_off_unless_an_issuer_is_set(tmp_path) -> None:
    settings = load_settings({"KUDOS_DATA_DIR": str(tmp_path)})
    assert settings.oidc is None and settings.password_login and settings.break_glass_admin is None


def test_company_sign_in_settings_and_their_defaults(tmp_path) -> None:
    settings = load_settings({**OIDC, "KUDOS_DATA_DIR": str(tmp_path), "KUDOS_BREAK_GLASS_ADMIN": " Root@Example.com "})
    assert settings.oidc is not None
    assert settings.oidc.issuer == "https://login.example.com" and settings.oidc.name == "login.example.com"
    assert settings.oidc.scopes == "openid email profile" and settings.oidc.department_claim == "department"
    assert settings.oidc.title_claim == "" and not settings.oidc.create_people
    assert settings.break_glass_admin == "root@example.com"
    named = load_settings(
        {
            **OIDC,
            "KUDOS_DATA_DIR": str(tmp_path),
            "KUDOS_OIDC_NAME": "Acme SSO",
            "KUDOS_OIDC_SCOPES": "openid  email groups",
            "KUDOS_OIDC_DEPARTMENT_CLAIM": "team",
            "KUDOS_OIDC_TITLE_CLAIM": "job_title",
            "KUDOS_OIDC_CREATE_PEOPLE": "true",
            "KUDOS_PASSWORD_LOGIN": "false",
        }
    )
    assert named.oidc is not None and named.oidc.name == "Acme SSO" and named.oidc.scopes == "openid email groups"
    assert named.oidc.department_claim == "team" and named.oidc.title_claim == "job_title"
    assert named.oidc.create_people and not named.password_login


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KUDOS_OIDC_ISSUER": "https://login.example.com"}, "KUDOS_OIDC_CLIENT_ID, KUDOS_OIDC_CLIENT_SECRET"),
        ({**OIDC, "KUDOS_OIDC_ISSUER": "login.example.com"}, "must be an https:// address"),
        ({**OIDC, "KUDOS_OIDC_SCOPES": "email profile"}, "must include openid"),
        ({"KUDOS_PASSWORD_LOGIN": "false"}, "KUDOS_PASSWORD_LOGIN=false needs company sign-in"),
    ],
)
def test_incomplete_company_sign_in_is_refused(tmp_path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**environ, "KUDOS_DATA_DIR": str(tmp_path)})


def test_production_needs_an_https_issuer(tmp_path) -> None:
    environ = {**PRODUCTION, **OIDC, "KUDOS_DATA_DIR": str(tmp_path), "KUDOS_OIDC_ISSUER": "http://127.0.0.1:9000"}
    with pytest.raises(SettingsError, match="must be an https:// address"):
        load_settings(environ)
