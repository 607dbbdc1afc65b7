"""Tinybird's TypeScript SDK (`@tinybirdco/sdk`, pinned in tests/e2e/clients/package-lock.json), unmodified,
against `python -m lakegate_local`: only its `baseUrl` and token change.

tests/e2e/clients/tinybird_sdk.mjs defines a data source in TypeScript, creates it through lakegate's Data
Sources API, ingests through the typed client, the low-level API and the untyped client, and prints what
each call returned and the requests the SDK made. Skipped, saying so, where Node.js or npm is missing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.lake import landed
from tests.e2e.local_server import LocalServer
from tests.e2e.node_clients import run_script

ACCEPTED = {"ok": {"successful_rows": 1, "quarantined_rows": 0}}


@pytest.fixture(scope="module")
def sdk(server: LocalServer) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    out: dict[str, Any] = run_script(
        "tinybird_sdk.mjs", {"API": server.api, "TOKEN": server.token, "SUFFIX": suffix}
    )
    out["name"] = f"sdk_page_views_{suffix}"
    out["suffix"] = suffix
    return out


def test_the_sdk_sends_ndjson_waiting_by_default(sdk: dict[str, Any]) -> None:
    """What the SDK sends, as research found it: lakegate must take exactly this."""
    first, batch = sdk["requests"][:2]
    assert first["url"].endswith(f"/v0/events?name={sdk['name']}&wait=true&from=ts-sdk")
    assert batch["url"].endswith(f"/v0/events?name={sdk['name']}&from=ts-sdk")
    events = [r for r in sdk["requests"] if "/v0/events?" in r["url"]]
    assert len(events) == 5  # an empty batch sends nothing
    for request in events:
        assert request["method"] == "POST"
        assert request["headers"]["content-type"] == "application/x-ndjson"
        assert not request["body"].endswith("\n")  # no trailing newline
    assert batch["body"].count("\n") == 1


def test_the_sdk_defines_ingests_and_its_rows_land(server: LocalServer, sdk: dict[str, Any]) -> None:
    # The data source the SDK's TypeScript definition describes was created as defined
    assert sdk["schema"] == (
        "`timestamp` DateTime `json:$.timestamp`, `at_ms` DateTime64(3) `json:$.at_ms`, "
        "`pathname` String `json:$.pathname`, `action` LowCardinality(String) `json:$.action`, "
        "`session_id` Nullable(String) `json:$.session_id`, `duration` Int32 `json:$.duration`"
    )
    assert sdk["defined"] == 200

    # Every call answered as the SDK expects Tinybird to answer
    assert sdk["typed"] == ACCEPTED
    assert sdk["batch"] == {"ok": {"successful_rows": 2, "quarantined_rows": 0}}
    assert sdk["quarantined"] == {"ok": {"successful_rows": 0, "quarantined_rows": 1}}
    assert sdk["emptyBatch"] == {"ok": {"successful_rows": 0, "quarantined_rows": 0}}

    # And the rows are in the lake as sent: toISOString's fraction dropped for DateTime, kept for DateTime64
    rows = landed(server, sdk["name"], 3, order_by="duration")
    second = datetime(2026, 12, 1, 3, 11, 10, tzinfo=UTC)
    assert [(r["pathname"], r["session_id"], r["duration"]) for r in rows] == [
        ("/p1", "s1", 1),
        ("/p2", "s2", 2),
        ("/p3", None, 3),
    ]
    assert {r["timestamp"] for r in rows} == {second}
    assert {r["at_ms"] for r in rows} == {second.replace(microsecond=875000)}
    assert {r["action"] for r in rows} == {"view"}
    (bad,) = landed(server, f"{sdk['name']}_quarantine", 1)
    assert (bad["pathname"], bad["duration"]) == ("/p4", "four")
    assert bad["c__error"] == ["value 'four' on column 'duration' is not Int32"]


def test_the_untyped_client_creates_a_data_source_from_its_rows(
    server: LocalServer, sdk: dict[str, Any]
) -> None:
    assert sdk["inferred"] == ACCEPTED

    (row,) = landed(server, f"sdk_inferred_{sdk['suffix']}", 1)

    assert row == {"city": "Lisbon", "n": 1, "at": datetime(2026, 12, 1, 3, 11, 10, 875000, tzinfo=UTC)}


def test_errors_reach_the_caller_with_lakegates_message(sdk: dict[str, Any]) -> None:
    reserved, bad_token = sdk["reserved"]["error"], sdk["badToken"]["error"]

    assert (reserved["name"], reserved["status"]) == ("TinybirdApiError", 400)
    assert reserved["message"].startswith(f"The name '{sdk['name']}_quarantine' is reserved")
    assert bad_token == {"name": "TinybirdApiError", "message": "Invalid token", "status": 403}


def test_what_lakegate_does_not_serve_is_refused_clearly(sdk: dict[str, Any]) -> None:
    """Appending from a URL, pipes, SQL, truncate and delete: Tinybird's query side, not an events gateway.
    The SDK surfaces each refusal as a TinybirdApiError; none is taken for a success."""
    unserved = {what: answer["error"] for what, answer in sdk["unserved"].items()}

    assert unserved.pop("append") == {
        "name": "TinybirdApiError",
        "message": "mode 'append' is not supported here: define the Data Source with mode=create, "
        "then append rows with /v0/events",
        "status": 400,
    }
    for what, error in unserved.items():
        assert (what, error["status"], error["message"]) == (
            what,
            404,
            'Request failed with status 404: {"message":"Not Found"}',
        )
