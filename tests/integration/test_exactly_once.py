"""wait=true through the real handler on moto: duplicates dropped, and under injected faults a retry of
the same request lands every row exactly once (proved from what reached S3)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from lakegate.aws import clients
from lakegate.aws.refs import DynamoRefStore
from lakegate.dedup import Claim
from lakegate.framing import decode_records
from tests.integration.conftest import Lake, body_of

WAIT = "name=orders&wait=true"


def batch(*refs: str) -> bytes:
    return b"".join(b'{"ref": "%s", "amount": 1}\n' % r.encode() for r in refs)


def landed_refs(lake: Lake) -> Counter[str]:
    import orjson

    return Counter(
        orjson.loads(row)["ref"]
        for blob in lake.raw_objects()
        for rec in decode_records(blob)
        if not rec.header.quarantine
        for row in rec.rows
    )


@pytest.fixture
def orders(lake: Lake) -> Lake:
    """The `orders` source exists (with a `ref` column, so `$.ref` is its dedup key)."""
    assert lake.post(batch("seed"), query=WAIT)["statusCode"] == 200
    return lake


def test_duplicates_within_a_batch_and_across_requests_are_dropped_and_counted(orders: Lake) -> None:
    first = orders.post(batch("a", "b", "a"), query=WAIT)
    second = orders.post(batch("b", "c"), query=WAIT)

    assert first["statusCode"] == 200
    assert body_of(first) == {"successful_rows": 2, "quarantined_rows": 0, "duplicate_rows": 1}
    assert body_of(second) == {"successful_rows": 1, "quarantined_rows": 0, "duplicate_rows": 1}
    assert landed_refs(orders) == Counter({"seed": 1, "a": 1, "b": 1, "c": 1})


def test_without_wait_rows_are_not_deduplicated_here(orders: Lake) -> None:
    resp = orders.post(batch("a", "a"), query="name=orders")

    assert body_of(resp) == {"successful_rows": 2, "quarantined_rows": 0}
    assert landed_refs(orders)["a"] == 2


def test_partial_firehose_failure_then_retry_lands_each_row_once(orders: Lake) -> None:
    # Given a batch that frames into two records, and a Firehose that takes the first record of the
    # first call and refuses everything else until the send budget ends
    refs = [f"r{i}" for i in range(300)]
    body = b"".join(b'{"ref": "%s", "amount": 1, "pad": "%s"}\n' % (r.encode(), b"x" * 4000) for r in refs)
    firehose = clients.firehose()
    real = firehose.put_record_batch
    calls: list[int] = []

    def refuse_all_but_one(**kwargs: Any) -> Any:
        records = kwargs["Records"]
        calls.append(len(records))
        taken = 1 if len(calls) == 1 else 0
        if taken:
            real(DeliveryStreamName=kwargs["DeliveryStreamName"], Records=records[:1])
        refused = {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}
        return {
            "FailedPutCount": len(records) - taken,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": "ok"}] * taken + [refused] * (len(records) - taken),
        }

    firehose.put_record_batch = refuse_all_but_one  # type: ignore[method-assign]
    try:
        failed = orders.post(body, query=WAIT)
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]

    # Then the answer is a 422 naming what landed and what did not
    assert calls[0] == 2, calls
    assert failed["statusCode"] == 422, failed
    detail = body_of(failed)
    assert detail["inserted_rows"] + detail["failed_rows"] == 300
    assert 0 < detail["inserted_rows"] < 300
    assert "retrying the same request inserts only them" in detail["error"]
    # When the client retries the same request
    retry = orders.post(body, query=WAIT)
    # Then only the rows that had failed are sent, and every row is in S3 exactly once
    assert retry["statusCode"] == 200
    assert body_of(retry) == {
        "successful_rows": detail["failed_rows"],
        "quarantined_rows": 0,
        "duplicate_rows": detail["inserted_rows"],
    }
    assert landed_refs(orders) == Counter({r: 1 for r in [*refs, "seed"]})


def test_throttled_dynamodb_while_claiming_then_retry(orders: Lake) -> None:
    # Given DynamoDB throttles every transaction of the first request
    ddb = clients.dynamodb()

    def throttled(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems"
        )

    real = ddb.transact_write_items
    ddb.transact_write_items = throttled  # type: ignore[method-assign]
    try:
        resp = orders.post(batch("t1", "t2"), query=WAIT)
    finally:
        ddb.transact_write_items = real  # type: ignore[method-assign]

    # Then nothing was sent, the client is told to retry, and the retry lands each row once
    assert resp["statusCode"] == 503
    assert resp["headers"]["Retry-After"] == "1"
    assert "X-RateLimit-Limit" in resp["headers"]
    assert landed_refs(orders) == Counter({"seed": 1})
    assert orders.post(batch("t1", "t2"), query=WAIT)["statusCode"] == 200
    assert landed_refs(orders) == Counter({"seed": 1, "t1": 1, "t2": 1})


def test_firehose_timeout_releases_claims_and_retry_lands_once(orders: Lake) -> None:
    firehose = clients.firehose()
    real = firehose.put_record_batch

    def timeout(**_: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://firehose.us-east-1.amazonaws.com")

    firehose.put_record_batch = timeout  # type: ignore[method-assign]
    try:
        resp = orders.post(batch("x1", "x2"), query=WAIT)
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]

    assert resp["statusCode"] == 503
    assert orders.post(batch("x1", "x2"), query=WAIT)["statusCode"] == 200
    assert landed_refs(orders) == Counter({"seed": 1, "x1": 1, "x2": 1})


# --- the DynamoDB ref store itself -------------------------------------------------------------------


def store(lake: Lake) -> DynamoRefStore:
    return DynamoRefStore(lake.env["REFS_TABLE"], boto3.client("dynamodb"), sleep=lambda _: None)


def test_claims_span_several_transactions_and_report_the_taken_keys(lake: Lake) -> None:
    s = store(lake)
    s.claim([Claim(f"k{i}") for i in range(0, 250, 2)], "first", 1000.0)

    taken = s.claim([Claim(f"k{i}") for i in range(250)], "second", 1000.0)

    assert taken == {f"k{i}" for i in range(0, 250, 2)}
    items = boto3.client("dynamodb").scan(TableName=lake.env["REFS_TABLE"])["Items"]
    owners = Counter(item["owner"]["S"] for item in items)
    assert owners == Counter({"first": 125, "second": 125})


def test_an_expired_claim_not_yet_swept_is_free(lake: Lake) -> None:
    s = store(lake)
    s.claim([Claim("k", expires_at=1000)], "old", 900.0)

    assert s.claim([Claim("k")], "new", 999.0) == {"k"}
    assert s.claim([Claim("k")], "new", 1001.0) == set()
    assert s.get("k", 1001.0) == ""


def test_a_key_claimed_again_by_its_owner_stays_its_own(lake: Lake) -> None:
    # A retried compaction of one raw object claims as the same owner: it must keep the same rows.
    s = store(lake)
    assert s.claim([Claim("k"), Claim("j")], "raw:obj-1", 1.0) == set()

    assert s.claim([Claim("k"), Claim("j")], "raw:obj-1", 2.0) == set()
    assert s.claim([Claim("k")], "raw:obj-2", 2.0) == {"k"}
    items = boto3.client("dynamodb").scan(TableName=lake.env["REFS_TABLE"])["Items"]
    assert {item["pk"]["S"]: item["owner"]["S"] for item in items} == {"k": "raw:obj-1", "j": "raw:obj-1"}


def test_release_only_deletes_the_owners_claims(lake: Lake) -> None:
    s = store(lake)
    s.claim([Claim("mine", payload="p")], "me", 1.0)
    s.claim([Claim("theirs")], "them", 1.0)

    s.release(["mine", "theirs"], "me")

    assert s.get("mine", 2.0) is None
    assert s.get("theirs", 2.0) == ""


@pytest.mark.usefixtures("atomic_items")
def test_racing_claims_of_one_key_have_exactly_one_winner(lake: Lake) -> None:
    barrier = threading.Barrier(6)
    results: dict[int, set[str]] = {}

    def race(i: int) -> None:
        s = store(lake)
        barrier.wait()
        results[i] = s.claim([Claim("contested")], f"owner-{i}", 1.0)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(len(taken) for taken in results.values()) == [0, 1, 1, 1, 1, 1]
