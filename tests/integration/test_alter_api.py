"""`POST /v0/datasources/<name>/alter` through the real handler on moto: widening changes are stored as the next
version, every other change is a 400 naming the column and storing nothing; rows landed before and after an
alter read back together (Parquet files of both versions, old physical types and new)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pyarrow.dataset as pads
import pytest

from lakegate.lake.arrow_types import arrow_schema
from lakegate.lake.catalog import table_name
from lakegate.lake.layout import folder
from lakegate.schema import DataSource
from lakegate_local import query
from tests.integration.compactor_env import GLUE_DATABASE, Compact, landed, raw_keys
from tests.integration.conftest import REGION, Lake, body_of

BEFORE = (
    "`n` Int32 `json:$.n`, `u` UInt8 `json:$.u`, `f` Float32 `json:$.f`, `d` Date `json:$.d`, "
    "`ts` DateTime `json:$.ts`, `s` LowCardinality(String) `json:$.s`, `m` Int16 `json:$.m`"
)
AFTER = (
    "`n` Int64 `json:$.n`, `u` UInt32 `json:$.u`, `f` Float64 `json:$.f`, `d` Date32 `json:$.d`, "
    "`ts` DateTime64(3) `json:$.ts`, `s` String `json:$.s`, `m` Nullable(Int16) `json:$.m`, "
    "`note` Nullable(String) `json:$.note`"
)
CREATOR = "creator-token"
APPENDER = "appender-token"


def define(lake: Lake, name: str = "metrics", schema: str = BEFORE) -> None:
    query = urlencode({"name": name, "schema": schema}, quote_via=quote)
    assert lake.post(b"", query=query, path="/v0/datasources")["statusCode"] == 200


def alter(lake: Lake, schema: str | None, name: str = "metrics", token: str | None = None) -> dict[str, Any]:
    params = {} if schema is None else {"schema": schema}
    kwargs: dict[str, Any] = {} if token is None else {"token": token}
    return lake.post(urlencode(params).encode(), query="", path=f"/v0/datasources/{name}/alter", **kwargs)


def test_widening_every_kind_of_column_is_stored_as_the_next_version(lake: Lake) -> None:
    define(lake)

    resp = alter(lake, AFTER)

    assert resp["statusCode"] == 200, body_of(resp)
    shown = body_of(resp)["datasource"]
    assert shown["version"] == 2
    assert [c["type"] for c in shown["columns"]] == [
        "Int64", "UInt32", "Float64", "Date32", "DateTime64(3)", "String", "Nullable(Int16)",
        "Nullable(String)",
    ]  # fmt: skip
    stored = lake.datasource("metrics")
    assert stored is not None
    assert stored["version"] == 2
    assert [c["type"] for c in stored["columns"]] == [c["type"] for c in shown["columns"]]
    # The same schema again changes nothing (a safe retry)
    again = alter(lake, AFTER)
    assert again["statusCode"] == 200
    assert body_of(again)["datasource"]["version"] == 2


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            BEFORE.replace("`n` Int32", "`n` Int16"),
            "Column 'n' cannot change from Int32 to Int16: that narrows",
        ),
        (
            BEFORE.replace("`s` LowCardinality(String)", "`s` Int64"),
            "Column 's' cannot change from String to Int64: that is no widening",
        ),
        (BEFORE.replace("`n` Int32", "`n` Float64"), "Column 'n' cannot change from Int32 to Float64"),
        (BEFORE.replace("`u` UInt8", "`u` Int16"), "Column 'u' cannot change from UInt8 to Int16"),
        (
            BEFORE.replace("`ts` DateTime", "`ts` DateTime('Europe/Madrid')"),
            "Column 'ts' cannot change from DateTime to DateTime('Europe/Madrid'): its time zone",
        ),
        (
            BEFORE.replace("`d` Date", "`d` Array(Date)").replace("$.d`", "$.d[:]`"),
            "Column 'd' cannot change from Date to Array(Date)",
        ),
        (BEFORE.replace(", `m` Int16 `json:$.m`", ""), "The schema drops or renames column 'm'"),
        (BEFORE.replace("`m` Int16", "`m2` Int16"), "The schema drops or renames column 'm'"),
        (
            BEFORE.replace(
                "`n` Int32 `json:$.n`, `u` UInt8 `json:$.u`", "`u` UInt8 `json:$.u`, `n` Int32 `json:$.n`"
            ),
            "Column 'n' must stay column 1",
        ),
        (BEFORE.replace("json:$.n`", "json:$.other`"), "Column 'n' would read $.other instead of $.n"),
        (
            BEFORE.replace("`m` Int16 `json:$.m`", "`m` Int16 `json:$.m` DEFAULT 0"),
            "Column 'm' would change its DEFAULT",
        ),
        (BEFORE + ", `extra` String `json:$.extra`", "New column 'extra' must be Nullable"),
        (BEFORE + ", `N` Nullable(String)", "Duplicated column names: N, n"),
        ("", "The 'schema' parameter is required"),
        (None, "The 'schema' parameter is required"),
    ],
)
def test_every_other_change_is_a_400_naming_the_column_and_stores_nothing(
    lake: Lake, schema: str | None, message: str
) -> None:
    define(lake)
    before = lake.datasource("metrics")

    resp = alter(lake, schema)

    assert resp["statusCode"] == 400
    assert message in body_of(resp)["error"], body_of(resp)["error"]
    assert "documentation" in body_of(resp)
    assert lake.datasource("metrics") == before


def test_dropping_nullable_is_refused(lake: Lake) -> None:
    define(lake, schema="`n` Nullable(Int32) `json:$.n`")
    resp = alter(lake, "`n` Int32 `json:$.n`")
    assert resp["statusCode"] == 400
    assert "Column 'n' cannot change from Nullable(Int32) to Int32: it would drop Nullable" in body_of(resp)["error"]  # fmt: skip
    assert lake.datasource("metrics")["version"] == 1  # type: ignore[index]


def test_altering_needs_create_or_admin_and_an_existing_data_source(lake: Lake) -> None:
    define(lake)
    lake.add_token(APPENDER, ["DATASOURCE:APPEND"])
    lake.add_token(CREATOR, ["DATASOURCE:CREATE"])

    refused = alter(lake, AFTER, token=APPENDER)
    missing = alter(lake, AFTER, name="nowhere")
    quarantine = alter(lake, AFTER, name="metrics_quarantine")

    assert refused["statusCode"] == 403
    assert "DATASOURCE:CREATE" in body_of(refused)["error"]
    assert missing["statusCode"] == 404
    assert body_of(missing)["error"] == "Data Source 'nowhere' not found"
    assert quarantine["statusCode"] == 400
    assert lake.datasource("metrics")["version"] == 1  # type: ignore[index]
    assert alter(lake, AFTER, token=CREATOR)["statusCode"] == 200


ROW_BEFORE = (
    b'{"n": 7, "u": 200, "f": 1.5, "d": "2026-01-02", "ts": "2026-01-02 03:04:05", "s": "a", "m": 1}\n'
)
ROW_AFTER = (
    b'{"n": 9000000000, "u": 70000, "f": 1e300, "d": "1950-01-01", "ts": "2026-01-02 03:04:05.678", '
    b'"s": "b", "m": null, "note": "hi"}\n'
)


def test_rows_landed_before_and_after_an_alter_read_back_together(lake: Lake, compact: Compact) -> None:
    # Given a row landed with the first schema
    define(lake)
    assert lake.post(ROW_BEFORE, "name=metrics")["statusCode"] == 202
    (first,) = raw_keys(lake)
    compact(first)
    before = set(landed(lake))
    # When the schema widens, and a row only the new schema takes lands
    assert alter(lake, AFTER)["statusCode"] == 200
    assert lake.post(ROW_AFTER, "name=metrics")["statusCode"] == 202
    (second,) = set(raw_keys(lake)) - {first}
    outcome = compact(second)
    assert outcome["quarantined_rows"] == 0, outcome
    # Then each file keeps the physical types of its version
    files = landed(lake, folder("ws1", "metrics"))
    assert sorted(str(t.schema.field("n").type) for t in files.values()) == ["int32", "int64"]
    # and both read as the new schema: pyarrow's dataset casts the old files' columns up
    ds = DataSource.from_dict(lake.datasource("metrics"))  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # The bucket's lake as the local mirror keeps it (pyarrow's S3 cannot reach moto in-process), each
        # file as old as its landing: the query takes the newest file's schema.
        for key in landed(lake):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read())
            landed_at = time.time() - (60 if key in before else 0)
            os.utime(root / key, (landed_at, landed_at))
        paths = sorted(str(p) for p in root.rglob("*.parquet"))
        rows = (
            pads.dataset(paths, schema=arrow_schema(ds), format="parquet").to_table().sort_by("n").to_pylist()
        )
        # and so does DuckDB, as `lakegate query` reads them (union_by_name)
        _, got = query.answer(root, "SELECT n, typeof(n), u, f FROM metrics ORDER BY n", "test", "ws1")
    assert [(r["n"], r["u"], r["m"], r["note"]) for r in rows] == [
        (7, 200, 1, None),
        (9000000000, 70000, None, "hi"),
    ]
    assert rows[1]["f"] == 1e300
    assert got == [(7, "BIGINT", 200, 1.5), (9000000000, "BIGINT", 70000, 1e300)]
    # and the Glue table took the new types with the landing after the alter
    glue = boto3.client("glue", region_name=REGION)
    columns = glue.get_table(DatabaseName=GLUE_DATABASE, Name=table_name("ws1", "metrics"))["Table"][
        "StorageDescriptor"
    ]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns][:4] == [
        ("n", "bigint"),
        ("u", "bigint"),
        ("f", "double"),
        ("d", "date"),
    ]
    assert columns[-1] == {"Name": "note", "Type": "string"}
