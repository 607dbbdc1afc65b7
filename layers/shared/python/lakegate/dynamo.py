"""Helpers shared by the DynamoDB adapters: item (de)serialisation and error translation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from lakegate.errors import StoreUnavailable

_ser = TypeSerializer()
_de = TypeDeserializer()

THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


def to_item(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in d.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def unavailable(e: ClientError | BotoCoreError, what: str) -> StoreUnavailable:
    """A throttled, failing or unreachable DynamoDB, as the domain sees it."""
    code = error_code(e) if isinstance(e, ClientError) else type(e).__name__
    return StoreUnavailable(f"{what} failed: {code}")
