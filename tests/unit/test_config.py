"""Settings from the environment: required names fail loudly, numbers are checked, defaults are explicit."""

from __future__ import annotations

import pytest

from lakegate.config import ConfigError, Settings

REQUIRED = {
    "TOKENS_TABLE": "lakegate-tokens",
    "DATASOURCES_TABLE": "lakegate-datasources",
    "RATE_LIMITS_TABLE": "lakegate-rate-limits",
    "REFS_TABLE": "lakegate-refs",
    "DELIVERY_STREAM": "lakegate-events",
    "CLUSTER_ID": "eu-west-1",
}


def test_required_only_gives_the_defaults() -> None:
    assert Settings.from_env(REQUIRED) == Settings(
        tokens_table="lakegate-tokens",
        datasources_table="lakegate-datasources",
        rate_limits_table="lakegate-rate-limits",
        refs_table="lakegate-refs",
        delivery_stream="lakegate-events",
        cluster_id="eu-west-1",
        token_cache_ttl_seconds=30.0,
        max_compressed_bytes=4_194_304,
        max_decompressed_bytes=10_485_760,
        max_line_bytes=1_000_000,
        max_columns=500,
        max_json_depth=32,
        send_budget_seconds=8.0,
        cors_allow_origin="*",
    )


def test_every_setting_is_read() -> None:
    env = REQUIRED | {
        "TOKEN_CACHE_TTL_SECONDS": "2.5",
        "MAX_COMPRESSED_BYTES": "1000",
        "MAX_DECOMPRESSED_BYTES": "2000",
        "MAX_LINE_BYTES": "300",
        "MAX_COLUMNS": "40",
        "MAX_JSON_DEPTH": "5",
        "SEND_BUDGET_SECONDS": "3",
        "CORS_ALLOW_ORIGIN": "https://app.example.com",
    }
    s = Settings.from_env(env)
    assert (
        s.token_cache_ttl_seconds,
        s.max_compressed_bytes,
        s.max_decompressed_bytes,
        s.max_line_bytes,
        s.max_columns,
        s.max_json_depth,
        s.send_budget_seconds,
        s.cors_allow_origin,
    ) == (2.5, 1000, 2000, 300, 40, 5, 3.0, "https://app.example.com")


@pytest.mark.parametrize("name", sorted(REQUIRED))
@pytest.mark.parametrize("absent", ["missing", "empty"])
def test_missing_required_setting_is_named(name: str, absent: str) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != name}
    if absent == "empty":
        env[name] = ""
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert str(info.value) == f"environment variable {name} is required"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("MAX_COLUMNS", "many", "environment variable MAX_COLUMNS must be an integer, got 'many'"),
        ("MAX_LINE_BYTES", "1.5", "environment variable MAX_LINE_BYTES must be an integer, got '1.5'"),
        (
            "MAX_COMPRESSED_BYTES",
            "4MB",
            "environment variable MAX_COMPRESSED_BYTES must be an integer, got '4MB'",
        ),
        (
            "SEND_BUDGET_SECONDS",
            "soon",
            "environment variable SEND_BUDGET_SECONDS must be a number, got 'soon'",
        ),
        (
            "TOKEN_CACHE_TTL_SECONDS",
            "30s",
            "environment variable TOKEN_CACHE_TTL_SECONDS must be a number, got '30s'",
        ),
    ],
)
def test_malformed_number_is_a_config_error(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(REQUIRED | {name: raw})
    assert str(info.value) == message


def test_empty_optional_settings_fall_back_to_defaults() -> None:
    s = Settings.from_env(REQUIRED | {"MAX_COLUMNS": "", "SEND_BUDGET_SECONDS": "", "CORS_ALLOW_ORIGIN": ""})
    assert (s.max_columns, s.send_budget_seconds, s.cors_allow_origin) == (500, 8.0, "*")


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAX_COLUMNS", "12")
    monkeypatch.delenv("SEND_BUDGET_SECONDS", raising=False)
    s = Settings.from_env()
    assert (s.tokens_table, s.max_columns, s.send_budget_seconds) == ("lakegate-tokens", 12, 8.0)


def test_missing_in_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DELIVERY_STREAM")
    with pytest.raises(ConfigError) as info:
        Settings.from_env()
    assert str(info.value) == "environment variable DELIVERY_STREAM is required"


def test_logging_metrics_and_front_door_settings_are_read() -> None:
    env = REQUIRED | {"LOG_SAMPLE_RATE": "0.5", "METRICS_FLUSH_SECONDS": "0", "FRONT_DOOR": "FunctionUrl"}
    s = Settings.from_env(env)
    assert (s.log_sample_rate, s.metrics_flush_seconds, s.front_door) == (0.5, 0.0, "FunctionUrl")


def test_an_unknown_front_door_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(REQUIRED | {"FRONT_DOOR": "Cloudfront"})
    assert "FRONT_DOOR must be one of HttpApi, FunctionUrl" in str(info.value)
