"""AWS errors into domain errors, one way for every adapter: refused as sent (400) or unavailable (503)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from lakegate.aws.errors import REFUSED_CODES, refused_reasons, translate
from lakegate.errors import StoreRefused, StoreUnavailable, StoreUncertain
from lakegate.http import status_of


def client_error(code: str, status: int | None = None) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "Op")


@pytest.mark.parametrize("code", sorted(REFUSED_CODES))
def test_validation_and_size_errors_are_refused_as_sent_a_400(code: str) -> None:
    error = translate(client_error(code), "data source creation")

    assert isinstance(error, StoreRefused)
    assert status_of(error) == 400
    assert error.message == (
        f"The store refused the data source creation as sent ({code}): retrying will not help"
    )


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "ResourceNotFoundException",  # a missing table: the operator's, not the client's
        "AccessDeniedException",
        "SomethingNew",
    ],
)
def test_throttling_5xx_and_the_operators_errors_are_unavailable(code: str) -> None:
    error = translate(client_error(code), "rate limit")

    assert isinstance(error, StoreUnavailable)
    assert str(error) == f"rate limit failed: {code}"


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://dynamodb"),
        ConnectTimeoutError(endpoint_url="https://dynamodb"),
        EndpointConnectionError(endpoint_url="https://dynamodb"),
    ],
)
def test_timeouts_and_connection_errors_are_unavailable(error: Exception) -> None:
    assert isinstance(translate(error, "token lookup"), StoreUnavailable)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "maybe_applied"),
    [
        # Sent, then no answer: the service may have applied it.
        (ReadTimeoutError(endpoint_url="https://firehose"), True),
        (ConnectionClosedError(endpoint_url="https://firehose"), True),
        (client_error("InternalFailure", 500), True),
        # Never sent, or refused before doing anything: definitely not applied.
        (ConnectTimeoutError(endpoint_url="https://firehose"), False),
        (EndpointConnectionError(endpoint_url="https://firehose"), False),
        (client_error("ServiceUnavailableException", 503), False),
        (client_error("ThrottlingException"), False),
    ],
)
def test_a_call_that_may_have_been_applied_is_uncertain(error: Exception, maybe_applied: bool) -> None:
    translated = translate(error, "Firehose PutRecordBatch")  # type: ignore[arg-type]

    assert isinstance(translated, StoreUnavailable)
    assert isinstance(translated, StoreUncertain) is maybe_applied


def test_a_transaction_refused_item_by_item_is_refused_and_a_conflicted_one_is_not() -> None:
    refused = refused_reasons("ref claim", ["None", "ValidationError", "ConditionalCheckFailed"])

    assert isinstance(refused, StoreRefused)
    assert "(ValidationError)" in refused.message
    assert refused_reasons("ref claim", ["None", "ThrottlingError", "TransactionConflict"]) is None
    assert refused_reasons("ref claim", ["ConditionalCheckFailed"]) is None
