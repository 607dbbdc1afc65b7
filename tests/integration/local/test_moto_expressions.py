"""The local server's UpdateExpression validation for moto: the same answers, errors and items as moto's own."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import DDBTypedValue, DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

from lakegate_local import moto_expressions, moto_memo

TABLE = "items"
# (UpdateExpression, names, values): each is sent twice, so a remembered check is used the second time.
UPDATES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("ADD #n :one SET expires_at = :ttl", {"#n": "n"}, {":one": {"N": "1"}, ":ttl": {"N": "9"}}),
    ("SET #a = :v", {"#a": "tag"}, {":v": {"S": "x"}}),
    ("SET #a = :v", {"#a": "pk"}, {":v": {"S": "x"}}),  # the same expression, now on the key: refused
    ("SET a = :v, a = :w", {}, {":v": {"S": "x"}, ":w": {"S": "y"}}),  # overlapping paths
    ("ADD n :one ADD m :one", {}, {":one": {"N": "1"}}),  # two ADD clauses
    (
        "SET l = list_append(if_not_exists(l, :empty), :more)",
        {},
        {":empty": {"L": []}, ":more": {"L": [{"S": "a"}]}},
    ),
    ("SET m = if_not_exists(m, :map)", {}, {":map": {"M": {"x": {"N": "1"}}}}),
    ("SET m.x = m.x + :one, c = :missing", {}, {":one": {"N": "1"}}),  # a value it does not define
    ("SET m.x = m.x + :one", {}, {":one": {"N": "1"}}),
    ("SET m.y.z = :one", {}, {":one": {"N": "1"}}),  # a path through an attribute that does not exist
    ("ADD s :set", {}, {":set": {"SS": ["a", "b"]}}),
    ("DELETE s :gone", {}, {":gone": {"SS": ["a"]}}),
    ("REMOVE tag, l[0]", {}, {}),
    ("SET n = n - :one", {}, {":one": {"S": "not a number"}}),  # a type mismatch
    ("SET pk = :v", {}, {":v": {"S": "x"}}),
    ("SET", {}, {}),  # no parse
]


def _originals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered first, so that the test undoes what install() replaces."""
    monkeypatch.setattr(UpdateExpressionParser, "make", moto_memo.MOTO_UPDATE_EXPRESSION)
    monkeypatch.setattr(validators, "deepcopy", moto_expressions.MOTO_DEEPCOPY)
    monkeypatch.setattr(DepthFirstTraverser, "traverse_node_recursively", moto_expressions.MOTO_TRAVERSE)
    monkeypatch.setattr(models, "UpdateExpressionValidator", moto_expressions.MOTO_VALIDATOR)


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _run(ddb: Any) -> list[Any]:
    """Each update twice, on an item that exists and one that does not: every answer or error, then the items."""
    answers: list[Any] = []
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "old"}, "l": {"L": [{"S": "z"}]}, "n": {"N": "5"}})
    for expression, names, values in UPDATES:
        for key in ("old", "old", "new"):
            kwargs: dict[str, Any] = {
                "TableName": TABLE,
                "Key": {"pk": {"S": key}},
                "UpdateExpression": expression,
            }
            kwargs |= {"ExpressionAttributeNames": names} if names else {}
            kwargs |= {"ExpressionAttributeValues": values} if values else {}
            try:
                answers.append(ddb.update_item(**kwargs, ReturnValues="ALL_NEW")["Attributes"])
            except ClientError as e:
                answers.append((e.response["Error"]["Code"], e.response["Error"]["Message"]))
    answers.append(sorted(ddb.scan(TableName=TABLE)["Items"], key=lambda i: i["pk"]["S"]))
    return answers


def test_answers_errors_and_items_are_moto_s(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _originals(monkeypatch)
    moto_memo.install()
    expected = _run(ddb)
    ddb.delete_table(TableName=TABLE)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    moto_expressions.install()

    assert _run(ddb) == expected
    assert any(isinstance(a, tuple) and "key" in a[1] for a in expected)  # the refusals did happen
    assert sum(isinstance(a, dict) for a in expected) > 10  # and so did the updates


def test_the_shape_checks_run_once_per_expression_names_and_keys(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _originals(monkeypatch)
    moto_memo.install()
    moto_expressions.install()
    checked: list[str] = []
    check = validators.ActionCountValidator.verify_action_counts

    def counting(self: Any, node: Any) -> Any:
        checked.append("checked")
        return check(self, node)

    monkeypatch.setattr(validators.ActionCountValidator, "verify_action_counts", counting)
    per_call: list[int] = []
    for tag in ("tag", "tag", "other", "tag"):
        before = len(checked)
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "k"}},
            UpdateExpression="SET #a = :v ADD hits :one",
            ExpressionAttributeNames={"#a": tag},
            ExpressionAttributeValues={":v": {"S": "x"}, ":one": {"N": "1"}},
        )
        per_call.append(len(checked) - before)

    # Checked with "tag" (the new item is validated twice by moto: checked the first time only), then
    # with "other"; never again with names it has passed with.
    first = per_call[0]
    assert first > 0
    assert per_call == [first, 0, first, 0]
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "k"}})["Item"]
    assert item["hits"] == {"N": "4"}


def _shape(value: Any, seen: set[int]) -> Any:
    """A node tree as nested tuples (its classes, attributes and children), noting each node's id."""
    if not isinstance(value, Node):
        return value
    seen.add(id(value))
    parent = value.parent
    return (
        type(value).__name__,
        {k: v for k, v in vars(value).items() if k not in ("children", "parent")},
        type(parent).__name__ if parent is not None else None,
        [_shape(c, seen) for c in value.children or []],
    )


@pytest.mark.parametrize("expression", sorted({e for e, _, _ in UPDATES if e != "SET"}))
def test_a_parsed_tree_is_copied_as_deepcopy_copies_it(expression: str) -> None:
    tree = UpdateExpressionParser.make(expression)
    original: set[int] = set()
    copied: set[int] = set()

    assert _shape(moto_expressions.deepcopy(tree), copied) == _shape(copy.deepcopy(tree), set())
    _shape(tree, original)
    assert not original & copied  # no node is shared with the tree it came from


def test_anything_but_nodes_and_strings_is_left_to_deepcopy() -> None:
    value = DDBTypedValue(DynamoType({"L": [{"S": "a"}]}))
    copied = moto_expressions.deepcopy(value)

    assert copied.children[0] == value.children[0]
    assert copied.children[0] is not value.children[0]
