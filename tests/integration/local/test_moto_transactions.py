"""The local server's TransactWriteItems for moto: the same answers and the same tables as moto's own,
all or nothing, without copying the tables a transaction names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from lakegate_local import moto_transactions
from lakegate_local.moto_transactions import MOTO_TRANSACT_WRITE_ITEMS, transact_write_items

REFS, EVENTS = "refs", "events"
Scenario = Callable[[Any], None]


def _tables(ddb: Any) -> None:
    ddb.create_table(
        TableName=REFS,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.create_table(
        TableName=EVENTS,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(3):
        ddb.put_item(TableName=REFS, Item={"pk": {"S": f"r{i}"}, "owner": {"S": "a"}, "n": {"N": "1"}})
        ddb.put_item(TableName=EVENTS, Item={"pk": {"S": "e"}, "sk": {"N": str(i)}, "v": {"S": "old"}})


def _claim(pk: str, owner: str = "b", old: bool = False) -> dict[str, Any]:
    put: dict[str, Any] = {
        "TableName": REFS,
        "Item": {"pk": {"S": pk}, "owner": {"S": owner}},
        "ConditionExpression": "attribute_not_exists(pk) OR #o = :o",
        "ExpressionAttributeNames": {"#o": "owner"},
        "ExpressionAttributeValues": {":o": {"S": owner}},
    }
    if old:
        put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": put}


def _update(pk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": REFS,
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": "ADD n :one SET tag = :t",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"S": "changed"}},
        }
    }


def _event(sk: int, value: str = "new") -> dict[str, Any]:
    return {"Put": {"TableName": EVENTS, "Item": {"pk": {"S": "e"}, "sk": {"N": str(sk)}, "v": {"S": value}}}}


def _delete(table: str, key: dict[str, Any]) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": key}}


# Each scenario is one TransactWriteItems; most are cancelled by their last item, after writes.
SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "all succeed": [_claim("n1"), _claim("n2"), _update("r0"), _event(7), _delete(REFS, {"pk": {"S": "r2"}})],
    "one failed condition cancels puts, updates and deletes": [
        _claim("n1"),
        _update("r0"),
        _event(1, "overwritten"),
        _event(9),
        _delete(REFS, {"pk": {"S": "r2"}}),
        _claim("r1", old=True),
    ],
    "a failed condition check on another table": [
        _claim("n1"),
        {
            "ConditionCheck": {
                "TableName": EVENTS,
                "Key": {"pk": {"S": "e"}, "sk": {"N": "0"}},
                "ConditionExpression": "v = :v",
                "ExpressionAttributeValues": {":v": {"S": "other"}},
            }
        },
    ],
    "a new range key in an existing partition, cancelled": [_event(5), _claim("r0")],
    "two operations on one item": [_claim("n1"), _update("r0"), _claim("n1")],
    "an item of a missing table": [_claim("n1"), {"Put": {"TableName": "nope", "Item": {"pk": {"S": "x"}}}}],
    "a malformed update": [
        _claim("n1"),
        {"Update": {"TableName": REFS, "Key": {"pk": {"S": "r0"}}, "UpdateExpression": "SET"}},
    ],
    "a key of the wrong type after writes": [
        _claim("n1"),
        _update("r0"),
        {"Put": {"TableName": REFS, "Item": {"pk": {"N": "1"}}}},
    ],
    "an item over 400 KB after writes": [
        _claim("n1"),
        {"Put": {"TableName": REFS, "Item": {"pk": {"S": "big"}, "blob": {"S": "x" * 410_000}}}},
    ],
    "more than 100 items": [_claim(f"m{i}") for i in range(101)],
}


def _run(method: Callable[..., None], items: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    """One transaction on fresh tables: what the client got back, and every item of both tables after."""
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", method)
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        _tables(ddb)
        try:
            ddb.transact_write_items(TransactItems=items)
            answer: Any = "ok"
        except ClientError as e:
            answer = (e.response["Error"], e.response.get("CancellationReasons"))
        after = {t: sorted(map(str, ddb.scan(TableName=t)["Items"])) for t in (REFS, EVENTS)}
    return answer, after


@pytest.mark.parametrize("name", SCENARIOS)
def test_answers_and_tables_as_moto_has_them(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    items = SCENARIOS[name]
    assert _run(transact_write_items, items, monkeypatch) == _run(
        MOTO_TRANSACT_WRITE_ITEMS, items, monkeypatch
    )


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", MOTO_TRANSACT_WRITE_ITEMS)
    moto_transactions.install()  # undone by monkeypatch after the test
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _tables(client)
        yield client


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    return sorted(ddb.scan(TableName=table)["Items"], key=str)


def test_a_failed_condition_writes_nothing_and_says_why_per_item(ddb: Any) -> None:
    before = {t: _scan(ddb, t) for t in (REFS, EVENTS)}
    items = SCENARIOS["one failed condition cancels puts, updates and deletes"]

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=items)

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = raised.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None"] * 5 + ["ConditionalCheckFailed"]
    assert reasons[-1]["Item"] == {"pk": {"S": "r1"}, "owner": {"S": "a"}, "n": {"N": "1"}}
    assert {t: _scan(ddb, t) for t in (REFS, EVENTS)} == before


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "all succeed"])
def test_a_refused_transaction_changes_nothing(name: str, ddb: Any) -> None:
    before = {t: _scan(ddb, t) for t in (REFS, EVENTS)}

    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=SCENARIOS[name])

    assert {t: _scan(ddb, t) for t in (REFS, EVENTS)} == before


def test_a_successful_transaction_writes_every_item(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=SCENARIOS["all succeed"])

    refs = {i["pk"]["S"]: i for i in _scan(ddb, REFS)}
    assert sorted(refs) == ["n1", "n2", "r0", "r1"]
    assert refs["r0"]["n"] == {"N": "2"} and refs["r0"]["tag"] == {"S": "changed"}
    assert len(_scan(ddb, EVENTS)) == 4


def test_no_table_is_copied(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto copied every named table once per item: 100 x n items per claim on a table of n."""
    for i in range(500):
        ddb.put_item(TableName=REFS, Item={"pk": {"S": f"big{i}"}, "owner": {"S": "a"}})

    def no_copies(table: Table, memo: Any) -> Table:
        raise AssertionError(f"table {table.name} deep-copied")

    monkeypatch.setattr(Table, "__deepcopy__", no_copies, raising=False)
    claims = [_claim(f"c{i}") for i in range(99)]
    ddb.transact_write_items(TransactItems=claims)
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[*(_claim(f"d{i}") for i in range(99)), _claim("big0")])

    assert len(_scan(ddb, REFS)) == 3 + 500 + 99
    # The check itself holds: moto's own method copies the table and trips it.
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", MOTO_TRANSACT_WRITE_ITEMS)
    with pytest.raises(AssertionError, match="deep-copied"):
        ddb.transact_write_items(TransactItems=[_claim("e0")])
