"""Tinybird's web analytics tracker, flock.js, into data sources defined with its starter kit's schema.

flock.js 1.4.1 (the only version on npm, pinned in tests/e2e/clients/package-lock.json) runs unmodified in
Node with a stand-in browser (tests/e2e/clients/flock.mjs): its own code builds the request (the token in
the query string, `Content-Type: application/json`, `toISOString()` timestamps, the payload as a JSON
string) and the stand-in sends it as a browser would, CORS preflight first. The starter kit's later flock
(1.7.0, not published to npm) adds `tenant_id` and `domain` and may send the payload as an object: those
requests are sent here byte for byte as it builds them. Rows are read back from the lake's Parquet.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.lake import landed
from tests.e2e.local_server import LocalServer
from tests.e2e.node_clients import run_script
from tests.e2e.web_analytics import ISO_MILLIS_Z, STARTER_KIT_2024, STARTER_KIT_2025, define, post, second


@pytest.fixture(scope="module")
def flock(server: LocalServer) -> dict[str, Any]:
    name = f"analytics_events_{uuid.uuid4().hex[:8]}"
    define(server, name, STARTER_KIT_2024)
    out: dict[str, Any] = run_script(
        "flock.mjs", {"API": server.api, "TOKEN": server.token, "DATASOURCE": name}
    )
    out["name"] = name
    return out


def test_flock_builds_its_request_as_documented(server: LocalServer, flock: dict[str, Any]) -> None:
    """What flock.js's own code sends: lakegate must take exactly this from a browser."""
    page_hit, custom = (hit["request"] for hit in flock["hits"])
    for request in (page_hit, custom):
        assert request["method"] == "POST"
        assert request["async"] is True
        # data-host's trailing slash stripped, nothing encoded, the token in the query string
        assert request["url"] == f"{server.api}/v0/events?name={flock['name']}&token={server.token}"
        assert request["headers"] == {"Content-Type": "application/json"}
        sent = json.loads(request["body"])
        assert list(sent) == ["timestamp", "action", "version", "session_id", "payload"]
        assert ISO_MILLIS_Z.match(sent["timestamp"])
        assert isinstance(sent["payload"], str)
    assert json.loads(json.loads(custom["body"])["payload"])["email"] == "********"


def test_a_browser_lets_flocks_requests_through(flock: dict[str, Any]) -> None:
    """The CORS preflight `application/json` calls for, answered by the function as in AWS."""
    for hit in flock["hits"]:
        assert (hit["preflight"]["status"], hit["status"]) == (204, 202)
        assert hit["body"] == '{"successful_rows":1,"quarantined_rows":0}'
        assert hit["browserAllows"], hit


def test_flocks_hits_land_in_the_starter_kits_schema(server: LocalServer, flock: dict[str, Any]) -> None:
    # Given flock's two requests into the 2024 starter kit's data source (`timestamp DateTime`)
    page_hit, custom = (json.loads(hit["request"]["body"]) for hit in flock["hits"])
    session = flock["cookies"]["session-id"]

    # Then both rows are in its Parquet: toISOString's milliseconds dropped by DateTime, nothing quarantined
    rows = landed(server, flock["name"], 2, order_by="action DESC")
    assert [{**r, "payload": json.loads(r["payload"])} for r in rows] == [
        {
            "timestamp": second(page_hit["timestamp"]),
            "session_id": session,
            "action": "page_hit",
            "version": "1",
            "payload": {
                "user-agent": "Mozilla/5.0 (lakegate e2e)",
                "locale": "pt-PT",
                "referrer": "https://www.google.com/",
                "pathname": "/checkout",
                "href": f"{flock['origin']}/checkout?step=2",
                "store": "lisbon",
            },
        },
        {
            "timestamp": second(custom["timestamp"]),
            "session_id": session,
            "action": "add_to_cart",
            "version": "1",
            "payload": {"sku": "A-1", "email": "********", "qty": 2, "store": "lisbon"},
        },
    ]
    # The payload string is stored as flock wrote it, byte for byte
    assert rows[0]["payload"] == page_hit["payload"]


def test_the_starter_kits_later_flock_and_fixtures_land_in_its_current_schema(server: LocalServer) -> None:
    # Given the current starter kit's data source (Nullable session id, tenant_id and domain defaulted)
    name = f"analytics_events_{uuid.uuid4().hex[:8]}"
    define(server, name, STARTER_KIT_2025)
    lines = [
        # flock 1.7.0: tenant and domain from its script tag, the payload a JSON string (the default)...
        {"timestamp": "2026-12-01T03:11:10.875Z", "action": "page_hit", "version": "1", "session_id": "s-1",
         "tenant_id": "acme", "domain": "shop.example", "payload": '{"pathname":"/","locale":"en-US"}'},
        # ...or an object with data-stringify-payload="false": a String column keeps it as its JSON text
        {"timestamp": "2026-12-01T03:11:11.001Z", "action": "web_vital", "version": "1", "session_id": "s-1",
         "tenant_id": "acme", "domain": "shop.example", "payload": {"name": "LCP", "value": 812.5}},
        # flock 1.4.1 without a session cookie leaves session_id out, and knows no tenant or domain
        {"timestamp": "2026-12-01T03:11:12.999Z", "action": "page_hit", "version": "1", "payload": "{}"},
        # the starter kit's own fixture (tinybird/fixtures/analytics_events.ndjson), space-separated
        {"timestamp": "2023-09-30 05:00:03", "session_id": "ba810632", "action": "page_hit",
         "version": "v2.6.6", "payload": '{\n  "pathname": "/"\n}', "tenant_id": "", "domain": "demo.site"},
    ]  # fmt: skip

    # When each is sent as flock sends it: one JSON object, application/json, the token in the query
    for line in lines:
        status, answer = post(
            server,
            f"/v0/events?name={name}&token={server.token}",
            json.dumps(line, separators=(",", ":")).encode(),
            {"Content-Type": "application/json"},
        )
        assert (status, answer) == (202, {"successful_rows": 1, "quarantined_rows": 0})

    # Then all four land, the defaults and the null filled in
    rows = landed(server, name, 4, order_by="timestamp")
    assert [(r["timestamp"], r["session_id"], r["action"], r["tenant_id"], r["domain"]) for r in rows] == [
        (datetime(2023, 9, 30, 5, 0, 3, tzinfo=UTC), "ba810632", "page_hit", "", "demo.site"),
        (datetime(2026, 12, 1, 3, 11, 10, tzinfo=UTC), "s-1", "page_hit", "acme", "shop.example"),
        (datetime(2026, 12, 1, 3, 11, 11, tzinfo=UTC), "s-1", "web_vital", "acme", "shop.example"),
        (datetime(2026, 12, 1, 3, 11, 12, tzinfo=UTC), None, "page_hit", "", ""),
    ]
    assert [r["payload"] for r in rows] == [
        '{\n  "pathname": "/"\n}',
        '{"pathname":"/","locale":"en-US"}',
        '{"name":"LCP","value":812.5}',
        "{}",
    ]


def test_flock_141s_request_lands_in_the_issues_schema_without_node(server: LocalServer) -> None:
    """flock.js 1.4.1's request as its code builds it, sent from Python: runs where Node.js is missing."""
    name = f"analytics_events_{uuid.uuid4().hex[:8]}"
    define(server, name, STARTER_KIT_2024)
    now = datetime.now(UTC)
    timestamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"  # toISOString()
    payload = json.dumps(
        {"user-agent": "Mozilla/5.0", "locale": "en-US", "pathname": "/"}, separators=(",", ":")
    )
    body = {
        "timestamp": timestamp,
        "action": "page_hit",
        "version": "1",
        "session_id": "3f0c",
        "payload": payload,
    }

    status, answer = post(
        server,
        f"/v0/events?name={name}&token={server.token}",
        json.dumps(body, separators=(",", ":")).encode(),
        {"Content-Type": "application/json"},
    )

    assert (status, answer) == (202, {"successful_rows": 1, "quarantined_rows": 0})
    (row,) = landed(server, name, 1)
    assert row == {**body, "timestamp": now.replace(microsecond=0)}
