"""AWS faults through the real handler: Firehose partial failure and throttling, DynamoDB throttling."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import ANY, Stubber

import app
from lakegate.aws import clients
from lakegate.framing import decode_records
from lakegate.ingest.events import Ingestor
from tests.integration.conftest import Lake, body_of

ROWS = b'{"city": "Chicago"}\n{"city": "Madrid"}\n'


def _partial(n: int, failed: set[int]) -> dict[str, Any]:
    return {
        "FailedPutCount": len(failed),
        "Encrypted": False,
        "RequestResponses": [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}
            if i in failed
            else {"RecordId": f"r{i}"}
            for i in range(n)
        ],
    }


@pytest.fixture
def seeded(lake: Lake) -> Lake:
    """The data source exists, so each request below makes exactly the Firehose calls under test."""
    assert lake.post(b'{"city": "Paris"}')["statusCode"] == 202
    return lake


def test_partial_putrecordbatch_failure_is_retried_to_success(seeded: Lake) -> None:
    # Given Firehose refuses the only record once, then takes it
    firehose = clients.firehose()
    with Stubber(firehose) as stub:
        stub.add_response("put_record_batch", _partial(1, {0}), {"DeliveryStreamName": ANY, "Records": ANY})
        stub.add_response("put_record_batch", _partial(1, set()), {"DeliveryStreamName": ANY, "Records": ANY})

        resp = seeded.post(ROWS)

        stub.assert_no_pending_responses()
    assert resp["statusCode"] == 202
    assert body_of(resp) == {"successful_rows": 2, "quarantined_rows": 0}


def test_records_refused_until_the_budget_ends_answer_503(seeded: Lake) -> None:
    firehose = clients.firehose()
    with Stubber(firehose) as stub:
        for _ in range(50):
            stub.add_response("put_record_batch", _partial(1, {0}))

        resp = seeded.post(ROWS)

    assert resp["statusCode"] == 503
    assert resp["headers"]["Retry-After"] == "1"
    assert body_of(resp)["error"].startswith("The service is temporarily unavailable")


def test_part_acknowledged_answers_422_naming_what_landed(seeded: Lake) -> None:
    # Given a batch with a quarantined line: two records, the quarantine one never accepted
    firehose = clients.firehose()
    real = firehose.put_record_batch
    calls: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Records"]))
        if len(calls) == 1:
            real(DeliveryStreamName=kwargs["DeliveryStreamName"], Records=kwargs["Records"][:1])
            return _partial(2, {1})
        return _partial(len(kwargs["Records"]), set(range(len(kwargs["Records"]))))

    firehose.put_record_batch = flaky  # type: ignore[method-assign]
    try:
        resp = seeded.post(ROWS + b"oops\n")
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]

    assert resp["statusCode"] == 422
    assert body_of(resp)["inserted_rows"] == 2
    assert body_of(resp)["failed_rows"] == 1
    rows = [row for blob in seeded.raw_objects() for rec in decode_records(blob) for row in rec.rows]
    assert sorted(rows) == [b'{"city": "Chicago"}', b'{"city": "Madrid"}', b'{"city": "Paris"}']


def test_firehose_throttling_then_success(seeded: Lake) -> None:
    firehose = clients.firehose()
    with Stubber(firehose) as stub:
        stub.add_client_error("put_record_batch", "ServiceUnavailableException", "Slow down.", 500)
        stub.add_response("put_record_batch", _partial(1, set()))

        resp = seeded.post(ROWS)

    assert resp["statusCode"] == 202


def test_firehose_timeout_then_success(seeded: Lake) -> None:
    firehose = clients.firehose()
    real = firehose.put_record_batch
    attempts: list[int] = []

    def slow_once(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ReadTimeoutError(endpoint_url="https://firehose.us-east-1.amazonaws.com")
        return real(**kwargs)

    firehose.put_record_batch = slow_once  # type: ignore[method-assign]
    try:
        resp = seeded.post(ROWS)
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]

    assert resp["statusCode"] == 202
    assert len(attempts) == 2
    rows = [row for blob in seeded.raw_objects() for rec in decode_records(blob) for row in rec.rows]
    assert rows.count(b'{"city": "Chicago"}') == 1


def test_dynamodb_throttling_on_token_lookup_is_503(lake: Lake) -> None:
    ddb = clients.dynamodb()
    with Stubber(ddb) as stub:
        for _ in range(3):
            stub.add_client_error("get_item", "ProvisionedThroughputExceededException", "throttled", 400)

        resp = lake.post(ROWS)

    assert resp["statusCode"] == 503
    assert "Retry-After" in resp["headers"]
    assert lake.raw_objects() == []


def test_unexpected_error_is_500_without_internals(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    service = app._get_app()
    monkeypatch.setattr(Ingestor, "ingest", boom)
    assert service is app._get_app()

    resp = lake.post(ROWS)

    assert resp["statusCode"] == 500
    assert "secret" not in resp["body"]
    assert body_of(resp)["error"].startswith("An unexpected error has occurred")
    assert body_of(resp)["documentation"] == "README.md#the-events-api-as-lakegate-answers-it"
    assert lake.raw_objects() == []


def test_non_throttling_client_error_from_firehose_is_503_after_retries(seeded: Lake) -> None:
    firehose = clients.firehose()

    def denied(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, "PutRecordBatch"
        )

    real = firehose.put_record_batch
    firehose.put_record_batch = denied  # type: ignore[method-assign]
    try:
        resp = seeded.post(ROWS)
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]

    assert resp["statusCode"] == 503
