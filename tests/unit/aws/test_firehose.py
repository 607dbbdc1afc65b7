"""The Firehose adapter's request body: the same JSON document botocore would write, and a Stubber
still sees the records the caller passed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.stub import Stubber

from lakegate.aws.firehose import FirehoseSink, encode_records_fast

RECORDS = [b'LG1 {"n":1}\n{"a":1}\n', bytes(range(256)) * 40, b""]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: object, **__: object) -> Any:
        yield self._body

    def read(self, *_: object) -> bytes:
        return self._body


def _client(sent: list[Any]) -> Any:
    """A real botocore Firehose client whose requests stop at the HTTP layer, after signing."""
    session = botocore.session.get_session()
    client = session.create_client(
        "firehose", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        answer = {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"}] * len(RECORDS)}
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw(json.dumps(answer).encode()))

    client.meta.events.register("before-send", cast("Callable[..., None]", send))
    return client


def test_the_body_is_the_json_botocore_writes() -> None:
    # Given two clients, one left as botocore makes it and one encoding records the fast way
    plain: list[Any] = []
    fast: list[Any] = []
    _client(plain).put_record_batch(DeliveryStreamName="s", Records=[{"Data": r} for r in RECORDS])
    assert FirehoseSink("s", _client(fast)).put_records(RECORDS) == [None] * len(RECORDS)
    # Then both send the same JSON document (the body is set before botocore makes, signs and sends the
    # request, so the signature covers it as any other)
    (a,), (b,) = plain, fast
    assert json.loads(b.body) == json.loads(a.body)
    assert json.loads(b.body)["Records"][0] == {"Data": "TEcxIHsibiI6MX0KeyJhIjoxfQo="}
    assert b.headers["X-Amz-Target"] == a.headers["X-Amz-Target"]
    assert "Signature=" in b.headers["Authorization"].decode()
    assert int(b.headers["Content-Length"]) == len(b.body) < len(a.body)


def test_registering_twice_encodes_once() -> None:
    sent: list[Any] = []
    client = _client(sent)
    encode_records_fast(client)
    FirehoseSink("s", client).put_records(RECORDS[:1])
    FirehoseSink("s", client).put_records(RECORDS[:1])
    assert [json.loads(r.body)["Records"] for r in sent] == [[{"Data": "TEcxIHsibiI6MX0KeyJhIjoxfQo="}]] * 2


def test_a_stubber_sees_the_records_the_caller_passed() -> None:
    client = _client([])
    sink = FirehoseSink("s", client)
    with Stubber(client) as stub:
        stub.add_response(
            "put_record_batch",
            {"FailedPutCount": 1, "RequestResponses": [{"ErrorCode": "X", "ErrorMessage": "m"}]},
            {"DeliveryStreamName": "s", "Records": [{"Data": RECORDS[0]}]},
        )
        assert sink.put_records(RECORDS[:1]) == ["X"]
        stub.assert_no_pending_responses()


def test_botocore_still_validates_the_call() -> None:
    from botocore.exceptions import ParamValidationError

    client = _client([])
    encode_records_fast(client)
    with pytest.raises(ParamValidationError):
        client.put_record_batch(DeliveryStreamName="s", Records=[])
