"""AWS errors as the domain sees them: every adapter translates through here, one way for every service.

Two kinds, by error code (never by message text):
- refused: the service will refuse the same request again, whatever the timing (an item over
  DynamoDB's 400 KB, a key over 2,048 bytes, a value S3 or Glue does not take). `StoreRefused`,
  a client error (400), since what the store refused came from the request.
- unavailable: everything else. Throttling, timeouts, connection errors and 5xx are transient; a
  missing table or grant is the operator's, not the client's. Both are `StoreUnavailable` (503 with
  `Retry-After`, nothing inserted), and the 5xx alarm calls the operator for the second.
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError

from lakegate.errors import StoreRefused, StoreUnavailable, StoreUncertain

# Error codes by which a service says "not as sent": DynamoDB (item size, key size, expression values),
# S3 (key or object too long), Glue (a table input). Not Firehose's InvalidArgumentException: the ingest
# frames every record within Firehose's limits, so no request can cause it; it stays unavailable.
REFUSED_CODES = frozenset(
    {
        "ValidationException",
        "ItemCollectionSizeLimitExceededException",
        "KeyTooLongError",
        "EntityTooLarge",
        "MetadataTooLarge",
        "InvalidObjectName",
        "InvalidInputException",
    }
)
# The per-item reasons of a cancelled DynamoDB transaction that mean the same.
REFUSED_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def translate(e: ClientError | BotoCoreError, what: str) -> StoreRefused | StoreUnavailable:
    """The domain error for an AWS error met while doing `what` (e.g. "data source creation")."""
    if isinstance(e, ClientError) and error_code(e) in REFUSED_CODES:
        return StoreRefused(f"The store refused the {what} as sent ({error_code(e)}): retrying will not help")
    return unavailable(e, what)


def refused_reasons(what: str, reasons: Iterable[str]) -> StoreRefused | None:
    """A cancelled transaction whose items were refused as sent, as the domain sees it (else None)."""
    refused = sorted(set(reasons) & REFUSED_REASONS)
    if not refused:
        return None
    return StoreRefused(
        f"The store refused the {what} as sent ({', '.join(refused)}): retrying will not help"
    )


def unavailable(e: ClientError | BotoCoreError, what: str) -> StoreUnavailable:
    """A throttled, failing or unreachable service, as the domain sees it: `StoreUncertain` when the call
    may have been applied (sent, then no answer; or a 500, the service failing part way), else definitely
    not applied (throttled, refused, never connected)."""
    code = error_code(e) if isinstance(e, ClientError) else type(e).__name__
    if isinstance(e, (ReadTimeoutError, ConnectionClosedError)) or (
        isinstance(e, ClientError) and e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 500
    ):
        return StoreUncertain(f"{what} failed: {code}, and may have been applied")
    return StoreUnavailable(f"{what} failed: {code}")
