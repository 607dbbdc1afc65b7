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


@pytest.mark.parametrize(
    ("schema", "error"),
    [
        ("`a` String, `A` Int8", "Duplicated column names: A, a (names are compared case-insensitively"),
        ("`insertion_date` DateTime", "The column name 'insertion_date' is reserved"),
        ("`c__line` String", "The column name 'c__line' is reserved"),
        ("`Ingestion_Date` Date", "The column name 'Ingestion_Date' is reserved"),
        ("`d` Date DEFAULT yesterday()", "Unsupported DEFAULT yesterday() on column 'd'"),
        ("`n` UInt8 DEFAULT -1", "Unsupported DEFAULT -1 on column 'n': the value does not fit UInt8"),
        (
            "`s` String DEFAULT 42",
            "Unsupported DEFAULT 42 on column 's': a String column's default is a quoted",
        ),
        ("`s` String DEFAULT now()", "Unsupported DEFAULT now() on column 's': now() is a default for Date"),
        ("`n` Int32 DEFAULT NULL", "Unsupported DEFAULT NULL on column 'n': NULL is a default for Nullable"),
        ("`d` Date DEFAULT '2021-02-30'", "Unsupported DEFAULT '2021-02-30' on column 'd'"),
        ("`t` Array(Int8) DEFAULT [1]", "Unsupported DEFAULT [1] on column 't'"),
        ("`t` DateTime('Mars/Olympus')", "Unknown time zone 'Mars/Olympus' on column 't'"),
        ("`t` Array(String) `json:$.t`", "The jsonpath of column 't' must end with [:] exactly when"),
        ("`t` String `json:$.t[:]`", "The jsonpath of column 't' must end with [:] exactly when"),
        ("`t` String `json:$.a[:].b`", "Invalid jsonpath '$.a[:].b'"),
    ],
)
def test_what_cannot_apply_is_refused_when_defined(schema: str, error: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        parse_schema(schema)
    assert e.value.message.startswith(error), e.value.message


@pytest.mark.parametrize(
    "schema",
    [
        "`d` Date DEFAULT now()",
        "`d` Date DEFAULT today()",
        "`t` DateTime64(3) DEFAULT now64()",
        "`t` DateTime64(6) DEFAULT now64(6)",
        "`t` DateTime DEFAULT '2020-01-01 00:00:00'",
        "`s` String DEFAULT 'it''s'",
        "`n` Int8 DEFAULT -128",
        "`f` Float32 DEFAULT 1.5e3",
        "`b` Bool DEFAULT true",
        "`t` Array(String) DEFAULT []",
        "`n` Nullable(Int8) DEFAULT NULL",
        "`t` DateTime('America/New_York')",
        "`key` String `json:$.['[:]']`",
    ],
)
def test_what_tinybird_users_write_is_accepted(schema: str) -> None:
    assert parse_schema(schema)


@pytest.mark.parametrize(
    ("sorting", "partition", "error"),
    [
        ("tags", "", "engine_sorting_key cannot hold Array columns: tags"),
        ("toDate(ts)", "", "engine_sorting_key names columns the schema does not have: toDate(ts)"),
        ("ts", "toDate(times)", "Unsupported engine_partition_key 'toDate(times)'"),
        ("ts", "toStartOfHour(ts)", "Unsupported engine_partition_key 'toStartOfHour(ts)'"),
        ("ts", "toYYYYMM(name)", "Unsupported engine_partition_key 'toYYYYMM(name)'"),
        ("ts", "(ts, name)", "Unsupported engine_partition_key '(ts, name)'"),
    ],
)
def test_engine_settings_the_compactor_cannot_apply_are_refused(
    sorting: str, partition: str, error: str
) -> None:
    schema = "`ts` DateTime64(9), `name` String, `tags` Array(String), `times` Array(DateTime)"
    with pytest.raises(InvalidRequest) as e:
        definition("events", schema, sorting, partition)
    assert e.value.message.startswith(error), e.value.message


@pytest.mark.parametrize("partition", ["", "tuple()", "ts", "toDate(ts)", "toYYYYMM(ts)", "toYear(day)"])
def test_partition_keys_lakegate_writes_folders_for(partition: str) -> None:
    ds = definition("events", "`ts` DateTime64(9), `day` Date32", "ts", partition)
    assert ds.partition_key == partition


@pytest.mark.parametrize("key", ["d", "toDate(d)", "toYYYYMM(d)", "toYear(d)"])
def test_a_partition_key_on_a_nullable_column_is_refused(key: str) -> None:
    with pytest.raises(InvalidRequest, match="uses the Nullable column 'd'"):
        definition("n", "`d` Nullable(DateTime) `json:$.d`", partition_key=key)
    assert definition("n", "`d` DateTime `json:$.d`", partition_key=key).partition_key == key
