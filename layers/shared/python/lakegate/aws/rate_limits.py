"""Rate-limit counters in DynamoDB (lakegate.ingest.rate_limits.RateLimiter): one atomic ADD per scope.

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
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, translate
from lakegate.ingest.rate_limits import Decision, Scope, reset_after

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SHARD_CAPACITY = 800  # writes/s one counter item is asked to take, below DynamoDB's 1,000
COUNTER_TTL_SECONDS = 60  # counters are garbage after their second; TTL sweeps them eventually


class DynamoRateLimiter:
    """Counters in the rate-limits table, keyed `<scope>#<epoch second>[#<shard>]`."""

    def __init__(self, table: str, client: DynamoDBClient, shard: int | None = None) -> None:
        self._table = table
        self._client = client
        self._shard = shard  # tests pin the shard; production picks one at random per request

    def hit(self, scopes: Sequence[Scope], now: float) -> Decision:
        window = int(now)
        reset = reset_after(now)
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
            raise translate(e, "rate limit") from e
        except BotoCoreError as e:
            raise translate(e, "rate limit") from e
        # Read only the attribute we need: emulators differ on what else UPDATED_NEW returns.
        return int(resp["Attributes"]["n"]["N"])
