"""Token lookup by hash: the DynamoDB adapter, a warm-Lambda cache in front of it, and a fake."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.dynamo import from_item, to_item, unavailable
from lakegate.ingest.auth import Token

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class TokenStore(Protocol):
    def get(self, token_hash: str) -> Token | None: ...


class DynamoTokenStore:
    """Tokens table keyed by `token_hash`; the plain token is never stored or sent."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self._table = table
        self._client = client

    def get(self, token_hash: str) -> Token | None:
        try:
            resp = self._client.get_item(TableName=self._table, Key={"token_hash": {"S": token_hash}})
        except (ClientError, BotoCoreError) as e:
            raise unavailable(e, "token lookup") from e
        item = resp.get("Item")
        return Token.from_item(from_item(item)) if item else None

    def put(self, item: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item=to_item(item))


class CachedTokenStore:
    """Remembers lookups for a short TTL so a warm Lambda does not read DynamoDB on every request.

    Misses are remembered for a shorter time so a flood of bad tokens cannot hammer the table,
    while a token created a moment ago starts working within seconds.
    """

    def __init__(self, inner: TokenStore, ttl: float, clock: Callable[[], float], max_entries: int = 10_000):
        self._inner = inner
        self._ttl = ttl
        self._miss_ttl = min(ttl, 5.0)
        self._clock = clock
        self._max = max_entries
        self._cache: dict[str, tuple[float, Token | None]] = {}

    def get(self, token_hash: str) -> Token | None:
        now = self._clock()
        hit = self._cache.get(token_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        token = self._inner.get(token_hash)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[token_hash] = (now + (self._ttl if token else self._miss_ttl), token)
        return token


class MemoryTokenStore:
    """A dict of tokens by hash, for unit tests."""

    def __init__(self, tokens: list[Token] | None = None) -> None:
        self.tokens = {t.token_hash: t for t in tokens or []}
        self.lookups = 0

    def get(self, token_hash: str) -> Token | None:
        self.lookups += 1
        return self.tokens.get(token_hash)
