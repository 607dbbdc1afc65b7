"""POST /v0/events through the real handler on moto: statuses, bodies, and what lands in S3/DynamoDB."""

from __future__ import annotations

import gzip
import time
from typing import Any

import orjson
import pytest
import zstandard

from lakegate.framing import decode_records
from tests.integration.conftest import ADMIN, Lake, body_of

CHICAGO = b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}'
MADRID = b'{"date": "2020-04-05 00:07:22", "city": "Madrid"}'
DOC = "README.md#the-events-api-as-lakegate-answers-it"


def landed(lake: Lake) -> list[tuple[str, bool, bytes]]:
    """(data source, quarantine?, row bytes) for every row in every raw object."""
    return [
        (rec.header.datasource, rec.header.quarantine, row)
        for blob in lake.raw_objects()
        for rec in decode_records(blob)
        for row in rec.rows
    ]


def test_single_event_creates_the_data_source_and_lands_the_exact_bytes(lake: Lake) -> None:
    resp = lake.post(CHICAGO)

    assert resp["statusCode"] == 202
    assert body_of(resp) == {"successful_rows": 1, "quarantined_rows": 0}
    assert landed(lake) == [("events_test", False, CHICAGO)]
    schema = lake.datasource("events_test")
    assert schema is not None
    assert [(c["name"], c["type"], c["jsonpath"]) for c in schema["columns"]] == [
        ("date", "DateTime", "$.date"),
        ("city", "String", "$.city"),
    ]


def test_batch_with_trailing_newline_and_wait_true_answers_200(lake: Lake) -> None:
    resp = lake.post(CHICAGO + b"\n" + MADRID + b"\n", query="name=events_test&wait=true")

    assert resp["statusCode"] == 200
    assert body_of(resp) == {"successful_rows": 2, "quarantined_rows": 0}
    assert [row for _, _, row in landed(lake)] == [CHICAGO, MADRID]


def test_raw_object_holds_framed_records_byte_for_byte(lake: Lake) -> None:
    lake.post(CHICAGO + b"\n" + MADRID)

    (blob,) = lake.raw_objects()
    head, _, payload = blob.partition(b"\n")
    assert head.startswith(b"LG1 ")
    header = orjson.loads(head[4:])
    assert header["ds"] == "events_test" and header["ws"] == "ws1" and header["q"] == 0
    assert header["rid"] == "apigw-0" and header["n"] == 2 and header["len"] == len(payload)
    assert payload == CHICAGO + b"\n" + MADRID + b"\n"


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_compressed_bodies(lake: Lake, coding: str) -> None:
    data = CHICAGO + b"\n" + MADRID + b"\n"
    packed = gzip.compress(data) if coding == "gzip" else zstandard.ZstdCompressor().compress(data)

    resp = lake.post(packed, headers={"content-encoding": coding})

    assert resp["statusCode"] == 202, resp
    assert [row for _, _, row in landed(lake)] == [CHICAGO, MADRID]


def test_text_body_from_a_json_content_type(lake: Lake) -> None:
    event_resp = lake.post(b"")  # build an event, then make it the text form API Gateway sends
    assert event_resp["statusCode"] == 400
    event = lake.events[-1] | {"body": CHICAGO.decode(), "isBase64Encoded": False}
    event["headers"] = event["headers"] | {"content-type": "application/json"}

    resp = lake.invoke(event)

    assert resp["statusCode"] == 202
    assert [row for _, _, row in landed(lake)] == [CHICAGO]


def test_token_in_query_string(lake: Lake) -> None:
    resp = lake.post(CHICAGO, query=f"name=events_test&token={ADMIN}", token=None)

    assert resp["statusCode"] == 202


def test_unknown_parameters_are_tolerated(lake: Lake) -> None:
    resp = lake.post(CHICAGO, query="name=events_test&mode=append&format=ndjson")

    assert resp["statusCode"] == 202


def test_quarantined_lines_are_counted_and_sent_to_quarantine(lake: Lake) -> None:
    lake.post(CHICAGO)

    resp = lake.post(MADRID + b"\nnot json\n[1]\n" + b'{"date": "yesterday", "city": "Paris"}\n')

    assert resp["statusCode"] == 202
    assert body_of(resp) == {"successful_rows": 1, "quarantined_rows": 3}
    quarantined = [orjson.loads(row) for _, q, row in landed(lake) if q]
    assert [(r["line"], r["column"]) for r in quarantined] == [
        ("not json", ""),
        ("[1]", ""),
        ('{"date": "yesterday", "city": "Paris"}', "date"),
    ]
    assert quarantined[1]["error"] == "the line is not a JSON object"
    assert quarantined[2]["error"] == "value 'yesterday' on column 'date' is not DateTime"


@pytest.mark.parametrize(
    ("headers", "query", "token", "message"),
    [
        (
            {},
            "name=events_test",
            None,
            "Invalid token: send it as 'Authorization: Bearer <token>' or '?token=<token>'",
        ),
        ({}, "name=events_test", "nope", "Invalid token"),
        ({"authorization": "Basic abc"}, "name=events_test", None, "Invalid token: send it as"),
    ],
)
def test_bad_or_absent_token_is_403(
    lake: Lake, headers: dict[str, str], query: str, token: str | None, message: str
) -> None:
    resp = lake.post(CHICAGO, query=query, headers=headers, token=token)

    assert resp["statusCode"] == 403
    assert body_of(resp)["error"].startswith(message)
    assert body_of(resp)["documentation"] == DOC
    assert lake.raw_objects() == []


def test_revoked_and_expired_tokens_are_403(lake: Lake) -> None:
    lake.add_token("revoked-token", ["ADMIN"], revoked=True)
    lake.add_token("expired-token", ["ADMIN"], expires_at=int(time.time()) - 1)

    assert lake.post(CHICAGO, token="revoked-token")["statusCode"] == 403
    assert lake.post(CHICAGO, token="expired-token")["statusCode"] == 403


def test_token_of_another_cluster_is_404(lake: Lake) -> None:
    lake.add_token("eu-token", ["ADMIN"], cluster="eu-west-1")

    resp = lake.post(CHICAGO, token="eu-token")

    assert resp["statusCode"] == 404
    assert "doesn't belong to this cluster" in body_of(resp)["error"]


def test_scope_rules(lake: Lake) -> None:
    lake.add_token("append-all", ["DATASOURCE:APPEND"])
    lake.add_token("append-other", ["DATASOURCES:APPEND:other"])
    lake.add_token("append-this", ["DATASOURCES:APPEND:events_test"])
    lake.add_token("creator", ["DATASOURCE:CREATE"])

    # Given no data source yet: only CREATE (or ADMIN) may make one by inference
    resp = lake.post(CHICAGO, token="append-all")
    assert resp["statusCode"] == 403
    assert "DATASOURCE:CREATE" in body_of(resp)["error"]
    assert lake.datasource("events_test") is None
    assert lake.post(CHICAGO, token="creator")["statusCode"] == 202
    # Then appending needs APPEND on it, all sources or this one
    assert lake.post(MADRID, token="append-all")["statusCode"] == 202
    assert lake.post(MADRID, token="append-this")["statusCode"] == 202
    resp = lake.post(MADRID, token="append-other")
    assert resp["statusCode"] == 403
    assert "DATASOURCE:APPEND" in body_of(resp)["error"]
    assert len(landed(lake)) == 3


@pytest.mark.parametrize("query", ["", "name=", "name=bad-name!", "wait=true", "name=" + "a" * 256])
def test_missing_or_invalid_name_is_400(lake: Lake, query: str) -> None:
    resp = lake.post(CHICAGO, query=query)

    assert resp["statusCode"] == 400
    assert "name" in body_of(resp)["error"]


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \n\r\n"])
def test_body_without_rows_is_400(lake: Lake, data: bytes) -> None:
    resp = lake.post(data)

    assert resp["statusCode"] == 400
    assert body_of(resp)["error"].startswith("The request body has no rows")


def test_unsupported_encoding_is_415(lake: Lake) -> None:
    resp = lake.post(b"\x00\x01", headers={"content-encoding": "br"})

    assert resp["statusCode"] == 415
    assert body_of(resp)["error"] == "Unsupported Content-Encoding 'br': use gzip, zstd or none"


def test_compressed_size_cap_is_413(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_COMPRESSED_BYTES", "1000")

    resp = lake.post(CHICAGO * 30)

    assert resp["statusCode"] == 413
    assert "1500 bytes received, the limit is 1000 bytes" in body_of(resp)["error"]


def test_decompression_bomb_is_413(lake: Lake) -> None:
    bomb = gzip.compress(b"\n" * (11 * 1024 * 1024))

    resp = lake.post(bomb, headers={"content-encoding": "gzip"})

    assert resp["statusCode"] == 413
    assert "more than 10485760 bytes after decompressing gzip" in body_of(resp)["error"]


def test_corrupt_gzip_is_400(lake: Lake) -> None:
    resp = lake.post(b"definitely not gzip", headers={"content-encoding": "gzip"})

    assert resp["statusCode"] == 400
    assert body_of(resp)["error"].startswith("The body is not valid gzip")


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_compressed_body_with_a_text_content_type_is_a_400_saying_which_to_send(
    lake: Lake, coding: str, content_type: str
) -> None:
    data = CHICAGO + b"\n" + MADRID + b"\n"
    packed = gzip.compress(data) if coding == "gzip" else zstandard.ZstdCompressor().compress(data)

    # The event the HTTP API makes of it: a text type's body as a UTF-8 string (lakegate_local.apigw)
    resp = lake.post(packed, headers={"content-type": content_type, "content-encoding": coding})

    assert lake.events[-1]["isBase64Encoded"] is False
    assert resp["statusCode"] == 400
    error = body_of(resp)["error"]
    assert error.startswith(
        f"The body is {coding} but was sent with Content-Type '{content_type}', a text type"
    )
    assert "Content-Type: application/octet-stream (or application/x-ndjson)" in error
    assert lake.raw_objects() == [] and lake.datasource("events_test") is None


def test_a_compressed_body_sent_as_bytes_without_content_encoding_is_decoded(lake: Lake) -> None:
    resp = lake.post(gzip.compress(CHICAGO + b"\n"), headers={"content-type": "application/x-ndjson"})

    assert resp["statusCode"] == 202
    assert landed(lake) == [("events_test", False, CHICAGO)]


def test_cors_preflight_and_headers(lake: Lake) -> None:
    lake.post(b"", method="OPTIONS", token=None, headers={"origin": "https://app.example.com"})
    preflight = lake.events[-1]
    resp = lake.invoke(preflight)

    assert resp["statusCode"] == 204
    assert resp["headers"]["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp["headers"]["Access-Control-Allow-Methods"]
    assert "Authorization" in resp["headers"]["Access-Control-Allow-Headers"]

    ok = lake.post(CHICAGO, headers={"origin": "https://app.example.com"})
    denied = lake.post(CHICAGO, headers={"origin": "https://app.example.com"}, token="nope")
    assert ok["headers"]["Access-Control-Allow-Origin"] == "*"
    assert denied["statusCode"] == 403
    assert denied["headers"]["Access-Control-Allow-Origin"] == "*"


def test_concurrent_creators_converge_on_one_schema(lake: Lake) -> None:
    # Given another request created the source a moment ago, with a schema this batch would not infer
    lake.post(b'{"city": "Chicago", "n": 1}')
    before = lake.datasource("events_test")

    # When a batch with other fields arrives, it is validated against the stored schema, not re-inferred
    resp = lake.post(b'{"city": "Madrid", "n": "x"}')

    assert lake.datasource("events_test") == before
    assert body_of(resp) == {"successful_rows": 0, "quarantined_rows": 1}


def _spied_post(lake: Lake, data: bytes) -> tuple[dict[str, Any], list[list[bytes]]]:
    """POST gzip'd `data`, with every PutRecordBatch call's records seen on the way to moto."""
    from lakegate.aws import clients

    firehose = clients.firehose()
    real = firehose.put_record_batch
    calls: list[list[bytes]] = []

    def spy(**kwargs: Any) -> Any:
        calls.append([r["Data"] for r in kwargs["Records"]])
        return real(**kwargs)

    firehose.put_record_batch = spy  # type: ignore[method-assign]
    try:
        return lake.post(gzip.compress(data), headers={"content-encoding": "gzip"}), calls
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]


ROWS_5MB = [b'{"i": %d, "pad": "%s"}' % (i, b"x" * 200) for i in range(25_000)]


def test_a_5mb_batch_is_split_into_calls_within_firehose_limits(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakegate import framing
    from lakegate.framing import MAX_CALL_BYTES, MAX_CALL_RECORDS, MAX_RECORD_BYTES

    # Given ~5 MB of rows, gzip-compressed as a client would send them, that travel uncompressed (as
    # rows that do not compress do: a 4 MiB request cannot carry 4 MiB of compressed records)
    monkeypatch.setattr(framing, "COMPRESS_FROM_BYTES", MAX_RECORD_BYTES + 1)
    data = b"\n".join(ROWS_5MB) + b"\n"
    assert len(data) > 5_000_000

    resp, calls = _spied_post(lake, data)

    # Then several calls went out, none over a limit, and every row landed exactly once
    assert resp["statusCode"] == 202, resp
    assert body_of(resp) == {"successful_rows": 25_000, "quarantined_rows": 0}
    assert len(calls) >= 2
    for call in calls:
        assert len(call) <= MAX_CALL_RECORDS
        assert sum(map(len, call)) <= MAX_CALL_BYTES
        assert all(len(record) <= MAX_RECORD_BYTES for record in call)
    assert sorted(row for _, _, row in landed(lake)) == sorted(ROWS_5MB)
    assert len(lake.raw_objects()) == len(calls)


def test_large_records_travel_zstd_compressed_and_land_the_same_bytes(lake: Lake) -> None:
    # Given the same 5 MB of (compressible) rows
    resp, calls = _spied_post(lake, b"\n".join(ROWS_5MB))

    # Then their records are compressed (z:1), far smaller than the rows, and the rows land as sent
    assert resp["statusCode"] == 202, resp
    records = [record for call in calls for record in call]
    assert all(b'"z":1}\n' in record[:1024] for record in records)
    assert sum(map(len, records)) < len(b"\n".join(ROWS_5MB)) // 8
    assert sorted(row for _, _, row in landed(lake)) == sorted(ROWS_5MB)


@pytest.mark.parametrize(("method", "path"), [("GET", "/v0/nope"), ("DELETE", "/v0/events"), ("GET", "/")])
def test_a_path_or_method_no_route_serves_is_a_404_not_a_500(lake: Lake, method: str, path: str) -> None:
    resp = lake.post(b"", query="", path=path, method=method)

    assert resp["statusCode"] == 404
    assert body_of(resp)["error"] == f"No route for {path}"


def test_every_error_the_function_answers_links_to_its_readme_section(lake: Lake) -> None:
    datasources = "README.md#data-sources-define-list-show-analyze"
    answers = [
        (lake.post(CHICAGO, "name=bad-name"), DOC),
        (lake.post(CHICAGO, token="nope"), DOC),
        (lake.post(b"", "", path="/v0/events", method="GET"), DOC),  # a method the function has no route for
        (lake.post(b"", "name=x", path="/v0/datasources"), datasources),
        (lake.post(b"", "", path="/v0/datasources/missing", method="GET"), datasources),
        (lake.post(b"", "", path="/v0/analyze"), datasources),
    ]

    assert [a["statusCode"] for a, _ in answers] == [400, 403, 404, 400, 404, 400]
    for answer, link in answers:
        assert set(body_of(answer)) == {"error", "documentation"} and body_of(answer)["documentation"] == link
