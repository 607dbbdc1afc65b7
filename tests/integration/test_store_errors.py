"""Permanent errors are the client's (4xx), transient ones 503, through the real handler on moto: every AWS
error an adapter can meet on a request's path, and the limits the core checks before a store could refuse
(dedup keys and Vayu claim keys within DynamoDB's 2,048-byte key, schemas within a registry item)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.aws import clients
from lakegate.dedup import MAX_KEY_BYTES, key_room
from lakegate.framing import decode_records
from lakegate.ingest.registry import MAX_SCHEMA_BYTES
from tests.integration.aws_faults import Fault, failing
from tests.integration.conftest import Lake, body_of

GOOD = [orjson.dumps({"ref": f"r{i}", "n": i}) for i in range(20)]


def raw_keys(lake: Lake) -> set[str]:
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix="raw/").get("Contents", [])
    return {o["Key"] for o in listed}


def since(lake: Lake, before: set[str]) -> list[tuple[bool, bytes]]:
    """(quarantine?, row) for every row of the raw objects written after `before` was listed, sorted."""
    blobs = [lake.s3.get_object(Bucket=lake.bucket, Key=k)["Body"].read() for k in raw_keys(lake) - before]
    return sorted(
        (rec.header.quarantine, row) for b in blobs for rec in decode_records(b) for row in rec.rows
    )


def claims(lake: Lake) -> list[str]:
    items = lake.ddb.scan(TableName=lake.env["REFS_TABLE"])["Items"]
    return sorted(i["pk"]["S"] for i in items)


def registry_names(lake: Lake) -> list[str]:
    """The data sources of the registry (its index items, `#name:` and `#id:`, left out)."""
    items = lake.ddb.scan(TableName=lake.env["DATASOURCES_TABLE"])["Items"]
    return sorted(i["name"]["S"] for i in items if not i["name"]["S"].startswith("#"))


@pytest.fixture
def orders(lake: Lake) -> Lake:
    """A data source keyed by `$.ref` (inferred from a `ref` field), created async."""
    assert lake.post(b'{"ref": "seed", "n": 0}', "name=orders")["statusCode"] == 202
    return lake


# --- dedup keys: what a DynamoDB key can hold -----------------------------------------------------------


@pytest.mark.parametrize("wait", [True, False])
def test_a_ref_no_key_can_hold_is_quarantined_and_the_rest_of_the_batch_lands(
    orders: Lake, wait: bool
) -> None:
    long_row = orjson.dumps({"ref": "x" * 3000, "n": 99})
    before = raw_keys(orders)

    resp = orders.post(
        b"\n".join([*GOOD[:10], long_row, *GOOD[10:]]), f"name=orders&wait={str(wait).lower()}"
    )

    assert resp["statusCode"] == (200 if wait else 202), resp
    assert body_of(resp) == {"successful_rows": 20, "quarantined_rows": 1}
    rows = since(orders, before)
    assert [r for q, r in rows if not q] == sorted(GOOD)
    (quarantined,) = [orjson.loads(r) for q, r in rows if q]
    assert quarantined["line"] == long_row.decode() and quarantined["column"] == "ref"
    room = key_room("ws1", "orders")
    assert quarantined["error"] == (
        f"dedup key too long: the value at $.ref takes 3000 bytes, the limit is {room} bytes "
        f"(a key is stored in DynamoDB, which holds {MAX_KEY_BYTES} bytes with the data source's prefix)"
    )
    # wait=true claimed exactly the good rows; async claims nothing here (the compactor claims at landing)
    expected = [f"ws1#orders#row:r{i}" for i in range(20)] if wait else []
    assert claims(orders) == sorted(expected)


REF_CHARS = st.sampled_from(["a", "é", "€", "😀", "\x00", '"', "\\"])


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    unit=REF_CHARS,
    delta=st.integers(min_value=-8, max_value=8),
    wait=st.booleans(),
)
def test_generated_refs_around_the_limit_land_iff_their_key_fits(
    orders: Lake, unit: str, delta: int, wait: bool
) -> None:
    """Refs of one repeated character (1 to 4 UTF-8 bytes, or escaped in the line) sized around the room:
    accepted exactly when the stored key fits, whatever the JSON escaping in the line."""
    room = key_room("ws1", "orders")
    count = max(1, (room + delta) // len(unit.encode()))
    ref = unit * count
    fits = len(ref.encode()) <= room
    before, held = raw_keys(orders), set(claims(orders))

    resp = orders.post(orjson.dumps({"ref": ref, "n": 1}), f"name=orders&wait={str(wait).lower()}")

    assert resp["statusCode"] == (200 if wait else 202), resp
    answer = body_of(resp)
    new = since(orders, before)
    if not fits:
        assert answer["quarantined_rows"] == 1 and [q for q, _ in new] == [True]
        assert set(claims(orders)) == held
    elif answer.get("duplicate_rows"):  # an earlier example sent this very ref
        assert new == []
    else:
        assert answer == {"successful_rows": 1, "quarantined_rows": 0} and [q for q, _ in new] == [False]
        if wait:
            assert set(claims(orders)) - held == {f"ws1#orders#row:{ref}"}


def test_a_numeric_key_counts_as_its_text(orders: Lake) -> None:
    resp = orders.post(b'{"ref": 12345678901234567890, "n": 1}', "name=orders&wait=true")

    assert body_of(resp) == {"successful_rows": 1, "quarantined_rows": 0}
    assert "ws1#orders#row:12345678901234567890" in claims(orders)


# --- schemas: what a registry item can hold ------------------------------------------------------------


def test_an_inferred_schema_over_a_registry_item_is_a_400_naming_the_limit(lake: Lake) -> None:
    # 400 fields with 1 KB names: under the column cap (500), over what one DynamoDB item holds
    row = orjson.dumps({f"{'k' * 1000}{i}": i for i in range(400)})

    resp = lake.post(row, "name=wide&wait=true")

    assert resp["statusCode"] == 400
    error = body_of(resp)["error"]
    assert f"the limit is {MAX_SCHEMA_BYTES} bytes" in error and "400 KB" in error
    assert "Retry-After" not in resp["headers"]
    assert registry_names(lake) == [] and lake.raw_objects() == []


def test_a_defined_schema_of_thousands_of_long_columns_is_a_400_naming_the_limit(lake: Lake) -> None:
    schema = ", ".join(f"`{'c' * 240}{i}` String `json:$.{'c' * 240}{i}`" for i in range(3000))
    form = orjson.dumps({"name": "wide", "schema": schema})

    resp = lake.post(form, "", path="/v0/datasources", headers={"content-type": "application/json"})

    assert resp["statusCode"] == 400, body_of(resp)
    assert f"the limit is {MAX_SCHEMA_BYTES} bytes" in body_of(resp)["error"]
    assert registry_names(lake) == []


# --- AWS errors: refused as sent (400) or unavailable (503) ---------------------------------------------


# (operation, table env, error code, HTTP status of the fault, reason) -> the status the client gets
CASES: list[tuple[str, str, str, int, str, int]] = [
    ("GetItem", "TOKENS_TABLE", "ProvisionedThroughputExceededException", 400, "", 503),
    ("GetItem", "TOKENS_TABLE", "InternalServerError", 500, "", 503),
    ("GetItem", "DATASOURCES_TABLE", "ThrottlingException", 400, "", 503),
    ("UpdateItem", "RATE_LIMITS_TABLE", "ThrottlingException", 400, "", 503),
    ("UpdateItem", "RATE_LIMITS_TABLE", "RequestLimitExceeded", 400, "", 503),
    ("UpdateItem", "RATE_LIMITS_TABLE", "ValidationException", 400, "", 400),
    ("TransactWriteItems", "DATASOURCES_TABLE", "ValidationException", 400, "", 400),
    ("TransactWriteItems", "DATASOURCES_TABLE", "ServiceUnavailable", 503, "", 503),
    ("TransactWriteItems", "DATASOURCES_TABLE", "ResourceNotFoundException", 400, "", 503),
    ("TransactWriteItems", "DATASOURCES_TABLE", "AccessDeniedException", 400, "", 503),
    ("TransactWriteItems", "DATASOURCES_TABLE", "TransactionCanceledException", 400, "ValidationError", 400),
    ("TransactWriteItems", "DATASOURCES_TABLE", "TransactionCanceledException", 400, "ThrottlingError", 503),
    ("TransactWriteItems", "REFS_TABLE", "TransactionCanceledException", 400, "ValidationError", 400),
    ("TransactWriteItems", "REFS_TABLE", "TransactionCanceledException", 400, "ThrottlingError", 503),
    ("TransactWriteItems", "REFS_TABLE", "ValidationException", 400, "", 400),
    ("TransactWriteItems", "REFS_TABLE", "InternalServerError", 500, "", 503),
]


@pytest.mark.parametrize(("operation", "table", "code", "status", "reason", "expected"), CASES)
def test_each_dynamodb_error_is_the_clients_or_transient_and_nothing_is_inserted(
    lake: Lake, operation: str, table: str, code: str, status: int, reason: str, expected: int
) -> None:
    # A new keyed data source with wait=true: the request reads the token, the registry, counts its
    # windows, creates the source and claims its refs, each a call that can fail.
    fault = Fault(code, status, reason, table=lake.env[table])
    with failing(clients.dynamodb(), operation, fault):
        resp = lake.post(b"\n".join(GOOD[:3]), "name=faulty&wait=true")

    assert fault.calls >= 1, "the request never reached the failing call"
    assert resp["statusCode"] == expected, body_of(resp)
    assert ("Retry-After" in resp["headers"]) == (expected == 503)
    if expected == 400:
        assert "retrying will not help" in body_of(resp)["error"]
    assert lake.raw_objects() == []
    assert claims(lake) == []


def test_a_refused_creation_leaves_nothing_behind_and_a_later_request_creates_it(lake: Lake) -> None:
    with failing(
        clients.dynamodb(),
        "TransactWriteItems",
        Fault("ValidationException", table=lake.env["DATASOURCES_TABLE"]),
    ):
        first = lake.post(GOOD[0], "name=retry")
    second = lake.post(GOOD[0], "name=retry")

    assert (first["statusCode"], second["statusCode"]) == (400, 202)
    assert registry_names(lake) == ["retry"]
    assert since(lake, set()) == [(False, GOOD[0])]


# --- Vayu: claim keys and bodies an answer can hold -----------------------------------------------------


def vayu(lake: Lake, body: bytes, path: str = "/events") -> dict[str, Any]:
    return lake.post(body, "", path=path, headers={"content-type": "application/json"})


def event(ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "api_call",
        "timestamp": "2024-05-01T10:00:00Z",
        "customerAlias": "c",
        "ref": ref,
    } | fields


def test_a_vayu_event_whose_claim_key_cannot_fit_is_invalid_and_the_rest_are_stored(lake: Lake) -> None:
    # 500 control characters: within the 512-byte ref bound, 3,000 bytes once escaped in the claim key
    long = event("\x01" * 500)

    resp = vayu(lake, orjson.dumps({"events": [event("ok"), long]}))

    assert resp["statusCode"] == 200
    answer = body_of(resp)
    assert answer["validEvents"] == [event("ok")]
    assert answer["invalidEvents"][0]["error"].startswith("Event name and ref are too long together")
    assert [orjson.loads(r)["ref"] for _, r in since(lake, set())] == ["ok"]
    assert claims(lake) == ['ws1#events#event:["api_call","ok"]', "ws1#events#ref:ok"]


def test_looking_up_a_ref_no_key_can_hold_is_404(lake: Lake) -> None:
    resp = lake.post(b"", "", path="/events/" + "r" * 3000, method="GET")

    assert resp["statusCode"] == 404
    assert claims(lake) == []


@pytest.mark.parametrize("path", ["/events", "/events/dry-run"])
@pytest.mark.parametrize("depth", [252, 300, 1020])
def test_a_vayu_body_nested_past_what_an_answer_holds_is_a_400(lake: Lake, path: str, depth: int) -> None:
    body = b'{"events": [{"data": ' + b'{"d": ' * depth + b"1" + b"}" * depth + b"}]}"

    resp = vayu(lake, body, path)

    assert resp["statusCode"] == 400
    assert "levels deep, the limit" in body_of(resp)["error"]
    assert lake.raw_objects() == [] and claims(lake) == [] and registry_names(lake) == []


def test_a_defined_schema_whose_json_parameter_nests_too_deeply_is_a_400(lake: Lake) -> None:
    body = b'{"name": "deep", "schema": "a String", "extra": ' + b"[" * 600 + b"]" * 600 + b"}"

    resp = lake.post(body, "", path="/v0/datasources", headers={"content-type": "application/json"})

    assert resp["statusCode"] == 400
    assert registry_names(lake) == []
