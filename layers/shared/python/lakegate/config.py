"""Settings read once from the environment that `template.yaml` sets; a missing name fails loudly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from lakegate.schema import NAME_RE


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from e


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as e:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from e


def _name(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "") or default
    if not NAME_RE.fullmatch(value):
        raise ConfigError(f"environment variable {name} must be a Data Source name, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the ingest function needs to know about its deployment."""

    tokens_table: str
    datasources_table: str
    rate_limits_table: str
    refs_table: str
    delivery_stream: str
    cluster_id: str
    token_cache_ttl_seconds: float = 30.0
    # Lambda's synchronous payload is 6 MB for the whole event; base64 costs 4/3, so the
    # compressed body must stay under ~4.4 MB. 4 MiB leaves room for headers.
    max_compressed_bytes: int = 4 * 1024 * 1024
    max_decompressed_bytes: int = 10 * 1024 * 1024
    max_line_bytes: int = 1_000_000
    max_columns: int = 500
    max_json_depth: int = 32
    # Time the request may spend retrying Firehose before answering 503.
    send_budget_seconds: float = 8.0
    cors_allow_origin: str = "*"
    datasource_rate_limit: int = 100
    workspace_rate_limit: int = 1000
    # The data source Vayu's `POST /events` lands in (lakegate.ingest.vayu.datasource is its schema).
    vayu_datasource: str = "events"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            tokens_table=_required(e, "TOKENS_TABLE"),
            datasources_table=_required(e, "DATASOURCES_TABLE"),
            rate_limits_table=_required(e, "RATE_LIMITS_TABLE"),
            refs_table=_required(e, "REFS_TABLE"),
            delivery_stream=_required(e, "DELIVERY_STREAM"),
            cluster_id=_required(e, "CLUSTER_ID"),
            token_cache_ttl_seconds=_float(e, "TOKEN_CACHE_TTL_SECONDS", 30.0),
            max_compressed_bytes=_int(e, "MAX_COMPRESSED_BYTES", 4 * 1024 * 1024),
            max_decompressed_bytes=_int(e, "MAX_DECOMPRESSED_BYTES", 10 * 1024 * 1024),
            max_line_bytes=_int(e, "MAX_LINE_BYTES", 1_000_000),
            max_columns=_int(e, "MAX_COLUMNS", 500),
            max_json_depth=_int(e, "MAX_JSON_DEPTH", 32),
            send_budget_seconds=_float(e, "SEND_BUDGET_SECONDS", 8.0),
            cors_allow_origin=e.get("CORS_ALLOW_ORIGIN", "") or "*",
            datasource_rate_limit=_int(e, "DATASOURCE_RATE_LIMIT", 100),
            workspace_rate_limit=_int(e, "WORKSPACE_RATE_LIMIT", 1000),
            vayu_datasource=_name(e, "VAYU_DATASOURCE", "events"),
        )
