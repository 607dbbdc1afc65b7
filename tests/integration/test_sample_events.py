"""Every sample event in events/ (the ones `sam local invoke` takes) gets the answer it is meant to get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import ROOT, Lake, body_of

OK1 = {"successful_rows": 1, "quarantined_rows": 0}
OK2 = {"successful_rows": 2, "quarantined_rows": 0}

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
}


def test_every_sample_event_is_covered() -> None:
    assert sorted(p.name for p in (ROOT / "events").glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_event(lake: Lake, name: str) -> None:
    event = orjson.loads(Path(ROOT / "events" / name).read_bytes())
    status, expected = EXPECTED[name]

    resp = lake.invoke(event)

    assert resp["statusCode"] == status, resp
    if isinstance(expected, dict):
        assert body_of(resp) == expected
        assert lake.raw_objects(), "an accepted request must reach the lake"
    elif isinstance(expected, str):
        assert body_of(resp)["error"].startswith(expected)
        assert lake.raw_objects() == []
