"""`lakegate --local quarantine replay`: the CLI finds the local server's bucket, registry and refs table in
template.yaml and lands quarantined rows there, as against a deployed stack."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow.parquet as pq

from lakegate.aws.registry import DynamoRegistry
from lakegate.lake.layout import folder, ingestion_partition, quarantine_name
from lakegate.lake.parquet import to_parquet
from lakegate.lake.quarantine import quarantine_table
from lakegate.lake.raw import QuarantineEntry
from lakegate.schema import Column, DataSource
from tests.integration.cli.conftest import Local

NARROW = DataSource("orders", (Column("id", "Int64", "$.id"), Column("qty", "Int32", "$.qty")))
WIDE = DataSource("orders", (Column("id", "Int64", "$.id"), Column("qty", "Int64", "$.qty")), version=2)


def test_replay_against_the_local_server(local: Local) -> None:
    # Given a data source whose quarantine holds a row its widened schema now takes
    env = local.stack.function.environment
    registry = DynamoRegistry(env["DATASOURCES_TABLE"], local.aws.dynamodb())
    registry.create("ws1", NARROW)
    registry.evolve("ws1", WIDE)
    ms = int(datetime(2026, 11, 23, 20, tzinfo=UTC).timestamp() * 1000)
    entry = QuarantineEntry('{"id": 1, "qty": 8589934592}', "qty", "value out of Int32", "req-1", ms)
    key = f"{folder('ws1', quarantine_name('orders'))}{ingestion_partition(ms)}/part-1.parquet"
    bucket = local.stack.raw_stream.bucket
    s3 = local.aws.s3()
    s3.put_object(Bucket=bucket, Key=key, Body=to_parquet(quarantine_table(NARROW, [entry])))

    run = local.cli("quarantine", "replay", "orders")

    assert run.status == 0, run.err
    assert (
        run.out == "orders: replayed 1, still failing 0, skipped 0 (1 quarantine files read, 1 rewritten)\n"
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    (landed,) = [k for k in keys if k.startswith(folder("ws1", "orders")) and k.endswith(".parquet")]
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=landed)["Body"].read()))
    assert table.to_pylist() == [{"id": 1, "qty": 8589934592}]
    assert key not in keys
    # Not a terminal here: no progress bar on stderr
    assert run.err == ""
