"""Unit tests of the client settings: base URL, API key and numeric checks (no HTTP)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from authy_assets.client.settings import (
    MAX_ATTEMPTS_PER_RUN,
    MAX_CONCURRENCY,
    MAX_MONTHLY_QUOTA,
    MAX_RATE_LIMIT,
    AuthySettingsError,
    FetchSettings,
    check_base_url,
)

API_KEY = "SETTINGSKEY-0b7e1c9d4f2a-do-not-leak"


def make_settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {
        "base_url": "https://api.authy.com",
        "api_key": API_KEY,
        "state_dir": Path("/tmp/authy-state"),
        **overrides,
    }
    return FetchSettings(**values)


ACCEPTED_URLS = [
    "https://api.authy.com",
    "https://api.authy.com/",
    "https://api.authy.com:8443",
    "https://API.Authy.com",
    "http://127.0.0.1:8080",
    "http://127.0.0.1:8080/",
    "http://127.0.0.2",
    "http://[::1]:8080",
    "http://localhost:8080",
    "http://LOCALHOST",
    "HTTP://127.0.0.1",
]


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_base_url_accepted(url: str) -> None:
    check_base_url(url)

    assert make_settings(base_url=url).base_url == url


REJECTED_URLS = [
    ("http://api.authy.com", "plain http"),
    ("http://10.0.0.5:8080", "plain http"),
    ("http://0.0.0.0:8080", "plain http"),
    ("http://localhost.example.com", "plain http"),
    ("http://127.0.0.1.nip.io", "plain http"),
    ("ftp://api.authy.com", "is not an http(s) URL"),
    ("api.authy.com", "is not an http(s) URL"),
    ("https://", "is not an http(s) URL"),
    ("", "is not an http(s) URL"),
    ("https://api.authy.com/protected/json", "without a path or query"),
    ("https://api.authy.com/v1/", "without a path or query"),
    ("https://api.authy.com?debug=1", "without a path or query"),
    ("https://api.authy.com/?", "without a path or query"),
    ("https://api.authy.com#top", "without a path or query"),
    ("https://api.authy.com ", "contains a space"),
    (" https://api.authy.com", "contains a space"),
    ("https://api.authy.com\n", "contains a space, a control character"),
    ("https://api.authy.côm", "outside ASCII"),
    ("https://api.authy.com:99999", "is not a valid URL"),
    ("https://api.authy.com:abc", "is not a valid URL"),
    ("http://[::1", "is not a valid URL"),
    ("https://api.authy.com:0", "has port 0"),
]


@pytest.mark.parametrize(("url", "message"), REJECTED_URLS)
def test_base_url_rejected(url: str, message: str) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(base_url=url)

    assert "AUTHY_API_URL" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2secret@api.authy.com",
        "https://:hunter2secret@api.authy.com",
        "https://hunter2secret@api.authy.com",
        "https://@api.authy.com",
        "https://user:hunter2secret@api.authy.com/path ",
    ],
)
def test_base_url_credentials_rejected(url: str) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(base_url=url)

    assert "must not contain credentials" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


@pytest.mark.parametrize("api_key", ["", "   ", "\n"])
def test_empty_api_key_rejected(api_key: str) -> None:
    with pytest.raises(AuthySettingsError, match="AUTHY_API_KEY") as caught:
        make_settings(api_key=api_key)

    assert "empty" in str(caught.value)


UNSENDABLE_KEYS = [
    API_KEY + "\n",
    " " + API_KEY,
    API_KEY + " ",
    API_KEY + "\r\nX-Other: 1",
    API_KEY + "é",
    API_KEY + "\x00",
    '"' + API_KEY + '" x',
]


@pytest.mark.parametrize("api_key", UNSENDABLE_KEYS)
def test_unsendable_api_key_rejected(api_key: str) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(api_key=api_key)

    message = str(caught.value)
    assert "AUTHY_API_KEY" in message
    assert API_KEY not in message
    assert API_KEY not in repr(caught.value)


def test_repr_hides_api_key() -> None:
    settings = make_settings()

    assert API_KEY not in repr(settings)
    assert API_KEY not in str(settings)
    assert "api_key" not in repr(settings)
    assert "https://api.authy.com" in repr(settings)


POSITIVE_SECONDS = [
    "connect_timeout_seconds",
    "read_timeout_seconds",
    "rate_window_seconds",
    "backoff_base_seconds",
    "backoff_max_seconds",
    "progress_interval_seconds",
]
AT_LEAST_ONE = ["concurrency", "rate_limit", "monthly_quota", "max_attempts_per_run"]
NOT_NEGATIVE_SECONDS = ["rate_margin_seconds", "max_retry_after_seconds"]


@pytest.mark.parametrize("name", POSITIVE_SECONDS)
@pytest.mark.parametrize("value", [0, 0.0, -1.0, math.nan, math.inf, -math.inf, "5", None, True])
def test_positive_seconds_rejected(name: str, value: object) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(**{name: value})

    assert str(caught.value).startswith(f"{name} must be a positive number of seconds")


@pytest.mark.parametrize("name", POSITIVE_SECONDS)
def test_positive_seconds_accepted(name: str) -> None:
    assert getattr(make_settings(**{name: 0.001}), name) == 0.001
    assert getattr(make_settings(**{name: 3}), name) == 3


@pytest.mark.parametrize("name", AT_LEAST_ONE)
@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, "3", None, True, math.nan])
def test_whole_number_settings_rejected(name: str, value: object) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(**{name: value})

    assert str(caught.value).startswith(f"{name} must be a whole number of at least 1")


@pytest.mark.parametrize("name", AT_LEAST_ONE)
def test_whole_number_settings_accepted(name: str) -> None:
    assert getattr(make_settings(**{name: 1}), name) == 1


WHOLE_NUMBER_MAXIMUMS = {
    "concurrency": MAX_CONCURRENCY,
    "rate_limit": MAX_RATE_LIMIT,
    "monthly_quota": MAX_MONTHLY_QUOTA,
    "max_attempts_per_run": MAX_ATTEMPTS_PER_RUN,
}


def test_every_whole_number_setting_has_maximum() -> None:
    assert sorted(WHOLE_NUMBER_MAXIMUMS) == sorted(AT_LEAST_ONE)


@pytest.mark.parametrize(("name", "maximum"), WHOLE_NUMBER_MAXIMUMS.items())
def test_whole_number_maximum_accepted(name: str, maximum: int) -> None:
    assert getattr(make_settings(**{name: maximum}), name) == maximum


@pytest.mark.parametrize(("name", "maximum"), WHOLE_NUMBER_MAXIMUMS.items())
def test_whole_number_above_maximum_rejected(name: str, maximum: int) -> None:
    for value in [maximum + 1, 99999999999999999999]:
        with pytest.raises(AuthySettingsError) as caught:
            make_settings(**{name: value})

        message = str(caught.value)
        assert message.startswith(f"{name} must be a whole number from 1 to {maximum:,}")
        assert message.endswith(f"got {value}")


def test_rate_limit_maximum_covers_emulator_rates() -> None:
    # The CLI tests run the emulator and the client at 60,000 requests a minute.
    assert MAX_RATE_LIMIT >= 60_000


@pytest.mark.parametrize("name", [*POSITIVE_SECONDS, *NOT_NEGATIVE_SECONDS])
def test_seconds_beyond_float_range_rejected(name: str) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(**{name: 10**400})

    assert str(caught.value).startswith(f"{name} must be a")


@pytest.mark.parametrize("name", NOT_NEGATIVE_SECONDS)
@pytest.mark.parametrize("value", [-0.001, -5, math.nan, math.inf, "1", None, False])
def test_not_negative_seconds_rejected(name: str, value: object) -> None:
    with pytest.raises(AuthySettingsError) as caught:
        make_settings(**{name: value})

    assert str(caught.value).startswith(f"{name} must be a number of seconds that is not negative")


@pytest.mark.parametrize("name", NOT_NEGATIVE_SECONDS)
def test_not_negative_seconds_accepted(name: str) -> None:
    assert getattr(make_settings(**{name: 0}), name) == 0
    assert getattr(make_settings(**{name: 2.5}), name) == 2.5


def test_defaults_are_valid() -> None:
    settings = make_settings()

    assert settings.read_timeout_seconds == 30.0
    assert settings.monthly_quota == 3
    assert settings.max_attempts_per_run == 2
    assert settings.rate_limit == 1500


def test_state_paths_under_state_dir() -> None:
    settings = make_settings(state_dir=Path("/srv/authy"))

    assert settings.ledger_path == Path("/srv/authy/authy_ledger.sqlite3")
    assert settings.limiter_path == Path("/srv/authy/authy_rate_limiter.sqlite3")


def test_api_scope_follows_the_api_key(tmp_path):
    def scope(url: str, key: str) -> str:
        return FetchSettings(base_url=url, api_key=key, state_dir=tmp_path).api_scope

    assert scope("https://api.authy.com", "key-a") == scope("https://api.authy.com:443/", "key-a")
    assert scope("http://127.0.0.1:8080", "key-a") == scope("http://localhost:9090", "key-a")
    assert scope("https://api.authy.com", "key-a") != scope("https://api.authy.com", "key-b")
    assert "key-a" not in scope("https://api.authy.com", "key-a")
