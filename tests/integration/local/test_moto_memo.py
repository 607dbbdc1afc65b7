"""moto's server with its per-call lookups cached: the same answers, the lookups made once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import moto.backends
import moto.core.responses
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from lakegate_local import aws, moto_memo

TABLE = "counters"


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[aws.LocalAws]:
    # Registered first, so that the test undoes what install() replaces.
    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", moto_memo.MOTO_BACKEND_FOR_HOST)
    monkeypatch.setattr(moto.core.responses, "method_names_from_class", moto_memo.MOTO_METHOD_NAMES)
    monkeypatch.setattr(UpdateExpressionParser, "make", moto_memo.MOTO_UPDATE_EXPRESSION)
    monkeypatch.setattr(ConditionExpressionParser, "parse", moto_memo.MOTO_PARSE_CONDITION)
    moto_memo.install()
    running = aws.start(0)
    running.dynamodb().create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield running
    running.dynamodb().delete_table(TableName=TABLE)  # moto's backends outlive its server
    running.stop()


def _add(ddb: Any, limit: int) -> int:
    """The rate limiter's update (lakegate.aws.rate_limits): the count after this call."""
    answer = ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "k"}},
        UpdateExpression="ADD #n :one SET expires_at = :ttl",
        ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}, ":ttl": {"N": "9"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["n"]["N"])


def test_answers_are_moto_s(local_aws: aws.LocalAws) -> None:
    ddb = local_aws.dynamodb()

    assert [_add(ddb, 3) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        _add(ddb, 3)
    for _ in range(2):  # a parse error is raised each time, never remembered as an answer
        with pytest.raises(ClientError, match="Invalid UpdateExpression"):
            ddb.update_item(TableName=TABLE, Key={"pk": {"S": "k"}}, UpdateExpression="SET")
    for _ in range(2):  # what a parse found is checked each time, the second one remembered
        with pytest.raises(
            ClientError, match=r"ExpressionAttributeNames unused in expressions: keys: \{#x\}"
        ):
            ddb.update_item(
                TableName=TABLE,
                Key={"pk": {"S": "k"}},
                UpdateExpression="SET tag = :t",
                ConditionExpression="attribute_exists(#n)",
                ExpressionAttributeNames={"#n": "n", "#x": "x"},
                ExpressionAttributeValues={":t": {"S": "t"}},
            )
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "k"}})["Item"]
    assert item == {"pk": {"S": "k"}, "n": {"N": "3"}, "expires_at": {"N": "9"}}


def test_each_lookup_is_made_once(local_aws: aws.LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = local_aws.dynamodb()
    _add(ddb, 100)  # the first call of a kind looks everything up
    listings: list[int] = []
    parses: list[str] = []
    conditions: list[str] = []
    listed, parse = moto.backends.list_of_moto_modules, moto_memo.MOTO_UPDATE_EXPRESSION
    parse_condition = moto_memo.MOTO_PARSE_CONDITION

    def listing() -> Any:
        listings.append(1)
        return listed()

    def parsing(expression: str) -> Any:
        parses.append(expression)
        return parse(expression)

    def parsing_condition(parser: ConditionExpressionParser) -> Any:
        conditions.append(str(parser.condition_expression))
        return parse_condition(parser)

    monkeypatch.setattr(moto.backends, "list_of_moto_modules", listing)
    monkeypatch.setattr(moto_memo, "MOTO_PARSE_CONDITION", parsing_condition)
    monkeypatch.setattr(moto_memo, "MOTO_UPDATE_EXPRESSION", parsing)

    for _ in range(5):
        _add(ddb, 100)

    assert listings == []
    assert parses == []
    assert conditions == []
