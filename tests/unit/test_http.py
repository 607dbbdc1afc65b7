"""HTTP mapping: the status of each domain error, its JSON body and its headers."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from lakegate.errors import (
    Forbidden,
    InvalidRequest,
    LakegateError,
    NotFound,
    PartiallyInserted,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    UnsupportedEncoding,
    WrongCluster,
)
from lakegate.http import (
    DATASOURCES_SECTION,
    EVENTS_SECTION,
    VAYU_SECTION,
    documentation,
    error_body,
    error_response,
    internal_error_body,
    status_of,
)

DOCS = "README.md#the-events-api-as-lakegate-answers-it"


class MissingName(InvalidRequest):
    """A subclass is mapped like its parent."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequest("bad"), 400),
        (MissingName("bad"), 400),
        (Forbidden("bad"), 403),
        (WrongCluster("bad"), 404),
        (NotFound("bad"), 404),
        (PayloadTooLarge("bad"), 413),
        (UnsupportedEncoding("bad"), 415),
        (PartiallyInserted("bad", {"inserted_rows": 1, "failed_rows": 1}), 422),
        (RateLimited("bad", 3), 429),
        (Unavailable("bad"), 503),
        (LakegateError("bad"), 500),
    ],
)
def test_status_of_each_error(error: LakegateError, status: int) -> None:
    assert status_of(error) == status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequest("The 'name' parameter is required"), 400),
        (Forbidden("Invalid token"), 403),
        (WrongCluster("Wrong cluster"), 404),
        (PayloadTooLarge("Too large"), 413),
        (UnsupportedEncoding("Unsupported Content-Encoding 'br'"), 415),
    ],
)
def test_error_response_body_without_extra_headers(error: LakegateError, status: int) -> None:
    assert error_response(error, DOCS) == (
        status,
        orjson.dumps({"error": error.message, "documentation": DOCS}),
        {},
    )


def test_error_body_exact_bytes() -> None:
    assert error_body("Invalid token", DOCS) == (
        b'{"error":"Invalid token","documentation":"README.md#the-events-api-as-lakegate-answers-it"}'
    )


def test_rate_limited_carries_retry_after() -> None:
    status, body, headers = error_response(RateLimited("Too many requests", retry_after=7), DOCS)
    assert (status, headers) == (429, {"Retry-After": "7"})
    assert orjson.loads(body) == {"error": "Too many requests", "documentation": DOCS}


@pytest.mark.parametrize(
    ("error", "seconds"), [(Unavailable("Try later"), "1"), (Unavailable("Try later", 30), "30")]
)
def test_unavailable_carries_retry_after(error: Unavailable, seconds: str) -> None:
    status, body, headers = error_response(error, DOCS)
    assert (status, headers) == (503, {"Retry-After": seconds})
    assert orjson.loads(body) == {"error": "Try later", "documentation": DOCS}


def test_partially_inserted_body_carries_the_detail() -> None:
    error = PartiallyInserted("Only 2 of 3 rows were inserted", {"inserted_rows": 2, "failed_rows": 1})
    assert error_response(error, DOCS) == (
        422,
        b'{"error":"Only 2 of 3 rows were inserted",'
        b'"documentation":"README.md#the-events-api-as-lakegate-answers-it",'
        b'"inserted_rows":2,"failed_rows":1}',
        {},
    )


def test_internal_error_body_never_contains_exception_text() -> None:
    # The 500 body is fixed text built without the exception: nothing of it (ARNs, keys, stack) can leak.
    assert internal_error_body(DOCS) == (
        b'{"error":"An unexpected error has occurred: retry the request, the data was not acknowledged",'
        b'"documentation":"README.md#the-events-api-as-lakegate-answers-it"}'
    )


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("/v0/events", "the-events-api-as-lakegate-answers-it"),
        ("/events", "the-vayu-batch-api"),
        ("/events/dry-run", "the-vayu-batch-api"),
        ("/events/some-ref", "the-vayu-batch-api"),
        ("/login", "the-vayu-batch-api"),
        ("/v0/datasources", "data-sources-define-list-show-analyze"),
        ("/v0/datasources/x", "data-sources-define-list-show-analyze"),
        ("/v0/analyze", "data-sources-define-list-show-analyze"),
        ("/nowhere", "the-events-api-as-lakegate-answers-it"),
    ],
)
def test_each_route_links_to_its_readme_section(path: str, section: str) -> None:
    assert documentation("https://docs.example.com/lakegate/README.md", path) == (
        f"https://docs.example.com/lakegate/README.md#{section}"
    )


def test_every_linked_section_is_a_heading_of_the_readme() -> None:
    """GitHub's anchor of a heading: lowercased, punctuation dropped, spaces as hyphens."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in readme.splitlines()
        if line.startswith("#")
    }
    for section in (EVENTS_SECTION, VAYU_SECTION, DATASOURCES_SECTION):
        assert section in anchors
