"""moto's DynamoDB TransactWriteItems, rolled back by the items it wrote instead of whole-table copies.

moto 5.2.5 deep-copies each table a transaction names once per item, to put the copy back if the
transaction is cancelled: a 100-item ref claim on a refs table of n items copies 100 x n items. A
1,000-event Vayu batch (ten such claims) took ~12 s on an empty table and ~40 s after 3,000 refs, past
the ingest's 5 s read timeout, so botocore retried it into a moto still copying; the copies' memory
(GBs) stayed with the process. This version copies, just before each write, the one item it is about
to change (at most 100 per transaction) and puts those back when the transaction is cancelled, and
parses each distinct condition once per transaction. The checks, their order, the errors and the
CancellationReasons are moto's, as moto's own method has them; tests/integration/local/
test_moto_transactions.py runs both on the same transactions and compares answers and tables.

The local server installs it (`install`); the tests' in-process moto keeps moto's own.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

MOTO_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


@dataclass
class _Undo:
    """The items a transaction is about to change, as they were, and how long each stream was."""

    items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = field(default_factory=list)
    streams: dict[int, tuple[Table, int]] = field(default_factory=dict)

    def remember(self, table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> None:
        # A copy: an Update changes the stored Item in place.
        before = copy.deepcopy(table.get_item(hash_value, range_value))
        self.items.append((table, hash_value, range_value, before))
        if table.stream_shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (table, len(table.stream_shard.items))

    def restore(self) -> None:
        for table, hash_value, range_value, before in reversed(self.items):
            _put_back(table, hash_value, range_value, before)
        for table, length in self.streams.values():
            # moto's whole-table copy held the stream as it was: records of cancelled writes go too.
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


def _put_back(
    table: Table, hash_value: DynamoType, range_value: DynamoType | None, item: Item | None
) -> None:
    """Store `item` under its key, or no item at all, without a stream record (the write never was)."""
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item  # type: ignore[assignment]  # moto types items as range-key dicts
        return
    ranges = table.items[hash_value]
    if item is None:
        ranges.pop(range_value, None)
        if not ranges:
            del table.items[hash_value]
    else:
        ranges[range_value] = item


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's `DynamoDBBackend.transact_write_items`, with `_Undo` in place of the table copies."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    try:
        _apply(self, transact_items, undo)
    except BaseException:
        # moto restores its copies on a cancellation or a validation error; a malformed item
        # (TransactWriteSingleOpException) is refused midway and left what it had written: here
        # nothing a refused transaction did survives.
        undo.restore()
        raise


_Reason = tuple[str | None, str | None, dict[str, Any] | None]  # (Code, Message, Item): moto's errors


class _Conditions:
    """Condition expressions parsed once per transaction: a claim's 100 items share one, and moto's parser
    takes ~0.5 ms a parse (it parsed each item's three times: before, in and after the transaction)."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str], Any] = {}

    def get(self, op: dict[str, Any]) -> Any:
        expression = op["ConditionExpression"]
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        key = (expression, json.dumps([names, values], sort_keys=True))
        if key not in self._parsed:
            self._parsed[key] = get_filter_expression(expression, names, values)
        return self._parsed[key]


def _apply(backend: DynamoDBBackend, transact_items: list[dict[str, Any]], undo: _Undo) -> None:
    targets: set[tuple[str, str]] = set()
    conditions = _Conditions()
    reasons: list[_Reason] = []
    for item in transact_items:
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        reasons.append(_one(backend, item, targets, conditions, undo))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)


def _one(
    backend: DynamoDBBackend,
    item: dict[str, Any],
    targets: set[tuple[str, str]],
    conditions: _Conditions,
    undo: _Undo,
) -> _Reason:
    """Check and apply one item: its cancellation reason, or (None, None, None) when it went through."""
    original_item: dict[str, Any] | None = None
    try:
        op_type, op = next(iter(item.items()))
        if op_type not in _OPERATIONS:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        key = _key(backend, op_type, op)
        # Transact writes may not perform several operations on one item.
        target = (str(table_name), str(dict(sorted(key.items()))))
        if target in targets:
            raise MultipleTransactionsException()
        targets.add(target)

        current = backend.get_item(table_name, key)
        if op.get("ConditionExpression") is not None and not conditions.get(op).expr(current):
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                original_item = current.to_json()["Attributes"]
            raise ConditionalCheckFailed(item=original_item)
        if op_type != "ConditionCheck":
            table = backend.get_table(table_name)
            undo.remember(table, *backend.get_keys_value(table, key))
            _write(backend, op_type, op, key)
        return (None, None, None)
    except (MultipleTransactionsException, MockValidationException):
        raise
    except ConditionalCheckFailed as e:
        return ("ConditionalCheckFailed", str(e.message), original_item)
    except Exception as e:  # noqa: BLE001 - moto reports any other failure as the item's reason
        return (type(e).__name__, str(e), original_item)


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        key: dict[str, Any] = op["Key"]
        return key
    attrs = op["Item"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _write(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    """The item's write. Its condition was checked a moment ago on the same item (moto checks it twice):
    nothing can have changed it since, as the local server runs one AWS call at a time."""
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"])
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key)
    else:
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,  # type: ignore[arg-type]
            expression_attribute_values=values,  # type: ignore[arg-type]
        )


def install() -> None:
    """Every moto DynamoDB backend of this process runs transactions this way from now on."""
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
