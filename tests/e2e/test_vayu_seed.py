"""Vayu's published curl example, run as published against `python -m lakegate_local`.

Only the host and the token are replaced: this is the check that a Vayu client works by changing
its base URL and token (the published SDK's is tests/e2e/test_vayu_client.py).
"""

from __future__ import annotations

import json
import re
from typing import Any
from unittest.mock import ANY

from lakegate.framing import decode_records
from tests.e2e.test_seed_examples import SEEDS, LocalServer, _raw_objects, run_curl
from tests.e2e.test_seed_examples import server as server  # noqa: PLC0414 - the same local server fixture

SEED = (SEEDS / "vayu-events-api.txt").read_text()
VAYU_HOST = "https://connect.withvayu.com"


def _published() -> tuple[str, dict[str, Any]]:
    """The first curl example (up to its closing quote) and the response printed right after it."""
    m = re.search(
        r"(curl --request POST.*?--data '\n.*?\n')(\{.*?\n\})Use this endpoint", SEED, flags=re.DOTALL
    )
    assert m is not None, "the Vayu seed's first curl example is not where it was"
    return m.group(1), json.loads(m.group(2))


def _run(script: str, server: LocalServer) -> tuple[int, Any]:
    script = script.replace(VAYU_HOST, server.api).replace("<token>", server.token)
    status, body = run_curl(script, server)
    return status, json.loads(body)


def test_the_published_example_stores_the_event_then_refuses_its_ref(server: LocalServer) -> None:
    script, published = _published()
    (event,) = published["validEvents"]
    before = _raw_objects(server)

    first = _run(script, server)
    landed = [
        json.loads(row)
        for key, blob in _raw_objects(server).items()
        if key not in before
        for rec in decode_records(blob)
        for row in rec.rows
    ]
    second = _run(script, server)
    fetched = _run(
        f"curl --request GET --url {VAYU_HOST}/events/{event['ref']} --header 'Authorization: Bearer <token>'",
        server,
    )

    # The published response shows the event both ways: stored by the first send, refused after.
    assert first == (200, {"validEvents": published["validEvents"], "invalidEvents": []})
    assert second == (200, {"validEvents": [], "invalidEvents": published["invalidEvents"]})
    assert [(r["name"], r["ref"], json.loads(r["data"])) for r in landed] == [
        (event["name"], event["ref"], event["data"])
    ]
    assert fetched == (200, {"event": event | {"id": event["ref"], "createdAt": ANY, "updatedAt": ANY}})
