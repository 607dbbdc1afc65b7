"""Tinybird's Data Sources API through the real handler on moto: define, list, show, analyze; then rows
sent to the defined data source land with its declared types, partitions and sorting."""

from __future__ import annotations

import gzip
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pytest

from tests.integration.compactor_env import Compact, landed, raw_keys, rows_of
from tests.integration.conftest import Lake, body_of

SCHEMA = (
    "`timestamp` DateTime `json:$.timestamp`, `action` LowCardinality(String) `json:$.action`, "
    "`n` Int8 `json:$.n`, `tags` Array(String) `json:$.tags[:]`, `city` Nullable(String) `json:$.place.city`"
)
DEFINE = {
    "name": "page_views",
    "schema": SCHEMA,
    "engine_sorting_key": "action, timestamp",
    "engine_partition_key": "toYYYYMM(timestamp)",
    "engine_ttl": "timestamp + toIntervalDay(60)",
}
APPENDER = "appender-token"


def define(
    lake: Lake, params: dict[str, str], token: str | None = None, form: bool = False
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"path": "/v0/datasources"}
    if token is not None:
        kwargs["token"] = token
    if form:
        return lake.post(urlencode(params).encode(), query="", **kwargs)
    return lake.post(b"", query=urlencode(params, quote_via=quote), **kwargs)


def get(lake: Lake, path: str, token: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {} if token is None else {"token": token}
    return lake.post(b"", query="", path=path, method="GET", **kwargs)


def test_a_definition_in_the_query_string_is_stored_and_shown(lake: Lake) -> None:
    resp = define(lake, DEFINE)

    assert resp["statusCode"] == 200
    shown = body_of(resp)["datasource"]
    assert shown["name"] == "page_views"
    assert [(c["name"], c["type"], c["jsonpath"]) for c in shown["columns"]] == [
        ("timestamp", "DateTime", "$.timestamp"),
        ("action", "String", "$.action"),
        ("n", "Int8", "$.n"),
        ("tags", "Array(String)", "$.tags[:]"),
        ("city", "Nullable(String)", "$.place.city"),
    ]
    stored = lake.datasource("page_views")
    assert stored is not None
    assert (stored["sorting_key"], stored["partition_key"], stored["ttl"]) == (
        ["action", "timestamp"],
        "toYYYYMM(timestamp)",
        "timestamp + toIntervalDay(60)",
    )
    assert body_of(get(lake, "/v0/datasources/page_views")) == shown
    listed = body_of(get(lake, "/v0/datasources"))
    assert [d["name"] for d in listed["datasources"]] == ["page_views"]


def test_a_definition_as_a_form_body_and_its_retry(lake: Lake) -> None:
    first = define(lake, DEFINE, form=True)
    again = define(lake, DEFINE, form=True)

    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert body_of(first) == body_of(again)


def test_another_schema_under_a_taken_name_is_a_409(lake: Lake) -> None:
    assert define(lake, DEFINE)["statusCode"] == 200

    resp = define(lake, {"name": "page_views", "schema": "`x` String"})

    assert resp["statusCode"] == 409
    assert body_of(resp)["error"].startswith(
        "The Data Source 'page_views' already exists with another schema"
    )
    assert "documentation" in body_of(resp)
    assert lake.datasource("page_views")["columns"][0]["name"] == "timestamp"  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "x"}, "The 'schema' parameter is required"),
        ({"name": "x", "schema": "`a` Decimal(10, 2)"}, "on column 'a'"),
        (
            {"name": "x", "schema": "`a` String", "engine_ttl": "a + toIntervalDay(1)"},
            "not a Date or DateTime",
        ),
    ],
)
def test_a_bad_definition_is_a_400_and_stores_nothing(
    lake: Lake, params: dict[str, str], message: str
) -> None:
    resp = define(lake, params)

    assert resp["statusCode"] == 400
    assert message in body_of(resp)["error"]
    assert lake.datasource("x") is None


def test_managing_data_sources_needs_create_or_admin(lake: Lake) -> None:
    lake.add_token(APPENDER, ["DATASOURCE:APPEND"])
    assert define(lake, DEFINE)["statusCode"] == 200

    for resp in (
        define(lake, DEFINE | {"name": "other"}, token=APPENDER),
        get(lake, "/v0/datasources", token=APPENDER),
        get(lake, "/v0/datasources/page_views", token=APPENDER),
    ):
        assert resp["statusCode"] == 403
        assert "DATASOURCE:CREATE" in body_of(resp)["error"]
    assert get(lake, "/v0/datasources", token="nope")["statusCode"] == 403
    assert lake.datasource("other") is None


def test_showing_a_missing_data_source_is_a_404(lake: Lake) -> None:
    resp = get(lake, "/v0/datasources/missing")
    assert resp["statusCode"] == 404
    assert body_of(resp)["error"] == "Data Source 'missing' not found"


def test_rows_sent_to_a_defined_data_source_land_with_its_types_partitions_and_order(
    lake: Lake, compact: Compact
) -> None:
    # Given a defined data source, and rows for it: one that does not fit (n over Int8)
    assert define(lake, DEFINE)["statusCode"] == 200
    rows = [
        b'{"timestamp": "2026-11-03 10:00:00", "action": "view", "n": 1, "tags": ["a"], "place": {"city": "Lima"}}',
        b'{"timestamp": "2026-10-31 23:59:59", "action": "click", "n": 2, "tags": []}',
        b'{"timestamp": "2026-11-01 00:00:00", "action": "click", "n": 300, "tags": []}',
    ]

    # When they are sent to the Events API and compacted
    resp = lake.post(b"\n".join(rows), "name=page_views")
    assert body_of(resp) == {"successful_rows": 2, "quarantined_rows": 1}
    (key,) = raw_keys(lake)
    compact(key)

    # Then each lands in its month with the declared Arrow types; the misfit in quarantine
    tables = landed(lake)
    months = sorted(k.split("/")[3] for k in tables if k.startswith("datasources/ws1/page_views/"))
    assert months == ["month=202610", "month=202611"]
    table = next(t for k, t in tables.items() if "month=202611" in k)
    assert table.schema.field("n").type == pa.int8()
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert [(r["action"], r["city"]) for r in rows_of(tables, "page_views")] == [
        ("click", None),
        ("view", "Lima"),
    ]
    (q,) = rows_of(tables, "page_views_quarantine")
    assert q["c__error_column"] == ["n"]


def test_analyze_answers_what_the_events_api_would_do_and_writes_nothing(lake: Lake) -> None:
    body = gzip.compress(b'{"id": 1, "at": "2026-11-23 10:00:00"}\n{"id": "x"}\n[1]')

    resp = lake.post(body, "name=fresh", path="/v0/analyze", headers={"content-encoding": "gzip"})

    assert resp["statusCode"] == 200
    answer = body_of(resp)
    assert answer["analysis"]["schema"].startswith("`id` String `json:$.id`, `at` Nullable(DateTime)")
    assert (answer["rows"], answer["successful_rows"], answer["quarantined_rows"]) == (3, 2, 1)
    assert lake.datasource("fresh") is None
    assert raw_keys(lake) == []


def test_a_browser_can_define_data_sources_from_another_origin(lake: Lake) -> None:
    resp = lake.post(
        b"",
        query="",
        path="/v0/datasources",
        method="OPTIONS",
        token=None,
        headers={"origin": "https://app.example.com", "access-control-request-method": "POST"},
    )
    assert resp["statusCode"] == 204
    assert "POST" in resp["headers"]["Access-Control-Allow-Methods"]
