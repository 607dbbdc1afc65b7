"""Tinybird's Python SDK (`tinybird-python-sdk`, pinned in requirements-dev.txt), unmodified, against
`python -m lakegate_local`: only its `api_url` and token change.

Its sync `Datasource` buffers rows and POSTs them as NDJSON with no Content-Type (so API Gateway passes
the body base64), `wait=false`, a trailing newline; its logging handler sends a log record's fields,
`asctime` as a naive `isoformat()`; its async `AsyncAPI.post` sends `text/plain` (so the body arrives as
text). The SDK never reads the answer: a failure only shows as an exception from `raise_for_status`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from tb.a.api import AsyncAPI  # type: ignore[import-untyped]
from tb.datasource import Datasource  # type: ignore[import-untyped]
from tb.logger import TinybirdLoggingHandler  # type: ignore[import-untyped]

from tests.e2e.lake import landed
from tests.e2e.local_server import LocalServer

WHEN = datetime(2026, 12, 1, 3, 11, 10, 123456, tzinfo=UTC)


def _define(server: LocalServer, name: str, schema: str) -> None:
    body = json.dumps({"name": name, "schema": schema}).encode()
    request = urllib.request.Request(
        f"{server.api}/v0/datasources",
        data=body,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def test_the_datasource_buffers_and_sends_rows_that_land_as_sent(server: LocalServer) -> None:
    # Given a data source with the types Python's isoformat() and time.time() values go into
    name = f"py_sdk_{uuid.uuid4().hex[:8]}"
    _define(
        server,
        name,
        "`at` DateTime `json:$.at`, `at_us` DateTime64(6) `json:$.at_us`, `epoch` DateTime `json:$.epoch`, "
        "`user` String `json:$.user`, `n` Int64 `json:$.n`, `tags` Array(String) `json:$.tags[:]`",
    )

    # When the SDK's Datasource is fed dicts, a str line and a bytes line, and flushes on leaving `with`
    with Datasource(name, server.token, api_url=server.api) as ds:
        ds << {
            "at": WHEN.isoformat(),
            "at_us": WHEN.isoformat(),
            "epoch": 1764558670,
            "user": "ana",
            "n": 1,
            "tags": ["a"],
        }
        ds += {
            "at": WHEN.astimezone(timezone(timedelta(hours=2))).isoformat(),
            "at_us": WHEN.isoformat(timespec="milliseconds"),
            "epoch": 1764558670.9,
            "user": "b\u00f8b",
            "n": 2,
            "tags": [],
        }
        ds.append(
            json.dumps(
                {
                    "at": "2026-12-01 03:11:10",
                    "at_us": "2026-12-01T03:11:10Z",
                    "epoch": 0,
                    "user": "c",
                    "n": 3,
                    "tags": ["x", "y"],
                }
            )
        )
        ds.append(
            b'{"at": "2026-12-01T03:11:10Z", "at_us": "2026-12-01 03:11:10.123456", "epoch": 1, "user": "d", "n": 4, "tags": []}'
        )

    # Then every row lands with the instant it was sent: DateTime drops the fraction, DateTime64(6) keeps it
    rows = landed(server, name, 4, order_by="n")
    second = WHEN.replace(microsecond=0)
    assert [(r["n"], r["user"], r["tags"]) for r in rows] == [
        (1, "ana", ["a"]),
        (2, "b\u00f8b", []),
        (3, "c", ["x", "y"]),
        (4, "d", []),
    ]
    assert [r["at"] for r in rows] == [second] * 4
    assert [r["at_us"] for r in rows] == [WHEN, WHEN.replace(microsecond=123000), second, WHEN]
    assert [r["epoch"] for r in rows] == [
        datetime(2025, 12, 1, 3, 11, 10, tzinfo=UTC),
        datetime(2025, 12, 1, 3, 11, 10, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]


def test_the_logging_handler_creates_a_data_source_from_log_records(server: LocalServer) -> None:
    # Given the SDK's logging handler on a logger, writing to a data source that does not exist yet
    name = f"py_sdk_logs_{uuid.uuid4().hex[:8]}"
    log = logging.getLogger(f"lakegate.e2e.{name}")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = TinybirdLoggingHandler(server.token, server.api, app_name="e2e", ds_name=name)
    log.addHandler(handler)

    # When it logs a message with an argument and an extra field
    try:
        log.info("paid %s", "invoice-7", extra={"customer": "acme"})
    finally:
        log.removeHandler(handler)

    # Then the record landed in an inferred data source, its naive `asctime` read as UTC
    (row,) = landed(server, name, 1)
    assert (row["message"], row["levelname"], row["app_name"], row["name"]) == (
        "paid invoice-7",
        "INFO",
        "e2e",
        log.name,
    )
    assert row["args"] == ["invoice-7"]
    assert row["extra_customer"] == "acme"
    assert row["funcName"] == "test_the_logging_handler_creates_a_data_source_from_log_records"
    local = datetime.fromtimestamp(row["created"])
    assert row["asctime"] == local.replace(tzinfo=UTC)


def test_the_async_api_posts_text_that_lands(server: LocalServer) -> None:
    """`AsyncAPI.post` as the SDK's AsyncDatasource calls it (that class never sends in 0.3.7: its timer
    flush cancels its own request), `text/plain; charset=utf-8`, so API Gateway passes the body as text."""
    name = f"py_sdk_async_{uuid.uuid4().hex[:8]}"
    body = '{"city": "Lisbon", "n": 1}\n{"city": "S\u00e3o Paulo", "n": 2}\n'

    async def post() -> tuple[int, Any]:
        async with AsyncAPI(server.token, server.api) as api:
            answer = await api.post(f"/events?name={name}&format=ndjson&wait=false", data=body)
            return answer.status, await answer.json()

    assert asyncio.run(post()) == (202, {"successful_rows": 2, "quarantined_rows": 0})
    rows = landed(server, name, 2, order_by="n")
    assert [(r["city"], r["n"]) for r in rows] == [("Lisbon", 1), ("S\u00e3o Paulo", 2)]


def test_a_refused_request_raises_in_the_caller(server: LocalServer) -> None:
    with (
        pytest.raises(requests.HTTPError) as refused,
        Datasource("py_sdk_x", "not-a-token", api_url=server.api) as ds,
    ):
        ds << {"n": 1}

    answer = refused.value.response
    assert answer is not None
    assert (answer.status_code, answer.json()["error"]) == (403, "Invalid token")
