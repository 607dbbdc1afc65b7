"""Settings read once from the environment that `template.yaml` sets; a missing name fails loudly. Each
default is written once, as a field's default here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from lakegate.errors import InvalidRequest
from lakegate.schema import NAME_RE, validate_new_name


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


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "") or default
    if value not in choices:
        raise ConfigError(f"environment variable {name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _name(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "") or default
    if not NAME_RE.fullmatch(value):
        raise ConfigError(f"environment variable {name} must be a Data Source name, got {value!r}")
    try:
        return validate_new_name(value)  # not `<x>_quarantine`, not shaped like an id
    except InvalidRequest as e:
        raise ConfigError(f"environment variable {name}: {e.message}") from e


def _defaults(cls: type[Any]) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may hold and spend: the ingest's, and an analysis' that judges a batch as it would."""

    max_line_bytes: int = 1_000_000
    max_columns: int = 500
    max_json_depth: int = 32
    # Time the request may spend retrying Firehose before answering 503.
    send_budget_seconds: float = 8.0


_LIMITS = Limits()


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
    max_line_bytes: int = _LIMITS.max_line_bytes
    max_columns: int = _LIMITS.max_columns
    max_json_depth: int = _LIMITS.max_json_depth
    send_budget_seconds: float = _LIMITS.send_budget_seconds
    cors_allow_origin: str = "*"
    datasource_rate_limit: int = 100
    workspace_rate_limit: int = 1000
    # The data source Vayu's `POST /events` lands in (lakegate.ingest.vayu.datasource is its schema).
    vayu_datasource: str = "events"
    # Where lakegate's README is published: errors link to its sections (lakegate.http.documentation). The
    # repository has no public address of its own, so by default the link names the file in it.
    documentation_url: str = "README.md"
    # The share of successful requests logged in full (failures always are), and how often the metrics
    # summed over invocations are printed (0: every invocation). README, "Logs and metrics".
    log_sample_rate: float = 0.01
    metrics_flush_seconds: float = 60.0
    # What serves the function: "HttpApi" (the function answers CORS) or "FunctionUrl" (the URL does).
    front_door: str = "HttpApi"

    @property
    def limits(self) -> Limits:
        return Limits(self.max_line_bytes, self.max_columns, self.max_json_depth, self.send_budget_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        d = _defaults(cls)
        return cls(
            tokens_table=_required(e, "TOKENS_TABLE"),
            datasources_table=_required(e, "DATASOURCES_TABLE"),
            rate_limits_table=_required(e, "RATE_LIMITS_TABLE"),
            refs_table=_required(e, "REFS_TABLE"),
            delivery_stream=_required(e, "DELIVERY_STREAM"),
            cluster_id=_required(e, "CLUSTER_ID"),
            token_cache_ttl_seconds=_float(e, "TOKEN_CACHE_TTL_SECONDS", d["token_cache_ttl_seconds"]),
            max_compressed_bytes=_int(e, "MAX_COMPRESSED_BYTES", d["max_compressed_bytes"]),
            max_decompressed_bytes=_int(e, "MAX_DECOMPRESSED_BYTES", d["max_decompressed_bytes"]),
            max_line_bytes=_int(e, "MAX_LINE_BYTES", d["max_line_bytes"]),
            max_columns=_int(e, "MAX_COLUMNS", d["max_columns"]),
            max_json_depth=_int(e, "MAX_JSON_DEPTH", d["max_json_depth"]),
            send_budget_seconds=_float(e, "SEND_BUDGET_SECONDS", d["send_budget_seconds"]),
            cors_allow_origin=e.get("CORS_ALLOW_ORIGIN", "") or d["cors_allow_origin"],
            datasource_rate_limit=_int(e, "DATASOURCE_RATE_LIMIT", d["datasource_rate_limit"]),
            workspace_rate_limit=_int(e, "WORKSPACE_RATE_LIMIT", d["workspace_rate_limit"]),
            vayu_datasource=_name(e, "VAYU_DATASOURCE", d["vayu_datasource"]),
            documentation_url=e.get("DOCUMENTATION_URL", "") or d["documentation_url"],
            log_sample_rate=_float(e, "LOG_SAMPLE_RATE", d["log_sample_rate"]),
            metrics_flush_seconds=_float(e, "METRICS_FLUSH_SECONDS", d["metrics_flush_seconds"]),
            front_door=_choice(e, "FRONT_DOOR", d["front_door"], ("HttpApi", "FunctionUrl")),
        )


@dataclass(frozen=True, slots=True)
class CompactorSettings:
    """Everything the compactor function needs to know about its deployment."""

    lake_bucket: str
    datasources_table: str
    refs_table: str
    glue_database: str
    # Ingestion dates are projected from here in Glue (YYYY-MM-DD, the deployment's first day).
    partition_projection_start: str
    # How long raw/ keeps an object (template.yaml's RawRetentionDays): a record claim must outlive every
    # object that may carry a copy of its record, replays included.
    raw_retention_days: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CompactorSettings:
        e = os.environ if env is None else env
        _required(e, "RAW_RETENTION_DAYS")
        return cls(
            lake_bucket=_required(e, "LAKE_BUCKET"),
            datasources_table=_required(e, "DATASOURCES_TABLE"),
            refs_table=_required(e, "REFS_TABLE"),
            glue_database=_required(e, "GLUE_DATABASE"),
            partition_projection_start=_required(e, "PARTITION_PROJECTION_START"),
            raw_retention_days=_int(e, "RAW_RETENTION_DAYS", 0),
        )
