"""The local server as a Function URL (FrontDoor=FunctionUrl): every route of the template reaches the
function as `$default`, preflights and CORS headers are the URL's configuration from template.yaml."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakegate_local.apigw import HttpResponse
from lakegate_local.function_url import UrlRouter, preflight, with_cors
from lakegate_local.server import ApiServer
from lakegate_local.template import FunctionUrl, Route, load_stack
from tests.integration.local.test_server import FakeFunction, _request

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
URL_STACK = load_stack(TEMPLATE, parameters={"FrontDoor": "FunctionUrl"})


def test_the_function_url_and_its_cors_come_from_the_template() -> None:
    url = URL_STACK.function_url

    assert url is not None
    assert url.allow_origins == ("*",)
    assert url.allow_methods == ("GET", "POST", "PUT")
    assert url.allow_headers == ("authorization", "content-type", "content-encoding")
    assert "x-ratelimit-remaining" in url.expose_headers
    assert URL_STACK.function.environment["FRONT_DOOR"] == "FunctionUrl"
    # the default front door is the HTTP API, with no URL
    default = load_stack(TEMPLATE)
    assert default.function_url is None
    assert default.function.environment["FRONT_DOOR"] == "HttpApi"


@pytest.fixture
def function() -> FakeFunction:
    return FakeFunction()


@pytest.fixture
def url_server(function: FakeFunction) -> Iterator[ApiServer]:
    assert URL_STACK.function_url is not None
    api = ApiServer(("127.0.0.1", 0), UrlRouter(), function, url=URL_STACK.function_url)
    thread = threading.Thread(target=api.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield api
    api.shutdown()
    api.server_close()


@pytest.mark.parametrize(
    "route",
    [r for r in URL_STACK.function.routes if r.method != "OPTIONS"],
    ids=lambda r: r.key,
)
def test_every_route_of_the_template_reaches_the_function_as_default(
    url_server: ApiServer, function: FakeFunction, route: Route
) -> None:
    method = "POST" if route.method == "ANY" else route.method
    target = route.path.replace("{ref}", "r%2F1").replace("{name}", "events_test") + "?name=x"

    status, _, _ = _request(url_server, method, target, b"{}", {"Origin": "https://app.example"})

    assert status == 202
    (event,) = function.events
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == target.split("?")[0]
    assert "pathParameters" not in event
    assert event["queryStringParameters"] == {"name": "x"}


def test_a_path_no_route_declares_reaches_the_function_too(
    url_server: ApiServer, function: FakeFunction
) -> None:
    status, _, _ = _request(url_server, "DELETE", "/nowhere")

    assert status == 202
    assert function.events[0]["rawPath"] == "/nowhere"


def test_the_url_answers_preflights_itself(url_server: ApiServer, function: FakeFunction) -> None:
    status, headers, _ = _request(
        url_server,
        "OPTIONS",
        "/v0/events",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )

    assert status == 200
    assert function.events == []
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "GET,POST,PUT"
    assert headers["access-control-allow-headers"] == "authorization,content-type,content-encoding"
    assert headers["access-control-max-age"] == "600"


def test_the_url_s_cors_headers_replace_the_function_s(url_server: ApiServer, function: FakeFunction) -> None:
    function.result = {
        "statusCode": 200,
        "headers": {"Access-Control-Allow-Origin": "https://wrong.example", "X-RateLimit-Remaining": "9"},
        "body": "{}",
    }

    _, headers, _ = _request(url_server, "POST", "/v0/events", b"{}", {"Origin": "https://app.example"})

    assert headers["access-control-allow-origin"] == "*"
    assert "x-ratelimit-remaining" in headers["access-control-expose-headers"]
    assert headers["x-ratelimit-remaining"] == "9"


def test_listed_origins_are_answered_by_name_and_others_get_no_cors() -> None:
    url = FunctionUrl(allow_origins=("https://a.example",), allow_methods=("POST",))

    ok = preflight(
        url, "OPTIONS", {"origin": "https://a.example", "access-control-request-method": "POST"}, "r"
    )
    other = preflight(
        url, "OPTIONS", {"origin": "https://b.example", "access-control-request-method": "POST"}, "r"
    )

    assert ok is not None and ("access-control-allow-origin", "https://a.example") in ok.headers
    assert other is not None and not any(n.startswith("access-control-") for n, _ in other.headers)
    answer = with_cors(url, HttpResponse(200, []), {"origin": "https://b.example"})
    assert answer.headers == []
