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

JSON = "application/json"
# The README section that documents each route, as GitHub anchors README's headings: an error's
# `documentation` is `<DOCUMENTATION_URL>#<section>` (config.Settings.documentation_url), lakegate's own
# documentation, not Tinybird's or Vayu's (whose texts describe other limits and other errors).
EVENTS_SECTION = "the-events-api-as-lakegate-answers-it"
VAYU_SECTION = "the-vayu-batch-api"
DATASOURCES_SECTION = "data-sources-define-list-show-analyze"

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


def documentation(base: str, path: str) -> str:
    """The link to the README section of the route at `path` (any other path: the Events API's)."""
    if path.startswith(("/events", "/login")):
        section = VAYU_SECTION
    elif path.startswith(("/v0/datasources", "/v0/analyze")):
        section = DATASOURCES_SECTION
    else:
        section = EVENTS_SECTION
    return f"{base}#{section}"


def error_body(message: str, documentation: str, **extra: Any) -> bytes:
    return orjson.dumps({"error": message, "documentation": documentation} | extra)


def error_response(error: LakegateError, documentation: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body (linking to `documentation`) and extra headers for a domain error."""
    headers: dict[str, str] = dict(error.headers)
    extra: dict[str, Any] = {}
    if isinstance(error, RateLimited | Unavailable):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, PartiallyInserted):
        extra = dict(error.detail)
    return status_of(error), error_body(error.message, documentation, **extra), headers


def internal_error_body(documentation: str) -> bytes:
    """Never echo the exception: it may hold internals. The request id in the logs finds it."""
    return error_body(
        "An unexpected error has occurred: retry the request, the data was not acknowledged", documentation
    )
