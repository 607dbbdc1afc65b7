"""moto's handlers called without Flask (lakegate_local.moto_dispatch) answer as moto's own Flask app does.

Both apps serve this process's moto backends: each case is sent to moto's app and to DirectDispatch in turn,
against the same state, and the answers compared whole (status, headers, body), the per-call request id
(in headers, and in S3's error bodies), its checksum and the date aside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client

from lakegate_local.moto_dispatch import DirectDispatch

# Per call, whoever answers: a new request id (and the CRC32 of a body that holds it), the time.
_VARYING = {"x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "x-amz-crc32", "date", "server"}
_REQUEST_ID = re.compile(rb"<RequestId>[^<]*</RequestId>")  # S3's errors name their request
TABLE = "dispatch_test"
BUCKET = "dispatch-test"


def _auth(service: str) -> dict[str, str]:
    """What moto reads of a SigV4 signature to pick the service and region (it checks no signature)."""
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    }


def _json_call(service: str, target: str, content_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """A call of an AWS JSON protocol: the operation named in X-Amz-Target, its input as the body."""
    return {
        "method": "POST",
        "path": "/",
        "data": json.dumps(body),
        "headers": _auth(service) | {"X-Amz-Target": target, "Content-Type": content_type},
    }


def _dynamodb(action: str, body: dict[str, Any]) -> dict[str, Any]:
    return _json_call("dynamodb", f"DynamoDB_20120810.{action}", "application/x-amz-json-1.0", body)


def _s3(method: str, path: str, data: bytes = b"", **headers: str) -> dict[str, Any]:
    return {"method": method, "path": path, "data": data, "headers": _auth("s3") | headers}


def _firehose(action: str, body: dict[str, Any]) -> dict[str, Any]:
    return _json_call("firehose", f"Firehose_20150804.{action}", "application/x-amz-json-1.1", body)


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[Client, Client]]:
    """moto's server app and DirectDispatch, on fresh backends, with a table and a bucket to read."""
    mock = mock_aws()
    mock.start()  # a clean slate for this module's backends, undone after it
    try:
        moto_app = DomainDispatcherApplication(create_backend_app)
        theirs, ours = Client(moto_app), Client(DirectDispatch(moto_app))
        _send(
            ours,
            _dynamodb(
                "CreateTable",
                {
                    "TableName": TABLE,
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
            ),
        )
        _send(ours, _s3("PUT", f"/{BUCKET}"))
        # What the read cases read, whatever order the cases run in.
        _send(ours, CASES["DynamoDB item written"])
        _send(ours, CASES["S3 object written"])
        yield theirs, ours
    finally:
        mock.stop()


def _send(client: Client, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    response = client.open(**request)
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _VARYING}
    return response.status_code, headers, _REQUEST_ID.sub(b"<RequestId/>", response.get_data())


def _same(apps: tuple[Client, Client], request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    theirs, ours = apps
    expected, got = _send(theirs, request), _send(ours, request)
    assert (got[0], _not_cors(got[1]), got[2]) == (expected[0], _not_cors(expected[1]), expected[2])
    return got


def _not_cors(headers: dict[str, str]) -> dict[str, str]:
    """Flask's CORS extension adds its headers to moto's answers; no AWS client reads them."""
    return {k: v for k, v in headers.items() if not k.startswith("access-control-")}


ITEM = {"pk": {"S": "a"}, "n": {"N": "1"}}

CASES = {
    "DynamoDB item written": _dynamodb("PutItem", {"TableName": TABLE, "Item": ITEM}),
    "DynamoDB item read": _dynamodb("GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "a"}}}),
    "DynamoDB condition failed, with the item": _dynamodb(
        "PutItem",
        {
            "TableName": TABLE,
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    "DynamoDB table missing": _dynamodb("DescribeTable", {"TableName": "missing"}),
    "S3 object written": _s3("PUT", f"/{BUCKET}/a%2Fb c.txt", b"hello", **{"x-amz-meta-my_key": "v"}),
    "S3 object read": _s3("GET", f"/{BUCKET}/a%2Fb c.txt"),
    "S3 object head": _s3("HEAD", f"/{BUCKET}/a%2Fb c.txt"),
    "S3 objects listed": _s3("GET", f"/{BUCKET}?list-type=2"),
    "S3 object missing": _s3("GET", f"/{BUCKET}/missing"),
    "S3 bucket missing": _s3("GET", "/no-such-bucket?list-type=2"),
    "Firehose streams listed": _firehose("ListDeliveryStreams", {}),
    "Firehose stream missing": _firehose(
        "PutRecordBatch", {"DeliveryStreamName": "missing", "Records": [{"Data": "eA=="}]}
    ),
    "no route of the service": {
        "method": "GET",
        "path": "/not/a/route",
        "headers": _auth("dynamodb") | {"X-Amz-Target": "DynamoDB_20120810.ListTables"},
    },
}


@pytest.mark.parametrize("case", CASES)
def test_answers_as_motos_flask_app(apps: tuple[Client, Client], case: str) -> None:
    _same(apps, CASES[case])


def test_the_answers_are_the_ones_expected(apps: tuple[Client, Client]) -> None:
    """The comparison above compares something: each case's answer, as AWS gives it."""
    _, ours = apps
    assert _send(ours, CASES["DynamoDB item read"])[2] == json.dumps({"Item": ITEM}).encode()
    status, _, body = _send(ours, CASES["DynamoDB condition failed, with the item"])
    assert status == 400 and b"ConditionalCheckFailedException" in body and b'"n"' in body
    assert _send(ours, CASES["DynamoDB table missing"])[0] == 400
    status, headers, body = _send(ours, CASES["S3 object head"])
    assert (status, headers["content-length"], body) == (200, "5", b"")
    assert _send(ours, CASES["S3 object read"])[2] == b"hello"
    assert _send(ours, CASES["S3 object missing"])[0] == 404
    assert b"NoSuchBucket" in _send(ours, CASES["S3 bucket missing"])[2]
    assert _send(ours, CASES["Firehose stream missing"])[0] == 400
    assert _send(ours, CASES["no route of the service"])[0] == 404


def test_motos_dashboard_goes_through_flask(apps: tuple[Client, Client]) -> None:
    _, ours = apps
    status, headers, body = _send(ours, {"method": "GET", "path": "/moto-api/"})  # a Flask template
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert b"<html" in body.lower()
