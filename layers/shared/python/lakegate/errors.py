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


class StoreUnavailable(Exception):
    """An AWS adapter could not reach its service (throttled, timed out); the core maps it to 503."""
