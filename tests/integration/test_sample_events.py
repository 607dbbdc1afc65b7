"""Every sample event in events/ (the ones `sam local invoke` takes) gets the answer it is meant to get."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import ANY

import orjson
import pytest

from tests.integration.conftest import ROOT, Lake, body_of

OK1 = {"successful_rows": 1, "quarantined_rows": 0}
OK2 = {"successful_rows": 2, "quarantined_rows": 0}
VAYU_EVENT = {
    "name": "api_call",
    "timestamp": "2023-09-13T18:25:43.511Z",
    "customerAlias": "customer_12345",
    "ref": "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
    "data": {"key1": "processing_duration", "key2": "api_url"},
}
VAYU_OK = {"validEvents": [VAYU_EVENT], "invalidEvents": []}

# file -> (status, exact body or the start of the error text)
EXPECTED: dict[str, tuple[int, Any]] = {
    "single.json": (202, OK1),
    "batch.json": (202, OK2),
    "json_text_body.json": (202, OK2),
    "gzip.json": (202, OK1),
    "zstd.json": (202, OK1),
    "wait_true.json": (200, OK1),
    "query_token.json": (202, OK2),
    "unknown_params.json": (202, OK1),
    "quarantine.json": (202, {"successful_rows": 2, "quarantined_rows": 2}),
    "bad_token.json": (403, "Invalid token"),
    "no_token.json": (403, "Invalid token"),
    "no_name.json": (400, "The 'name' parameter is required"),
    "bad_name.json": (400, "Invalid Data Source name 'bad-name!'"),
    "empty_body.json": (400, "The request body has no rows"),
    "unsupported_encoding.json": (415, "Unsupported Content-Encoding 'br'"),
    "oversize_gzip_bomb.json": (413, "Decompressed body too large"),
    "preflight.json": (204, None),
    "vayu_batch.json": (200, VAYU_OK),
    "vayu_dry_run.json": (200, VAYU_OK),
    "vayu_get.json": (
        200,
        {"event": VAYU_EVENT | {"id": VAYU_EVENT["ref"], "createdAt": ANY, "updatedAt": ANY}},
    ),
    "vayu_login.json": (200, {"accessToken": ANY}),
}
# Samples that read what another one stored: that one is sent first.
GIVEN = {"vayu_get.json": "vayu_batch.json"}
# Accepted samples that store nothing.
READ_ONLY = {"vayu_dry_run.json", "vayu_get.json", "vayu_login.json"}


def test_every_sample_event_is_covered() -> None:
    assert sorted(p.name for p in (ROOT / "events").glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_event(lake: Lake, name: str) -> None:
    if name in GIVEN:
        assert lake.invoke(_sample(GIVEN[name]))["statusCode"] == EXPECTED[GIVEN[name]][0]
    before = lake.raw_objects()
    status, expected = EXPECTED[name]

    resp = lake.invoke(_sample(name))

    assert resp["statusCode"] == status, resp
    if isinstance(expected, dict):
        assert body_of(resp) == expected
        if name in READ_ONLY:
            assert lake.raw_objects() == before
        else:
            assert lake.raw_objects() != before, "an accepted request must reach the lake"
    elif isinstance(expected, str):
        assert body_of(resp)["error"].startswith(expected)
        assert lake.raw_objects() == []


def _sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads(Path(ROOT / "events" / name).read_bytes())
    return event
