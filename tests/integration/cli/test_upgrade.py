"""`lakegate upgrade` on the local server's emulated AWS: a registry and refs table as an earlier version
left them (no index items, row claims without their key space) become this version's, idempotently."""

from __future__ import annotations

import orjson
import pytest

from lakegate.aws.registry import DynamoRegistry
from lakegate.errors import NameTaken
from lakegate.schema import Column, DataSource, legacy_id
from tests.integration.cli.conftest import Local

COLUMNS = (Column("ref", "String", "$.ref"),)


def _legacy(local: Local, workspace: str, name: str) -> None:
    """A data source item as an earlier version wrote it: no id, no index items."""
    local.aws.dynamodb().put_item(
        TableName=local.stack.function.environment["DATASOURCES_TABLE"],
        Item={
            "workspace_id": {"S": workspace},
            "name": {"S": name},
            "schema": {"S": orjson.dumps(DataSource(name, COLUMNS).to_dict()).decode()},
            "version": {"N": "1"},
        },
    )


def _claim(local: Local, pk: str, owner: str = "req-0") -> None:
    local.aws.dynamodb().put_item(
        TableName=local.stack.function.environment["REFS_TABLE"],
        Item={"pk": {"S": pk}, "owner": {"S": owner}},
    )


def _claims(local: Local) -> dict[str, str]:
    items = local.aws.dynamodb().scan(TableName=local.stack.function.environment["REFS_TABLE"])["Items"]
    return {i["pk"]["S"]: i["owner"]["S"] for i in items}


def test_upgrade_indexes_old_data_sources_and_moves_row_claims_to_their_key_space(local: Local) -> None:
    env = local.stack.function.environment
    registry = DynamoRegistry(env["DATASOURCES_TABLE"], local.aws.dynamodb())
    _legacy(local, "ws1", "orders")
    _legacy(local, "ws1", "Twin")
    _legacy(local, "ws1", "twin")  # possible before: two names Glue lowercases into one table
    _legacy(local, "ws1", "events")
    _claim(local, "ws1#orders#a", "raw:raw/one")
    _claim(local, 'ws1#events#event:["n","r"]')
    _claim(local, "ws1#events#ref:r")
    _claim(local, "ws1#events#plain")
    _claim(local, "gone#old#x")

    first = local.cli("upgrade")
    second = local.cli("upgrade")

    assert first.status == 0, first.err
    assert first.out.splitlines() == [
        "data sources indexed: 4",
        "name taken in another case, not indexed: ws1/twin (its lowercased name is Twin's)",
        "claims Vayu's: 2",
        "claims copied to row keys: 2",
        "claims of no data source: 1",
    ]
    assert "claims copied before: 2" in second.out and "claims already row keys: 2" in second.out
    assert _claims(local) == {
        "ws1#orders#a": "raw:raw/one",
        "ws1#orders#row:a": "raw:raw/one",
        'ws1#events#event:["n","r"]': "req-0",
        "ws1#events#ref:r": "req-0",
        "ws1#events#plain": "req-0",
        "ws1#events#row:plain": "req-0",
        "gone#old#x": "req-0",
    }
    # The registry now finds old data sources by their id and protects their names' case
    assert registry.get_by_id("ws1", legacy_id("orders")) == registry.get("ws1", "orders")
    with pytest.raises(NameTaken) as e:
        registry.create("ws1", DataSource("ORDERS", COLUMNS))
    assert e.value.existing == "orders"


def test_upgrade_moves_each_legacy_lake_folder_into_its_workspaces(local: Local) -> None:
    # Given Parquet where an earlier version landed it: datasources/<name>/, workspaces not told apart
    s3, bucket = local.aws.s3(), local.stack.raw_stream.bucket
    _legacy(local, "ws1", "orders")
    _legacy(local, "ws1", "shared")
    _legacy(local, "ws2", "shared")
    old = {
        "datasources/orders/date=2026-01-01/hour=00/part-1.parquet": b"o1",
        "datasources/orders/date=2026-01-02/hour=05/part-2.parquet": b"o2",
        "datasources/orders_quarantine/date=2026-01-01/hour=00/part-1.parquet": b"q1",
        "datasources/shared/date=2026-01-01/hour=00/part-1.parquet": b"s1",
        "datasources/gone/day=2026-01-01/part-1.parquet": b"g1",
    }
    new = {  # already this version's, one in a workspace named like the old data source
        "datasources/ws1/orders/date=2026-01-03/hour=00/part-3.parquet": b"o3",
        "datasources/orders/events/date=2026-01-03/hour=00/part-4.parquet": b"e4",
    }
    for key, body in (old | new).items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    first = local.cli("upgrade")
    second = local.cli("upgrade")

    # Then what one workspace owns moved under it; what two could own stays, said so
    assert first.status == 0, first.err
    assert "moved 2 objects: datasources/orders/ -> datasources/ws1/orders/" in first.out
    assert (
        "moved 1 objects: datasources/orders_quarantine/ -> datasources/ws1/orders_quarantine/" in first.out
    )
    assert "left in place: datasources/shared/ (data sources of workspaces ws1, ws2: " in first.out
    assert "left in place: datasources/gone/ (no workspace's data source: " in first.out
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="datasources/")["Contents"]
    bodies = {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}
    assert bodies == {
        "datasources/ws1/orders/date=2026-01-01/hour=00/part-1.parquet": b"o1",
        "datasources/ws1/orders/date=2026-01-02/hour=05/part-2.parquet": b"o2",
        "datasources/ws1/orders/date=2026-01-03/hour=00/part-3.parquet": b"o3",
        "datasources/ws1/orders_quarantine/date=2026-01-01/hour=00/part-1.parquet": b"q1",
        "datasources/shared/date=2026-01-01/hour=00/part-1.parquet": b"s1",
        "datasources/gone/day=2026-01-01/part-1.parquet": b"g1",
        "datasources/orders/events/date=2026-01-03/hour=00/part-4.parquet": b"e4",
    }
    # And a second run moves nothing more (a workspace named like a data source is never taken for one)
    assert "moved" not in second.out and second.out.count("left in place") == 2
