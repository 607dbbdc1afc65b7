"""Tinybird's web analytics starter kit as the flock.js tests use it: its data source's schemas, defined
on the local server through the Data Sources API, and the second a `DateTime` column keeps of a timestamp."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from typing import Any

from tests.e2e.local_server import LocalServer

# tinybird/datasources/analytics_events.datasource of the web analytics starter kit, before and after
# multi-tenancy (2025): the five columns, then Nullable(String) session ids and two defaulted columns.
STARTER_KIT_2024 = {
    "schema": "`timestamp` DateTime `json:$.timestamp`, `session_id` String `json:$.session_id`, "
    "`action` LowCardinality(String) `json:$.action`, `version` LowCardinality(String) `json:$.version`, "
    "`payload` String `json:$.payload`",
    "engine_partition_key": "toYYYYMM(timestamp)",
    "engine_sorting_key": "timestamp",
    "engine_ttl": "timestamp + toIntervalDay(60)",
}
STARTER_KIT_2025 = {
    "schema": "`timestamp` DateTime `json:$.timestamp`, `session_id` Nullable(String) `json:$.session_id`, "
    "`action` LowCardinality(String) `json:$.action`, `version` LowCardinality(String) `json:$.version`, "
    "`payload` String `json:$.payload`, `tenant_id` String `json:$.tenant_id` DEFAULT '', "
    "`domain` String `json:$.domain` DEFAULT ''",
    "engine_partition_key": "toYYYYMM(timestamp)",
    "engine_sorting_key": "tenant_id, domain, timestamp",
}
# Date.prototype.toISOString(), flock's timestamps: UTC, milliseconds, a Z.
ISO_MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def post(server: LocalServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(f"{server.api}{path}", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, json.loads(answer.read())


def define(server: LocalServer, name: str, definition: dict[str, str]) -> None:
    """Create data source `name` with the admin token, as `tb push` would before any hit arrives."""
    body = json.dumps({"name": name, **definition}).encode()
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    assert post(server, "/v0/datasources", body, headers)[0] == 200


def second(iso: str) -> datetime:
    """What a `DateTime` column keeps of a `toISOString()` value: the UTC second."""
    return datetime.fromisoformat(iso).astimezone(UTC).replace(microsecond=0)
