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
