"""Settings refuse unsafe secrets outside development and explain how to fix them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.settings import ConfigError, Environment, Settings, get_settings


def test_production_requires_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=r"Fernet\.generate_key"):
        get_settings()
    get_settings.cache_clear()


def test_weak_key_refused_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCRYPTION_KEYS", "password123")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="not a valid 32-byte Fernet key"):
        get_settings()
    get_settings.cache_clear()


def test_keys_are_split_and_first_encrypts(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", f" {first} ,{second}")
    settings = Settings(environment=Environment.PRODUCTION)
    assert settings.resolved_encryption_keys() == [first, second]
    assert first in settings.secret_values()


def test_development_key_is_generated_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path, _chdir_tmp
) -> None:
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    settings = Settings(environment=Environment.DEVELOPMENT)
    key = settings.resolved_encryption_keys()
    assert key == settings.resolved_encryption_keys()
    assert (tmp_path / "data" / "dev-encryption.key").stat().st_mode & 0o077 == 0


def test_payload_keys_default_to_the_encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    first, payload = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", first)
    monkeypatch.delenv("TEMPORAL_PAYLOAD_KEYS", raising=False)
    assert Settings(_env_file=None).resolved_payload_keys() == [first]
    monkeypatch.setenv("TEMPORAL_PAYLOAD_KEYS", f"{payload}, {first}")
    settings = Settings(_env_file=None)
    assert settings.resolved_payload_keys() == [payload, first]
    assert payload in settings.secret_values()


def test_weak_payload_key_and_operator_token_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_PAYLOAD_KEYS", "password123")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="TEMPORAL_PAYLOAD_KEYS entry 1 is not a valid"):
        get_settings()
    monkeypatch.delenv("TEMPORAL_PAYLOAD_KEYS")
    monkeypatch.setenv("OPERATOR_TOKEN", "short")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="OPERATOR_TOKEN must be at least 32 characters"):
        get_settings()
    get_settings.cache_clear()
    token = "t" * 32
    monkeypatch.setenv("OPERATOR_TOKEN", token)
    assert token in Settings(_env_file=None).secret_values()  # never logged


def test_defaults_point_at_real_services() -> None:
    settings = Settings(_env_file=None)
    assert settings.luma_api_url == "https://public-api.luma.com"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")


@pytest.fixture
def _chdir_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)


def test_env_example_documents_every_setting_and_loads() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    names = set(re.findall(r"^([A-Z_]+)=", example.read_text(), re.M))
    assert {name.upper() for name in Settings.model_fields} <= names
    settings = Settings(_env_file=example)
    assert settings == Settings(_env_file=None)  # the example only spells out the defaults
