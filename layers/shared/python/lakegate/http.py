"""HTTP mapping: one table from domain error to status, and the JSON bodies and headers clients see."""

from __future__ import annotations

from typing import Any

import orjson

from lakegate.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    LakegateError,
    NameTaken,
    NotFound,
    PartiallyInserted,
    PayloadTooLarge,
    RateLimited,
    StoreRefused,
    Unavailable,
    UnsupportedEncoding,
    WrongCluster,
)

DOCUMENTATION = "https://www.tinybird.co/docs/api-reference/events-api"
JSON = "application/json"

STATUS: dict[type[LakegateError], int] = {
    InvalidRequest: 400,
    StoreRefused: 400,
    NameTaken: 400,
    Forbidden: 403,
    WrongCluster: 404,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedEncoding: 415,
    PartiallyInserted: 422,
    RateLimited: 429,
    Unavailable: 503,
}


def status_of(error: LakegateError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(message: str, **extra: Any) -> bytes:
    return orjson.dumps({"error": message, "documentation": DOCUMENTATION} | extra)


def error_response(error: LakegateError) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and extra headers for a domain error."""
    headers: dict[str, str] = dict(error.headers)
    extra: dict[str, Any] = {}
    if isinstance(error, RateLimited | Unavailable):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, PartiallyInserted):
        extra = dict(error.detail)
    return status_of(error), error_body(error.message, **extra), headers


def internal_error_body() -> bytes:
    """Never echo the exception: it may hold internals. The request id in the logs finds it."""
    return error_body("An unexpected error has occurred: retry the request, the data was not acknowledged")
