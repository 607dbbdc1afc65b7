"""Rate-limit counters in DynamoDB (lakegate.ingest.rate_limits.WindowCounters): one conditional ADD a lease.

A counter item is `(scope key, window)`; the update `ADD n :want` succeeds only while `n + want <= limit`,
so the leases of a window never pass its limit whatever the concurrency, with no read before the write.
When `want` does not fit, the refusal returns the item as it was (`ReturnValuesOnConditionCheckFailure`)
and the lease asks for what is left. One DynamoDB item takes ~1,000 writes/s, so a limit above
SHARD_CAPACITY is spread over shards that split it exactly (their limits add up to it); a lease tries
its shard first, then the others, so the window is full only when every shard is.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, translate
from lakegate.ingest.rate_limits import Grant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SHARD_CAPACITY = 800  # writes/s one counter item is asked to take, below DynamoDB's 1,000
COUNTER_TTL_SECONDS = 60  # counters are garbage after their second; TTL sweeps them eventually
_RACES = 8  # refusals in a row while other functions take what is left: then the lease gives up


class DynamoWindowCounters:
    """Counters in the rate-limits table, keyed `<scope>#<epoch second>[#<shard>]`."""

    def __init__(self, table: str, client: DynamoDBClient, shard: int | None = None) -> None:
        self._table = table
        self._client = client
        self._shard = shard  # tests pin the first shard tried; production picks one at random

    def take(self, key: str, want: int, limit: int, window: int) -> Grant:
        shards = max(1, math.ceil(limit / SHARD_CAPACITY))
        if shards == 1:
            return self._take(key, want, limit, window)
        first = self._shard if self._shard is not None else random.randrange(shards)
        for i in range(shards):
            shard = (first + i) % shards
            share = limit // shards + (1 if shard < limit % shards else 0)
            grant = self._take(f"{key}#{shard}", min(want, share), share, window)
            if grant.taken:
                # the shared count, estimated from this shard's: every shard is assumed as full
                return Grant(grant.taken, min(limit, grant.count * shards))
        return Grant(0, limit)

    def _take(self, key: str, want: int, limit: int, window: int) -> Grant:
        for _ in range(_RACES):
            added, count = self._add(key, want, limit, window)
            if added:
                return Grant(want, count)
            if count >= limit:
                return Grant(0, count)
            want = min(want, limit - count)
        return Grant(0, limit)

    def _add(self, key: str, want: int, limit: int, window: int) -> tuple[bool, int]:
        """(True, the count after adding `want`), or (False, the count as it was) when `want` did not fit."""
        try:
            resp = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="ADD #n :want SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={
                    ":want": {"N": str(want)},
                    ":room": {"N": str(limit - want)},
                    ":ttl": {"N": str(window + COUNTER_TTL_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                # the item as it was (ReturnValuesOnConditionCheckFailure); no item: count it full
                item: Any = e.response.get("Item") or {}
                return False, int(item.get("n", {}).get("N", limit))
            raise translate(e, "rate limit") from e
        except BotoCoreError as e:
            raise translate(e, "rate limit") from e
        # Read only the attribute we need: emulators differ on what else UPDATED_NEW returns.
        return True, int(resp["Attributes"]["n"]["N"])
