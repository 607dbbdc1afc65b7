"""The project's Vayu example (tests/e2e/examples/vayu_events.sh), run as written against
`python -m lakegate_local`: a Vayu client works by changing its base URL and token (the published SDK's
is tests/e2e/test_vayu_client.py).
"""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import ANY

from lakegate.framing import decode_records
from tests.e2e.examples import vayu_example
from tests.e2e.local_server import LocalServer, raw_objects, run_curl

EXAMPLE = vayu_example()


def _run(script: str, server: LocalServer) -> tuple[int, Any]:
    status, body = run_curl(script, server)
    return status, json.loads(body)


def test_the_example_stores_the_event_then_refuses_its_ref(server: LocalServer) -> None:
    (event,) = EXAMPLE.first["validEvents"]
    before = raw_objects(server)

    first = _run(EXAMPLE.script, server)
    landed = [
        json.loads(row)
        for key, blob in raw_objects(server).items()
        if key not in before
        for rec in decode_records(blob)
        for row in rec.rows
    ]
    second = _run(EXAMPLE.script, server)
    fetched = _run(
        f'curl --request GET --url "$API/events/{event["ref"]}" --header "Authorization: Bearer $TOKEN"',
        server,
    )

    # The first send stores the event, the second refuses its ref, and the lookup returns it.
    assert first == (200, EXAMPLE.first)
    assert second == (200, EXAMPLE.again)
    assert [(r["name"], r["ref"], json.loads(r["data"])) for r in landed] == [
        (event["name"], event["ref"], event["data"])
    ]
    assert fetched == (200, {"event": event | {"id": event["ref"], "createdAt": ANY, "updatedAt": ANY}})
