"""Vayu's batch API through the real handler on moto: answers, refs, dry run, lookup, and S3."""

from __future__ import annotations

import gzip
from collections import Counter
from typing import Any
from unittest.mock import ANY

import orjson
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from lakegate.aws import clients
from lakegate.framing import decode_records
from lakegate.ingest.vayu import MAX_BODY_BYTES
from lakegate_local.apigw import api_event
from lakegate_local.template import load_stack
from tests.e2e.examples import vayu_example
from tests.integration.compactor_env import Compact, raw_keys
from tests.integration.conftest import ADMIN, ROOT, Lake, body_of

# The project's Vayu example: the body it sends and its answers to a first and a second send.
EXAMPLE = vayu_example()
DUPLICATE = "Event ref already exists."
DOC = "README.md#the-vayu-batch-api"


def ev(ref: str, name: str = "api_call", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "timestamp": "2023-09-13T18:25:43.511Z",
        "customerAlias": "customer_12345",
        "ref": ref,
    } | fields


def as_stored(event: dict[str, Any]) -> dict[str, Any]:
    """`GET /events/{ref}`'s answer: the event as sent, plus Vayu's `id` (the ref) and claim times."""
    return {"event": event | {"id": event["ref"], "createdAt": ANY, "updatedAt": ANY}}


def batch(*events: Any) -> bytes:
    return orjson.dumps({"events": list(events)})


def send(
    lake: Lake,
    body: bytes,
    path: str = "/events",
    token: str | None = ADMIN,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """As a Vayu client sends it: `Content-Type: application/json`, which API Gateway passes as text."""
    h = {"content-type": "application/json"} | (headers or {})
    if token is not None:
        h["authorization"] = f"Bearer {token}"
    event = api_event("POST", path, h, body, request_id=f"apigw-{len(lake.events)}")
    lake.events.append(event)
    return lake.invoke(event)


def get(lake: Lake, ref_path: str, token: str | None = ADMIN) -> dict[str, Any]:
    return lake.post(b"", path=f"/events/{ref_path}", query="", method="GET", token=token)


def landed(lake: Lake) -> list[tuple[str, bool, dict[str, Any]]]:
    return [
        (rec.header.datasource, rec.header.quarantine, orjson.loads(row))
        for blob in lake.raw_objects()
        for rec in decode_records(blob)
        for row in rec.rows
    ]


def refs_items(lake: Lake) -> int:
    return int(lake.ddb.scan(TableName=lake.env["REFS_TABLE"], Select="COUNT")["Count"])


def test_the_example_answers_as_documented(lake: Lake) -> None:
    # The example's answers show the one event both as stored and as a duplicate: the first
    # send stores it (validEvents), the second refuses it (invalidEvents).
    first = send(lake, EXAMPLE.body)
    objects = lake.raw_objects()
    second = send(lake, EXAMPLE.body)

    assert first["statusCode"] == 200
    assert body_of(first) == EXAMPLE.first
    assert second["statusCode"] == 200
    assert body_of(second) == EXAMPLE.again
    assert EXAMPLE.again["invalidEvents"][0]["error"] == DUPLICATE
    assert lake.raw_objects() == objects, "a refused event must not reach the lake"
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["X-RateLimit-Limit"] == "100"


def test_rows_in_s3_have_the_fixed_schema(lake: Lake) -> None:
    send(lake, EXAMPLE.body)
    send(lake, batch(ev("no-data")))

    event = EXAMPLE.first["validEvents"][0]
    # Two objects written within the same second list in no set order: compare by ref.
    assert sorted(landed(lake), key=lambda r: r[2]["ref"]) == [
        ("events", False, {**event, "data": '{"format":"csv","pages":12}'}),
        ("events", False, ev("no-data", data="{}")),
    ]
    schema = lake.datasource("events")
    assert schema is not None
    assert [(c["name"], c["type"], c["jsonpath"]) for c in schema["columns"]] == [
        ("name", "String", "$.name"),
        ("timestamp", "DateTime64(3)", "$.timestamp"),
        ("customerAlias", "String", "$.customerAlias"),
        ("ref", "String", "$.ref"),
        ("data", "String", "$.data"),
    ]


def test_mixed_valid_and_invalid_events(lake: Lake) -> None:
    send(lake, batch(ev("old")))
    events = [
        ev("a"),
        ev("old"),
        ev("b", timestamp="2023-09-13T18:25:43.511+02:00"),
        ev("c", customerAlias=""),
        ev("a"),
        ev("a", name="other_call", data={"n": 1}),
    ]

    resp = send(lake, batch(*events))

    assert resp["statusCode"] == 200
    assert body_of(resp) == {
        "validEvents": [ev("a"), ev("a", name="other_call", data={"n": 1})],
        "invalidEvents": [
            {"event": ev("old"), "error": DUPLICATE},
            {
                "event": ev("b", timestamp="2023-09-13T18:25:43.511+02:00"),
                "error": "Event timestamp must be an ISO 8601 date and time in UTC, "
                "formatted YYYY-MM-DDTHH:MM:SS.SSSZ (e.g. 2023-09-13T18:25:43.511Z).",
            },
            {"event": ev("c", customerAlias=""), "error": "Event customerAlias must be a non-empty string."},
            {"event": ev("a"), "error": DUPLICATE},
        ],
    }
    assert Counter((r["name"], r["ref"]) for _, _, r in landed(lake)) == Counter(
        {("api_call", "old"): 1, ("api_call", "a"): 1, ("other_call", "a"): 1}
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (batch(), "The 'events' array is empty: send between 1 and 1000 events"),
        (batch(*[ev(str(i)) for i in range(1001)]), "Too many events: 1001 were sent"),
        (b'{"events": [', "The request body is not valid JSON"),
        (b"[]", 'The request body must be a JSON object {"events": [...]}'),
        (b'{"events": "x"}', "The 'events' field must be an array of events"),
        (b"", 'The request body is empty: send a JSON object {"events": [...]}'),
    ],
)
def test_a_body_that_is_not_a_batch_is_400(lake: Lake, body: bytes, error: str) -> None:
    resp = send(lake, body)

    assert resp["statusCode"] == 400
    assert body_of(resp)["error"].startswith(error)
    assert body_of(resp)["documentation"] == DOC
    assert lake.raw_objects() == []
    assert lake.datasource("events") is None


def test_1000_events_are_one_batch(lake: Lake) -> None:
    # 100 refs, each sent 10 times: moto copies the whole refs table on every transaction, so
    # 1000 distinct refs would take a minute here (20 TransactWriteItems; in DynamoDB, well under 1 s).
    resp = send(lake, batch(*[ev(f"r{i % 100}") for i in range(1000)]))

    assert resp["statusCode"] == 200
    assert len(body_of(resp)["validEvents"]) == 100
    assert [e["error"] for e in body_of(resp)["invalidEvents"]] == [DUPLICATE] * 900
    assert len(landed(lake)) == 100


def test_a_body_over_256_kb_is_413(lake: Lake) -> None:
    big = batch(ev("big", data={"pad": "x" * MAX_BODY_BYTES}))

    resp = send(lake, big)

    assert resp["statusCode"] == 413
    assert body_of(resp)["error"].startswith("Request body too large")
    assert lake.raw_objects() == []


def test_a_gzip_body_is_read(lake: Lake) -> None:
    resp = lake.post(
        gzip.compress(batch(ev("z"))), path="/events", query="", headers={"content-encoding": "gzip"}
    )

    assert resp["statusCode"] == 200
    assert body_of(resp)["validEvents"] == [ev("z")]


@pytest.mark.parametrize("token", ["not-a-token", None])
def test_bad_or_absent_token_is_403(lake: Lake, token: str | None) -> None:
    for resp in (
        send(lake, batch(ev("a")), token=token),
        send(lake, batch(ev("a")), "/events/dry-run", token=token),
        get(lake, "a", token),
    ):
        assert resp["statusCode"] == 403
        assert body_of(resp)["error"].startswith("Invalid token")
    assert lake.raw_objects() == []


def test_scope_append_on_the_target(lake: Lake) -> None:
    lake.add_token("append-events", ["DATASOURCE:APPEND:events"])
    lake.add_token("append-other", ["DATASOURCE:APPEND:other"])

    ok = send(lake, batch(ev("a")), token="append-events")
    denied = send(lake, batch(ev("b")), token="append-other")

    assert ok["statusCode"] == 200, ok
    assert denied["statusCode"] == 403
    assert (
        body_of(denied)["error"] == "The token lacks the DATASOURCE:APPEND scope for the Data Source 'events'"
    )
    assert "X-RateLimit-Limit" not in denied["headers"]  # refused before it counted in any window
    assert get(lake, "a", "append-other")["statusCode"] == 403
    assert [r["ref"] for _, _, r in landed(lake)] == ["a"]


def test_rate_limit_applies_to_the_vayu_routes(lake: Lake) -> None:
    lake.add_token("slow", ["ADMIN"], datasource_rate_limit=1)

    answers = [send(lake, batch(ev(f"r{i}")), token="slow") for i in range(2)]

    assert [a["statusCode"] for a in answers] in ([200, 429], [200, 200])  # a window may turn between
    if answers[1]["statusCode"] == 429:
        assert answers[1]["headers"]["Retry-After"] == "1"
        assert [r["ref"] for _, _, r in landed(lake)] == ["r0"]


def test_dry_run_answers_like_events_and_stores_nothing(lake: Lake) -> None:
    send(lake, batch(ev("old")))
    objects, claims = lake.raw_objects(), refs_items(lake)

    resp = send(lake, batch(ev("old"), ev("new"), ev("")), "/events/dry-run")

    assert resp["statusCode"] == 200
    assert body_of(resp) == {
        "validEvents": [ev("new")],
        "invalidEvents": [
            {"event": ev("old"), "error": DUPLICATE},
            {"event": ev(""), "error": "Event ref must be a non-empty string."},
        ],
    }
    assert lake.raw_objects() == objects
    assert refs_items(lake) == claims
    assert body_of(send(lake, batch(ev("new"))))["validEvents"] == [ev("new")]


def test_dry_run_on_a_fresh_deployment_creates_nothing(lake: Lake) -> None:
    resp = send(lake, batch(ev("a")), "/events/dry-run")

    assert body_of(resp) == {"validEvents": [ev("a")], "invalidEvents": []}
    assert lake.datasource("events") is None
    assert refs_items(lake) == 0


def test_get_an_event_by_ref(lake: Lake) -> None:
    event = ev("4f6cf35x-2c4y", data={"key1": "processing_duration"})
    odd = ev("a b#c/d?é")
    send(lake, batch(event, odd))

    found = get(lake, "4f6cf35x-2c4y")
    encoded = get(lake, "a%20b%23c%2Fd%3F%C3%A9")
    missing = get(lake, "nope")

    assert found["statusCode"] == 200
    assert body_of(found) == as_stored(event)
    assert encoded["statusCode"] == 200
    assert body_of(encoded) == as_stored(odd)
    assert missing["statusCode"] == 404
    assert body_of(missing) == {"error": "No event with ref 'nope' was found.", "documentation": DOC}


def test_get_uses_the_decoded_path_parameter_api_gateway_sends(lake: Lake) -> None:
    send(lake, batch(ev("a b")))
    lake.post(b"", path="/events/a%20b", query="", method="GET")
    event = lake.events[-1] | {"pathParameters": {"ref": "a b"}}

    assert body_of(lake.invoke(event)) == as_stored(ev("a b"))


@pytest.mark.parametrize("path", ["/events", "/events/dry-run", "/events/some-ref"])
def test_cors_preflight(lake: Lake, path: str) -> None:
    resp = lake.post(
        b"", path=path, query="", method="OPTIONS", token=None, headers={"origin": "https://app.example.com"}
    )

    assert resp["statusCode"] == 204
    assert resp["headers"]["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in resp["headers"]["Access-Control-Allow-Headers"]


# ---------------------------------------------------------------- faults, then the client's retry


def _refused(n: int) -> dict[str, Any]:
    return {
        "FailedPutCount": n,
        "Encrypted": False,
        "RequestResponses": [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}] * n,
    }


def test_firehose_refusing_the_batch_then_a_retry_lands_each_event_once(lake: Lake) -> None:
    send(lake, batch(ev("seed")))  # the data source exists: the request below makes only Firehose calls
    body = batch(ev("a"), ev("b"), ev("seed"))

    # Given Firehose refuses the record until the request's send budget ends
    with Stubber(clients.firehose()) as stub:
        for _ in range(100):
            stub.add_response("put_record_batch", _refused(1))
        failed = send(lake, body)

    # Then nothing was stored, the refs were given back, and the client's retry stores each once
    assert failed["statusCode"] == 503
    assert failed["headers"]["Retry-After"] == "1"
    assert (
        body_of(failed)["error"]
        == "The service is temporarily unavailable: no events were stored, retry later"
    )
    assert get(lake, "a")["statusCode"] == 404
    retry = send(lake, body)
    assert retry["statusCode"] == 200
    assert body_of(retry) == {
        "validEvents": [ev("a"), ev("b")],
        "invalidEvents": [{"event": ev("seed"), "error": DUPLICATE}],
    }
    again = send(lake, body)
    assert body_of(again)["validEvents"] == []
    assert Counter(r["ref"] for _, _, r in landed(lake)) == Counter({"seed": 1, "a": 1, "b": 1})


def test_firehose_refusing_once_is_retried_within_the_request(lake: Lake) -> None:
    send(lake, batch(ev("seed")))
    firehose = clients.firehose()
    real = firehose.put_record_batch
    calls: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(1)
        return _refused(len(kwargs["Records"])) if len(calls) == 1 else real(**kwargs)

    firehose.put_record_batch = flaky  # type: ignore[method-assign]
    try:
        resp = send(lake, batch(ev("a")))
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]

    assert resp["statusCode"] == 200
    assert len(calls) == 2
    assert Counter(r["ref"] for _, _, r in landed(lake)) == Counter({"seed": 1, "a": 1})


def test_refs_table_throttled_is_503_sends_nothing_and_the_retry_lands_once(lake: Lake) -> None:
    send(lake, batch(ev("seed")))
    ddb = clients.dynamodb()
    real = ddb.transact_write_items

    def throttled(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}},
            "TransactWriteItems",
        )

    ddb.transact_write_items = throttled  # type: ignore[method-assign]
    try:
        failed = send(lake, batch(ev("a")))
    finally:
        ddb.transact_write_items = real  # type: ignore[method-assign]

    assert failed["statusCode"] == 503
    assert "Retry-After" in failed["headers"]
    assert [r["ref"] for _, _, r in landed(lake)] == ["seed"]
    assert body_of(send(lake, batch(ev("a"))))["validEvents"] == [ev("a")]
    assert Counter(r["ref"] for _, _, r in landed(lake)) == Counter({"seed": 1, "a": 1})


# ---------------------------------------------------------------- a client that only knows Vayu


def test_a_vayu_client_works_by_changing_only_base_url_and_token(lake: Lake) -> None:
    """The example's curl is the client here, its headers as curl sends them with $TOKEN set (the
    published SDK is run in tests/e2e/test_vayu_client.py)."""
    headers = {k: v.replace("$TOKEN", ADMIN) for k, v in EXAMPLE.headers.items()}
    assert headers == {"authorization": f"Bearer {ADMIN}", "content-type": "application/json"}
    assert EXAMPLE.path == "/events"

    resp = send(lake, EXAMPLE.body, EXAMPLE.path, headers=headers, token=None)

    assert resp["statusCode"] == 200
    assert body_of(resp)["validEvents"] == EXAMPLE.first["validEvents"]
    (event,) = EXAMPLE.first["validEvents"]
    assert body_of(get(lake, event["ref"])) == as_stored(event)


def test_template_routes_the_vayu_paths_and_names_the_target() -> None:
    function = load_stack(ROOT / "template.yaml").function
    routes = {(r.method, r.path) for r in function.routes}
    for path in ("/events", "/events/dry-run", "/events/{ref}"):
        assert {("OPTIONS", path), ("GET" if "{" in path else "POST", path)} <= routes
    assert function.environment["VAYU_DATASOURCE"] == "events"


# --- /v0/events rows and Vayu events keep apart on Vayu's data source -----------------------------------


def _as_row(event: dict[str, Any]) -> bytes:
    """A row of Vayu's data source as a /v0/events client could send it, keyed by its `ref` column."""
    return orjson.dumps(event | {"timestamp": "2023-09-13 18:25:43.511", "data": "{}"})


@pytest.mark.parametrize("wait", [True, False])
def test_a_row_whose_ref_spells_a_vayu_lookup_key_does_not_hide_the_event(
    lake: Lake, compact: Compact, wait: bool
) -> None:
    send(lake, batch(ev("seed")))  # Vayu's data source exists; /v0/events appends to it by name
    row = lake.post(_as_row(ev("ref:X")), f"name=events&wait={str(wait).lower()}")
    assert row["statusCode"] == (200 if wait else 202), row
    for key in sorted(raw_keys(lake)):  # without wait, the row's ref is claimed when it lands
        compact(key)
    assert "ws1#events#row:ref:X" in {
        i["pk"]["S"] for i in lake.ddb.scan(TableName=lake.env["REFS_TABLE"])["Items"]
    }

    stored = send(lake, batch(ev("X")))
    found = get(lake, "X")

    assert body_of(stored) == {"validEvents": [ev("X")], "invalidEvents": []}
    assert found["statusCode"] == 200
    assert body_of(found) == as_stored(ev("X"))


def test_a_row_whose_ref_spells_a_vayu_claim_key_does_not_block_the_event(lake: Lake) -> None:
    send(lake, batch(ev("seed")))
    spelled = 'event:["api_call","Y"]'
    assert lake.post(_as_row(ev(spelled)), "name=events&wait=true")["statusCode"] == 200

    resp = send(lake, batch(ev("Y")))

    assert body_of(resp) == {"validEvents": [ev("Y")], "invalidEvents": []}
    pks = {i["pk"]["S"] for i in lake.ddb.scan(TableName=lake.env["REFS_TABLE"])["Items"]}
    assert {f"ws1#events#row:{spelled}", 'ws1#events#event:["api_call","Y"]', "ws1#events#ref:Y"} <= pks
    assert sorted(r["ref"] for _, _, r in landed(lake)) == sorted(["seed", spelled, "Y"])


def test_a_gzip_batch_sent_as_json_is_a_400_saying_which_content_type_to_send(lake: Lake) -> None:
    resp = send(lake, gzip.compress(batch(ev("gz"))), headers={"content-encoding": "gzip"})

    assert resp["statusCode"] == 400
    assert "Send compressed bodies with Content-Type: application/octet-stream" in body_of(resp)["error"]
    assert lake.raw_objects() == [] and refs_items(lake) == 0


def test_put_events_is_served_as_post_as_vayus_text_says_put(lake: Lake) -> None:
    headers = {"content-type": "application/json", "authorization": f"Bearer {ADMIN}"}
    resp = lake.invoke(api_event("PUT", "/events", headers, batch(ev("p")), request_id="put-1"))
    again = lake.invoke(api_event("PUT", "/events", headers, batch(ev("p")), request_id="put-2"))

    assert resp["statusCode"] == 200 and body_of(resp) == {"validEvents": [ev("p")], "invalidEvents": []}
    assert body_of(again)["invalidEvents"] == [{"event": ev("p"), "error": DUPLICATE}]
    assert [r["ref"] for _, _, r in landed(lake)] == ["p"]


def test_every_error_of_vayus_routes_links_to_lakegates_readme(lake: Lake) -> None:
    answers = [
        send(lake, b"{", token=ADMIN),
        send(lake, batch(ev("x")), token="nope"),
        get(lake, "unknown"),
        lake.post(b"{}", "", path="/login", token=None, headers={"content-type": "application/json"}),
        lake.invoke(api_event("DELETE", "/events", {"authorization": f"Bearer {ADMIN}"})),  # no route (404)
    ]

    assert [a["statusCode"] for a in answers] == [400, 403, 404, 400, 404]
    for answer in answers:
        assert set(body_of(answer)) == {"error", "documentation"}
        assert body_of(answer)["documentation"] == DOC
