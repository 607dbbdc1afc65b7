"""The DynamoDB adapters against moto: token lookup and the registry's converging create."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.stub import Stubber

from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.tokens import DynamoTokenStore
from lakegate.errors import StoreUnavailable
from lakegate.ingest.auth import hash_token
from lakegate.schema import Column, DataSource
from tests.integration.conftest import ADMIN, Lake


def test_token_store_reads_by_hash(lake: Lake) -> None:
    store = DynamoTokenStore(lake.env["TOKENS_TABLE"], boto3.client("dynamodb"))

    token = store.get(hash_token(ADMIN))

    assert token is not None
    assert token.scopes == frozenset({"ADMIN"})
    assert token.workspace_id == "ws1"
    assert store.get(hash_token("unknown")) is None


def test_tokens_table_never_holds_the_plain_token(lake: Lake) -> None:
    items = boto3.client("dynamodb").scan(TableName=lake.env["TOKENS_TABLE"])["Items"]

    assert ADMIN not in repr(items)
    assert items[0]["token_hash"]["S"] == hash_token(ADMIN)


@pytest.mark.usefixtures("atomic_items")
def test_registry_create_converges_under_a_race(lake: Lake) -> None:
    # Given two creators that inferred different schemas for the same new source
    a = DataSource("race", (Column("city", "String", "$.city"),))
    b = DataSource("race", (Column("n", "Int64", "$.n"),))
    results: dict[str, DataSource] = {}
    barrier = threading.Barrier(2)

    def create(label: str, ds: DataSource) -> None:
        registry = DynamoRegistry(lake.env["DATASOURCES_TABLE"], boto3.client("dynamodb"))
        barrier.wait()
        results[label] = registry.create("ws1", ds)

    threads = [threading.Thread(target=create, args=x) for x in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then both walk away with the one stored schema
    stored = lake.datasource("race")
    assert stored is not None
    assert results["a"] == results["b"]
    assert results["a"].to_dict() == stored


def test_registry_throttled_is_store_unavailable(lake: Lake) -> None:
    client = boto3.client("dynamodb")
    registry = DynamoRegistry(lake.env["DATASOURCES_TABLE"], client)
    with Stubber(client) as stub:
        stub.add_client_error("get_item", "ThrottlingException", "throttled", 400)
        with pytest.raises(StoreUnavailable, match="ThrottlingException"):
            registry.get("ws1", "x")
