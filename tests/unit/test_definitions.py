"""Tinybird data-source definitions (`POST /v0/datasources` parameters) into registry schemas."""

from __future__ import annotations

import pytest

from lakegate.definitions import definition, parse_schema
from lakegate.errors import InvalidRequest
from lakegate.schema import Column

SCHEMA = """
    `timestamp` DateTime64(3) `json:$.timestamp`,
    `session_id` String `json:$.session.id`,
    `action` LowCardinality(String) `json:$.action` DEFAULT 'view',
    `version` Nullable(UInt8) `json:$.version`,
    `tags` Array(String) `json:$.tags[:]`,
    `at` DateTime64(3, 'UTC') `json:$.at`,
    plain Int32
"""


def test_a_tinybird_schema_becomes_registry_columns() -> None:
    assert parse_schema(SCHEMA) == (
        Column("timestamp", "DateTime64(3)", "$.timestamp"),
        Column("session_id", "String", "$.session.id"),
        Column("action", "String", "$.action", "'view'"),
        Column("version", "Nullable(UInt8)", "$.version"),
        Column("tags", "Array(String)", "$.tags[:]"),
        Column("at", "DateTime64(3)", "$.at"),
        Column("plain", "Int32", "$.plain"),  # no json: path reads the column's own name
    )


def test_a_definition_carries_the_engine_settings() -> None:
    ds = definition(
        "events", "`a` Date `json:$.a`, `b` String", "a, b", "toYYYYMM(a)", "a + toIntervalDay(30)"
    )
    assert (ds.name, ds.version, ds.sorting_key) == ("events", 1, ("a", "b"))
    assert (ds.partition_key, ds.ttl) == ("toYYYYMM(a)", "a + toIntervalDay(30)")
    assert [c.jsonpath for c in ds.columns] == ["$.a", "$.b"]


def test_an_array_without_a_path_reads_every_item() -> None:
    assert parse_schema("`tags` Array(Int64)")[0].jsonpath == "$.tags[:]"


@pytest.mark.parametrize(
    ("schema", "error"),
    [
        ("", "The schema defines no columns"),
        ("`a` Decimal(10, 2) `json:$.a`", "Unsupported type 'Decimal(10, 2)' on column 'a'"),
        ("`a` String `json:a`", "Invalid jsonpath 'a'"),
        ("`a b` String", "Invalid column name 'a b'"),
        ("`a` String, `a` Int8", "Duplicated column names: a"),
        ("`a`", "Invalid column definition '`a`'"),
    ],
)
def test_bad_schemas_are_400s_that_say_why(schema: str, error: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        parse_schema(schema)
    assert e.value.message.startswith(error)


def test_the_name_follows_tinybirds_rule() -> None:
    with pytest.raises(InvalidRequest, match="Invalid Data Source name"):
        definition("bad-name", "`a` String")
