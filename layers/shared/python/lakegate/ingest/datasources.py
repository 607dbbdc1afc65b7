"""The Data Sources API use case, as Tinybird has it: define a data source's schema before sending
rows (`POST /v0/datasources`), list and show them, and analyze a batch (`POST /v0/analyze`): the
schema inference would choose and the rows that would be quarantined, writing nothing. No AWS here.

Defining, listing and showing need `ADMIN` or `DATASOURCE:CREATE`; analyzing against an existing
data source needs what appending to it needs, as it reads that data source's schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import orjson

from lakegate.alter import altered
from lakegate.config import Limits
from lakegate.definitions import definition
from lakegate.errors import Conflict, Forbidden, InvalidRequest, NotFound
from lakegate.ingest.auth import Token, require_append
from lakegate.ingest.registry import Registry, resolve, storable
from lakegate.ingest.rows import check, compile_validator, parse
from lakegate.names import QUARANTINE_SUFFIX
from lakegate.retention import parse_ttl
from lakegate.schema import (
    MISSING,
    DataSource,
    getter,
    infer,
    new_id,
    parse_jsonpath,
    validate_name,
    validate_new_name,
)

# How many quarantined rows an analysis shows (it counts them all).
MAX_SHOWN_QUARANTINE = 100
_MAX_SHOWN_LINE = 1_000
# An alter that loses the version race to the compactor's evolution checks against the winner again.
_ALTER_TRIES = 3


def schema_text(ds: DataSource) -> str:
    """The Tinybird schema of a data source: what `POST /v0/datasources` takes back as `schema`."""
    return ", ".join(
        f"`{c.name}` {c.type} `json:{c.jsonpath}`"
        + (f" DEFAULT {c.default}" if c.default is not None else "")
        for c in ds.columns
    )


def describe(ds: DataSource) -> dict[str, Any]:
    """A data source as the API shows it, in Tinybird's terms, plus where lakegate lands its rows."""
    return {
        "id": ds.ident,
        "name": ds.name,
        "type": "ndjson",
        "version": ds.version,
        "schema": schema_text(ds),
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "jsonpath": c.jsonpath,
                "default_value": c.default,
                "nullable": c.parsed_type.nullable,
            }
            for c in ds.columns
        ],
        "engine": {
            "engine": "MergeTree",
            "engine_sorting_key": ", ".join(ds.sorting_key),
            "engine_partition_key": ds.partition_key,
            "engine_ttl": ds.ttl,
        },
        "dedup_key": ds.effective_dedup_key,
        "dedup_window_seconds": ds.dedup_window_seconds,
        "rate_limit": ds.rate_limit,
        "exactly_once": ds.exactly_once or bool(ds.effective_dedup_key),
        "schema_evolution": ds.schema_evolution,
        "quarantine": ds.name + QUARANTINE_SUFFIX,
    }


def _same_definition(a: DataSource, b: DataSource) -> bool:
    return replace(a, version=1, rate_limit=0, id="") == replace(b, version=1, rate_limit=0, id="")


def body_params(raw: bytes, content_type: str) -> dict[str, str]:
    """Parameters sent in the body: a form (`curl -d`, Tinybird's CLI) or a JSON object of strings."""
    if not raw.strip():
        return {}
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind == "application/json":
        try:
            sent = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise InvalidRequest(f"The body is not valid JSON: {e}") from e
        if not isinstance(sent, dict):
            raise InvalidRequest("The JSON body must be an object of parameters")
        try:
            return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in sent.items()}
        except orjson.JSONEncodeError as e:  # orjson reads 1,024 levels of JSON, writes 254
            raise InvalidRequest(
                "A parameter's JSON value nests too deeply: send parameters as strings"
            ) from e
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise InvalidRequest(
            f"Unsupported Content-Type '{kind[:100]}': send the parameters in the query string, "
            "as a form (application/x-www-form-urlencoded) or as JSON"
        )
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError as e:
        raise InvalidRequest("The form body is not UTF-8") from e


def _window(text: str) -> int:
    try:
        seconds = int(text or "0")
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise InvalidRequest(
            f"Invalid dedup_window_seconds '{text[:50]}': a whole number of seconds, 0 for ever"
        )
    return seconds


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value not in ("", "true", "false", "1", "0"):
        raise InvalidRequest(f"Invalid {name} '{text[:50]}': true or false")
    return value in ("true", "1")


def defined(params: Mapping[str, str]) -> DataSource:
    """The data source the parameters define, checked so that nothing stored can fail at landing."""
    mode = params.get("mode", "create") or "create"
    if mode != "create":
        raise InvalidRequest(
            f"mode '{mode[:50]}' is not supported here: define the Data Source with mode=create, "
            "then append rows with /v0/events"
        )
    schema = params.get("schema", "")
    if not schema.strip():
        raise InvalidRequest(
            "The 'schema' parameter is required: `column` Type `json:$.path`, ... "
            "(or send rows to /v0/events and let the schema be inferred)"
        )
    ds = definition(
        validate_new_name(params.get("name") or ""),
        schema,
        params.get("engine_sorting_key", ""),
        params.get("engine_partition_key", ""),
        params.get("engine_ttl", ""),
    )
    parse_ttl(ds.ttl, ds)
    dedup_key = params.get("dedup_key", "").strip()
    if dedup_key and parse_jsonpath(dedup_key).array:
        raise InvalidRequest(
            f"Invalid dedup_key '{dedup_key[:200]}': it must point at one value, not an array"
        )
    return replace(
        ds,
        dedup_key=dedup_key,
        dedup_window_seconds=_window(params.get("dedup_window_seconds", "")),
        exactly_once=_flag("exactly_once", params.get("exactly_once", "")),
        # A defined schema is kept as defined (Tinybird's jsonpaths do not read other fields): opt-in.
        schema_evolution=_flag("schema_evolution", params.get("schema_evolution", "")),
    )


def _quarantine_entry(line: bytes, column: str, error: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"line": line[:_MAX_SHOWN_LINE].decode("utf-8", "replace"), "column": column}
    return entry | {"error": error, "truncated": len(line) > _MAX_SHOWN_LINE}


@dataclass
class DataSources:
    """Define, list, show and analyze data sources of the token's workspace."""

    registry: Registry
    limits: Limits  # the ingest's: an analysis judges a batch as the Events API would

    @staticmethod
    def _can_define(token: Token) -> None:
        if not token.can_create():
            raise Forbidden(
                "The token lacks the DATASOURCE:CREATE scope (or ADMIN) needed to manage Data Sources"
            )

    def create(self, token: Token, params: Mapping[str, str]) -> tuple[DataSource, bool]:
        """Store the definition; (stored, created). The same definition again is not an error (a retry),
        another one under a taken name is: rows already landed with the stored schema."""
        self._can_define(token)
        ds = storable(replace(defined(params), id=new_id()))
        stored = self.registry.create(token.workspace_id, ds)
        if stored is ds:
            return stored, True
        # A definition stored before `schema_evolution` existed reads as evolving: sent again as it was then
        # (without the flag) it is the same one, and keeps evolving (the answer shows it).
        if _same_definition(
            stored, replace(ds, schema_evolution=ds.schema_evolution or stored.schema_evolution)
        ):
            return stored, False
        raise Conflict(
            f"The Data Source '{ds.name}' already exists with another schema: "
            f"GET /v0/datasources/{ds.name} shows it"
        )

    def list(self, token: Token) -> list[DataSource]:
        self._can_define(token)
        return self.registry.list(token.workspace_id)

    def show(self, token: Token, name: str) -> DataSource:
        self._can_define(token)
        ds = resolve(self.registry, token.workspace_id, validate_name(name))
        if ds is None:
            raise NotFound(f"Data Source '{name}' not found")
        return ds

    def alter(self, token: Token, name: str, params: Mapping[str, str]) -> DataSource:
        """Store the data source with the schema `params` give (lakegate.alter: append-only, types only
        widen) as its next version. A racing change (the compactor adding a column) is met by checking
        against it again; the same schema again is no change and answers the stored one."""
        self._can_define(token)
        for _ in range(_ALTER_TRIES):
            current = self.show(token, name)
            ds = storable(altered(current, params.get("schema", "")))
            if ds.columns == current.columns:
                return current
            stored = self.registry.evolve(token.workspace_id, ds)
            if stored == ds:
                return stored
        raise Conflict(
            f"The Data Source '{name}' kept changing while it was altered: GET /v0/datasources/{name} "
            "shows it, then alter it again"
        )

    def analyze(self, token: Token, name: str | None, body: bytes) -> dict[str, Any]:
        """What `/v0/events?name=<name>` would do with `body`, writing nothing: the schema of the existing
        data source or the one inference would create, the rows that fit, and the quarantined ones."""
        existing = None
        if name:
            existing = resolve(self.registry, token.workspace_id, validate_name(name))
        if existing is not None:
            require_append(token, existing.name)
        if existing is None and not token.can_create():
            raise Forbidden(
                "The token lacks the DATASOURCE:CREATE scope (or ADMIN) needed to analyze new rows"
            )
        parsed = parse(body, self.limits.max_line_bytes)
        if parsed.total == 0:
            raise InvalidRequest("The request body has no rows: send one JSON object per line (NDJSON)")
        ds = existing
        if ds is None:
            if not parsed.objects:
                raise InvalidRequest("No line of the body is a JSON object to infer a schema from")
            ds = infer(
                name or "analysis", parsed.objects, self.limits.max_columns, self.limits.max_json_depth
            )
        checked = check(parsed, compile_validator(ds))
        total = len(parsed.objects) or 1
        columns = []
        for c in ds.columns:
            get = getter(c.keys)
            present = sum(1 for row in parsed.objects if get(row) is not MISSING)
            columns.append(
                {
                    "name": c.name,
                    "recommended_type": c.type,
                    "path": c.jsonpath,
                    "present_pct": round(present / total, 4),
                }
            )
        return {
            "analysis": {"columns": columns, "schema": schema_text(ds)},
            "datasource": describe(ds) | {"exists": existing is not None},
            "rows": parsed.total,
            "successful_rows": len(checked.accepted),
            "quarantined_rows": len(checked.rejected),
            "quarantine": [
                _quarantine_entry(r.line, r.column, r.error) for r in checked.rejected[:MAX_SHOWN_QUARANTINE]
            ],
        }
