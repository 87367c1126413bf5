"""Settings: bad values are refused at start with the key named; the example file documents every key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from config.settings import ConfigError, Settings, load_settings
from web.cli import with_listen

EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - only fed to the URL logic, never bound
EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "frontdesk.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "frontdesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file_and_no_environment() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.database.is_sqlite and settings.bus.redis_url is None


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("FRONTDESK_SERVER__PORT", "abc", "server.port"),
        ("FRONTDESK_SERVER__PORT", "70000", "server.port"),
        ("FRONTDESK_SERVER__PUBLIC_BASE_URL", "frontdesk.example.org", "server.public_base_url"),
        ("FRONTDESK_DATABASE__URL", "mysql://db/frontdesk", "database.url"),
        ("FRONTDESK_DATABASE__SCHEMA", "Bad-Schema", "database.schema"),
        ("FRONTDESK_BUS__REDIS_URL", "http://redis", "bus.redis_url"),
        ("FRONTDESK_BUS__RETENTION", "5", "bus.retention"),
        ("FRONTDESK_SESSIONS__IDLE_TIMEOUT_MINUTES", "0", "sessions.idle_timeout_minutes"),
        ("FRONTDESK_WEBSOCKET__HEARTBEAT_SECONDS", "soon", "websocket.heartbeat_seconds"),
        ("FRONTDESK_SERVER__NO_SUCH_KEY", "1", "server.no_such_key"),
    ],
)
def test_a_bad_environment_value_names_its_key(name: str, value: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)) as caught:
        load_settings(None, {name: value})
    assert value in str(caught.value)


def test_an_unknown_section_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"FRONTDESK_SEVRER__PORT: unknown section 'sevrer'"):
        load_settings(None, {"FRONTDESK_SEVRER__PORT": "9000"})


def test_an_unknown_section_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sevrer"):
        load_settings(write(tmp_path, "[sevrer]\nport = 9000\n"), {})


def test_every_bad_key_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = "x"\n[login]\nwindow_minutes = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert "server.port" in str(caught.value) and "login.window_minutes" in str(caught.value)


def test_variables_without_prefix_or_section_are_ignored() -> None:
    settings = load_settings(None, {"SERVER__PORT": "abc", "FRONTDESK_PORT": "abc", "FRONTDESK_X": "1"})
    assert settings.server.port == 8080


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=rf"{re.escape(str(missing))} not found"):
        load_settings(missing, {})


def test_an_invalid_toml_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))} is not valid TOML"):
        load_settings(path, {})


def test_the_environment_overrides_the_file_key_by_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nhost = "10.1.2.3"\nport = 9000\n[bus]\nstream_key = "fd"\n')
    settings = load_settings(path, {"FRONTDESK_SERVER__PORT": "9001"})
    assert (settings.server.host, settings.server.port, settings.bus.stream_key) == ("10.1.2.3", 9001, "fd")


def test_the_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9002\n")
    assert load_settings(None, {"FRONTDESK_CONFIG": str(path)}).server.port == 9002


def test_list_variables_are_comma_separated() -> None:
    value = " https://a.example.org/, https://b.example.org ,, "
    settings = load_settings(None, {"FRONTDESK_SERVER__ALLOWED_ORIGINS": value})
    assert settings.server.allowed_origins == ("https://a.example.org/", "https://b.example.org")
    assert settings.server.origins() == {
        "http://127.0.0.1:8080",
        "https://a.example.org",
        "https://b.example.org",
    }
    proxies = load_settings(None, {"FRONTDESK_SERVER__TRUSTED_PROXIES": "10.0.0.0/8"})
    assert proxies.server.trusted_proxies == ("10.0.0.0/8",)


def test_schema_is_read_by_its_public_name(tmp_path: Path) -> None:
    assert load_settings(None, {"FRONTDESK_DATABASE__SCHEMA": "tenant_a"}).database.schema_name == "tenant_a"
    path = write(tmp_path, '[database]\nschema = "tenant_b"\n')
    assert load_settings(path, {}).database.schema_name == "tenant_b"


def test_settings_are_frozen() -> None:
    settings = load_settings(None, {})
    with pytest.raises(ValidationError):
        settings.server.port = 9000  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.database = settings.database  # type: ignore[misc]


def test_secure_cookies_follow_the_public_url_unless_set() -> None:
    assert not load_settings(None, {}).cookie_secure
    https = {"FRONTDESK_SERVER__PUBLIC_BASE_URL": "https://fd.example.org/"}
    assert load_settings(None, https).cookie_secure
    assert load_settings(None, https).server.public_base_url == "https://fd.example.org"
    assert not load_settings(None, {**https, "FRONTDESK_SESSIONS__COOKIE_SECURE": "false"}).cookie_secure


def test_listen_overrides_move_the_public_url_only_when_it_was_not_set(tmp_path: Path) -> None:
    moved = with_listen(load_settings(None, {}), None, 9000)
    assert (moved.server.host, moved.server.port) == ("127.0.0.1", 9000)
    assert moved.server.public_base_url == "http://127.0.0.1:9000"
    assert with_listen(moved, EVERY_ADDRESS, None).server.public_base_url == "http://127.0.0.1:9000"
    pinned = load_settings(write(tmp_path, '[server]\npublic_base_url = "https://fd.example.org"\n'), {})
    assert with_listen(pinned, EVERY_ADDRESS, 9000).server.public_base_url == "https://fd.example.org"


def test_the_example_file_is_valid_and_documents_every_key() -> None:
    settings = load_settings(EXAMPLE, {})
    assert settings.server.port == 8080
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text, f"[{section}] is missing from {EXAMPLE.name}"
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, sub in model.model_fields.items():
            key = sub.alias or name
            assert re.search(rf"^(# )?{key} = ", text, re.MULTILINE), f"{section}.{key} is not documented"
