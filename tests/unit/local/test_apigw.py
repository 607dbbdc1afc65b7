"""HTTP request to payload 2.0 event and back, as API Gateway's HTTP API does it."""

import base64
import json
from typing import Any

import pytest

from lakegate_local.apigw import (
    HttpRequest,
    MalformedResponseError,
    RequestInfo,
    build_event,
    is_text,
    message,
    to_response,
)
from lakegate_local.routing import Match

MATCH = Match("POST /v0/events", {})
INFO = RequestInfo("abc=", now=1583348638.390)


def _event(
    headers: list[tuple[str, str]] | None = None, body: bytes = b"", target: str = "/v0/events"
) -> dict[str, Any]:
    request = HttpRequest(
        method="POST",
        target=target,
        headers=headers or [],
        body=body,
        source_ip="192.0.2.1",
        server_port=8000,
    )
    return build_event(request, MATCH, INFO)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "TEXT/CSV",
        "application/xml",
        "application/javascript",
    ],
)
def test_text_content_types_pass_the_body_as_text(content_type: str) -> None:
    event = _event([("Content-Type", content_type)], b'{"a": "\xc3\xa9"}')
    assert event["body"] == '{"a": "é"}'
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Content-Type", "application/x-www-form-urlencoded")],  # what `curl -d` sends
        [("Content-Type", "application/x-ndjson")],
        [("Content-Type", "application/octet-stream")],
    ],
)
def test_other_bodies_arrive_base64(headers: list[tuple[str, str]]) -> None:
    body = b"\x1f\x8b\x08\x00binary"
    event = _event(headers, body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_gzip_body_with_a_text_type_arrives_as_text_its_other_bytes_replaced(content_type: str) -> None:
    body = b"\x1f\x8b\x08\x00gz"
    event = _event([("Content-Encoding", "gzip"), ("Content-Type", content_type)], body)
    assert event["isBase64Encoded"] is False
    assert event["body"] == "\x1f\ufffd\x08\x00gz"


def test_a_gzip_body_is_never_decompressed() -> None:
    body = b"\x1f\x8b\x08\x00gz"
    event = _event([("Content-Encoding", "gzip"), ("Content-Type", "application/x-ndjson")], body)
    assert event["headers"]["content-encoding"] == "gzip"
    assert base64.b64decode(event["body"]) == body


def test_no_body() -> None:
    event = _event()
    assert "body" not in event
    assert event["isBase64Encoded"] is False


def test_headers_lower_cased_and_repeats_joined() -> None:
    event = _event(
        [("X-Thing", "a"), ("x-thing", "b"), ("Authorization", "Bearer t"), ("User-Agent", "curl/8")]
    )
    headers = event["headers"]
    assert headers["x-thing"] == "a,b"
    assert headers["authorization"] == "Bearer t"
    assert all(name == name.lower() for name in headers)
    assert headers["x-forwarded-for"] == "192.0.2.1"
    assert event["requestContext"]["http"]["userAgent"] == "curl/8"


def test_cookies_move_out_of_the_headers() -> None:
    event = _event([("Cookie", "a=1; b=2"), ("Cookie", "c=3")])
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


def test_query_string_raw_and_joined() -> None:
    event = _event(target="/v0/events?name=ev&wait=true&tag=a&tag=b&empty=&x=%2F+y")
    assert event["rawPath"] == "/v0/events"
    assert event["rawQueryString"] == "name=ev&wait=true&tag=a&tag=b&empty=&x=%2F+y"
    assert event["queryStringParameters"] == {
        "name": "ev",
        "wait": "true",
        "tag": "a,b",
        "empty": "",
        "x": "/ y",
    }


def test_no_query_string() -> None:
    event = _event()
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event


def test_request_context() -> None:
    event = _event([("Host", "127.0.0.1:8000")])
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /v0/events"
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/v0/events",
        "protocol": "HTTP/1.1",
        "sourceIp": "192.0.2.1",
        "userAgent": "",
    }
    assert (ctx["requestId"], ctx["routeKey"], ctx["stage"]) == ("abc=", "POST /v0/events", "$default")
    assert ctx["time"] == "04/Mar/2020:19:03:58 +0000"
    assert ctx["timeEpoch"] == 1583348638390
    assert ctx["domainName"] == "127.0.0.1:8000"


def test_is_text() -> None:
    assert is_text("text/html; charset=utf-8")
    assert not is_text(None)
    assert not is_text("application/x-ndjson")


def test_full_response() -> None:
    result = {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json", "X-RateLimit-Limit": 100, "Content-Length": "999"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": '{"successful_rows":1,"quarantined_rows":0}',
        "isBase64Encoded": False,
    }
    response = to_response(result, "rid")
    assert response.status == 202
    assert response.headers == [
        ("content-type", "application/json"),
        ("x-ratelimit-limit", "100"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2"),
        ("apigw-requestid", "rid"),
    ]
    assert response.body == b'{"successful_rows":1,"quarantined_rows":0}'


def test_base64_response_body() -> None:
    result = {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    assert to_response(result, "rid").body == b"\x00\x01"


@pytest.mark.parametrize(
    ("result", "body"),
    [({"message": "hi"}, b'{"message": "hi"}'), ("plain text", b"plain text"), ([1, 2], b"[1, 2]")],
)
def test_shorthand_responses(result: Any, body: bytes) -> None:
    response = to_response(result, "rid")
    assert response.status == 200
    assert ("content-type", "application/json") in response.headers
    assert response.body == body


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 700},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
        {"statusCode": 200, "cookies": "a=1"},
    ],
)
def test_malformed_responses(result: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        to_response(result, "rid")


def test_api_gateway_messages() -> None:
    response = message(404, "Not Found", "rid")
    assert response.status == 404
    assert json.loads(response.body) == {"message": "Not Found"}
    assert ("content-type", "application/json") in response.headers
