"""The tokens table (lakegate.ingest.tokens.TokenStore): tokens looked up by their SHA-256."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import translate
from lakegate.aws.items import from_item, to_item
from lakegate.ingest.auth import Token

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoTokenStore:
    """Tokens table keyed by `token_hash`; the plain token is never stored or sent."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self._table = table
        self._client = client

    def get(self, token_hash: str) -> Token | None:
        try:
            resp = self._client.get_item(TableName=self._table, Key={"token_hash": {"S": token_hash}})
        except (ClientError, BotoCoreError) as e:
            raise translate(e, "token lookup") from e
        item = resp.get("Item")
        return Token.from_item(from_item(item)) if item else None

    def put(self, item: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item=to_item(item))
