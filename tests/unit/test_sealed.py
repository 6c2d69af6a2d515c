"""Secrets pasted by admins are sealed at rest with a key from KUDOS_SECRET_KEY (app/sealed.py). No database."""

from __future__ import annotations

import pytest

from app.sealed import PREFIX, seal, unseal
from app.settings import get_settings


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch):
    def use(key: str) -> None:
        monkeypatch.setenv("KUDOS_SECRET_KEY", key)
        get_settings.cache_clear()

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_sealed_secret_reads_back_and_holds_no_clear_text(secret_key) -> None:
    secret_key("a" * 40)
    stored = seal("xoxb-1234-secret")
    assert stored.startswith(PREFIX) and "xoxb" not in stored and "secret" not in stored
    assert unseal(stored) == "xoxb-1234-secret"
    assert seal("xoxb-1234-secret") != stored  # a fresh nonce each time
    assert seal("") == "" and unseal("") == ""


def test_clear_text_from_before_sealing_reads_as_it_is(secret_key) -> None:
    secret_key("a" * 40)
    assert unseal("xoxb-stored-before") == "xoxb-stored-before"


def test_a_secret_sealed_under_another_key_reads_as_not_set(secret_key, caplog) -> None:
    secret_key("a" * 40)
    stored = seal("8f742231b10e8888abcd99yyyzzz85a5")
    secret_key("b" * 40)
    assert unseal(stored) == ""
    assert "must paste it again" in caplog.text
