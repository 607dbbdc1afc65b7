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
