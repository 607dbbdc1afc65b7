"""Vayu's published Python SDK (`vayu-py`), unmodified, against `python -m lakegate_local`.

Only its base URL and its API key change: the SDK logs in at `POST /login`, reads the access
token's `exp`, sends events with it and reads one back, all through its own HTTP code. The events are read
back from the lake's Parquet too.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from openapi.exceptions import ApiException  # type: ignore[import-untyped]
from openapi.models.event import Event  # type: ignore[import-untyped]
from vayu_sdk import EventsAPI, Vayu, VayuClient  # type: ignore[import-untyped]

from lakegate.framing import decode_records
from tests.e2e.lake import landed
from tests.e2e.local_server import LocalServer, raw_objects

DUPLICATE = "Event ref already exists."


def _event(ref: str, **data: Any) -> Event:
    return Event(
        name="api_call",
        timestamp=datetime(2023, 9, 13, 18, 25, 43, 511000, tzinfo=UTC),
        customer_alias="customer_12345",
        ref=ref,
        data=data or None,
    )


def _landed(server: LocalServer, before: dict[str, bytes]) -> list[dict[str, Any]]:
    return [
        json.loads(row)
        for key, blob in raw_objects(server).items()
        if key not in before
        for rec in decode_records(blob)
        for row in rec.rows
    ]


def test_the_sdk_logs_in_sends_events_and_gets_one_back(server: LocalServer) -> None:
    # Given the SDK pointed at lakegate with a lakegate token as its API key
    vayu = Vayu(server.token, server.api)
    ref, other = f"sdk-{uuid.uuid4()}", f"sdk-{uuid.uuid4()}"
    before = raw_objects(server)

    # When it sends two events, then one of them again, and reads the first back
    sent = vayu.events.send([_event(ref, key1="processing_duration"), _event(other)])
    again = vayu.events.send([_event(ref, key1="processing_duration")])
    got = vayu.events.get(ref)

    # Then both are stored once, the repeat is refused, and the read-back is the event as sent
    assert [e.ref for e in sent.valid_events] == [ref, other]
    assert sent.invalid_events == []
    assert again.valid_events == []
    assert [(i.event.ref, i.error) for i in again.invalid_events] == [(ref, DUPLICATE)]
    assert (got.event.name, got.event.customer_alias, got.event.ref, got.event.data) == (
        "api_call",
        "customer_12345",
        ref,
        {"key1": "processing_duration"},
    )
    assert got.event.timestamp == datetime(2023, 9, 13, 18, 25, 43, 511000, tzinfo=UTC)
    assert got.event.id == ref
    assert got.event.created_at == got.event.updated_at
    assert abs((datetime.now(UTC) - got.event.created_at).total_seconds()) < 60
    assert sorted((r["ref"], json.loads(r["data"])) for r in _landed(server, before)) == sorted(
        [(ref, {"key1": "processing_duration"}), (other, {})]
    )
    rows = landed(server, "events", 2, where=f"ref IN ('{ref}', '{other}')", order_by="length(data) DESC")
    assert [(r["name"], r["customerAlias"], r["ref"], json.loads(r["data"])) for r in rows] == [
        ("api_call", "customer_12345", ref, {"key1": "processing_duration"}),
        ("api_call", "customer_12345", other, {}),
    ]
    assert {r["timestamp"] for r in rows} == {datetime(2023, 9, 13, 18, 25, 43, 511000, tzinfo=UTC)}


def test_a_naive_datetime_is_refused_as_not_utc(server: LocalServer) -> None:
    """The SDK writes a naive datetime with `isoformat()`, without an offset: Vayu's text asks for UTC
    (`YYYY-MM-DDTHH:MM:SS.SSSZ`), and lakegate does not guess (README, "The Vayu batch API")."""
    ref = f"sdk-{uuid.uuid4()}"
    event = _event(ref)
    event.timestamp = datetime(2023, 9, 13, 18, 25, 43, 511000)

    sent = Vayu(server.token, server.api).events.send([event])

    assert sent.valid_events == []
    ((invalid, error),) = [(i.event, i.error) for i in sent.invalid_events]
    assert (invalid.ref, invalid.timestamp) == (ref, datetime(2023, 9, 13, 18, 25, 43, 511000))
    assert error.startswith("Event timestamp must be an ISO 8601 date and time in UTC")


def test_the_access_token_is_a_jwt_that_lasts_an_hour(server: LocalServer) -> None:
    client = VayuClient(server.token, server.api)

    EventsAPI(client).send([_event(f"sdk-{uuid.uuid4()}")])
    claims = jwt.decode(client.access_token, options={"verify_signature": False})

    assert client.is_logged_in
    assert 3500 < claims["exp"] - datetime.now(UTC).timestamp() <= 3600


def test_a_wrong_api_key_fails_at_login(server: LocalServer) -> None:
    vayu = Vayu("not-a-lakegate-token", server.api)

    with pytest.raises(ApiException) as e:
        vayu.events.send([_event(f"sdk-{uuid.uuid4()}")])

    assert e.value.status == 403
