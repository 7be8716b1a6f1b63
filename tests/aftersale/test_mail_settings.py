"""The SMTP settings: parsed from the environment and TOML, refused when malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError, load_settings


def test_smtp_settings_from_env_and_toml(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "COSTREAM_SMTP_HOST": "mail.example.com",
            "COSTREAM_SMTP_PORT": "587",
            "COSTREAM_SMTP_USER": "shop",
            "COSTREAM_SMTP_PASSWORD": "s3cret",
            "COSTREAM_SMTP_FROM": "shop@example.com",
            "COSTREAM_SMTP_STARTTLS": "yes",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "mail.example.com",
        587,
        True,
    )
    assert (settings.smtp_user, settings.smtp_password) == ("shop", "s3cret")
    config = tmp_path / "costream.toml"
    config.write_text('smtp_host = "127.0.0.1"\nsmtp_starttls = false\n', encoding="utf-8")
    from_file = load_settings(env={}, config_file=config)
    assert (from_file.smtp_host, from_file.smtp_starttls, from_file.smtp_port) == (
        "127.0.0.1",
        False,
        25,
    )
    defaults = load_settings(env={})
    assert (defaults.smtp_host, defaults.smtp_from) == (None, "costream@localhost")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COSTREAM_SMTP_STARTTLS": "maybe"}, "smtp_starttls"),
        ({"COSTREAM_SMTP_PORT": "0"}, "smtp_port"),
        ({"COSTREAM_SMTP_PORT": "70000"}, "smtp_port"),
        ({"COSTREAM_SMTP_FROM": "shop"}, "smtp_from"),
        ({"COSTREAM_SMTP_FROM": "a@b.com\r\nBcc: x@y.com"}, "smtp_from"),
    ],
)
def test_bad_smtp_settings_are_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)
