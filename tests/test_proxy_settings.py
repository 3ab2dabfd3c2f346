"""Configuration: every problem listed at once, docs and --help name every setting, serve wiring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.errors import BadInput
from proxy.serve import main, uvicorn_config
from proxy.settings import Settings
from tests.support.servers import proxy_env


def test_every_problem_is_listed_at_once() -> None:
    env = {
        "SKILLPORT_PUBLIC_URL": "ftp://x",
        "SKILLPORT_SECRET_KEYS": "short",
        "SKILLPORT_SESSION_LIFETIME": "abc",
        "SKILLPORT_INDEX_EXPIRY": "maybe",
        "SKILLPORT_ORIGIN_HEADERS": "not json",
    }
    with pytest.raises(BadInput) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    for var in (
        "SKILLPORT_PUBLIC_URL",
        "SKILLPORT_SECRET_KEYS",
        "SKILLPORT_SIGNING_KEYS",
        "SKILLPORT_SESSION_LIFETIME",
        "SKILLPORT_INDEX_EXPIRY",
        "SKILLPORT_OIDC_CLIENT_ID",
        "SKILLPORT_ORIGIN_HEADERS",
    ):
        assert var in message, var
    assert "at least 32" in message


def test_good_environment_gives_settings_and_secrets_stay_hidden() -> None:
    env = proxy_env(
        "https://skills.corp.example",
        "https://accounts.google.com",
        "site",
        allowed_emails="Boss@Partner.example",
    )
    settings = Settings.from_env(env)
    assert settings.public_url == "https://skills.corp.example/"
    assert settings.redirect_uri == "https://skills.corp.example/auth/callback"
    assert settings.allowed_emails == ("boss@partner.example",)
    assert settings.require_hd and settings.is_https
    assert "client-secret-value" not in repr(settings) and "s" * 40 not in repr(settings)


def test_nobody_allowed_is_a_configuration_error() -> None:
    env = proxy_env("https://skills.corp.example", "https://accounts.google.com", "site")
    env["SKILLPORT_ALLOWED_DOMAINS"] = ""
    with pytest.raises(BadInput, match="ALLOWED_DOMAINS"):
        Settings.from_env(env)


def test_plain_http_public_url_only_on_loopback() -> None:
    env = proxy_env("http://skills.corp.example/", "https://accounts.google.com", "site")
    with pytest.raises(BadInput, match="https"):
        Settings.from_env(env)


def test_docs_name_every_setting(repo_root: Path) -> None:
    docs = (repo_root / "docs" / "configuration.md").read_text()
    for var, _, _ in Settings.field_docs():
        assert f"`{var}`" in docs, var


def test_serve_help_lists_every_setting(repo_root: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "proxy.serve", "--help"],
        capture_output=True,
        text=True,
        cwd=repo_root,
        check=True,
    ).stdout
    for var, _, _ in Settings.field_docs():
        assert var in out, var


def test_serve_refuses_to_start_with_bad_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("SKILLPORT_"):
            monkeypatch.delenv(key)
    assert main([]) == 2
    assert "SKILLPORT_PUBLIC_URL: is required" in capsys.readouterr().err


@pytest.mark.threat("T20")
def test_t20_serve_ignores_forwarded_headers_unless_proxies_are_trusted(tmp_path: Path) -> None:
    env = proxy_env("https://skills.corp.example", "https://accounts.google.com", str(tmp_path))
    config = uvicorn_config(Settings.from_env(env), host="127.0.0.1", port=0)
    assert config.proxy_headers is False
    env["SKILLPORT_TRUSTED_PROXIES"] = "10.0.0.5"
    config = uvicorn_config(Settings.from_env(env), host="127.0.0.1", port=0)
    assert config.proxy_headers is True and config.forwarded_allow_ips == ["10.0.0.5"]
