"""HTTP API payload format 2.0: an HTTP request into the Lambda event, the Lambda result into a response.

Faithful to what API Gateway does, since the handler is tested here and deployed there: lower-cased
header names, repeated headers and query keys joined with ",", cookies moved to `cookies`, and the
body as text only for text content types, else base64. API Gateway never decompresses a body.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lakegate_local.routing import Match
from lakegate_local.template import PSEUDO

# HTTP API's own request cap (the Lambda payload limit, 6 MB, is the function's to enforce).
MAX_BODY_BYTES = 10 * 1024 * 1024
_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Hop-by-hop or recomputed: API Gateway never passes these from the function's response.
_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request as it came off the wire."""

    method: str
    target: str  # the request-target: path and query, as sent
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    server_port: int
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response ready for the wire (Content-Length and Date are added when it is written)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Who API Gateway says handled the request, and when."""

    request_id: str
    now: float = field(default_factory=time.time)


class MalformedResponseError(ValueError):
    """The function returned something API Gateway cannot turn into a response: it answers 500."""


def message(status: int, text: str, request_id: str) -> HttpResponse:
    """API Gateway's own answers (404, 413, 500...): `{"message": ...}`."""
    body = json.dumps({"message": text}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json"), ("apigw-requestid", request_id)], body)


def is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES


def build_event(request: HttpRequest, match: Match, info: RequestInfo) -> dict[str, Any]:
    """The event API Gateway would send the function for this request."""
    path, _, raw_query = request.target.partition("?")
    headers = _joined((name.lower(), value) for name, value in request.headers if name.lower() != "cookie")
    cookies = [
        c.strip() for name, value in request.headers if name.lower() == "cookie" for c in value.split(";")
    ]
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.server_port)
    headers["x-forwarded-proto"] = "http"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = [c for c in cookies if c]
    event["headers"] = headers
    query = _joined(parse_qsl(raw_query, keep_blank_values=True))
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": PSEUDO.account_id,
        "apiId": "local",
        "domainName": headers.get("host", f"127.0.0.1:{request.server_port}"),
        "domainPrefix": headers.get("host", "local").split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": info.request_id,
        "routeKey": match.route_key,
        "stage": "$default",
        "time": _clf_time(info.now),
        "timeEpoch": int(info.now * 1000),
    }
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        if is_text(headers.get("content-type")):
            # Passed as a UTF-8 string, as AWS does for these types. AWS does not document what becomes of
            # bytes that are not UTF-8 (a gzip or zstd body sent as application/json): here they become
            # U+FFFD, the one assumption that promises no more than AWS does; the function refuses such
            # a body with the Content-Type to send (lakegate.ingest.body).
            event["body"] = request.body.decode("utf-8", errors="replace")
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def api_event(
    method: str,
    target: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    request_id: str = "local",
) -> dict[str, Any]:
    """The event API Gateway sends for a request made here rather than read off the wire: the one builder
    tests, bench and the local server share. The route key defaults to `<method> <path>`."""
    path = target.partition("?")[0]
    request = HttpRequest(method, target, list((headers or {}).items()), body, "127.0.0.1", 443)
    match = Match(route_key or f"{method} {path}", dict(path_parameters or {}))
    return build_event(request, match, RequestInfo(request_id))


def to_response(result: Any, request_id: str) -> HttpResponse:
    """The HTTP response for a function result, payload format 2.0 (the full form or the shorthand)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # The shorthand: any JSON without statusCode is a 200 application/json whose body it is.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(
            200, [("content-type", "application/json"), ("apigw-requestid", request_id)], body.encode()
        )
    status = result["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode must be an HTTP status code, got {status!r}")
    headers = [
        (str(name).lower(), _header_value(value))
        for name, value in _mapping(result.get("headers"), "headers").items()
        if str(name).lower() not in _DROPPED_RESPONSE_HEADERS
    ]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponseError("cookies must be a list of strings")
    headers += [("set-cookie", str(c)) for c in cookies]
    headers.append(("apigw-requestid", request_id))
    return HttpResponse(status, headers, _body(result.get("body"), result.get("isBase64Encoded")))


def _body(body: Any, is_base64: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponseError(f"body must be a string, got {type(body).__name__}")
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as e:
        raise MalformedResponseError("isBase64Encoded is true but the body is not base64") from e


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{what} must be an object")
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list) or value is None:
        raise MalformedResponseError(f"header values must be strings, got {value!r}")
    return str(value)


def _joined(pairs: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def _clf_time(now: float) -> str:
    """`12/Mar/2020:19:03:58 +0000`, whatever the locale."""
    t = time.gmtime(now)
    day = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}"
    return f"{day}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
