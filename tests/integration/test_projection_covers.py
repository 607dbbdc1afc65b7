"""Partition projection hides no landed row: every folder the compactor writes is one its Glue table's
projection enumerates. moto runs no Athena, so `uncovered` expands a table's projection parameters as
Athena documents them (date ranges with a format and `NOW`, integer ranges with digits) and matches each
landed key against `storage.location.template`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from lakegate.aws.registry import DynamoRegistry
from lakegate.schema import Column, DataSource
from tests.integration.compactor_env import GLUE_DATABASE, Compact, landed, raw_keys
from tests.integration.conftest import REGION, Lake, body_of

_JAVA = {"yyyy-MM-dd": "%Y-%m-%d", "yyyyMM": "%Y%m", "yyyy": "%Y"}


def _projected(parameters: dict[str, str], column: str, value: str, today: date) -> bool:
    kind = parameters.get(f"projection.{column}.type")
    low, _, high = parameters.get(f"projection.{column}.range", "").partition(",")
    if kind == "integer":
        digits = int(parameters.get(f"projection.{column}.digits", "1"))
        return value.isdigit() and len(value) >= digits and int(low) <= int(value) <= int(high)
    if kind == "date":
        fmt = _JAVA[parameters[f"projection.{column}.format"]]
        try:
            seen = datetime.strptime(value, fmt).date()
        except ValueError:
            return False  # `__HIVE_DEFAULT_PARTITION__`, or any text the format does not read
        first = datetime.strptime(low, fmt).date()
        last = today if high == "NOW" else datetime.strptime(high, fmt).date()
        return seen.strftime(fmt) == value and first <= seen <= last
    return False


def uncovered(table: dict[str, Any], keys: list[str], bucket: str, today: date) -> list[str]:
    """The keys under the table's location whose partition folders its projection does not enumerate."""
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    template = parameters["storage.location.template"]
    pattern = re.escape(template).replace(r"\$\{", "${").replace(r"\}", "}")
    pattern = re.sub(r"\$\{([a-z_]+)\}", r"(?P<\1>[^/]+)", pattern)
    location = table["StorageDescriptor"]["Location"].removeprefix(f"s3://{bucket}/")
    missing = []
    for key in keys:
        if not key.startswith(location):
            continue
        m = re.match(pattern + "/", f"s3://{bucket}/{key}")
        if m is None or not all(_projected(parameters, c, v, today) for c, v in m.groupdict().items()):
            missing.append(key)
    return missing


def _define(lake: Lake, name: str, schema: str, partition_key: str) -> None:
    query = urlencode({"name": name, "schema": schema, "engine_partition_key": partition_key})
    answer = lake.post(b"", query, path="/v0/datasources")
    assert answer["statusCode"] == 200, body_of(answer)


def _land(lake: Lake, compact: Compact, name: str, rows: list[bytes]) -> None:
    before = set(raw_keys(lake))
    answer = body_of(lake.post(b"\n".join(rows), f"name={name}"))
    assert answer == {"successful_rows": len(rows), "quarantined_rows": 0}
    for key in sorted(set(raw_keys(lake)) - before):
        compact(key)


EDGES = {
    # name: (schema, partition key, rows at both ends of the type and now)
    "by_day_date32": (
        "`d` Date32 `json:$.d`",
        "toDate(d)",
        [b'{"d": "1900-01-01"}', b'{"d": "2299-12-31"}', b'{"d": "2026-12-01"}'],
    ),
    "by_month_zoned": (
        "`ts` DateTime('America/New_York') `json:$.ts`",
        "toYYYYMM(ts)",
        [
            b'{"ts": "1970-01-01 00:00:00Z"}',
            b'{"ts": "2106-02-07 06:28:15Z"}',
            b'{"ts": "2026-12-01 10:00:00"}',
        ],
    ),
    "by_year_t64": (
        "`t` DateTime64(3) `json:$.t`",
        "toYear(t)",
        [b'{"t": "1900-01-01 00:00:00"}', b'{"t": "2299-12-31 23:59:59.999"}'],
    ),
    "by_day_of_date": ("`d` Date `json:$.d`", "d", [b'{"d": "1970-01-01"}', b'{"d": "2149-06-06"}']),
    "by_ingestion": ("`s` String `json:$.s`", "", [b'{"s": "now"}']),
}


def test_every_folder_the_compactor_writes_is_in_its_tables_projection(
    lake: Lake, compact: Compact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A projection start set later than the rows' ingestion (the parameter's documented mistake).
    monkeypatch.setenv("PARTITION_PROJECTION_START", "2099-01-01")
    for name, (schema, key, rows) in EDGES.items():
        _define(lake, name, schema, key)
        _land(lake, compact, name, rows)
    # and a quarantined line, so that a quarantine table has a folder too
    before = set(raw_keys(lake))
    assert body_of(lake.post(b"not json", "name=by_day_date32"))["quarantined_rows"] == 1
    for key in sorted(set(raw_keys(lake)) - before):
        compact(key)

    glue = boto3.client("glue", region_name=REGION)
    tables = glue.get_tables(DatabaseName=GLUE_DATABASE)["TableList"]
    keys = list(landed(lake))
    today = datetime.now(UTC).date()
    assert len(tables) == 2 * len(EDGES)
    covered = set()
    for table in tables:
        assert uncovered(table, keys, lake.bucket, today) == [], table["Name"]
        covered |= {k for k in keys if k.startswith(table["StorageDescriptor"]["Location"].split("/", 3)[3])}
    assert covered == set(keys)  # every landed file is under some table
    folders = {k.rsplit("/", 1)[0].split("/", 3)[3] for k in keys}
    assert {
        "day=1900-01-01",
        "day=2299-12-31",
        "month=196912",
        "month=210602",
        "year=1900",
        "year=2299",
    } <= folders


def test_the_checker_reports_what_a_projection_does_not_enumerate() -> None:
    table = {
        "Parameters": {
            "projection.enabled": "true",
            "projection.partition_month.type": "date",
            "projection.partition_month.format": "yyyyMM",
            "projection.partition_month.range": "200001,NOW",
            "storage.location.template": "s3://b/datasources/x/month=${partition_month}",
        },
        "StorageDescriptor": {"Location": "s3://b/datasources/x/"},
    }
    keys = [
        "datasources/x/month=202611/part-a.parquet",
        "datasources/x/month=__HIVE_DEFAULT_PARTITION__/part-b.parquet",
        "datasources/x/month=199912/part-c.parquet",
        "datasources/x/month=203001/part-d.parquet",
        "datasources/x_quarantine/date=2026-11-01/hour=00/part-e.parquet",
    ]
    assert uncovered(table, keys, "b", date(2026, 12, 1)) == keys[1:4]


def test_a_nullable_partition_column_is_refused_when_defined(lake: Lake) -> None:
    query = urlencode(
        {"name": "nulls", "schema": "`d` Nullable(Date) `json:$.d`", "engine_partition_key": "toYYYYMM(d)"}
    )
    answer = lake.post(b"", query, path="/v0/datasources")
    assert answer["statusCode"] == 400
    assert "uses the Nullable column 'd'" in body_of(answer)["error"]
    assert lake.datasource("nulls") is None


def test_a_null_partition_value_of_an_older_definition_lands_in_the_quarantine_not_a_hidden_folder(
    lake: Lake, compact: Compact
) -> None:
    legacy = DataSource(
        "legacy",
        (Column("i", "Int64", "$.i"), Column("d", "Nullable(Date)", "$.d")),
        partition_key="toYYYYMM(d)",
    )
    DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb).create("ws1", legacy)
    assert (
        body_of(lake.post(b'{"i": 1, "d": "2026-11-30"}\n{"i": 2, "d": null}', "name=legacy"))[
            "successful_rows"
        ]
        == 2
    )
    for key in raw_keys(lake):
        result = compact(key)
    assert (result["rows"], result["quarantined_rows"]) == (1, 1)

    keys = list(landed(lake))
    assert not [k for k in keys if "__HIVE_DEFAULT_PARTITION__" in k]
    (quarantined,) = [t for k, t in landed(lake).items() if "/legacy_quarantine/" in k]
    (row,) = quarantined.to_pylist()
    assert row["c__line"] == '{"i": 2, "d": null}'
    assert "a null has no partition" in row["c__error"][0]


def test_a_table_written_with_a_narrower_projection_is_widened_and_a_start_never_moves_later(
    lake: Lake,
) -> None:
    from lakegate.aws.glue import GlueCatalog
    from lakegate.lake.catalog import table_input, table_name

    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "widen"})
    ds = DataSource("w", (Column("d", "Date", "$.d"),), partition_key="toYYYYMM(d)")
    old = table_input("ws1", ds, lake.bucket)
    old["Parameters"]["projection.partition_month.range"] = "200001,NOW"  # as tables were written before
    glue.create_table(DatabaseName="widen", TableInput=old)
    quarantine = table_input("ws1", ds, lake.bucket, quarantine=True, projection_start="2020-01-01")
    glue.create_table(DatabaseName="widen", TableInput=quarantine)

    GlueCatalog("widen", lake.bucket, glue, "2026-12-01", 16, today=lambda: date(2026, 12, 1)).sync("ws1", ds)

    def ranges(name: str) -> dict[str, str]:
        p = glue.get_table(DatabaseName="widen", Name=table_name("ws1", name))["Table"]["Parameters"]
        return {k: v for k, v in p.items() if k.endswith(".range")}

    assert ranges("w") == {"projection.partition_month.range": "196912,214906"}
    # The quarantine's start stays 2020-01-01: the catalog's own (2026-11-13) would hide older folders.
    assert ranges("w_quarantine")["projection.ingestion_date.range"] == "2020-01-01,NOW"
