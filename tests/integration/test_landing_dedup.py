"""A ref lands once whichever path it came by: rows sent without wait=true are deduplicated by the
compactor against the refs table the wait=true path claims in. Real handlers on moto, Parquet read
back from S3, claims read back from DynamoDB."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError

from lakegate.aws import clients
from lakegate.aws.s3 import S3ObjectStore
from tests.integration.compactor_env import Compact, landed, raw_keys, rows_of
from tests.integration.conftest import REGION, Lake, body_of
from tests.integration.test_vayu_api import batch, ev, send

NAME = "orders"
QUERY = f"name={NAME}"
WAIT = f"name={NAME}&wait=true"


def ndjson(*rows: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in rows)


def order(ref: str, via: str) -> dict[str, Any]:
    return {"ref": ref, "via": via, "amount": 1}


def landed_orders(lake: Lake) -> list[tuple[str, str]]:
    return sorted((r["ref"], r["via"]) for r in rows_of(landed(lake), NAME))


def claims(lake: Lake) -> dict[str, str]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=lake.env["REFS_TABLE"])["Items"]
    return {item["pk"]["S"]: item["owner"]["S"] for item in items}


def compact_new(lake: Lake, compact: Compact, done: set[str]) -> list[dict[str, Any]]:
    """Compact every raw object not compacted yet, oldest first, as the bucket's events would."""
    results = []
    for key in raw_keys(lake):
        if key not in done:
            done.add(key)
            results.append(compact(key))
    return results


def test_async_rows_land_each_ref_once_across_requests_and_within_one(lake: Lake, compact: Compact) -> None:
    # Each request's object is compacted before the next is sent: S3 lists objects of one second in
    # key order (random ids), which need not be the order they were written in.
    done: set[str] = set()
    first_batch = ndjson(order("a", "1st"), order("b", "1st"), order("a", "1st-again"))
    assert lake.post(first_batch, QUERY)["statusCode"] == 202
    (first,) = compact_new(lake, compact, done)
    (first_key,) = done
    assert lake.post(ndjson(order("a", "2nd"), order("c", "2nd")), QUERY)["statusCode"] == 202
    (second,) = compact_new(lake, compact, done)
    (second_key,) = done - {first_key}

    assert (first["rows"], first["duplicate_rows"]) == (2, 1)
    assert (second["rows"], second["duplicate_rows"]) == (1, 1)
    assert landed_orders(lake) == [("a", "1st"), ("b", "1st"), ("c", "2nd")]
    # Refs are held by the record that landed them, records by the object that landed them.
    assert claims(lake) == {
        "ws1#orders#row:a": "record:apigw-0/0",
        "ws1#orders#row:b": "record:apigw-0/0",
        "ws1#orders#row:c": "record:apigw-1/0",
        "#record#apigw-0/0": f"raw:{first_key}",
        "#record#apigw-1/0": f"raw:{second_key}",
    }


def test_a_ref_sent_with_wait_then_without_lands_once(lake: Lake, compact: Compact) -> None:
    # Given a ref claimed by a wait=true request, and the same ref sent again without wait
    waited = lake.post(ndjson(order("x", "wait")), WAIT)
    assert waited["statusCode"] == 200
    assert lake.post(ndjson(order("x", "async"), order("y", "async")), QUERY)["statusCode"] == 202

    # When both raw objects are compacted
    results = compact_new(lake, compact, set())

    # Then the row the wait=true request was answered 200 for is the one that lands
    assert sum(r["duplicate_rows"] for r in results) == 1
    assert landed_orders(lake) == [("x", "wait"), ("y", "async")]
    assert claims(lake)["ws1#orders#row:x"] == "apigw-0"  # the wait=true request's id


def test_a_ref_landed_without_wait_is_a_duplicate_for_a_later_wait_request(
    lake: Lake, compact: Compact
) -> None:
    assert lake.post(ndjson(order("x", "async")), QUERY)["statusCode"] == 202
    compact_new(lake, compact, set())

    resp = lake.post(ndjson(order("x", "wait")), WAIT)

    assert resp["statusCode"] == 200
    assert body_of(resp) == {"successful_rows": 0, "quarantined_rows": 0, "duplicate_rows": 1}
    assert landed_orders(lake) == [("x", "async")]
    assert len(raw_keys(lake)) == 1  # nothing was sent for the duplicate


def test_a_replayed_raw_object_keeps_the_rows_it_claimed(lake: Lake, compact: Compact) -> None:
    assert lake.post(ndjson(order("a", "1st"), order("b", "1st")), QUERY)["statusCode"] == 202
    (key,) = raw_keys(lake)
    compact(key)

    again = compact(key)  # Lambda retries an event, or an operator replays the object

    assert (again["rows"], again["duplicate_rows"]) == (2, 0)
    assert landed_orders(lake) == [("a", "1st"), ("b", "1st")]


def test_a_compaction_that_dies_after_claiming_lands_its_rows_on_retry(
    lake: Lake, compact: Compact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a compaction that claims its refs, then fails to write its Parquet
    assert lake.post(ndjson(order("a", "1st"), order("b", "1st")), QUERY)["statusCode"] == 202
    (key,) = raw_keys(lake)
    real_put = S3ObjectStore.put

    def failing_put(self: S3ObjectStore, k: str, body: bytes, content_type: str) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "S3 hiccup"}}, "PutObject")

    monkeypatch.setattr(S3ObjectStore, "put", failing_put)
    with pytest.raises(ClientError):
        compact(key)
    assert landed(lake) == {}
    assert set(claims(lake)) == {"ws1#orders#row:a", "ws1#orders#row:b", "#record#apigw-0/0"}

    # When Lambda retries the event
    monkeypatch.setattr(S3ObjectStore, "put", real_put)
    result = compact(key)

    # Then the rows land: the claims were the object's own
    assert (result["rows"], result["duplicate_rows"]) == (2, 0)
    assert landed_orders(lake) == [("a", "1st"), ("b", "1st")]


def test_throttled_claims_fail_the_compaction_and_write_nothing_until_retried(
    lake: Lake, compact: Compact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB throttles every ref claim of the compactor
    assert lake.post(ndjson(order("a", "1st")), QUERY)["statusCode"] == 202
    (key,) = raw_keys(lake)
    ddb = clients.dynamodb()
    calls = Counter[str]()

    def throttled(**kwargs: Any) -> Any:
        calls["transact_write_items"] += 1
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "throttled"},
                "CancellationReasons": [{"Code": "ThrottlingError"}],
            },
            "TransactWriteItems",
        )

    real = ddb.transact_write_items
    monkeypatch.setattr(ddb, "transact_write_items", throttled)
    monkeypatch.setattr("lakegate.aws.refs.time.sleep", lambda _: None)

    # When the object is compacted: the handler fails (Lambda retries it), and writes nothing
    with pytest.raises(Exception, match="ref claim failed"):
        compact(key)
    assert calls["transact_write_items"] >= 2  # backed off and retried before giving up
    assert landed(lake) == {}
    assert claims(lake) == {}

    # Then the retry, once DynamoDB recovers, lands the row
    monkeypatch.setattr(ddb, "transact_write_items", real)
    assert compact(key)["rows"] == 1
    assert landed_orders(lake) == [("a", "1st")]


def test_vayu_events_are_not_deduplicated_again_by_ref_alone(lake: Lake, compact: Compact) -> None:
    # Vayu refs are unique per event name: two names may share a ref, and both were answered valid.
    resp = send(lake, batch(ev("r1", name="api_call"), ev("r1", name="login")))
    assert len(body_of(resp)["validEvents"]) == 2

    (result,) = compact_new(lake, compact, set())

    assert (result["rows"], result["duplicate_rows"]) == (2, 0)
    landed_names = Counter((r["name"], r["ref"]) for r in rows_of(landed(lake), "events"))
    assert landed_names == Counter({("api_call", "r1"): 1, ("login", "r1"): 1})


def test_a_data_source_without_a_dedup_key_claims_nothing(lake: Lake, compact: Compact) -> None:
    assert lake.post(ndjson({"id": 1}, {"id": 1}), "name=plain")["statusCode"] == 202

    (result,) = compact_new(lake, compact, set())

    assert (result["rows"], result["duplicate_rows"]) == (2, 0)
    assert claims(lake) == {}
