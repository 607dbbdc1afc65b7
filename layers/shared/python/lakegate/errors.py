"""Domain errors: one class per failure a client can act on. `http` maps each to a status."""

from __future__ import annotations


class LakegateError(Exception):
    """Base of every error that answers a request; `message` is safe to show the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # Headers the answer carries whatever the error (the rate-limit figures, once known).
        self.headers: dict[str, str] = {}


class InvalidRequest(LakegateError):
    """The request cannot be processed as sent; retrying the same request will not help."""


class Forbidden(LakegateError):
    """Absent, unknown, revoked or expired token, or a token without the needed scope."""


class WrongCluster(LakegateError):
    """The token's workspace lives in another cluster (region) than this deployment."""


class NotFound(LakegateError):
    """The route or resource does not exist."""


class Conflict(LakegateError):
    """The resource exists already, defined otherwise than the request asks."""


class NameTaken(LakegateError):
    """A new data source's name differs only in case from one the workspace has: Glue lowercases table
    names, so the two would share one table (and, on case-insensitive tools, one folder)."""

    def __init__(self, requested: str, existing: str) -> None:
        super().__init__(
            f"The Data Source name '{requested}' is taken by '{existing}': names are unique whatever their "
            f"case (Glue and Athena lowercase table names). Send to '{existing}', or choose another name"
        )
        self.existing = existing


class PayloadTooLarge(LakegateError):
    """The body, compressed or decompressed, is over a limit."""


class UnsupportedEncoding(LakegateError):
    """`Content-Encoding` is not identity, gzip or zstd."""


class RateLimited(LakegateError):
    """Too many requests in the current window."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PartiallyInserted(LakegateError):
    """Some of the batch was acknowledged and some was not: retrying may duplicate."""

    def __init__(self, message: str, detail: dict[str, int]) -> None:
        super().__init__(message)
        self.detail = detail


class Unavailable(LakegateError):
    """Nothing was inserted and it is safe to retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreRefused(LakegateError):
    """A store refused what the request made it write, as sent (an item over DynamoDB's 400 KB, a key over
    2,048 bytes, a value the service does not take): the same request would be refused again, so it is a
    client error (400), never a 503 that invites a retry. The core checks the limits it knows first, with
    messages naming them; this is the backstop for what it did not foresee."""


class StoreUnavailable(Exception):
    """An AWS adapter could not reach its service (throttled, timed out, a 5xx); the core maps it to 503."""


class StoreUncertain(StoreUnavailable):
    """A call that failed after it was sent (its answer timed out, the connection dropped, the service
    failed inside): the service may have applied it. Sending it again is safe only where a second copy is
    harmless or dropped; where it was the last try, whoever promised exactly once must settle it."""
