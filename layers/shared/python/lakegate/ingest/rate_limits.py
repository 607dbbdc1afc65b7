"""Rate limits: fixed one-second windows counted with DynamoDB's atomic ADD, one update per scope.

A counter item is `(scope key, window)`; the conditional update `ADD n :one` succeeds only while
`n < limit`, so a window admits exactly `limit` requests whatever the concurrency, with no read
before the write. One DynamoDB item takes ~1,000 writes/s, so a limit above SHARD_CAPACITY is
spread over shards, each admitting its share: exact per shard, approximate in total (a request
may be refused while another shard still has room; never more than `limit` are admitted).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.dynamo import error_code, unavailable
from lakegate.errors import RateLimited
from lakegate.ingest.auth import Token

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SHARD_CAPACITY = 800  # writes/s one counter item is asked to take, below DynamoDB's 1,000
COUNTER_TTL_SECONDS = 60  # counters are garbage after their second; TTL sweeps them eventually


@dataclass(frozen=True, slots=True)
class Scope:
    """What is counted (e.g. a data source of a workspace) and how many requests a second it may take."""

    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request, and the figures of its tightest scope for the headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def scopes_for(
    token: Token, datasource: str, datasource_limit: int, default_datasource: int, default_workspace: int
) -> list[Scope]:
    """The data source's scope, then the workspace's; a token's override wins over the source's own."""
    ws = token.workspace_id
    return [
        Scope(f"ds#{ws}#{datasource}", token.datasource_rate_limit or datasource_limit or default_datasource),
        Scope(f"ws#{ws}", token.workspace_rate_limit or default_workspace),
    ]


def check(limiter: RateLimiter, scopes: Sequence[Scope], now: float) -> Decision:
    """Count the request; a full window is a 429 that carries the figures and `Retry-After`."""
    decision = limiter.hit(scopes, now)
    if not decision.allowed:
        error = RateLimited(
            f"Too many requests: the limit is {decision.limit} requests per second, retry after "
            f"{decision.reset} s",
            retry_after=decision.reset,
        )
        error.headers.update(decision.headers())
        raise error
    return decision


class RateLimiter(Protocol):
    def hit(self, scopes: Sequence[Scope], now: float) -> Decision:
        """Count one request against every scope, tightest first; stop at the first that is full."""
        ...


def _reset(now: float) -> int:
    return max(1, math.ceil(math.floor(now) + 1 - now))


class DynamoRateLimiter:
    """Counters in the rate-limits table, keyed `<scope>#<epoch second>[#<shard>]`."""

    def __init__(self, table: str, client: DynamoDBClient, shard: int | None = None) -> None:
        self._table = table
        self._client = client
        self._shard = shard  # tests pin the shard; production picks one at random per request

    def hit(self, scopes: Sequence[Scope], now: float) -> Decision:
        window = int(now)
        reset = _reset(now)
        tightest: Decision | None = None
        for scope in scopes:
            shards = max(1, math.ceil(scope.limit / SHARD_CAPACITY))
            shard_limit = math.ceil(scope.limit / shards)
            key = f"{scope.key}#{window}"
            if shards > 1:
                key += f"#{self._shard if self._shard is not None else random.randrange(shards)}"
            count = self._add(key, shard_limit, window)
            if count is None:
                return Decision(False, scope.limit, 0, reset)
            remaining = max(0, scope.limit - count * shards)
            if tightest is None or remaining < tightest.remaining:
                tightest = Decision(True, scope.limit, remaining, reset)
        assert tightest is not None, "at least one scope is always counted"
        return tightest

    def _add(self, key: str, limit: int, window: int) -> int | None:
        """The count after this request, or None when the window is already full."""
        try:
            resp = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="ADD #n :one SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(window + COUNTER_TTL_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return None
            raise unavailable(e, "rate limit") from e
        except BotoCoreError as e:
            raise unavailable(e, "rate limit") from e
        # Read only the attribute we need: emulators differ on what else UPDATED_NEW returns.
        return int(resp["Attributes"]["n"]["N"])


class MemoryRateLimiter:
    """The same counting in a dict, for unit tests."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def hit(self, scopes: Sequence[Scope], now: float) -> Decision:
        window = int(now)
        tightest: Decision | None = None
        for scope in scopes:
            key = f"{scope.key}#{window}"
            if self.counts.get(key, 0) >= scope.limit:
                return Decision(False, scope.limit, 0, _reset(now))
            self.counts[key] = self.counts.get(key, 0) + 1
            remaining = scope.limit - self.counts[key]
            if tightest is None or remaining < tightest.remaining:
                tightest = Decision(True, scope.limit, remaining, _reset(now))
        assert tightest is not None
        return tightest
