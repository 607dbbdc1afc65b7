"""The refs table (lakegate.dedup.RefStore): a conditional write per key decides the one request that lands a row.

Claims go in TransactWriteItems of up to 100 puts, each `attribute_not_exists(pk) OR expires_at <
:now OR owner = :owner` (an expired claim that TTL has not swept yet counts as free; a key its owner
claims again stays its own, so a retried compaction of the same raw object keeps the same rows). A
cancelled transaction says per item why (CancellationReasons): items that failed their condition are
duplicates, the rest are retried without them. Measured against parallel conditional PutItems (bench/request_rate.py):
1,000 keys take 10 calls instead of 1,000. moto runs transactions slower than puts (6.1 s against
2.1 s with 16 threads), but on DynamoDB a call costs ~5-10 ms of latency, so 10 sequential calls
beat 1,000 calls over 16 threads (~300 ms); the price is 2 WCU per item instead of 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, refused_reasons, translate
from lakegate.dedup import Claim
from lakegate.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
_MAX_ATTEMPTS = 6  # transaction conflicts and throttling, with backoff, before giving up
# Record claims in flight at once: a PutItem takes ~5-10 ms, so 1,000 records take ~0.5 s, not 7 s.
_PARALLEL_PUTS = 16


class DynamoRefStore:
    """The refs table: `pk` the key, `owner` the request that took it, `expires_at` its TTL."""

    def __init__(
        self, table: str, client: DynamoDBClient, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._table = table
        self._client = client
        self._sleep = sleep

    def claim(self, claims: Sequence[Claim], owner: str, now: float) -> set[str]:
        taken: set[str] = set()
        for start in range(0, len(claims), TRANSACTION_ITEMS):
            taken |= self._claim_chunk(list(claims[start : start + TRANSACTION_ITEMS]), owner, now)
        return taken

    def _claim_chunk(self, chunk: list[Claim], owner: str, now: float) -> set[str]:
        taken: set[str] = set()
        attempt = 0
        while chunk:
            try:
                self._client.transact_write_items(TransactItems=[self._put(c, owner, now) for c in chunk])
                return taken
            except ClientError as e:
                if error_code(e) != "TransactionCanceledException":
                    raise translate(e, "ref claim") from e
                reasons = _reasons(e)
                if len(reasons) != len(chunk):
                    raise translate(e, "ref claim") from e
                refused = refused_reasons("ref claim", reasons)
                if refused is not None:  # a key or item DynamoDB will never take: no retry helps
                    raise refused from e
                lost = {c.key for c, r in zip(chunk, reasons, strict=True) if r == "ConditionalCheckFailed"}
                taken |= lost
                chunk = [c for c in chunk if c.key not in lost]
                if not lost:  # conflicts or throttling only: back off and try again
                    attempt += 1
                    if attempt >= _MAX_ATTEMPTS:
                        raise StoreUnavailable(f"ref claim failed: {sorted(set(reasons))}") from e
                    self._sleep(0.02 * 2**attempt)
            except BotoCoreError as e:
                raise translate(e, "ref claim") from e
        return taken

    def _put(self, claim: Claim, owner: str, now: float) -> TransactWriteItemTypeDef:
        owner = claim.owner or owner
        item: dict[str, Any] = {"pk": {"S": claim.key}, "owner": {"S": owner}}
        if claim.payload:
            item["payload"] = {"S": claim.payload}
        if claim.expires_at is not None:
            item["expires_at"] = {"N": str(claim.expires_at)}
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now OR #o = :owner",
                "ExpressionAttributeNames": {"#o": "owner"},
                "ExpressionAttributeValues": {":now": {"N": str(int(now))}, ":owner": {"S": owner}},
            }
        }

    def claim_once(self, claims: Sequence[Claim], owner: str, now: float) -> dict[str, tuple[str, str]]:
        """Record claims (lakegate.lake.records.RecordStore): one conditional PutItem per key, never over a
        live claim (its owner's included), in parallel. A lost condition returns the holder's item with it
        (ReturnValuesOnConditionCheckFailure), so a claim costs one write and no read, and 1 WCU where a
        transaction item costs 2: the compactor claims every record of a keyed data source."""
        if len(claims) <= 1:
            found = [self._claim_once(c, owner, now) for c in claims]
        else:
            with ThreadPoolExecutor(max_workers=min(_PARALLEL_PUTS, len(claims))) as pool:
                found = list(pool.map(lambda c: self._claim_once(c, owner, now), claims))
        return {c.key: holder for c, holder in zip(claims, found, strict=True) if holder is not None}

    def _claim_once(self, claim: Claim, owner: str, now: float) -> tuple[str, str] | None:
        put = self._put(claim, owner, now)["Put"]
        try:
            self._client.put_item(
                TableName=put["TableName"],
                Item=put["Item"],
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise translate(e, "record claim") from e
            item: dict[str, Any] = e.response.get("Item") or {}  # type: ignore[assignment]
            return (str(item.get("owner", {}).get("S", "")), str(item.get("payload", {}).get("S", "")))
        except BotoCoreError as e:
            raise translate(e, "record claim") from e

    def release(self, keys: Sequence[str], owner: str) -> None:
        for key in keys:
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"pk": {"S": key}},
                    ConditionExpression="#o = :owner",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            except ClientError as e:
                if error_code(e) != "ConditionalCheckFailedException":  # no longer ours: leave it
                    raise translate(e, "ref release") from e
            except BotoCoreError as e:
                raise translate(e, "ref release") from e

    def get(self, key: str, now: float) -> str | None:
        try:
            item = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}).get("Item")
        except (ClientError, BotoCoreError) as e:
            raise translate(e, "ref lookup") from e
        if not item or ("expires_at" in item and int(item["expires_at"]["N"]) < now):
            return None
        return str(item.get("payload", {}).get("S", ""))


def _reasons(e: ClientError) -> list[str]:
    raw = e.response.get("CancellationReasons") or []
    return [str(r.get("Code", "None")) for r in raw]
