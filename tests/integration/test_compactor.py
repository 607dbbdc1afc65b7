"""Rows sent through the real ingest handler, compacted by the real compactor handler on moto, read back
from S3 with pyarrow: values, types, partitions, sort order, quarantine, replays and unreadable objects."""

from __future__ import annotations

import dataclasses
import gzip
from datetime import UTC, date, datetime, timedelta

import boto3
import orjson
import pyarrow as pa
import pytest

from lakegate.aws.registry import DynamoRegistry
from lakegate.framing import decode_records
from lakegate.lake.catalog import table_name
from lakegate.names import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.schema import Column, DataSource
from lakegate_local.runtime import fake_context
from tests.integration.compactor_env import (
    GLUE_DATABASE,
    PROJECTION_START,
    Compact,
    landed,
    object_created,
    raw_keys,
    rows_of,
)
from tests.integration.conftest import REGION, ROOT, Lake

CHICAGO = b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}'
MADRID = b'{"date": "2020-04-05 00:07:22", "city": "Madrid"}'
TYPED = DataSource(
    "typed",
    (
        Column("ts", "DateTime64(3)", "$.ts"),
        Column("city", "String", "$.city"),
        Column("n", "Int8", "$.n"),
        Column("day", "Nullable(Date)", "$.day"),
        Column("tags", "Array(String)", "$.tags[:]"),
        Column("price", "Float64", "$.a.price"),
    ),
    sorting_key=("city", "ts"),
)


def ingest_hour(lake: Lake) -> str:
    (blob,) = lake.raw_objects()
    t = datetime.fromtimestamp(next(decode_records(blob)).header.ingested_at_ms / 1000, UTC)
    return f"date={t:%Y-%m-%d}/hour={t:%H}"


def test_seed_rows_land_as_parquet_in_their_ingestion_hour(lake: Lake, compact: Compact) -> None:
    assert lake.post(CHICAGO + b"\n" + MADRID)["statusCode"] == 202
    (key,) = raw_keys(lake)

    result = compact(key)

    assert result == {
        "objects": 1,
        "rows": 2,
        "quarantined_rows": 0,
        "duplicate_rows": 0,
        "duplicate_records": 0,
        "set_aside_rows": 0,
        "unreadable": 0,
    }
    tables = landed(lake)
    (path,) = tables
    assert path.startswith(f"datasources/ws1/events_test/{ingest_hour(lake)}/part-") and path.endswith(
        ".parquet"
    )
    table = tables[path]
    assert table.schema.field("date").type == pa.timestamp("ms", tz="UTC")  # DateTime: seconds, stored as ms
    assert table.schema.field("city").type == pa.string()
    assert table.to_pylist() == [
        {"date": datetime(2020, 4, 5, 0, 5, 38, tzinfo=UTC), "city": "Chicago"},
        {"date": datetime(2020, 4, 5, 0, 7, 22, tzinfo=UTC), "city": "Madrid"},
    ]


def test_declared_types_sort_order_and_both_kinds_of_quarantine(lake: Lake, compact: Compact) -> None:
    DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb).create("ws1", TYPED)
    body = b"\n".join(
        [
            b'{"ts":"2026-11-23 10:00:00.250","city":"Madrid","n":2,"tags":["a","b"],"a":{"price":1.5}}',
            b'{"ts":1795460400,"city":"Chicago","n":-1,"day":"2026-11-23","a":{"price":2}}',
            b'{"ts":"2026-11-23 09:00:00","city":"Madrid","n":1,"a":{"price":0}}',
            b'{"ts":"2026-11-23 09:00:00","city":"Lima","n":300,"a":{"price":0}}',  # quarantined at ingest
            b'{"ts":"2026-11-23 09:00:00","city":"Oslo","n":1,"day":"2026-02-30","a":{"price":0}}',  # by Arrow
        ]
    )
    assert lake.post(body, query="name=typed")["statusCode"] == 202
    (key,) = raw_keys(lake)

    assert compact(key)["quarantined_rows"] == 2

    tables = landed(lake)
    (typed_key,) = [k for k in tables if k.startswith("datasources/ws1/typed/")]
    typed = tables[typed_key]
    assert typed.schema.types == [
        pa.timestamp("ms", tz="UTC"),
        pa.string(),
        pa.int8(),
        pa.date32(),
        pa.list_(pa.field("element", pa.string())),
        pa.float64(),
    ]
    assert typed.to_pylist() == [
        {
            "ts": datetime(2026, 11, 23, 19, 0, tzinfo=UTC),
            "city": "Chicago",
            "n": -1,
            "day": date(2026, 11, 23),
            "tags": [],
            "price": 2.0,
        },
        {
            "ts": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
            "city": "Madrid",
            "n": 1,
            "day": None,
            "tags": [],
            "price": 0.0,
        },
        {
            "ts": datetime(2026, 11, 23, 10, 0, 0, 250000, tzinfo=UTC),
            "city": "Madrid",
            "n": 2,
            "day": None,
            "tags": ["a", "b"],
            "price": 1.5,
        },
    ]
    quarantine = rows_of(tables, "typed_quarantine")
    assert [(r["city"], r[ERROR_COLUMN], r[ERROR]) for r in quarantine] in (
        [
            ("Lima", ["n"], ["value '300' on column 'n' is not Int8"]),
            ("Oslo", ["day"], ["value '2026-02-30' on column 'day' is not Nullable(Date)"]),
        ],
        [
            ("Oslo", ["day"], ["value '2026-02-30' on column 'day' is not Nullable(Date)"]),
            ("Lima", ["n"], ["value '300' on column 'n' is not Int8"]),
        ],
    )
    assert {r[IMPORT_ID] for r in quarantine} == {"apigw-0"}  # the ingest request's id
    assert all(r[LINE].startswith('{"ts":') for r in quarantine)
    assert all(r[INSERTION_DATE].tzinfo is not None for r in quarantine)


def test_replaying_the_same_raw_object_lands_each_row_once(lake: Lake, compact: Compact) -> None:
    lake.post(CHICAGO + b"\n" + MADRID + b"\n[1]")
    (key,) = raw_keys(lake)
    compact(key)
    first = landed(lake)

    compact(key)  # Lambda retries an event, or an operator replays it

    again = landed(lake)
    assert again.keys() == first.keys()
    assert len(rows_of(again, "events_test")) == 2
    assert len(rows_of(again, "events_test_quarantine")) == 1


def test_each_raw_object_lands_its_own_rows(lake: Lake, compact: Compact) -> None:
    lake.post(CHICAGO)
    lake.post(MADRID)
    for key in raw_keys(lake):
        compact(key)
    assert sorted(r["city"] for r in rows_of(landed(lake), "events_test")) == ["Chicago", "Madrid"]


def test_gzip_raw_objects_as_firehose_writes_them_in_aws(lake: Lake, compact: Compact) -> None:
    lake.post(CHICAGO)
    (blob,) = lake.raw_objects()
    key = "raw/2026/11/23/20/lakegate-DeliveryStream-1-2026-11-23-20-00-00-gz"
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=gzip.compress(blob))

    assert compact(key)["rows"] == 1


def test_an_unreadable_raw_object_is_set_aside_with_its_reason(
    lake: Lake, compact: Compact, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "raw/2026/11/23/20/lakegate-DeliveryStream-1-2026-11-23-20-00-00-bad"
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=b"\x1f\x8bthis is no gzip")

    assert compact(key) == {
        "objects": 1,
        "rows": 0,
        "quarantined_rows": 0,
        "duplicate_rows": 0,
        "duplicate_records": 0,
        "set_aside_rows": 0,
        "unreadable": 1,
    }

    kept = lake.s3.get_object(Bucket=lake.bucket, Key="errors/" + key)
    assert kept["Body"].read() == b"\x1f\x8bthis is no gzip"
    assert kept["Metadata"]["lakegate-error"].startswith("not a readable gzip object")
    assert landed(lake) == {}
    assert '"UnreadableRawObjects"' in capsys.readouterr().out  # the EMF metric the alarm watches


def test_s3_notification_events_with_url_encoded_keys(lake: Lake, compact: Compact) -> None:
    import compactor_app

    lake.post(CHICAGO)
    (blob,) = lake.raw_objects()
    key = "raw/with space/obj"
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=blob)
    event = {"Records": [{"s3": {"bucket": {"name": lake.bucket}, "object": {"key": "raw/with+space/obj"}}}]}

    assert compactor_app.lambda_handler(event, fake_context("CompactorFunction"))["rows"] == 1


def test_the_sample_event_for_sam_local_invoke(lake: Lake, compact: Compact) -> None:
    """events/compactor/object_created.json (`sam local invoke CompactorFunction -e ...`) against moto."""
    import compactor_app

    event = orjson.loads((ROOT / "events" / "compactor" / "object_created.json").read_bytes())
    assert event["detail"]["bucket"]["name"] == lake.bucket  # the local stack's bucket name
    lake.post(CHICAGO)
    (blob,) = lake.raw_objects()
    lake.s3.put_object(Bucket=lake.bucket, Key=event["detail"]["object"]["key"], Body=blob)

    assert compactor_app.lambda_handler(event, fake_context("CompactorFunction"))["rows"] == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_an_event_for_another_bucket_is_refused(lake: Lake, compact: Compact) -> None:
    import compactor_app

    with pytest.raises(ValueError, match="this function compacts"):
        compactor_app.lambda_handler(object_created("elsewhere", "raw/x"), fake_context())


def test_a_new_field_evolves_the_schema_and_older_files_read_with_nulls(lake: Lake, compact: Compact) -> None:
    lake.post(CHICAGO)
    (first,) = raw_keys(lake)
    compact(first)
    lake.post(b'{"date": "2020-04-05 00:09:00", "city": "Lima", "temp": 21.5}')
    (second,) = set(raw_keys(lake)) - {first}
    compact(second)

    schema = lake.datasource("events_test")
    assert schema is not None and schema["version"] == 2
    assert schema["columns"][-1] == {"name": "temp", "type": "Nullable(Float64)", "jsonpath": "$.temp"}
    tables = landed(lake)
    assert sorted(t.num_columns for t in tables.values()) == [2, 3]  # the first file predates the column
    # Read together by column name (as DuckDB's union_by_name and Athena's table schema do).
    rows = pa.concat_tables(tables.values(), promote_options="default").to_pylist()
    assert sorted((r["city"], r["temp"]) for r in rows) == [("Chicago", None), ("Lima", 21.5)]


def test_glue_tables_follow_the_registry(lake: Lake, compact: Compact) -> None:
    glue = boto3.client("glue", region_name=REGION)
    lake.post(CHICAGO)
    (first,) = raw_keys(lake)
    compact(first)

    table = glue.get_table(DatabaseName=GLUE_DATABASE, Name=table_name("ws1", "events_test"))["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("date", "timestamp"),
        ("city", "string"),
    ]
    assert table["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/datasources/ws1/events_test/"
    assert table["Parameters"]["projection.enabled"] == "true"
    assert table["Parameters"]["projection.ingestion_date.range"] == f"{PROJECTION_START},NOW"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["ingestion_date", "ingestion_hour"]
    quarantine = glue.get_table(DatabaseName=GLUE_DATABASE, Name=table_name("ws1", "events_test_quarantine"))[
        "Table"
    ]
    assert quarantine["StorageDescriptor"]["Columns"][-1] == {"Name": "insertion_date", "Type": "timestamp"}

    lake.post(b'{"date": "2020-04-05 00:09:00", "city": "Lima", "temp": 21.5}')
    (second,) = set(raw_keys(lake)) - {first}
    compact(second)

    table = glue.get_table(DatabaseName=GLUE_DATABASE, Name=table_name("ws1", "events_test"))["Table"]
    assert table["StorageDescriptor"]["Columns"][-1] == {"Name": "temp", "Type": "double"}
    assert table["Parameters"]["lakegate.schema_version"] == "2"


def test_a_catalog_that_cannot_be_written_is_an_error_value(lake: Lake) -> None:
    from lakegate.aws.glue import GlueCatalog
    from lakegate.errors import StoreUnavailable

    catalog = GlueCatalog("no_such_database", lake.bucket, boto3.client("glue", region_name=REGION))
    with pytest.raises(StoreUnavailable, match="catalog update failed: EntityNotFoundException"):
        catalog.sync("ws1", DataSource("x", (Column("a", "String", "$.a"),)))


def test_partitions_past_the_ttl_are_deleted_from_s3_when_the_data_source_lands(
    lake: Lake, compact: Compact
) -> None:
    # Given a data source partitioned by its TTL column, with a one-day TTL, and 1,005 files of a
    # partition a week old (two S3 pages): its folder's name proves every row in it past
    ttl = dataclasses.replace(TYPED, name="ttl", ttl="ts + toIntervalDay(1)", partition_key="toDate(ts)")
    DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb).create("ws1", ttl)
    week_ago = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%d")
    old = [f"datasources/ws1/ttl/day={week_ago}/part-{i:04d}.parquet" for i in range(1005)]
    for key in old:
        lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=b"x")

    # When new rows of it land
    row = (
        b'{"ts":"%s","city":"Madrid","n":1,"a":{"price":1}}'
        % f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}".encode()
    )
    assert lake.post(row, "name=ttl")["statusCode"] == 202
    (key,) = raw_keys(lake)
    assert compact(key)["rows"] == 1

    # Then the expired partition is gone and the new one stays
    left = list(landed(lake))
    assert left and all(k.startswith("datasources/ws1/ttl/day=") and week_ago not in k for k in left)


def test_zstd_compressed_records_land_like_any_other(lake: Lake, compact: Compact) -> None:
    rows = [b'{"i": %d, "city": "Madrid"}' % i for i in range(2000)]
    assert lake.post(b"\n".join(rows), "name=many")["statusCode"] == 202
    (key,) = raw_keys(lake)
    assert b'"z":1}\n' in lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read()[:1024]

    assert compact(key)["rows"] == 2000

    assert sorted(r["i"] for r in rows_of(landed(lake), "many")) == list(range(2000))
